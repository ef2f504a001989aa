/*
 * Time for ward's own deadlines and ages (core.c).
 */
#ifndef WARD_CORE_CLOCK_H
#define WARD_CORE_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC, in nanoseconds. */
uint64_t ward__now_ns(void);

#endif
