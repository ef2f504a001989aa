/*
 * blocks.c — the live set of heap blocks: for every live block, the site
 * that allocated it and its size, found by its address. track.c keeps
 * every other kind; a traced program's records are nearly all blocks, so
 * this is where the live set's memory and cache misses go.
 *
 * Zones. A block's address splits into its zone (the high 32 bits: which
 * 4 GiB of address space it is in) and its offset in the zone (the low
 * 32). A program's heap is in a handful of zones; each zone has its own
 * shards, so a record keeps only the offset: the zone is implied by the
 * table, the stack by the site. A record is 10 bytes: {offset, site,
 * size}. Sizes of 65,535 bytes and more are kept beside, in a shard's
 * sorted array of big sizes (few blocks are that large: by count, a
 * heap's blocks are nearly all small).
 *
 * Shards. A zone has 256, eight for each group of 64 MiB regions: glibc
 * gives each thread's arena heaps of their own, 64 MiB aligned (jemalloc
 * and others likewise keep a thread's blocks together), so a thread
 * freeing what it allocated takes locks and touches slots that stay in
 * its core's cache. Within its group, a block's shard is picked by a hash
 * of its 256-byte granule; so is its home slot (blocks.h), so that
 * neighbouring small blocks' records share a run of slots and cache
 * lines (python3 traced: 8% faster than with each block's own hash).
 *
 * Tables. A shard is a spinlock and an open-addressed table, probed
 * linearly with robin hood hashing: a record being placed takes the slot
 * of one nearer its own home, so every record is within a short distance
 * of its home even in a full table, and a lookup stops at the first
 * record nearer its home than the probe is (no need to reach an empty
 * slot). Deletion shifts the following records back: no tombstones. A
 * table grows by a quarter when it would be fuller than 85%, so it is
 * 68-85% full: 12-15 bytes a live block (16-byte records in a table kept
 * 37-75% full took 21-43). Fuller, an insert walks and shifts longer runs
 * (their length grows as 1/(1 - load)^2). A table's capacity is any
 * number, not a power of two: a record's home is its hash scaled to the
 * capacity (a multiply and a shift), so records kept in the order of
 * their hashes (ties too) are in the order of their homes in a table of
 * any capacity, and a table is resized in one pass, each record moved to
 * its home or just past the one moved before it, not placed again as an
 * insert places it; where it lies, in a room of address space reserved
 * for it (below). A table that grows by a quarter moves each record ~4
 * times over its life.
 *
 * Young records. While the process has one thread, its newest eight
 * records wait aside before they go into the table (below): a block
 * freed that soon never reaches it.
 *
 * Locking: a shard's lock for a probe; the zones' lock when a zone is
 * first seen. Zones are never given back, so a zone found needs no lock.
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "core/lock.h"
#include "core/map.h"
#include "registry/blocks.h"
#include "registry/registry.h"

enum {
	BIG = 0xffff,          /* size field: the size is in the big sizes */
	ZONE_SLOTS = 1 << 16,  /* the zones' directory */
	PAGE = 4096,
};

/*
 * The zones' directory: open-addressed by the zone's number, written
 * under zones_lock, read without it (a slot once set never changes).
 * Room for twice the zones of a 47-bit address space; a heap spread over
 * more 4 GiB zones than it has slots (possible only with handles made up,
 * never with memory) is refused with -ENOMEM. The zones are also listed
 * in the order they were made, for the calls that visit them all.
 */
static struct ward__zone *_Atomic zones[ZONE_SLOTS];
static struct ward__zone *_Atomic zone_list[ZONE_SLOTS];
static _Atomic uint32_t nzones;
static pthread_mutex_t zones_lock = PTHREAD_MUTEX_INITIALIZER;

__thread struct ward__zone *ward__near_zone;

static inline uint32_t zone_slot(uint32_t high)
{
	return (uint32_t)(((uint64_t)high * 0x9e3779b97f4a7c15ull) >> 48);
}

static __attribute__((noinline)) struct ward__zone *
zone_find(uint32_t high, bool create)
{
	uint32_t i = zone_slot(high);
	for (uint32_t n = 0; n < ZONE_SLOTS; n++, i = (i + 1) % ZONE_SLOTS) {
		struct ward__zone *z =
			atomic_load_explicit(&zones[i], memory_order_acquire);
		if (z && z->high == high)
			return ward__near_zone = z;
		if (z)
			continue;
		if (!create)
			return NULL;
		ward__mutex_lock(&zones_lock);
		z = atomic_load_explicit(&zones[i], memory_order_relaxed);
		if (!z) {
			/* Mapped as ward's own (never malloc'd): its slots
			 * hold the offsets of every live block. */
			z = ward__map(sizeof(*z));
			if (z) {
				z->high = high;
				uint32_t made = atomic_load(&nzones);
				atomic_store(&zone_list[made], z);
				atomic_store(&nzones, made + 1);
				atomic_store_explicit(&zones[i], z,
						      memory_order_release);
			}
		}
		ward__mutex_unlock(&zones_lock);
		if (!z)
			return NULL;
		if (z->high == high)
			return ward__near_zone = z;
	}
	return NULL;
}

