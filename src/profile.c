/*
 * profile.c — snapshots and diffs of the registry, the text and JSON
 * exporters, and atomic saving. The pprof encoder is in pprof.c.
 *
 * A snapshot reads each site's counters (four relaxed atomic loads), so it
 * costs time in proportion to the number of sites and never stops the
 * threads that acquire and release meanwhile. Samples point at the sites'
 * stacks, which live as long as the process.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal/log.h"
#include "internal/sample.h"
#include "internal/scan.h"
#include "internal/profile.h"
#include "internal/registry.h"
#include "internal/symbolize.h"
#include "ward/track.h"

static int by_live_ptr(const void *a, const void *b);

static struct ward_profile *profile_new(size_t cap)
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

WARD_API ward_profile_t *ward_profile_snapshot(void)
{
	uint32_t n = ward__site_count();
	struct ward_profile *p;
	struct ward__counts *c;

	ward__in_registry++;
	p = profile_new(n);
	c = malloc((n ? n : 1) * sizeof(*c));
	if (!p || !c) {
		ward_profile_free(p);
		free(c);
		ward__in_registry--;
		return NULL;
	}
	ward__in_registry--;
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
	ward__in_registry++;
	free(c);
	ward__in_registry--;
	return p;
}

struct ward_profile *ward__profile_top(const struct ward_profile *p, size_t n)
{
	struct ward_profile *t = profile_new(n);
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
	if (p->maps) {
		t->maps = calloc(p->nmaps + 1, sizeof(*t->maps));
		if (!t->maps) {
			ward_profile_free(t);
			return NULL;
		}
		for (size_t i = 0; i < p->nmaps; i++) {
			t->maps[i] = p->maps[i];
			t->maps[i].file = p->maps[i].file ? strdup(p->maps[i].file)
							  : NULL;
		}
		t->nmaps = p->nmaps;
	}
	return t;
}

WARD_API ward_profile_t *ward_profile_diff(const ward_profile_t *base,
					   const ward_profile_t *now)
{
	struct ward_profile *d = profile_new(now->count);
	if (!d)
		return NULL;
	/* Both are in site-id order: merge. */
	size_t i = 0;
	for (size_t j = 0; j < now->count; j++) {
		while (i < base->count && base->sites[i] < now->sites[j])
			i++;
		struct ward_sample s = now->samples[j];
		if (i < base->count && base->sites[i] == now->sites[j]) {
			const struct ward_sample *b = &base->samples[i];
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
	return d;
}

WARD_API void ward_profile_free(ward_profile_t *p)
{
	if (!p)
		return;
	free(p->samples);
	free(p->sites);
	free(p->owned_pcs);
	for (size_t i = 0; i < p->nmaps; i++)
		free(p->maps[i].file);
	free(p->maps);
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

/* ---- Buffered output through the callback ------------------------------ */

void ward__out_printf(struct ward__out *o, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	o->write(o->opaque, buf, (size_t)n);
}

/*
 * The frames of a named function at file-relative address vaddr of path:
 * those DWARF says were inlined there, then the function itself.
 */
static int with_source(struct ward__frame_text *out, int max, const char *name,
		       uint64_t off, const char *obj, const char *path,
		       uint64_t vaddr)
{
	struct ward__src_frame src[16];
	int n = ward__source_frames(path, vaddr, src, 16);
	int k = 0;

	if (n <= 0) {
		snprintf(out[0].s, sizeof(out[0].s), "%s+0x%" PRIx64 " (%s)",
			 name, off, obj);
		return 1;
	}
	for (int i = 0; i < n - 1 && k < max - 1; i++)
		snprintf(out[k++].s, sizeof(out[0].s),
			 "%.200s (%.150s) %.120s:%d (inlined)",
			 src[i].func[0] ? src[i].func : "?", obj, src[i].file,
			 src[i].line);
	snprintf(out[k++].s, sizeof(out[0].s),
		 "%.200s+0x%" PRIx64 " (%.150s) %.120s:%d",
		 name, off, obj, src[n - 1].file, src[n - 1].line);
	return k;
}

static const char *base_of(const char *path)
{
	const char *base = strrchr(path, '/');
	return base ? base + 1 : path;
}

/*
 * "function+0xoff (object) file:line" for a return address in this
 * process: the ELF symbol tables first (static functions too), then
 * dladdr, then the bare address; functions inlined there come first.
 */
static int describe_pc(uintptr_t pc, struct ward__frame_text *out, int max)
{
	char name[256];
	uint64_t off;
	const char *object = NULL;
	Dl_info info;
	uintptr_t bias = 0;
	const size_t len = sizeof(out[0].s);

	int rc = ward__symbolize_pc(pc - 1, name, sizeof(name), &off, &object,
				    &bias);
	if (rc == 0)
		return with_source(out, max, name, off + 1, base_of(object),
				   object, pc - 1 - bias);
	if (rc != -ESRCH && dladdr((void *)(pc - 1), &info) &&
	    info.dli_fname) {
		const char *obj = base_of(info.dli_fname);
		if (info.dli_sname) {
			snprintf(name, sizeof(name), "%s", info.dli_sname);
			ward__demangle(name, sizeof(name));
			snprintf(out[0].s, len, "%s+0x%" PRIxPTR " (%s)", name,
				 pc - (uintptr_t)info.dli_saddr, obj);
		}
		else
			snprintf(out[0].s, len, "0x%" PRIxPTR " (%s+0x%" PRIxPTR ")",
				 pc, obj, pc - (uintptr_t)info.dli_fbase);
	} else if (rc == -ESRCH) {
		/* dladdr would search the same tables, slowly: skip it. */
		snprintf(out[0].s, len, "0x%" PRIxPTR " (%s+0x%" PRIxPTR ")", pc,
			 base_of(object), pc - bias);
	} else {
		snprintf(out[0].s, len, "0x%" PRIxPTR, pc);
	}
	return 1;
}

static int describe_raw(const struct ward_profile *p, uintptr_t pc,
			struct ward__frame_text *out, int max);

/* Names come from files and profiles anyone may have written: control
 * characters never reach a terminal raw. */
int ward__describe_frames(const struct ward_profile *p, uintptr_t pc,
			  struct ward__frame_text *out, int max)
{
	int n = describe_raw(p, pc, out, max);
	for (int i = 0; i < n; i++)
		for (char *c = out[i].s; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				*c = '?';
	return n;
}

static int describe_raw(const struct ward_profile *p, uintptr_t pc,
			struct ward__frame_text *out, int max)
{
	const size_t len = sizeof(out[0].s);

	if (max < 1)
		return 0;
	if (!p || !p->maps)
		return describe_pc(pc, out, max);
	for (size_t i = 0; i < p->nmaps; i++) {
		const struct ward__mapping *m = &p->maps[i];
		if (pc - 1 < m->start || pc - 1 >= m->limit)
			continue;
		const char *base = m->file ? base_of(m->file) : "?";
		char name[256];
		uint64_t off, vaddr;
		uint64_t foff = pc - 1 - m->start + m->offset;
		if (m->file && m->file[0] &&
		    ward__symbolize_offset(m->file, foff, name, sizeof(name),
					   &off) == 0) {
			if (ward__offset_to_vaddr(m->file, foff, &vaddr) == 0)
				return with_source(out, max, name, off + 1, base,
						   m->file, vaddr);
			snprintf(out[0].s, len, "%s+0x%" PRIx64 " (%s)", name,
				 off + 1, base);
		} else {
			snprintf(out[0].s, len, "0x%" PRIxPTR " (%s+0x%" PRIx64 ")",
				 pc, base, foff + 1);
		}
		return 1;
	}
	snprintf(out[0].s, len, "0x%" PRIxPTR, pc);
	return 1;
}

void ward__describe(const struct ward_profile *p, uintptr_t pc, char *buf,
		    size_t len)
{
	struct ward__frame_text f[16];
	int n = ward__describe_frames(p, pc, f, 16);
	snprintf(buf, len, "%s", f[n - 1].s);
}

void ward__describe_pc(uintptr_t pc, char *buf, size_t len)
{
	ward__describe(NULL, pc, buf, len);
}

void ward__frame_function(char *frame, bool with_object)
{
	if (frame[0] == '0' && frame[1] == 'x') {
		/* No name: "0xADDR (object+offset)" becomes "object+offset",
		 * which, unlike the address, stays from run to run. */
		char *open = strstr(frame, " (");
		if (open) {
			memmove(frame, open + 2, strlen(open + 2) + 1);
			frame[strcspn(frame, ")")] = '\0';
		}
		return;
	}
	char *open = strstr(frame, " (");
	char *plus = strchr(frame, '+');
	char *end = plus && (!open || plus < open) ? plus : open;
	if (!end)
		return;
	if (!with_object || !open) {
		*end = '\0';
		return;
	}
	char *close = strchr(open, ')');
	if (close)
		close[1] = '\0';
	memmove(end, open, strlen(open) + 1);
}

/* Whether a kind's sizes are bytes: the heap's and user kinds' are;
 * descriptors, FILEs and threads are counted, not measured. */
static bool sized(int kind)
{
	return kind == WARD_KIND_HEAP || kind >= WARD_KIND_USER;
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

static const struct ward_sample **sorted(const ward_profile_t *p)
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

/* Whether a frame is one of the allocator's own wrappers, which every
 * stack through them shares: the report's "acquired at" column starts
 * above them, as every anchor tool's does. */
static bool allocator_frame(const char *frame)
{
	static const char *const wrappers[] = {
		"operator new", "operator delete", "_Znwm", "_Znam",
		"std::allocator", "std::__new_allocator",
		"__gnu_cxx::new_allocator", "std::allocator_traits",
		"std::__allocated_ptr", "strdup", "__strdup", "strndup",
		"__strndup", "xmalloc", "xcalloc", "xrealloc", "xstrdup",
		"g_malloc", "g_malloc0", "g_strdup", "g_realloc", NULL
	};
	/* Inlined frames carry DWARF's short names ("allocate"): tell
	 * them by the C++ library header they come from. */
	static const char *const headers[] = {
		"new_allocator.h:", "alloc_traits.h:", "allocator.h:",
		"stl_vector.h:", "vector.tcc:", "basic_string.h:",
		"basic_string.tcc:", "hashtable.h:", "hashtable_policy.h:",
		"stl_tree.h:", "stl_list.h:", "stl_deque.h:",
		"shared_ptr_base.h:", "shared_ptr.h:", "unique_ptr.h:",
		"stl_construct.h:", "stl_uninitialized.h:", NULL
	};
	for (int i = 0; wrappers[i]; i++) {
		size_t n = strlen(wrappers[i]);
		if (strncmp(frame, wrappers[i], n) == 0 &&
		    (frame[n] == '+' || frame[n] == '(' || frame[n] == ' ' ||
		     frame[n] == '<' || frame[n] == '[' || frame[n] == ':'))
			return true;
	}
	for (int i = 0; headers[i]; i++) {
		const char *at = strstr(frame, headers[i]);
		if (at && (at == frame || at[-1] == '/' || at[-1] == ' '))
			return true;
	}
	return false;
}

static int write_text(const ward_profile_t *p, struct ward__out *o)
{
	const struct ward_sample **v = sorted(p);
	int64_t count[WARD_KIND_MAX] = { 0 }, bytes[WARD_KIND_MAX] = { 0 };
	int64_t total_bytes = 0;
	size_t live_sites = 0;
	char frame[512];
	struct ward__frame_text fr[MAX_INLINE];

	if (!v)
		return -ENOMEM;
	/* Counts and bytes are never summed across kinds: a kind's count
	 * is its own, and only sized kinds have bytes. */
	for (size_t i = 0; i < p->count; i++) {
		const struct ward_sample *s = &p->samples[i];
		if (s->kind < 0 || s->kind >= WARD_KIND_MAX)
			continue;
		count[s->kind] = ward__sat_add(count[s->kind], s->live_count);
		if (sized(s->kind)) {
			bytes[s->kind] = ward__sat_add(bytes[s->kind], s->live_bytes);
			total_bytes = ward__sat_add(total_bytes, s->live_bytes);
		}
		live_sites += s->live_count != 0;
	}
	ward__out_printf(o, "ward: live:");
	bool any = false;
	for (int k = 0; k < WARD_KIND_MAX; k++) {
		const char *name = ward_kind_name(k);
		if (!count[k] || !name)
			continue;
		if (sized(k))
			ward__out_printf(o, "%s %s %" PRId64 " (%" PRId64 " bytes)",
					 any ? "," : "", name, count[k], bytes[k]);
		else
			ward__out_printf(o, "%s %s %" PRId64, any ? "," : "",
					 name, count[k]);
		any = true;
	}
	ward__out_printf(o, "%s; at %zu sites\n", any ? "" : " nothing",
			 live_sites);
	ward__out_printf(o, "%12s %7s %10s  %-14s %s\n", "live bytes", "bytes%",
			 "live count", "kind", "acquired at");
	for (size_t i = 0; i < p->count; i++) {
		const struct ward_sample *s = v[i];
		if (!s->live_count)
			continue;
		double pct = total_bytes ? 100.0 * (double)s->live_bytes /
						   (double)total_bytes
					 : 0.0;
		/* The first frame outside the allocator's wrappers and the
		 * standard containers (operator new, strdup, an inlined
		 * std::vector constructor, ...): the program's own. */
		frame[0] = '\0';
		for (int d = 0; d < s->depth && !frame[0]; d++) {
			int nf = ward__describe_frames(p, s->pcs[d], fr, MAX_INLINE);
			for (int j = 0; j < nf && !frame[0]; j++)
				if (!allocator_frame(fr[j].s))
					snprintf(frame, sizeof(frame), "%.*s",
						 (int)sizeof(frame) - 1, fr[j].s);
		}
		if (!frame[0] && s->depth > 0 &&
		    ward__describe_frames(p, s->pcs[0], fr, MAX_INLINE) > 0)
			snprintf(frame, sizeof(frame), "%s", fr[0].s);
		if (!frame[0])
			snprintf(frame, sizeof(frame), "(no stack)");
		const char *kind = ward_kind_name(s->kind);
		const char *leak = ward__leak_name(s->leak);
		char kb[40];
		snprintf(kb, sizeof(kb), "%s%s%s", kind ? kind : "?",
			 leak ? "/" : "", leak ? leak : "");
		if (sized(s->kind))
			ward__out_printf(o, "%12" PRId64 " %6.2f%% %10" PRId64
					    "  %-14s %s\n",
					 s->live_bytes, pct, s->live_count, kb,
					 frame);
		else
			ward__out_printf(o, "%12s %7s %10" PRId64 "  %-14s %s\n",
					 "-", "-", s->live_count, kb, frame);
	}
	ward__out_printf(o, "\nstacks:\n");
	for (size_t i = 0; i < p->count; i++) {
		const struct ward_sample *s = v[i];
		if (!s->live_count)
			continue;
		const char *kind = ward_kind_name(s->kind);
		if (s->kind == WARD_KIND_HEAP && ward__leak_name(s->leak))
			ward__out_printf(o, "%s: %" PRId64 " live, %" PRId64
					    " bytes, %s\n",
					 kind, s->live_count, s->live_bytes,
					 s->leak == WARD_LEAK_DEFINITE
						 ? "definitely lost"
					 : s->leak == WARD_LEAK_INDIRECT
						 ? "indirectly lost"
						 : "still reachable");
		else if (s->kind == WARD_KIND_HEAP)
			ward__out_printf(o, "%s: %" PRId64 " live, %" PRId64
					    " bytes (acquired %" PRId64
					    ", %" PRId64 " bytes)\n",
					 kind, s->live_count, s->live_bytes,
					 s->alloc_count, s->alloc_bytes);
		else /* sizes of descriptors and threads mean nothing */
			ward__out_printf(o, "%s: %" PRId64 " live (acquired %"
					    PRId64 ")\n",
					 kind ? kind : "?", s->live_count,
					 s->alloc_count);
		for (int k = 0; k < s->depth; k++) {
			int n = ward__describe_frames(p, s->pcs[k], fr, MAX_INLINE);
			for (int j = 0; j < n; j++)
				ward__out_printf(o, "\t%s\n", fr[j].s);
		}
	}
	free(v);
	return 0;
}

static void json_string(struct ward__out *o, const char *s)
{
	char buf[600];
	size_t n = 0;

	buf[n++] = '"';
	for (; *s && n < sizeof(buf) - 8; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			buf[n++] = '\\';
			buf[n++] = (char)c;
		} else if (c < 0x20) {
			n += (size_t)snprintf(buf + n, 7, "\\u%04x", c);
		} else {
			buf[n++] = (char)c;
		}
	}
	buf[n++] = '"';
	o->write(o->opaque, buf, n);
}

static int write_json(const ward_profile_t *p, struct ward__out *o)
{
	struct ward__frame_text fr[MAX_INLINE];

	ward__out_printf(o, "{\"samples\":[");
	for (size_t i = 0; i < p->count; i++) {
		const struct ward_sample *s = &p->samples[i];
		const char *kind = ward_kind_name(s->kind);
		ward__out_printf(o, "%s\n{\"kind\":", i ? "," : "");
		json_string(o, kind ? kind : "?");
		if (ward__leak_name(s->leak)) {
			ward__out_printf(o, ",\"leak\":");
			json_string(o, ward__leak_name(s->leak));
		}
		ward__out_printf(o, ",\"live_count\":%" PRId64
				    ",\"live_bytes\":%" PRId64
				    ",\"alloc_count\":%" PRId64
				    ",\"alloc_bytes\":%" PRId64 ",\"stack\":[",
				 s->live_count, s->live_bytes, s->alloc_count,
				 s->alloc_bytes);
		for (int k = 0; k < s->depth; k++) {
			int n = ward__describe_frames(p, s->pcs[k], fr, MAX_INLINE);
			ward__out_printf(o, "%s{\"pc\":\"0x%" PRIxPTR "\",\"frame\":",
					 k ? "," : "", s->pcs[k]);
			json_string(o, fr[n - 1].s);
			if (n > 1) {
				ward__out_printf(o, ",\"inlined\":[");
				for (int j = 0; j < n - 1; j++) {
					ward__out_printf(o, j ? "," : "");
					json_string(o, fr[j].s);
				}
				ward__out_printf(o, "]");
			}
			ward__out_printf(o, "}");
		}
		ward__out_printf(o, "]}");
	}
	ward__out_printf(o, "\n]}\n");
	return 0;
}

WARD_API int ward_profile_write(const ward_profile_t *p, enum ward_format fmt,
				ward_write_fn write, void *opaque)
{
	struct ward__out o = { write, opaque };
	int rc;

	if (!p || !write)
		return -EINVAL;
	ward__in_registry++;
	switch (fmt) {
	case WARD_FORMAT_PPROF:
		rc = ward__write_pprof(p, &o);
		break;
	case WARD_FORMAT_TEXT:
		rc = write_text(p, &o);
		break;
	case WARD_FORMAT_JSON:
		rc = write_json(p, &o);
		break;
	default:
		rc = -EINVAL;
	}
	ward__in_registry--;
	return rc;
}

/* ---- Classified by a reachability scan ----------------------------------- */

struct ward_profile *ward__profile_classify(const struct ward_profile *p,
					    const struct ward__scan_result *r)
{
	/* Per site: count and bytes of each class. */
	uint32_t nsites = ward__site_count() + 1;
	int64_t(*c)[4] = calloc(nsites, sizeof(*c));
	int64_t(*b)[4] = calloc(nsites, sizeof(*b));
	struct ward_profile *t = profile_new(p->count * 3 + 1);
	if (!c || !b || !t) {
		free(c);
		free(b);
		ward_profile_free(t);
		return NULL;
	}
	for (size_t i = 0; i < r->blocks; i++)
		if (r->site[i] < nsites) {
			c[r->site[i]][r->state[i]]++;
			b[r->site[i]][r->state[i]] += (int64_t)r->size[i];
		}
	for (size_t i = 0; i < p->count; i++) {
		const struct ward_sample *s = &p->samples[i];
		uint32_t site = p->sites[i];
		if (s->kind != WARD_KIND_HEAP || site >= nsites ||
		    s->live_count <= 0) {
			t->samples[t->count] = *s;
			t->sites[t->count++] = site;
			continue;
		}
		/* Live values split by class; allocation totals stay on the
		 * first part, so they add up as before. */
		bool first = true;
		for (int k = WARD_LEAK_DEFINITE; k <= WARD_LEAK_REACHABLE; k++) {
			if (!c[site][k])
				continue;
			struct ward_sample part = *s;
			part.leak = k;
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

/* ---- The summary `ward run` prints ------------------------------------- */

void ward__write_summary(const ward_profile_t *p, const char *head,
			 const bool *kinds, ward_write_fn write, void *opaque)
{
	struct ward__out o = { write, opaque };
	int64_t count[WARD_KIND_USER] = { 0 }, bytes[WARD_KIND_USER] = { 0 };
	int64_t lc[4] = { 0 }, lb[4] = { 0 };

	for (size_t i = 0; i < p->count; i++) {
		const struct ward_sample *s = &p->samples[i];
		if (s->kind >= 0 && s->kind < WARD_KIND_USER) {
			count[s->kind] = ward__sat_add(count[s->kind], s->live_count);
			bytes[s->kind] = ward__sat_add(bytes[s->kind], s->live_bytes);
		}
		if (s->kind == WARD_KIND_HEAP && s->leak > 0 && s->leak < 4) {
			lc[s->leak] = ward__sat_add(lc[s->leak], s->live_count);
			lb[s->leak] = ward__sat_add(lb[s->leak], s->live_bytes);
		}
	}
	ward__out_printf(&o, "ward: %s:\n", head);
	for (int k = 0; k < WARD_KIND_USER; k++) {
		const char *name = ward_kind_name(k);
		if (!name || (kinds && !kinds[k]))
			continue;
		if (k == WARD_KIND_HEAP) {
			ward__out_printf(&o, "  %-7s %10lld blocks %12lld bytes\n",
					 name, (long long)count[k],
					 (long long)bytes[k]);
			static const char *const what[4] = {
				NULL, "definitely lost", "indirectly lost",
				"still reachable"
			};
			for (int l = 1; l < 4; l++)
				if (lc[l])
					ward__out_printf(
						&o, "    %-15s %8lld blocks %12lld bytes\n",
						what[l], (long long)lc[l],
						(long long)lb[l]);
		} else
			ward__out_printf(&o, "  %-7s %10lld\n", name,
					 (long long)count[k]);
	}
	ward__out_printf(&o, "\n");
	/* The top sites; `ward report` shows them all. */
	struct ward_profile *top = ward__profile_top(p, SUMMARY_SITES);
	ward_profile_write(top ? top : p, WARD_FORMAT_TEXT, write, opaque);
	size_t live_sites = 0;
	for (size_t i = 0; i < p->count; i++)
		live_sites += p->samples[i].live_count > 0;
	if (top && top->count < live_sites)
		ward__out_printf(&o, "(the %zu sites holding the most; `ward "
				     "report` lists all %zu)\n",
				 top->count, live_sites);
	ward_profile_free(top);
}

/* ---- Atomic save ------------------------------------------------------- */

int ward__save_target(const char *path, char *out, size_t len)
{
	struct stat st;
	char real[PATH_MAX];
	if (!path || !*path)
		return -EINVAL;
	if (strlen(path) >= len)
		return -ENAMETOOLONG;
	if (lstat(path, &st) < 0) {
		if (errno != ENOENT)
			return -errno;
		strcpy(out, path); /* a new file */
		return 0;
	}
	if (S_ISLNK(st.st_mode)) {
		/* Replace the file the link names, not the link. */
		if (!realpath(path, real))
			return errno == ENOENT ? -ENOLINK : -errno;
		if (strlen(real) >= len)
			return -ENAMETOOLONG;
		if (stat(real, &st) < 0)
			return -errno;
		path = real;
		if (S_ISREG(st.st_mode)) {
			strcpy(out, real);
			return 0;
		}
	}
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (!S_ISREG(st.st_mode))
		return -EEXIST; /* a device, FIFO or socket: never replaced */
	strcpy(out, path);
	return 0;
}

const char *ward__save_strerror(int err)
{
	switch (err) {
	case -EEXIST:
		return "it exists and is not a regular file (ward replaces only "
		       "regular files)";
	case -ENOLINK:
		return "it is a symbolic link to nothing";
	default:
		return strerror(-err);
	}
}

int ward__save_atomic(const char *path, int (*fill)(int fd, void *ctx),
		      void *ctx)
{
	char target[PATH_MAX], tmp[PATH_MAX + 16];
	int rc = ward__save_target(path, target, sizeof(target));
	if (rc < 0)
		return rc;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", target) >=
	    sizeof(tmp))
		return -ENAMETOOLONG;
	ward__in_registry++;
	int fd = mkostemp(tmp, O_CLOEXEC);
	ward__in_registry--;
	if (fd < 0)
		return -errno;
	rc = fill(fd, ctx);
	/* Atomic, not durable: the rename means no reader sees half a file;
	 * an fsync per profile (every traced process writes one at exit)
	 * would cost more than the tracing. */
	if (rc == 0 && fchmod(fd, 0644) < 0) /* mkstemp made it 0600 */
		rc = -errno;
	ward__in_registry++;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	ward__in_registry--;
	if (rc == 0 && rename(tmp, target) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc;
}

struct file_out {
	int fd;
	int err;
	const ward_profile_t *p;
	enum ward_format fmt;
};

static void file_write(void *opaque, const void *buf, size_t len)
{
	struct file_out *f = opaque;
	if (!f->err)
		f->err = ward__write_all(f->fd, buf, len);
}

static int fill_profile(int fd, void *ctx)
{
	struct file_out *f = ctx;
	f->fd = fd;
	int rc = ward_profile_write(f->p, f->fmt, file_write, f);
	return rc < 0 ? rc : f->err;
}

WARD_API int ward_profile_save(const ward_profile_t *p, const char *path,
			       enum ward_format fmt)
{
	if (!p || !path)
		return -EINVAL;
	struct file_out f = { -1, 0, p, fmt };
	return ward__save_atomic(path, fill_profile, &f);
}
