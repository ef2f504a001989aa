/*
 * The cached .eh_frame stack walker (unwind.c).
 */
#ifndef WARD_INTERNAL_UNWIND_H
#define WARD_INTERNAL_UNWIND_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Walk the calling thread's stack into pcs (at most max return addresses),
 * skipping `skip` frames, the first being the return into the caller's own
 * caller... exactly as the frame-pointer walker counts them. lo and hi bound
 * the thread's stack. Returns the count, or -1 where unsupported.
 */
int ward__cfi_walk(uintptr_t *pcs, int max, int skip, uintptr_t lo,
		   uintptr_t hi);

/*
 * The site (kind, calling stack) of the caller, as ward__cfi_walk would
 * walk it (with `rules` false: by frame pointers alone), then
 * ward__site_from_walk() would intern it; a walk that starts where one the
 * thread did before started, and would read the same stack words, is not
 * done again. Returns -1 where unsupported, else 0 with *site set (0 on
 * ENOMEM).
 */
int ward__cfi_site(uint32_t kind, int max, int skip, uintptr_t lo,
		   uintptr_t hi, bool rules, uint32_t *site);

/* Code was unmapped (dlclose): every thread drops its cached rules. */
void ward__unwind_code_unmapped(void);

#endif
