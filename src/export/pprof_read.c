/*
 * pprof_read.c — reading profile.proto files back (ours, and other
 * producers' heap-like profiles): gzip or raw bytes in, a ward_profile out.
 *
 * This reads outside input, so every length, index and reference is
 * checked, and a malformed file is refused with a message that names what
 * is wrong and where (byte offset in the decompressed message), never with
 * a crash. tests/fuzz_pprof.c is its libFuzzer harness.
 *
 * What it keeps: each sample's stack (location addresses, plus one, back to
 * return addresses as ward stores them), its "kind" label (heap when
 * absent), and the values of the sample types named alloc_objects,
 * alloc_space, inuse_objects and inuse_space (missing ones are zero).
 * Mappings are kept for symbolization.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "core/grow.h"
#include "core/text.h"
#include "export/export.h"
#include "snapshot/symbolize.h"
#include "ward/track.h"

enum { INPUT_LIMIT = 1 << 30 };

struct rd {
	const uint8_t *p, *end, *base;
	char *err;
	size_t errlen;
	bool failed;
};

static void fail(struct rd *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void fail(struct rd *r, const char *fmt, ...)
{
	if (r->failed)
		return;
	r->failed = true;
	if (!r->err || !r->errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->err, r->errlen, fmt, ap);
	va_end(ap);
}

static uint64_t varint(struct rd *r)
{
	uint64_t v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (r->p >= r->end) {
			fail(r, "truncated varint at byte %zu",
			     (size_t)(r->p - r->base));
			return 0;
		}
		uint8_t b = *r->p++;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
	}
	fail(r, "varint longer than 10 bytes at byte %zu",
	     (size_t)(r->p - r->base));
	return 0;
}

/* A length-delimited field's body as a sub-reader. */
static struct rd sub(struct rd *r)
{
	struct rd s = *r;
	uint64_t n = varint(r);
	if (r->failed)
		return s;
	if (n > (uint64_t)(r->end - r->p)) {
		fail(r, "field of %llu bytes at byte %zu runs past the end",
		     (unsigned long long)n, (size_t)(r->p - r->base));
		s.p = s.end = r->p;
		return s;
	}
	s.p = r->p;
	s.end = r->p + n;
	r->p += n;
	return s;
}

static void skip(struct rd *r, int wire)
{
	switch (wire) {
	case 0:
		varint(r);
		break;
	case 1:
		if (r->end - r->p < 8)
			fail(r, "truncated fixed64 at byte %zu",
			     (size_t)(r->p - r->base));
		else
			r->p += 8;
		break;
	case 2:
		sub(r);
		break;
	case 5:
		if (r->end - r->p < 4)
			fail(r, "truncated fixed32 at byte %zu",
			     (size_t)(r->p - r->base));
		else
			r->p += 4;
		break;
	default:
		fail(r, "unknown wire type %d at byte %zu", wire,
		     (size_t)(r->p - r->base));
	}
}

/* Read a repeated uint64 field, packed or not, appending to *v. */
struct u64s {
	uint64_t *v;
	size_t n, cap;
};

static void push(struct rd *r, struct u64s *a, uint64_t x)
{
	uint64_t *nv = ward__grow(a->v, &a->cap, a->n + 1, sizeof(*nv), 8);
	if (!nv) {
		fail(r, "out of memory");
		return;
	}
	a->v = nv;
	a->v[a->n++] = x;
}

static void repeated(struct rd *r, int wire, struct u64s *a)
{
	if (wire == 0) {
		uint64_t x = varint(r);
		if (!r->failed)
			push(r, a, x);
	} else if (wire == 2) {
		struct rd s = sub(r);
		while (!r->failed && !s.failed && s.p < s.end)
			push(r, a, varint(&s));
		if (s.failed)
			fail(r, "%s", s.err ? s.err : "bad packed field");
	} else {
		fail(r, "repeated integer with wire type %d at byte %zu", wire,
		     (size_t)(r->p - r->base));
	}
}

/* ---- The messages ------------------------------------------------------ */

struct sample {
	struct u64s locs, vals;
	/* Labels as (key string << 32 | value string), resolved once the
	 * string table is read: the first six are kept. */
	struct {
		uint64_t key, str; /* string table indexes */
	} labels[6];
	int nlabels;
};

struct location {
	uint64_t id, address, mapping;
	size_t first_line, nlines; /* into parsed.lines */
};

/* A Location's Line: its function and line (innermost first). */
struct line {
	uint64_t function, line;
};

