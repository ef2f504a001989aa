/*
 * text.c — the text and JSON reports, the summary `ward run` prints, and
 * ward_profile_write(), which picks an encoder (pprof.c has the pprof one).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/guard.h"
#include "core/sat.h"
#include "core/stacks.h"
#include "core/text.h"
#include "export/export.h"
#include "snapshot/profile.h"
#include "ward/track.h"

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
 * Rust's allocation layers: its alloc crate (Box, Vec, String, format!,
 * the raw vectors they grow in) and the hash maps std builds on, as C++'s
 * containers are. An impl of a trait of the program's own for one of
 * their types ("<alloc::vec::Vec<T> as app::Store>::put") is the
 * program's code; one of core's, alloc's or std's is theirs.
 */
static bool rust_allocation_frame(const char *frame)
{
	static const char *const layers[] = {
		"alloc::", "<alloc::", "hashbrown::", "<hashbrown::",
		"std::collections::", "<std::collections::", "__rust_alloc",
		"__rust_realloc", "__rdl_alloc", "__rdl_realloc", NULL
	};
	int i = 0;
	while (layers[i] && strncmp(frame, layers[i], strlen(layers[i])))
		i++;
	if (!layers[i])
		return false;
	if (frame[0] != '<')
		return true;
	/* "<Type as Trait>::f": whose trait, at the outermost " as ". */
	int depth = 0;
	for (const char *c = frame; *c; c++) {
		depth += *c == '<';
		depth -= *c == '>';
		if (depth == 1 && strncmp(c, " as ", 4) == 0)
			return strncmp(c + 4, "core::", 6) == 0 ||
			       strncmp(c + 4, "alloc::", 7) == 0 ||
			       strncmp(c + 4, "std::", 5) == 0;
		if (depth == 0)
			break;
	}
	return true;
}

/* Whether a frame is one of the allocator's own wrappers, which every
 * stack through them shares: the report's "acquired at" column starts
 * above them, as every anchor tool's does. */
bool ward__allocator_frame(const char *frame)
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
	return rust_allocation_frame(frame);
}

/* The first line: what is live, kind by kind. Returns the bytes of the
 * sized kinds together (what the table's percentages are of). */
static int64_t write_totals(const ward_profile_t *p, struct ward__out *o)
{
	int64_t count[WARD_KIND_MAX] = { 0 }, bytes[WARD_KIND_MAX] = { 0 };
	int64_t total_bytes = 0;
	size_t live_sites = 0;

	/* Counts and bytes are never summed across kinds: a kind's count
	 * is its own, and only sized kinds have bytes. */
	for (size_t i = 0; i < p->count; i++) {
		const struct ward_sample *s = &p->samples[i];
		if (s->kind < 0 || s->kind >= WARD_KIND_MAX)
			continue;
		count[s->kind] = ward__sat_add(count[s->kind], s->live_count);
		if (ward__kind_sized(s->kind)) {
			bytes[s->kind] = ward__sat_add(bytes[s->kind], s->live_bytes);
			total_bytes = ward__sat_add(total_bytes, s->live_bytes);
		}
		live_sites += s->live_count != 0;
	}
	/* A summary's top rows: the totals are theirs, not the program's
	 * (which the summary gave above them). */
	if (p->top_rows)
		ward__out_printf(o, "ward: the %zu sites holding the most:",
				 live_sites);
	else
		ward__out_printf(o, "ward: live:");
	bool any = false;
	for (int k = 0; k < WARD_KIND_MAX; k++) {
		const char *name = ward_profile_kind_name(p, k);
		if (!count[k] || !name)
			continue;
		if (ward__kind_sized(k))
			ward__out_printf(o, "%s %s %" PRId64 " (%" PRId64 " bytes)",
					 any ? "," : "", name, count[k], bytes[k]);
		else
			ward__out_printf(o, "%s %s %" PRId64, any ? "," : "",
					 name, count[k]);
		any = true;
	}
	if (p->top_rows) {
		ward__out_printf(o, "\n");
		return p->whole_bytes; /* a row's share of all */
	}
	ward__out_printf(o, "%s; at %zu sites\n", any ? "" : " nothing",
			 live_sites);
	return total_bytes;
}

/* What a sample with no stack says instead: a descriptor the tracer found
 * open that it did not see opened (trace/fds.c), or none taken. */
static const char *no_stack(const struct ward_sample *s)
{
	return s->kind == WARD_KIND_FD ? "(opened where ward did not see)"
				       : "(no stack)";
}