static inline struct ward__zone *zone_of(uintptr_t handle, bool create)
{
	uint32_t high = (uint32_t)((uint64_t)handle >> 32);
	struct ward__zone *z = ward__near_zone;
	if (__builtin_expect(z && z->high == high, 1))
		return z;
	if (!create && !atomic_load_explicit(&nzones, memory_order_relaxed))
		return NULL; /* no zone yet: the records are all young */
	return zone_find(high, create);
}

/* How far slot `at` is from `home`, going forward round the table. */
static inline uint32_t distance(uint32_t cap, uint32_t at, uint32_t home)
{
	return at >= home ? at - home : at + cap - home;
}

/* The slot holding lo, or cap when none does. */
static inline uint32_t lookup(const struct ward__zshard *s, uint32_t lo)
{
	uint32_t cap = s->cap;
	if (!cap)
		return 0;
	uint32_t i = ward__home_in(cap, lo);
	for (uint32_t d = 0;; d++) {
		const struct ward__block *r = &s->slots[i];
		if (!r->site)
			return cap;
		if (r->lo == lo)
			return i;
		if (distance(cap, i, ward__home_in(cap, r->lo)) < d)
			return cap; /* robin hood: lo would be before r */
		if (++i == cap)
			i = 0;
	}
}

/*
 * Place a record for lo in a table with an empty slot; -EEXIST when lo
 * is there. Its slot is the first holding a record farther from its home
 * than lo would be (lo cannot be past it), or one of the same home later
 * in the order of hashes, or an empty one; the records from there to the
 * next empty slot move up one, in one memmove. So a table is in the order
 * of its records' hashes, ties included (resize() counts on it). The
 * packed record is written field by field: one built whole on the stack
 * is written in parts and read back at once, which stalls store
 * forwarding.
 */
static inline int place(struct ward__zshard *s, uint32_t lo,
			uint32_t site, uint16_t size)
{
	uint32_t cap = s->cap, i = ward__home_in(cap, lo);
	struct ward__block *slots = s->slots;
	for (uint32_t d = 0;; d++) {
		const struct ward__block *at = &slots[i];
		if (!at->site)
			break;
		if (at->lo == lo)
			return -EEXIST;
		uint32_t ad = distance(cap, i, ward__home_in(cap, at->lo));
		if (ad < d ||
		    (ad == d && ward__order_of(at->lo) > ward__order_of(lo)))
			break;
		if (++i == cap)
			i = 0;
	}
	uint32_t e = i;
	while (slots[e].site)
		if (++e == cap)
			e = 0;
	if (e > i) {
		memmove(&slots[i + 1], &slots[i], (e - i) * sizeof(*slots));
	} else if (e < i) { /* the run wraps round the end */
		memmove(&slots[1], &slots[0], e * sizeof(*slots));
		slots[0] = slots[cap - 1];
		memmove(&slots[i + 1], &slots[i],
			(cap - 1 - i) * sizeof(*slots));
	}
	slots[i].lo = lo;
	slots[i].site = site;
	slots[i].size = size;
	return 0;
}

/* Empty slot i: pull the records after it back towards their homes. */
static void unplace(struct ward__zshard *s, uint32_t i)
{
	uint32_t cap = s->cap;
	for (;;) {
		uint32_t j = i + 1 == cap ? 0 : i + 1;
		struct ward__block *next = &s->slots[j];
		if (!next->site || ward__home_in(cap, next->lo) == j)
			break;
		s->slots[i] = *next;
		i = j;
	}
	s->slots[i] = (struct ward__block){ 0 };
}

static size_t page_round(size_t bytes)
{
	return (bytes + PAGE - 1) & ~(size_t)(PAGE - 1);
}

/* The whole pages s's table takes. */
static size_t table_bytes(const struct ward__zshard *s)
{
	return page_round((size_t)s->cap * sizeof(*s->slots));
}

/*
 * Copy the records of old (old_cap slots) into s's new, empty table in one
 * pass. The old table is in the order of its records' hashes, which is the
 * order of their homes in the new one: the records in their homes or past
 * them (round the end of the table, for the last ones) without wrapping,
 * then those that wrapped. Each goes to its home or just past the record
 * copied before it; once one would run past the end, it and the rest are
 * placed as an insert places them (round to the start, robin hood).
 */
/* Where lo goes when records are laid out in order in a table of cap
 * slots: its home, or just past the one laid out before it (next). */
static inline uint32_t in_order_at(uint32_t cap, uint32_t lo, uint32_t next)
{
	uint32_t at = ward__home_in(cap, lo);
	return at < next ? next : at;
}

/* Lay r out in order in s's table (*next: the slot past the one laid out
 * before), or, from the first that would run past its end, as an insert
 * places it (*in_order then false). */
static inline void lay_in_order(struct ward__zshard *s,
				const struct ward__block *r, uint32_t *next,
				bool *in_order)
{
	uint32_t at = in_order_at(s->cap, r->lo, *next);
	if (*in_order && at < s->cap) {
		s->slots[at] = *r;
		*next = at + 1;
	} else {
		*in_order = false;
		(void)place(s, r->lo, r->site, r->size);
	}
}

/* How many records wrapped round the end of a table of cap slots: they
 * are its first. */
