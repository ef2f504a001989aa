/*
 * The calls the LD_PRELOAD interposers (preload/preload.c) make into ward
 * (src/intercept.c). Each interposer does the libc call, then reports it.
 */
#ifndef WARD_INTERNAL_INTERCEPT_H
#define WARD_INTERNAL_INTERCEPT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Read the configuration from the environment; start recording. */
void ward__intercept_init(void);

/* A heap block of `size` bytes was allocated / freed. */
void ward__intercept_alloc(void *p, size_t size);
void ward__intercept_free(void *p);

/* A descriptor, FILE or thread (by kind) was acquired / released. */
void ward__intercept_acquire(int kind, uintptr_t handle);
void ward__intercept_release(int kind, uintptr_t handle);

/* Stop recording and write the report (at exit, or before _exit). */
void ward__intercept_report(void);

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

#endif
