/*
 * The registry (track.c, blocks.c, sites.c, counters.c, observers.c): the
 * live set of every kind, the sites that acquired them, and their counts.
 * What reads it: snapshots, the scan, leak checks, the tracer.
 */
#ifndef WARD_REGISTRY_H
#define WARD_REGISTRY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "capture/capture.h"
#include "core/guard.h"

/*
 * A site: a kind and the stack that acquired it, deduplicated. Sites are
 * never freed or moved; an id names one for the life of the process. The
 * counters hold the totals of threads that have exited (counters.c keeps
 * the live threads' own).
 */
/* What a site acquired and released, counts and bytes. */
struct ward__count_slot {
	_Atomic uint64_t acq_count, acq_bytes, rel_count, rel_bytes;
};

struct ward__site_rec {
	uint64_t hash;
	uint32_t kind;
	uint32_t depth;
	struct ward__count_slot totals;
	uintptr_t pcs[]; /* return addresses, innermost first */
};

/* Counting, per thread (counters.c). An acquisition is counted before its
 * record is inserted, a release after its record is removed; a failed
 * insertion is taken back with count -1. Only the owning thread writes a
 * slot, so a count is a load and a store. A thread's slots are in chunks
 * of 1 << WARD__COUNT_CHUNK_BITS sites, found through its directory;
 * NULL until the thread's first count and after its exit, and a chunk
 * not mapped yet, take the slow path. */
enum { WARD__COUNT_CHUNK_BITS = 10, WARD__COUNT_DIR_BITS = 14 };
extern __thread struct ward__count_slot *_Atomic *ward__count_dir
	__attribute__((tls_model("initial-exec")));
void ward__count_acquire_slow(uint32_t site, int64_t count, int64_t bytes);
void ward__count_release_slow(uint32_t site, uint64_t count, uint64_t bytes);

static inline void ward__count_add_acquire(struct ward__count_slot *c,
					   int64_t count, int64_t bytes)
{
	atomic_store_explicit(&c->acq_count,
			      atomic_load_explicit(&c->acq_count,
						   memory_order_relaxed) +
				      (uint64_t)count,
			      memory_order_relaxed);
	atomic_store_explicit(&c->acq_bytes,
			      atomic_load_explicit(&c->acq_bytes,
						   memory_order_relaxed) +
				      (uint64_t)bytes,
			      memory_order_relaxed);
}

/* Bytes first, with release order: a reader that sees the count sees the
 * bytes, and the acquisition counted before the record was inserted. */
static inline void ward__count_add_release(struct ward__count_slot *c,
					   uint64_t count, uint64_t bytes)
{
	atomic_store_explicit(&c->rel_bytes,
			      atomic_load_explicit(&c->rel_bytes,
						   memory_order_relaxed) +
				      bytes,
			      memory_order_release);
	atomic_store_explicit(&c->rel_count,
			      atomic_load_explicit(&c->rel_count,
						   memory_order_relaxed) +
				      count,
			      memory_order_release);
}

/* This thread's slot of `site`, or NULL (the slow path). */
static inline struct ward__count_slot *ward__count_slot_of(uint32_t site)
{
	struct ward__count_slot *_Atomic *dir = ward__count_dir;
	if (__builtin_expect(!dir || (site >> WARD__COUNT_CHUNK_BITS) >=
					     (1u << WARD__COUNT_DIR_BITS),
			     0))
		return NULL;
	struct ward__count_slot *c = atomic_load_explicit(
		&dir[site >> WARD__COUNT_CHUNK_BITS], memory_order_relaxed);
	return c ? &c[site & ((1u << WARD__COUNT_CHUNK_BITS) - 1)] : NULL;
}

static inline void ward__count_acquire(uint32_t site, int64_t count,
				       int64_t bytes)
{
	struct ward__count_slot *c = ward__count_slot_of(site);
	if (__builtin_expect(c != NULL, 1))
		ward__count_add_acquire(c, count, bytes);
	else
		ward__count_acquire_slow(site, count, bytes);
}

