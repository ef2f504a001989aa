/*
 * ward/profile.h — snapshots of the registry and what they export to.
 *
 * A profile is a list of samples, one per site (kind + acquiring stack)
 * and holder (the owner holding them, ward/owner.h):
 * how many resources of that site are live and how many bytes they hold,
 * and how many were acquired since the process started. Every exporter
 * reads a profile, never the registry, and writes through a callback.
 *
 *     ward_profile_t *p = ward_profile_snapshot();
 *     ward_profile_save(p, "leaks.pb.gz", WARD_FORMAT_PPROF);
 *     ward_profile_free(p);
 */
#ifndef WARD_PROFILE_H
#define WARD_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ward/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ward_profile ward_profile_t;

/*
 * What a reachability scan at exit found of a live heap block: nothing yet
 * (0), no pointer to it anywhere (definitely lost), pointed to only from
 * lost blocks (indirectly lost), or reachable from globals or the stack.
 */
enum ward_leak {
	WARD_LEAK_UNKNOWN = 0,
	WARD_LEAK_DEFINITE = 1,
	WARD_LEAK_INDIRECT = 2,
	WARD_LEAK_REACHABLE = 3,
};

/* One sample: a site and its counts. Values may be negative in a diff. */
struct ward_sample {
	int kind;
	int depth;             /* frames in pcs */
	const uintptr_t *pcs;  /* return addresses, innermost first */
	int64_t live_count, live_bytes;
	int64_t alloc_count, alloc_bytes;
	int leak;              /* enum ward_leak; heap samples at exit */
	/* The path of the owner holding these ("server/conn 17"), or NULL
	 * for what no owner holds. A site's resources held by different
	 * owners are different samples; the site's acquisition totals stay
	 * on its sample without an owner. The profile owns the string. */
	const char *owner;
	/* For a leaked thread (ward/ctx.h): where it is blocked now,
	 * innermost first; 0 frames when unknown. */
	int blocked_depth;
	const uintptr_t *blocked_pcs;
	/* The same as read from a profile file: "read <- wait_for_input
	 * <- worker", or NULL. The profile owns the string. */
	const char *blocked;
	/* Heap still reachable at exit: the kind of root its chain starts
	 * at — "global", "stack", "register", "tls", "mapped" (memory the
	 * program mapped itself), "inherited" (a forked child's), "early"
	 * (a block allocated before ward started: a library's constructor
	 * made it), "libc"
	 * (only the C library's or the loader's own data: locale tables,
	 * stdio buffers, the environment), "loader" (blocks the dynamic
	 * loader allocated) — or NULL. The profile owns the string. */
	const char *root;
};

/*
 * ward_profile_snapshot - aggregate the registry by site, now. Other
 * threads may keep acquiring and releasing meanwhile; each site's counts
 * are read atomically. Returns NULL when out of memory.
 */
WARD_API ward_profile_t *ward_profile_snapshot(void);

/*
 * ward_profile_diff - what grew from `base` to `now`, as a profile: for each
 * site, now's values minus base's. Sites whose values did not change are
 * left out. Returns NULL when out of memory.
 */
WARD_API ward_profile_t *ward_profile_diff(const ward_profile_t *base,
					   const ward_profile_t *now);

/* ward_profile_free - release a profile. Accepts NULL. */
WARD_API void ward_profile_free(ward_profile_t *p);

/* Number of samples, and sample i (0 <= i < count). */
WARD_API size_t ward_profile_count(const ward_profile_t *p);
WARD_API const struct ward_sample *ward_profile_sample(const ward_profile_t *p,
						       size_t i);

/*
 * Figures the modules keep of their objects, as of the snapshot: each
 * pool's (gets, hits, misses, in use, cached, bytes retained, victims
 * freed, dropped, misuses) and the finalizer monitor's. Reports print
 * them, the pprof profile carries them as comments ("pool conns: cached
 * 12", `go tool pprof -comments`) and reads them back, /metrics serves
 * them. A diff carries the newer profile's. The profile owns the strings.
 */
struct ward_figure {
	const char *what;   /* "pool", "refs" */
	const char *name;   /* which one ("conns"); "" for the only one */
	const char *figure; /* "cached" */
	const char *help;   /* what it counts; NULL in a profile read back */
	bool counter;       /* only grows (else it goes up and down) */
	uint64_t value;
};
WARD_API size_t ward_profile_figure_count(const ward_profile_t *p);
WARD_API const struct ward_figure *ward_profile_figure(const ward_profile_t *p,
						       size_t i);

/*
 * ward_profile_kind_name - the name of a kind as the profile knows it: the
 * registry's names when the snapshot was taken, or the names a profile
 * file gave. NULL for a kind the profile does not know. The profile owns
 * the string.
 */
WARD_API const char *ward_profile_kind_name(const ward_profile_t *p, int kind);

/* Where exporters write: called with consecutive pieces of the output. */
typedef void (*ward_write_fn)(void *opaque, const void *buf, size_t len);

