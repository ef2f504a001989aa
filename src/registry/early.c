/*
 * early.c — the blocks allocated before ward started.
 *
 * The libraries a program links initialise before the preloaded tracer
 * does, and their constructors allocate: gettext's binding list, a TLS
 * library's tables, a language runtime's first arenas. Those blocks have
 * no record (no stack was taken for them), yet the program's own blocks
 * may hang off them later — a list head made early, its nodes added while
 * ward records. Read as no memory at all, they broke the chain from the
 * library's global to the nodes, and the nodes were reported lost.
 *
 * So each such block is noted here, address and size, and the exit scan
 * reads it as a root (what it points to is reachable), as it reads a
 * forked child's inherited blocks. A noted block the program frees
 * leaves the set. So does a block the program told ward to ignore
 * (LeakSanitizer's __lsan_ignore_object(), or one allocated between
 * __lsan_disable() and __lsan_enable()): no leak, and a root, as
 * LeakSanitizer has it; its record leaves the books. The set is a hash
 * table keyed by address, open
 * addressing with tombstones, rehashed into four times the blocks it
 * holds when three quarters full; a few hundred blocks is usual, and the table is ward's own mapping
 * (the scan does not read it as the program's memory).
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/map.h"
#include "core/spin.h"
#include "registry/registry.h"

struct early_slot {
	uintptr_t handle; /* 0: empty; TOMBSTONE: a block since freed */
	uint64_t size;
	bool ignored;     /* the program's word, not its age (below) */
};

enum { TOMBSTONE = 1, FIRST_SLOTS = 1024 };

static struct early_slot *slots;
static size_t nslots;	/* a power of two, or 0 */
static size_t used;	/* slots not empty, tombstones included */
static _Atomic size_t live;
static _Atomic uint64_t gen;
static ward__spin_t lock;

static size_t hash_of(uintptr_t handle)
{
	/* Blocks are 16-byte aligned: the low bits say nothing. */
	return (size_t)(((uint64_t)handle >> 4) * 0x9e3779b97f4a7c15ull >> 17);
}

/* The slot holding handle, or the first free one on its probe sequence
 * when it is not there (NULL when the table is full or absent). */
static struct early_slot *probe(uintptr_t handle, bool for_insert)
{
	struct early_slot *reuse = NULL;
	if (!nslots)
		return NULL;
	for (size_t i = hash_of(handle), n = 0; n < nslots; i++, n++) {
		struct early_slot *s = &slots[i & (nslots - 1)];
		if (s->handle == handle)
			return s;
		if (s->handle == TOMBSTONE && !reuse)
			reuse = s;
		if (s->handle == 0)
			return for_insert ? (reuse ? reuse : s) : NULL;
	}
	return for_insert ? reuse : NULL;
}

/* Room for one more: rehash into a table four times the live count (at
 * least FIRST_SLOTS), dropping the tombstones. False when no memory. */
static bool make_room(void)
{
	if (nslots && (used + 1) * 4 <= nslots * 3)
		return true;
	size_t want = FIRST_SLOTS;
	while (want < atomic_load(&live) * 4)
		want *= 2;
	struct early_slot *fresh = ward__map(want * sizeof(*fresh));
	if (!fresh)
		return false;
	struct early_slot *old = slots;
	size_t nold = nslots;
	slots = fresh;
	nslots = want;
	used = 0;
	for (size_t i = 0; i < nold; i++)
		if (old[i].handle > TOMBSTONE) {
			*probe(old[i].handle, true) = old[i];
			used++;
		}
	ward__unmap(old, nold * sizeof(*old));
	return true;
}

static void note(uintptr_t handle, uint64_t size, bool ignored)
{
	if (handle <= TOMBSTONE)
		return;
	ward__spin_lock(&lock);
	if (make_room()) {
		struct early_slot *s = probe(handle, true);
		if (s->handle != handle) {
			if (s->handle == 0)
				used++;
			atomic_fetch_add(&live, 1);
		}
		*s = (struct early_slot){ handle, size, ignored };
		atomic_fetch_add(&gen, 1);
	}
	ward__spin_unlock(&lock);
}

void ward__early_note(uintptr_t handle, uint64_t size)
{
	note(handle, size, false);
}

void ward__early_ignore(uintptr_t handle, uint64_t size)
{
	note(handle, size, true);
}

bool ward__early_forget(uintptr_t handle)
{
	if (!atomic_load_explicit(&live, memory_order_relaxed) ||
	    handle <= TOMBSTONE)
		return false;
	ward__spin_lock(&lock);
	struct early_slot *s = probe(handle, false);
	if (s) {
		s->handle = TOMBSTONE;
		atomic_fetch_sub(&live, 1);
		atomic_fetch_add(&gen, 1);
	}
	ward__spin_unlock(&lock);
	return s != NULL;
}

void ward__early_each(ward__record_fn fn, void *opaque)
{
	ward__spin_lock(&lock);
	for (size_t i = 0; i < nslots; i++)
		if (slots[i].handle > TOMBSTONE)
			fn(slots[i].handle, slots[i].ignored, slots[i].size,
			   opaque);
	ward__spin_unlock(&lock);
}

uint64_t ward__early_gen(void)
{
	return atomic_load(&gen);
}