struct function {
	uint64_t id, name, filename; /* string indexes */
};

struct parsed {
	struct line *lines;
	size_t nlines, caplines;
	struct function *funcs;
	size_t nfuncs, capfuncs;
	struct u64s type_str; /* string index of each sample type's name */
	struct sample *samples;
	size_t nsamples, capsamples;
	struct location *locs;
	size_t nlocs, caplocs;
	struct ward__mapping *maps;
	size_t nmaps, capmaps;
	struct u64s map_file_str, map_build_id_str, map_id;
	struct u64s comments; /* string indices */
	const uint8_t **strs;
	size_t *strlens;
	size_t nstrs, capstrs, caplens;
};

static void *grow(struct rd *r, void *v, size_t *cap, size_t n, size_t elem)
{
	void *nv = ward__grow(v, cap, n + 1, elem, 16);
	if (!nv) {
		fail(r, "out of memory");
		return v;
	}
	return nv;
}

static void read_label(struct rd *r, struct rd s, uint64_t *key_out,
		       uint64_t *str_out)
{
	uint64_t key = 0, str = 0;
	while (!s.failed && s.p < s.end) {
		uint64_t tag = varint(&s);
		int f = (int)(tag >> 3), w = (int)(tag & 7);
		if (f == 1 && w == 0)
			key = varint(&s);
		else if (f == 2 && w == 0)
			str = varint(&s);
		else
			skip(&s, w);
	}
	if (s.failed) {
		fail(r, "%s (in a label)", s.err);
		return;
	}
	/* Resolved after the string table is read: keep both indexes. */
	*key_out = key;
	*str_out = str;
}

static void read_sample(struct rd *r, struct rd s, struct parsed *pp)
{
	pp->samples = grow(r, pp->samples, &pp->capsamples, pp->nsamples,
			   sizeof(*pp->samples));
	if (r->failed)
		return;
	struct sample *sm = &pp->samples[pp->nsamples++];
	while (!s.failed && !r->failed && s.p < s.end) {
		uint64_t tag = varint(&s);
		int f = (int)(tag >> 3), w = (int)(tag & 7);
		if (f == 1)
			repeated(&s, w, &sm->locs);
		else if (f == 2)
			repeated(&s, w, &sm->vals);
		else if (f == 3 && w == 2) {
			uint64_t key = 0, str = 0;
			read_label(r, sub(&s), &key, &str);
			if (key && sm->nlabels < 6) {
				sm->labels[sm->nlabels].key = key;
				sm->labels[sm->nlabels++].str = str;
			}
		} else
			skip(&s, w);
	}
	if (s.failed)
		fail(r, "%s (in sample %zu)", s.err, pp->nsamples);
}

static void read_location(struct rd *r, struct rd s, struct parsed *pp)
{
	pp->locs = grow(r, pp->locs, &pp->caplocs, pp->nlocs, sizeof(*pp->locs));
	if (r->failed)
		return;
	struct location *l = &pp->locs[pp->nlocs++];
	*l = (struct location){ .first_line = pp->nlines };
	while (!s.failed && s.p < s.end) {
		uint64_t tag = varint(&s);
		int f = (int)(tag >> 3), w = (int)(tag & 7);
		if (f == 1 && w == 0)
			l->id = varint(&s);
		else if (f == 2 && w == 0)
			l->mapping = varint(&s);
		else if (f == 3 && w == 0)
			l->address = varint(&s);
		else if (f == 4 && w == 2) { /* a Line: the names it carries */
			struct rd ls = sub(&s);
			struct line ln = { 0, 0 };
			while (!ls.failed && ls.p < ls.end) {
				uint64_t t = varint(&ls);
				if ((t >> 3) == 1 && (t & 7) == 0)
					ln.function = varint(&ls);
				else if ((t >> 3) == 2 && (t & 7) == 0)
					ln.line = varint(&ls);
				else
					skip(&ls, (int)(t & 7));
			}
			if (ls.failed) {
				s.failed = true;
				s.err = ls.err;
				break;
			}
			pp->lines = grow(r, pp->lines, &pp->caplines, pp->nlines,
					 sizeof(*pp->lines));
			if (r->failed)
				return;
			pp->lines[pp->nlines++] = ln;
			l->nlines++;
		} else
			skip(&s, w);
	}
	if (s.failed)
		fail(r, "%s (in location %zu)", s.err, pp->nlocs);
	else if (l->id == 0)
		fail(r, "location %zu has no id", pp->nlocs);
}

