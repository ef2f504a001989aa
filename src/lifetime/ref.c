/*
 * ref.c — reference-counted objects, finalizers and weak references
 * (include/ward/ref.h).
 *
 * An object is a header then the program's bytes. The header counts strong
 * references, and weak ones — the strong references together hold one
 * weak reference, so the header outlives the last strong reference for as
 * long as a weak one may look at it (shared_ptr's control block, in one
 * allocation). A weak get increments the strong count only from a value
 * above zero (a compare-and-swap loop), so it never revives an object whose
 * last strong reference went: the finalizer runs exactly once, and a weak
 * get after it returns NULL.
 *
 * In checking mode an object also keeps a book of its strong references:
 * each one taken (the first by ward_ref_new, then retains and weak gets) is
 * a record of kind "retain" with the stack that took it, and each release
 * ends the record it most likely pairs with (below), so the references
 * alive at exit are reported with the stacks that took them.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/single_threaded.h>
#include <time.h>

#include "capture/capture.h"
#include "core/env.h"
#include "core/clock.h"
#include "core/lock.h"
#include "core/log.h"
#include "core/thread.h"
#include "registry/registry.h"
#include "scan/scan.h"
#include "ward/ref.h"
#include "ward/track.h"

enum { MAGIC = 0x77617264726566ull }; /* "wardref" */

struct book;

struct hdr {
	_Atomic uint32_t strong;
	_Atomic uint32_t weak;    /* weak references, plus one for the strong */
	ward_finalizer_fn fn;
	void *arg;
	uint64_t magic;
	struct hdr *next;         /* in the finalizer queue */
	uint64_t queued_ns;
	struct book *book;        /* checking mode: the references taken */
} __attribute__((aligned(16)));

struct ward_weak {
	struct hdr *h;
};

static int ref_kind = -1, retain_kind = -1;
static _Atomic bool checking;
static pthread_once_t kind_once = PTHREAD_ONCE_INIT;
static _Atomic uint64_t created, finalized, alive;

static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;

/* The finalizer queue's lock is held across fork(). */
static void fork_prepare(void)
{
	ward__mutex_lock(&q_lock);
}

static void fork_done(void)
{
	ward__mutex_unlock(&q_lock);
}

/* The finalizer monitor's figures, for snapshots. */
static void ref_figures(ward__figure_fn fn, void *opaque)
{
	struct ward_ref_stats st;
	ward_ref_stats(&st);
	fn("refs", "", "created", "Reference-counted objects made.", true,
	   st.created, opaque);
	fn("refs", "", "finalized", "Finalizers run.", true, st.finalized,
	   opaque);
	fn("refs", "", "alive", "Objects with strong references.", false,
	   st.alive, opaque);
	fn("refs", "", "pending", "Finalizers queued and not run yet.", false,
	   st.pending, opaque);
	fn("refs", "", "oldest_pending_ms",
	   "How long the oldest queued finalizer has waited, in ms.", false,
	   st.oldest_pending_ms, opaque);
}

static struct ward__figure_source figures = { .each = ref_figures };

static void kind_init(void)
{
	ward__figure_source_add(&figures);
	ref_kind = ward_kind_register("ref");
	retain_kind = ward_kind_register("retain");
	if (ward__env_flag("WARD_REF_CHECK", false,
			   "checking when ward_ref_check() asks"))
		atomic_store(&checking, true);
	ward__registry_fork_handlers();
	pthread_atfork(fork_prepare, fork_done, fork_done);
}

static struct hdr *hdr_of(const void *obj)
{
	return (struct hdr *)obj - 1;
}

static void drop_weak(struct hdr *h)
{
	if (atomic_fetch_sub_explicit(&h->weak, 1, memory_order_acq_rel) == 1) {
		h->magic = 0;
		ward__guard_raise();
		free(h);
		ward__guard_lower();
	}
}

/* ---- Checking mode: the book of references -------------------------------- */

/*
 * One strong reference taken: tracked as kind "retain" at the address of
 * its entry, with the stack that took it.
 */
struct ref_entry {
	struct ref_entry *prev, *next; /* newest at the book's head */
	uint32_t site;
};

struct book {
	pthread_mutex_t lock;
	struct ref_entry *head;
};

