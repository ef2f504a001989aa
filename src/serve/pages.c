/*
 * pages.c — what the endpoint answers: profiles by kind (pprof, or text
 * with ?debug=1; deltas with ?seconds=N), every thread's stack now, the
 * index, and Prometheus metrics. Reads snapshots; never the registry's
 * internals.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/file.h"
#include "export/export.h"
#include "scan/scan.h"
#include "serve/serve.h"
#include "snapshot/profile.h"
#include "ward/defer.h"
#include "ward/track.h"

static void add(struct ward__buf *b, const char *s)
{
	ward__buf_add(b, s, strlen(s));
}

static void addf(struct ward__buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void addf(struct ward__buf *b, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 0)
		ward__buf_add(b, line, (size_t)n < sizeof(line) ? (size_t)n
							       : sizeof(line) - 1);
}

static void to_buf(void *opaque, const void *data, size_t len)
{
	ward__buf_add(opaque, data, len);
}

/* ---- Profiles -------------------------------------------------------------- */

/* A copy of p with only the samples of kind k. */
static struct ward_profile *only_kind(const struct ward_profile *p, int k)
{
	struct ward_profile *o = ward__profile_new(p->count + 1);
	if (!o || ward__profile_copy_names(o, p) < 0) {
		ward_profile_free(o);
		return NULL;
	}
	for (size_t i = 0; i < p->count; i++)
		if (p->samples[i].kind == k) {
			o->samples[o->count] = p->samples[i];
			o->sites[o->count++] = p->sites[i];
		}
	if (ward__profile_own_labels(o) < 0) {
		ward_profile_free(o);
		return NULL;
	}
	return o;
}

/* Sleep up to s seconds, in steps, unless the server stops. */
static void wait_seconds(long s, const volatile int *stop)
{
	for (long i = 0; i < s * 10 && !*stop; i++) {
		struct timespec t = { 0, 100 * 1000 * 1000 };
		nanosleep(&t, NULL);
	}
}

static int profile_page(int kind, const char *query, struct ward__buf *body,
			const char **type, const volatile int *stop)
{
	char v[32];
	bool text = ward__http_query(query, "debug", v, sizeof(v)) && v[0] != '0';
	long seconds = 0;
	if (ward__http_query(query, "seconds", v, sizeof(v))) {
		char *end;
		seconds = strtol(v, &end, 10);
		if (*end || seconds < 1 || seconds > 60) {
			add(body, "seconds must be 1 to 60\n");
			return 400;
		}
	}
	ward_profile_t *now = ward_profile_snapshot(), *shown = NULL;
	if (now && seconds) {
		/* What was acquired and not released in the window. */
		ward_profile_t *base = now;
		wait_seconds(seconds, stop);
		now = ward_profile_snapshot();
		if (now) {
			ward_profile_t *d = ward_profile_diff(base, now);
			ward_profile_free(now);
			now = d;
		}
		ward_profile_free(base);
	}
	if (now)
		shown = only_kind(now, kind);
	ward_profile_free(now);
	if (!shown)
		return 500;
	/* Served profiles carry their names, as Go's: a profile store or
	 * another machine shows them without the binaries. */
	int rc = ward_profile_write(shown, text ? WARD_FORMAT_TEXT
						: WARD_FORMAT_PPROF_NAMED,
				    to_buf, body);
	ward_profile_free(shown);
	if (rc < 0)
		return 500;
	*type = text ? "text/plain; charset=utf-8" : "application/octet-stream";
	return 200;
}

/* ---- Every thread's stack, as Go's goroutine?debug=2 ------------------------ */

static int threads_dump(struct ward__buf *body)
{
	enum { MAX_THREADS = 4096 };
	int *tids = malloc(MAX_THREADS * sizeof(*tids));
	int ntids = tids ? ward__list_threads(tids, MAX_THREADS) : -1;
	if (ntids < 0) {
		free(tids);
		return 500;
	}
	for (int i = 0; i < ntids; i++) {
		int tid = tids[i];
		char path[64], comm[64] = "?";
		snprintf(path, sizeof(path), "/proc/self/task/%d/comm", tid);
		FILE *f = fopen(path, "re");
		if (f) {
			if (fgets(comm, sizeof(comm), f))
				comm[strcspn(comm, "\n")] = '\0';
			fclose(f);
		}
		addf(body, "thread %d [%s]%s:\n", tid, comm,
		     tid == getpid() ? " (main)" : "");
		uintptr_t pcs[64];
		int k = ward__thread_stack(tid, pcs, 64, NULL);
		if (k <= 0) {
			addf(body, "\t(its stack could not be read: %s)\n\n",
			     k == -ETIMEDOUT ? "it blocks signals"
			     : k == -ESRCH  ? "it ended"
					    : "unsupported");
			continue;
		}
		struct ward__frame_text fr[MAX_INLINE];
		for (int j = 0; j < k; j++) {
			/* pcs[0] is where it is, not a return address. */
			int m = ward__describe_frames(NULL, j ? pcs[j] : pcs[j] + 1,
						      fr, MAX_INLINE);
			for (int l = 0; l < m; l++)
				addf(body, "\t%s\n", fr[l].s);
		}
		add(body, "\n");
	}
	free(tids);
	return 200;
}

