/*
 * suppress.c — leak suppressions for `ward report` and `ward run`
 * (suppress.h). Patterns are few and stacks short: each site's frames are
 * named once and every pattern tried on each.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/sat.h"
#include "suppress.h"

struct suppressions {
	char **pat;
	size_t n;
};

/* The C library's and the dynamic loader's own allocations, which a
 * program cannot free: stdio's buffers, the loader's and thread-local
 * storage's bookkeeping. */
static const char *const defaults[] = {
	"_IO_file_doallocate", "ld-linux-x86-64.so.2", "_dl_allocate_tls",
	"__libc_setlocale", "_nl_load_locale", "__gconv_open",
};

static void add(struct suppressions *s, const char *pat)
{
	char **np = realloc(s->pat, (s->n + 1) * sizeof(*np));
	if (!np || !(np[s->n] = strdup(pat))) {
		fprintf(stderr, "ward: out of memory\n");
		exit(2);
	}
	s->pat = np;
	s->n++;
}

struct suppressions *suppressions_load(const char *file, bool with_defaults)
{
	struct suppressions *s = calloc(1, sizeof(*s));
	if (!s) {
		fprintf(stderr, "ward: out of memory\n");
		exit(2);
	}
	for (size_t i = 0; with_defaults && i < sizeof(defaults) / sizeof(*defaults); i++)
		add(s, defaults[i]);
	if (!file)
		return s;
	FILE *f = fopen(file, "r");
	if (!f) {
		fprintf(stderr, "ward: %s: %s\n", file, strerror(errno));
		exit(2);
	}
	char line[1024];
	for (int no = 1; fgets(line, sizeof(line), f); no++) {
		char *p = line, *e;
		while (*p == ' ' || *p == '\t')
			p++;
		if ((e = strchr(p, '#')))
			*e = '\0';
		e = p + strlen(p);
		while (e > p && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' ||
				 e[-1] == '\t'))
			*--e = '\0';
		if (!*p)
			continue;
		if (strncmp(p, "leak:", 5) != 0 || !p[5]) {
			fprintf(stderr, "ward: %s:%d: not a suppression "
					"(leak:PATTERN): '%s'\n",
				file, no, p);
			exit(2);
		}
		add(s, p + 5);
	}
	fclose(f);
	return s;
}

void suppressions_free(struct suppressions *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->pat[i]);
	free(s->pat);
	free(s);
}

/* Whether glob pattern p (with '*') matches all of name[0..len). */
static bool glob(const char *p, const char *name, size_t len)
{
	if (!*p)
		return len == 0;
	if (*p == '*') {
		for (size_t k = 0; k <= len; k++)
			if (glob(p + 1, name + k, len - k))
				return true;
		return false;
	}
	return len > 0 && *p == *name && glob(p + 1, name + 1, len - 1);
}

/* LeakSanitizer's rule: anchored by '^' and '$', else found anywhere. */
static bool matches(const char *pat, const char *name, size_t len)
{
	char buf[1024];
	bool start = pat[0] == '^';
	size_t n = strlen(pat + start);
	bool end = n > 0 && pat[start + n - 1] == '$';
	snprintf(buf, sizeof(buf), "%s%.*s%s", start ? "" : "*",
		 (int)(n - end), pat + start, end ? "" : "*");
	return glob(buf, name, len);
}

/* The function, object and source file of a frame's text
 * ("fn+0x1a (obj) file.c:12", "fn (obj) file.c:3 (inlined)",
 * "0x7f.. (obj+0x10)"), each tried against pat. */
static bool frame_matches(const char *pat, const char *frame)
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

void suppressions_apply(const struct suppressions *s, ward_profile_t *p,
			struct suppressed *out)
{
	struct ward_frame fr[WARD_MAX_INLINE];
	for (size_t i = 0; s->n && i < ward_profile_count(p); i++) {
		const struct ward_sample *smp = ward_profile_sample(p, i);
		bool hit = false;
		if (smp->live_count == 0)
			continue;
		for (int d = 0; d < smp->depth && !hit; d++) {
			int nf = ward_profile_frames(p, smp->pcs[d], fr, WARD_MAX_INLINE);
			for (int j = 0; j < nf && !hit; j++)
				for (size_t k = 0; k < s->n && !hit; k++)
					hit = frame_matches(s->pat[k], fr[j].text);
		}
		if (!hit)
			continue;
		out->count = ward__sat_add(out->count, smp->live_count);
		out->bytes = ward__sat_add(out->bytes, smp->live_bytes);
		out->sites++;
		ward_profile_clear_live(p, i);
	}
}
