/*
 * flame.h — the ward CLI's SVG flame graph.
 */
#ifndef WARD_TOOL_FLAME_H
#define WARD_TOOL_FLAME_H

#include <stdbool.h>

#include "ward/profile.h"

enum flame_value {
	FLAME_INUSE_SPACE,
	FLAME_INUSE_OBJECTS,
	FLAME_ALLOC_SPACE,
	FLAME_ALLOC_OBJECTS,
};

/* Write p as a self-contained SVG to path (atomically). Returns 0 or a
 * negative errno. `title` names the profile in the picture. */
int flame_write_svg(const ward_profile_t *p, enum flame_value v,
		    const char *title, const char *path);

/* The same, or with folded, the stacks in Brendan Gregg's folded format
 * ("root;...;leaf VALUE" per line), which flamegraph.pl, speedscope and
 * inferno read. */
int flame_write(const ward_profile_t *p, enum flame_value v,
		const char *title, const char *path, bool folded);

#endif
