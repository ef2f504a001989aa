/*
 * threads.h — threads followed from their creation to their end
 * (threads.c): the library's ward_thread_create() and the tracer's
 * interposers (preload/preload.c) start threads through it.
 */
#ifndef WARD_INTERNAL_LIFETIME_THREADS_H
#define WARD_INTERNAL_LIFETIME_THREADS_H

#include <stdbool.h>
#include <stdint.h>

/*
 * A thread about to be created starts in ward's routine when ward__thread_wrap() allows: it swaps *fn
 * (a pthread start routine) or *c11 (a C11 one; the other NULL) for
 * ward's and returns the argument to create it with (arg itself when
 * not followed). ward__thread_unwrap(arg, wrapped) undoes it when the
 * creation failed. After a creation that succeeded: the handle to record
 * the thread under, ward__thread_record_as() (h, unless the thread was
 * detached and has ended already: its handle may be another's by now),
 * then its record, then ward__thread_created(). After a join or a detach
 * that succeeded, ward__thread_joined() or ward__thread_detached(). Each
 * settles the thread's record in the books. ward__thread_is_detached():
 * whether a thread still on the books is a detached one (so, running).
 * ward__threads_forked(): in the tracer's forked child, none of it is its
 * own.
 */
void *ward__thread_wrap(void *(**fn)(void *), int (**c11)(void *), void *arg);
void ward__thread_unwrap(void *arg, void *wrapped);
uintptr_t ward__thread_record_as(uintptr_t h, bool detached, void *arg,
				 void *wrapped);
void ward__thread_created(uintptr_t h, uintptr_t recorded, bool detached,
			  void *arg, void *wrapped);
void ward__thread_joined(uintptr_t h);
void ward__thread_detached(uintptr_t h);
bool ward__thread_is_detached(uintptr_t h);
void ward__threads_forked(void);

/*
 * Who keeps the books of the threads followed: following(), whether a
 * thread created now is followed; release(h), the thread recorded under h
 * leaves the books. The library's (the registry's records) by default;
 * the tracer, whose records depend on its settings, sets its own before
 * it follows any.
 */
struct ward__thread_books {
	bool (*following)(void);
	void (*release)(uintptr_t handle);
};
void ward__threads_kept_by(const struct ward__thread_books *b);

#endif