enum ward_format {
	WARD_FORMAT_PPROF = 0, /* profile.proto, gzipped: go tool pprof */
	WARD_FORMAT_TEXT = 1,  /* pprof -top style, with stacks */
	WARD_FORMAT_JSON = 2,
	/* profile.proto with its functions and lines (inlined frames too),
	 * as Go's own profiles: readable without the binaries, on another
	 * machine or in a profile store. Costs the symbolization. */
	WARD_FORMAT_PPROF_NAMED = 3,
};

/*
 * ward_profile_write - export p in a format through write(opaque, ...).
 * Returns 0, -EINVAL for an unknown format, -ENOMEM.
 *
 * Naming frames reads debug information, which takes more stack than a
 * thread made with a small one has: where the caller's stack has less
 * than 1 MiB left, this runs (write included) on a stack of ward's own,
 * and so do ward_profile_save(), ward_profile_write_summary(),
 * ward_profile_by_line(), ward_profile_suppress(), and ward_who_holds()'s
 * and ward_ref_cycles()' scans. write must return, not jump out.
 *
 * pprof: laid out like Go's heap profile. Sample types alloc_objects/count,
 * alloc_space/bytes, inuse_objects/count, inuse_space/bytes (the default);
 * period type space/bytes; a "kind" label on every sample; one mapping per
 * loaded object with its path and build id, so `go tool pprof` symbolizes
 * the addresses with the binaries on disk.
 */
WARD_API int ward_profile_write(const ward_profile_t *p, enum ward_format fmt,
				ward_write_fn write, void *opaque);

/*
 * ward_profile_save - write p to path atomically: to a temporary file in the
 * same directory, then renamed over path, so a reader never sees half a
 * file and a failed write leaves any old file as it was.
 * Returns 0 or a negative errno.
 */
WARD_API int ward_profile_save(const ward_profile_t *p, const char *path,
			       enum ward_format fmt);

/*
 * ward_profile_read - parse a profile.proto message, gzipped or not, as
 * ward_profile_save() writes it (other producers' heap profiles work too:
 * samples keep the values of the sample types named alloc_objects,
 * alloc_space, inuse_objects and inuse_space, and their "kind" label).
 * On success returns 0 and sets *out (free with ward_profile_free()).
 * A malformed or truncated input returns -EBADMSG and, when err is not NULL,
 * a sentence naming the problem in err; -ENOMEM, -EFBIG (over 1 GiB
 * decompressed), -EINVAL.
 */
WARD_API int ward_profile_read(const void *buf, size_t len,
			       ward_profile_t **out, char *err, size_t errlen);

/* ward_profile_load - ward_profile_read() on a file's contents; errors also
 * name the file. A regular file or a pipe is read (a device is refused:
 * -EBADMSG, as an empty file is; a directory -EISDIR); at most 1 GiB
 * (-EFBIG). Returns 0 or a negative errno. */
WARD_API int ward_profile_load(const char *path, ward_profile_t **out,
			       char *err, size_t errlen);

/* ---- What reports are made of (the ward command uses these) ----------- */

/*
 * ward_profile_frames - the frames at return address pc of profile p, as
 * reports print them: "function+0xoff (object) file:line" for the function
 * containing pc, last; before it, innermost first, each function inlined
 * there ("(inlined)"). Named from what the profile carries, else from the
 * files its mappings name (a profile read from a file) or from this
 * process. Returns how many (>= 1 when max >= 1). Control characters come
 * out as '?'.
 */
struct ward_frame {
	char text[512];
};
enum { WARD_MAX_INLINE = 16 };
WARD_API int ward_profile_frames(const ward_profile_t *p, uintptr_t pc,
				 struct ward_frame *out, int max);

/*
 * ward_frame_function - cut a frame's text down to its function's name
 * ("name (object)" with with_object), for matching frames across builds;
 * a frame without a name becomes "object+offset".
 */
WARD_API void ward_frame_function(char *text, bool with_object);

/* ward_profile_top - a new profile of p's n sites holding the most, in
 * report order; NULL when out of memory. Stacks are shared with p. */
WARD_API ward_profile_t *ward_profile_top(const ward_profile_t *p, size_t n);

/*
 * ward_profile_by_line - a new profile of p's live samples as a report's
 * rows: those that read the same — kind, class, holder, root and every
 * frame's function and line, offsets aside (an unrolled loop acquires at
 * several addresses on one line) — merged, their counts added, each with
 * the stack of its largest, in report order. n > 0: the first n rows
 * (merging what comes before a row past them would start); 0: all. When
 * rows were left out, the text format heads the rest "the n sites holding
 * the most" and gives each row's share of all p holds. NULL when out of
 * memory. Stacks are shared with p. The text format merges so by itself;
 * pprof and JSON keep each site.
 */
WARD_API ward_profile_t *ward_profile_by_line(const ward_profile_t *p,
					      size_t n);

/* ward_profile_clear_live - take sample i's live values out (a
 * suppression); its acquisition totals stay. */
WARD_API void ward_profile_clear_live(ward_profile_t *p, size_t i);

