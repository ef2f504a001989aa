/*
 * pprof.c — profile.proto, encoded by hand and gzipped with zlib.
 *
 * Why by hand: the message is small and fixed (six message types, varints
 * and length-delimited fields), the encoder is ~150 lines, and it keeps
 * libward free of protobuf-c and its generated code. docs/formats.md has
 * the field list.
 *
 * Layout, like Go's heap profile: sample types alloc_objects/count,
 * alloc_space/bytes, inuse_objects/count, inuse_space/bytes (inuse_space
 * last, so it is pprof's default); period type space/bytes; a "kind" string
 * label on every sample. Locations carry addresses only (return address
 * minus one, inside the call) and point at mappings that name each loaded
 * object's file, load range, file offset and GNU build id, so that pprof
 * symbolizes them against the binaries on disk, as it does for profiles of
 * C++ programs.
 *
 * The whole encoded profile is built in memory, then deflated through the
 * write callback in 64 KiB pieces.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "core/grow.h"
#include "export/export.h"
#include "snapshot/symbolize.h"

/* ---- A growable protobuf buffer ---------------------------------------- */

/* The message being encoded: ward__buf, appended to by the pb_* calls. */
#define pb ward__buf

static void pb_raw(struct pb *b, const void *data, size_t n)
{
	ward__buf_add(b, data, n);
}

static void pb_varint(struct pb *b, uint64_t v)
{
	uint8_t buf[10];
	size_t n = 0;
	do {
		buf[n] = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v)
			buf[n] |= 0x80;
		n++;
	} while (v);
	pb_raw(b, buf, n);
}

static void pb_uint(struct pb *b, int field, uint64_t v)
{
	pb_varint(b, (uint64_t)field << 3); /* wire type 0 */
	pb_varint(b, v);
}

static void pb_bytes(struct pb *b, int field, const void *data, size_t n)
{
	pb_varint(b, (uint64_t)field << 3 | 2);
	pb_varint(b, n);
	pb_raw(b, data, n);
}

static void pb_msg(struct pb *b, int field, struct pb *sub)
{
	if (sub->oom)
		b->oom = true;
	pb_bytes(b, field, sub->p, sub->len);
	sub->len = 0;
}

/* ---- String table ------------------------------------------------------ */

/* The string table, with an open-addressed index by hash (1 + the
 * string's id; 0 empty), so a profile of many owners or files stays
 * linear. On running out of memory a string becomes "" (id 0). */
struct strtab {
	const char **v;
	size_t n, cap;
	uint32_t *index;
	size_t icap;
};

static uint64_t str_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static int64_t str_id(struct strtab *t, const char *s)
{
	if (t->n + 1 > t->icap / 2) {
		size_t ncap = t->icap ? t->icap * 2 : 64;
		uint32_t *ni = calloc(ncap, sizeof(*ni));
		if (!ni)
			return 0;
		for (size_t i = 0; i < t->n; i++) {
			size_t k = str_hash(t->v[i]) & (ncap - 1);
			while (ni[k])
				k = (k + 1) & (ncap - 1);
			ni[k] = (uint32_t)i + 1;
		}
		free(t->index);
		t->index = ni;
		t->icap = ncap;
	}
	size_t k = str_hash(s) & (t->icap - 1);
	for (; t->index[k]; k = (k + 1) & (t->icap - 1))
		if (strcmp(t->v[t->index[k] - 1], s) == 0)
			return (int64_t)t->index[k] - 1;
	const char **nv = ward__grow(t->v, &t->cap, t->n + 1, sizeof(*nv), 32);
	if (!nv || t->n >= UINT32_MAX)
		return 0;
	t->v = nv;
	t->v[t->n] = s;
	t->index[k] = (uint32_t)t->n + 1;
	return (int64_t)t->n++;
}

/* Strings made for one profile, freed with it (the table points at them). */
struct strs {
	char **v;
	size_t n, cap;
};

static bool strs_keep(struct strs *k, char *s)
{
	char **v = ward__grow(k->v, &k->cap, k->n + 1, sizeof(*v), 8);
	if (!v)
		return false;
	k->v = v;
	k->v[k->n++] = s;
	return true;
}