static uint32_t count_wrapped(const struct ward__block *slots, uint32_t cap)
{
	uint32_t n = 0;
	while (n < cap && slots[n].site && ward__home_in(cap, slots[n].lo) > n)
		n++;
	return n;
}

static void copy_in_order(struct ward__zshard *s, const struct ward__block *old,
			  uint32_t old_cap)
{
	uint32_t nwrapped = count_wrapped(old, old_cap), next = 0;
	bool in_order = true;
	for (uint32_t k = nwrapped; k < old_cap; k++)
		if (old[k].site)
			lay_in_order(s, &old[k], &next, &in_order);
	for (uint32_t k = 0; k < nwrapped; k++)
		lay_in_order(s, &old[k], &next, &in_order);
}

/*
 * One-page tables. Most shards never hold more than a page of records (a
 * sampled run's, a small program's), and a mapping each cost two system
 * calls (map, populate) that take the address-space lock for writing
 * while the program's threads fault pages in under it: four threads
 * sampled at 512 KiB spent 6-8 ms of their 52 waiting there. So those
 * tables come from chunks of PAGE_CHUNK pages mapped once, and a page a
 * table leaves goes on a list for the next one (zeroed when taken): at
 * most a page a shard stays there, 1 MiB a zone. Taken and given back
 * under a shard's lock, so fork() (which holds them all) never finds the
 * list half changed.
 */
enum { PAGE_CHUNK = 64 };
static ward__spin_t pages_lock;
static char *pages_next, *pages_end;
static void *pages_free;

static struct ward__block *page_take(void)
{
	ward__spin_lock(&pages_lock);
	void *p = pages_free;
	bool used = p != NULL;
	if (used) {
		pages_free = *(void **)p;
	} else {
		if (pages_next == pages_end) {
			char *chunk = ward__map(PAGE_CHUNK * PAGE);
			if (chunk) {
				pages_next = chunk;
				pages_end = chunk + PAGE_CHUNK * PAGE;
			}
		}
		if (pages_next != pages_end) {
			p = pages_next;
			pages_next += PAGE;
		}
	}
	ward__spin_unlock(&pages_lock);
	if (used)
		memset(p, 0, PAGE); /* its old records */
	return p;
}

static void page_give_back(void *p)
{
	ward__spin_lock(&pages_lock);
	*(void **)p = pages_free;
	pages_free = p;
	ward__spin_unlock(&pages_lock);
}

/* A table of bytes, zeroed: a page from the chunks, else a mapping of
 * its own, populated (it is about to be filled). */
static struct ward__block *table_map(size_t bytes)
{
	if (bytes == PAGE)
		return page_take();
	struct ward__block *slots = ward__map(bytes);
	ward__map_populate(slots, bytes, false);
	return slots;
}

/* Give back a table of bytes: in a room of that many bytes, else one
 * table_map() made. */
static void table_unmap(struct ward__block *slots, size_t room, size_t bytes)
{
	if (room)
		ward__unmap(slots, room);
	else if (slots && bytes == PAGE)
		page_give_back(slots);
	else
		ward__unmap(slots, bytes);
}

/*
 * Rooms. A new table is new memory, and here (a hypervisor that shadows
 * the page tables) a page's first writes cost ~8 µs even after it was
 * populated: copying a table into a new one took ~25 ns a record, moving
 * records within pages already used ~7. So a table of ROOM_FROM bytes and
 * more lives at the start of a room of its own (ROOM_TIMES its size in
 * address space when made, ward__map_room()), grows and shrinks where it
 * lies, and only the pages a growth adds are new. Rooms so sized keep the
 * address space reserved within ROOM_TIMES the tables' memory (a program
 * may lower its address-space limit after ward reserved them: a zone's
 * 256 tables with a fixed 64 MiB each took 16 GiB), and a table that
 * outgrows its room is copied into one ROOM_TIMES larger, once for every
 * ~12 growths by a quarter. Smaller tables are copied, cheaply. A table
 * in its room has its records laid out again in place, in the order
 * copy_in_order() takes them (those that wrapped round the end of the
 * table, a prefix of it, go aside first and come last):
 *   growing:   1. pack them at the end of the grown table, the last
 *                 first: each moves up (the table grew by more than those
 *                 set aside), never onto one not yet moved;
 *              2. in order, each goes down to its home or just past the
 *                 one before it, never past where it is; a dry run finds
 *                 first where one would have to go past, and from there
 *              3. the rest go aside and are placed as an insert places
 *                 them;
 *   shrinking: 1. pack them at the end of the old table, as above;
 *              2. in order, each goes to its home or just past the one
 *                 before it in the smaller table below them, or, once
 *                 one would be past its end, is placed as an insert
 *                 places it.
 * More than IN_PLACE_ASIDE records to set aside, a table outgrowing its
 * room, or no room (the address space limited, or refused), and the table
 * is copied into a new one, in a room of its own when it can have one.
 * python3 traced: its tables' resizes took 188 ms copying into new
 * tables, ~60 with rooms (perl 62 and ~22; bench_track's million records
 * 410 and ~290 ms).
 */
enum { IN_PLACE_ASIDE = 128 };
static const size_t ROOM_FROM = 64 << 10, ROOM_TIMES = 16,
		    ROOM_MAX = (size_t)1 << 32;

static const struct ward__block none;

