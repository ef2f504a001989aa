/*
 * suppress.h — the ward CLI's leak suppressions, in LeakSanitizer's
 * syntax: one "leak:PATTERN" a line, '#' starts a comment. A pattern
 * matches a site when it matches, anywhere in its stack, a frame's
 * function name, its object's file name or its source file: '*' matches
 * any run of characters, '^' and '$' anchor, and a pattern is otherwise
 * found anywhere in the name. Suppressed sites are counted, never dropped
 * in silence.
 */
#ifndef WARD_TOOL_SUPPRESS_H
#define WARD_TOOL_SUPPRESS_H

#include <stdbool.h>
#include <stdint.h>

#include "ward/profile.h"

struct suppressions;

/* The built-in list (the C library's and the loader's own allocations),
 * when with_defaults, plus the patterns of file (NULL: none). Exits with
 * one line on a file it cannot read or a line it cannot parse. */
struct suppressions *suppressions_load(const char *file, bool with_defaults);
void suppressions_free(struct suppressions *s);

struct suppressed {
	int64_t count, bytes; /* live resources and bytes taken out */
	size_t sites;
};

/* Take the live values of every site of p a pattern matches out of p (p
 * was loaded from a file: its samples are the caller's), adding them to
 * *out. */
void suppressions_apply(const struct suppressions *s, ward_profile_t *p,
			struct suppressed *out);

#endif
