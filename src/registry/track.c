/*
 * track.c — the live set: which handles of each kind are held, and where
 * they were acquired. Heap blocks, nearly all of a traced program's
 * records, have a set of their own (blocks.c); this file keeps the other
 * kinds and routes the heap's calls there.
 *
 * Data structures. Each kind has 64 shards, picked by a hash of the handle.
 * A shard is a lock and an open-addressed table of 16-byte records:
 * {handle, site id, size}. The kind is implied by the table, the stack by
 * the site, so a record needs nothing more. Sizes of 4 GiB and over are
 * stored as UINT32_MAX with the true size in a small side table. Deletion
 * uses backward-shift, so there are no tombstones.
 *
 * Counters. Each site counts what it acquired and released, per thread
 * (counters.c); per-kind totals are summed from the sites on demand, except
 * the high-water marks, which are kept per kind with a CAS loop.
 *
 * Locking: one shard lock per track/untrack (a spinlock, internal/spin.h),
 * held for a probe; the site stripe lock when a new stack is seen. Nothing
 * else.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/grow.h"
#include "core/lock.h"
#include "core/map.h"
#include "registry/blocks.h"
#include "registry/registry.h"
#include "registry/sample.h"
#include "core/spin.h"
#include "ward/track.h"

/* ---- Kinds ------------------------------------------------------------- */

static pthread_mutex_t kinds_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *_Atomic kind_names[WARD_KIND_MAX] = {
	[WARD_KIND_HEAP] = "heap",
	[WARD_KIND_FD] = "fd",
	[WARD_KIND_FILE] = "file",
	[WARD_KIND_THREAD] = "thread",
};

