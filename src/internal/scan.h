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

/* Scan from the roots (globals, and this thread's stack up to stack_hi).
 * Returns 0, or -1 when out of memory (out is then empty). */
int ward__scan_heap(uintptr_t stack_hi, struct ward__scan_result *out);
void ward__scan_free(struct ward__scan_result *r);

#endif
