/*
 * snapshot.c — snapshots of the registry, their diffs, the order reports
 * use, and the split of heap samples by the scan's classes.
 *
 * A snapshot reads each site's counters (four relaxed atomic loads), so it
 * costs time in proportion to the number of sites and never stops the
 * threads that acquire and release meanwhile. Samples point at the sites'
 * stacks, which live as long as the process.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/grow.h"
#include "core/sat.h"
#include "core/stacks.h"
#include "core/text.h"
#include "registry/registry.h"
#include "registry/sample.h"
#include "scan/scan.h"
#include "snapshot/profile.h"
#include "snapshot/symbolize.h"
#include "ward/track.h"

static int by_live_ptr(const void *a, const void *b);

struct ward_profile *ward__profile_new(size_t cap)
{
	struct ward_profile *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->samples = calloc(cap ? cap : 1, sizeof(*p->samples));
	p->sites = calloc(cap ? cap : 1, sizeof(*p->sites));
	if (!p->samples || !p->sites) {
		ward_profile_free(p);
		return NULL;
	}
	return p;
}

int ward__profile_name_kind(struct ward_profile *p, int kind,
			    const char *name)
{
	if (kind < 0 || kind >= WARD_KIND_MAX)
		return -EINVAL;
	char *copy = name ? strdup(name) : NULL;
	if (name && !copy)
		return -ENOMEM;
	free(p->kind_names[kind]);
	p->kind_names[kind] = copy;
	return 0;
}

int ward__profile_copy_names(struct ward_profile *dst,
			     const struct ward_profile *src)
{
	for (int k = 0; k < WARD_KIND_MAX; k++)
		if (ward__profile_name_kind(dst, k, src->kind_names[k]) < 0)
			return -ENOMEM;
	dst->from_file = src->from_file;
	for (size_t i = 0; i < src->nfigures; i++) {
		const struct ward_figure *f = &src->figures[i];
		if (ward__profile_add_figure(dst, f->what, f->name, f->figure,
					     f->help, f->counter, f->value) < 0)
			return -ENOMEM;
	}
	if (src->nnamed) {
		dst->named = malloc(src->nnamed * sizeof(*dst->named));
		dst->named_frames = malloc((src->nnamed_frames + 1) *
					   sizeof(*dst->named_frames));
		if (!dst->named || !dst->named_frames)
			return -ENOMEM;
		memcpy(dst->named, src->named, src->nnamed * sizeof(*dst->named));
		memcpy(dst->named_frames, src->named_frames,
		       src->nnamed_frames * sizeof(*dst->named_frames));
		dst->nnamed = src->nnamed;
		dst->nnamed_frames = src->nnamed_frames;
	}
	if (!src->nmaps)
		return 0;
	dst->maps = calloc(src->nmaps + 1, sizeof(*dst->maps));
	if (!dst->maps)
		return -ENOMEM;
	for (size_t i = 0; i < src->nmaps; i++) {
		dst->maps[i] = src->maps[i];
		dst->maps[i].file = dst->maps[i].build_id = NULL;
		dst->nmaps = i + 1;
		if (src->maps[i].file &&
		    !(dst->maps[i].file = strdup(src->maps[i].file)))
			return -ENOMEM;
		if (src->maps[i].build_id &&
		    !(dst->maps[i].build_id = strdup(src->maps[i].build_id)))
			return -ENOMEM;
	}
	return 0;
}

const struct ward__src_frame *ward__profile_named(const struct ward_profile *p,
						  uintptr_t pc, uint32_t *n)
{
	size_t lo = 0, hi = p ? p->nnamed : 0;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (p->named[mid].pc < pc)
			lo = mid + 1;
		else if (p->named[mid].pc > pc)
			hi = mid;
		else {
			*n = p->named[mid].n;
			return &p->named_frames[p->named[mid].first];
		}
	}
	*n = 0;
	return NULL;
}

int ward__profile_name_live_kinds(struct ward_profile *p)
{
	for (int k = 0; k < WARD_KIND_MAX; k++)
		if (ward__profile_name_kind(p, k, ward_kind_name(k)) < 0)
			return -ENOMEM;
	return 0;
}

const char *ward__profile_label(struct ward_profile *p, const char *s)
{
	if (!s)
		return NULL;
	/* An owner's name is the program's, and may come from anyone (a
	 * request's path): a profile holds it printable, for every report
	 * and page made of it. */
	char *clean = NULL;
	if (!ward__is_printable(s)) {
		if (!(clean = strdup(s)))
			return NULL;
		ward__printable(clean);
		s = clean;
	}
	for (size_t i = p->nlabels; i-- > 0;)
		if (p->labels[i] == s || strcmp(p->labels[i], s) == 0) {
			free(clean);
			return p->labels[i];
		}
	char **v = ward__grow(p->labels, &p->caplabels, p->nlabels + 1,
			      sizeof(*v), 8);
	if (v)
		p->labels = v;
	char *copy = v ? (clean ? clean : strdup(s)) : NULL;
	if (!copy) {
		free(clean);
		return NULL;
	}
	p->labels[p->nlabels++] = copy;
	return copy;
}