static void read_function(struct rd *r, struct rd s, struct parsed *pp)
{
	pp->funcs = grow(r, pp->funcs, &pp->capfuncs, pp->nfuncs,
			 sizeof(*pp->funcs));
	if (r->failed)
		return;
	struct function *fn = &pp->funcs[pp->nfuncs++];
	*fn = (struct function){ 0, 0, 0 };
	while (!s.failed && s.p < s.end) {
		uint64_t tag = varint(&s);
		int f = (int)(tag >> 3), w = (int)(tag & 7);
		if (f == 1 && w == 0)
			fn->id = varint(&s);
		else if (f == 2 && w == 0)
			fn->name = varint(&s);
		else if (f == 4 && w == 0)
			fn->filename = varint(&s);
		else
			skip(&s, w);
	}
	if (s.failed)
		fail(r, "%s (in function %zu)", s.err, pp->nfuncs);
}

static void read_mapping(struct rd *r, struct rd s, struct parsed *pp)
{
	pp->maps = grow(r, pp->maps, &pp->capmaps, pp->nmaps, sizeof(*pp->maps));
	if (r->failed)
		return;
	struct ward__mapping *m = &pp->maps[pp->nmaps++];
	uint64_t id = 0, file = 0, build_id = 0;
	while (!s.failed && s.p < s.end) {
		uint64_t tag = varint(&s);
		int f = (int)(tag >> 3), w = (int)(tag & 7);
		if (f == 1 && w == 0)
			id = varint(&s);
		else if (f == 2 && w == 0)
			m->start = varint(&s);
		else if (f == 3 && w == 0)
			m->limit = varint(&s);
		else if (f == 4 && w == 0)
			m->offset = varint(&s);
		else if (f == 5 && w == 0)
			file = varint(&s);
		else if (f == 6 && w == 0)
			build_id = varint(&s);
		else
			skip(&s, w);
	}
	if (s.failed)
		fail(r, "%s (in mapping %zu)", s.err, pp->nmaps);
	push(r, &pp->map_id, id);
	push(r, &pp->map_file_str, file);
	push(r, &pp->map_build_id_str, build_id);
}

static void read_value_type(struct rd *r, struct rd s, struct parsed *pp)
{
	uint64_t type = 0;
	while (!s.failed && s.p < s.end) {
		uint64_t tag = varint(&s);
		int f = (int)(tag >> 3), w = (int)(tag & 7);
		if (f == 1 && w == 0)
			type = varint(&s);
		else
			skip(&s, w);
	}
	if (s.failed)
		fail(r, "%s (in a sample type)", s.err);
	push(r, &pp->type_str, type);
}

static void read_profile(struct rd *r, struct parsed *pp)
{
	while (!r->failed && r->p < r->end) {
		uint64_t tag = varint(r);
		int f = (int)(tag >> 3), w = (int)(tag & 7);
		if (r->failed)
			break;
		if (f == 0) {
			fail(r, "field number 0 at byte %zu",
			     (size_t)(r->p - r->base));
			break;
		}
		bool bytes = w == 2;
		if (f == 1 && bytes)
			read_value_type(r, sub(r), pp);
		else if (f == 2 && bytes)
			read_sample(r, sub(r), pp);
		else if (f == 3 && bytes)
			read_mapping(r, sub(r), pp);
		else if (f == 4 && bytes)
			read_location(r, sub(r), pp);
		else if (f == 5 && bytes)
			read_function(r, sub(r), pp);
		else if (f == 6 && bytes) {
			struct rd s = sub(r);
			pp->strs = grow(r, pp->strs, &pp->capstrs, pp->nstrs,
					sizeof(*pp->strs));
			pp->strlens = grow(r, pp->strlens, &pp->caplens,
					   pp->nstrs, sizeof(*pp->strlens));
			if (r->failed)
				break;
			pp->strs[pp->nstrs] = s.p;
			pp->strlens[pp->nstrs++] = (size_t)(s.end - s.p);
		} else if (f == 13) {
			repeated(r, w, &pp->comments);
		} else if (f >= 1 && f <= 6 && !bytes) {
			fail(r, "field %d has wire type %d, expected 2 "
				"(length-delimited), at byte %zu",
			     f, w, (size_t)(r->p - r->base));
		} else
			skip(r, w);
	}
}

static bool str_is(const struct parsed *pp, uint64_t i, const char *s)
{
	return i < pp->nstrs && pp->strlens[i] == strlen(s) &&
	       memcmp(pp->strs[i], s, pp->strlens[i]) == 0;
}

