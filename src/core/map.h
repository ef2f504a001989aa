/*
 * Memory ward maps for itself (core.c). Every anonymous mapping ward makes
 * goes through ward__map(), which remembers its range, so the reachability
 * scan can tell the program's own mappings (arenas of other allocators,
 * pymalloc's) — roots — from ward's — tables holding copies of addresses,
 * which would make every block look reachable.
 */
#ifndef WARD_INTERNAL_MAP_H
#define WARD_INTERNAL_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Anonymous read-write memory, zeroed; NULL when the system refuses.
 * Async-signal-safe, takes no lock. */
void *ward__map(size_t bytes);

/* The same, with no swap reserved for it: address space to be used in
 * part (pages are backed as they are first written). */
void *ward__map_reserve(size_t bytes);

/* Fault in [p, p + bytes) of a mapping that will all be written at once,
 * in one system call rather than a page fault a page (costly under a
 * hypervisor). Only a hint: an older kernel ignores it. NULL is ignored.
 * huge: in huge pages too, where the system allows them — for ward's own
 * work at exit (the scan); not for what a traced program waits on, whose
 * fault could then stall on the kernel compacting memory. */
void ward__map_populate(void *p, size_t bytes, bool huge);

/* Resize what ward__map() returned (bytes long) to new_bytes, moving it
 * if it must: its pages move with it, written as they were, and only what
 * is added is new memory. The new address, or NULL (the mapping is then
 * as it was). */
void *ward__remap(void *p, size_t bytes, size_t new_bytes);

/* Give back what ward__map() returned (same size). NULL is ignored. */
void ward__unmap(void *p, size_t bytes);

/* The lowest of ward's own mappings overlapping [lo, hi), in *olo and
 * *ohi; false when none does. (Anonymous mappings that touch merge: the
 * program's memory and ward's may share one line of /proc/self/maps.) */
bool ward__map_first_own(uintptr_t lo, uintptr_t hi, uintptr_t *olo,
			 uintptr_t *ohi);

#endif