/* The first frame outside the allocator's wrappers and the standard
 * containers (operator new, strdup, an inlined std::vector constructor,
 * ...): the program's own. */
static void program_frame(const ward_profile_t *p, const struct ward_sample *s,
			  char *frame, size_t len)
{
	struct ward__frame_text fr[MAX_INLINE];

	frame[0] = '\0';
	for (int d = 0; d < s->depth && !frame[0]; d++) {
		int nf = ward__describe_frames(p, s->pcs[d], fr, MAX_INLINE);
		for (int j = 0; j < nf && !frame[0]; j++)
			if (!ward__allocator_frame(fr[j].s))
				snprintf(frame, len, "%.*s", (int)len - 1,
					 fr[j].s);
	}
	if (!frame[0] && s->depth > 0 &&
	    ward__describe_frames(p, s->pcs[0], fr, MAX_INLINE) > 0)
		snprintf(frame, len, "%s", fr[0].s);
	if (!frame[0])
		snprintf(frame, len, "%s", no_stack(s));
}

/* One line a site, in report order: live bytes and count, kind, where. */
static void write_table(const ward_profile_t *p,
			const struct ward_sample **v, int64_t total_bytes,
			struct ward__out *o)
{
	char frame[512];

	ward__out_printf(o, "%12s %7s %10s  %-14s %s\n", "live bytes", "bytes%",
			 "live count", "kind", "acquired at");
	for (size_t i = 0; i < p->count; i++) {
		const struct ward_sample *s = v[i];
		if (!s->live_count)
			continue;
		double pct = total_bytes ? 100.0 * (double)s->live_bytes /
						   (double)total_bytes
					 : 0.0;
		program_frame(p, s, frame, sizeof(frame));
		const char *kind = ward_profile_kind_name(p, s->kind);
		const char *leak = ward__leak_name(s->leak);
		char kb[40];
		snprintf(kb, sizeof(kb), "%s%s%s", kind ? kind : "?",
			 leak ? "/" : "", leak ? leak : "");
		/* What an owner holds says so after where it was made, and
		 * what is still reachable, from which kind of root. */
		char held[300] = "";
		if (s->owner)
			snprintf(held, sizeof(held), "  [held by %.280s]",
				 s->owner);
		else if (s->root)
			snprintf(held, sizeof(held), "  [root: %.60s]", s->root);
		if (ward__kind_sized(s->kind))
			ward__out_printf(o, "%12" PRId64 " %6.2f%% %10" PRId64
					    "  %-14s %s%s\n",
					 s->live_bytes, pct, s->live_count, kb,
					 frame, held);
		else
			ward__out_printf(o, "%12s %7s %10" PRId64
					    "  %-14s %s%s\n",
					 "-", "-", s->live_count, kb, frame,
					 held);
	}
}

/*
 * A sample's heading in the stacks section. A heap site the scan split by
 * class is one sample a class; the site's acquisitions ride on its first
 * (snapshot.c), so they are said as the site's, and only there.
 */
static void write_stack_head(const ward_profile_t *p,
			     const struct ward_sample *s, struct ward__out *o)
{
	const char *kind = ward_profile_kind_name(p, s->kind);
	if (s->kind == WARD_KIND_HEAP && ward__leak_name(s->leak)) {
		const char *class = s->leak == WARD_LEAK_DEFINITE
					    ? "definitely lost"
				    : s->leak == WARD_LEAK_INDIRECT
					    ? "indirectly lost"
					    : "still reachable";
		ward__out_printf(o, "%s: %" PRId64 " live, %" PRId64
				    " bytes, %s",
				 kind, s->live_count, s->live_bytes, class);
		if (s->alloc_count > 0)
			ward__out_printf(o, " (the site acquired %" PRId64
					    ", %" PRId64 " bytes)",
					 s->alloc_count, s->alloc_bytes);
		ward__out_printf(o, "\n");
		if (s->root)
			ward__out_printf(o, "\t[root: %s]\n", s->root);
	} else if (s->root)
		ward__out_printf(o, "\t[root: %s]\n", s->root);
	else if (s->owner && s->alloc_count == 0 && s->kind == WARD_KIND_HEAP)
		/* one holder's share of a site: the acquisitions are the
		 * site's, counted with another share */
		ward__out_printf(o, "%s: %" PRId64 " live, %" PRId64
				    " bytes\n",
				 kind, s->live_count, s->live_bytes);
	else if (s->owner && s->alloc_count == 0)
		ward__out_printf(o, "%s: %" PRId64 " live\n",
				 kind ? kind : "?", s->live_count);
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
	if (s->owner)
		ward__out_printf(o, "\t[held by %s]\n", s->owner);
}