static int cmp_loc(const void *a, const void *b)
{
	const struct location *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

static const struct location *find_loc(const struct parsed *pp, uint64_t id)
{
	size_t lo = 0, hi = pp->nlocs;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (pp->locs[mid].id < id)
			lo = mid + 1;
		else if (pp->locs[mid].id > id)
			hi = mid;
		else
			return &pp->locs[mid];
	}
	return NULL;
}

static void free_parsed(struct parsed *pp)
{
	for (size_t i = 0; i < pp->nsamples; i++) {
		free(pp->samples[i].locs.v);
		free(pp->samples[i].vals.v);
	}
	free(pp->samples);
	free(pp->locs);
	free(pp->lines);
	free(pp->funcs);
	free(pp->maps);
	free(pp->type_str.v);
	free(pp->map_file_str.v);
	free(pp->map_build_id_str.v);
	free(pp->map_id.v);
	free(pp->comments.v);
	free(pp->strs);
	free(pp->strlens);
}

/* Build the ward_profile from a parsed message; fails on bad references. */
static const struct function *find_func(const struct parsed *pp, uint64_t id)
{
	for (size_t i = 0; i < pp->nfuncs; i++) /* usually in id order */
		if (pp->funcs[(i + id - 1) % pp->nfuncs].id == id)
			return &pp->funcs[(i + id - 1) % pp->nfuncs];
	return NULL;
}

static int by_pc(const void *a, const void *b)
{
	const struct ward__named_pc *x = a, *y = b;
	return x->pc < y->pc ? -1 : x->pc > y->pc;
}

/* The names the locations carry, into the profile (a profile from Go, or
 * one ward's endpoint served, names its frames without the binaries). */
static int carry_names(struct rd *r, const struct parsed *pp,
		       struct ward_profile *p)
{
	(void)r;
	if (!pp->nlines || !pp->nfuncs)
		return 0;
	p->named = calloc(pp->nlocs + 1, sizeof(*p->named));
	p->named_frames = calloc(pp->nlines + 1, sizeof(*p->named_frames));
	if (!p->named || !p->named_frames)
		return -ENOMEM;
	for (size_t i = 0; i < pp->nlocs; i++) {
		const struct location *l = &pp->locs[i];
		if (!l->nlines)
			continue;
		struct ward__named_pc *np = &p->named[p->nnamed++];
		np->pc = (uintptr_t)l->address + 1;
		np->first = (uint32_t)p->nnamed_frames;
		np->n = 0;
		for (size_t k = 0; k < l->nlines; k++) {
			const struct line *ln = &pp->lines[l->first_line + k];
			const struct function *fn = find_func(pp, ln->function);
			if (!fn || !fn->name || fn->name >= pp->nstrs)
				continue;
			struct ward__src_frame *f = &p->named_frames[p->nnamed_frames++];
			size_t n = pp->strlens[fn->name];
			if (n >= sizeof(f->func))
				n = sizeof(f->func) - 1;
			memcpy(f->func, pp->strs[fn->name], n);
			f->func[n] = '\0';
			f->file[0] = '\0';
			if (fn->filename && fn->filename < pp->nstrs) {
				/* The base name, as ward's own reports show. */
				const char *fs = (const char *)pp->strs[fn->filename];
				size_t fl = pp->strlens[fn->filename];
				const char *slash = memrchr(fs, '/', fl);
				if (slash) {
					fl -= (size_t)(slash + 1 - fs);
					fs = slash + 1;
				}
				if (fl >= sizeof(f->file))
					fl = sizeof(f->file) - 1;
				memcpy(f->file, fs, fl);
				f->file[fl] = '\0';
			}
			f->line = ln->line > INT32_MAX ? 0 : (int)ln->line;
			ward__printable(f->func); /* never raw to a terminal */
			ward__printable(f->file);
			np->n++;
		}
		if (!np->n)
			p->nnamed--;
	}
	qsort(p->named, p->nnamed, sizeof(*p->named), by_pc);
	return 0;
}

/* A copy of string table entry i, or NULL (none, or out of memory). */
static char *string_copy(const struct parsed *pp, uint64_t i)
{
	if (!i || i >= pp->nstrs)
		return NULL;
	char *s = malloc(pp->strlens[i] + 1);
	if (s) {
		memcpy(s, pp->strs[i], pp->strlens[i]);
		s[pp->strlens[i]] = '\0';
	}
	return s;
}

