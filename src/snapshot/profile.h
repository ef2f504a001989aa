/*
 * A profile (snapshot.c, describe.c): samples, and what names them — the
 * kinds' names and, for a profile read from a file, its mappings. A
 * profile owns all of it, so it reads the same after the registry moved
 * on and in a process that never registered its kinds.
 */
#ifndef WARD_SNAPSHOT_PROFILE_H
#define WARD_SNAPSHOT_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ward/profile.h"
#include "ward/track.h"

struct ward_profile {
	struct ward_sample *samples;
	uint32_t *sites;     /* site id of each sample, ascending */
	size_t count;
	uintptr_t *owned_pcs; /* stacks owned by this profile, if any */
	/* The objects its addresses lie in (mappings.c). A profile read
	 * from a file names its frames through them; a snapshot of this
	 * process through the objects loaded now, which are faster to read
	 * and know the libraries' inlined frames as well. */
	struct ward__mapping *maps;
	size_t nmaps;
	bool from_file;
	bool by_line;        /* its rows merged already (by_line below) */
	/* A summary's top rows, not all there is: the bytes of the sized
	 * kinds in the whole they were cut from (their percentages' base). */
	bool top_rows;
	int64_t whole_bytes;
	char *kind_names[WARD_KIND_MAX]; /* owned; NULL: no such kind */
	char **labels;       /* owner paths the samples point to, owned */
	size_t nlabels, caplabels;
	/* Names a profile read from a file carried (its Function and Line
	 * tables): frames for a pc, innermost first, pcs ascending. */
	struct ward__named_pc *named;
	size_t nnamed;
	struct ward__src_frame *named_frames;
	size_t nnamed_frames;
	/* The modules' figures (figures.c); strings among labels. */
	struct ward_figure *figures;
	size_t nfigures, capfigures;
	/* The suppressions the program gave for itself, a line each
	 * (suppress.c); NULL: none. */
	char *own_suppressions;
};

struct ward__named_pc {
	uintptr_t pc;
	uint32_t first, n; /* into named_frames */
};

/* The frames p carries for pc, or NULL (*n set). */
const struct ward__src_frame *ward__profile_named(const struct ward_profile *p,
						  uintptr_t pc, uint32_t *n);

/* p's own copy of label s (the same pointer for the same text), or NULL
 * when out of memory. */
const char *ward__profile_label(struct ward_profile *p, const char *s);

/* Point dst's samples' owner labels at dst's own copies (after copying
 * samples from another profile). 0 or -ENOMEM. */
int ward__profile_own_labels(struct ward_profile *dst);

/* Split p's samples by the owner holding their resources (the registry's
 * holders). 0 or -ENOMEM. */
int ward__profile_split_by_holder(struct ward_profile *p);

/* The same for the holders labelled `label` only: those given their
 * label after p was taken (a split sample is not split again). */
int ward__profile_split_by_label(struct ward_profile *p, const char *label);

/* The handles of a kind that holders (owners) hold, sorted. */
struct ward__handles {
	uintptr_t *v;
	size_t n, cap;
};
int ward__held_handles(int kind, struct ward__handles *out);
bool ward__handles_has(const struct ward__handles *h, uintptr_t handle);

/* Add one suppression line the program gave for itself to p's
 * (ward_profile_own_suppressions). 0 or -ENOMEM. */
int ward__profile_add_own_suppression(struct ward_profile *p,
				      const char *line, size_t len);

/* Add a figure to p, its strings copied among p's labels (help may be
 * NULL). 0 or -ENOMEM. */
int ward__profile_add_figure(struct ward_profile *p, const char *what,
			     const char *name, const char *figure,
			     const char *help, bool counter, uint64_t value);

/* Copy the modules' figures now into p (a snapshot). 0 or -ENOMEM. */
int ward__profile_take_figures(struct ward_profile *p);

/* A profile of the figures alone, now (no samples: cheap). NULL when out
 * of memory. */