static struct book *book_new(void)
{
	ward__guard_raise();
	struct book *b = calloc(1, sizeof(*b));
	ward__guard_lower();
	if (b)
		pthread_mutex_init(&b->lock, NULL);
	return b;
}

/* A reference taken, with the stack `skip` frames above the caller. */
static __attribute__((noinline)) void book_take(struct book *b, int skip)
{
	ward__guard_raise();
	struct ref_entry *e = calloc(1, sizeof(*e));
	ward__guard_lower();
	if (!e)
		return;
	uint64_t size;
	if (ward__track_at(retain_kind, (uintptr_t)e, 0, skip + 1) < 0 ||
	    !ward__registry_find(retain_kind, (uintptr_t)e, &e->site, &size)) {
		ward__untrack(retain_kind, (uintptr_t)e);
		ward__guard_raise();
		free(e);
		ward__guard_lower();
		return;
	}
	ward__mutex_lock(&b->lock);
	e->next = b->head;
	if (b->head)
		b->head->prev = e;
	b->head = e;
	ward__mutex_unlock(&b->lock);
}

static void entry_end(struct ref_entry *e)
{
	ward__untrack(retain_kind, (uintptr_t)e);
	ward__guard_raise();
	free(e);
	ward__guard_lower();
}

/* The stack of a release, copied by capture's callback into book_give's
 * buffer (returning 0 keeps the walk from being remembered as an id). */
enum { RELEASE_DEPTH = 64 };
struct walk_copy {
	uintptr_t pcs[RELEASE_DEPTH];
	int n;
};
static __thread struct walk_copy *walk_into;

static uint32_t keep_walk(uint32_t key, const uintptr_t *pcs, int n)
{
	(void)key;
	if (n > RELEASE_DEPTH)
		n = RELEASE_DEPTH;
	memcpy(walk_into->pcs, pcs, (size_t)n * sizeof(*pcs));
	walk_into->n = n;
	return 0;
}

static bool same_function(uintptr_t a, uintptr_t b)
{
	if (a == b)
		return true;
	uintptr_t fa = ward__function_start(a - 1);
	return fa && fa == ward__function_start(b - 1);
}

/*
 * How likely the reference taken at stack t is the one a release from
 * stack r gives back. Retains and releases carry no identity, so this is a
 * guess, made as a reader of the code would: first, the function that took
 * it is the one releasing (a function releases what it retained); then the
 * longer the two stacks agree from the outermost frame, and whether they
 * part in the same function. Ties go to the oldest reference: the one
 * the object was made with is its maker's, given back last, and the one
 * nobody gives back is more often a later retain than the first.
 */
static int affinity(const uintptr_t *t, int nt, const uintptr_t *r, int nr)
{
	int common = 0;
	while (common < nt && common < nr &&
	       t[nt - 1 - common] == r[nr - 1 - common])
		common++;
	int score = common * 2;
	if (common < nt && common < nr &&
	    same_function(t[nt - 1 - common], r[nr - 1 - common]))
		score++;
	if (nt > 0 && nr > 0 && same_function(t[0], r[0]))
		score += 1 << 16;
	return score;
}

/* A reference given back from the stack `skip` frames above the caller:
 * the entry it most likely pairs with ends. */
static __attribute__((noinline)) void book_give(struct book *b, int skip)
{
	struct walk_copy release = { .n = 0 };
	walk_into = &release;
	ward__capture((uint32_t)retain_kind, skip + 1, keep_walk);
	ward__mutex_lock(&b->lock);
	struct ref_entry *best = NULL;
	int best_score = -1, looked = 0;
	for (struct ref_entry *e = b->head; e && looked < 256;
	     e = e->next, looked++) {
		struct ward__site_rec *site = ward__site_get(e->site);
		if (!site)
			continue;
		int score = affinity(site->pcs, (int)site->depth,
				     release.pcs, release.n);
		if (score >= best_score) { /* newest first: the oldest tie wins */
			best = e;
			best_score = score;
		}
	}
	if (best) {
		if (best->prev)
			best->prev->next = best->next;
		else
			b->head = best->next;
		if (best->next)
			best->next->prev = best->prev;
	}
	ward__mutex_unlock(&b->lock);
	if (best)
		entry_end(best);
}

