/*
 * The layout of a profile, and output helpers shared by the exporters.
 */
#ifndef WARD_INTERNAL_PROFILE_H
#define WARD_INTERNAL_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ward/profile.h"

struct ward_profile {
	struct ward_sample *samples;
	uint32_t *sites;     /* site id of each sample, ascending */
	size_t count;
	uintptr_t *owned_pcs; /* stacks owned by this profile, if any */
	/* A profile read from a file names its objects by mapping; NULL for
	 * a snapshot of this process. */
	struct ward__mapping *maps;
	size_t nmaps;
};

/* A mapping as a read profile describes it. */
struct ward__mapping {
	uint64_t start, limit, offset;
	char *file; /* owned */
};

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

struct ward__out {
	ward_write_fn write;
	void *opaque;
};

void ward__out_printf(struct ward__out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * The frames at a return address of profile p (NULL: of this process):
 * through p's mappings when it was read from a file, else in this process.
 * "function+0xoff (object) file:line" for the function containing the
 * address, last; before it, innermost first, "function (object) file:line
 * (inlined)" for each function inlined there. Returns the count (>= 1 when
 * max >= 1).
 */
enum { MAX_INLINE = 16 };
struct ward__frame_text {
	char s[512];
};
int ward__describe_frames(const struct ward_profile *p, uintptr_t pc,
			  struct ward__frame_text *out, int max);

/* The last of those frames: the function containing the address. */
void ward__describe(const struct ward_profile *p, uintptr_t pc, char *buf,
		    size_t len);
void ward__describe_pc(uintptr_t pc, char *buf, size_t len);

/* Cut a frame's text down to its function's name ("name (object)" with
 * with_object), for matching frames across builds and merging them; a
 * frame without a name becomes "object+offset" (its address moves from
 * run to run). */
void ward__frame_function(char *frame, bool with_object);

/* A new profile of p's n sites holding the most (bytes, then objects),
 * largest first; NULL when out of memory. Stacks are shared with p. */
struct ward_profile *ward__profile_top(const struct ward_profile *p, size_t n);

/*
 * What `ward run` prints when a program ends: per-kind totals (of the kinds
 * marked in kinds[WARD_KIND_USER], all when NULL) under "ward: HEAD:", then
 * the SUMMARY_SITES sites holding the most, with stacks.
 */
enum { SUMMARY_SITES = 10 };
void ward__write_summary(const struct ward_profile *p, const char *head,
			 const bool *kinds, ward_write_fn write, void *opaque);

/* A copy of p whose heap samples are split by the scan's classes (their
 * `leak` set); NULL when out of memory. */
struct ward__scan_result;
struct ward_profile *ward__profile_classify(const struct ward_profile *p,
					    const struct ward__scan_result *r);

/* "definite", "indirect", "reachable", or NULL. */
const char *ward__leak_name(int leak);

/*
 * Saving files. Where a file saved as path goes: path itself when nothing
 * is there or a regular file is; the regular file a symbolic link names
 * (the link stays). Anything else is refused: -EISDIR, -EEXIST (a device,
 * FIFO or socket: never replaced), -ENOLINK (a link to nothing),
 * -ENAMETOOLONG. The target's path is left in out.
 */
int ward__save_target(const char *path, char *out, size_t len);

/* Words for the errors above, for "cannot write PATH: ..." lines. */
const char *ward__save_strerror(int err);

/* Write a file atomically: fill(fd, ctx) writes a temporary file next to
 * the target, which is then renamed over it; a failure (fill's negative
 * errno, or the system's) leaves whatever was there as it was. */
int ward__save_atomic(const char *path, int (*fill)(int fd, void *ctx),
		      void *ctx);

/* pprof.c */
int ward__write_pprof(const struct ward_profile *p, struct ward__out *o);

#endif
