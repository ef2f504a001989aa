/*
 * ward's own threads (core.c): the endpoint's server, the pool trimmer,
 * the finalizer thread, the tracer's snapshot thread.
 */
#ifndef WARD_CORE_THREAD_H
#define WARD_CORE_THREAD_H

#include <pthread.h>
#include <stdbool.h>

/*
 * Start fn(arg) on a thread of ward's: every signal blocked but `open_sig`
 * (ward's stop signal, so the reachability scan can still stop it; 0:
 * none), its allocations ward's (not the program's), detached unless
 * *th is wanted for a join, its stack 2 MiB at least whatever the
 * program's RLIMIT_STACK. Returns 0 or a negative errno.
 */
int ward__thread_start(pthread_t *th, void *(*fn)(void *), void *arg,
		       bool detached, int open_sig);

#endif
