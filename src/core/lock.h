/*
 * Every lock ward takes goes through these. In a build with
 * WARD_LOCK_CHECK (debug builds, and the sanitizer builds `make test`
 * runs) they also check the order locks are taken in, as the kernel's
 * lockdep does: a lock's class is where it is named (file and expression:
 * "src/lifetime/pool.c: &p->lock" is every pool's lock), taking class B
 * while holding class A records A before B, and taking A while holding B
 * once A before B was recorded — directly or through other classes — is
 * a fatal error naming both, the first time it happens, not the first time
 * two threads deadlock on it. Classes taken inside one another (a pool's
 * lock in each pool, in turn) are not ordered among themselves. Without
 * the check they are the plain calls.
 */
#ifndef WARD_CORE_LOCK_H
#define WARD_CORE_LOCK_H

#include <pthread.h>

#include "core/spin.h"

#ifdef WARD_LOCK_CHECK

/* Before taking `lock` of class `cls`: check the order, record it. */
void ward__lock_check(const void *lock, const char *cls);
/* `lock` of class `cls` is held now; it is not any more. */
void ward__lock_held(const void *lock, const char *cls);
void ward__lock_dropped(const void *lock);

#define WARD__LOCK_CLASS(l) __FILE__ ": " #l

#define ward__mutex_lock(m)                                                   \
	(ward__lock_check((m), WARD__LOCK_CLASS(m)), pthread_mutex_lock(m),   \
	 ward__lock_held((m), WARD__LOCK_CLASS(m)))
#define ward__mutex_unlock(m)                                                 \
	(ward__lock_dropped(m), (void)pthread_mutex_unlock(m))
#define ward__spin_take(l)                                                    \
	(ward__lock_check((l), WARD__LOCK_CLASS(l)), ward__spin_lock(l),      \
	 ward__lock_held((l), WARD__LOCK_CLASS(l)))
#define ward__spin_drop(l) (ward__lock_dropped(l), ward__spin_unlock(l))

#else

#define ward__mutex_lock(m) ((void)pthread_mutex_lock(m))
#define ward__mutex_unlock(m) ((void)pthread_mutex_unlock(m))
#define ward__spin_take(l) ward__spin_lock(l)
#define ward__spin_drop(l) ward__spin_unlock(l)

#endif

#endif
