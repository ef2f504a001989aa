/*
 * Stack capture (walk.c, cfi.c): the return addresses of the calling
 * stack. Capture knows nothing of what the addresses become; the caller
 * hands it a function that turns a walk into an id.
 */
#ifndef WARD_CAPTURE_H
#define WARD_CAPTURE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* What the caller makes of a walk: an id (0: none) for the return
 * addresses pcs[0..n), innermost first. key separates walks of the same
 * stack that must get different ids (the registry passes the kind).
 * Capture remembers the id of a walk it may see again, not the walk. */
typedef uint32_t (*ward__walk_fn)(uint32_t key, const uintptr_t *pcs, int n);

/*
 * The cached .eh_frame walker (cfi.c), behind ward__capture(): fn's id
 * for the calling stack, walked by the .eh_frame rules (with `rules`
 * false, by frame pointers alone) into at most max return addresses,
 * skipping `skip` frames — the first being the return into the caller's
 * own caller — hidden frames left out (ward__unhide). lo and hi bound the
 * thread's stack. A walk that starts where one the thread did before
 * started, with the same key and fn, and would read the same stack words,
 * is not done again: its id is returned. Returns -1 where unsupported,
 * else 0 with *id set.
 */
int ward__cfi_capture(uint32_t key, int max, int skip, uintptr_t lo,
		      uintptr_t hi, bool rules, ward__walk_fn fn,
		      uint32_t *id);

/* The walker's settings, read by ward__capture()'s fast path: fast is set
 * once WARD_STACK is read, when the walker is ward's own (.eh_frame or
 * frame pointers, not libgcc's). */
struct ward__capture_conf {
	_Atomic bool fast;
	bool rules; /* .eh_frame rules, or frame pointers alone */
	int max;    /* frames at most */
};
extern struct ward__capture_conf ward__capture_conf
	__attribute__((visibility("hidden")));

/* The calling thread's stack bounds; 0 until its first capture. */
extern __thread uintptr_t ward__stack_lo, ward__stack_hi;

/* ward__capture() the first time, with libgcc's walker, or where the
 * .eh_frame walker does not run. */
uint32_t ward__capture_slow(uint32_t key, int skip, ward__walk_fn fn);

/*
 * Walk the calling stack, starting `skip` frames above the caller, and
 * return fn's id for it (or the remembered id of the same walk). Inline:
 * the walker starts from the caller's frame, with no call of ward's own
 * in between to walk through and check.
 */
static inline __attribute__((always_inline)) uint32_t
ward__capture(uint32_t key, int skip, ward__walk_fn fn)
{
	uint32_t id;
	if (__builtin_expect(atomic_load_explicit(&ward__capture_conf.fast,
						  memory_order_acquire) &&
			     ward__stack_hi != 0, 1) &&
	    ward__cfi_capture(key, ward__capture_conf.max, skip,
			      ward__stack_lo, ward__stack_hi,
			      ward__capture_conf.rules, fn, &id) == 0) {
		/* Keeps the caller's frame: a tail call would drop it from
		 * the walk, and `skip` counts it. */
		__asm__ volatile("" ::: "memory");
		return id;
	}
	id = ward__capture_slow(key, skip, fn);
	__asm__ volatile("" ::: "memory");
	return id;
}

/*
 * The stack of the calling thread from an interrupted context (a signal
 * handler's ucontext: pc, stack and frame pointer), innermost first, pcs[0]
 * being pc itself. Returns how many (0 where unsupported, or when the
 * thread's stack bounds are not known yet). Safe in a signal handler of a
 * thread whose bounds ward__stack_top() found before.
 */
int ward__capture_context(uintptr_t pc, uintptr_t sp, uintptr_t bp,
			  uintptr_t *pcs, int max);

/*
 * The stack of another thread asleep in a system call, from where it
 * sleeps (pc, sp; its frame pointer unknown), innermost first: read from a
 * copy of its stack, so that the thread waking and returning meanwhile, or
 * ending, changes what is read but never faults the reader. Returns how
 * many. Not for signal handlers (it reads /proc/self/maps).
 */
int ward__capture_asleep(uintptr_t pc, uintptr_t sp, uintptr_t *pcs, int max);

/*
 * The frames of a stack from a context (pc, stack and frame pointer) whose
 * stack is any mapping, this thread's or a stopped one's: pcs[i] and the
 * canonical frame address cfas[i] (the stack pointer before the call that
 * made frame i; frame i's words lie below it, above cfas[i - 1]). Returns
 * how many. Not for signal handlers (it reads /proc/self/maps).
 */
int ward__capture_frames(uintptr_t pc, uintptr_t sp, uintptr_t bp,
			 uintptr_t *pcs, uintptr_t *cfas, int max);

/* The start of the function containing pc, from the unwind tables; 0
 * when no table covers it. */
uintptr_t ward__function_start(uintptr_t pc);

/* The top of the calling thread's stack, or 0 when unknown. */
uintptr_t ward__stack_top(void);

/* Leave return addresses in [lo, hi) out of captured stacks. */
void ward__stack_hide(uintptr_t lo, uintptr_t hi);

/* Code was unmapped (dlclose): every thread drops its cached rules. */
void ward__unwind_code_unmapped(void);

#endif
