/*
 * walk.c — capturing the acquiring stack.
 *
 * Capture. Three walkers, chosen once per process by WARD_STACK:
 *  - "cfi" (default): .eh_frame rules, cached per return address, and
 *    walks remembered per thread (unwind.c). Correct through code built
 *    without frame pointers, about 10 ns a frame once the cache is warm,
 *    about one compare a frame when a walk is repeated.
 *  - "fp": follows the frame-pointer chain — on x86-64 the same walker
 *    without rules, remembered the same way; elsewhere fp_walk() here.
 *    Each step is checked against the thread's stack bounds (the chain
 *    must climb and stay inside), so code built without frame pointers
 *    ends or skips instead of faulting.
 *  - "dwarf": libgcc's _Unwind_Backtrace. Correct, about 5 us a stack;
 *    kept as a reference.
 * Return addresses are stored as they are; exporters subtract one to name
 * the call instruction.

 *
 * Capture returns addresses and knows nothing of what they become: the
 * caller passes a function that turns a walk into an id (the registry
 * interns it as a site), and the remembered walks hold that id.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <unwind.h>

#include "capture/capture.h"
#include "capture/cfi.h"
#include "core/env.h"
#include "core/file.h"
#include "core/guard.h"

/* ---- Configuration ----------------------------------------------------- */

static pthread_once_t conf_once = PTHREAD_ONCE_INIT;
static enum { WALK_FP, WALK_CFI, WALK_DWARF } walker = WALK_CFI;

/* What ward__capture()'s inline fast path reads (capture.h); max is the
 * depth every walker stops at. */
struct ward__capture_conf ward__capture_conf = { .max = 64 };

static void configure(void)
{
	static const char *const walkers[] = {
		[WALK_FP] = "fp", [WALK_CFI] = "cfi", [WALK_DWARF] = "dwarf", NULL
	};
	int w = ward__env_choice("WARD_STACK", walkers, "walking with cfi");
	if (w >= 0)
		walker = w;
	unsigned long long depth;
	if (ward__env_number("WARD_STACK_DEPTH", 1, 256, &depth,
			     "keeping 64 frames") > 0)
		ward__capture_conf.max = (int)depth;
	ward__capture_conf.rules = walker == WALK_CFI;
}

/* ---- Frame-pointer walk ------------------------------------------------ */

__thread uintptr_t ward__stack_lo, ward__stack_hi;

extern void *__libc_stack_end;

static void thread_bounds(void)
{
	pthread_attr_t a;
	void *addr;
	size_t size;

	/* The main thread: glibc's pthread_getattr_np reads /proc/self/maps
	 * for it (a few hundred microseconds at every program start). Every
	 * frame lies below __libc_stack_end; walks never go below their own
	 * frame, so the lower bound does not matter. */
	if (getpid() == (pid_t)syscall(SYS_gettid) && __libc_stack_end) {
		ward__stack_lo = 4096;
		ward__stack_hi = (uintptr_t)__libc_stack_end;
		return;
	}
	ward__guard_raise();
	if (pthread_getattr_np(pthread_self(), &a) == 0) {
		if (pthread_attr_getstack(&a, &addr, &size) == 0) {
			ward__stack_lo = (uintptr_t)addr;
			ward__stack_hi = (uintptr_t)addr + size;
		}
		pthread_attr_destroy(&a);
	}
	if (ward__stack_hi == 0)
		ward__stack_hi = 1; /* unknown: walk only the first frame */
	ward__guard_lower();
}

static __attribute__((noinline)) int fp_walk(uintptr_t *pcs, int max,
					     int skip)
{
	if (__builtin_expect(ward__stack_hi == 0, 0))
		thread_bounds();
	uintptr_t *fp = __builtin_frame_address(0);
	/* Frames of callers lie above this one; below it the stack may not
	 * even be mapped yet. */
	uintptr_t lo = (uintptr_t)fp > ward__stack_lo ? (uintptr_t)fp
						      : ward__stack_lo,
		  hi = ward__stack_hi;
	int n = 0;

	while (n < max) {
		uintptr_t f = (uintptr_t)fp;
		if (f < lo || hi < 16 || f > hi - 16 || (f & 7))
			break;
		uintptr_t ret = fp[1];
		if (ret < 4096)
			break;
		if (skip > 0)
			skip--;
		else
			pcs[n++] = ret;
		uintptr_t *next = (uintptr_t *)fp[0];
		if ((uintptr_t)next <= f)
			break;
		fp = next;
	}
	return n;
}

/* ---- DWARF walk -------------------------------------------------------- */

struct uw {
	uintptr_t *pcs;
	int n, max, skip;
};

static _Unwind_Reason_Code uw_step(struct _Unwind_Context *ctx, void *arg)
{
	struct uw *u = arg;
	uintptr_t ip = _Unwind_GetIP(ctx);

	if (ip == 0)
		return _URC_END_OF_STACK;
	if (u->skip > 0) {
		u->skip--;
		return _URC_NO_REASON;
	}
	u->pcs[u->n++] = ip;
	return u->n >= u->max ? _URC_END_OF_STACK : _URC_NO_REASON;
}

