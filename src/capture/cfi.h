/*
 * The cached .eh_frame stack walker (cfi.c), behind ward__capture().
 */
#ifndef WARD_CAPTURE_CFI_H
#define WARD_CAPTURE_CFI_H

#include <stdbool.h>
#include <stdint.h>

#include "capture/capture.h"

/*
 * fn's id for the calling stack: the stack walked by the .eh_frame rules
 * (with `rules` false, by frame pointers alone) into at most max return
 * addresses, skipping `skip` frames — the first being the return into the
 * caller's own caller — hidden frames left out (ward__unhide). lo and hi
 * bound the thread's stack. A walk that starts where one the thread did
 * before started, with the same key and fn, and would read the same stack
 * words, is not done again: its id is returned. Returns -1 where
 * unsupported, else 0 with *id set.
 */
int ward__cfi_capture(uint32_t key, int max, int skip, uintptr_t lo,
		      uintptr_t hi, bool rules, ward__walk_fn fn,
		      uint32_t *id);

/* The top of the calling thread's stack if found before, else 0 (never
 * looks it up: safe in a signal handler). */
uintptr_t ward__stack_top_known(void);

/* The top of the stack holding sp, read from /proc/self/maps with system
 * calls only (safe in a signal handler); 0 when unknown. */
uintptr_t ward__stack_top_of(uintptr_t sp);

/* Drop the hidden frames (ward__stack_hide) from pcs[0..n); the new n. */
int ward__unhide(uintptr_t *pcs, int n);

#endif