int ward__profile_own_labels(struct ward_profile *dst)
{
	for (size_t i = 0; i < dst->count; i++) {
		struct ward_sample *s = &dst->samples[i];
		if (s->owner && !(s->owner = ward__profile_label(dst, s->owner)))
			return -ENOMEM;
		if (s->blocked &&
		    !(s->blocked = ward__profile_label(dst, s->blocked)))
			return -ENOMEM;
		if (s->root && !(s->root = ward__profile_label(dst, s->root)))
			return -ENOMEM;
	}
	return 0;
}

WARD_API const char *ward_profile_kind_name(const ward_profile_t *p, int kind)
{
	if (!p || kind < 0 || kind >= WARD_KIND_MAX)
		return NULL;
	return p->kind_names[kind];
}

WARD_API ward_profile_t *ward_profile_snapshot(void)
{
	ward__fds_reconcile();
	uint32_t n = ward__site_count();
	struct ward_profile *p;
	struct ward__counts *c;

	ward__guard_raise();
	p = ward__profile_new(n);
	c = malloc((n ? n : 1) * sizeof(*c));
	if (!p || !c) {
		ward_profile_free(p);
		free(c);
		ward__guard_lower();
		return NULL;
	}
	if (ward__profile_name_live_kinds(p) < 0 ||
	    ward__profile_map_process(p) < 0) {
			ward_profile_free(p);
			free(c);
			ward__guard_lower();
			return NULL;
	}
	ward__guard_lower();
	/* Releases are read before acquisitions: every release follows its
	 * acquisition, so live counts are never negative. */
	ward__counts_read(c, n);
	for (uint32_t id = 1; id <= n; id++) {
		struct ward__site_rec *r = ward__site_get(id);
		if (!r)
			continue;
		uint64_t rc = c[id - 1].rel_count, rb = c[id - 1].rel_bytes;
		uint64_t ac = c[id - 1].acq_count, ab = c[id - 1].acq_bytes;
		if (ac == 0)
			continue;
		struct ward_sample *s = &p->samples[p->count];
		s->kind = (int)r->kind;
		s->depth = (int)r->depth;
		s->pcs = r->pcs;
		s->alloc_count = (int64_t)ac;
		s->alloc_bytes = (int64_t)ab;
		s->live_count = (int64_t)(ac - rc);
		s->live_bytes = (int64_t)(ab - rb);
		if (r->kind == WARD_KIND_HEAP) { /* weighted, sample.h */
			s->live_count = (s->live_count + WARD__WEIGHT_ONE / 2) /
					WARD__WEIGHT_ONE;
			s->alloc_count = (s->alloc_count + WARD__WEIGHT_ONE / 2) /
					 WARD__WEIGHT_ONE;
		}
		p->sites[p->count] = id;
		p->count++;
	}
	ward__guard_raise();
	free(c);
	int rc = ward__profile_split_by_holder(p);
	ward__guard_lower();
	if (rc == 0)
		rc = ward__profile_take_figures(p);
	if (rc < 0) {
		ward_profile_free(p);
		return NULL;
	}
	return p;
}

struct ward_profile *ward__profile_top(const struct ward_profile *p, size_t n)
{
	struct ward_profile *t = ward__profile_new(n);
	const struct ward_sample **v;