/* ---- Prometheus -------------------------------------------------------------- */

static void metric_head(struct ward__buf *b, const char *name,
			const char *type, const char *help)
{
	addf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A name made of what the modules call things: [a-zA-Z0-9_] kept, the
 * rest made '_'. */
static void add_metric_part(struct ward__buf *b, const char *s)
{
	for (; *s; s++) {
		char c = (char)((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
				(*s >= '0' && *s <= '9') ? *s : '_');
		ward__buf_add(b, &c, 1);
	}
}

/* A label value, quotes and backslashes escaped (the names hold no
 * control characters). */
static void add_label_value(struct ward__buf *b, const char *s)
{
	for (const char *c = s; *c; c++) {
		if (*c == '"' || *c == '\\')
			add(b, "\\");
		if ((unsigned char)*c >= 0x20)
			ward__buf_add(b, c, 1);
	}
}

static void add_figure_name(struct ward__buf *b, const struct ward_figure *f)
{
	add(b, "ward_");
	add_metric_part(b, f->what);
	add(b, "_");
	add_metric_part(b, f->figure);
	if (f->counter)
		add(b, "_total");
}

/* Whether g is of f's family (what, figure) and, given a name, of it. */
static bool same_series(const struct ward_figure *g,
			const struct ward_figure *f, const char *name)
{
	return strcmp(g->what, f->what) == 0 &&
	       strcmp(g->figure, f->figure) == 0 &&
	       (!name || strcmp(g->name, name) == 0);
}

/* The modules' figures: ward_pool_cached{pool="conns"} 12, one family
 * for each (what, figure), in the order they first come. */
static void figure_metrics(struct ward__buf *b)
{
	struct ward_profile *p = ward__profile_figures_now();
	size_t n = ward_profile_figure_count(p);
	for (size_t i = 0; i < n; i++) {
		const struct ward_figure *f = ward_profile_figure(p, i), *g;
		bool seen = false;
		for (size_t k = 0; k < i && !seen; k++)
			seen = same_series(ward_profile_figure(p, k), f, NULL);
		if (seen)
			continue;
		add(b, "# HELP ");
		add_figure_name(b, f);
		addf(b, " %s\n# TYPE ", f->help ? f->help : f->figure);
		add_figure_name(b, f);
		add(b, f->counter ? " counter\n" : " gauge\n");
		for (size_t k = i; k < n; k++) {
			g = ward_profile_figure(p, k);
			if (!same_series(g, f, NULL))
				continue;
			/* Objects of the same name (two pools "conns") are
			 * one series: their sum, where the first comes. */
			uint64_t value = 0;
			bool first = true;
			for (size_t j = 0; j < n; j++) {
				const struct ward_figure *h = ward_profile_figure(p, j);
				if (!same_series(h, f, g->name))
					continue;
				if (j < k)
					first = false;
				value += h->value;
			}
			if (!first)
				continue;
			add_figure_name(b, g);
			if (*g->name) {
				add(b, "{");
				add_metric_part(b, g->what);
				add(b, "=\"");
				add_label_value(b, g->name);
				add(b, "\"}");
			}
			addf(b, " %" PRIu64 "\n", value);
		}
	}
	ward_profile_free(p);
}

static int metrics(struct ward__buf *b)
{
	struct ward_kind_stats st[WARD_KIND_MAX];
	const char *names[WARD_KIND_MAX];
	for (int k = 0; k < WARD_KIND_MAX; k++) {
		names[k] = ward_kind_name(k);
		if (names[k] && ward_kind_stats(k, &st[k]) < 0)
			names[k] = NULL;
	}
	static const struct {
		const char *name, *type, *help;
		size_t off;
	} m[] = {
		{ "ward_live", "gauge", "Resources live now, by kind.",
		  offsetof(struct ward_kind_stats, live_count) },
		{ "ward_live_bytes", "gauge",
		  "Bytes the live resources hold, by kind (heap: estimated "
		  "in sampled mode).",
		  offsetof(struct ward_kind_stats, live_bytes) },
		{ "ward_acquired_total", "counter",
		  "Resources acquired since the process started, by kind.",
		  offsetof(struct ward_kind_stats, acquired_count) },
		{ "ward_acquired_bytes_total", "counter",
		  "Bytes acquired since the process started, by kind.",
		  offsetof(struct ward_kind_stats, acquired_bytes) },
		{ "ward_released_total", "counter",
		  "Resources released since the process started, by kind.",
		  offsetof(struct ward_kind_stats, released_count) },
		{ "ward_peak", "gauge",
		  "The most resources live at once, by kind.",
		  offsetof(struct ward_kind_stats, peak_count) },
		{ "ward_peak_bytes", "gauge",
		  "The most bytes live at once, by kind.",
		  offsetof(struct ward_kind_stats, peak_bytes) },
	};
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		metric_head(b, m[i].name, m[i].type, m[i].help);
		for (int k = 0; k < WARD_KIND_MAX; k++) {
			if (!names[k])
				continue;
			uint64_t v = *(const uint64_t *)((const char *)&st[k] +
							 m[i].off);
			/* Label values are the kind names, which hold no
			 * control characters; quotes and backslashes are
			 * escaped. */
			add(b, m[i].name);
			add(b, "{kind=\"");
			add_label_value(b, names[k]);
			addf(b, "\"} %" PRIu64 "\n", v);
		}
	}
	struct ward_defer_totals t;
	ward_defer_totals(&t);
	metric_head(b, "ward_defer_accumulations_total", "counter",
		    "Frames reported for holding more pending defers than the "
		    "limit.");
	addf(b, "ward_defer_accumulations_total %" PRIu64 "\n", t.accumulations);
	metric_head(b, "ward_panics_total", "counter",
		    "Panics raised (recovered or not).");
	addf(b, "ward_panics_total %" PRIu64 "\n", t.panics);
	figure_metrics(b);
	long pages = 0;
	char text[128];
	long size;
	if (ward__read_proc_self("statm", text, sizeof(text)) < 0 ||
	    sscanf(text, "%ld %ld", &size, &pages) != 2)
		pages = 0;
	metric_head(b, "process_resident_memory_bytes", "gauge",
		    "Resident memory size in bytes.");
	addf(b, "process_resident_memory_bytes %ld\n",
	     pages * sysconf(_SC_PAGESIZE));
	return 200;
}

/* ---- The paths ------------------------------------------------------------- */

/* Kind names are registered by the program: printable, but not
 * necessarily safe in HTML. Only [A-Za-z0-9_-] pass. */
static void add_html_safe(struct ward__buf *b, const char *name)
{
	for (const char *c = name; *c; c++)
		if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		    (*c >= '0' && *c <= '9') || *c == '_' || *c == '-')
			ward__buf_add(b, c, 1);
}

