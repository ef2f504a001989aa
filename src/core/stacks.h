/*
 * Stacks of ward's own (stacks.c). Naming a frame's source line reads
 * debug information, and libdw takes 150 KiB of stack and more for a
 * line table; a report takes tens of kilobytes more. A program's thread
 * may have far less left: one made with a small stack, a coroutine's, an
 * alternate signal stack, a `ulimit -s` set low.
 */
#ifndef WARD_CORE_STACKS_H
#define WARD_CORE_STACKS_H

#include <stddef.h>

/* Run fn(arg) on [stack, stack + size), the same thread switching to it
 * and back: 0, or -1 when it cannot switch (fn not run). While fn runs
 * there, ward__deep() knows the room it has. */
int ward__run_on_stack(void *stack, size_t size, void (*fn)(void *),
		       void *arg);

/* Run fn(arg) where at least WARD__DEEP_ROOM of stack is left: in place
 * when the calling thread's stack has it, else on a stack of ward's own
 * mapped for the call (in place when none can be mapped). fn returns; it
 * does not jump out. */
enum { WARD__DEEP_ROOM = 1 << 20 };
void ward__deep(void (*fn)(void *), void *arg);

/* Find libc's swapcontext now (not a sanitizer's interceptor, which
 * warns on the program's stderr), before a report in a signal handler
 * needs it. */
void ward__stacks_init(void);

#endif