	if (!t)
		return NULL;
	v = calloc(p->count ? p->count : 1, sizeof(*v));
	if (!v) {
		ward_profile_free(t);
		return NULL;
	}
	for (size_t i = 0; i < p->count; i++)
		v[i] = &p->samples[i];
	qsort(v, p->count, sizeof(*v), by_live_ptr);
	for (size_t i = 0; i < p->count && t->count < n; i++) {
		if (v[i]->live_count <= 0)
			continue;
		t->samples[t->count] = *v[i];
		t->sites[t->count] = p->sites[v[i] - p->samples];
		t->count++;
	}
	free(v);
	/* A profile read from a file names its frames through its mappings:
	 * the copy needs them too. */
	if (ward__profile_copy_names(t, p) < 0 ||
	    ward__profile_own_labels(t) < 0) {
		ward_profile_free(t);
		return NULL;
	}
	return t;
}

/* ---- Rows by source line ------------------------------------------------ */

/* What a reader tells one sample from another by: its kind, class,
 * holder, root and blocked stack, and each frame's text without the
 * offset ("main (prog) prog.c:81"). An unrolled loop or a function
 * inlined twice on one line acquires at several addresses that read the
 * same. A frame with no source line keeps its offset: without debug
 * information, the offset is all that tells two calls in one function
 * apart. A malloc'd string, or NULL when out of memory. */
static char *line_key(const struct ward_profile *p, const struct ward_sample *s)
{
	struct ward__buf b = { 0 };
	struct ward__frame_text fr[MAX_INLINE];
	char head[96];

	int n = snprintf(head, sizeof(head), "%d %d", s->kind, s->leak);
	ward__buf_add(&b, head, (size_t)n);
	for (int k = 0; k < s->blocked_depth; k++) {
		n = snprintf(head, sizeof(head), " %" PRIxPTR,
			     s->blocked_pcs[k]);
		ward__buf_add(&b, head, (size_t)n);
	}
	const char *const tags[] = { s->owner, s->root, s->blocked };
	for (int i = 0; i < 3; i++) {
		ward__buf_add(&b, tags[i] ? "\n=" : "\n", tags[i] ? 2 : 1);
		if (tags[i])
			ward__buf_add(&b, tags[i], strlen(tags[i]));
	}
	for (int d = 0; d < s->depth; d++) {
		int nf = ward__describe_frames(p, s->pcs[d], fr, MAX_INLINE);
		for (int j = 0; j < nf; j++) {
			const char *t = fr[j].s;
			/* "name+0x1a (obj) f.c:3": leave out "+0x1a"; an
			 * unnamed "0x4011a6 (obj+0x11a6)" stays whole. */
			const char *plus = t[0] == '0' && t[1] == 'x'
						   ? NULL : strstr(t, "+0x");
			const char *open = strstr(t, " (");
			const char *obj_end = open ? strchr(open, ')') : NULL;
			bool has_line = obj_end && obj_end[1] == ' ';
			ward__buf_add(&b, "\n", 1);
			if (plus && has_line && plus < open) {
				ward__buf_add(&b, t, (size_t)(plus - t));
				t = plus + strcspn(plus, " ");
			}
			ward__buf_add(&b, t, strlen(t));
		}
	}
	ward__buf_add(&b, "", 1);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

static uint64_t key_hash(const char *k)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
	for (; *k; k++)
		h = (h ^ (unsigned char)*k) * 0x100000001b3ull;
	return h;
}

struct sample_site {
	struct ward_sample s;
	uint32_t site;
};

static int by_live_pair(const void *a, const void *b)
{
	const struct ward_sample *x = &((const struct sample_site *)a)->s;
	const struct ward_sample *y = &((const struct sample_site *)b)->s;
	return by_live_ptr(&x, &y);
}

/* Put p's samples in report order, each keeping its site. */
static int sort_with_sites(struct ward_profile *p)
{
	struct sample_site *v = calloc(p->count ? p->count : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < p->count; i++)
		v[i] = (struct sample_site){ p->samples[i], p->sites[i] };
	qsort(v, p->count, sizeof(*v), by_live_pair);
	for (size_t i = 0; i < p->count; i++) {
		p->samples[i] = v[i].s;
		p->sites[i] = v[i].site;
	}
	free(v);
	return 0;
}

/* t holds the rows of whole holding the most, not all: its text says so,
 * and a row's share is of whole's bytes. */
static void mark_cut(struct ward_profile *t, const struct ward_profile *whole)
{
	t->top_rows = true;
	t->whole_bytes = 0;
	for (size_t i = 0; i < whole->count; i++)
		if (ward__kind_sized(whole->samples[i].kind))
			t->whole_bytes = ward__sat_add(
				t->whole_bytes, whole->samples[i].live_bytes);
}

