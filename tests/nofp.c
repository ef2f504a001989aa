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
