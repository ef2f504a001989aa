/*
 * leakcheck.c — goleak's model for every kind: remember what is live at
 * begin, report what was acquired since and is still live at end.
 *
 * begin copies the live set as (kind, handle, site) triples into a hash
 * set; end walks the live set again and keeps the triples begin did not
 * see and the ignore list does not name. Threads get a grace period: while
 * the only leaks are threads, end sleeps and looks again, up to
 * WARD_LEAKCHECK_WAIT_MS.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/env.h"
#include "core/grow.h"
#include "core/lock.h"
#include "core/log.h"
#include "scan/scan.h"
#include "snapshot/profile.h"
#include "registry/registry.h"
#include "ward/core.h"
#include "ward/leakcheck.h"
#include "ward/track.h"

struct key {
	uintptr_t handle;
	uint32_t site; /* 0 = empty slot */
	int32_t kind;  /* for the ignore list, where site is a wildcard */
};

struct set {
	struct key *v;
	size_t cap, n;
	bool oom;
};

struct ward_leakcheck {
	struct set seen;
	struct set ignored;
	const struct ward_suppressions *supp; /* the caller's; NULL: none */
	struct ward_leakcheck *next; /* on the active list */
};

/*
 * Checks in progress. A release of something a check saw at begin takes
 * it out of the check's set, so a handle released and acquired again
 * before end counts as new. Lock order: active_lock, then shard locks.
 */
static pthread_mutex_t active_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ward_leakcheck *active;

/* A key whose resource was released: never matches, keeps probing. */
#define GONE (UINT32_MAX - 1)

static size_t slot_of(const struct set *s, int kind, uintptr_t h)
{
	uint64_t x = (uint64_t)h * 0x9e3779b97f4a7c15ull ^ (uint64_t)kind;
	return (size_t)(x >> 17) & (s->cap - 1);
}

static void set_add(struct set *s, int kind, uintptr_t h, uint32_t site)
{
	if ((s->n + 1) * 2 > s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 256;
		struct key *nv = calloc(ncap, sizeof(*nv));
		if (!nv) {
			s->oom = true;
			return;
		}
		struct set ns = { nv, ncap, 0, false };
		for (size_t i = 0; i < s->cap; i++)
			if (s->v[i].site) {
				size_t k = slot_of(&ns, s->v[i].kind, s->v[i].handle);
				while (ns.v[k].site)
					k = (k + 1) & (ncap - 1);
				ns.v[k] = s->v[i];
				ns.n++;
			}
		free(s->v);
		*s = ns;
	}
	size_t k = slot_of(s, kind, h);
	while (s->v[k].site)
		k = (k + 1) & (s->cap - 1);
	s->v[k] = (struct key){ h, site, kind };
	s->n++;
}

/* site 0 matches any site (the ignore list). */
static bool set_has(const struct set *s, int kind, uintptr_t h, uint32_t site)
{
	if (!s->cap)
		return false;
	for (size_t k = slot_of(s, kind, h); s->v[k].site;
	     k = (k + 1) & (s->cap - 1))
		if (s->v[k].handle == h && s->v[k].kind == kind &&
		    (s->v[k].site == site || s->v[k].site == UINT32_MAX))
			return true;
	return false;
}

static void set_forget(struct set *s, int kind, uintptr_t h, uint32_t site)
{
	if (!s->cap)
		return;
	for (size_t k = slot_of(s, kind, h); s->v[k].site;
	     k = (k + 1) & (s->cap - 1))
		if (s->v[k].handle == h && s->v[k].kind == kind &&
		    s->v[k].site == site) {
			s->v[k].site = GONE;
			return;
		}
}

/* Checks open now: a release while none is (other observers keep the
 * list called) costs one load, no lock. */
static _Atomic int nactive;