struct ward_profile *ward__profile_by_line(const struct ward_profile *p,
					   size_t n)
{
	bool cut = false;
	const struct ward_sample **v = ward__profile_sorted(p);
	size_t slots = 16;
	while (slots < 2 * p->count)
		slots *= 2;
	struct row {
		char *key;
		uint64_t hash;
		size_t at; /* in t->samples */
	} *rows = calloc(slots, sizeof(*rows));
	struct ward_profile *t = ward__profile_new(p->count);
	int rc = v && rows && t ? 0 : -ENOMEM;

	for (size_t i = 0; rc == 0 && i < p->count; i++) {
		const struct ward_sample *s = v[i];
		if (!s->live_count)
			continue;
		char *key = line_key(p, s);
		if (!key) {
			rc = -ENOMEM;
			break;
		}
		uint64_t h = key_hash(key);
		size_t k = h & (slots - 1);
		while (rows[k].key && (rows[k].hash != h ||
				       strcmp(rows[k].key, key) != 0))
			k = (k + 1) & (slots - 1);
		if (rows[k].key) { /* the same lines: add up */
			struct ward_sample *r = &t->samples[rows[k].at];
			r->live_count = ward__sat_add(r->live_count, s->live_count);
			r->live_bytes = ward__sat_add(r->live_bytes, s->live_bytes);
			r->alloc_count = ward__sat_add(r->alloc_count, s->alloc_count);
			r->alloc_bytes = ward__sat_add(r->alloc_bytes, s->alloc_bytes);
			free(key);
			continue;
		}
		if (n && t->count == n) { /* the rows asked for are found */
			free(key);
			cut = true;
			break;
		}
		rows[k] = (struct row){ key, h, t->count };
		t->samples[t->count] = *s;
		t->sites[t->count] = p->sites[s - p->samples];
		t->count++;
	}
	for (size_t k = 0; rows && k < slots; k++)
		free(rows[k].key);
	free(rows);
	free(v);
	if (rc == 0)
		/* sites follow their samples: sort the pairs together */
		rc = sort_with_sites(t);
	if (rc == 0 && (ward__profile_copy_names(t, p) < 0 ||
			ward__profile_own_labels(t) < 0))
		rc = -ENOMEM;
	if (rc < 0) {
		ward_profile_free(t);
		return NULL;
	}
	t->by_line = true;
	if (cut)
		mark_cut(t, p);
	return t;
}

static bool same_holder(const struct ward_sample *a,
			const struct ward_sample *b)
{
	if (a->leak != b->leak || a->blocked_depth != b->blocked_depth ||
	    (a->blocked_depth > 0 &&
	     memcmp(a->blocked_pcs, b->blocked_pcs,
		    (size_t)a->blocked_depth * sizeof(*a->blocked_pcs)) != 0))
		return false;
	if (!a->root != !b->root || (a->root && strcmp(a->root, b->root) != 0))
		return false;
	if (!a->owner || !b->owner)
		return a->owner == b->owner;
	return strcmp(a->owner, b->owner) == 0;
}

WARD_API ward_profile_t *ward_profile_diff(const ward_profile_t *base,
					   const ward_profile_t *now)
{
	if (!base || !now)
		return NULL;
	struct ward_profile *d = ward__profile_new(now->count);
	if (!d || ward__profile_copy_names(d, now) < 0) {
		ward_profile_free(d);
		return NULL;
	}
	/* Both are in site-id order: merge. A site may have several samples
	 * (by owner, by the scan's class): the same site, owner and class
	 * match. */
	size_t i = 0;
	for (size_t j = 0; j < now->count; j++) {
		while (i < base->count && base->sites[i] < now->sites[j])
			i++;
		struct ward_sample s = now->samples[j];
		const struct ward_sample *b = NULL;
		for (size_t k = i; k < base->count &&
				   base->sites[k] == now->sites[j]; k++)
			if (same_holder(&base->samples[k], &s)) {
				b = &base->samples[k];
				break;
			}
		if (b) {
			s.live_count = ward__sat_sub(s.live_count, b->live_count);
			s.live_bytes = ward__sat_sub(s.live_bytes, b->live_bytes);
			s.alloc_count = ward__sat_sub(s.alloc_count, b->alloc_count);
			s.alloc_bytes = ward__sat_sub(s.alloc_bytes, b->alloc_bytes);
		}
		if (!s.live_count && !s.live_bytes && !s.alloc_count &&
		    !s.alloc_bytes)
			continue;
		d->samples[d->count] = s;
		d->sites[d->count] = now->sites[j];
		d->count++;
	}
	if (ward__profile_own_labels(d) < 0) {
		ward_profile_free(d);
		return NULL;
	}
	return d;
}