/* Which value column holds each of alloc_objects, alloc_space,
 * inuse_objects and inuse_space (-1: none); -1 when the profile holds
 * none of them (it is not a heap profile) or is malformed. */
static int columns(struct rd *r, const struct parsed *pp, int col[4])
{
	for (int k = 0; k < 4; k++)
		col[k] = -1;
	static const char *const names[4] = { "alloc_objects", "alloc_space",
					      "inuse_objects", "inuse_space" };
	for (size_t i = 0; i < pp->type_str.n; i++) {
		if (pp->type_str.v[i] >= pp->nstrs) {
			fail(r, "sample type %zu names string %llu, but the "
				"string table has %zu",
			     i, (unsigned long long)pp->type_str.v[i], pp->nstrs);
			return -1;
		}
		for (int k = 0; k < 4; k++)
			if (str_is(pp, pp->type_str.v[i], names[k]))
				col[k] = (int)i;
	}
	if (pp->nstrs == 0 || pp->strlens[0] != 0) {
		fail(r, "the string table must start with the empty string");
		return -1;
	}
	if (col[0] < 0 && col[1] < 0 && col[2] < 0 && col[3] < 0) {
		/* A CPU or other profile would read as "nothing live". */
		char types[128] = "";
		size_t k = 0;
		for (size_t i = 0; i < pp->type_str.n && k + 2 < sizeof(types); i++) {
			uint64_t id = pp->type_str.v[i];
			int n = snprintf(types + k, sizeof(types) - k, "%s%.*s",
					 i ? ", " : "", (int)pp->strlens[id],
					 pp->strs[id]);
			k = n > 0 ? k + (size_t)n : k;
		}
		if (k >= sizeof(types))
			k = sizeof(types) - 1;
		types[k] = '\0';
		fail(r, "not a heap profile: no alloc_objects, alloc_space, "
			"inuse_objects or inuse_space values (its values: %s)",
		     types[0] ? types : "none");
		return -1;
	}
	return 0;
}

/* As deep as a captured stack goes (WARD_STACK_DEPTH at most). */
enum { BLOCKED_MAX = 256 };

static int hex_digit(uint8_t c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
				      : -1;
}

/*
 * The return addresses of sm's "blocked_pcs" label ("0x7f3a10c891f5
 * 0x55d0e2a01234": where a leaked thread is blocked, innermost first)
 * into out, when out is not NULL: how many, or 0 when it has none or one
 * that does not read as such (its "blocked" label, function names, still
 * says where).
 */
static int blocked_pcs_of(const struct parsed *pp, const struct sample *sm,
			  uintptr_t *out)
{
	for (int l = 0; l < sm->nlabels; l++) {
		uint64_t str = sm->labels[l].str;
		if (!str_is(pp, sm->labels[l].key, "blocked_pcs") ||
		    str >= pp->nstrs)
			continue;
		const uint8_t *c = pp->strs[str], *end = c + pp->strlens[str];
		int n = 0;
		while (c < end) {
			/* "0x", 1 to 16 digits, then a space or the end */
			if (n == BLOCKED_MAX || end - c < 3 || c[0] != '0' ||
			    c[1] != 'x')
				return 0;
			c += 2;
			uint64_t pc = 0;
			int digits = 0, d;
			for (; c < end && (d = hex_digit(*c)) >= 0; c++, digits++)
				pc = pc << 4 | (uint64_t)d;
			if (!digits || digits > 16 || !pc ||
			    (c < end && *c++ != ' '))
				return 0;
			if (out)
				out[n] = (uintptr_t)pc;
			n++;
		}
		return n;
	}
	return 0;
}

/* Locations in id order, each defined once; samples with as many values
 * as types and sane stacks. *total: the frames of all samples, and of
 * the stacks where their threads are blocked. */
static int check_samples(struct rd *r, struct parsed *pp, size_t *total)
{
	if (pp->nlocs)
		qsort(pp->locs, pp->nlocs, sizeof(*pp->locs), cmp_loc);
	for (size_t i = 1; i < pp->nlocs; i++)
		if (pp->locs[i].id == pp->locs[i - 1].id) {
			fail(r, "location id %llu is defined twice",
			     (unsigned long long)pp->locs[i].id);
			return -1;
		}
	*total = 0;
	for (size_t i = 0; i < pp->nsamples; i++) {
		if (pp->samples[i].vals.n != pp->type_str.n) {
			fail(r, "sample %zu has %zu values, but the profile "
				"declares %zu sample types",
			     i + 1, pp->samples[i].vals.n, pp->type_str.n);
			return -1;
		}
		if (pp->samples[i].locs.n > 4096) {
			fail(r, "sample %zu has a stack of %zu frames", i + 1,
			     pp->samples[i].locs.n);
			return -1;
		}
		*total += pp->samples[i].locs.n +
			  (size_t)blocked_pcs_of(pp, &pp->samples[i], NULL);
	}
	return 0;
}