/* Step 1: the first nwrapped of the table's cap slots, which wrapped,
 * into aside, and the rest packed in order just below slot end (>= cap),
 * every slot left below them empty. */
static void pack_up(struct ward__block *slots, uint32_t cap,
		    uint32_t nwrapped, uint32_t end, struct ward__block *aside)
{
	memcpy(aside, slots, nwrapped * sizeof(*slots));
	for (uint32_t k = 0; k < nwrapped; k++)
		slots[k] = none;
	uint32_t to = end;
	for (uint32_t k = cap; k-- > nwrapped;)
		if (slots[k].site) {
			struct ward__block r = slots[k];
			slots[k] = none;
			slots[--to] = r;
		}
}

/* A resize in a room: the table's capacities before and after, its
 * records, those that wrapped (set aside). */
struct relayout {
	struct ward__zshard *s;
	struct ward__block *slots;
	size_t old_bytes, bytes;
	uint32_t old_cap, ncap, n, nwrapped;
	struct ward__block aside[IN_PLACE_ASIDE];
};

/* Step 2's dry run: how many of the records, in the order
 * copy_in_order() takes them, are laid out before the first that would
 * have to go past where step 1 packs it. */
static uint32_t fit_in_order(const struct relayout *t)
{
	uint32_t i = 0, next = 0;
	for (int pass = 0; pass < 2; pass++) {
		uint32_t from = pass ? 0 : t->nwrapped;
		uint32_t to = pass ? t->nwrapped : t->old_cap;
		for (uint32_t k = from; k < to; k++) {
			if (!t->slots[k].site)
				continue;
			uint32_t at = in_order_at(t->ncap, t->slots[k].lo, next);
			if (at > t->ncap - t->n + i)
				return i;
			next = at + 1;
			i++;
		}
	}
	return i;
}

static bool grow_in_room(struct relayout *t)
{
	struct ward__block *slots = t->slots;
	uint32_t n = t->n, ncap = t->ncap, fit = fit_in_order(t);
	if (n - fit > IN_PLACE_ASIDE || ncap - t->old_cap < t->nwrapped ||
	    !ward__room_use(slots, t->old_bytes, t->bytes))
		return false;
	/* Stored atomically for ward__blocks_prefetch(), which reads it
	 * unlocked. */
	__atomic_store_n(&t->s->cap, ncap, __ATOMIC_RELAXED);
	pack_up(slots, t->old_cap, t->nwrapped, ncap - t->nwrapped, t->aside);
	memcpy(&slots[ncap - t->nwrapped], t->aside,
	       t->nwrapped * sizeof(*slots));
	uint32_t next = 0;
	for (uint32_t i = 0; i < fit; i++) { /* 2. */
		uint32_t from = ncap - n + i;
		struct ward__block r = slots[from];
		uint32_t at = in_order_at(ncap, r.lo, next);
		if (at != from) {
			slots[from] = none;
			slots[at] = r;
		}
		next = at + 1;
	}
	uint32_t left = n - fit; /* 3. */
	memcpy(t->aside, &slots[ncap - left], left * sizeof(*slots));
	for (uint32_t k = ncap - left; k < ncap; k++)
		slots[k] = none;
	for (uint32_t k = 0; k < left; k++)
		(void)place(t->s, t->aside[k].lo, t->aside[k].site,
			    t->aside[k].size);
	return true;
}

static bool shrink_in_room(struct relayout *t)
{
	struct ward__block *slots = t->slots;
	uint32_t n = t->n, packed = n - t->nwrapped;
	if (t->old_cap - n < t->ncap)
		return false;
	pack_up(slots, t->old_cap, t->nwrapped, t->old_cap, t->aside);
	__atomic_store_n(&t->s->cap, t->ncap, __ATOMIC_RELAXED);
	uint32_t next = 0;
	bool in_order = true;
	for (uint32_t i = 0; i < n; i++) { /* 2. */
		struct ward__block r;
		if (i < packed) {
			uint32_t from = t->old_cap - packed + i;
			r = slots[from];
			/* Emptied: the slot past the new end that shares
			 * its page must read empty when the table grows
			 * again. */
			slots[from] = none;
		} else {
			r = t->aside[i - packed];
		}
		lay_in_order(t->s, &r, &next, &in_order);
	}
	ward__room_give_back(slots, t->bytes, t->old_bytes);
	return true;
}

/* s's table resized to bytes where it lies; false when it cannot be. */
static bool resize_in_room(struct ward__zshard *s, size_t old_bytes,
			   size_t bytes)
{
	struct relayout t = {
		.s = s,
		.slots = s->slots,
		.old_bytes = old_bytes,
		.bytes = bytes,
		.old_cap = s->cap,
		.ncap = (uint32_t)(bytes / sizeof(struct ward__block)),
		.n = s->count,
		.nwrapped = count_wrapped(s->slots, s->cap),
	};
	if (t.nwrapped > IN_PLACE_ASIDE)
		return false;
	return bytes > old_bytes ? grow_in_room(&t) : shrink_in_room(&t);
}

static _Atomic bool rooms = true;

void ward__blocks_rooms(bool on)
{
	atomic_store(&rooms, on);
}

/* Move the records into a table of `bytes` (whole pages, every byte
 * used), each by its home in the new capacity: where it lies when its
 * room allows, else in a new table. */