static void forget(int kind, uintptr_t handle, uint32_t site)
{
	if (!atomic_load_explicit(&nactive, memory_order_seq_cst))
		return;
	ward__mutex_lock(&active_lock);
	for (struct ward_leakcheck *lc = active; lc; lc = lc->next)
		set_forget(&lc->seen, kind, handle, site);
	ward__mutex_unlock(&active_lock);
}

static struct ward__release_observer observer = { .released = forget };

/* The list's lock is held across fork(), as the registry's are (and
 * taken before them: active_lock, then shard locks). */
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void fork_prepare(void)
{
	ward__mutex_lock(&active_lock);
}

static void fork_done(void)
{
	ward__mutex_unlock(&active_lock);
}

static void fork_register(void)
{
	ward__registry_fork_handlers();
	pthread_atfork(fork_prepare, fork_done, fork_done);
}

struct walk {
	struct ward_leakcheck *lc;
	int kind;
	/* at end: leaked counts per site, for the nsites ids counted when
	 * the arrays were sized; a newer site sets grew */
	int64_t *count, *bytes;
	size_t nsites;
	bool grew;
	int64_t total, threads;
	/* the threads counted: their handles and sites */
	struct leaked_thread {
		uintptr_t handle;
		uint32_t site, blocked;
	} *tv;
	size_t ntv, captv;
};

static void remember(uintptr_t h, uint32_t site, uint64_t size, void *opaque)
{
	struct walk *w = opaque;
	(void)size;
	set_add(&w->lc->seen, w->kind, h, site);
}

static void compare(uintptr_t h, uint32_t site, uint64_t size, void *opaque)
{
	struct walk *w = opaque;
	if (set_has(&w->lc->seen, w->kind, h, site) ||
	    set_has(&w->lc->ignored, w->kind, h, UINT32_MAX))
		return;
	/* Sites are made while the walk runs: one made after the arrays
	 * were sized is counted on the next walk (ward_leakcheck_end). */
	if (site < w->nsites) {
		w->count[site]++;
		w->bytes[site] += (int64_t)size;
	} else {
		w->grew = true;
	}
	w->total++;
	if (w->kind == WARD_KIND_THREAD) {
		w->threads++;
		struct leaked_thread *tv = ward__grow(w->tv, &w->captv,
						      w->ntv + 1, sizeof(*tv), 8);
		if (tv) {
			w->tv = tv;
			w->tv[w->ntv++] = (struct leaked_thread){ h, site, 0 };
		}
	}
}

/* Where each leaked thread is blocked now (it says which it is). */
static void note_blocked(uintptr_t self, const uintptr_t *pcs, int n, void *arg)
{
	struct walk *w = arg;
	for (size_t j = 0; j < w->ntv; j++)
		if (w->tv[j].handle == self)
			w->tv[j].blocked = ward__site_intern(WARD_KIND_THREAD, pcs, n);
}

/* Leave the active list and free lc. */
static void finish(struct ward_leakcheck *lc)
{
	ward__mutex_lock(&active_lock);
	for (struct ward_leakcheck **pp = &active; *pp; pp = &(*pp)->next)
		if (*pp == lc) {
			*pp = lc->next;
			break;
		}
	ward__observers_want(-1);
	atomic_fetch_sub(&nactive, 1);
	ward__mutex_unlock(&active_lock);
	free(lc->seen.v);
	free(lc->ignored.v);
	free(lc);
}

WARD_API ward_leakcheck_t *ward_leakcheck_begin(void)
{
	ward__guard_raise();
	struct ward_leakcheck *lc = calloc(1, sizeof(*lc));
	if (lc) {
		/* Active before the copy: a release after the copy of its
		 * shard finds the check and takes the handle out. */
		ward__mutex_lock(&active_lock);
		lc->next = active;
		active = lc;
		pthread_once(&fork_once, fork_register);
		ward__observer_add(&observer);
		atomic_fetch_add(&nactive, 1);
		ward__observers_want(1);
		struct walk w = { .lc = lc };
		for (w.kind = 0; w.kind < WARD_KIND_MAX; w.kind++)
			ward__registry_each(w.kind, remember, &w);
		ward__mutex_unlock(&active_lock);
		if (lc->seen.oom) {
			finish(lc);
			lc = NULL;
		}
	}
	ward__guard_lower();
	return lc;
}