/* Where a leaked thread is blocked, before where it was started. */
static void write_blocked(const ward_profile_t *p, const struct ward_sample *s,
			  struct ward__out *o)
{
	struct ward__frame_text fr[MAX_INLINE];

	if (s->blocked_depth > 0) {
		ward__out_printf(o, "\t[blocked now in:]\n");
		for (int k = 0; k < s->blocked_depth; k++) {
			int n = ward__describe_frames(p, s->blocked_pcs[k], fr,
						      MAX_INLINE);
			for (int j = 0; j < n; j++)
				ward__out_printf(o, "\t  %s\n", fr[j].s);
		}
		ward__out_printf(o, "\t[started at:]\n");
	} else if (s->blocked) { /* as a profile file carries it */
		ward__out_printf(o, "\t[blocked now in:]\n");
		for (const char *f = s->blocked; *f;) {
			const char *sep = strstr(f, " <- ");
			size_t n = sep ? (size_t)(sep - f) : strlen(f);
			ward__out_printf(o, "\t  %.*s\n", (int)n, f);
			f += n + (sep ? 4 : 0);
		}
		ward__out_printf(o, "\t[started at:]\n");
	}
}

/* Each object's figures on one line: "pool conns: gets 10, cached 3". */
static void write_figures(const ward_profile_t *p, struct ward__out *o)
{
	if (!p->nfigures)
		return;
	ward__out_printf(o, "\nfigures:\n");
	for (size_t i = 0; i < p->nfigures; i++) {
		const struct ward_figure *f = &p->figures[i];
		bool same = i > 0 && strcmp(f->what, p->figures[i - 1].what) == 0 &&
			    strcmp(f->name, p->figures[i - 1].name) == 0;
		if (!same)
			ward__out_printf(o, "%s\t%s%s%s: ", i ? "\n" : "", f->what,
					 *f->name ? " " : "", f->name);
		ward__out_printf(o, "%s%s %" PRIu64, same ? ", " : "",
				 f->figure, f->value);
	}
	ward__out_printf(o, "\n");
}

static int write_text(const ward_profile_t *all, struct ward__out *o)
{
	/* A row for what reads the same (an unrolled loop's five call
	 * addresses on one line are one row), in report order. */
	struct ward_profile *merged = all->by_line ? NULL
						   : ward__profile_by_line(all, 0);
	const struct ward_profile *p = all->by_line ? all : merged;
	struct ward__frame_text fr[MAX_INLINE];

	if (!p)
		return -ENOMEM;
	const struct ward_sample **v = ward__profile_sorted(p);
	if (!v) {
		ward_profile_free(merged);
		return -ENOMEM;
	}
	int64_t total_bytes = write_totals(p, o);
	write_table(p, v, total_bytes, o);
	ward__out_printf(o, "\nstacks:\n");
	for (size_t i = 0; i < p->count; i++) {
		const struct ward_sample *s = v[i];
		if (!s->live_count)
			continue;
		write_stack_head(p, s, o);
		write_blocked(p, s, o);
		if (!s->depth)
			ward__out_printf(o, "\t%s\n", no_stack(s));
		for (int k = 0; k < s->depth; k++) {
			int n = ward__describe_frames(p, s->pcs[k], fr, MAX_INLINE);
			for (int j = 0; j < n; j++)
				ward__out_printf(o, "\t%s\n", fr[j].s);
		}
	}
	free(v);
	write_figures(p, o);
	ward_profile_free(merged);
	return 0;
}

/* s as a JSON string, whole: '"', '\\' and control characters escaped,
 * each byte of what is not UTF-8 as U+FFFD (JSON is UTF-8; a name from a
 * file, or an owner's, may be anything). */