static __attribute__((noinline)) int dwarf_walk(uintptr_t *pcs, int max,
						int skip)
{
	struct uw u = { pcs, 0, max, skip + 1 }; /* +1: this function */

	ward__guard_raise();
	_Unwind_Backtrace(uw_step, &u);
	ward__guard_lower();
	return u.n;
}

uintptr_t ward__stack_top_known(void)
{
	return ward__stack_hi > 1 ? ward__stack_hi : 0;
}

/* The end of the mapping that holds sp, from /proc/self/maps, with system
 * calls and a buffer on the stack only (safe in a signal handler); 0 when
 * it cannot be read. */
uintptr_t ward__stack_top_of(uintptr_t sp)
{
	int fd = ward__open_proc_self("maps");
	if (fd < 0)
		return 0;
	char buf[4096];
	size_t have = 0;
	uintptr_t top = 0;
	for (;;) {
		ssize_t r = syscall(SYS_read, fd, buf + have, sizeof(buf) - have);
		if (r <= 0)
			break;
		have += (size_t)r;
		size_t line = 0;
		for (size_t i = 0; i < have; i++) {
			if (buf[i] != '\n')
				continue;
			uintptr_t lo = 0, hi = 0;
			size_t k = line;
			for (; k < i && buf[k] != '-'; k++)
				lo = lo * 16 + (uintptr_t)(buf[k] <= '9' ? buf[k] - '0'
									: (buf[k] | 32) - 'a' + 10);
			for (k++; k < i && buf[k] != ' '; k++)
				hi = hi * 16 + (uintptr_t)(buf[k] <= '9' ? buf[k] - '0'
									: (buf[k] | 32) - 'a' + 10);
			if (sp >= lo && sp < hi)
				top = hi;
			line = i + 1;
		}
		if (top)
			break;
		memmove(buf, buf + line, have - line);
		have -= line;
		if (have == sizeof(buf))
			break; /* a line longer than the buffer: give up */
	}
	syscall(SYS_close, fd);
	return top;
}

uintptr_t ward__stack_top(void)
{
	if (ward__stack_hi == 0)
		thread_bounds();
	return ward__stack_hi > 1 ? ward__stack_hi : 0;
}

/* Frames inside this range (the preload tracer's own interposers) are left
 * out of stacks: they are ward's plumbing, not the program's code. */
static uintptr_t hide_lo, hide_hi;

void ward__stack_hide(uintptr_t lo, uintptr_t hi)
{
	hide_lo = lo;
	hide_hi = hi;
}

int ward__unhide(uintptr_t *pcs, int n)
{
	if (!hide_hi)
		return n;
	/* Without a branch: every pc is written where the next kept one
	 * goes, and kept when it lies outside [hide_lo, hide_hi). */
	uintptr_t lo = hide_lo, span = hide_hi - hide_lo;
	int k = 0;
	for (int i = 0; i < n; i++) {
		uintptr_t pc = pcs[i];
		pcs[k] = pc;
		k += pc - lo >= span;
	}
	return k;
}

/* The walk by libgcc or by frame pointers, in a frame of its own: its
 * buffer is no part of the stack the .eh_frame walker's callers use (a
 * signal handler's on a small alternate stack). skip counts this frame's
 * caller. */
static __attribute__((noinline)) uint32_t walk_elsewise(uint32_t key, int max,
						      int skip,
						      ward__walk_fn fn)
{
	uintptr_t pcs[256];
	int n = walker == WALK_DWARF ? dwarf_walk(pcs, max, skip + 1)
				     : fp_walk(pcs, max, skip + 1);
	uint32_t id = fn(key, pcs, ward__unhide(pcs, n));
	__asm__ volatile("" ::: "memory");
	return id;
}

__attribute__((noinline)) uint32_t ward__capture_slow(uint32_t key, int skip,
						   ward__walk_fn fn)
{
	if (__builtin_expect(!atomic_load_explicit(&ward__capture_conf.fast,
						   memory_order_acquire), 0)) {
		pthread_once(&conf_once, configure);
		atomic_store_explicit(&ward__capture_conf.fast,
				      walker != WALK_DWARF,
				      memory_order_release);
	}
	int max = ward__capture_conf.max;
	if (walker != WALK_DWARF) {
		if (__builtin_expect(ward__stack_hi == 0, 0))
			thread_bounds();
		uint32_t id;
		/* +1: this function, kept as a frame by the barrier below. */
		if (ward__cfi_capture(key, max, skip + 1, ward__stack_lo,
				      ward__stack_hi, ward__capture_conf.rules,
				      fn, &id) == 0) {
			__asm__ volatile("" ::: "memory");
			return id;
		}
	}
	/* libgcc's walker, or frame pointers where the .eh_frame walker does
	 * not run (other than x86-64). */
	uint32_t id = walk_elsewise(key, max, skip + 1, fn);
	__asm__ volatile("" ::: "memory");
	return id;
}

/* libgcc's FDE lookup: bases.func is the covered function's start. */
struct ward__eh_bases {
	void *tbase, *dbase, *func;
};
extern const void *_Unwind_Find_FDE(void *pc, struct ward__eh_bases *bases);

uintptr_t ward__function_start(uintptr_t pc)
{
	struct ward__eh_bases b = { 0, 0, 0 };
	if (!_Unwind_Find_FDE((void *)pc, &b))
		return 0;
	return (uintptr_t)b.func;
}