WARD_API int ward_leakcheck_ignore(ward_leakcheck_t *lc, int kind,
				   uintptr_t handle)
{
	if (!lc)
		return -EINVAL;
	ward__guard_raise();
	set_add(&lc->ignored, kind, handle, UINT32_MAX);
	ward__guard_lower();
	return lc->ignored.oom ? -ENOMEM : 0;
}

WARD_API int ward_leakcheck_suppress(ward_leakcheck_t *lc,
				     const ward_suppressions_t *s)
{
	if (!lc)
		return -EINVAL;
	lc->supp = s;
	return 0;
}

static int wait_ms(void)
{
	unsigned long long v = 1000;
	ward__env_number("WARD_LEAKCHECK_WAIT_MS", 0, INT_MAX, &v,
			 "waiting up to 1000 ms");
	return (int)v;
}

/* Count what is live now and was not when lc began, per site, into w:
 * again while sites are made meanwhile (a few times), and, while the only
 * records left are threads, for up to the wait limit (they may be on
 * their way out). 0 or -ENOMEM. */
static int count_new(struct walk *w)
{
	int waited = 0, limit = wait_ms(), regrown = 0;
	for (;;) {
		w->nsites = ward__site_count() + 1;
		free(w->count);
		free(w->bytes);
		w->count = calloc(w->nsites, sizeof(*w->count));
		w->bytes = calloc(w->nsites, sizeof(*w->bytes));
		w->total = w->threads = 0;
		w->ntv = 0;
		w->grew = false;
		if (!w->count || !w->bytes)
			return -ENOMEM;
		ward__mutex_lock(&active_lock);
		for (w->kind = 0; w->kind < WARD_KIND_MAX; w->kind++)
			ward__registry_each(w->kind, compare, w);
		ward__mutex_unlock(&active_lock);
		/* A site made during the walk: walk again with room for it
		 * (a few times; then its records count in the total only). */
		if (w->grew && ++regrown < 8)
			continue;
		if (w->threads == 0 || w->total != w->threads ||
		    waited >= limit)
			return 0;
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		waited += 10;
	}
}

/* Suppressed sites count for nothing (named from this process). */
static void drop_suppressed(struct walk *w,
			    const struct ward_suppressions *supp)
{
	for (uint32_t id = 1; supp && id < w->nsites; id++) {
		if (!w->count[id])
			continue;
		struct ward__site_rec *r = ward__site_get(id);
		if (!r || !ward__suppressed(supp, NULL, r->pcs, (int)r->depth))
			continue;
		w->total -= w->count[id];
		w->count[id] = w->bytes[id] = 0;
	}
}

/* Site id's sample at p->samples[*n], then each of its leaked threads
 * whose stack was read as a sample of its own, with where it is blocked;
 * the site's own sample goes when every one was split off. */
static void add_site(const struct walk *w, struct ward_profile *p,
		     uint32_t id, size_t *n)
{
	struct ward__site_rec *r = ward__site_get(id);
	struct ward_sample *s = &p->samples[*n];
	s->kind = (int)r->kind;
	s->depth = (int)r->depth;
	s->pcs = r->pcs;
	s->live_count = s->alloc_count = w->count[id];
	s->live_bytes = s->alloc_bytes = w->bytes[id];
	p->sites[(*n)++] = id;
	for (size_t j = 0; j < w->ntv; j++) {
		struct ward__site_rec *b =
			w->tv[j].blocked ? ward__site_get(w->tv[j].blocked)
					 : NULL;
		if (w->tv[j].site != id || !b || s->live_count < 1)
			continue;
		s->live_count--;
		s->alloc_count--;
		struct ward_sample *t = &p->samples[*n];
		*t = *s;
		t->live_count = t->alloc_count = 1;
		t->blocked_pcs = b->pcs;
		t->blocked_depth = (int)b->depth;
		p->sites[(*n)++] = id;
	}
	if (s->live_count == 0) {
		size_t first = (size_t)(s - p->samples);
		memmove(&p->samples[first], &p->samples[first + 1],
			(*n - first - 1) * sizeof(*s));
		memmove(&p->sites[first], &p->sites[first + 1],
			(*n - first - 1) * sizeof(*p->sites));
		(*n)--;
	}
}