/*
 * Suppressions, in LeakSanitizer's syntax: one "leak:PATTERN" a line, '#'
 * starts a comment. A pattern matches a site when it matches, anywhere in
 * the site's stack, a frame's function name, its object's file name or
 * its source file; '*' matches any run of characters, '^' and '$' anchor,
 * and a pattern is otherwise found anywhere in the name.
 *
 * ward_suppressions_parse - the patterns of text (NULL: none), after the
 * built-in list when with_defaults (the C library's and the dynamic
 * loader's own allocations, which a program cannot free). Returns 0 and
 * *out, to be freed with ward_suppressions_free(); -EINVAL with the line
 * and its number in err when a line is not a suppression; -ENOMEM.
 * ward_suppressions_load - the same from a file: also a negative errno
 * when it cannot be read, with the reason in err.
 */
typedef struct ward_suppressions ward_suppressions_t;
WARD_API int ward_suppressions_parse(const char *text, bool with_defaults,
				     ward_suppressions_t **out, char *err,
				     size_t errlen);
WARD_API int ward_suppressions_load(const char *path, bool with_defaults,
				    ward_suppressions_t **out, char *err,
				    size_t errlen);
WARD_API void ward_suppressions_free(ward_suppressions_t *s);

/*
 * ward_profile_suppress - take the live values of every site of p that a
 * suppression of s matches out of p (its acquisition totals stay), adding
 * what was taken to *out: what is suppressed is counted, never dropped in
 * silence. Returns 0, or -EINVAL for a NULL argument.
 */
struct ward_suppressed {
	int64_t count, bytes; /* live resources and their bytes */
	size_t sites;
};
WARD_API int ward_profile_suppress(ward_profile_t *p,
				   const ward_suppressions_t *s,
				   struct ward_suppressed *out);

/*
 * ward_profile_own_suppressions - the suppressions the traced program gave
 * for itself, as it would to LeakSanitizer (a __lsan_default_suppressions()
 * of its own, asked when the tracer wrote the profile), a "leak:PATTERN"
 * a line; NULL when it gave none. The profile carries them ("suppression:
 * leak:PATTERN" comments); `ward run` and `ward report` apply them after
 * the others and count what they took on a line of its own.
 */
WARD_API const char *ward_profile_own_suppressions(const ward_profile_t *p);

/* "definite", "indirect", "reachable" for enum ward_leak, else NULL. */
WARD_API const char *ward_leak_name(int leak);

/* Whether a kind's sizes are bytes (heap, user kinds), not counts. */
WARD_API bool ward_kind_sized(int kind);

/*
 * ward_profile_write_summary - what `ward run` prints when a program ends:
 * per-kind totals (of the kinds marked in kinds[WARD_KIND_USER]; all when
 * NULL) under "ward: HEAD:", then the ten sites holding the most.
 */
WARD_API void ward_profile_write_summary(const ward_profile_t *p,
					 const char *head, const bool *kinds,
					 ward_write_fn write, void *opaque);

/*
 * Saving any file as profiles are saved. ward_save_target: where path
 * would be written (itself when new or a regular file; the regular file a
 * symbolic link names), into out; -EISDIR, -EEXIST (a device, FIFO or
 * socket: never replaced), -ENOLINK (a link to nothing), -EBADFD (a link
 * to an open descriptor, as /dev/stdout: replacing its file would take
 * that file from whoever writes to the descriptor), -ENAMETOOLONG
 * otherwise.
 * ward_save_profile_target: the same for a profile, and -EMEDIUMTYPE when
 * the regular file there holds something else (not empty, not gzip data
 * as every profile is): the tracer and `ward run` replace a profile,
 * never another file.
 * ward_save_atomic: fill(fd, ctx) writes a temporary file beside it, then
 * it is renamed over the target. ward_save_strerror: words for those
 * errors.
 */
WARD_API int ward_save_target(const char *path, char *out, size_t len);
WARD_API int ward_save_profile_target(const char *path, char *out,
				     size_t len);
WARD_API int ward_save_atomic(const char *path, int (*fill)(int fd, void *ctx),
			      void *ctx);
WARD_API const char *ward_save_strerror(int err);

/* Whether source lines may come from separate debug files found by build
 * id (/usr/lib/debug/.build-id): the ward command turns it on. */
WARD_API void ward_symbolize_separate_debuginfo(bool on);

/*
 * Keep the source positions found for each ELF file in dir, one file per
 * GNU build id, and look there first: reading DWARF (the C library's
 * separate debug file alone is megabytes of compressed sections) is then
 * paid once per file and address, not once per report. What was added is
 * written at exit (atomically; a cache file that does not parse is
 * ignored and rewritten). NULL or "" turns it off (the default). The ward
 * command keeps it in $WARD_CACHE_DIR, else $XDG_CACHE_HOME/ward/lines,
 * else ~/.cache/ward/lines.
 */
WARD_API void ward_symbolize_cache(const char *dir);

#ifdef __cplusplus
}
#endif

#endif /* WARD_PROFILE_H */
