/*
 * The cached .eh_frame stack walker's helpers (cfi.c); its entry,
 * ward__cfi_capture(), is declared in capture.h for ward__capture()'s
 * inline fast path.
 */
#ifndef WARD_CAPTURE_CFI_H
#define WARD_CAPTURE_CFI_H

#include <stdbool.h>
#include <stdint.h>

#include "capture/capture.h"

/* The top of the calling thread's stack if found before, else 0 (never
 * looks it up: safe in a signal handler). */
uintptr_t ward__stack_top_known(void);

/* The top of the stack holding sp, read from /proc/self/maps with system
 * calls only (safe in a signal handler); 0 when unknown. */
uintptr_t ward__stack_top_of(uintptr_t sp);

/* Drop the hidden frames (ward__stack_hide) from pcs[0..n); the new n. */
int ward__unhide(uintptr_t *pcs, int n);

#endif