static int resize(struct ward__zshard *s, size_t bytes)
{
	size_t old_bytes = table_bytes(s);
	if (bytes / sizeof(struct ward__block) > UINT32_MAX)
		return -ENOMEM;
	if (s->cap && bytes <= s->room && atomic_load(&rooms) &&
	    resize_in_room(s, old_bytes, bytes))
		return 0;
	/* Mapped as ward's own, never from malloc: a table the
	 * reachability scan read as the program's memory could make blocks
	 * look reachable. */
	size_t room = bytes >= ROOM_FROM && bytes <= ROOM_MAX / ROOM_TIMES &&
				      atomic_load(&rooms)
			      ? bytes * ROOM_TIMES
			      : 0;
	struct ward__block *slots = room ? ward__map_room(room) : NULL;
	if (slots && !ward__room_use(slots, 0, bytes)) {
		ward__unmap(slots, room);
		slots = NULL;
	}
	if (!slots) {
		room = 0;
		if (!(slots = table_map(bytes)))
			return -ENOMEM;
	}
	struct ward__block *old = s->slots;
	uint32_t old_cap = s->cap;
	size_t old_room = s->room;
	/* Stored atomically for ward__blocks_prefetch(), which reads them
	 * unlocked. */
	__atomic_store_n(&s->slots, slots, __ATOMIC_RELAXED);
	__atomic_store_n(&s->cap, (uint32_t)(bytes / sizeof(*slots)),
			 __ATOMIC_RELAXED);
	s->room = room;
	copy_in_order(s, old, old_cap);
	table_unmap(old, old_room, old_bytes);
	return 0;
}

/* Grow by a quarter (a page at first). */
static int grow(struct ward__zshard *s)
{
	size_t old_bytes = table_bytes(s);
	return resize(s, old_bytes ? page_round(old_bytes + old_bytes / 4)
				   : PAGE);
}

/*
 * A table of more than a page that fell below a fifth full goes down to
 * at most half full: the memory a program's peak made ward take is given
 * back once the program frees those blocks (a server's burst of a million
 * requests would otherwise leave ward holding their records' room for the
 * rest of its run). Half, not 85%: the records left must fall by 60% more
 * before the next shrink, or grow by 70% before a grow, so a table never
 * swings between the two; each resize costs its two tables' slots, paid
 * for by the removals since the last one.
 */
static void shrink_if_sparse(struct ward__zshard *s)
{
	if (s->cap <= PAGE / sizeof(*s->slots) ||
	    (uint64_t)s->count * 5 >= s->cap)
		return;
	size_t bytes = page_round((size_t)s->count * 2 * sizeof(*s->slots));
	(void)resize(s, bytes ? bytes : PAGE); /* no memory: stays as it is */
}

/* ---- Big sizes: a sorted array a shard keeps beside its table ---------- */

static uint32_t big_at(const struct ward__zshard *s, uint32_t lo)
{
	uint32_t a = 0, b = s->nbigs;
	while (a < b) {
		uint32_t m = a + (b - a) / 2;
		if (s->bigs[m].lo < lo)
			a = m + 1;
		else
			b = m;
	}
	return a;
}

static int big_put(struct ward__zshard *s, uint32_t lo, uint64_t size)
{
	if (s->nbigs == s->capbigs) {
		size_t old_bytes = (size_t)s->capbigs * sizeof(*s->bigs);
		size_t bytes = old_bytes ? old_bytes * 2 : PAGE;
		/* Mapped, as the table: the array holds offsets. */
		struct ward__big *nb = ward__map(bytes);
		if (!nb)
			return -ENOMEM;
		if (s->nbigs)
			memcpy(nb, s->bigs, s->nbigs * sizeof(*nb));
		ward__unmap(s->bigs, old_bytes);
		s->bigs = nb;
		s->capbigs = (uint32_t)(bytes / sizeof(*nb));
	}
	uint32_t i = big_at(s, lo);
	memmove(&s->bigs[i + 1], &s->bigs[i],
		(s->nbigs - i) * sizeof(*s->bigs));
	s->bigs[i] = (struct ward__big){ lo, size };
	s->nbigs++;
	return 0;
}

static uint64_t big_get(struct ward__zshard *s, uint32_t lo, bool remove)
{
	uint32_t i = big_at(s, lo);
	if (i == s->nbigs || s->bigs[i].lo != lo)
		return BIG; /* cannot happen: every BIG record has its size */
	uint64_t size = s->bigs[i].size;
	if (remove) {
		s->nbigs--;
		memmove(&s->bigs[i], &s->bigs[i + 1],
			(s->nbigs - i) * sizeof(*s->bigs));
	}
	return size;
}

/* ---- The table's calls ---------------------------------------------------- */

static int table_put(uintptr_t handle, uint32_t site, uint64_t size)
{
	struct ward__zone *z = zone_of(handle, true);
	if (!z)
		return -ENOMEM;
	uint32_t lo = (uint32_t)handle;
	struct ward__zshard *s = ward__zshard_of(z, lo);
	int rc = 0;

	ward__spin_take(&s->lock);
	if ((uint64_t)(s->count + 1) * 20 > (uint64_t)s->cap * 17 &&
	    (rc = grow(s)) < 0)
		goto out;
	rc = place(s, lo, site, size >= BIG ? BIG : (uint16_t)size);
	if (rc == 0 && size >= BIG && (rc = big_put(s, lo, size)) < 0)
		unplace(s, lookup(s, lo));
	if (rc == 0)
		s->count++;
out:
	ward__spin_drop(&s->lock);
	return rc;
}