/* The last reference went: whatever the book still holds ends. */
static void book_free(struct book *b)
{
	struct ref_entry *e = b->head;
	while (e) {
		struct ref_entry *next = e->next;
		entry_end(e);
		e = next;
	}
	pthread_mutex_destroy(&b->lock);
	ward__guard_raise();
	free(b);
	ward__guard_lower();
}

WARD_API void ward_ref_check(bool on)
{
	pthread_once(&kind_once, kind_init);
	atomic_store(&checking, on);
}

/* ---- The finalizer thread ------------------------------------------------ */

static pthread_cond_t q_cond = PTHREAD_COND_INITIALIZER;
static pthread_cond_t q_empty = PTHREAD_COND_INITIALIZER;
static struct hdr *q_head, *q_tail;
static uint64_t q_len;
static bool q_running;   /* a finalizer is running now */
static _Atomic bool thread_on;
static bool thread_started;

static void run_finalizer(struct hdr *h)
{
	if (h->fn)
		h->fn(h + 1, h->arg);
	atomic_fetch_add(&finalized, 1);
	drop_weak(h);
}

static void *finalizer_main(void *unused)
{
	(void)unused;
	ward__mutex_lock(&q_lock);
	for (;;) {
		while (!q_head)
			pthread_cond_wait(&q_cond, &q_lock);
		struct hdr *h = q_head;
		q_head = h->next;
		if (!q_head)
			q_tail = NULL;
		q_len--;
		q_running = true;
		ward__mutex_unlock(&q_lock);
		run_finalizer(h);
		ward__mutex_lock(&q_lock);
		q_running = false;
		if (!q_head)
			pthread_cond_broadcast(&q_empty);
	}
	return NULL;
}

WARD_API int ward_ref_finalizer_thread(bool on)
{
	ward__mutex_lock(&q_lock);
	int rc = 0;
	if (on && !thread_started) {
		rc = ward__thread_start(NULL, finalizer_main, NULL, true,
					ward__stop_signal());
		thread_started = rc == 0;
	}
	if (rc == 0)
		thread_on = on;
	ward__mutex_unlock(&q_lock);
	return rc;
}

WARD_API void ward_ref_drain(void)
{
	ward__mutex_lock(&q_lock);
	while (q_head || q_running)
		pthread_cond_wait(&q_empty, &q_lock);
	ward__mutex_unlock(&q_lock);
}

/* ---- Strong references ----------------------------------------------------- */

WARD_API __attribute__((noinline)) void *
ward_ref_new(size_t size, ward_finalizer_fn finalize, void *arg)
{
	pthread_once(&kind_once, kind_init);
	if (size > SIZE_MAX - sizeof(struct hdr)) {
		errno = ENOMEM;
		return NULL;
	}
	ward__guard_raise();
	struct hdr *h = calloc(1, sizeof(*h) + size);
	ward__guard_lower();
	if (!h)
		return NULL;
	atomic_init(&h->strong, 1);
	atomic_init(&h->weak, 1);
	h->fn = finalize;
	h->arg = arg;
	h->magic = MAGIC;
	atomic_fetch_add(&created, 1);
	atomic_fetch_add(&alive, 1);
	if (ref_kind >= 0)
		ward__track_at(ref_kind, (uintptr_t)(h + 1), size, 1);
	if (atomic_load_explicit(&checking, memory_order_relaxed) &&
	    retain_kind >= 0 && (h->book = book_new()))
		book_take(h->book, 1);
	__asm__ volatile("" ::: "memory");
	return h + 1;
}

WARD_API __attribute__((noinline)) void *ward_ref_retain(void *obj)
{
	if (!obj)
		return NULL;
	struct hdr *h = hdr_of(obj);
	uint32_t s;
	/* A process that never started a thread needs no atomic (glibc's
	 * flag, which libstdc++'s shared_ptr reads the same way). */
	if (__libc_single_threaded) {
		s = atomic_load_explicit(&h->strong, memory_order_relaxed);
		atomic_store_explicit(&h->strong, s + 1, memory_order_relaxed);
	} else {
		s = atomic_fetch_add_explicit(&h->strong, 1,
					      memory_order_relaxed);
	}
	if (s == 0)
		ward__log(WARD_LOG_WARN, "ward: ward_ref_retain of %p, whose "
			  "last reference went: it is finalized\n", obj);
	else if (__builtin_expect(h->book != NULL, 0))
		book_take(h->book, 1);
	return obj;
}