WARD_API void ward_profile_free(ward_profile_t *p)
{
	if (!p)
		return;
	free(p->samples);
	free(p->sites);
	free(p->owned_pcs);
	for (size_t i = 0; i < p->nmaps; i++) {
		free(p->maps[i].file);
		free(p->maps[i].build_id);
	}
	free(p->maps);
	for (int k = 0; k < WARD_KIND_MAX; k++)
		free(p->kind_names[k]);
	for (size_t i = 0; i < p->nlabels; i++)
		free(p->labels[i]);
	free(p->labels);
	free(p->named);
	free(p->named_frames);
	free(p->figures);
	free(p->own_suppressions);
	free(p);
}

WARD_API size_t ward_profile_count(const ward_profile_t *p)
{
	return p ? p->count : 0;
}

WARD_API const struct ward_sample *ward_profile_sample(const ward_profile_t *p,
						       size_t i)
{
	return p && i < p->count ? &p->samples[i] : NULL;
}

/*
 * What to fix first leads a report: heap definitely lost, then indirectly
 * lost, then the other kinds (descriptors, FILEs, threads, user kinds),
 * then heap not classified, then heap still reachable.
 */
static int severity(const struct ward_sample *s)
{
	if (s->kind != WARD_KIND_HEAP)
		return 2;
	switch (s->leak) {
	case WARD_LEAK_DEFINITE: return 0;
	case WARD_LEAK_INDIRECT: return 1;
	case WARD_LEAK_REACHABLE: return 4;
	default: return 3;
	}
}

/* Order for reports: severity, then live bytes, then live count,
 * largest first. */
static int by_live_ptr(const void *a, const void *b)
{
	const struct ward_sample *x = *(const struct ward_sample *const *)a;
	const struct ward_sample *y = *(const struct ward_sample *const *)b;
	int sx = severity(x), sy = severity(y);
	if (sx != sy)
		return sx < sy ? -1 : 1;
	if (x->live_bytes != y->live_bytes)
		return x->live_bytes < y->live_bytes ? 1 : -1;
	if (x->live_count != y->live_count)
		return x->live_count < y->live_count ? 1 : -1;
	return 0;
}

const struct ward_sample **ward__profile_sorted(const ward_profile_t *p)
{
	const struct ward_sample **v = calloc(p->count ? p->count : 1,
					      sizeof(*v));
	if (!v)
		return NULL;
	for (size_t i = 0; i < p->count; i++)
		v[i] = &p->samples[i];
	qsort(v, p->count, sizeof(*v), by_live_ptr);
	return v;
}

/* ---- Classified by a reachability scan ----------------------------------- */

/* The classes a site's blocks fall in: lost, indirectly lost, and
 * reachable from each kind of root. */
enum { ROOT_KINDS = WARD__ROOT_LIBC + 1, COLS = 3 + ROOT_KINDS };

static const char *const root_names[ROOT_KINDS] = {
	[WARD__ROOT_LOADER] = "loader",     [WARD__ROOT_GLOBAL] = "global",
	[WARD__ROOT_STACK] = "stack",       [WARD__ROOT_REGISTER] = "register",
	[WARD__ROOT_TLS] = "tls",           [WARD__ROOT_MAPPED] = "mapped",
	[WARD__ROOT_INHERITED] = "inherited", [WARD__ROOT_EARLY] = "early",
	[WARD__ROOT_IGNORED] = "ignored",
	[WARD__ROOT_LIBC] = "libc",
};

static int column_of(uint8_t state, uint8_t root)
{
	if (state != WARD_LEAK_REACHABLE)
		return state; /* 1, 2: definite, indirect */
	return 3 + (root < ROOT_KINDS ? root : WARD__ROOT_LOADER);
}