/* Take lo's record out of shard s: its site (0 when absent) and size. */
static uint32_t take_from(struct ward__zshard *s, uint32_t lo,
			  uint64_t *size)
{
	uint32_t site = 0;
	ward__spin_take(&s->lock);
	uint32_t i = lookup(s, lo);
	if (i < s->cap) {
		site = s->slots[i].site;
		*size = s->slots[i].size;
		if (*size == BIG)
			*size = big_get(s, lo, true);
		unplace(s, i);
		s->count--;
		shrink_if_sparse(s);
	}
	ward__spin_drop(&s->lock);
	return site;
}

/* The shard that would hold handle's record, or NULL (no zone yet). */
static inline struct ward__zshard *shard_for(uintptr_t handle)
{
	struct ward__zone *z = zone_of(handle, false);
	return z ? ward__zshard_of(z, (uint32_t)handle) : NULL;
}

static uint32_t table_take(uintptr_t handle, uint64_t *size)
{
	struct ward__zshard *s = shard_for(handle);
	return s ? take_from(s, (uint32_t)handle, size) : 0;
}

static bool table_find(uintptr_t handle, uint32_t *site, uint64_t *size)
{
	struct ward__zshard *s = shard_for(handle);
	if (!s)
		return false;
	uint32_t lo = (uint32_t)handle;

	ward__spin_take(&s->lock);
	uint32_t i = lookup(s, lo);
	bool found = i < s->cap;
	if (found) {
		*site = s->slots[i].site;
		*size = s->slots[i].size;
		if (*size == BIG)
			*size = big_get(s, lo, false);
	}
	ward__spin_drop(&s->lock);
	return found;
}

/*
 * Young records. Half the blocks perl and python3 free are among the last
 * four they allocated, and nearly all of sqlite3's; each such block cost
 * a placement in the table, with its shifts, and a deletion, with its
 * backward shift, for a record about to go. So the newest YOUNG records
 * wait aside, in the order they came: a block freed while its record is
 * there never reaches the table, and the oldest goes into the table when
 * a new record needs its place. A record is placed only where it is in
 * neither (-EEXIST, as before).
 *
 * Only while the process has a single thread (glibc's
 * __libc_single_threaded, cleared before a second thread exists): the
 * records are then that thread's, and its lock costs nothing. Once there
 * are more, the next record placed moves them all into the table, under
 * their lock; until then, a probe looks at them first, under that lock.
 * The lock comes before the table's locks.
 */
enum { YOUNG = 8 };

static struct {
	_Alignas(64) ward__spin_t lock;
	uint32_t n;    /* the records, oldest first: at head, head + 1, ... */
	uint32_t head; /* (mod YOUNG) */
	uintptr_t addr[YOUNG];
	uint32_t site[YOUNG];
	uint64_t size[YOUNG];
} young;

static inline uint32_t young_at(uint32_t k)
{
	return (young.head + k) & (YOUNG - 1);
}

/* How many young records there are, without their lock. */
static inline uint32_t young_count(void)
{
	return __atomic_load_n(&young.n, __ATOMIC_ACQUIRE);
}

/* Which of the young records is handle's (its age: 0 the oldest), or
 * YOUNG; the newest are looked at first (lock held). */
static uint32_t young_find(uintptr_t handle)
{
	for (uint32_t k = young.n; k-- > 0;)
		if (young.addr[young_at(k)] == handle)
			return k;
	return YOUNG;
}

/* Move the oldest young record into the table (lock held). */
static int young_age(void)
{
	uint32_t o = young.head;
	int rc = table_put(young.addr[o], young.site[o], young.size[o]);
	if (rc < 0)
		return rc;
	young.head = (o + 1) & (YOUNG - 1);
	__atomic_store_n(&young.n, young.n - 1, __ATOMIC_RELEASE);
	return 0;
}

/* Every young record into the table (lock held); out of memory, those
 * left stay young. */
static void young_flush_locked(void)
{
	while (young.n && young_age() == 0)
		;
}

static __attribute__((noinline)) void young_flush(void)
{
	ward__spin_take(&young.lock);
	young_flush_locked();
	ward__spin_drop(&young.lock);
}

/* Whether the table holds handle: only while the process has one thread
 * (no lock to take). */
static bool table_has(uintptr_t handle)
{
	const struct ward__zshard *s = shard_for(handle);
	return s && lookup(s, (uint32_t)handle) < s->cap;
}

static int young_put(uintptr_t handle, uint32_t site, uint64_t size)
{
	int rc = 0;
	ward__spin_take(&young.lock);
	if (young_find(handle) < YOUNG || table_has(handle))
		rc = -EEXIST;
	else if (young.n == YOUNG)
		rc = young_age();
	if (rc == 0) {
		uint32_t i = young_at(young.n);
		young.addr[i] = handle;
		young.site[i] = site;
		young.size[i] = size;
		__atomic_store_n(&young.n, young.n + 1, __ATOMIC_RELEASE);
	}
	ward__spin_drop(&young.lock);
	return rc;
}

