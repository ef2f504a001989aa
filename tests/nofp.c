/*
 * nofp.c — code built without frame pointers (see CMakeLists.txt), the way
 * Debian builds its libraries: the DWARF walker must see through it.
 */
#include <stdint.h>

#include "ward.h"

void *nofp_outer(size_t n);

__attribute__((noinline)) static void *nofp_inner(size_t n)
{
	void *p = ward_malloc(n);
	__asm__ volatile("" ::: "memory");
	return p;
}

__attribute__((noinline)) static void *nofp_middle(size_t n)
{
	void *p = nofp_inner(n + 1);
	__asm__ volatile("" ::: "memory");
	return p;
}

__attribute__((noinline)) void *nofp_outer(size_t n)
{
	void *p = nofp_middle(n + 1);
	__asm__ volatile("" ::: "memory");
	return p;
}

/* Two callers of one leaf with the same frame layout: the leaf acquires
 * from the same stack address whichever called it. */
void *nofp_twin_a(size_t n);
void *nofp_twin_b(size_t n);
volatile int nofp_which;

__attribute__((noinline)) static void *nofp_leaf(size_t n)
{
	void *p = ward_malloc(n);
	__asm__ volatile("" ::: "memory");
	return p;
}

__attribute__((noinline)) void *nofp_twin_a(size_t n)
{
	nofp_which = 1;
	void *p = nofp_leaf(n);
	__asm__ volatile("" ::: "memory");
	return p;
}

__attribute__((noinline)) void *nofp_twin_b(size_t n)
{
	nofp_which = 2;
	void *p = nofp_leaf(n);
	__asm__ volatile("" ::: "memory");
	return p;
}