struct ward_profile *ward__profile_figures_now(void);

/* An empty profile with room for cap samples, or NULL. */
struct ward_profile *ward__profile_new(size_t cap);

/* Name p's kinds as the registry names them now. 0 or -ENOMEM. */
int ward__profile_name_live_kinds(struct ward_profile *p);

/* Give dst copies of src's kind names, mappings, carried names and
 * figures. 0 or -ENOMEM. */
int ward__profile_copy_names(struct ward_profile *dst,
			     const struct ward_profile *src);

/* Name kind in p (a copy of name); 0 or -ENOMEM. */
int ward__profile_name_kind(struct ward_profile *p, int kind,
			    const char *name);

/* Whether a kind's sizes are bytes: the heap's and user kinds' are;
 * descriptors, FILEs and threads are counted, not measured. */
static inline bool ward__kind_sized(int kind)
{
	return kind == WARD_KIND_HEAP || kind >= WARD_KIND_USER;
}

/* p's samples in report order: heap definitely lost, then indirectly
 * lost, the other kinds, heap not classified, heap still reachable; in
 * each, live bytes then live count, largest first. Free the array. */
const struct ward_sample **ward__profile_sorted(const struct ward_profile *p);

/* A mapping as pprof describes it. */
struct ward__mapping {
	uint64_t start, limit, offset;
	char *file;     /* owned */
	char *build_id; /* owned, hex; NULL when unknown */
};

/* Add this process's mappings to p (a snapshot). 0 or -ENOMEM. */
int ward__profile_map_process(struct ward_profile *p);

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

/* Whether a suppression of s matches a frame of the stack pcs[0..depth),
 * named through p (NULL: this process). suppress.c. */
bool ward__suppressed(const struct ward_suppressions *s,
		      const struct ward_profile *p, const uintptr_t *pcs,
		      int depth);

/* The same as (function, file, line), innermost first; 0 when nothing
 * names the address. */
struct ward__src_frame;
int ward__name_frames(const struct ward_profile *p, uintptr_t pc,
		      struct ward__src_frame *out, int max);

/* The last of those frames: the function containing the address. */
void ward__describe(const struct ward_profile *p, uintptr_t pc, char *buf,
		    size_t len);
void ward__describe_pc(uintptr_t pc, char *buf, size_t len);

/* Who holds each block the scan was asked about: a line per path, from
 * its root, named (roots.c). 0 or -ENOMEM. */
struct ward__scan_path;
int ward__write_paths(const struct ward__scan_path *paths, size_t n,
		      ward_write_fn write, void *opaque);

/* The sites a who-holds-it pattern names (a function, object or source
 * file anywhere in the stack, as a leak: suppression): parsed once, then
 * asked of each site (the scan's want callback, pattern the parsed one). */
int ward__site_pattern(const char *pattern, ward_suppressions_t **out,
		       char *err, size_t errlen);
bool ward__site_matches(uint32_t site, void *pattern);

/* Cut a frame's text down to its function's name ("name (object)" with
 * with_object), for matching frames across builds and merging them; a
 * frame without a name becomes "object+offset" (its address moves from
 * run to run). */
void ward__frame_function(char *frame, bool with_object);

/* A new profile of p's n sites holding the most (bytes, then objects),
 * largest first; NULL when out of memory. Stacks are shared with p. */
struct ward_profile *ward__profile_top(const struct ward_profile *p, size_t n);

/* ward_profile_by_line() (ward/profile.h). */
struct ward_profile *ward__profile_by_line(const struct ward_profile *p,
					   size_t n);

/* A copy of p whose heap samples are split by the scan's classes (their
 * `leak` set); NULL when out of memory. */
struct ward__scan_result;
struct ward_profile *ward__profile_classify(const struct ward_profile *p,
					    const struct ward__scan_result *r);

/* "definite", "indirect", "reachable", or NULL. */
const char *ward__leak_name(int leak);

#endif