static int index_page(struct ward__buf *b, const char **type)
{
	*type = "text/html; charset=utf-8";
	add(b, "<html><head><title>/debug/pprof/</title></head><body>\n"
	       "<p>ward: profiles of what this process holds now, by kind "
	       "(?debug=1 for text, ?seconds=N for what was acquired and not "
	       "released in the next N seconds)</p>\n<ul>\n");
	static const char *fixed[] = { "heap", "allocs", "fds", "files",
				       "threads" };
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		addf(b, "<li><a href=\"%s?debug=1\">%s</a></li>\n", fixed[i],
		     fixed[i]);
	add(b, "<li><a href=\"threads?debug=2\">threads?debug=2</a>: every "
	       "thread's stack now</li>\n");
	for (int k = WARD_KIND_USER; k < WARD_KIND_MAX; k++) {
		const char *n = ward_kind_name(k);
		if (!n)
			continue;
		add(b, "<li><a href=\"");
		add_html_safe(b, n);
		add(b, "?debug=1\">");
		add_html_safe(b, n);
		add(b, "</a></li>\n");
	}
	add(b, "</ul>\n<p><a href=\"/metrics\">/metrics</a></p></body></html>\n");
	return 200;
}

int ward__http_answer(const struct ward__http_req *req, struct ward__buf *body,
		      const char **type, const volatile int *stop)
{
	const char *path = req->path;
	if (strcmp(path, "/metrics") == 0) {
		*type = "text/plain; version=0.0.4; charset=utf-8";
		return metrics(body);
	}
	if (strcmp(path, "/debug/pprof") == 0 ||
	    strcmp(path, "/debug/pprof/") == 0)
		return index_page(body, type);
	static const char prefix[] = "/debug/pprof/";
	if (strncmp(path, prefix, sizeof(prefix) - 1) != 0)
		return 404;
	const char *name = path + sizeof(prefix) - 1;
	char v[8];
	if (strcmp(name, "threads") == 0 &&
	    ward__http_query(req->query, "debug", v, sizeof(v)) &&
	    strcmp(v, "2") == 0)
		return threads_dump(body);
	int kind = -1;
	if (strcmp(name, "heap") == 0 || strcmp(name, "allocs") == 0)
		kind = WARD_KIND_HEAP;
	else if (strcmp(name, "fds") == 0)
		kind = WARD_KIND_FD;
	else if (strcmp(name, "files") == 0)
		kind = WARD_KIND_FILE;
	else if (strcmp(name, "threads") == 0)
		kind = WARD_KIND_THREAD;
	else
		for (int k = WARD_KIND_USER; k < WARD_KIND_MAX && kind < 0; k++)
			if (ward_kind_name(k) && strcmp(ward_kind_name(k), name) == 0)
				kind = k;
	if (kind < 0)
		return 404;
	return profile_page(kind, req->query, body, type, stop);
}