/* Sample i's label key=str onto s: kind, leak, blocked, owner. 0, or -1
 * with the reason failed. */
static int apply_label(struct rd *r, const struct parsed *pp,
		       struct ward_profile *p, size_t i, struct ward_sample *s,
		       uint64_t key, uint64_t str)
{
	if (key >= pp->nstrs || str >= pp->nstrs) {
		fail(r, "sample %zu has a label naming string %llu, but the "
			"string table has %zu",
		     i + 1, (unsigned long long)(key > str ? key : str),
		     pp->nstrs);
		return -1;
	}
	if (str_is(pp, key, "kind")) {
		char name[64];
		size_t n = pp->strlens[str] < 63 ? pp->strlens[str] : 63;
		memcpy(name, pp->strs[str], n);
		name[n] = '\0';
		ward__printable(name); /* never raw to a terminal */
		int k = ward_kind_register(name);
		if (k < 0) {
			fail(r, "sample %zu names kind '%s', which ward cannot "
				"hold (%s)",
			     i + 1, name, strerror(-k));
			return -1;
		}
		if (!p->kind_names[k] && ward__profile_name_kind(p, k, name) < 0) {
			fail(r, "out of memory");
			return -1;
		}
		s->kind = k;
	} else if (str_is(pp, key, "leak")) {
		s->leak = str_is(pp, str, "definite")  ? WARD_LEAK_DEFINITE
			  : str_is(pp, str, "indirect") ? WARD_LEAK_INDIRECT
			  : str_is(pp, str, "reachable") ? WARD_LEAK_REACHABLE
							 : WARD_LEAK_UNKNOWN;
	} else if ((str_is(pp, key, "blocked") || str_is(pp, key, "owner") ||
		    str_is(pp, key, "root")) &&
		   str && pp->strlens[str]) {
		/* Interned printable (never raw to a terminal). */
		char *text = string_copy(pp, str);
		const char *own = text ? ward__profile_label(p, text) : NULL;
		free(text);
		if (!own) {
			fail(r, "out of memory");
			return -1;
		}
		if (str_is(pp, key, "owner"))
			s->owner = own;
		else if (str_is(pp, key, "root"))
			s->root = own;
		else
			s->blocked = own;
	}
	return 0;
}

/*
 * A comment the writer made of a figure, "pool conns: cached 12" (what,
 * then the name if any, a colon, the figure and its value), added to p;
 * other comments are left alone. 0, or -ENOMEM.
 */
static int take_figure(struct ward_profile *p, char *text)
{
	char *colon = NULL;
	for (char *c = strstr(text, ": "); c; c = strstr(c + 1, ": "))
		colon = c;
	if (!colon || colon == text)
		return 0;
	char *figure = colon + 2, *space = strrchr(figure, ' ');
	if (!space || space == figure || !space[1])
		return 0;
	char *end;
	errno = 0;
	unsigned long long value = strtoull(space + 1, &end, 10);
	if (*end || errno || space[1] == '-')
		return 0;
	*colon = *space = '\0';
	if (strchr(figure, ' '))
		return 0;
	char *name = strchr(text, ' ');
	if (name)
		*name++ = '\0';
	return ward__profile_add_figure(p, text, name ? name : "", figure, NULL,
					false, value);
}