static inline void ward__count_release(uint32_t site, uint64_t count,
				       uint64_t bytes)
{
	struct ward__count_slot *c = ward__count_slot_of(site);
	if (__builtin_expect(c != NULL, 1))
		ward__count_add_release(c, count, bytes);
	else
		ward__count_release_slow(site, count, bytes);
}

/* Every site's totals: out[id - 1] for ids 1..n, all releases read before
 * any acquisition, so acq - rel is never negative. */
struct ward__counts {
	uint64_t acq_count, acq_bytes, rel_count, rel_bytes;
};
void ward__counts_read(struct ward__counts *out, uint32_t n);

/* Around fork(), and in the child: every count back to zero. */
/* Publish this thread's batched live-count changes (at thread exit). */
void ward__track_flush_thread(void);

void ward__counts_lock(void);
void ward__counts_unlock(void);
void ward__counts_reset(void);

/* Intern (kind, pcs[0..n)) and return its site id (>= 1), or 0 on ENOMEM. */
uint32_t ward__site_intern(uint32_t kind, const uintptr_t *pcs, int n);

/* The site of the calling stack, starting `skip` frames above the caller
 * (the configured walker, depth and hidden frames applied). 0 on ENOMEM.
 * Inline, so the frames skipped are the caller's, as ward__capture's. */
static inline __attribute__((always_inline)) uint32_t
ward__site_capture(uint32_t kind, int skip)
{
	return ward__capture(kind, skip, ward__site_intern);
}

/* The site of an id, or NULL. Safe from any thread. */
struct ward__site_rec *ward__site_get(uint32_t id);

/* Number of sites so far (ids are 1..count). */
uint32_t ward__site_count(void);

/* Take or release the site table's locks, around fork(). */
void ward__sites_lock_all(void);
void ward__sites_unlock_all(void);

/* Visit every live record of a kind: fn(handle, site id, size, opaque). */
typedef void (*ward__record_fn)(uintptr_t handle, uint32_t site, uint64_t size,
				void *opaque);
void ward__registry_each(int kind, ward__record_fn fn, void *opaque);

/* Drop the records of descriptors a system call ward did not see closed
 * (track.c), then call ward__fds_unseen when set (the tracer's: the
 * descriptors it did not see opened, trace/fds.c); before a snapshot. */
void ward__fds_reconcile(void);
extern void (*ward__fds_unseen)(void);

/* The slots of a kind's tables: the room its live set takes. */
size_t ward__registry_slots(int kind);

/* The same with the kind's shard locks held by the caller: take them all
 * with ward__registry_trylock() (false when one is held elsewhere; none is
 * then taken), drop them with ward__registry_unlock(). */
bool ward__registry_trylock(int kind);
void ward__registry_unlock(int kind);
size_t ward__registry_count_locked(int kind);
void ward__registry_each_locked(int kind, ward__record_fn fn, void *opaque);

/*
 * The heap blocks' live set (blocks.c), which track.c's calls route
 * WARD_KIND_HEAP to: put (-EEXIST when the block is there, -ENOMEM),
 * take (its site and size; 0 when absent), find; each record, with the
 * locks taken shard by shard or (locked) already held by
 * ward__blocks_trylock(); the locks around fork(); a forked child's reset.
 * (blocks.h: the layout, and the prefetch track.c inlines.)
 */
int ward__blocks_put(uintptr_t handle, uint32_t site, uint64_t size);
uint32_t ward__blocks_take(uintptr_t handle, uint64_t *size);
bool ward__blocks_find(uintptr_t handle, uint32_t *site, uint64_t *size);
void ward__blocks_each(ward__record_fn fn, void *opaque, bool locked);
bool ward__blocks_trylock(void);
void ward__blocks_unlock(void);
size_t ward__blocks_count_locked(void);
size_t ward__blocks_slots(void);
/* Whether new heap tables get rooms to resize in (blocks.c; on unless the
 * address space is limited): off, every resize copies into a new table,
 * as where no room can be had. For tests. */
void ward__blocks_rooms(bool on);
void ward__blocks_lock_all(void);
void ward__blocks_unlock_all(void);
void ward__blocks_reset(void);

