/*
 * suppress.c — leak suppressions in LeakSanitizer's syntax (ward/profile.h):
 * one "leak:PATTERN" a line, '#' starts a comment. A pattern matches a site
 * when it matches, anywhere in its stack, a frame's function name, its
 * object's file name or its source file. Patterns are few and stacks
 * short: each frame is named once and every pattern tried on it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/file.h"
#include "core/sat.h"
#include "core/stacks.h"
#include "core/text.h"
#include "snapshot/profile.h"

/* A pattern as LeakSanitizer reads it: '^' and '$' anchor it, '*' stands
 * for any run of characters, and one not anchored is found anywhere.
 * Taken apart once here, not for every frame it is tried on. */
struct pattern {
	char *glob;       /* as a glob: a '*' for each end not anchored */
	size_t glen;
	const char *text; /* in glob, less those '*'s */
	size_t len;
	bool start, end, wild; /* wild: a '*' of its own inside */
};

struct ward_suppressions {
	struct pattern *pat;
	size_t n;
};

/* The C library's and the dynamic loader's own allocations, which a
 * program cannot free: stdio's buffers, the loader's and thread-local
 * storage's bookkeeping. */
static const char *const defaults[] = {
	"_IO_file_doallocate", "ld-linux-x86-64.so.2", "_dl_allocate_tls",
	"__libc_setlocale", "_nl_load_locale", "__gconv_open",
};

static int add(struct ward_suppressions *s, const char *pat, size_t len)
{
	struct pattern *np = realloc(s->pat, (s->n + 1) * sizeof(*np));
	if (!np)
		return -ENOMEM;
	s->pat = np;
	struct pattern *t = &np[s->n];
	t->start = len > 0 && pat[0] == '^';
	pat += t->start;
	len -= t->start;
	t->end = len > 0 && pat[len - 1] == '$';
	len -= t->end;
	t->wild = memchr(pat, '*', len) != NULL;
	t->glen = !t->start + len + !t->end;
	if (!(t->glob = malloc(t->glen + 1)))
		return -ENOMEM;
	snprintf(t->glob, t->glen + 1, "%s%.*s%s", t->start ? "" : "*",
		 (int)len, pat, t->end ? "" : "*");
	t->text = t->glob + !t->start;
	t->len = len;
	s->n++;
	return 0;
}

WARD_API void ward_suppressions_free(ward_suppressions_t *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->pat[i].glob);
	free(s->pat);
	free(s);
}

/* Both entry points start the same: nothing said yet, nothing made. */
static int start(ward_suppressions_t **out, char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	if (!out)
		return -EINVAL;
	*out = NULL;
	return 0;
}

