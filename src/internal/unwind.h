/*
 * The cached .eh_frame stack walker (unwind.c).
 */
#ifndef WARD_INTERNAL_UNWIND_H
#define WARD_INTERNAL_UNWIND_H

#include <stdbool.h>
#include <stdint.h>

/*
 * The site (kind, calling stack) of the caller: the stack walked by the
 * .eh_frame rules (with `rules` false, by frame pointers alone) into at
 * most max return addresses, skipping `skip` frames — the first being the
 * return into the caller's own caller — then interned by
 * ward__site_from_walk(). lo and hi bound the thread's stack. A walk that
 * starts where one the thread did before started, and would read the same
 * stack words, is not done again. Returns -1 where unsupported, else 0
 * with *site set (0 on ENOMEM).
 */
int ward__cfi_site(uint32_t kind, int max, int skip, uintptr_t lo,
		   uintptr_t hi, bool rules, uint32_t *site);

/* Code was unmapped (dlclose): every thread drops its cached rules. */
void ward__unwind_code_unmapped(void);

#endif
