/*
 * flame.h — the ward CLI's SVG flame graph.
 */
#ifndef WARD_TOOL_FLAME_H
#define WARD_TOOL_FLAME_H

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

#endif
