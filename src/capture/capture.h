/*
 * Stack capture (walk.c, cfi.c): the return addresses of the calling
 * stack. Capture knows nothing of what the addresses become; the caller
 * hands it a function that turns a walk into an id.
 */
#ifndef WARD_CAPTURE_H
#define WARD_CAPTURE_H

#include <stdint.h>

/* What the caller makes of a walk: an id (0: none) for the return
 * addresses pcs[0..n), innermost first. key separates walks of the same
 * stack that must get different ids (the registry passes the kind).
 * Capture remembers the id of a walk it may see again, not the walk. */
typedef uint32_t (*ward__walk_fn)(uint32_t key, const uintptr_t *pcs, int n);

/* Walk the calling stack, starting `skip` frames above the caller, and
 * return fn's id for it (or the remembered id of the same walk). */
uint32_t ward__capture(uint32_t key, int skip, ward__walk_fn fn);

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
