/*
 * Saturating arithmetic for the sums of counts read from profiles.
 */
#ifndef WARD_CORE_SAT_H
#define WARD_CORE_SAT_H

#include <stdint.h>

/* a + b, held at INT64_MIN or INT64_MAX instead of wrapping: a profile
 * read from a file may hold any values. */
static inline int64_t ward__sat_add(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

static inline int64_t ward__sat_sub(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_sub_overflow(a, b, &r))
		return b < 0 ? INT64_MAX : INT64_MIN;
	return r;
}

#endif
