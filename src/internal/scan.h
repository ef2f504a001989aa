/*
 * The reachability scan (scan.c).
 */
#ifndef WARD_INTERNAL_SCAN_H
#define WARD_INTERNAL_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "ward/profile.h"

/* Every live heap block: its site, size and class (WARD_LEAK_*). */
struct ward__scan_result {
	size_t blocks;
	uint32_t *site;
	uint64_t *size;
	uint8_t *state;
};

/* Scan from the roots (globals, this thread's stack up to stack_hi, and
 * every other thread's registers and stack, the threads stopped meanwhile).
 * Returns 0, or -1 when out of memory or when the other threads could not
 * be stopped (out is then empty). */
int ward__scan_heap(uintptr_t stack_hi, struct ward__scan_result *out);
void ward__scan_free(struct ward__scan_result *r);

/* A thread stopped by ward__threads_stop(): its id, stack pointer and
 * general registers when the signal came (suspend.c). */
enum { WARD__STOPPED_REGS = 23 };
struct ward__stopped {
	int tid;
	uintptr_t sp;
	uintptr_t regs[WARD__STOPPED_REGS];
};

/* Stop every other thread of the process until ward__threads_resume().
 * Returns how many (*out lists them), or -1 when one could not be stopped
 * (none is then). While they are stopped, allocate nothing and take no
 * lock a stopped thread may hold. */
int ward__threads_stop(const struct ward__stopped **out);
void ward__threads_resume(void);

#endif
