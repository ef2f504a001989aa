/*
 * The per-thread re-entry guard (core.c). While it is raised, what the
 * thread allocates or opens is ward's own work: the interposers and the
 * library wrappers pass it through untracked, and a signal handler that
 * acquires leaves the thread's half-written state alone.
 */
#ifndef WARD_CORE_GUARD_H
#define WARD_CORE_GUARD_H

extern __thread int ward__in_registry __attribute__((tls_model("initial-exec")));

/*
 * Raise and lower the guard around ward's own calls. The compiler barriers
 * keep each store on its side of the call: clang knows that malloc(),
 * calloc() and free() touch no memory of the program's, and would
 * otherwise drop a raise and lower around them as stores nobody reads —
 * and the interposer would record ward's own block as the program's.
 */
static inline void ward__guard_raise(void)
{
	ward__in_registry++;
	__asm__ volatile("" ::: "memory");
}

static inline void ward__guard_lower(void)
{
	__asm__ volatile("" ::: "memory");
	ward__in_registry--;
}

#endif
