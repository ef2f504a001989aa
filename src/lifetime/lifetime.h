/*
 * Between the lifetime modules: what contexts and their threads (ctx.c)
 * need of owners (owner.c).
 */
#ifndef WARD_LIFETIME_H
#define WARD_LIFETIME_H

#include <stddef.h>
#include <stdint.h>

/*
 * Label a tracked record whose owner is gone (a leaked thread) until the
 * record is released: snapshots show it held by `label`, with the stack
 * of site `note` (0: none). 0, -ENOMEM, or -EEXIST when it is held.
 */
int ward__owner_leftover(int kind, uintptr_t handle, const char *label,
			 uint32_t note);

#endif