WARD_API int ward_suppressions_parse(const char *text, bool with_defaults,
				     ward_suppressions_t **out, char *err,
				     size_t errlen)
{
	if (start(out, err, errlen) < 0)
		return -EINVAL;
	struct ward_suppressions *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	int rc = 0;
	for (size_t i = 0; with_defaults && !rc &&
			   i < sizeof(defaults) / sizeof(*defaults); i++)
		rc = add(s, defaults[i], strlen(defaults[i]));
	for (int no = 1; text && *text && !rc; no++) {
		size_t len = strcspn(text, "\n");
		const char *p = text, *e = text + len;
		text = *e ? e + 1 : e;
		const char *hash = memchr(p, '#', (size_t)(e - p));
		if (hash)
			e = hash;
		while (p < e && (*p == ' ' || *p == '\t'))
			p++;
		while (e > p && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (p == e)
			continue;
		if (e - p <= 5 || strncmp(p, "leak:", 5) != 0) {
			if (err && errlen) {
				snprintf(err, errlen,
					 "line %d: not a suppression "
					 "(leak:PATTERN): '%.*s'",
					 no, (int)(e - p < 200 ? e - p : 200), p);
				ward__printable(err); /* the line is anyone's */
			}
			rc = -EINVAL;
			break;
		}
		rc = add(s, p + 5, (size_t)(e - p - 5));
	}
	if (rc) {
		ward_suppressions_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

WARD_API int ward_suppressions_load(const char *path, bool with_defaults,
				    ward_suppressions_t **out, char *err,
				    size_t errlen)
{
	if (start(out, err, errlen) < 0)
		return -EINVAL;
	if (!path)
		return ward_suppressions_parse(NULL, with_defaults, out, err,
					       errlen);
	char *text;
	ssize_t got = ward__read_file(path, 16 << 20, &text);
	if (got < 0) {
		if (err && errlen)
			snprintf(err, errlen, "%s",
				 got == -EINVAL ? "not a regular file"
				 : got == -EFBIG ? "larger than 16 MiB"
						 : strerror((int)-got));
		return (int)got;
	}
	int rc = ward_suppressions_parse(text, with_defaults, out, err, errlen);
	free(text);
	return rc;
}

/* Whether glob p[0..plen) ('*' any run) matches all of name[0..len): at
 * each mismatch the last '*' takes one character more, so a pattern is
 * tried in time about its length by the name's, never exponential. */
static bool glob(const char *p, size_t plen, const char *name, size_t len)
{
	size_t pi = 0, ni = 0, star = SIZE_MAX, mark = 0;
	while (ni < len) {
		if (pi < plen && p[pi] == '*') {
			star = pi++;
			mark = ni;
		} else if (pi < plen && p[pi] == name[ni]) {
			pi++;
			ni++;
		} else if (star != SIZE_MAX) {
			pi = star + 1;
			ni = ++mark;
		} else {
			return false;
		}
	}
	while (pi < plen && p[pi] == '*')
		pi++;
	return pi == plen;
}

/* LeakSanitizer's rule: anchored by '^' and '$', else found anywhere. */
static bool matches(const struct pattern *t, const char *name, size_t len)
{
	if (t->wild)
		return glob(t->glob, t->glen, name, len);
	if (t->start && t->end)
		return len == t->len && memcmp(name, t->text, len) == 0;
	if (t->start)
		return len >= t->len && memcmp(name, t->text, t->len) == 0;
	if (t->end)
		return len >= t->len &&
		       memcmp(name + len - t->len, t->text, t->len) == 0;
	return memmem(name, len, t->text, t->len) != NULL;
}

/* The function, object and source file of a frame's text
 * ("fn+0x1a (obj) file.c:12", "fn (obj) file.c:3 (inlined)",
 * "0x7f.. (obj+0x10)"), each tried against pat. */
static bool frame_matches(const struct pattern *pat, const char *frame)
{
	const char *open = strstr(frame, " (");
	size_t fn = open ? (size_t)(open - frame) : strlen(frame);
	const char *plus = memchr(frame, '+', fn);
	if (plus)
		fn = (size_t)(plus - frame);
	if (!(frame[0] == '0' && frame[1] == 'x') && matches(pat, frame, fn))
		return true;
	if (!open)
		return false;
	const char *obj = open + 2, *close = strchr(obj, ')');
	if (!close)
		return false;
	size_t olen = strcspn(obj, "+)");
	if (matches(pat, obj, olen))
		return true;
	const char *file = close[1] == ' ' ? close + 2 : NULL;
	if (!file || *file == '(')
		return false;
	return matches(pat, file, strcspn(file, ": "));
}

/* Whether any pattern matches a frame of the code at pc. */
static bool pc_suppressed(const struct ward_suppressions *s,
			  const struct ward_profile *p, uintptr_t pc)
{
	struct ward__frame_text fr[WARD_MAX_INLINE];
	int nf = ward__describe_frames(p, pc, fr, WARD_MAX_INLINE);
	for (int j = 0; j < nf; j++)
		for (size_t k = 0; k < s->n; k++)
			if (frame_matches(&s->pat[k], fr[j].s))
				return true;
	return false;
}

bool ward__suppressed(const struct ward_suppressions *s,
		      const struct ward_profile *p, const uintptr_t *pcs,
		      int depth)
{
	for (int d = 0; s && s->n && d < depth; d++)
		if (pc_suppressed(s, p, pcs[d]))
			return true;
	return false;
}

/*
 * A profile's sites share most of their frames (main, the C library's
 * start, the program's few allocating paths): each code address is named
 * and tried once, its answer kept here by address. Without the memory
 * for it, every frame is named as it comes.
 */
struct pc_answers {
	struct pc_answer {
		uintptr_t pc; /* 0: an empty slot */
		bool yes;
	} *v;
	size_t mask;
};

static bool answers_init(struct pc_answers *a, const struct ward_profile *p)
{
	size_t frames = 0, cap = 64;
	for (size_t i = 0; i < p->count; i++)
		frames += (size_t)p->samples[i].depth;
	while (cap < 2 * frames && cap < ((size_t)1 << 24))
		cap *= 2;
	a->v = calloc(cap, sizeof(*a->v));
	a->mask = cap - 1;
	return a->v != NULL;
}

static bool suppressed_cached(const struct ward_suppressions *s,
			      const struct ward_profile *p,
			      struct pc_answers *a, const uintptr_t *pcs,
			      int depth)
{
	for (int d = 0; d < depth; d++) {
		uintptr_t pc = pcs[d];
		size_t k = (size_t)((pc * 0x9e3779b97f4a7c15ull) >> 20) & a->mask;
		size_t probes = 0;
		while (a->v[k].pc && a->v[k].pc != pc && probes++ <= a->mask)
			k = (k + 1) & a->mask;
		bool yes;
		if (a->v[k].pc == pc) {
			yes = a->v[k].yes;
		} else {
			yes = pc_suppressed(s, p, pc);
			if (!a->v[k].pc && pc) /* full: not kept */
				a->v[k] = (struct pc_answer){ pc, yes };
		}
		if (yes)
			return true;
	}
	return false;
}

static int suppress_here(ward_profile_t *p, const ward_suppressions_t *s,
			 struct ward_suppressed *out)
{
	if (!p || !s || !out)
		return -EINVAL;
	if (!s->n)
		return 0;
	struct pc_answers a;
	bool cached = answers_init(&a, p);
	for (size_t i = 0; i < p->count; i++) {
		struct ward_sample *smp = &p->samples[i];
		if (smp->live_count == 0 ||
		    !(cached ? suppressed_cached(s, p, &a, smp->pcs, smp->depth)
			     : ward__suppressed(s, p, smp->pcs, smp->depth)))
			continue;
		out->count = ward__sat_add(out->count, smp->live_count);
		out->bytes = ward__sat_add(out->bytes, smp->live_bytes);
		out->sites++;
		smp->live_count = smp->live_bytes = 0;
	}
	free(a.v);
	return 0;
}

struct suppressing {
	ward_profile_t *p;
	const ward_suppressions_t *s;
	struct ward_suppressed *out;
	int rc;
};

static void suppress_deep(void *arg)
{
	struct suppressing *u = arg;
	u->rc = suppress_here(u->p, u->s, u->out);
}

/* On a stack with room for naming frames (ward__deep). */
WARD_API int ward_profile_suppress(ward_profile_t *p,
				   const ward_suppressions_t *s,
				   struct ward_suppressed *out)
{
	struct suppressing u = { p, s, out, 0 };
	ward__deep(suppress_deep, &u);
	return u.rc;
}

/* ---- The program's own ------------------------------------------------- */

int ward__profile_add_own_suppression(struct ward_profile *p,
				      const char *line, size_t len)
{
	size_t had = p->own_suppressions ? strlen(p->own_suppressions) : 0;
	char *v = realloc(p->own_suppressions, had + len + 2);
	if (!v)
		return -ENOMEM;
	memcpy(v + had, line, len);
	v[had + len] = '\n';
	v[had + len + 1] = '\0';
	p->own_suppressions = v;
	return 0;
}

WARD_API const char *ward_profile_own_suppressions(const ward_profile_t *p)
{
	return p ? p->own_suppressions : NULL;
}
