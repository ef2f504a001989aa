/*
 * The calls the LD_PRELOAD interposers (preload/preload.c) make into ward
 * (src/intercept.c). Each interposer does the libc call, then reports it.
 */
#ifndef WARD_INTERNAL_INTERCEPT_H
#define WARD_INTERNAL_INTERCEPT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Read the configuration from the environment; start recording. */
void ward__intercept_init(void);

/* A heap block of `size` bytes was allocated / freed. */
void ward__intercept_alloc(void *p, size_t size);
void ward__intercept_free(void *p);

/* A descriptor, FILE or thread (by kind) was acquired / released. */
void ward__intercept_acquire(int kind, uintptr_t handle);
void ward__intercept_release(int kind, uintptr_t handle);

/* Stop recording and write the report (at exit, or before _exit). */
void ward__intercept_report(void);

#include "internal/sample.h"

#endif