/* "read <- wait_for_input <- worker": a blocked stack's first functions. */
static char *blocked_text(const struct ward_profile *p,
			  const struct ward_sample *s)
{
	struct ward__buf b = { 0 };
	struct ward__frame_text fr[MAX_INLINE];
	for (int k = 0; k < s->blocked_depth && k < 6; k++) {
		int n = ward__describe_frames(p, s->blocked_pcs[k], fr, MAX_INLINE);
		ward__frame_function(fr[n - 1].s, false);
		if (k)
			ward__buf_add(&b, " <- ", 4);
		ward__buf_add(&b, fr[n - 1].s, strlen(fr[n - 1].s));
	}
	ward__buf_add(&b, "", 1);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

/* ---- Mappings ---------------------------------------------------------- */

/* Mapping index (1-based) holding addr, or 0. */
static uint64_t mapping_of(const struct ward_profile *p, uint64_t addr)
{
	for (size_t i = 0; i < p->nmaps; i++)
		if (addr >= p->maps[i].start && addr < p->maps[i].limit)
			return i + 1;
	return 0;
}

/* ---- Locations: one per distinct address ------------------------------- */

struct locs {
	uint64_t *addr; /* open addressing; 0 = empty */
	uint64_t *id;
	size_t cap, n;
	uint64_t *order; /* addresses in id order */
};

static int locs_init(struct locs *l, size_t expect)
{
	l->cap = 64;
	while (l->cap < expect * 2)
		l->cap *= 2;
	l->addr = calloc(l->cap, sizeof(*l->addr));
	l->id = calloc(l->cap, sizeof(*l->id));
	l->order = calloc(l->cap, sizeof(*l->order));
	l->n = 0;
	return l->addr && l->id && l->order ? 0 : -ENOMEM;
}

static uint64_t loc_id(struct locs *l, uint64_t addr)
{
	size_t k = (size_t)((addr * 0x9e3779b97f4a7c15ull) >> 20) & (l->cap - 1);
	for (; l->addr[k]; k = (k + 1) & (l->cap - 1))
		if (l->addr[k] == addr)
			return l->id[k];
	l->addr[k] = addr;
	l->id[k] = ++l->n;
	l->order[l->n - 1] = addr;
	return l->n;
}

/* ---- Encoding ---------------------------------------------------------- */

static int deflate_out(const struct pb *b, struct ward__out *o)
{
	z_stream z;
	/* On the caller's stack, which may be a small thread's. */
	uint8_t chunk[16384];

	/* A window no larger than the input, and hash tables to match: zlib's
	 * defaults allocate and clear ~270 KB, which for the few kilobytes of
	 * a small program's profile costs more than compressing it. */
	int wbits = 9;
	while (wbits < 15 && ((size_t)1 << wbits) < b->len)
		wbits++;
	int mem_level = wbits - 7 < 1 ? 1 : wbits - 7;
	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, 6, Z_DEFLATED, wbits + 16, mem_level,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	z.next_in = (Bytef *)b->p;
	z.avail_in = (uInt)b->len;
	int rc;
	do {
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		rc = deflate(&z, Z_FINISH);
		if (rc == Z_STREAM_ERROR)
			break;
		o->write(o->opaque, chunk, sizeof(chunk) - z.avail_out);
	} while (rc != Z_STREAM_END);
	deflateEnd(&z);
	return rc == Z_STREAM_END ? 0 : -EIO;
}

/* A string the table keeps for the whole encoding: its id. */
static int64_t str_kept(struct strtab *st, struct strs *kept, const char *s)
{
	size_t before = st->n;
	char *copy = strdup(s);
	if (!copy)
		return 0;
	int64_t id = str_id(st, copy);
	if (st->n == before || !strs_keep(kept, copy))
		free(copy); /* known already (or dropped: then "") */
	return id;
}

/* Functions by (name, file) string ids: their ids from 1. */
struct funcs {
	uint64_t *key, *id;
	size_t cap, n;
};

static uint64_t func_id(struct funcs *f, struct ward__buf *out, int64_t name,
			int64_t file, bool *oom)
{
	if (f->n + 1 > f->cap / 2) {
		size_t ncap = f->cap ? f->cap * 2 : 256;
		uint64_t *nk = calloc(ncap, sizeof(*nk)), *ni = calloc(ncap, sizeof(*ni));
		if (!nk || !ni) {
			free(nk);
			free(ni);
			*oom = true;
			return 0;
		}
		for (size_t i = 0; i < f->cap; i++)
			if (f->id[i]) {
				size_t k = (size_t)(f->key[i] * 0x9e3779b97f4a7c15ull >> 20) & (ncap - 1);
				while (ni[k])
					k = (k + 1) & (ncap - 1);
				nk[k] = f->key[i];
				ni[k] = f->id[i];
			}
		free(f->key);
		free(f->id);
		f->key = nk;
		f->id = ni;
		f->cap = ncap;
	}
	uint64_t key = (uint64_t)name << 32 | (uint64_t)file;
	size_t k = (size_t)(key * 0x9e3779b97f4a7c15ull >> 20) & (f->cap - 1);
	for (; f->id[k]; k = (k + 1) & (f->cap - 1))
		if (f->key[k] == key)
			return f->id[k];
	f->key[k] = key;
	f->id[k] = ++f->n;
	/* The Function message, into the functions' part of the profile. */
	struct pb fn = { 0 };
	pb_uint(&fn, 1, f->n);
	pb_uint(&fn, 2, (uint64_t)name);
	pb_uint(&fn, 3, (uint64_t)name);
	pb_uint(&fn, 4, (uint64_t)file);
	pb_msg(out, 5, &fn);
	free(fn.p);
	return f->n;
}

/* Location i's lines: its frames named, innermost first. */
static void location_lines(const struct ward_profile *p, uint64_t addr,
			   struct pb *loc, struct strtab *st, struct strs *kept,
			   struct funcs *f, struct pb *funcs_out, bool *oom)
{
	struct ward__src_frame fr[16];
	int n = ward__name_frames(p, (uintptr_t)addr + 1, fr, 16);
	struct pb line = { 0 };
	for (int i = 0; i < n; i++) {
		int64_t name = str_kept(st, kept, fr[i].func);
		int64_t file = str_kept(st, kept, fr[i].file);
		uint64_t id = func_id(f, funcs_out, name, file, oom);
		if (!id)
			continue;
		pb_uint(&line, 1, id);
		if (fr[i].line > 0)
			pb_uint(&line, 2, (uint64_t)fr[i].line);
		pb_msg(loc, 4, &line);
	}
	free(line.p);
}

/* The message being built, and what its parts share. */
struct writer {
	const struct ward_profile *p;
	bool named;
	struct pb b, sub, sub2; /* the profile; scratch messages */
	struct strtab st;
	struct strs kept;
	struct locs l;
};

/* A label (key, string) on the sample being built in w->sub. */
static void add_label(struct writer *w, int64_t key, const char *value)
{
	pb_uint(&w->sub2, 1, (uint64_t)key);
	pb_uint(&w->sub2, 2, (uint64_t)str_id(&w->st, value));
	pb_msg(&w->sub, 3, &w->sub2);
}

/* The four sample types, alloc_* first, so inuse_space is the default. */
static void write_sample_types(struct writer *w)
{
	static const char *const types[4][2] = {
		{ "alloc_objects", "count" },
		{ "alloc_space", "bytes" },
		{ "inuse_objects", "count" },
		{ "inuse_space", "bytes" },
	};
	for (int i = 0; i < 4; i++) {
		pb_uint(&w->sub, 1, (uint64_t)str_id(&w->st, types[i][0]));
		pb_uint(&w->sub, 2, (uint64_t)str_id(&w->st, types[i][1]));
		pb_msg(&w->b, 1, &w->sub);
	}
}

/* "0x7f3a10c891f5 0x55d0e2a01234": a blocked stack's return addresses,
 * each a location of the profile (which carries its names when asked). */
static char *blocked_pcs_text(struct writer *w, const struct ward_sample *s)
{
	struct ward__buf b = { 0 };
	for (int k = 0; k < s->blocked_depth; k++) {
		char pc[24];
		int n = snprintf(pc, sizeof(pc), "%s0x%" PRIxPTR, k ? " " : "",
				 s->blocked_pcs[k]);
		ward__buf_add(&b, pc, (size_t)n);
		loc_id(&w->l, (uint64_t)s->blocked_pcs[k] - 1);
	}
	ward__buf_add(&b, "", 1);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

/* Each sample: its stack, its four values, and its labels. */
static void write_samples(struct writer *w)
{
	const struct ward_profile *p = w->p;
	int64_t kind_key = str_id(&w->st, "kind");
	int64_t leak_key = str_id(&w->st, "leak");
	int64_t owner_key = str_id(&w->st, "owner");
	int64_t blocked_key = str_id(&w->st, "blocked");
	int64_t blocked_pcs_key = str_id(&w->st, "blocked_pcs");
	int64_t root_key = str_id(&w->st, "root");
	for (size_t i = 0; i < p->count; i++) {
		const struct ward_sample *s = &p->samples[i];
		/* location_id, packed */
		for (int k = 0; k < s->depth; k++)
			pb_varint(&w->sub2, loc_id(&w->l, (uint64_t)s->pcs[k] - 1));
		pb_bytes(&w->sub, 1, w->sub2.p, w->sub2.len);
		w->sub2.len = 0;
		int64_t vals[4] = { s->alloc_count, s->alloc_bytes,
				    s->live_count, s->live_bytes };
		for (int k = 0; k < 4; k++)
			pb_varint(&w->sub2, (uint64_t)vals[k]);
		pb_bytes(&w->sub, 2, w->sub2.p, w->sub2.len);
		w->sub2.len = 0;
		const char *kind = ward_profile_kind_name(p, s->kind);
		add_label(w, kind_key, kind ? kind : "?");
		if (ward__leak_name(s->leak))
			add_label(w, leak_key, ward__leak_name(s->leak));
		if (s->owner)
			add_label(w, owner_key, s->owner);
		if (s->root)
			add_label(w, root_key, s->root);
		if (s->blocked_depth > 0 || s->blocked) {
			/* Where a leaked thread blocks, as function names
			 * (pprof keeps one stack per sample). */
			char *text = s->blocked_depth > 0 ? blocked_text(p, s)
							  : strdup(s->blocked);
			if (text && strs_keep(&w->kept, text))
				add_label(w, blocked_key, text);
			else
				free(text);
		}
		if (s->blocked_depth > 0) {
			/* And as addresses, which a reader names as it names
			 * the stack (source lines from debug information
			 * the traced process never loads). */
			char *pcs = blocked_pcs_text(w, s);
			if (pcs && strs_keep(&w->kept, pcs))
				add_label(w, blocked_pcs_key, pcs);
			else
				free(pcs);
		}
		pb_msg(&w->b, 2, &w->sub);
	}
}

static void write_mappings(struct writer *w)
{
	for (size_t i = 0; i < w->p->nmaps; i++) {
		const struct ward__mapping *m = &w->p->maps[i];
		pb_uint(&w->sub, 1, i + 1);
		pb_uint(&w->sub, 2, m->start);
		pb_uint(&w->sub, 3, m->limit);
		pb_uint(&w->sub, 4, m->offset);
		pb_uint(&w->sub, 5,
			(uint64_t)str_id(&w->st, m->file ? m->file : ""));
		pb_uint(&w->sub, 6, (uint64_t)str_id(&w->st, m->build_id
								 ? m->build_id
								 : ""));
		if (w->named) { /* functions, files, lines, inlined frames */
			for (int f = 7; f <= 10; f++)
				pb_uint(&w->sub, f, 1);
		}
		pb_msg(&w->b, 3, &w->sub);
	}
}

/* Each location, in address order, named when asked (then the functions
 * its lines refer to follow). */
static void write_locations(struct writer *w)
{
	struct funcs fns = { 0 };
	struct pb fn_msgs = { 0 };
	bool fn_oom = false;
	for (size_t i = 0; i < w->l.n; i++) {
		uint64_t addr = w->l.order[i];
		pb_uint(&w->sub, 1, i + 1);
		uint64_t mid = mapping_of(w->p, addr);
		if (mid)
			pb_uint(&w->sub, 2, mid);
		pb_uint(&w->sub, 3, addr);
		if (w->named)
			location_lines(w->p, addr, &w->sub, &w->st, &w->kept,
				       &fns, &fn_msgs, &fn_oom);
		pb_msg(&w->b, 4, &w->sub);
	}
	pb_raw(&w->b, fn_msgs.p, fn_msgs.len);
	if (fn_oom || fn_msgs.oom)
		w->b.oom = true;
	free(fn_msgs.p);
	free(fns.key);
	free(fns.id);
}

/* The modules' figures, one comment each: "pool conns: cached 12"
 * (`go tool pprof -comments`; the reader takes them back). */
static void write_figures(struct writer *w)
{
	for (size_t i = 0; i < w->p->nfigures; i++) {
		const struct ward_figure *f = &w->p->figures[i];
		char *text = NULL;
		if (asprintf(&text, "%s%s%s: %s %" PRIu64, f->what,
			     *f->name ? " " : "", f->name, f->figure,
			     f->value) < 0 || !strs_keep(&w->kept, text)) {
			free(text);
			w->b.oom = true;
			return;
		}
		pb_uint(&w->b, 13, (uint64_t)str_id(&w->st, text));
	}
}

/* The program's own suppressions, one comment a line: "suppression:
 * leak:PATTERN" (the reader takes them back). */
static void write_own_suppressions(struct writer *w)
{
	for (const char *at = w->p->own_suppressions; at && *at;) {
		size_t len = strcspn(at, "\n");
		char *text = NULL;
		if (asprintf(&text, "suppression: %.*s", (int)len, at) < 0 ||
		    !strs_keep(&w->kept, text)) {
			free(text);
			w->b.oom = true;
			return;
		}
		pb_uint(&w->b, 13, (uint64_t)str_id(&w->st, text));
		at += len + (at[len] == '\n');
	}
}

int ward__write_pprof(const struct ward_profile *p, struct ward__out *o,
		      bool named)
{
	struct writer w = { .p = p, .named = named };
	size_t total_frames = 0;
	int rc = -ENOMEM;

	for (size_t i = 0; i < p->count; i++)
		total_frames += (size_t)p->samples[i].depth +
				(size_t)p->samples[i].blocked_depth;
	if (locs_init(&w.l, total_frames + 1) < 0)
		goto out;
	str_id(&w.st, "");
	write_sample_types(&w);
	write_samples(&w);
	write_mappings(&w);
	write_locations(&w);
	write_figures(&w);
	write_own_suppressions(&w);

	/* Every string is interned before the table goes out. */
	pb_uint(&w.sub, 1, (uint64_t)str_id(&w.st, "space"));
	pb_uint(&w.sub, 2, (uint64_t)str_id(&w.st, "bytes"));
	pb_msg(&w.b, 11, &w.sub);
	pb_uint(&w.b, 12, 1);
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	pb_uint(&w.b, 9, (uint64_t)now.tv_sec * 1000000000ull +
				 (uint64_t)now.tv_nsec);
	for (size_t i = 0; i < w.st.n; i++)
		pb_bytes(&w.b, 6, w.st.v[i], strlen(w.st.v[i]));

	if (!w.b.oom)
		rc = deflate_out(&w.b, o);
out:
	free(w.b.p);
	free(w.sub.p);
	free(w.sub2.p);
	free(w.st.v);
	free(w.st.index);
	for (size_t i = 0; i < w.kept.n; i++)
		free(w.kept.v[i]);
	free(w.kept.v);
	free(w.l.addr);
	free(w.l.id);
	free(w.l.order);
	return rc;
}
