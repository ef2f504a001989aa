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

/*
 * Room: address space reserved for an array that grows and shrinks where
 * it lies. map_room reserves bytes, inaccessible (no memory, no commit
 * charge), remembered as ward's like a mapping; NULL when it cannot, and
 * always in a process whose address space is limited (RLIMIT_AS): the
 * reservation would count against the program's own limit. room_use makes
 * [from, to) of it usable (populated); false when the system refuses.
 * room_give_back returns [from, to) to the system, inaccessible again.
 * Given back whole with ward__unmap(p, bytes).
 */
void *ward__map_room(size_t bytes);

/* Whether the address space was limited (RLIMIT_AS soft limit set) when
 * ward first asked: what ward reserves ahead would then come out of the
 * program's own limit, so ward reserves nothing ahead. */
bool ward__space_limited(void);
bool ward__room_use(void *p, size_t from, size_t to);
void ward__room_give_back(void *p, size_t from, size_t to);

/* "out of memory for WHAT", in buf, naming the address space limit when
 * one is set (the usual cause: the program used it up). */
const char *ward__no_memory_for(const char *what, char *buf, size_t len);

/*
 * Spare address space for the exit report: WARD__SPARE_BYTES reserved,
 * inaccessible (no memory, no commit charge), kept from start and given
 * back when the report begins. A program that lowers its own address
 * space limit (RLIMIT_AS) and then uses it up — the leak ward is there to
 * show — has none left, and the snapshot and the scan need some. Not kept
 * where the limit was set before the program started (`ulimit -v`): it
 * would come out of what the program has. Keeping it again replaces what
 * was kept; giving back twice is harmless. Both async-signal-safe.
 */
enum { WARD__SPARE_BYTES = 32 << 20 };
void ward__spare_keep(void);
void ward__spare_give_back(void);

/*
 * A program that locks its memory (mlockall()): on says whether its future
 * mappings are locked (MCL_FUTURE), and ward's are then made unlocked
 * (returns what was said before);
 * unlock_own unlocks those ward has, after the program locked all it had
 * (MCL_CURRENT). Told by the preload's mlockall() and munlockall().
 */
bool ward__map_locks_future(bool on);
void ward__map_unlock_own(void);

/*
 * mlockall(flags) with MCL_CURRENT, done for a program the kernel refused
 * only because ward's mappings count in its address space: each of the
 * program's mappings locked, ward's left out (core.c). 0, or -ENOMEM when
 * the program's own do not fit in its RLIMIT_MEMLOCK, as alone.
 */
int ward__map_lock_all_but_own(int flags);

/* The range of the shared object ward runs from (libward.so, the
 * preload's library): false where ward is linked into the executable,
 * whose object is the program's. Takes the loader's lock. */
bool ward__own_object(uintptr_t *lo, uintptr_t *hi);

/* Give back what ward__map() returned (same size). NULL is ignored. */
void ward__unmap(void *p, size_t bytes);

/* The lowest of ward's own mappings overlapping [lo, hi), in *olo and
 * *ohi; false when none does. (Anonymous mappings that touch merge: the
 * program's memory and ward's may share one line of /proc/self/maps.) */
bool ward__map_first_own(uintptr_t lo, uintptr_t hi, uintptr_t *olo,
			 uintptr_t *ohi);

#endif
