/*
 * The exporters (text.c, pprof.c, pprof_read.c, save.c). They read
 * profiles and nothing else: no registry, no live process.
 */
#ifndef WARD_EXPORT_H
#define WARD_EXPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "snapshot/profile.h"
#include "ward/profile.h"

struct ward__out {
	ward_write_fn write;
	void *opaque;
};

void ward__out_printf(struct ward__out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Whether a frame's text ("operator new(unsigned long)+0x1c (libstdc++.so.6)",
 * "<alloc::raw_vec::RawVecInner>::finish_grow+0x62") is one of the
 * allocation layers every stack through them shares — the allocator's
 * wrappers, C++'s containers, Rust's alloc crate: the report's "acquired
 * at" column is the first frame above them. */
bool ward__allocator_frame(const char *frame);

/*
 * What `ward run` prints when a program ends: per-kind totals (of the kinds
 * marked in kinds[WARD_KIND_USER], all when NULL) under "ward: HEAD:", then
 * the SUMMARY_SITES sites holding the most, with stacks.
 */
enum { SUMMARY_SITES = 10 };
void ward__write_summary(const struct ward_profile *p, const char *head,
			 const bool *kinds, ward_write_fn write, void *opaque);

/*
 * Saving files. Where a file saved as path goes: path itself when nothing
 * is there or a regular file is; the regular file a symbolic link names
 * (the link stays). Anything else is refused: -EISDIR, -EEXIST (a device,
 * FIFO or socket: never replaced), -ENOLINK (a link to nothing),
 * -ENAMETOOLONG. The target's path is left in out.
 */
int ward__save_target(const char *path, char *out, size_t len);

/* ward__save_target() for a profile: also -EMEDIUMTYPE when the regular
 * file there holds something else (it is not empty and not gzip data, as
 * every profile is): a program's binary, someone's notes. */
int ward__save_profile_target(const char *path, char *out, size_t len);

/* Words for the errors above, for "cannot write PATH: ..." lines. */
const char *ward__save_strerror(int err);

/* Write a file atomically: fill(fd, ctx) writes a temporary file next to
 * the target, which is then renamed over it; a failure (fill's negative
 * errno, or the system's) leaves whatever was there as it was. */
int ward__save_atomic(const char *path, int (*fill)(int fd, void *ctx),
		      void *ctx);

/* The pprof encoder (pprof.c). */
int ward__write_pprof(const struct ward_profile *p, struct ward__out *o,
		      bool named);

#endif