static int take_figures(const struct parsed *pp, struct ward_profile *p)
{
	for (size_t i = 0; i < pp->comments.n; i++) {
		char *text = string_copy(pp, pp->comments.v[i]);
		if (!text)
			continue; /* index 0 or past the table: not ours */
		static const char own[] = "suppression: ";
		int rc = strncmp(text, own, sizeof(own) - 1) == 0
				 ? ward__profile_add_own_suppression(
					   p, text + sizeof(own) - 1,
					   strcspn(text + sizeof(own) - 1, "\n"))
				 : take_figure(p, text);
		free(text);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Sample i of the file as p's sample i: its stack (from p->owned_pcs at
 * *at), its values from the columns col, its labels. */
static int take_sample(struct rd *r, struct parsed *pp, struct ward_profile *p,
		       size_t i, const int col[4], size_t *at)
{
	struct sample *sm = &pp->samples[i];
	struct ward_sample *s = &p->samples[i];
	s->pcs = &p->owned_pcs[*at];
	for (size_t k = 0; k < sm->locs.n; k++) {
		const struct location *l = find_loc(pp, sm->locs.v[k]);
		if (!l) {
			fail(r, "sample %zu refers to location %llu, which is "
				"not defined",
			     i + 1, (unsigned long long)sm->locs.v[k]);
			return -1;
		}
		p->owned_pcs[(*at)++] = (uintptr_t)l->address + 1;
	}
	s->depth = (int)sm->locs.n;
	int blocked = blocked_pcs_of(pp, sm, &p->owned_pcs[*at]);
	if (blocked > 0) {
		s->blocked_pcs = &p->owned_pcs[*at];
		s->blocked_depth = blocked;
		*at += (size_t)blocked;
	}
	int64_t v[4] = { 0 };
	for (int k = 0; k < 4; k++)
		if (col[k] >= 0)
			v[k] = (int64_t)sm->vals.v[col[k]];
	s->alloc_count = v[0];
	s->alloc_bytes = v[1];
	s->live_count = v[2];
	s->live_bytes = v[3];
	s->kind = WARD_KIND_HEAP;
	for (int l = 0; l < sm->nlabels; l++)
		if (apply_label(r, pp, p, i, s, sm->labels[l].key,
				sm->labels[l].str) < 0)
			return -1;
	p->sites[i] = (uint32_t)(i + 1);
	return 0;
}

/* What p carries besides its samples: the mappings with their files
 * named (for symbolization), the kinds' names, the figures. */
static int take_rest(struct rd *r, struct parsed *pp, struct ward_profile *p)
{
	p->maps = calloc(pp->nmaps + 1, sizeof(*p->maps));
	if (!p->maps)
		return -1;
	p->from_file = true;
	if (carry_names(r, pp, p) < 0 || take_figures(pp, p) < 0)
		return -1;
	for (size_t i = 0; i < pp->nmaps; i++) {
		p->maps[i] = pp->maps[i];
		p->maps[i].file = string_copy(pp, pp->map_file_str.v[i]);
		p->maps[i].build_id = string_copy(pp, pp->map_build_id_str.v[i]);
		p->nmaps++;
	}
	/* Samples without a kind label are the heap's; the built-in kinds
	 * keep their names in every profile. */
	for (int k = 0; k < WARD_KIND_USER; k++)
		if (!p->kind_names[k] && ward_kind_name(k) &&
		    ward__profile_name_kind(p, k, ward_kind_name(k)) < 0)
			return -1;
	return 0;
}

static struct ward_profile *build(struct rd *r, struct parsed *pp)
{
	int col[4];
	if (columns(r, pp, col) < 0)
		return NULL;
	size_t total;
	if (check_samples(r, pp, &total) < 0)
		return NULL;
	struct ward_profile *p = ward__profile_new(pp->nsamples + 1);
	if (!p) {
		fail(r, "out of memory");
		return NULL;
	}
	p->owned_pcs = calloc(total + 1, sizeof(*p->owned_pcs));
	if (!p->samples || !p->sites || !p->owned_pcs) {
		ward_profile_free(p);
		fail(r, "out of memory");
		return NULL;
	}
	size_t at = 0;
	for (size_t i = 0; i < pp->nsamples; i++)
		if (take_sample(r, pp, p, i, col, &at) < 0) {
			ward_profile_free(p);
			return NULL;
		}
	p->count = pp->nsamples;
	if (take_rest(r, pp, p) < 0) {
		ward_profile_free(p);
		fail(r, "out of memory");
		return NULL;
	}
	return p;
}

/* Inflate gzip data in[0..len) into a buffer of its own (*plain,
 * *plain_len). 0, -ENOMEM, -EFBIG (more than INPUT_LIMIT) or -EBADMSG,
 * saying why in err. */
static int gunzip(const uint8_t *in, size_t len, uint8_t **plain,
		  size_t *plain_len, char *err, size_t errlen)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 15 + 32) != Z_OK)
		return -ENOMEM;
	size_t cap = len * 4 + 1024;
	int rc = Z_OK;
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	for (;;) {
		if (cap > INPUT_LIMIT) {
			inflateEnd(&z);
			if (err)
				snprintf(err, errlen, "decompresses to more "
				 "than 1 GiB");
			return -EFBIG;
		}
		uint8_t *np = realloc(*plain, cap);
		if (!np) {
			inflateEnd(&z);
			return -ENOMEM;
		}
		*plain = np;
		z.next_out = *plain + *plain_len;
		z.avail_out = (uInt)(cap - *plain_len);
		rc = inflate(&z, Z_NO_FLUSH);
		*plain_len = cap - z.avail_out;
		if (rc == Z_STREAM_END || rc != Z_OK)
			break;
		if (z.avail_out == 0)
			cap *= 2;
		else if (z.avail_in == 0)
			break;
	}
	inflateEnd(&z);
	if (rc == Z_STREAM_END)
		return 0;
	if (err)
		snprintf(err, errlen,
			 "gzip data is %s (after %zu bytes of output)",
			 rc == Z_OK || rc == Z_BUF_ERROR ? "truncated"
							 : "corrupt",
			 *plain_len);
	return -EBADMSG;
}

