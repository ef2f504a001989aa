/*
 * The per-thread re-entry guard (core.c). While it is raised, what the
 * thread allocates or opens is ward's own work: the interposers and the
 * library wrappers pass it through untracked, and a signal handler that
 * acquires leaves the thread's half-written state alone.
 */
#ifndef WARD_CORE_GUARD_H
#define WARD_CORE_GUARD_H

extern __thread int ward__in_registry __attribute__((tls_model("initial-exec")));

#endif