/* In a forked child (its only thread): set the parent's blocks aside as
 * the inherited ones, the child's books empty. forget: the child freed
 * handle, an inherited block (false when it is none). each: every
 * inherited block still there. gen changes whenever they do. */
void ward__blocks_set_aside(void);
bool ward__blocks_inherited_forget(uintptr_t handle);
void ward__blocks_inherited_each(ward__record_fn fn, void *opaque);
uint64_t ward__blocks_inherited_gen(void);

/* The heap blocks allocated before ward started (early.c): a library's
 * constructor made them while no record could be taken. The exit scan
 * reads them as roots. note: handle came back from the allocator before
 * ward started; ignore: the program said handle is no leak (it has no
 * record); forget: handle was freed (false when it is none); each: every
 * one still there (site 0, or 1 for an ignored one); gen changes
 * whenever they do. */
void ward__early_note(uintptr_t handle, uint64_t size);
void ward__early_ignore(uintptr_t handle, uint64_t size);
bool ward__early_forget(uintptr_t handle);
void ward__early_each(ward__record_fn fn, void *opaque);
uint64_t ward__early_gen(void);

/* Track with the stack starting `skip` frames above the caller. */
int ward__track_at(int kind, uintptr_t handle, size_t size, int skip);
/* Track a handle of no size (not the heap's) at a site already
 * interned. */
int ward__track_site(int kind, uintptr_t handle, uint32_t site);

/* ward_untrack() for ward's own callers: a direct call, where the
 * exported one goes through the PLT in the shared library and the
 * preload tracer. */
int ward__untrack(int kind, uintptr_t handle);

/*
 * Kinds whose records are kept by the module that makes them, not in the
 * registry's tables (the owners, lifetime/owner.c, whose own index of
 * live owners answers for them): the module counts a record acquired with
 * ward__track_kept() (the site of the stack `skip` frames above the
 * caller, 0 when none could be had: no record) and released with
 * ward__untrack_kept(), and answers each() and find() for the kind, as
 * ward__registry_each() and ward__registry_find() would. forget(): a
 * forked child's books start empty (ward__registry_reset(), in the
 * child's only thread, every lock as the fork left it): none of the
 * module's records is the child's, and none is counted released.
 */
struct ward__kept_books {
	void (*each)(ward__record_fn fn, void *opaque);
	bool (*find)(uintptr_t handle, uint32_t *site, uint64_t *size);
	void (*forget)(void);
};
void ward__kind_kept(int kind, const struct ward__kept_books *b);
uint32_t ward__track_kept(int kind, int skip);
void ward__untrack_kept(int kind, uintptr_t handle, uint32_t site);

/*
 * realloc's bookkeeping (ward_realloc, the tracer's realloc): take p's
 * record out before the allocator can free p (another thread may then be
 * given its address), and once it answered, settle: count the record
 * released, or — failed, p still the caller's — put it back as it was,
 * same site and size. take returns the site, 0 when p had no record.
 */
uint32_t ward__realloc_take(uintptr_t p, uint64_t *size);
void ward__realloc_settle(uintptr_t p, uint32_t site, uint64_t size,
			  bool failed);

/* open(), the descriptor tracked with the stack starting `skip` frames
 * above the caller. */
int ward__open_at(const char *path, int flags, mode_t mode, int skip);

/* A heap block p of size bytes was allocated: record it when every block
 * or the sample includes it, as ward_malloc does, with the stack starting
 * `skip` frames above the caller. Not inlined. */
__attribute__((noinline)) void ward__heap_acquired(void *p, size_t size,
						   int skip);

/* Forget every live record (a forked child starts its own books). */
void ward__registry_reset(void);

/* Hold every registry lock across fork() (pthread_atfork, once; the
 * registry does it when its first table is made, the tracer before its
 * own handlers). */
void ward__registry_fork_handlers(void);

/* Take or release every registry lock, around fork(). */
void ward__registry_lock_all(void);
void ward__registry_unlock_all(void);

