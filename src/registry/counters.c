/*
 * counters.c — what each site acquired and released, counted per thread.
 *
 * A track or untrack adds to counters only the calling thread writes: a
 * plain load and store, no shared cache line, no atomic read-modify-write.
 * Readers (snapshots, ward_kind_stats) sum the threads' counters with the
 * totals of threads that have exited, which live in the sites themselves
 * (struct ward__site_rec).
 *
 * Layout: each thread has a directory of chunks, a chunk holding the
 * counters of 1024 consecutive site ids; both are mapped on first use, so
 * a thread pays only for the ids it touches. Threads are on one list,
 * under a lock taken by readers, by a thread's first count and by its
 * exit, never by a count.
 *
 * Ordering. A release is counted after the record it removes was inserted,
 * and the acquisition was counted before that insertion (the shard lock
 * orders the two). Readers take every release before any acquisition, so
 * a live count (acquired - released) is never negative. Release counts
 * are stored with release order and read with acquire order for that.
 *
 * Thread exit: a pthread key's destructor adds the thread's counters to
 * the sites' totals, zeroes them, and puts its directory on a free list
 * for the next thread, its chunks still in it. Counts made after that (by
 * later destructors that free memory) go to the sites' totals directly.
 * An exit costs the sites that exist, under the lock, and no system call:
 * a program that starts and ends threads by the thousand a second must
 * not find them piling up behind the lock (each exit once unmapped its
 * chunk and read its whole directory there).
 */
#include <pthread.h>
#include <string.h>

#include "core/lock.h"
#include "core/map.h"
#include "registry/registry.h"

enum { CHUNK_BITS = WARD__COUNT_CHUNK_BITS, DIR_BITS = WARD__COUNT_DIR_BITS };
#define CHUNK (1u << CHUNK_BITS)
#define DIR (1u << DIR_BITS)

struct tcounts {
	struct tcounts *next, **pprev; /* on the list of threads or spares */
	uint32_t top; /* one past the highest directory entry with a chunk */
	struct ward__count_slot *_Atomic dir[DIR];
};

static pthread_mutex_t list_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tcounts *threads, *spare;
static pthread_key_t key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

/* The thread's counters; DEAD once its destructor has run. */
#define DEAD ((struct tcounts *)1)
static __thread struct tcounts *mine
	__attribute__((tls_model("initial-exec")));

static void *map(size_t n)
{
	return ward__map(n);
}

static void list_add(struct tcounts **head, struct tcounts *t)
{
	t->next = *head;
	if (t->next)
		t->next->pprev = &t->next;
	t->pprev = head;
	*head = t;
}

static void list_remove(struct tcounts *t)
{
	*t->pprev = t->next;
	if (t->next)
		t->next->pprev = t->pprev;
}

/* Add t's counters to the sites' totals and zero them (list_lock held).
 * No id past the sites that exist was ever counted. */
static void fold(struct tcounts *t)
{
	uint32_t last = ward__site_count();
	for (uint32_t hi = 0; hi < t->top && hi <= (last >> CHUNK_BITS);
	     hi++) {
		struct ward__count_slot *c = atomic_load_explicit(&t->dir[hi],
							memory_order_relaxed);
		uint32_t n = hi == (last >> CHUNK_BITS)
				     ? (last & (CHUNK - 1)) + 1
				     : CHUNK;
		for (uint32_t lo = 0; c && lo < n; lo++) {
			if (!atomic_load_explicit(&c[lo].acq_count,
						  memory_order_relaxed) &&
			    !atomic_load_explicit(&c[lo].rel_count,
						  memory_order_relaxed))
				continue;
			struct ward__site_rec *r =
				ward__site_get((hi << CHUNK_BITS) | lo);
			if (r) {
				atomic_fetch_add(&r->totals.acq_count,
						 c[lo].acq_count);
				atomic_fetch_add(&r->totals.acq_bytes,
						 c[lo].acq_bytes);
				atomic_fetch_add(&r->totals.rel_count,
						 c[lo].rel_count);
				atomic_fetch_add(&r->totals.rel_bytes,
						 c[lo].rel_bytes);
			}
			memset(&c[lo], 0, sizeof(c[lo]));
		}
	}
}

static void on_exit_thread(void *arg)
{
	struct tcounts *t = arg;

	/* The thread's batched live changes, or the peaks drift (track.c). */
	ward__track_flush_thread();
	ward__mutex_lock(&list_lock);
	fold(t);
	list_remove(t);
	list_add(&spare, t);
	mine = DEAD;
	ward__count_dir = NULL; /* the directory goes to the next thread */
	ward__mutex_unlock(&list_lock);
}

static void make_key(void)
{
	pthread_key_create(&key, on_exit_thread);
}

/*
 * ward's keys are made when the library loads, before the program makes
 * its own: glibc keeps the values of a thread's first 32 keys in the
 * thread's descriptor and those of later ones in a block it allocates for
 * the thread on the first set. Allocated inside ward's bookkeeping, that
 * block would be unrecorded, so never scanned, and the program's values in
 * keys 32 to 63 of that thread would be reported lost.
 */
__attribute__((constructor(101))) static void key_early(void)
{
	pthread_once(&key_once, make_key);
}