/* Take handle's young record, if it is one: its site, or 0. */
static uint32_t young_take(uintptr_t handle, uint64_t *size)
{
	uint32_t site = 0;
	ward__spin_take(&young.lock);
	uint32_t k = young_find(handle);
	if (k < YOUNG) {
		uint32_t i = young_at(k);
		site = young.site[i];
		*size = young.size[i];
		/* The newer ones move down a place, keeping their order. */
		for (; k + 1 < young.n; k++) {
			uint32_t to = young_at(k), from = young_at(k + 1);
			young.addr[to] = young.addr[from];
			young.site[to] = young.site[from];
			young.size[to] = young.size[from];
		}
		__atomic_store_n(&young.n, young.n - 1, __ATOMIC_RELEASE);
	}
	ward__spin_drop(&young.lock);
	return site;
}

static bool young_lookup(uintptr_t handle, uint32_t *site, uint64_t *size)
{
	ward__spin_take(&young.lock);
	uint32_t k = young_find(handle);
	if (k < YOUNG) {
		*site = young.site[young_at(k)];
		*size = young.size[young_at(k)];
	}
	ward__spin_drop(&young.lock);
	return k < YOUNG;
}

/* Lock held. */
static void young_each(ward__record_fn fn, void *opaque)
{
	for (uint32_t k = 0; k < young.n; k++) {
		uint32_t i = young_at(k);
		fn(young.addr[i], young.site[i], young.size[i], opaque);
	}
}

/* ---- The live set's calls (registry.h) --------------------------------- */

int ward__blocks_put(uintptr_t handle, uint32_t site, uint64_t size)
{
	if (__libc_single_threaded)
		return young_put(handle, site, size);
	if (young_count())
		young_flush();
	return table_put(handle, site, size);
}

uint32_t ward__blocks_take(uintptr_t handle, uint64_t *size)
{
	uint32_t site = young_count() ? young_take(handle, size) : 0;
	return site ? site : table_take(handle, size);
}

bool ward__blocks_find(uintptr_t handle, uint32_t *site, uint64_t *size)
{
	return (young_count() && young_lookup(handle, site, size)) ||
	       table_find(handle, site, size);
}

static void shard_each(struct ward__zshard *s, uint64_t high,
		       ward__record_fn fn, void *opaque)
{
	for (uint32_t k = 0; k < s->cap; k++) {
		const struct ward__block *r = &s->slots[k];
		if (!r->site)
			continue;
		uint64_t size = r->size == BIG ? big_get(s, r->lo, false)
					       : r->size;
		fn((uintptr_t)(high << 32 | r->lo), r->site, size, opaque);
	}
}

/* Each zone in turn, in the order they were made. */
#define EACH_ZONE(z)                                                          \
	for (uint32_t zi_ = 0, nz_ = atomic_load(&nzones); zi_ < nz_; zi_++)  \
		for (struct ward__zone *z = atomic_load(&zone_list[zi_]); z;  \
		     z = NULL)

/* Every record in a zone's shards (its own or those set aside), each
 * shard's lock taken unless the caller holds them. */
static void shards_each(struct ward__zshard *shards, uint64_t high,
			ward__record_fn fn, void *opaque, bool locked)
{
	for (int i = 0; i < WARD__ZSHARDS; i++) {
		struct ward__zshard *s = &shards[i];
		if (!locked)
			ward__spin_take(&s->lock);
		shard_each(s, high, fn, opaque);
		if (!locked)
			ward__spin_drop(&s->lock);
	}
}

/* The young records' lock is held throughout: a record moving into the
 * table meanwhile would be missed. */
void ward__blocks_each(ward__record_fn fn, void *opaque, bool locked)
{
	if (!locked)
		ward__spin_take(&young.lock);
	EACH_ZONE(z)
	{
		shards_each(z->shards, z->high, fn, opaque, locked);
	}
	young_each(fn, opaque);
	if (!locked)
		ward__spin_drop(&young.lock);
}

size_t ward__blocks_slots(void)
{
	size_t n = 0;
	EACH_ZONE(z)
	{
		for (int i = 0; i < WARD__ZSHARDS; i++) {
			ward__spin_take(&z->shards[i].lock);
			n += z->shards[i].cap;
			ward__spin_drop(&z->shards[i].lock);
		}
	}
	return n;
}

size_t ward__blocks_count_locked(void)
{
	size_t n = young.n;
	EACH_ZONE(z)
	{
		for (int i = 0; i < WARD__ZSHARDS; i++)
			n += z->shards[i].count;
	}
	return n;
}

/* Drop the locks of every zone's shards before `stop`'s shard `upto`. */
static void drop_before(struct ward__zone *stop, int upto)
{
	EACH_ZONE(z)
	{
		int n = z == stop ? upto : WARD__ZSHARDS;
		for (int i = 0; i < n; i++)
			ward__spin_drop(&z->shards[i].lock);
		if (z == stop)
			return;
	}
}

/* For a scan that runs while every other thread is stopped (scan.c): a
 * stopped thread may hold a shard lock, so the scan only tries them. */
