/*
 * The heap blocks' live set (blocks.c): its layout, and what track.c
 * inlines on a track's hot path — the prefetch of where a block's record
 * will go, started before the stack capture so that its cache miss
 * overlaps the walk.
 */
#ifndef WARD_REGISTRY_BLOCKS_H
#define WARD_REGISTRY_BLOCKS_H

#include <stdint.h>

#include "core/spin.h"

enum {
	WARD__ZSHARDS = 256,    /* a zone's shards */
	WARD__GROUP_SHARDS = 8, /* of one group of 64 MiB regions */
	WARD__REGION_BITS = 26,
	WARD__GENERATIONS = 8,  /* the forks whose books a process keeps */
};

/* A live block's record: the zone is implied by the table it is in. */
struct ward__block {
	uint32_t lo;   /* the block's offset in its zone */
	uint32_t site; /* 0: an empty slot */
	uint16_t size; /* 0xffff: see the shard's big sizes */
} __attribute__((packed));

_Static_assert(sizeof(struct ward__block) == 10,
	       "a live block's record is 10 bytes");

/* A size of 65,535 bytes or more, kept beside the table. */
struct ward__big {
	uint32_t lo;
	uint64_t size;
};

/* A zone's shard, a cache line each: threads working on different shards
 * never contend for one. */
struct ward__zshard {
	_Alignas(64) ward__spin_t lock;
	uint32_t cap, count;
	struct ward__block *slots;
	size_t room;            /* the address space reserved at slots, or 0 */
	struct ward__big *bigs; /* sorted by offset */
	uint32_t nbigs, capbigs;
};

/* The blocks of one 4 GiB of address space (the same high 32 bits). */
struct ward__zone {
	uint32_t high;
	/* In a forked child: the tables as they were at each fork, the
	 * parent's first, then the grandparent's... (blocks.c, "Inherited
	 * blocks"); NULL past the last. */
	struct ward__zshard *inherited[WARD__GENERATIONS];
	struct ward__zshard shards[WARD__ZSHARDS];
};

/* The zone this thread used last: consecutive blocks share one. */
extern __thread struct ward__zone *ward__near_zone;

/* An offset's hash: that of its 256-byte granule, so a granule's blocks
 * (consecutive small blocks, often allocated and freed together) share a
 * home and their records a run of slots, found in cache one after the
 * other where hashing each block's own address sent every one to a
 * cache miss. A multiply, whose high bits depend on every bit of the
 * granule's number: the top three pick the shard in its group, the next
 * 32 the home slot. */
static inline uint64_t ward__spread(uint32_t lo)
{
	return (uint64_t)(lo >> 8) * 0x9e3779b97f4a7c15ull;
}

static inline struct ward__zshard *ward__zshard_of(struct ward__zone *z,
						   uint32_t lo)
{
	uint32_t group = (lo >> WARD__REGION_BITS) %
			 (WARD__ZSHARDS / WARD__GROUP_SHARDS);
	return &z->shards[group * WARD__GROUP_SHARDS +
			  (uint32_t)(ward__spread(lo) >> 61)];
}

/* The 32 bits of lo's hash a table orders its records by. */
static inline uint32_t ward__order_of(uint32_t lo)
{
	return (uint32_t)(ward__spread(lo) >> 29);
}

/* The home slot of lo in a table of cap slots: its hash scaled to cap, so
 * that records in the order of their hashes are in the order of their
 * homes in a table of any capacity. */
static inline uint32_t ward__home_in(uint32_t cap, uint32_t lo)
{
	return (uint32_t)((uint64_t)ward__order_of(lo) * cap >> 32);
}

/* Start loading the slot where handle's record would go. Unlocked: a
 * table grown meanwhile makes it a prefetch of the wrong line, which
 * cannot fault; a zone this thread did not use last, no prefetch. */
static inline void ward__blocks_prefetch(uintptr_t handle)
{
	struct ward__zone *z = ward__near_zone;
	uint32_t lo = (uint32_t)handle;
	if (!z || z->high != (uint32_t)((uint64_t)handle >> 32))
		return;
	struct ward__zshard *s = ward__zshard_of(z, lo);
	struct ward__block *slots = __atomic_load_n(&s->slots,
						    __ATOMIC_RELAXED);
	uint32_t cap = __atomic_load_n(&s->cap, __ATOMIC_RELAXED);
	if (slots && cap)
		__builtin_prefetch(&slots[ward__home_in(cap, lo)], 1);
}

#endif