/*
 * Release observers (observers.c): what must know when a record leaves the
 * live set — leak checks, owners, pools — registers an observer once (it
 * stays registered; static storage) and says which releases it wants: all
 * of them while ward__observers_want() is raised, or only those of records
 * a holder holds (ward__observers_want_held(), for good): those are
 * counted in ward__held by a hash of (kind, handle), so a release costs
 * one load when nobody listens, and a hash and a load more when only
 * holders do and none holds it. released() runs on the releasing thread,
 * after the record left the live set, with no registry lock held.
 */
struct ward__release_observer {
	void (*released)(int kind, uintptr_t handle, uint32_t site);
	struct ward__release_observer *_Atomic next;
	_Atomic bool added;
};
void ward__observer_add(struct ward__release_observer *o);
void ward__observers_want(int delta);
void ward__observers_want_held(void);
/* Twice the observers wanting every release, plus one if holders listen. */
extern _Atomic int ward__observers_wanted __attribute__((visibility("hidden")));
void ward__observers_notify(int kind, uintptr_t handle, uint32_t site);

/* How many held records hash to each slot: written by the holder under
 * its own lock (a load and a store), read without it. */
enum { WARD__HELD_BITS = 16 };
extern _Atomic uint16_t ward__held[1 << WARD__HELD_BITS]
	__attribute__((visibility("hidden")));

static inline _Atomic uint16_t *ward__held_slot(int kind, uintptr_t handle)
{
	uint64_t h = ((uint64_t)handle ^ (uint64_t)kind << 58) *
		     0x9e3779b97f4a7c15ull;
	return &ward__held[h >> (64 - WARD__HELD_BITS)];
}

static inline bool ward__held_maybe(int kind, uintptr_t handle)
{
	return kind >= 0 &&
	       atomic_load_explicit(ward__held_slot(kind, handle),
				    memory_order_relaxed) != 0;
}

static inline void ward__released(int kind, uintptr_t handle, uint32_t site)
{
	int wanted = atomic_load_explicit(&ward__observers_wanted,
					  memory_order_seq_cst);
	if (__builtin_expect(wanted != 0, 0) &&
	    (wanted != 1 || ward__held_maybe(kind, handle)))
		ward__observers_notify(kind, handle, site);
}

/* Whether a record is live: its site and size. */
bool ward__registry_find(int kind, uintptr_t handle, uint32_t *site,
			 uint64_t *size);

/*
 * Holders (observers.c): who holds live records besides their stacks —
 * the owners (src/lifetime/owner.c) register themselves here. each()
 * visits every (kind, handle) some holder has, with the holder's label
 * (an owner's path), a note: the site of a second stack that belongs
 * to the record (a leaked thread's: where it is blocked), or 0, and the
 * record's site when the holder keeps it (a kept kind's, as an owner's
 * own record), else 0: ward__registry_find() has it. It runs
 * consistently: nothing is attached or released meanwhile. fn must not
 * call back into the holder.
 */
typedef void (*ward__held_fn)(int kind, uintptr_t handle, const char *label,
			      uint32_t note, uint32_t site, void *opaque);
struct ward__holders {
	void (*each)(ward__held_fn fn, void *opaque);
};
void ward__holders_set(const struct ward__holders *h);
const struct ward__holders *ward__holders_get(void);

/*
 * Figure sources (observers.c): modules whose objects keep figures of
 * their own — each pool's cached objects and hits, the finalizer queue —
 * register a source once (static storage; it stays), and a snapshot copies
 * what each() reports into the profile. fn(what, name, figure, help,
 * counter, value): what the object is ("pool"), its name ("" for one of a
 * kind), the figure ("cached") and one line saying what it counts, and
 * whether it only grows (a counter) or goes up and down (a gauge).
 */
typedef void (*ward__figure_fn)(const char *what, const char *name,
				const char *figure, const char *help,
				bool counter, uint64_t value, void *opaque);
struct ward__figure_source {
	void (*each)(ward__figure_fn fn, void *opaque);
	struct ward__figure_source *_Atomic next;
	_Atomic bool added;
};
void ward__figure_source_add(struct ward__figure_source *s);
void ward__figures_each(ward__figure_fn fn, void *opaque);

#endif