WARD_API __attribute__((noinline)) void ward_ref_release(void *obj)
{
	if (!obj)
		return;
	struct hdr *h = hdr_of(obj);
	uint32_t s;
	if (__libc_single_threaded) {
		s = atomic_load_explicit(&h->strong, memory_order_relaxed);
		atomic_store_explicit(&h->strong, s - 1, memory_order_relaxed);
	} else {
		s = atomic_fetch_sub_explicit(&h->strong, 1,
					      memory_order_acq_rel);
	}
	if (__builtin_expect(s == 0, 0)) {
		/* None left: undo, and say so. (A weak get meanwhile sees
		 * the wrapped count as live for that instant and takes a
		 * reference to a finalized object: the program's error
		 * already happened.) */
		atomic_fetch_add_explicit(&h->strong, 1, memory_order_relaxed);
		ward__log(WARD_LOG_WARN, "ward: ward_ref_release of %p, which "
			  "has no reference left (released once too often)\n",
			  obj);
		return;
	}
	if (__builtin_expect(h->book != NULL, 0)) {
		if (s != 1) {
			book_give(h->book, 1);
			return;
		}
		book_free(h->book);
		h->book = NULL;
	}
	if (s != 1)
		return;
	/* The last one: finalized once, here or on the finalizer thread. */
	if (ref_kind >= 0)
		ward__untrack(ref_kind, (uintptr_t)obj);
	atomic_fetch_sub(&alive, 1);
	if (!atomic_load_explicit(&thread_on, memory_order_relaxed)) {
		run_finalizer(h);
		return;
	}
	ward__mutex_lock(&q_lock);
	bool queue = thread_on;
	if (queue) {
		h->next = NULL;
		h->queued_ns = ward__now_ns();
		if (q_tail)
			q_tail->next = h;
		else
			q_head = h;
		q_tail = h;
		q_len++;
		pthread_cond_signal(&q_cond);
	}
	ward__mutex_unlock(&q_lock);
	if (!queue)
		run_finalizer(h);
}

WARD_API uint32_t ward_ref_count(const void *obj)
{
	return obj ? atomic_load(&hdr_of(obj)->strong) : 0;
}

/* ---- Weak references --------------------------------------------------------- */

WARD_API ward_weak_t *ward_weak_new(void *obj)
{
	if (!obj)
		return NULL;
	ward__guard_raise();
	struct ward_weak *w = malloc(sizeof(*w));
	ward__guard_lower();
	if (!w)
		return NULL;
	w->h = hdr_of(obj);
	atomic_fetch_add_explicit(&w->h->weak, 1, memory_order_relaxed);
	return w;
}

WARD_API __attribute__((noinline)) void *ward_weak_get(ward_weak_t *w)
{
	if (!w)
		return NULL;
	struct hdr *h = w->h;
	uint32_t s = atomic_load_explicit(&h->strong, memory_order_acquire);
	do {
		if (s == 0)
			return NULL; /* finalizing or gone: never revived */
	} while (!atomic_compare_exchange_weak_explicit(
		&h->strong, &s, s + 1, memory_order_acq_rel,
		memory_order_acquire));
	if (__builtin_expect(h->book != NULL, 0))
		book_take(h->book, 1);
	return h + 1;
}

WARD_API void ward_weak_free(ward_weak_t *w)
{
	if (!w)
		return;
	drop_weak(w->h);
	ward__guard_raise();
	free(w);
	ward__guard_lower();
}

WARD_API void ward_ref_stats(struct ward_ref_stats *out)
{
	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	out->created = atomic_load(&created);
	out->finalized = atomic_load(&finalized);
	out->alive = atomic_load(&alive);
	ward__mutex_lock(&q_lock);
	out->pending = q_len + (q_running ? 1 : 0);
	if (q_head)
		out->oldest_pending_ms = (ward__now_ns() - q_head->queued_ns) / 1000000;
	ward__mutex_unlock(&q_lock);
}
