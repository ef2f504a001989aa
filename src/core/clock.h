/*
 * Time for ward's own deadlines and ages (core.c).
 */
#ifndef WARD_CORE_CLOCK_H
#define WARD_CORE_CLOCK_H

#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC, in nanoseconds. */
uint64_t ward__now_ns(void);

/* clock's time ns nanoseconds from now: the absolute deadline a timed
 * wait on that clock takes. */
struct timespec ward__deadline(clockid_t clock, uint64_t ns);

#endif