static struct tcounts *join(void)
{
	pthread_once(&key_once, make_key);
	ward__mutex_lock(&list_lock);
	struct tcounts *t = spare;
	if (t)
		list_remove(t);
	ward__mutex_unlock(&list_lock);
	if (!t && !(t = map(sizeof(*t)))) /* mapped without the lock */
		return DEAD;
	ward__mutex_lock(&list_lock);
	list_add(&threads, t);
	ward__mutex_unlock(&list_lock);
	ward__guard_raise();
	pthread_setspecific(key, t);
	ward__guard_lower();
	return t;
}

__thread struct ward__count_slot *_Atomic *ward__count_dir;

/* The counters of `site` for this thread, or NULL: count in the site. The
 * thread joins on its first count, and a chunk is mapped on its first
 * site; otherwise the inline lookup (registry.h) finds it. */
static struct ward__count_slot *slot(uint32_t site)
{
	if (__builtin_expect(!mine, 0)) {
		mine = join();
		if (mine != DEAD)
			ward__count_dir = mine->dir;
	}
	struct ward__count_slot *c = ward__count_slot_of(site);
	if (c || mine == DEAD || (site >> CHUNK_BITS) >= DIR)
		return c;
	if (!(c = map(CHUNK * sizeof(*c))))
		return NULL;
	atomic_store_explicit(&mine->dir[site >> CHUNK_BITS], c,
			      memory_order_release);
	if (mine->top <= site >> CHUNK_BITS)
		mine->top = (site >> CHUNK_BITS) + 1;
	return &c[site & (CHUNK - 1)];
}

void ward__count_acquire_slow(uint32_t site, int64_t count, int64_t bytes)
{
	struct ward__count_slot *c = slot(site);
	if (c) {
		ward__count_add_acquire(c, count, bytes);
		return;
	}
	struct ward__site_rec *r = ward__site_get(site);
	atomic_fetch_add_explicit(&r->totals.acq_count, (uint64_t)count,
				  memory_order_release);
	atomic_fetch_add_explicit(&r->totals.acq_bytes, (uint64_t)bytes,
				  memory_order_release);
}

void ward__count_release_slow(uint32_t site, uint64_t count, uint64_t bytes)
{
	struct ward__count_slot *c = slot(site);
	if (c) {
		ward__count_add_release(c, count, bytes);
		return;
	}
	struct ward__site_rec *r = ward__site_get(site);
	atomic_fetch_add_explicit(&r->totals.rel_bytes, bytes,
				  memory_order_release);
	atomic_fetch_add_explicit(&r->totals.rel_count, count,
				  memory_order_release);
}

/* Pass 0 adds releases, pass 1 acquisitions, from one source. */
static void add(struct ward__counts *o, int pass,
		const struct ward__count_slot *c)
{
	if (pass == 0) {
		o->rel_count += atomic_load_explicit(&c->rel_count,
						     memory_order_acquire);
		o->rel_bytes += atomic_load_explicit(&c->rel_bytes,
						     memory_order_acquire);
	} else {
		o->acq_count += atomic_load_explicit(&c->acq_count,
						     memory_order_acquire);
		o->acq_bytes += atomic_load_explicit(&c->acq_bytes,
						     memory_order_acquire);
	}
}

void ward__counts_read(struct ward__counts *out, uint32_t n)
{
	memset(out, 0, n * sizeof(*out));
	ward__mutex_lock(&list_lock);
	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t id = 1; id <= n; id++) {
			struct ward__site_rec *r = ward__site_get(id);
			if (r)
				add(&out[id - 1], pass, &r->totals);
		}
		for (struct tcounts *t = threads; t; t = t->next)
			for (uint32_t hi = 0; hi <= (n >> CHUNK_BITS); hi++) {
				struct ward__count_slot *c = atomic_load_explicit(
					&t->dir[hi], memory_order_acquire);
				for (uint32_t lo = 0; c && lo < CHUNK; lo++) {
					uint32_t id = (hi << CHUNK_BITS) | lo;
					if (id >= 1 && id <= n)
						add(&out[id - 1], pass, &c[lo]);
				}
			}
	}
	ward__mutex_unlock(&list_lock);
}

void ward__counts_lock(void)
{
	ward__mutex_lock(&list_lock);
}

void ward__counts_unlock(void)
{
	ward__mutex_unlock(&list_lock);
}

/* In a forked child: every count back to zero. Only this thread exists. */
void ward__counts_reset(void)
{
	for (struct tcounts *t = threads; t; t = t->next)
		for (uint32_t hi = 0; hi < DIR; hi++) {
			struct ward__count_slot *c = atomic_load_explicit(
				&t->dir[hi], memory_order_relaxed);
			if (c)
				memset(c, 0, CHUNK * sizeof(*c));
		}
	uint32_t n = ward__site_count();
	for (uint32_t id = 1; id <= n; id++) {
		struct ward__site_rec *r = ward__site_get(id);
		if (!r)
			continue;
		atomic_store(&r->totals.acq_count, 0);
		atomic_store(&r->totals.acq_bytes, 0);
		atomic_store(&r->totals.rel_count, 0);
		atomic_store(&r->totals.rel_bytes, 0);
	}
}