WARD_API int ward_kind_register(const char *name)
{
	if (!name || !*name)
		return -EINVAL;
	/* Kind names reach terminals and labels: printable text only. */
	for (const char *c = name; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return -EINVAL;
	ward__mutex_lock(&kinds_lock);
	int free_slot = -1;
	for (int k = 0; k < WARD_KIND_MAX; k++) {
		const char *n = atomic_load(&kind_names[k]);
		if (n && strcmp(n, name) == 0) {
			ward__mutex_unlock(&kinds_lock);
			return k;
		}
		if (!n && k >= WARD_KIND_USER && free_slot < 0)
			free_slot = k;
	}
	if (free_slot >= 0) {
		char *copy = strdup(name);
		if (!copy) {
			ward__mutex_unlock(&kinds_lock);
			return -ENOMEM;
		}
		atomic_store(&kind_names[free_slot], copy);
	}
	ward__mutex_unlock(&kinds_lock);
	return free_slot >= 0 ? free_slot : -ENOSPC;
}

WARD_API const char *ward_kind_name(int kind)
{
	if (kind < 0 || kind >= WARD_KIND_MAX)
		return NULL;
	return atomic_load(&kind_names[kind]);
}

/* Whether kind is registered: ward_kind_name() without a call through
 * the library's exported symbol, on every track. */
static inline bool kind_known(int kind)
{
	return kind >= 0 && kind < WARD_KIND_MAX &&
	       atomic_load_explicit(&kind_names[kind], memory_order_acquire);
}

/* ---- Shards ------------------------------------------------------------ */

struct record {
	uintptr_t handle;
	uint32_t site; /* 0 = empty slot */
	uint32_t size; /* UINT32_MAX: see the side table */
};

_Static_assert(sizeof(struct record) == 16, "a live record is 16 bytes");

enum { SHARDS = 64 };

/* A cache line each: threads working on different shards never contend
 * for one (packed, three shards shared a line, and every track and
 * untrack of one thread bounced the lock another was taking). */
struct shard {
	_Alignas(64) ward__spin_t lock;
	struct record *slots;
	uint32_t cap, count;
};

struct kind_table {
	struct shard shards[SHARDS];
	_Atomic uint64_t peak_count, peak_bytes;
	_Atomic int64_t live_count, live_bytes; /* lag by the threads' batches */
};

/*
 * High-water marks. Keeping a global live count exact would cost two
 * atomic adds on every track and untrack; instead each thread batches its
 * changes per kind and publishes them every BATCH records, so the peaks
 * can lag the truth by at most BATCH records per thread. Live counts and
 * bytes themselves are exact: they come from the sites' counters.
 */
enum { BATCH = 32 };
static __thread struct {
	int32_t count;
	int64_t bytes;
} pending[WARD_KIND_MAX];

static void raise_peak(_Atomic uint64_t *peak, int64_t now);

static __attribute__((noinline)) void publish_live(struct kind_table *t,
						    int kind);

/* Inlined; what it publishes now and then is not. */
static inline void note_live(struct kind_table *t, int kind, int32_t dc,
			     int64_t db)
{
	pending[kind].count += dc;
	pending[kind].bytes += db;
	if (pending[kind].count >= BATCH || pending[kind].count <= -BATCH)
		publish_live(t, kind);
}

static void publish_live(struct kind_table *t, int kind)
{
	int64_t c = atomic_fetch_add_explicit(&t->live_count,
					      pending[kind].count,
					      memory_order_relaxed) +
		    pending[kind].count;
	int64_t b = atomic_fetch_add_explicit(&t->live_bytes,
					      pending[kind].bytes,
					      memory_order_relaxed) +
		    pending[kind].bytes;
	pending[kind].count = 0;
	pending[kind].bytes = 0;
	raise_peak(&t->peak_count, c);
	raise_peak(&t->peak_bytes, b);
}

static struct kind_table *_Atomic tables[WARD_KIND_MAX];
static pthread_mutex_t tables_lock = PTHREAD_MUTEX_INITIALIZER;

/* A thread that ends publishes what it batched: a thread that only
 * releases (handles another thread acquired) would otherwise take its
 * share of the count with it, and the peaks would climb without bound. */
void ward__track_flush_thread(void)
{
	for (int kind = 0; kind < WARD_KIND_MAX; kind++) {
		struct kind_table *t = atomic_load(&tables[kind]);
		if (!t || (!pending[kind].count && !pending[kind].bytes))
			continue;
		atomic_fetch_add(&t->live_count, pending[kind].count);
		atomic_fetch_add(&t->live_bytes, pending[kind].bytes);
		pending[kind].count = 0;
		pending[kind].bytes = 0;
	}
}

static __attribute__((noinline)) struct kind_table *table_new(int kind)
{
	struct kind_table *t;

	ward__registry_fork_handlers();
	ward__mutex_lock(&tables_lock);
	t = atomic_load(&tables[kind]);
	if (!t) {
		/* Mapped: page-aligned for the shards' cache lines. */
		t = ward__map(sizeof(*t));
		if (t) {
			atomic_store_explicit(&tables[kind], t,
					      memory_order_release);
		}
	}
	ward__mutex_unlock(&tables_lock);
	return t;
}

static inline struct kind_table *table_for(int kind, bool create)
{
	struct kind_table *t = atomic_load_explicit(&tables[kind],
						    memory_order_acquire);
	if (__builtin_expect(t || !create, 1))
		return t;
	return table_new(kind);
}

/* murmur3's finalizer: every output bit depends on every input bit, so
 * aligned pointers and small integers spread over shards and slots. */
static inline uint64_t mix(uintptr_t h)
{
	uint64_t x = (uint64_t)h;
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

static inline struct shard *shard_of(struct kind_table *t, uint64_t h)
{
	return &t->shards[h & (SHARDS - 1)];
}

/* Big sizes: handle -> size, for the rare block of 4 GiB or more. */
static pthread_mutex_t big_lock = PTHREAD_MUTEX_INITIALIZER;
static struct big {
	int kind;
	uintptr_t handle;
	uint64_t size;
} *bigs;
static size_t nbigs, capbigs;

static int big_put(int kind, uintptr_t h, uint64_t size)
{
	int rc = 0;
	ward__mutex_lock(&big_lock);
	ward__guard_raise();
	struct big *nb = ward__grow(bigs, &capbigs, nbigs + 1, sizeof(*nb), 16);
	ward__guard_lower();
	if (!nb)
		rc = -ENOMEM;
	else
		bigs = nb;
	if (rc == 0)
		bigs[nbigs++] = (struct big){ kind, h, size };
	ward__mutex_unlock(&big_lock);
	return rc;
}

static uint64_t big_get(int kind, uintptr_t h, bool remove)
{
	uint64_t size = UINT32_MAX;
	ward__mutex_lock(&big_lock);
	for (size_t i = 0; i < nbigs; i++)
		if (bigs[i].kind == kind && bigs[i].handle == h) {
			size = bigs[i].size;
			if (remove)
				bigs[i] = bigs[--nbigs];
			break;
		}
	ward__mutex_unlock(&big_lock);
	return size;
}

/* Move a shard's records into a table of ncap slots (a power of two). */
static int shard_resize(struct shard *s, uint32_t ncap)
{
	/* Mapped as ward's own, never from malloc: the slots hold every
	 * live handle, and a table the reachability scan read as the
	 * program's memory (a large block glibc maps apart, any block of
	 * another allocator's arenas) would make every block reachable. */
	struct record *slots = ward__map(ncap * sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	/* Every page is written below: fault them in at once. */
	ward__map_populate(slots, ncap * sizeof(*slots), false);
	for (uint32_t i = 0; i < s->cap; i++) {
		if (!s->slots[i].site)
			continue;
		uint32_t k = (uint32_t)(mix(s->slots[i].handle) >> 6) & (ncap - 1);
		while (slots[k].site)
			k = (k + 1) & (ncap - 1);
		slots[k] = s->slots[i];
	}
	ward__unmap(s->slots, s->cap * sizeof(*s->slots));
	/* Stored atomically for prefetch_slot(), which reads them unlocked. */
	__atomic_store_n(&s->slots, slots, __ATOMIC_RELAXED);
	__atomic_store_n(&s->cap, ncap, __ATOMIC_RELAXED);
	return 0;
}

static int shard_grow(struct shard *s)
{
	return shard_resize(s, s->cap ? s->cap * 2 : 256);
}

/* A shard below an eighth full halves until it is at least a quarter
 * full (or 256 slots): the room a peak took is given back once its
 * records go (blocks.c does the same for the heap). A quarter: the
 * records must halve again before the next shrink, or triple before a
 * grow. Out of memory, it stays as it is. */
static void shard_shrink_if_sparse(struct shard *s)
{
	if (s->cap <= 256 || (uint64_t)s->count * 8 >= s->cap)
		return;
	uint32_t ncap = s->cap;
	while (ncap > 256 && (uint64_t)s->count * 4 < ncap)
		ncap /= 2;
	(void)shard_resize(s, ncap);
}

static void raise_peak(_Atomic uint64_t *peak, int64_t now)
{
	uint64_t old = atomic_load_explicit(peak, memory_order_relaxed);
	while (now > 0 && (uint64_t)now > old &&
	       !atomic_compare_exchange_weak_explicit(peak, &old, (uint64_t)now,
						      memory_order_relaxed,
						      memory_order_relaxed))
		;
}

/*
 * Start loading the slot where a record for handle would go, so that the
 * cache miss it costs (the table is as large as the live set, and hashing
 * scatters neighbouring blocks over it) overlaps the stack capture that
 * precedes the insert. Unlocked: a table grown meanwhile makes it a
 * prefetch of the wrong line, which cannot fault.
 */
static inline void prefetch_slot(int kind, uintptr_t handle)
{
	if (kind == WARD_KIND_HEAP) {
		ward__blocks_prefetch(handle);
		return;
	}
	struct kind_table *t = atomic_load_explicit(&tables[kind],
						    memory_order_acquire);
	if (!t)
		return;
	uint64_t h = mix(handle);
	struct shard *s = shard_of(t, h);
	struct record *slots = __atomic_load_n(&s->slots, __ATOMIC_RELAXED);
	uint32_t cap = __atomic_load_n(&s->cap, __ATOMIC_RELAXED);
	if (slots && cap)
		__builtin_prefetch(&slots[(uint32_t)(h >> 6) & (cap - 1)], 1);
}

/* Insert a record of a kind other than the heap. */
static int table_put(struct kind_table *t, int kind, uintptr_t handle,
		     uint32_t site, uint64_t size)
{
	uint64_t h = mix(handle);
	struct shard *s = shard_of(t, h);
	int rc = 0;

	ward__spin_take(&s->lock);
	if ((s->count + 1) * 4 > s->cap * 3 && (rc = shard_grow(s)) < 0)
		goto out;
	uint32_t k = (uint32_t)(h >> 6) & (s->cap - 1);
	for (; s->slots[k].site; k = (k + 1) & (s->cap - 1))
		if (s->slots[k].handle == handle) {
			rc = -EEXIST;
			goto out;
		}
	if (size >= UINT32_MAX && (rc = big_put(kind, handle, size)) < 0)
		goto out;
	s->slots[k] = (struct record){ handle, site,
				       size >= UINT32_MAX ? UINT32_MAX
							  : (uint32_t)size };
	s->count++;
out:
	ward__spin_drop(&s->lock);
	return rc;
}

/* Insert a record; the site is already interned. Inlined, as remove_rec()
 * and count_release(): a call's saving and restoring of registers was a
 * tenth of a track and untrack pair. */
static inline __attribute__((always_inline)) int
insert(int kind, uintptr_t handle, uint32_t site, uint64_t size)
{
	struct kind_table *t = table_for(kind, true);
	if (!t)
		return -ENOMEM;
	int rc = kind == WARD_KIND_HEAP
			 ? ward__blocks_put(handle, site, size)
			 : table_put(t, kind, handle, site, size);
	if (rc == 0)
		note_live(t, kind, 1, (int64_t)size);
	return rc;
}

/* Remove a record of a kind other than the heap. */
static uint32_t table_take(struct kind_table *t, int kind, uintptr_t handle,
			   uint64_t *size)
{
	uint64_t h = mix(handle);
	struct shard *s = shard_of(t, h);
	uint32_t site = 0;

	ward__spin_take(&s->lock);
	if (!s->cap)
		goto out;
	uint32_t mask = s->cap - 1, k = (uint32_t)(h >> 6) & mask;
	for (; s->slots[k].site; k = (k + 1) & mask)
		if (s->slots[k].handle == handle)
			break;
	if (!s->slots[k].site)
		goto out;
	site = s->slots[k].site;
	*size = s->slots[k].size;
	/* Backward-shift deletion: pull later members of the run back. */
	uint32_t hole = k;
	for (uint32_t j = (k + 1) & mask; s->slots[j].site; j = (j + 1) & mask) {
		uint32_t home = (uint32_t)(mix(s->slots[j].handle) >> 6) & mask;
		if (((j - home) & mask) >= ((j - hole) & mask)) {
			s->slots[hole] = s->slots[j];
			hole = j;
		}
	}
	s->slots[hole] = (struct record){ 0 };
	s->count--;
	shard_shrink_if_sparse(s);
out:
	ward__spin_drop(&s->lock);
	if (site && *size == UINT32_MAX)
		*size = big_get(kind, handle, true);
	return site;
}

/* Remove a record; returns its site (0 if absent) and size. */
static inline __attribute__((always_inline)) uint32_t
remove_rec(int kind, uintptr_t handle, uint64_t *size)
{
	struct kind_table *t = table_for(kind, false);
	if (!t)
		return 0;
	uint32_t site = kind == WARD_KIND_HEAP
				? ward__blocks_take(handle, size)
				: table_take(t, kind, handle, size);
	if (site) {
		ward__released(kind, handle, site);
		note_live(t, kind, -1, -(int64_t)*size);
	}
	return site;
}

/* Kinds whose records their module keeps (ward__kind_kept). */
static const struct ward__kept_books *_Atomic kept[WARD_KIND_MAX];

void ward__kind_kept(int kind, const struct ward__kept_books *b)
{
	if (kind >= 0 && kind < WARD_KIND_MAX)
		atomic_store(&kept[kind], b);
}

static inline const struct ward__kept_books *kept_by(int kind)
{
	return atomic_load_explicit(&kept[kind], memory_order_acquire);
}

void ward__registry_each(int kind, ward__record_fn fn, void *opaque)
{
	if (kind == WARD_KIND_HEAP) {
		ward__blocks_each(fn, opaque, false);
		return;
	}
	const struct ward__kept_books *b = kept_by(kind);
	if (b) {
		b->each(fn, opaque);
		return;
	}
	struct kind_table *t = table_for(kind, false);
	if (!t)
		return;
	for (int i = 0; i < SHARDS; i++) {
		struct shard *s = &t->shards[i];
		ward__spin_take(&s->lock);
		for (uint32_t k = 0; k < s->cap; k++)
			if (s->slots[k].site) {
				uint64_t size = s->slots[k].size;
				fn(s->slots[k].handle, s->slots[k].site,
				   size, opaque);
			}
		ward__spin_drop(&s->lock);
	}
}

/*
 * For a scan that runs while every other thread is stopped (scan.c): a
 * stopped thread may hold a shard lock, so the scan only tries them.
 */
bool ward__registry_trylock(int kind)
{
	if (kind == WARD_KIND_HEAP)
		return ward__blocks_trylock();
	struct kind_table *t = table_for(kind, false);
	for (int i = 0; t && i < SHARDS; i++)
		if (atomic_exchange_explicit(&t->shards[i].lock, 1,
					     memory_order_acquire)) {
			while (--i >= 0)
				ward__spin_drop(&t->shards[i].lock);
			return false;
		}
	return true;
}

void ward__registry_unlock(int kind)
{
	if (kind == WARD_KIND_HEAP) {
		ward__blocks_unlock();
		return;
	}
	struct kind_table *t = table_for(kind, false);
	for (int i = 0; t && i < SHARDS; i++)
		ward__spin_drop(&t->shards[i].lock);
}

size_t ward__registry_slots(int kind)
{
	if (kind == WARD_KIND_HEAP)
		return ward__blocks_slots();
	struct kind_table *t = table_for(kind, false);
	size_t n = 0;
	for (int i = 0; t && i < SHARDS; i++) {
		ward__spin_take(&t->shards[i].lock);
		n += t->shards[i].cap;
		ward__spin_drop(&t->shards[i].lock);
	}
	return n;
}

size_t ward__registry_count_locked(int kind)
{
	if (kind == WARD_KIND_HEAP)
		return ward__blocks_count_locked();
	struct kind_table *t = table_for(kind, false);
	size_t n = 0;
	for (int i = 0; t && i < SHARDS; i++)
		n += t->shards[i].count;
	return n;
}

void ward__registry_each_locked(int kind, ward__record_fn fn, void *opaque)
{
	if (kind == WARD_KIND_HEAP) {
		ward__blocks_each(fn, opaque, true);
		return;
	}
	struct kind_table *t = table_for(kind, false);
	for (int i = 0; t && i < SHARDS; i++) {
		struct shard *s = &t->shards[i];
		for (uint32_t k = 0; k < s->cap; k++)
			if (s->slots[k].site)
				fn(s->slots[k].handle, s->slots[k].site,
				   s->slots[k].size, opaque);
	}
}

/* ---- The API ----------------------------------------------------------- */

/* A record at an interned site, its acquisition counted (count, bytes:
 * the units of the site's counters) before it can be seen: a release by
 * another thread then never counts ahead of it. Taken back when the
 * record could not be made. */
static inline __attribute__((always_inline)) int
insert_counted(int kind, uintptr_t handle, uint32_t site, uint64_t size,
	       uint64_t count, uint64_t bytes)
{
	ward__count_acquire(site, (int64_t)count, (int64_t)bytes);
	int rc = insert(kind, handle, site, size);
	if (rc < 0)
		ward__count_acquire(site, -(int64_t)count, -(int64_t)bytes);
	return rc;
}

/*
 * Acquisitions ward could not record: its own memory ran out (a limit on
 * the address space the program had used up, say) as it interned the
 * stack or grew the table. The program has the resource all the same;
 * the books do not, and every figure taken from them is short by these.
 * Each profile carries them ("KIND unrecorded"), and the summary says so.
 */
static struct {
	_Atomic uint64_t count, bytes;
} unrecorded[WARD_KIND_MAX];

static void unrecorded_figures(ward__figure_fn fn, void *opaque)
{
	for (int k = 0; k < WARD_KIND_MAX; k++) {
		uint64_t n = atomic_load(&unrecorded[k].count);
		const char *name = atomic_load(&kind_names[k]);
		if (!n || !name)
			continue;
		fn(name, "", "unrecorded",
		   "Acquisitions ward could not record (its own memory ran "
		   "out): the program has them, every figure of the books "
		   "leaves them out.",
		   true, n, opaque);
		fn(name, "", "unrecorded_bytes",
		   "Bytes of the acquisitions ward could not record.", true,
		   atomic_load(&unrecorded[k].bytes), opaque);
	}
}

static struct ward__figure_source unrecorded_source = {
	.each = unrecorded_figures
};

static __attribute__((noinline, cold)) int not_recorded(int kind, size_t size,
						       int rc)
{
	if (rc != -ENOMEM)
		return rc;
	atomic_fetch_add(&unrecorded[kind].count, 1);
	atomic_fetch_add(&unrecorded[kind].bytes, size);
	ward__figure_source_add(&unrecorded_source);
	return rc;
}

/* Not inlined: `skip` counts this frame and its caller's. */
__attribute__((noinline)) int ward__track_at(int kind, uintptr_t handle,
					    size_t size, int skip)
{
	if (!kind_known(kind))
		return -EINVAL;
	prefetch_slot(kind, handle);
	uint32_t site = ward__site_capture((uint32_t)kind, skip + 1);
	if (!site)
		return not_recorded(kind, size, -ENOMEM);
	uint64_t count = 1, bytes = size;
	if (kind == WARD_KIND_HEAP)
		ward__heap_weight(size, ward__rate(), &count, &bytes);
	int rc = insert_counted(kind, handle, site, size, count, bytes);
	if (__builtin_expect(rc < 0, 0))
		return not_recorded(kind, size, rc);
	return rc;
}

int ward__track_site(int kind, uintptr_t handle, uint32_t site)
{
	if (!kind_known(kind) || kind == WARD_KIND_HEAP || !site)
		return -EINVAL;
	return insert_counted(kind, handle, site, 0, 1, 0);
}

WARD_API int ward_track(int kind, uintptr_t handle, size_t size)
{
	return ward__track_at(kind, handle, size, 1);
}

/* A record of size bytes at site was removed: count it released, in the
 * units it was counted acquired (heap: weighted, sample.h). */
static inline __attribute__((always_inline)) void
count_release(int kind, uint32_t site, uint64_t size)
{
	uint64_t count = 1, bytes = size;
	if (kind == WARD_KIND_HEAP)
		ward__heap_weight(size, ward__rate(), &count, &bytes);
	ward__count_release(site, count, bytes);
}

int ward__untrack(int kind, uintptr_t handle)
{
	uint64_t size = 0;

	if (kind < 0 || kind >= WARD_KIND_MAX)
		return -EINVAL;
	uint32_t site = remove_rec(kind, handle, &size);
	if (!site) {
		/* Not recorded (a heap block sampling passed over): whoever
		 * holds it is still told it is gone (site 0). */
		ward__released(kind, handle, 0);
		return -ENOENT;
	}
	count_release(kind, site, size);
	return 0;
}

WARD_API int ward_untrack(int kind, uintptr_t handle)
{
	return ward__untrack(kind, handle);
}

/* A kept kind's record: counted here, kept by its module. Sizeless: no
 * kept kind is the heap's. */
__attribute__((noinline)) uint32_t ward__track_kept(int kind, int skip)
{
	if (!kind_known(kind))
		return 0;
	uint32_t site = ward__site_capture((uint32_t)kind, skip + 1);
	if (!site)
		return 0;
	struct kind_table *t = table_for(kind, true);
	if (!t)
		return 0;
	ward__count_acquire(site, 1, 0);
	note_live(t, kind, 1, 0);
	return site;
}

void ward__untrack_kept(int kind, uintptr_t handle, uint32_t site)
{
	struct kind_table *t = site ? table_for(kind, false) : NULL;
	if (!t)
		return;
	ward__released(kind, handle, site);
	note_live(t, kind, -1, 0);
	ward__count_release(site, 1, 0);
}

bool ward__registry_find(int kind, uintptr_t handle, uint32_t *site,
			 uint64_t *size)
{
	if (kind == WARD_KIND_HEAP)
		return ward__blocks_find(handle, site, size);
	const struct ward__kept_books *b = kept_by(kind);
	if (b)
		return b->find(handle, site, size);
	struct kind_table *t = table_for(kind, false);
	if (!t)
		return false;
	uint64_t h = mix(handle);
	struct shard *s = shard_of(t, h);
	bool found = false, big = false;

	ward__spin_take(&s->lock);
	if (s->cap) {
		uint32_t mask = s->cap - 1, k = (uint32_t)(h >> 6) & mask;
		for (; s->slots[k].site; k = (k + 1) & mask)
			if (s->slots[k].handle == handle) {
				*site = s->slots[k].site;
				*size = s->slots[k].size;
				big = s->slots[k].size == UINT32_MAX;
				found = true;
				break;
			}
	}
	ward__spin_drop(&s->lock);
	if (big)
		*size = big_get(kind, handle, false);
	return found;
}

WARD_API int ward_kind_stats(int kind, struct ward_kind_stats *out)
{
	if (!out || !kind_known(kind))
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	uint32_t n = ward__site_count();
	struct ward__counts *c = NULL;
	if (n) {
		ward__guard_raise();
		c = malloc(n * sizeof(*c));
		ward__guard_lower();
		if (!c)
			return -ENOMEM;
		ward__counts_read(c, n);
	}
	for (uint32_t id = 1; id <= n; id++) {
		struct ward__site_rec *r = ward__site_get(id);
		if (!r || r->kind != (uint32_t)kind)
			continue;
		out->released_count += c[id - 1].rel_count;
		out->released_bytes += c[id - 1].rel_bytes;
		out->acquired_count += c[id - 1].acq_count;
		out->acquired_bytes += c[id - 1].acq_bytes;
	}
	if (kind == WARD_KIND_HEAP) { /* weighted counts, sample.h */
		out->released_count = (out->released_count + WARD__WEIGHT_ONE / 2) /
				      WARD__WEIGHT_ONE;
		out->acquired_count = (out->acquired_count + WARD__WEIGHT_ONE / 2) /
				      WARD__WEIGHT_ONE;
	}
	ward__guard_raise();
	free(c);
	ward__guard_lower();
	out->live_count = out->acquired_count - out->released_count;
	out->live_bytes = out->acquired_bytes - out->released_bytes;
	struct kind_table *t = table_for(kind, false);
	if (t) {
		out->peak_count = atomic_load(&t->peak_count);
		out->peak_bytes = atomic_load(&t->peak_bytes);
	}
	/* A peak is at least what is live now (the batches may lag). */
	if (out->peak_count < out->live_count)
		out->peak_count = out->live_count;
	if (out->peak_bytes < out->live_bytes)
		out->peak_bytes = out->live_bytes;
	return 0;
}

/* ---- Library-mode wrappers --------------------------------------------- */

/* Each wrapper tracks with skip 1, so the stack starts at its caller. */

/* Record a new heap block that every block, or the sample, includes (the
 * test for that is inline in the callers), with the stack starting `skip`
 * frames above this one. */
static __attribute__((noinline)) void heap_record(void *p, size_t size,
						   int skip)
{
	if (ward__rate()) {
		if (!ward__sample_due())
			return;
		ward__sample_take((uintptr_t)p);
	}
	ward__track_at(WARD_KIND_HEAP, (uintptr_t)p, size, skip + 1);
	__asm__ volatile("" ::: "memory");
}

#define heap_acquired(p, size)                                                \
	do {                                                                   \
		if ((p) && !ward__alloc_unsampled(size))                       \
			heap_record((p), (size), 1);                           \
	} while (0)

static inline void heap_released(void *p)
{
	if (ward__free_unsampled(p))
		return;
	if (ward__untrack(WARD_KIND_HEAP, (uintptr_t)p) == 0 && ward__rate())
		ward__sample_drop((uintptr_t)p);
}

void ward__heap_acquired(void *p, size_t size, int skip)
{
	if (p && !ward__alloc_unsampled(size))
		heap_record(p, size, skip + 1);
	__asm__ volatile("" ::: "memory");
}

/* ward_malloc()'s recording path: the stack starts above ward_malloc. */
static __attribute__((noinline)) void *malloc_recorded(size_t size)
{
	void *p = malloc(size);
	if (p)
		heap_record(p, size, 2);
	__asm__ volatile("" ::: "memory");
	return p;
}

WARD_API void *ward_malloc(size_t size)
{
	/* Sampled mode, not this one: straight to malloc. */
	if (__builtin_expect(ward__alloc_unsampled(size), 1))
		return malloc(size);
	void *p = malloc_recorded(size);
	__asm__ volatile("" ::: "memory"); /* a frame of its own, always */
	return p;
}

WARD_API void *ward_calloc(size_t n, size_t size)
{
	void *p = calloc(n, size);
	heap_acquired(p, n * size);
	__asm__ volatile("" ::: "memory");
	return p;
}

uint32_t ward__realloc_take(uintptr_t p, uint64_t *size)
{
	uint32_t site = remove_rec(WARD_KIND_HEAP, p, size);
	if (site && ward__rate())
		ward__sample_drop(p);
	return site;
}

void ward__realloc_settle(uintptr_t p, uint32_t site, uint64_t size,
			  bool failed)
{
	if (!site)
		return;
	if (failed) {
		if (ward__rate())
			ward__sample_take(p);
		if (insert(WARD_KIND_HEAP, p, site, size) == 0)
			return;
	}
	count_release(WARD_KIND_HEAP, site, size);
}

WARD_API void *ward_realloc(void *ptr, size_t size)
{
	uint64_t old_size = 0;
	uint32_t old_site = 0;

	if (ptr && !ward__free_unsampled(ptr))
		old_site = ward__realloc_take((uintptr_t)ptr, &old_size);
	void *p = realloc(ptr, size);
	ward__realloc_settle((uintptr_t)ptr, old_site, old_size, !p && size);
	if (!p)
		return NULL;
	heap_acquired(p, size);
	__asm__ volatile("" ::: "memory");
	return p;
}

static __attribute__((noinline)) void free_recorded(void *ptr)
{
	heap_released(ptr);
	free(ptr);
}

WARD_API void ward_free(void *ptr)
{
	/* Sampled mode, a page with no sampled block: straight to free
	 * (whoever holds the block — an owner — is still told). */
	if (__builtin_expect(ward__free_unsampled(ptr), 1)) {
		if (ptr)
			ward__released(WARD_KIND_HEAP, (uintptr_t)ptr, 0);
		free(ptr);
		return;
	}
	if (ptr)
		free_recorded(ptr);
}

__attribute__((noinline)) int ward__open_at(const char *path, int flags,
					    mode_t mode, int skip)
{
	int fd = open(path, flags, mode);
	if (fd >= 0)
		ward__track_at(WARD_KIND_FD, (uintptr_t)fd, 0, skip + 1);
	__asm__ volatile("" ::: "memory");
	return fd;
}

WARD_API int ward_open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	if (flags & (O_CREAT | O_TMPFILE)) {
		va_list ap;
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	int fd = ward__open_at(path, flags, mode, 1);
	__asm__ volatile("" ::: "memory");
	return fd;
}

WARD_API int ward_close(int fd)
{
	ward__untrack(WARD_KIND_FD, (uintptr_t)fd);
	return close(fd);
}

/*
 * Descriptors closed unseen. A program can close a descriptor with a
 * system call of its own (syscall(SYS_close_range, ...), a runtime's raw
 * close) that no wrapper sees: its record would stay, a leak that is not.
 * Before a snapshot each descriptor the books hold open is asked whether
 * it still is (fcntl(F_GETFD) as a system call, which no interposer of
 * ward's re-enters); those closed leave the books, counted in the figure
 * "fd closed_unseen". One closed and opened again meanwhile by another
 * raw call is not told apart.
 */
static _Atomic uint64_t closed_unseen;

enum { GONE_BATCH = 256 };
struct gone {
	int fd[GONE_BATCH];
	int n;
	bool more;
};

static void find_closed(uintptr_t fd, uint32_t site, uint64_t size,
			void *opaque)
{
	struct gone *g = opaque;
	(void)site;
	(void)size;
	if (syscall(SYS_fcntl, (int)fd, F_GETFD) >= 0 || errno != EBADF)
		return;
	if (g->n < GONE_BATCH)
		g->fd[g->n++] = (int)fd;
	else
		g->more = true;
}

static void closed_unseen_figure(ward__figure_fn fn, void *opaque)
{
	uint64_t n = atomic_load(&closed_unseen);
	if (n)
		fn("fd", "", "closed_unseen",
		   "Descriptors the books held open that a system call ward "
		   "did not see had closed (a raw close or close_range): "
		   "dropped from the books, no leak.",
		   true, n, opaque);
}

static struct ward__figure_source closed_unseen_source = {
	.each = closed_unseen_figure
};

void (*ward__fds_unseen)(void);

void ward__fds_reconcile(void)
{
	int saved = errno;
	struct gone g;
	do {
		g.n = 0;
		g.more = false;
		ward__registry_each(WARD_KIND_FD, find_closed, &g);
		for (int i = 0; i < g.n; i++)
			if (ward__untrack(WARD_KIND_FD, (uintptr_t)g.fd[i]) == 0 &&
			    atomic_fetch_add(&closed_unseen, 1) == 0)
				ward__figure_source_add(&closed_unseen_source);
	} while (g.more);
	if (ward__fds_unseen)
		ward__fds_unseen();
	errno = saved;
}

WARD_API FILE *ward_fopen(const char *path, const char *mode)
{
	if (!path || !mode) {
		errno = EINVAL;
		return NULL;
	}
	FILE *f = fopen(path, mode);
	if (f)
		ward__track_at(WARD_KIND_FILE, (uintptr_t)f, 0, 1);
	return f;
}

WARD_API int ward_fclose(FILE *f)
{
	if (!f)
		return 0;
	ward__untrack(WARD_KIND_FILE, (uintptr_t)f);
	return fclose(f);
}

/* ---- fork() ------------------------------------------------------------ */


/* Lock order: kinds, tables, each kind's shards, the blocks' zones and
 * shards, big sizes (taken under a
 * shard lock by insert()), then stack.c's. */
void ward__registry_lock_all(void)
{
	ward__mutex_lock(&kinds_lock);
	ward__mutex_lock(&tables_lock);
	for (int k = 0; k < WARD_KIND_MAX; k++) {
		struct kind_table *t = atomic_load(&tables[k]);
		for (int i = 0; t && i < SHARDS; i++)
			ward__spin_take(&t->shards[i].lock);
	}
	ward__blocks_lock_all();
	ward__mutex_lock(&big_lock);
	ward__counts_lock();
	ward__sites_lock_all();
}

void ward__registry_unlock_all(void)
{
	ward__sites_unlock_all();
	ward__counts_unlock();
	ward__mutex_unlock(&big_lock);
	ward__blocks_unlock_all();
	for (int k = WARD_KIND_MAX - 1; k >= 0; k--) {
		struct kind_table *t = atomic_load(&tables[k]);
		for (int i = SHARDS - 1; t && i >= 0; i--)
			ward__spin_drop(&t->shards[i].lock);
	}
	ward__mutex_unlock(&tables_lock);
	ward__mutex_unlock(&kinds_lock);
}

/*
 * A forked child starts its own books: no live records, every site's
 * counters at zero (its sites stay, so stacks seen in the parent need no
 * interning again). Only the forking thread exists in the child, so no
 * lock is needed.
 */
/* Every registry lock is held across fork(): a child never inherits one
 * another thread held, in library mode as under the tracer. Registered
 * before anything else of ward's, so the tracer's child handler runs with
 * the locks free. */
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void fork_register(void)
{
	pthread_atfork(ward__registry_lock_all, ward__registry_unlock_all,
		       ward__registry_unlock_all);
}

void ward__registry_fork_handlers(void)
{
	pthread_once(&fork_once, fork_register);
}

void ward__registry_reset(void)
{
	for (int k = 0; k < WARD_KIND_MAX; k++) {
		struct kind_table *t = atomic_load(&tables[k]);
		if (!t)
			continue;
		for (int i = 0; i < SHARDS; i++) {
			struct shard *s = &t->shards[i];
			if (s->cap)
				memset(s->slots, 0, s->cap * sizeof(*s->slots));
			s->count = 0;
		}
		atomic_store(&t->live_count, 0);
		atomic_store(&t->live_bytes, 0);
		atomic_store(&t->peak_count, 0);
		atomic_store(&t->peak_bytes, 0);
	}
	ward__blocks_reset();
	memset(pending, 0, sizeof(pending));
	nbigs = 0;
	ward__counts_reset();
	for (int k = 0; k < WARD_KIND_MAX; k++) {
		const struct ward__kept_books *b = kept_by(k);
		if (b)
			b->forget();
	}
}