bool ward__blocks_trylock(void)
{
	if (atomic_exchange_explicit(&young.lock, 1, memory_order_acquire))
		return false;
	EACH_ZONE(z)
	{
		for (int i = 0; i < WARD__ZSHARDS; i++)
			if (atomic_exchange_explicit(&z->shards[i].lock, 1,
						     memory_order_acquire)) {
				drop_before(z, i);
				ward__spin_drop(&young.lock);
				return false;
			}
	}
	return true;
}

void ward__blocks_unlock(void)
{
	drop_before(NULL, 0);
	ward__spin_drop(&young.lock);
}

/* Around fork(): the young records' lock (the records moved into the
 * table, which a child sets aside whole), the zones' lock, then every
 * shard's. */
void ward__blocks_lock_all(void)
{
	ward__spin_take(&young.lock);
	young_flush_locked();
	ward__mutex_lock(&zones_lock);
	EACH_ZONE(z)
	{
		for (int i = 0; i < WARD__ZSHARDS; i++)
			ward__spin_take(&z->shards[i].lock);
	}
}

void ward__blocks_unlock_all(void)
{
	EACH_ZONE(z)
	{
		for (int i = WARD__ZSHARDS - 1; i >= 0; i--)
			ward__spin_drop(&z->shards[i].lock);
	}
	ward__mutex_unlock(&zones_lock);
	ward__spin_drop(&young.lock);
}

/*
 * Inherited blocks. A forked child starts its own books, but the blocks
 * its parent had are still in its heap: not its leaks, and still roots of
 * its scan (what they point to is reachable). The parent's tables are set
 * aside as they are, not copied: the child's pages stay the parent's
 * until written (copy on write), so a fork costs a pointer move per shard
 * whatever the heap's size — copying and sorting a million records, and
 * clearing the tables, took ~0.3 s a fork. A block the child frees leaves
 * the set-aside tables; the scan reads them when it runs (the generation
 * tells it when they changed). A child's child sets its parent's books
 * aside in turn, beside those its parent had inherited, its
 * grandparent's: WARD__GENERATIONS of them, the oldest given up past
 * that (a block only they reached then reads as lost).
 */
static _Atomic uint64_t aside_gen;

static void shard_unmap(struct ward__zshard *s)
{
	table_unmap(s->slots, s->room, table_bytes(s));
	ward__unmap(s->bigs, (size_t)s->capbigs * sizeof(*s->bigs));
}

/* A generation's tables given back. */
static void generation_unmap(struct ward__zshard *g)
{
	for (int i = 0; i < WARD__ZSHARDS; i++)
		shard_unmap(&g[i]);
	ward__unmap(g, WARD__ZSHARDS * sizeof(*g));
}

void ward__blocks_set_aside(void)
{
	enum { LAST = WARD__GENERATIONS - 1 };
	EACH_ZONE(z)
	{
		struct ward__zshard *aside =
			ward__map(WARD__ZSHARDS * sizeof(*aside));
		if (!aside) { /* out of memory: forget this process's books */
			for (int i = 0; i < WARD__ZSHARDS; i++) {
				struct ward__zshard *s = &z->shards[i];
				if (s->cap)
					memset(s->slots, 0,
					       s->cap * sizeof(*s->slots));
				s->count = s->nbigs = 0;
			}
			continue;
		}
		if (z->inherited[LAST])
			generation_unmap(z->inherited[LAST]);
		memmove(&z->inherited[1], &z->inherited[0],
			LAST * sizeof(z->inherited[0]));
		z->inherited[0] = aside;
		for (int i = 0; i < WARD__ZSHARDS; i++) {
			aside[i] = z->shards[i];
			aside[i].lock = 0;
			memset(&z->shards[i], 0, sizeof(z->shards[i]));
		}
	}
	atomic_fetch_add(&aside_gen, 1);
}

uint64_t ward__blocks_inherited_gen(void)
{
	return atomic_load(&aside_gen);
}

bool ward__blocks_inherited_forget(uintptr_t handle)
{
	struct ward__zone *z = zone_of(handle, false);
	if (!z)
		return false;
	uint32_t lo = (uint32_t)handle;
	size_t shard = (size_t)(ward__zshard_of(z, lo) - z->shards);
	uint64_t size;
	for (int g = 0; g < WARD__GENERATIONS && z->inherited[g]; g++)
		if (take_from(&z->inherited[g][shard], lo, &size)) {
			atomic_fetch_add(&aside_gen, 1);
			return true;
		}
	return false;
}

void ward__blocks_inherited_each(ward__record_fn fn, void *opaque)
{
	EACH_ZONE(z)
	{
		for (int g = 0; g < WARD__GENERATIONS && z->inherited[g]; g++)
			shards_each(z->inherited[g], z->high, fn, opaque,
				    false);
	}
}

/* A forked child's books start empty (its only thread holds no lock). */
void ward__blocks_reset(void)
{
	EACH_ZONE(z)
	{
		for (int i = 0; i < WARD__ZSHARDS; i++) {
			struct ward__zshard *s = &z->shards[i];
			if (s->cap)
				memset(s->slots, 0, s->cap * sizeof(*s->slots));
			s->count = 0;
			s->nbigs = 0;
		}
	}
	young.n = young.head = 0;
}