/* The leaks w counted, as a profile; NULL when out of memory. */
static struct ward_profile *leaks_profile(struct walk *w)
{
	uintptr_t *threads = w->ntv ? calloc(w->ntv, sizeof(*threads)) : NULL;
	for (size_t j = 0; threads && j < w->ntv; j++)
		threads[j] = w->tv[j].handle;
	if (threads)
		ward__each_thread_stack(threads, w->ntv, note_blocked, w, 1500);
	free(threads);
	struct ward_profile *p = ward__profile_new(w->nsites + w->ntv);
	if (!p || ward__profile_name_live_kinds(p) < 0 ||
	    ward__profile_map_process(p) < 0 ||
	    ward__profile_take_figures(p) < 0) {
		ward_profile_free(p);
		return NULL;
	}
	size_t n = 0;
	for (uint32_t id = 1; id < w->nsites; id++)
		if (w->count[id])
			add_site(w, p, id, &n);
	p->count = n;
	return p;
}

WARD_API int ward_leakcheck_end(ward_leakcheck_t *lc, ward_profile_t **leaks)
{
	struct walk w = { .lc = lc };

	if (leaks)
		*leaks = NULL;
	if (!lc)
		return -EINVAL;
	ward__guard_raise();
	int rc = count_new(&w);
	if (rc == 0) {
		drop_suppressed(&w, lc->supp);
		rc = w.total > INT32_MAX ? INT32_MAX : (int)w.total;
		if (leaks && w.total > 0 && !(*leaks = leaks_profile(&w)))
			rc = -ENOMEM;
	}
	free(w.count);
	free(w.bytes);
	free(w.tv);
	finish(lc);
	ward__guard_lower();
	return rc;
}

static void to_buf(void *opaque, const void *buf, size_t len)
{
	ward__buf_add(opaque, buf, len);
}

WARD_API int ward_leakcheck_verify(ward_leakcheck_t *lc, const char *name)
{
	ward_profile_t *leaks = NULL;

	if (!name)
		name = "the check";
	if (!lc) {
		ward__log(WARD_LOG_ERROR, "ward: %s: no leak check (begin "
					  "failed)\n", name);
		return -EINVAL;
	}
	int n = ward_leakcheck_end(lc, &leaks);
	if (n < 0) {
		ward__log(WARD_LOG_ERROR, "ward: %s: leak check failed: %s\n",
			  name, ward_strerror(n));
		return n;
	}
	if (n == 0)
		return 0;
	/* One message through the log hook: the heading and the report. */
	struct ward__buf b = { 0 };
	char head[256];
	int len = snprintf(head, sizeof(head), "ward: %.150s leaked %d "
					       "resource%s:\n",
			   name, n, n == 1 ? "" : "s");
	ward__guard_raise();
	ward__buf_add(&b, head, (size_t)len);
	if (leaks)
		ward_profile_write(leaks, WARD_FORMAT_TEXT, to_buf, &b);
	ward__guard_lower();
	if (b.oom)
		ward__log_raw(WARD_LOG_ERROR, head, (size_t)len);
	else
		ward__log_raw(WARD_LOG_ERROR, b.p, b.len);
	exit(1);
}