static void json_string(struct ward__out *o, const char *s)
{
	char buf[256];
	size_t n = 0;

	buf[n++] = '"';
	while (*s) {
		if (n > sizeof(buf) - 8) {
			o->write(o->opaque, buf, n);
			n = 0;
		}
		unsigned char c = (unsigned char)*s;
		size_t len = ward__utf8_seq(s);
		if (len == 0) {
			memcpy(buf + n, "\\ufffd", 6);
			n += 6;
			s++;
		} else if (c == '"' || c == '\\') {
			buf[n++] = '\\';
			buf[n++] = (char)c;
			s++;
		} else if (c < 0x20 || c == 0x7f) {
			n += (size_t)snprintf(buf + n, 7, "\\u%04x", c);
			s++;
		} else if (len == 2 && c == 0xc2 && (unsigned char)s[1] < 0xa0) {
			/* C1, which a terminal may obey: escaped too */
			n += (size_t)snprintf(buf + n, 7, "\\u%04x",
					      (unsigned char)s[1]);
			s += 2;
		} else {
			memcpy(buf + n, s, len);
			n += len;
			s += len;
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
		const char *kind = ward_profile_kind_name(p, s->kind);
		ward__out_printf(o, "%s\n{\"kind\":", i ? "," : "");
		json_string(o, kind ? kind : "?");
		if (ward__leak_name(s->leak)) {
			ward__out_printf(o, ",\"leak\":");
			json_string(o, ward__leak_name(s->leak));
		}
		if (s->owner) {
			ward__out_printf(o, ",\"owner\":");
			json_string(o, s->owner);
		}
		if (s->root) {
			ward__out_printf(o, ",\"root\":");
			json_string(o, s->root);
		}
		if (s->blocked_depth > 0) {
			ward__out_printf(o, ",\"blocked\":[");
			for (int k = 0; k < s->blocked_depth; k++) {
				int n = ward__describe_frames(p, s->blocked_pcs[k],
							      fr, MAX_INLINE);
				ward__out_printf(o, k ? "," : "");
				json_string(o, fr[n - 1].s);
			}
			ward__out_printf(o, "]");
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
	ward__out_printf(o, "\n],\"figures\":[");
	for (size_t i = 0; i < p->nfigures; i++) {
		const struct ward_figure *f = &p->figures[i];
		ward__out_printf(o, "%s\n{\"what\":", i ? "," : "");
		json_string(o, f->what);
		ward__out_printf(o, ",\"name\":");
		json_string(o, f->name);
		ward__out_printf(o, ",\"figure\":");
		json_string(o, f->figure);
		ward__out_printf(o, ",\"value\":%" PRIu64 ",\"counter\":%s}",
				 f->value, f->counter ? "true" : "false");
	}
	ward__out_printf(o, "\n]}\n");
	return 0;
}

/* A profile written in a format: on a stack with room for it
 * (ward__deep): naming frames reads debug information, which takes more
 * than a small thread's stack has. */
struct writing {
	const ward_profile_t *p;
	enum ward_format fmt;
	struct ward__out o;
	int rc;
};

static void write_format(void *arg)
{
	struct writing *w = arg;
	switch (w->fmt) {
	case WARD_FORMAT_PPROF:
	case WARD_FORMAT_PPROF_NAMED:
		w->rc = ward__write_pprof(w->p, &w->o,
					  w->fmt == WARD_FORMAT_PPROF_NAMED);
		break;
	case WARD_FORMAT_TEXT:
		w->rc = write_text(w->p, &w->o);
		break;
	case WARD_FORMAT_JSON:
		w->rc = write_json(w->p, &w->o);
		break;
	default:
		w->rc = -EINVAL;
	}
}

WARD_API int ward_profile_write(const ward_profile_t *p, enum ward_format fmt,
				ward_write_fn write, void *opaque)
{
	struct writing w = { p, fmt, { write, opaque }, -EINVAL };

	if (!p || !write)
		return -EINVAL;
	ward__guard_raise();
	ward__deep(write_format, &w);
	ward__guard_lower();
	return w.rc;
}

/* ---- The summary `ward run` prints ------------------------------------- */

static uint64_t figure_value(const ward_profile_t *p, const char *what,
			     const char *figure)
{
	for (size_t i = 0; i < p->nfigures; i++)
		if (strcmp(p->figures[i].what, what) == 0 &&
		    strcmp(p->figures[i].figure, figure) == 0)
			return p->figures[i].value;
	return 0;
}

void ward__write_summary(const ward_profile_t *p, const char *head,
			 const bool *kinds, ward_write_fn write, void *opaque)
{
	struct ward__out o = { write, opaque };
	int64_t count[WARD_KIND_USER] = { 0 }, bytes[WARD_KIND_USER] = { 0 };
	int64_t lc[4] = { 0 }, lb[4] = { 0 }, libc_count = 0, libc_bytes = 0;

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
		if (s->kind == WARD_KIND_HEAP && s->root &&
		    strcmp(s->root, "libc") == 0) {
			libc_count = ward__sat_add(libc_count, s->live_count);
			libc_bytes = ward__sat_add(libc_bytes, s->live_bytes);
		}
	}
	ward__out_printf(&o, "ward: %s:\n", head);
	for (int k = 0; k < WARD_KIND_USER; k++) {
		const char *name = ward_profile_kind_name(p, k);
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
			/* What only the C library's own data holds (locale
			 * tables, stdio buffers, the environment): most of
			 * it valgrind frees (its --run-libc-freeres) before
			 * it counts what is still reachable. */
			if (libc_count)
				ward__out_printf(
					&o, "      %-13s %8lld blocks %12lld bytes\n",
					"held by libc", (long long)libc_count,
					(long long)libc_bytes);
		} else
			ward__out_printf(&o, "  %-7s %10lld\n", name,
					 (long long)count[k]);
	}
	/* What the scan could not read, when it called blocks lost: a
	 * block only that held shows as lost. */
	static const struct {
		const char *figure, *pre, *what, *holder;
		uint64_t unit;
	} unread[] = {
		{ "threads_unread", "the registers of ",
		  "thread(s) that block ward's signal or await it (sigwait), "
		  "a running one's stack read whole",
		  "their registers hold", 1 },
		{ "memory_unread", "",
		  "KiB of memory whose touched pages neither /proc/self/pagemap "
		  "nor mincore() could tell (not dumpable, not root, and a "
		  "seccomp filter)",
		  "it holds", 1024 },
	};
	for (size_t i = 0; i < sizeof(unread) / sizeof(unread[0]); i++) {
		uint64_t n = figure_value(p, "scan", unread[i].figure);
		if (n && (lc[WARD_LEAK_DEFINITE] || lc[WARD_LEAK_INDIRECT]))
			ward__out_printf(&o, "ward: heap classified without "
					     "%s%llu %s: a block only %s "
					     "shows as lost\n",
					 unread[i].pre,
					 (unsigned long long)((n + unread[i].unit - 1) /
							      unread[i].unit),
					 unread[i].what, unread[i].holder);
	}
	/* What the books lack: the figures above are short by it. */
	for (int k = 0; k < WARD_KIND_MAX; k++) {
		const char *name = ward_profile_kind_name(p, k);
		uint64_t n = name ? figure_value(p, name, "unrecorded") : 0;
		if (!n)
			continue;
		bool lost = k == WARD_KIND_HEAP &&
			    (lc[WARD_LEAK_DEFINITE] || lc[WARD_LEAK_INDIRECT]);
		uint64_t b = figure_value(p, name, "unrecorded_bytes");
		char size[48] = "";
		if (b)
			snprintf(size, sizeof(size), " (%llu bytes)",
				 (unsigned long long)b);
		ward__out_printf(
			&o, "ward: %llu %s acquisition%s%s not recorded: "
			    "ward's own memory ran out, and the figures above "
			    "leave %s out%s\n",
			(unsigned long long)n, name, n == 1 ? "" : "s", size,
			n == 1 ? "it" : "them",
			lost ? (n == 1 ? "; a block only it holds shows as lost"
				       : "; a block only they hold shows as lost")
			     : "");
	}
	ward__out_printf(&o, "\n");
	/* The top rows; `ward report` shows them all. */
	struct ward_profile *top = ward__profile_by_line(p, SUMMARY_SITES);
	bool more = top && top->top_rows;
	ward_profile_write(top ? top : p, WARD_FORMAT_TEXT, write, opaque);
	if (more)
		ward__out_printf(&o, "(the %d sites holding the most; `ward "
				     "report` lists every one)\n",
				 SUMMARY_SITES);
	ward_profile_free(top);
}

struct summary {
	const ward_profile_t *p;
	const char *head;
	const bool *kinds;
	ward_write_fn write;
	void *opaque;
};

static void write_summary_deep(void *arg)
{
	struct summary *m = arg;
	ward__write_summary(m->p, m->head, m->kinds, m->write, m->opaque);
}

WARD_API void ward_profile_write_summary(const ward_profile_t *p,
					 const char *head, const bool *kinds,
					 ward_write_fn write, void *opaque)
{
	struct summary m = { p, head, kinds, write, opaque };
	if (p && head && write)
		ward__deep(write_summary_deep, &m);
}
