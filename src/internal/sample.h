/*
 * Heap sampling (sample.c), shared by the library-mode wrappers
 * (ward_malloc/ward_free) and the LD_PRELOAD interposers.
 */
#ifndef WARD_INTERNAL_SAMPLE_H
#define WARD_INTERNAL_SAMPLE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Mean bytes between heap samples, 0 when every block is recorded. */
extern uint64_t ward__sample_rate;

/*
 * The sampled mode's fast paths, inline in the interposers so that the
 * common malloc and free pay a few instructions and no call.
 */
extern __thread int64_t ward__countdown __attribute__((tls_model("initial-exec")));

extern __thread int ward__in_registry __attribute__((tls_model("initial-exec")));

/* True when this allocation of n bytes is not sampled (count it down).
 * ward's own allocations neither count nor get sampled: they would bias
 * the program's samples. */
static inline bool ward__alloc_unsampled(size_t n)
{
	return ward__sample_rate &&
	       (ward__in_registry || (ward__countdown -= (int64_t)n) > 0);
}

enum { WARD__LEAF_BITS = 15 };
extern _Atomic(_Atomic uint8_t *) ward__page_dir[1 << 20];

/* Whether the page of p holds a live sampled block. */
static inline bool ward__page_has_sampled(uintptr_t p)
{
	uint64_t page = p >> 12;
	_Atomic uint8_t *leaf = atomic_load_explicit(
		&ward__page_dir[(page >> WARD__LEAF_BITS) & ((1 << 20) - 1)],
		memory_order_acquire);
	return leaf && atomic_load_explicit(
			       &leaf[page & ((1 << WARD__LEAF_BITS) - 1)],
			       memory_order_relaxed) != 0;
}

/* True when freeing p needs no bookkeeping (sampled mode, page clean). */
static inline bool ward__free_unsampled(void *p)
{
	return ward__sample_rate && !ward__page_has_sampled((uintptr_t)p);
}


/* The countdown crossed zero at block p: draw the next distance and count
 * p's page as holding a sampled block. */
void ward__sample_take(uintptr_t p);

/* A sampled block at p was freed. */
void ward__sample_drop(uintptr_t p);

#endif
