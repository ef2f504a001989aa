/*
 * A spinlock for the registry's short critical sections (a probe of one
 * shard): taking and dropping it costs one atomic exchange and one plain
 * store, where a pthread mutex costs two read-modify-writes; in a process
 * that never started a thread, nothing. A waiter spins briefly, then
 * yields the CPU, so a holder that was preempted is not starved.
 */
#ifndef WARD_INTERNAL_SPIN_H
#define WARD_INTERNAL_SPIN_H

#include <sched.h>
#include <stdatomic.h>
#include <sys/single_threaded.h>

typedef _Atomic int ward__spin_t;

static inline void ward__spin_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static inline void ward__spin_lock(ward__spin_t *l)
{
	/* No other thread was ever started (glibc clears the flag in
	 * pthread_create, before the thread exists): nothing to exclude, and
	 * no atomic exchange to pay, as glibc's malloc skips its own. */
	if (__libc_single_threaded)
		return;
	if (!atomic_exchange_explicit(l, 1, memory_order_acquire))
		return;
	for (int spins = 0;; spins++) {
		while (atomic_load_explicit(l, memory_order_relaxed)) {
			if (spins++ < 100)
				ward__spin_pause();
			else
				sched_yield();
		}
		if (!atomic_exchange_explicit(l, 1, memory_order_acquire))
			return;
	}
}

static inline void ward__spin_unlock(ward__spin_t *l)
{
	atomic_store_explicit(l, 0, memory_order_release);
}

#endif
