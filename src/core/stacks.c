/*
 * stacks.c — running ward's deep work on a stack with room for it
 * (stacks.h). The thread switches stacks with swapcontext() and back:
 * no thread of ward's to count against the program's RLIMIT_NPROC, and
 * signals and thread-local state as they were.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "core/guard.h"
#include "core/map.h"
#include "core/stacks.h"

typedef int (*swap_fn)(ucontext_t *, const ucontext_t *);
static swap_fn swap;

void ward__stacks_init(void)
{
	if (!swap) {
		swap_fn f = (swap_fn)dlsym(RTLD_NEXT, "swapcontext");
		swap = f ? f : swapcontext;
	}
}

/* The stack this thread runs on, [on_lo, on_hi); on_hi 0 until known,
 * 1 when it cannot be. */
static __thread uintptr_t on_lo, on_hi;

static void thread_stack(void)
{
	extern void *__libc_stack_end;
	struct rlimit r;
	pthread_attr_t a;
	void *addr;
	size_t size;

	/* The main thread's grows down from __libc_stack_end as far as
	 * RLIMIT_STACK lets it. */
	if (getpid() == (pid_t)syscall(SYS_gettid) && __libc_stack_end) {
		on_hi = (uintptr_t)__libc_stack_end;
		on_lo = getrlimit(RLIMIT_STACK, &r) == 0 &&
				r.rlim_cur != RLIM_INFINITY &&
				r.rlim_cur < on_hi
			? on_hi - r.rlim_cur
			: 0;
		return;
	}
	ward__guard_raise(); /* glibc allocates for the answer */
	if (pthread_getattr_np(pthread_self(), &a) == 0) {
		if (pthread_attr_getstack(&a, &addr, &size) == 0) {
			on_lo = (uintptr_t)addr;
			on_hi = (uintptr_t)addr + size;
		}
		pthread_attr_destroy(&a);
	}
	ward__guard_lower();
	if (!on_hi)
		on_hi = 1;
}

/* What a switch keeps, at the top of the stack switched to: nothing of
 * it on the caller's, which may be an alternate signal stack of a few
 * kilobytes (two contexts are 2 KiB). */
struct switched {
	ucontext_t back, there;
	void (*fn)(void *);
	void *arg;
};
static __thread struct switched *calling;

static void call_there(void)
{
	calling->fn(calling->arg);
}

int ward__run_on_stack(void *stack, size_t size, void (*fn)(void *),
		       void *arg)
{
	size_t keep = (sizeof(struct switched) + 63) & ~(size_t)63;
	if (size < 2 * keep)
		return -1;
	struct switched *w =
		(struct switched *)((char *)stack + size - keep);
	ward__stacks_init();
	if (getcontext(&w->there) != 0)
		return -1;
	w->there.uc_stack.ss_sp = stack;
	w->there.uc_stack.ss_size = size - keep;
	w->there.uc_link = &w->back;
	w->fn = fn;
	w->arg = arg;
	makecontext(&w->there, call_there, 0);
	struct switched *was = calling;
	uintptr_t lo = on_lo, hi = on_hi;
	calling = w;
	on_lo = (uintptr_t)stack;
	on_hi = (uintptr_t)stack + size - keep;
	int rc = swap(&w->back, &w->there);
	on_lo = lo;
	on_hi = hi;
	calling = was;
	return rc == 0 ? 0 : -1;
}

void ward__deep(void (*fn)(void *), void *arg)
{
	enum { DEEP_STACK = 8 << 20 }; /* backed as it is used */
	uintptr_t here = (uintptr_t)__builtin_frame_address(0);
	if (!on_hi)
		thread_stack();
	if (here > on_lo && here < on_hi && here - on_lo >= WARD__DEEP_ROOM) {
		fn(arg);
		return;
	}
	void *stack = ward__map_reserve(DEEP_STACK);
	if (!stack || ward__run_on_stack(stack, DEEP_STACK, fn, arg) != 0)
		fn(arg);
	ward__unmap(stack, DEEP_STACK);
}