struct ward_profile *ward__profile_classify(const struct ward_profile *p,
					    const struct ward__scan_result *r)
{
	/* Per site: count and bytes of each class. */
	uint32_t nsites = ward__site_count() + 1;
	int64_t(*c)[COLS] = calloc(nsites, sizeof(*c));
	int64_t(*b)[COLS] = calloc(nsites, sizeof(*b));
	struct ward__handles held = { 0 };
	if (!c || !b || ward__held_handles(WARD_KIND_HEAP, &held) < 0) {
		free(c);
		free(b);
		return NULL;
	}
	/* Blocks an owner holds are counted on their owner's sample, which
	 * the scan does not split: they are held, whatever points to them. */
	for (size_t i = 0; i < r->blocks; i++)
		if (r->site[i] < nsites &&
		    !ward__handles_has(&held, r->handle[i])) {
			int k = column_of(r->state[i], r->root[i]);
			c[r->site[i]][k]++;
			b[r->site[i]][k] += (int64_t)r->size[i];
		}
	free(held.v);
	/* How many samples the split makes. */
	size_t need = 1;
	for (size_t i = 0; i < p->count; i++) {
		size_t parts = 0;
		for (int k = 1; k < COLS && p->sites[i] < nsites; k++)
			parts += c[p->sites[i]][k] != 0;
		need += parts ? parts : 1;
	}
	struct ward_profile *t = ward__profile_new(need);
	const char *names[ROOT_KINDS];
	bool named = t && ward__profile_copy_names(t, p) == 0;
	for (int k = 0; named && k < ROOT_KINDS; k++)
		named = (names[k] = ward__profile_label(t, root_names[k])) != NULL;
	if (!named) {
		free(c);
		free(b);
		ward_profile_free(t);
		return NULL;
	}
	for (size_t i = 0; i < p->count; i++) {
		const struct ward_sample *s = &p->samples[i];
		uint32_t site = p->sites[i];
		if (s->kind != WARD_KIND_HEAP || site >= nsites ||
		    s->live_count <= 0 || s->owner) {
			t->samples[t->count] = *s;
			t->sites[t->count++] = site;
			continue;
		}
		/* Live values split by class; allocation totals stay on the
		 * first part, so they add up as before. */
		bool first = true;
		for (int k = 1; k < COLS; k++) {
			if (!c[site][k])
				continue;
			struct ward_sample part = *s;
			part.leak = k < 3 ? k : WARD_LEAK_REACHABLE;
			part.root = k < 3 ? NULL : names[k - 3];
			part.live_count = c[site][k];
			part.live_bytes = b[site][k];
			if (!first)
				part.alloc_count = part.alloc_bytes = 0;
			first = false;
			t->samples[t->count] = part;
			t->sites[t->count++] = site;
		}
		if (first) { /* the scan saw none: keep it as it was */
			t->samples[t->count] = *s;
			t->sites[t->count++] = site;
		}
	}
	free(c);
	free(b);
	if (ward__profile_own_labels(t) < 0) {
		ward_profile_free(t);
		return NULL;
	}
	return t;
}

const char *ward__leak_name(int leak)
{
	switch (leak) {
	case WARD_LEAK_DEFINITE: return "definite";
	case WARD_LEAK_INDIRECT: return "indirect";
	case WARD_LEAK_REACHABLE: return "reachable";
	default: return NULL;
	}
}

WARD_API ward_profile_t *ward_profile_top(const ward_profile_t *p, size_t n)
{
	return p ? ward__profile_top(p, n) : NULL;
}

struct by_line {
	const ward_profile_t *p;
	size_t n;
	ward_profile_t *out;
};

static void by_line_deep(void *arg)
{
	struct by_line *b = arg;
	b->out = ward__profile_by_line(b->p, b->n);
}

/* On a stack with room for naming frames (ward__deep). */
WARD_API ward_profile_t *ward_profile_by_line(const ward_profile_t *p, size_t n)
{
	struct by_line b = { p, n, NULL };
	if (p)
		ward__deep(by_line_deep, &b);
	return b.out;
}

WARD_API void ward_profile_clear_live(ward_profile_t *p, size_t i)
{
	if (p && i < p->count)
		p->samples[i].live_count = p->samples[i].live_bytes = 0;
}

WARD_API const char *ward_leak_name(int leak)
{
	return ward__leak_name(leak);
}

WARD_API bool ward_kind_sized(int kind)
{
	return ward__kind_sized(kind);
}