WARD_API int ward_profile_read(const void *buf, size_t len,
			       ward_profile_t **out, char *err, size_t errlen)
{
	uint8_t *plain = NULL;
	size_t plain_len = 0;
	const uint8_t *in = buf;

	if (err && errlen)
		err[0] = '\0';
	if (!out || (!buf && len))
		return -EINVAL;
	*out = NULL;
	if (len >= 2 && in[0] == 0x1f && in[1] == 0x8b) {
		int rc = gunzip(in, len, &plain, &plain_len, err, errlen);
		if (rc < 0) {
			free(plain);
			return rc;
		}
		in = plain;
		len = plain_len;
	}

	struct rd r = { in, in + len, in, err, errlen, false };
	struct parsed pp;
	memset(&pp, 0, sizeof(pp));
	read_profile(&r, &pp);
	if (r.failed && err && errlen) {
		/* A decoding error means the bytes are not a profile at all. */
		char why[256];
		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errlen, "not a pprof profile (%s)", why);
	}
	struct ward_profile *p = r.failed ? NULL : build(&r, &pp);
	free_parsed(&pp);
	free(plain);
	if (!p) {
		if (err && !err[0])
			snprintf(err, errlen, "not a profile");
		return -EBADMSG;
	}
	*out = p;
	return 0;
}

WARD_API int ward_profile_load(const char *path, ward_profile_t **out,
			       char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	if (!path || !out)
		return -EINVAL;
	*out = NULL;
	/* A regular file or a pipe (a profile piped in, a shell's process
	 * substitution; the size limit below ends an endless one); not a
	 * device named by mistake, which would block or never end. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		if (err)
			snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	bool pipe = S_ISFIFO(st.st_mode);
	if ((!S_ISREG(st.st_mode) || st.st_size == 0) && !pipe) {
		close(fd);
		if (err)
			snprintf(err, errlen, "%s: %s", path,
				 S_ISDIR(st.st_mode) ? "is a directory"
				 : S_ISREG(st.st_mode)
				       ? "empty file, not a profile"
				       : "not a regular file or a pipe");
		return S_ISDIR(st.st_mode) ? -EISDIR : -EBADMSG;
	}
	/* A pipe's reads wait for its writer. */
	if (pipe && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
		int e = errno;
		close(fd);
		if (err)
			snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	FILE *f = fdopen(fd, "rb");
	if (!f) {
		int e = errno;
		close(fd);
		if (err)
			snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	size_t cap = 1 << 16, len = 0;
	uint8_t *buf = malloc(cap);
	size_t n;
	while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap) {
			if (cap >= INPUT_LIMIT) {
				free(buf);
				fclose(f);
				if (err)
					snprintf(err, errlen, "%s: larger than 1 GiB", path);
				return -EFBIG;
			}
			uint8_t *nb = realloc(buf, cap *= 2);
			if (!nb)
				free(buf);
			buf = nb;
		}
	}
	bool bad = ferror(f);
	fclose(f);
	if (!buf)
		return -ENOMEM;
	if (bad) {
		free(buf);
		if (err)
			snprintf(err, errlen, "%s: read error", path);
		return -EIO;
	}
	if (len == 0) { /* a pipe that gave nothing */
		free(buf);
		if (err)
			snprintf(err, errlen, "%s: empty, not a profile", path);
		return -EBADMSG;
	}
	char inner[256] = "";
	int rc = ward_profile_read(buf, len, out, inner, sizeof(inner));
	free(buf);
	if (rc < 0 && err)
		snprintf(err, errlen, "%s: %s", path,
			 inner[0] ? inner : strerror(-rc));
	return rc;
}
