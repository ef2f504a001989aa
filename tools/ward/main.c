/*
 * ward — run a program under ward's LD_PRELOAD tracer and read what it
 * leaked.
 *
 *   ward run [options] -- PROGRAM [ARGS...]
 *   ward report FILE [--json] [--top N]
 *   ward diff OLD NEW [--top N]
 *   ward flame FILE -o OUT.svg [--value inuse_space|inuse_objects|
 *                               alloc_space|alloc_objects]
 *
 * Every error is one line naming the problem, and a non-zero status.
 * docs/cli.md and docs/ward.1 are the manual.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <netdb.h>
#include <sys/socket.h>

#include "flame.h"
#include "core/file.h"
#include "core/sat.h"
#include "core/stacks.h"
#include "core/text.h"
#include "ward.h"

static const char *prog = "ward";

/* One line on standard error, "ward: " and fmt's text made printable: a
 * path or a program's name may hold a newline (which made two lines of
 * one) or a terminal's escapes. */
static __attribute__((format(printf, 1, 0))) void vsay(const char *fmt,
							va_list ap)
{
	char line[PATH_MAX * 2 + 512];
	vsnprintf(line, sizeof(line), fmt, ap);
	ward__printable(line);
	fprintf(stderr, "%s: %s\n", prog, line);
}

static __attribute__((format(printf, 1, 2))) void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
}

static __attribute__((noreturn, format(printf, 1, 2))) void die(const char *fmt,
								 ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
	exit(2);
}

static void usage_main(FILE *f)
{
	fputs("usage: ward COMMAND [ARGS]\n"
	      "\n"
	      "Commands:\n"
	      "  run     run a program and report what it leaked\n"
	      "  report  show a profile's live resources by site\n"
	      "  diff    show what grew from one profile to another\n"
	      "  flame   draw a profile as a flame graph (SVG)\n"
	      "  watch   fetch a live endpoint's profiles and name what grows\n"
	      "  top     a live endpoint's sites as a refreshing table\n"
	      "\n"
	      "'ward COMMAND --help' describes each; 'ward --version' prints\n"
	      "the version.\n",
	      f);
}

static void usage_run(FILE *f)
{
	fputs("usage: ward run [options] -- PROGRAM [ARGS...]\n"
	      "\n"
	      "Runs PROGRAM under ward's tracer, passing its input, output and\n"
	      "exit status through unchanged. When it ends, prints what it left\n"
	      "live (per kind, top sites with stacks) to standard error and\n"
	      "writes a pprof profile.\n"
	      "\n"
	      "  -o FILE              profile path (default ward.pb.gz)\n"
	      "  --full               record every heap block (the default)\n"
	      "  --sample BYTES       record one heap block per BYTES allocated\n"
	      "                       on average; values are scaled estimates\n"
	      "  --kinds LIST         comma list of heap,fd,file,thread\n"
	      "  --follow-forks       forked children keep their own books and\n"
	      "                       write FILE.PID (the default)\n"
	      "  --no-follow-forks    forked children record nothing\n"
	      "  --no-follow-exec     programs PROGRAM executes run without ward\n"
	      "  --fail-on-leak[=LIST]  exit 1 when PROGRAM exited 0 but leaked\n"
	      "                       (LIST of definite,indirect,reachable,heap,\n"
	      "                       fd,file,thread,user; default all but\n"
	      "                       reachable), 3 when it wrote no profile\n"
	      "  --snapshot-signal SIG  on signal SIG (USR1, USR2 or RTMIN+N),\n"
	      "                       write a snapshot FILE.snapN without\n"
	      "                       stopping\n"
	      "  --http ADDR          serve /debug/pprof/ and /metrics on ADDR\n"
	      "                       (127.0.0.1:PORT; port 0 picks one and\n"
	      "                       says which) while PROGRAM runs\n"
	      "  --why PATTERN        for the still reachable blocks of the\n"
	      "                       sites PATTERN names (a function, object\n"
	      "                       or source file, as in suppressions),\n"
	      "                       print who holds them: the path from a\n"
	      "                       root (global, stack, register, TLS)\n"
	      "  --suppressions FILE  leak:PATTERN lines (LeakSanitizer's syntax):\n"
	      "                       matching sites are taken out, and counted\n"
	      "  --no-default-suppressions  show the C library's and loader's\n"
	      "                       own allocations too\n"
	      "  --json               print the report as JSON\n"
	      "  --quiet              print no report (the profile is written)\n",
	      f);
}

static void usage_report(FILE *f)
{
	fputs("usage: ward report FILE [--json] [--top N] [--by owner]\n"
	      "                   [--suppressions FILE] [--no-default-suppressions]\n"
	      "\n"
	      "Shows the live resources of a profile written by ward, by kind\n"
	      "and site, largest first, with stacks named from the binaries\n"
	      "the profile's mappings point to. --top N keeps the N sites\n"
	      "holding the most. --by owner groups them by the owner holding\n"
	      "them (ward/owner.h), each owner's path with its totals and\n"
	      "sites, what no owner holds last. --suppressions FILE takes out the sites a\n"
	      "leak:PATTERN line of FILE matches (LeakSanitizer's syntax), as\n"
	      "a built-in list does for the C library's and loader's own\n"
	      "allocations; what is taken out is counted in the last line.\n"
	      "FILE may be a pipe; - reads standard input.\n",
	      f);
}

static void usage_diff(FILE *f)
{
	fputs("usage: ward diff OLD NEW [--top N]\n"
	      "\n"
	      "Shows what grew from OLD to NEW: sites are matched by kind and\n"
	      "named stack, so two runs of the same program compare even\n"
	      "though their addresses differ.\n",
	      f);
}

static void usage_flame(FILE *f)
{
	fputs("usage: ward flame FILE -o OUT.svg [--value NAME] [--folded]\n"
	      "\n"
	      "Draws FILE as a self-contained SVG flame graph: click a frame to\n"
	      "zoom, type in the search box to highlight. NAME is inuse_space\n"
	      "(default), inuse_objects, alloc_space or alloc_objects.\n"
	      "--folded writes the stacks as folded lines (root;...;leaf VALUE)\n"
	      "instead, for flamegraph.pl, speedscope or inferno. -o - writes\n"
	      "to standard output.\n",
	      f);
}

static bool is_help(const char *a)
{
	return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

/* ---- Loading, naming --------------------------------------------------- */

/* A profile named on the command line; "-" is standard input. */
static ward_profile_t *load(const char *path)
{
	ward_profile_t *p = NULL;
	char err[512];
	if (strcmp(path, "-") == 0)
		path = "/dev/stdin";
	if (ward_profile_load(path, &p, err, sizeof(err)) < 0)
		die("%s", err);
	return p;
}

static void to_stdout(void *opaque, const void *buf, size_t len)
{
	(void)opaque;
	fwrite(buf, 1, len, stdout);
}

static const char *value_of(const char *cmd, int argc, char **argv, int *i);

/* An option, not an operand: "-" alone names standard input. */
static bool is_option(const char *arg)
{
	return arg[0] == '-' && arg[1] != '\0';
}

/* The positive number option argv[*i] of command cmd takes. */
static int positive_arg(const char *cmd, int argc, char **argv, int *i)
{
	const char *opt = argv[*i], *s = value_of(cmd, argc, argv, i);
	char *end;
	long v = strtol(s, &end, 10);
	if (*end || v <= 0 || v > INT_MAX)
		die("%s: %s takes a positive number, not '%s'", cmd, opt, s);
	return (int)v;
}

/* ---- report ------------------------------------------------------------ */

/* The value of option argv[*i], which must have one. */
static const char *value_of(const char *cmd, int argc, char **argv, int *i)
{
	if (*i + 1 >= argc)
		die("%s: %s needs a value (ward %s --help)", cmd, argv[*i], cmd);
	if (!argv[*i + 1][0]) /* -o "" read as "cannot write to : EINVAL" */
		die("%s: %s needs a value, not an empty one", cmd, argv[*i]);
	return argv[++*i];
}


/* The suppressions of file (NULL: none) after the built-in ones when
 * with_defaults; one line and exit 2 when file cannot be used. */
static ward_suppressions_t *suppressions(const char *file, bool with_defaults)
{
	char err[512];
	ward_suppressions_t *s;
	if (ward_suppressions_load(file, with_defaults, &s, err, sizeof(err)) < 0)
		die("%s: %s", file ? file : "suppressions", err);
	return s;
}

/* The line that says what suppressions took out of a report, and by
 * which (by: "the built-in list", a file, ...). */
static void say_suppressed_by(FILE *f, const struct ward_suppressed *s,
			      const char *by)
{
	if (s->sites)
		fprintf(f, "ward: suppressed %" PRId64 " live resource%s (%" PRId64
			   " bytes) at %zu site%s (%s)\n",
			s->count, s->count == 1 ? "" : "s", s->bytes, s->sites,
			s->sites == 1 ? "" : "s", by);
}

static void say_suppressed(FILE *f, const struct ward_suppressed *s,
			   const char *file, bool defaults)
{
	char by[PATH_MAX + 100];
	snprintf(by, sizeof(by), "%s%s%s%s", defaults ? "the built-in list" : "",
		 defaults && file ? " and " : "", file ? file : "",
		 defaults ? "; --no-default-suppressions shows the built-in ones"
			  : "");
	say_suppressed_by(f, s, by);
}

#define OWN_SUPPRESSIONS "the program's own __lsan_default_suppressions()"

/*
 * The suppressions the program gave for itself, which the profile carries
 * (its own __lsan_default_suppressions()): taken out of p after the
 * others, what they took added to *gone. A list that does not parse (a
 * profile made elsewhere) is said on f and applied not at all.
 */
static void suppress_own(ward_profile_t *p, struct ward_suppressed *gone,
			 FILE *f)
{
	const char *text = ward_profile_own_suppressions(p);
	if (!text)
		return;
	char err[512];
	ward_suppressions_t *s;
	if (ward_suppressions_parse(text, false, &s, err, sizeof(err)) < 0) {
		fprintf(f, "ward: the program's own suppressions in the "
			   "profile: %s: not applied\n",
			err);
		return;
	}
	ward_profile_suppress(p, s, gone);
	ward_suppressions_free(s);
}

/* ---- report --by owner ------------------------------------------------- */

static int by_owner_then_size(const void *a, const void *b)
{
	const struct ward_sample *x = *(const struct ward_sample *const *)a;
	const struct ward_sample *y = *(const struct ward_sample *const *)b;
	if (!x->owner != !y->owner)
		return x->owner ? -1 : 1; /* what no owner holds, last */
	int c = x->owner ? strcmp(x->owner, y->owner) : 0;
	if (c)
		return c;
	if (x->live_bytes != y->live_bytes)
		return x->live_bytes < y->live_bytes ? 1 : -1;
	return x->live_count < y->live_count ? 1 : x->live_count > y->live_count ? -1 : 0;
}

/* The first frame that is not the allocator's: where the program acquired. */
static void acquired_at(const ward_profile_t *p, const struct ward_sample *s,
			char *out, size_t len)
{
	struct ward_frame fr[WARD_MAX_INLINE];
	snprintf(out, len, "(no stack)");
	if (s->depth > 0) {
		int n = ward_profile_frames(p, s->pcs[0], fr, WARD_MAX_INLINE);
		snprintf(out, len, "%s", fr[n - 1].text);
	}
}

/*
 * Owners, each with its totals by kind and its sites, as talloc's full
 * report lists a context's children — with the acquiring stacks' frames.
 */
static void report_by_owner(const ward_profile_t *p)
{
	size_t n = ward_profile_count(p), m = 0;
	const struct ward_sample **v = calloc(n + 1, sizeof(*v));
	if (!v)
		die("out of memory");
	for (size_t i = 0; i < n; i++) {
		const struct ward_sample *s = ward_profile_sample(p, i);
		if (s->live_count > 0)
			v[m++] = s;
	}
	qsort(v, m, sizeof(*v), by_owner_then_size);
	for (size_t i = 0; i < m;) {
		size_t j = i;
		while (j < m && (v[j]->owner == v[i]->owner ||
				 (v[j]->owner && v[i]->owner &&
				  strcmp(v[j]->owner, v[i]->owner) == 0)))
			j++;
		int64_t count[WARD_KIND_MAX] = { 0 }, bytes[WARD_KIND_MAX] = { 0 };
		for (size_t k = i; k < j; k++)
			if (v[k]->kind >= 0 && v[k]->kind < WARD_KIND_MAX) {
				count[v[k]->kind] = ward__sat_add(
					count[v[k]->kind], v[k]->live_count);
				bytes[v[k]->kind] = ward__sat_add(
					bytes[v[k]->kind], v[k]->live_bytes);
			}
		printf("%s:", v[i]->owner ? v[i]->owner : "(no owner)");
		bool any = false;
		for (int k = 0; k < WARD_KIND_MAX; k++) {
			const char *name = ward_profile_kind_name(p, k);
			if (!count[k] || !name)
				continue;
			printf("%s %s %lld", any ? "," : "", name,
			       (long long)count[k]);
			if (k == WARD_KIND_HEAP)
				printf(" (%lld bytes)", (long long)bytes[k]);
			any = true;
		}
		printf("\n");
		for (size_t k = i; k < j; k++) {
			char at[512];
			const char *name = ward_profile_kind_name(p, v[k]->kind);
			acquired_at(p, v[k], at, sizeof(at));
			char b[32] = "-";
			if (ward_kind_sized(v[k]->kind))
				snprintf(b, sizeof(b), "%lld",
					 (long long)v[k]->live_bytes);
			printf("  %10s bytes %6lld  %-8s %s\n", b,
			       (long long)v[k]->live_count, name ? name : "?", at);
		}
		i = j;
	}
	free(v);
}

static int cmd_report(int argc, char **argv)
{
	const char *file = NULL, *supp_file = NULL, *by = "site";
	bool json = false, supp_defaults = true;
	int top = 0;

	for (int i = 1; i < argc; i++) {
		if (is_help(argv[i])) {
			usage_report(stdout);
			return 0;
		} else if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (strcmp(argv[i], "--top") == 0)
			top = positive_arg("report", argc, argv, &i);
		else if (strcmp(argv[i], "--suppressions") == 0)
			supp_file = value_of("report", argc, argv, &i);
		else if (strcmp(argv[i], "--no-default-suppressions") == 0)
			supp_defaults = false;
		else if (strcmp(argv[i], "--by") == 0) {
			by = value_of("report", argc, argv, &i);
			if (strcmp(by, "owner") != 0 && strcmp(by, "site") != 0)
				die("report: --by takes 'owner' or 'site', not "
				    "'%s'", by);
		} else if (is_option(argv[i]))
			die("report: unknown option '%s'", argv[i]);
		else if (!file)
			file = argv[i];
		else
			die("report: one profile at a time ('%s')", argv[i]);
	}
	if (!file)
		die("report: which profile? (ward report FILE)");
	ward_profile_t *p = load(file), *shown = p;
	ward_suppressions_t *supp = suppressions(supp_file, supp_defaults);
	struct ward_suppressed gone = { 0, 0, 0 }, own = { 0, 0, 0 };
	ward_profile_suppress(p, supp, &gone);
	ward_suppressions_free(supp);
	suppress_own(p, &own, stderr);
	/* The top sites share p's stacks: p lives until they are written.
	 * The text's rows are those that read the same (ward_profile_write
	 * merges them too); the JSON's, sites. */
	if (top > 0 || (strcmp(by, "owner") == 0 && !json))
		shown = json ? ward_profile_top(p, (size_t)top)
			     : ward_profile_by_line(p, (size_t)top);
	if (!shown)
		die("out of memory");
	if (strcmp(by, "owner") == 0 && !json)
		report_by_owner(shown);
	else
		ward_profile_write(shown, json ? WARD_FORMAT_JSON
					       : WARD_FORMAT_TEXT,
				   to_stdout, NULL);
	if (!json) {
		say_suppressed(stdout, &gone, supp_file, supp_defaults);
		say_suppressed_by(stdout, &own, OWN_SUPPRESSIONS);
	}
	if (shown != p)
		ward_profile_free(shown);
	ward_profile_free(p);
	return 0;
}

/* ---- diff -------------------------------------------------------------- */

struct keyed {
	char *key; /* kind, then each frame's name, '\n'-separated */
	const struct ward_sample *s;
};

static int by_key(const void *a, const void *b)
{
	return strcmp(((const struct keyed *)a)->key,
		      ((const struct keyed *)b)->key);
}

static struct keyed *keys_of(const ward_profile_t *p, size_t *n)
{
	size_t count = ward_profile_count(p);
	struct keyed *k = calloc(count + 1, sizeof(*k));
	if (!k)
		die("out of memory");
	for (size_t i = 0; i < count; i++) {
		const struct ward_sample *s = ward_profile_sample(p, i);
		size_t cap = 64, len = 0;
		char *key = malloc(cap);
		struct ward_frame fr[WARD_MAX_INLINE];
		if (!key)
			die("out of memory");
		/* The kind as the profile names it, and the holder: what
		 * conn 7 holds compares with what conn 7 held. */
		const char *kind = ward_profile_kind_name(p, s->kind);
		len += (size_t)snprintf(key, cap, "%.30s", kind ? kind : "?");
		if (s->owner) {
			size_t need = len + strlen(s->owner) + 16;
			if (need > cap && !(key = realloc(key, cap = need * 2)))
				die("out of memory");
			len += (size_t)snprintf(key + len, cap - len,
						"\nheld by %s", s->owner);
		}
		for (int d = 0; d < s->depth; d++) {
			int nf = ward_profile_frames(p, s->pcs[d], fr, WARD_MAX_INLINE);
			for (int j = 0; j < nf; j++) {
				/* Offsets and lines differ between builds;
				 * names do not (a frame with no name: its
				 * object and offset, never its address). */
				ward_frame_function(fr[j].text, false);
				size_t need = len + strlen(fr[j].text) + 2;
				if (need > cap) {
					cap = need * 2;
					key = realloc(key, cap);
					if (!key)
						die("out of memory");
				}
				len += (size_t)snprintf(key + len, cap - len,
							"\n%s", fr[j].text);
			}
		}
		k[i] = (struct keyed){ key, s };
	}
	qsort(k, count, sizeof(*k), by_key);
	*n = count;
	return k;
}

struct growth {
	const char *key;
	int64_t dcount, dbytes;
};

static int by_growth(const void *a, const void *b)
{
	const struct growth *x = a, *y = b;
	if (x->dbytes != y->dbytes)
		return x->dbytes < y->dbytes ? 1 : -1;
	return x->dcount < y->dcount ? 1 : x->dcount > y->dcount ? -1 : 0;
}

static int cmd_diff(int argc, char **argv)
{
	const char *files[2] = { NULL, NULL };
	int nfiles = 0, top = 20;

	for (int i = 1; i < argc; i++) {
		if (is_help(argv[i])) {
			usage_diff(stdout);
			return 0;
		} else if (strcmp(argv[i], "--top") == 0)
			top = positive_arg("diff", argc, argv, &i);
		else if (is_option(argv[i]))
			die("diff: unknown option '%s'", argv[i]);
		else if (nfiles < 2)
			files[nfiles++] = argv[i];
		else
			die("diff: two profiles, OLD and NEW ('%s' is a third)",
			    argv[i]);
	}
	if (nfiles != 2)
		die("diff: needs OLD and NEW (ward diff OLD NEW)");
	ward_profile_t *a = load(files[0]), *b = load(files[1]);
	size_t na, nb;
	struct keyed *ka = keys_of(a, &na), *kb = keys_of(b, &nb);
	struct growth *g = calloc(na + nb + 1, sizeof(*g));
	size_t ng = 0, i = 0, j = 0;
	if (!g)
		die("out of memory");
	/* Merge the two sorted lists; equal keys pair up. Several samples
	 * may share a key (inlined call sites): they add up. */
	while (i < na || j < nb) {
		int c = i >= na ? 1 : j >= nb ? -1 : strcmp(ka[i].key, kb[j].key);
		const char *key = c <= 0 ? ka[i].key : kb[j].key;
		int64_t dc = 0, db = 0;
		while (i < na && strcmp(ka[i].key, key) == 0) {
			dc = ward__sat_sub(dc, ka[i].s->live_count);
			db = ward__sat_sub(db, ka[i].s->live_bytes);
			i++;
		}
		while (j < nb && strcmp(kb[j].key, key) == 0) {
			dc = ward__sat_add(dc, kb[j].s->live_count);
			db = ward__sat_add(db, kb[j].s->live_bytes);
			j++;
		}
		if (dc || db)
			g[ng++] = (struct growth){ key, dc, db };
	}
	qsort(g, ng, sizeof(*g), by_growth);
	int64_t tc = 0, tb = 0;
	for (size_t k = 0; k < ng; k++) {
		tc = ward__sat_add(tc, g[k].dcount);
		tb = ward__sat_add(tb, g[k].dbytes);
	}
	printf("ward diff: %s -> %s: %+" PRId64 " live resources, %+" PRId64
	       " bytes, at %zu sites\n",
	       files[0], files[1], tc, tb, ng);
	for (size_t k = 0; k < ng && (int)k < top; k++) {
		const char *nl = strchr(g[k].key, '\n');
		int kindlen = nl ? (int)(nl - g[k].key) : (int)strlen(g[k].key);
		printf("\n%+12" PRId64 " bytes %+8" PRId64 "  %.*s\n",
		       g[k].dbytes, g[k].dcount, kindlen, g[k].key);
		for (const char *f = nl; f; f = strchr(f + 1, '\n')) {
			const char *end = strchr(f + 1, '\n');
			int n = end ? (int)(end - f - 1) : (int)strlen(f + 1);
			printf("\t%.*s\n", n, f + 1);
		}
	}
	for (size_t k = 0; k < na; k++)
		free(ka[k].key);
	for (size_t k = 0; k < nb; k++)
		free(kb[k].key);
	free(ka);
	free(kb);
	free(g);
	ward_profile_free(a);
	ward_profile_free(b);
	return 0;
}

/* ---- watch ------------------------------------------------------------- */

static void usage_watch(FILE *f)
{
	fputs("usage: ward watch URL [--every SECONDS] [--window N] [--count N]\n"
	      "                  [--save DIR] [--timeout SECONDS]\n"
	      "\n"
	      "Fetches a profile from a live endpoint (ward_http_start, or\n"
	      "WARD_HTTP / ward run --http), e.g.\n"
	      "http://127.0.0.1:6060/debug/pprof/heap, every SECONDS (default\n"
	      "10), and after each fetch names the sites whose live bytes grew\n"
	      "at every one of the last N fetches (default 4): a steady climb\n"
	      "is a leak suspect though the program never exits. Each is shown\n"
	      "with its growth rate and stack. Sites that go up and down are\n"
	      "not named. --count N stops after N fetches (default: never);\n"
	      "--save DIR keeps each profile as DIR/watch-K.pb.gz for ward diff.\n"
	      "A fetch not done within --timeout SECONDS (default 60), or of\n"
	      "more than 256 MiB, is an error.\n",
	      f);
}

/* A fetch ends within fetch_seconds (--timeout) and holds at most
 * FETCH_MOST bytes: an endpoint that stalls, or sends without end, is an
 * error, not a command that hangs or eats the memory. A profile is far
 * smaller. */
static long fetch_seconds = 60;
#define FETCH_MOST ((size_t)256 << 20)

/* GET url (http://HOST:PORT/PATH) into a malloc'd body; dies on error,
 * naming the command cmd. Asked as HTTP/1.0, so that the answer is the
 * body as it is, up to the end of the connection (a Go program's
 * net/http/pprof answers HTTP/1.1 in chunks). */
static char *http_get(const char *cmd, const char *url, size_t *len)
{
	char host[256], path[512];
	int port = 80;
	if (strncmp(url, "http://", 7) != 0)
		die("%s: '%s' is not an http:// URL", cmd, url);
	const char *h = url + 7, *slash = strchr(h, '/');
	size_t hl = slash ? (size_t)(slash - h) : strlen(h);
	if (hl == 0 || hl >= sizeof(host))
		die("%s: '%s' has no host", cmd, url);
	memcpy(host, h, hl);
	host[hl] = '\0';
	snprintf(path, sizeof(path), "%s", slash ? slash : "/");
	char *colon = strrchr(host, ':');
	if (colon && !strchr(colon, ']')) {
		*colon = '\0';
		port = atoi(colon + 1);
	}
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	char ports[16];
	snprintf(ports, sizeof(ports), "%d", port);
	const char *hn = host[0] == '[' ? host + 1 : host;
	if (host[0] == '[')
		host[strlen(host) - 1] = '\0';
	if (getaddrinfo(hn, ports, &hints, &ai) != 0 || !ai)
		die("%s: cannot resolve '%s'", cmd, hn);
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	/* Each connect, send and read waits a few seconds at most (Linux
	 * takes the send timeout for connect); the whole fetch is bounded
	 * by the deadline. */
	struct timeval step = { fetch_seconds < 5 ? fetch_seconds : 5, 0 };
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &step, sizeof(step));
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &step, sizeof(step));
	}
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0)
		die("%s: cannot connect to %s:%d: %s", cmd, hn, port,
		    errno == EINPROGRESS ? "no answer" : strerror(errno));
	freeaddrinfo(ai);
	char req[1024];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: %s\r\n"
					  "Connection: close\r\n\r\n", path, hn);
	if (write(fd, req, (size_t)n) != n)
		die("%s: cannot send to %s", cmd, url);
	time_t deadline = time(NULL) + fetch_seconds;
	size_t cap = 1 << 16, got = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (!buf)
			die("out of memory");
		ssize_t r = read(fd, buf + got, cap - got);
		if (r == 0)
			break;
		if (r < 0 && errno != EINTR && errno != EAGAIN)
			die("%s: %s: %s", cmd, url, strerror(errno));
		if (time(NULL) >= deadline)
			die("%s: %s did not finish its answer within %ld "
			    "seconds",
			    cmd, url, fetch_seconds);
		if (r < 0)
			continue;
		got += (size_t)r;
		if (got == FETCH_MOST)
			die("%s: %s sent more than %zu MiB: not a profile", cmd,
			    url, FETCH_MOST >> 20);
		if (got == cap) {
			cap = cap * 2 < FETCH_MOST ? cap * 2 : FETCH_MOST;
			char *more = realloc(buf, cap);
			if (!more)
				free(buf);
			buf = more;
		}
	}
	close(fd);
	char *body = NULL;
	for (size_t i = 0; i + 3 < got; i++)
		if (memcmp(buf + i, "\r\n\r\n", 4) == 0) {
			body = buf + i + 4;
			break;
		}
	if (got < 12 || memcmp(buf, "HTTP/1.", 7) != 0 || !body)
		die("%s: %s did not answer in HTTP", cmd, url);
	if (memcmp(buf + 9, "200", 3) != 0)
		die("%s: %s answered %.3s", cmd, url, buf + 9);
	*len = got - (size_t)(body - buf);
	memmove(buf, body, *len);
	return buf;
}

struct watched {
	char *key;
	int64_t bytes[64]; /* the last fetches, oldest first */
	int64_t count[64];
};

static int by_watched(const void *a, const void *b)
{
	return strcmp(((const struct watched *)a)->key,
		      ((const struct watched *)b)->key);
}

/* Fetch url's profile; dies, naming cmd, when it is not one. */
static ward_profile_t *fetch_profile(const char *cmd, const char *url)
{
	size_t len;
	char *body = http_get(cmd, url, &len);
	ward_profile_t *p = NULL;
	char err[512];
	if (ward_profile_read(body, len, &p, err, sizeof(err)) < 0)
		die("%s: %s: %s", cmd, url, err);
	free(body);
	return p;
}

/* Add a fetch's sites to the watched ones: every site known shifts one
 * place (absent now: 0), and this fetch's values come last. */
static void watch_add(struct watched **wp, size_t *nwp, const ward_profile_t *p)
{
	struct watched *w = *wp;
	size_t nw = *nwp, nk;
	struct keyed *k = keys_of(p, &nk);
	for (size_t i = 0; i < nw; i++) {
		memmove(w[i].bytes, w[i].bytes + 1, 63 * sizeof(int64_t));
		memmove(w[i].count, w[i].count + 1, 63 * sizeof(int64_t));
		w[i].bytes[63] = w[i].count[63] = 0;
	}
	for (size_t i = 0; i < nk; i++) {
		struct watched probe = { .key = k[i].key };
		struct watched *f = nw ? bsearch(&probe, w, nw, sizeof(*w),
						 by_watched)
				       : NULL;
		if (!f) {
			w = realloc(w, (nw + 1) * sizeof(*w));
			if (!w)
				die("out of memory");
			w[nw] = (struct watched){ .key = strdup(k[i].key) };
			nw++;
			qsort(w, nw, sizeof(*w), by_watched);
			f = bsearch(&probe, w, nw, sizeof(*w), by_watched);
		}
		f->bytes[63] = ward__sat_add(f->bytes[63], k[i].s->live_bytes);
		f->count[63] = ward__sat_add(f->count[63], k[i].s->live_count);
	}
	for (size_t i = 0; i < nk; i++)
		free(k[i].key);
	free(k);
	*wp = w;
	*nwp = nw;
}

/* A key's first line (the kind) and up to `frames` frames after it. */
static void print_key(const char *key, int frames)
{
	const char *nl = strchr(key, '\n');
	int shown = 0;
	for (const char *f = nl; f && shown < frames; shown++) {
		const char *next = strchr(f + 1, '\n');
		printf("\t%.*s\n",
		       (int)(next ? next - f - 1 : (long)strlen(f + 1)), f + 1);
		f = next;
	}
}

/* Name the sites up at each of the last `window` fetches; how many. */
static int watch_report(const struct watched *w, size_t nw, long window,
			long every)
{
	int named = 0;
	for (size_t i = 0; i < nw; i++) {
		const int64_t *b = w[i].bytes + 64 - window;
		bool up = true;
		for (long j = 1; j < window && up; j++)
			up = b[j] > b[j - 1];
		if (!up)
			continue;
		double rate = (double)(b[window - 1] - b[0]) /
			      (double)((window - 1) * every);
		const char *nl = strchr(w[i].key, '\n');
		int kl = nl ? (int)(nl - w[i].key) : (int)strlen(w[i].key);
		printf("  growing: %.*s +%.0f bytes/s, %" PRId64 " -> %" PRId64
		       " bytes (%" PRId64 " -> %" PRId64
		       " live) over the last %ld fetches\n",
		       kl, w[i].key, rate, b[0], b[window - 1],
		       w[i].count[64 - window], w[i].count[63], window);
		print_key(w[i].key, 6);
		named++;
	}
	return named;
}

static int cmd_watch(int argc, char **argv)
{
	const char *url = NULL, *save = NULL;
	long every = 10, window = 4, count = 0;
	for (int i = 1; i < argc; i++) {
		if (is_help(argv[i])) {
			usage_watch(stdout);
			return 0;
		} else if (strcmp(argv[i], "--every") == 0)
			every = positive_arg("watch", argc, argv, &i);
		else if (strcmp(argv[i], "--window") == 0)
			window = positive_arg("watch", argc, argv, &i);
		else if (strcmp(argv[i], "--count") == 0)
			count = positive_arg("watch", argc, argv, &i);
		else if (strcmp(argv[i], "--save") == 0)
			save = value_of("watch", argc, argv, &i);
		else if (strcmp(argv[i], "--timeout") == 0)
			fetch_seconds = positive_arg("watch", argc, argv, &i);
		else if (argv[i][0] == '-')
			die("watch: unknown option '%s'", argv[i]);
		else if (!url)
			url = argv[i];
		else
			die("watch: one URL at a time ('%s')", argv[i]);
	}
	if (!url)
		die("watch: which endpoint? (ward watch http://127.0.0.1:6060/debug/pprof/heap)");
	if (window < 2 || window > 63)
		die("watch: --window takes 2 to 63");
	struct watched *w = NULL;
	size_t nw = 0;
	for (long fetch = 0; !count || fetch < count; fetch++) {
		if (fetch)
			sleep((unsigned)every);
		ward_profile_t *p = fetch_profile("watch", url);
		if (save) {
			char path[4096];
			snprintf(path, sizeof(path), "%s/watch-%ld.pb.gz", save,
				 fetch + 1);
			char target[4096];
			int rc = ward_save_profile_target(path, target,
							  sizeof(target));
			if (rc >= 0)
				rc = ward_profile_save(p, path,
						       WARD_FORMAT_PPROF_NAMED);
			if (rc < 0)
				die("watch: cannot write %s: %s", path,
				    ward_save_strerror(rc));
		}
		watch_add(&w, &nw, p);
		ward_profile_free(p);
		printf("ward watch: fetch %ld of %s\n", fetch + 1, url);
		if (fetch + 1 >= window && !watch_report(w, nw, window, every))
			printf("  nothing grew at each of the last %ld fetches\n",
			       window);
		fflush(stdout);
	}
	for (size_t i = 0; i < nw; i++)
		free(w[i].key);
	free(w);
	return 0;
}

/* ---- top --------------------------------------------------------------- */

static void usage_top(FILE *f)
{
	fputs("usage: ward top URL [--every SECONDS] [--lines N] [--count N]\n"
	      "                [--timeout SECONDS]\n"
	      "\n"
	      "A live endpoint's sites, largest first, refreshed every SECONDS\n"
	      "(default 2): live bytes and count, and how much each changed\n"
	      "since the previous fetch and since the first, per second. On a\n"
	      "terminal the screen is redrawn; otherwise each fetch is printed\n"
	      "after the last. --lines N shows N sites (default 20); --count N\n"
	      "stops after N fetches (default: never). The URL is a profile\n"
	      "path, e.g. http://127.0.0.1:6060/debug/pprof/heap. A fetch not\n"
	      "done within --timeout SECONDS (default 60) is an error.\n",
	      f);
}

struct top_row {
	const struct watched *w;
	int64_t bytes;
};

static int by_top_bytes(const void *a, const void *b)
{
	const struct top_row *x = a, *y = b;
	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? 1 : -1;
	return strcmp(x->w->key, y->w->key);
}

/* One screen: the sites of the newest fetch, largest first. */
static void top_screen(const char *url, const struct watched *w, size_t nw,
		       long fetch, long every, long lines, bool tty)
{
	struct top_row *rows = calloc(nw + 1, sizeof(*rows));
	if (!rows)
		die("out of memory");
	size_t n = 0;
	int64_t total = 0;
	for (size_t i = 0; i < nw; i++) {
		if (!w[i].bytes[63] && !w[i].count[63])
			continue;
		rows[n++] = (struct top_row){ &w[i], w[i].bytes[63] };
		total = ward__sat_add(total, w[i].bytes[63]);
	}
	qsort(rows, n, sizeof(*rows), by_top_bytes);
	long seen = fetch + 1 < 64 ? fetch + 1 : 64;
	if (tty)
		fputs("\033[H\033[2J", stdout);
	printf("ward top: %s, fetch %ld (every %lds): %" PRId64
	       " bytes live at %zu sites\n",
	       url, fetch + 1, every, total, n);
	printf("%12s %12s %12s %10s  %s\n", "live bytes", "since last",
	       "per second", "live count", "kind, acquired at");
	for (size_t i = 0; i < n && (long)i < lines; i++) {
		const struct watched *r = rows[i].w;
		int64_t last = r->bytes[63] - r->bytes[62];
		double rate = seen > 1 ? (double)(r->bytes[63] - r->bytes[64 - seen]) /
					 (double)((seen - 1) * every)
				       : 0.0;
		const char *nl = strchr(r->key, '\n');
		const char *f2 = nl ? strchr(nl + 1, '\n') : NULL;
		int kl = nl ? (int)(nl - r->key) : (int)strlen(r->key);
		printf("%12" PRId64 " %+12" PRId64 " %+12.0f %10" PRId64
		       "  %.*s %.*s\n",
		       r->bytes[63], fetch ? last : 0, rate, r->count[63], kl,
		       r->key, nl ? (int)(f2 ? f2 - nl - 1 : (long)strlen(nl + 1))
				  : 0,
		       nl ? nl + 1 : "");
	}
	fflush(stdout);
	free(rows);
}

static int cmd_top(int argc, char **argv)
{
	const char *url = NULL;
	long every = 2, lines = 20, count = 0;
	for (int i = 1; i < argc; i++) {
		if (is_help(argv[i])) {
			usage_top(stdout);
			return 0;
		} else if (strcmp(argv[i], "--every") == 0)
			every = positive_arg("top", argc, argv, &i);
		else if (strcmp(argv[i], "--lines") == 0)
			lines = positive_arg("top", argc, argv, &i);
		else if (strcmp(argv[i], "--count") == 0)
			count = positive_arg("top", argc, argv, &i);
		else if (strcmp(argv[i], "--timeout") == 0)
			fetch_seconds = positive_arg("top", argc, argv, &i);
		else if (argv[i][0] == '-')
			die("top: unknown option '%s'", argv[i]);
		else if (!url)
			url = argv[i];
		else
			die("top: one URL at a time ('%s')", argv[i]);
	}
	if (!url)
		die("top: which endpoint? (ward top http://127.0.0.1:6060/debug/pprof/heap)");
	bool tty = isatty(STDOUT_FILENO);
	struct watched *w = NULL;
	size_t nw = 0;
	for (long fetch = 0; !count || fetch < count; fetch++) {
		if (fetch)
			sleep((unsigned)every);
		ward_profile_t *p = fetch_profile("top", url);
		watch_add(&w, &nw, p);
		ward_profile_free(p);
		top_screen(url, w, nw, fetch, every, lines, tty);
		if (!tty)
			putchar('\n');
	}
	for (size_t i = 0; i < nw; i++)
		free(w[i].key);
	free(w);
	return 0;
}

static int cmd_flame(int argc, char **argv)
{
	const char *file = NULL, *out = NULL, *value = "inuse_space";
	bool folded = false;

	for (int i = 1; i < argc; i++) {
		if (is_help(argv[i])) {
			usage_flame(stdout);
			return 0;
		} else if (strcmp(argv[i], "-o") == 0)
			out = value_of("flame", argc, argv, &i);
		else if (strcmp(argv[i], "--value") == 0)
			value = value_of("flame", argc, argv, &i);
		else if (strcmp(argv[i], "--folded") == 0)
			folded = true;
		else if (is_option(argv[i]))
			die("flame: unknown option '%s'", argv[i]);
		else if (!file)
			file = argv[i];
		else
			die("flame: one profile at a time ('%s')", argv[i]);
	}
	if (!file || !out)
		die("flame: needs a profile and -o OUT.svg (or --folded -o OUT.txt)");
	enum flame_value v;
	if (strcmp(value, "inuse_space") == 0)
		v = FLAME_INUSE_SPACE;
	else if (strcmp(value, "inuse_objects") == 0)
		v = FLAME_INUSE_OBJECTS;
	else if (strcmp(value, "alloc_space") == 0)
		v = FLAME_ALLOC_SPACE;
	else if (strcmp(value, "alloc_objects") == 0)
		v = FLAME_ALLOC_OBJECTS;
	else
		die("flame: --value is inuse_space, inuse_objects, alloc_space "
		    "or alloc_objects, not '%s'",
		    value);
	/* The drawing replaces a file of its own kind, never a profile (the
	 * one drawn, named twice, or another). */
	if (strcmp(out, "-") != 0) {
		char target[PATH_MAX];
		struct stat st, in;
		int t = ward_save_profile_target(out, target, sizeof(target));
		bool there = (t == 0 || t == -EMEDIUMTYPE) &&
			     stat(target, &st) == 0;
		if (there && ((t == 0 && st.st_size > 0) ||
			      (stat(file, &in) == 0 && in.st_dev == st.st_dev &&
			       in.st_ino == st.st_ino)))
			die("flame: cannot write %s: it is a profile, which "
			    "the drawing would replace (name another file)",
			    out);
	}
	ward_profile_t *p = load(file);
	int rc = flame_write(p, v, file, out, folded);
	ward_profile_free(p);
	if (rc < 0)
		die("flame: cannot write %s: %s%s", out, ward_save_strerror(rc),
		    rc == -EBADFD ? " (-o - writes to standard output)" : "");
	return 0;
}

/* ---- run --------------------------------------------------------------- */

/* libward_preload.so: $WARD_PRELOAD, next to this program, or in ../lib. */
static void find_preload(char *out, size_t len)
{
	const char *env = getenv("WARD_PRELOAD");
	if (env && *env) {
		if (access(env, R_OK) != 0)
			die("WARD_PRELOAD=%s: %s", env, strerror(errno));
		snprintf(out, len, "%s", env);
		return;
	}
	char self[PATH_MAX];
	if (ward__exe_path(self, sizeof(self)) == 0)
		die("cannot find my own path: neither /proc/self/exe nor the "
		    "path I was run by names me; set WARD_PRELOAD to "
		    "libward_preload.so's path");
	char *slash = strrchr(self, '/');
	*slash = '\0';
	const char *tries[] = { "/libward_preload.so",
				"/../lib/libward_preload.so",
				"/../lib/x86_64-linux-gnu/libward_preload.so" };
	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		snprintf(out, len, "%s%s", self, tries[i]);
		if (access(out, R_OK) == 0)
			return;
	}
	die("cannot find libward_preload.so next to %s or in ../lib; set "
	    "WARD_PRELOAD to its path",
	    self);
}

static void to_stderr(void *opaque, const void *buf, size_t len)
{
	(void)opaque;
	fwrite(buf, 1, len, stderr);
}

/* Whether word is one of the comma list's items. */
static bool in_list(const char *list, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = list; (p = strstr(p, word)); p += n)
		if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
			return true;
	return false;
}

/* Whether kind k is among the comma list (NULL: all). */
static bool kind_selected(const char *list, int k)
{
	const char *name = ward_kind_name(k);
	return name && (!list || in_list(list, name));
}

/*
 * The profile path `ward run` gives the program: absolute (the program may
 * chdir()), with '%' doubled (the tracer expands "%p"; ward run's paths
 * are taken as they are), and checked before the program runs: a new
 * path in a directory that exists, or a regular file.
 */
static void output_path(const char *out, char *abs, size_t len, char *escaped,
			size_t elen)
{
	char target[PATH_MAX], dir[PATH_MAX];
	int rc = ward_save_profile_target(out, target, sizeof(target));
	if (rc < 0)
		die("run: cannot write the profile to %s: %s", out,
		    ward_save_strerror(rc));
	if (target[0] == '/') {
		if ((size_t)snprintf(abs, len, "%s", target) >= len)
			die("run: %s: path too long", out);
	} else {
		if (!getcwd(dir, sizeof(dir)))
			die("run: cannot find the working directory: %s",
			    strerror(errno));
		if ((size_t)snprintf(abs, len, "%s/%s", dir, target) >= len)
			die("run: %s: path too long", out);
	}
	snprintf(dir, sizeof(dir), "%s", abs);
	*strrchr(dir, '/') = '\0';
	if (access(dir[0] ? dir : "/", W_OK | X_OK) != 0)
		die("run: cannot write the profile to %s: %s", out,
		    strerror(errno));
	size_t k = 0;
	for (const char *s = abs; *s; s++) {
		if (k + 3 >= elen)
			die("run: %s: path too long", out);
		if (*s == '%')
			escaped[k++] = '%';
		escaped[k++] = *s;
	}
	escaped[k] = '\0';
	/* The program writes ABS.snapN and its children ABS.PID: both
	 * must fit too. */
	if (strlen(abs) + 24 >= PATH_MAX)
		die("run: %s: path too long", out);
}

/* Whether the file at path was replaced since *before (which says whether
 * anything was there then). */
static bool written_since(const char *path, const struct stat *before,
			  bool existed)
{
	struct stat now;
	if (stat(path, &now) != 0 || !S_ISREG(now.st_mode))
		return false;
	return !existed || now.st_ino != before->st_ino ||
	       now.st_dev != before->st_dev ||
	       now.st_mtim.tv_sec != before->st_mtim.tv_sec ||
	       now.st_mtim.tv_nsec != before->st_mtim.tv_nsec;
}

/*
 * What the ELF file at path is built for, when it is not what ward's
 * library can be loaded into (x86-64): "a 32-bit program (i386)", or
 * "built for another machine (ELF machine 183)". NULL for a program of
 * ward's own kind, a file that is no ELF file, or one that cannot be read.
 */
static const char *elf_foreign(const char *path)
{
	static char what[96];
	Elf64_Ehdr eh;
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	bool elf = fread(&eh, 1, sizeof(eh), f) >= EI_NIDENT + 4 &&
		   memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0;
	fclose(f);
	/* e_machine lies at the same place in either class. */
	if (!elf ||
	    (eh.e_ident[EI_CLASS] == ELFCLASS64 && eh.e_machine == EM_X86_64))
		return NULL;
	if (eh.e_ident[EI_CLASS] == ELFCLASS32 && eh.e_machine == EM_386)
		return "a 32-bit program (i386)";
	if (eh.e_ident[EI_CLASS] == ELFCLASS32 && eh.e_machine == EM_X86_64)
		return "an x32 program (32-bit pointers)";
	snprintf(what, sizeof(what), "built for another machine (ELF %s, "
		 "machine %u)", eh.e_ident[EI_CLASS] == ELFCLASS32 ? "32-bit"
								   : "64-bit",
		 (unsigned)eh.e_machine);
	return what;
}

/* Whether the file at path begins as an ELF file does. */
static bool is_elf(const char *path)
{
	char magic[SELFMAG];
	FILE *f = fopen(path, "rb");
	bool elf = f && fread(magic, 1, SELFMAG, f) == SELFMAG &&
		   memcmp(magic, ELFMAG, SELFMAG) == 0;
	if (f)
		fclose(f);
	return elf;
}

/* The program headers of the 64-bit ELF file open at f into ph[0..most):
 * how many, or -1 when it is no such file or has more. */
enum { MOST_PHDRS = 64 };
static int elf_phdrs(FILE *f, Elf64_Phdr *ph, int most)
{
	Elf64_Ehdr eh;
	if (fread(&eh, sizeof(eh), 1, f) != 1 ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum > most ||
	    fseeko(f, (off_t)eh.e_phoff, SEEK_SET) != 0 ||
	    fread(ph, sizeof(ph[0]), eh.e_phnum, f) != eh.e_phnum)
		return -1;
	return eh.e_phnum;
}

/* Whether path is an ELF executable with no program interpreter (no
 * dynamic loader, so no LD_PRELOAD). */
static bool elf_is_static(const char *path)
{
	Elf64_Phdr ph[MOST_PHDRS];
	FILE *f = fopen(path, "rb");
	if (!f)
		return false;
	int n = elf_phdrs(f, ph, MOST_PHDRS);
	fclose(f);
	bool interp = false;
	for (int k = 0; k < n; k++)
		interp |= ph[k].p_type == PT_INTERP;
	return n >= 0 && !interp;
}

/*
 * The sanitizer whose runtime the ELF file at path loads (a DT_NEEDED
 * libasan, libhwasan, libtsan or liblsan, or clang's libclang_rt.asan):
 * that runtime must come first among the libraries and serves malloc
 * itself, so ward's tracer cannot go before it and the program stops at
 * start. *linked_in tells a runtime linked into the file instead
 * (clang's default, gcc's -static-libasan), which exports its
 * __asan_init: ward's tracer loads, but sees none of the heap, and the
 * runtime's leak check ends the program with _exit. NULL when none, or
 * when the file cannot be read.
 */
static const char *elf_sanitizer(const char *path, bool *linked_in)
{
	static const struct {
		const char *lib, *name;
	} runtimes[] = { { "libasan.so", "AddressSanitizer" },
			 { "libhwasan.so", "HWAddressSanitizer" },
			 { "libtsan.so", "ThreadSanitizer" },
			 { "liblsan.so", "LeakSanitizer" },
			 /* clang's, linked with -shared-libasan */
			 { "libclang_rt.asan-", "AddressSanitizer" },
			 { "libclang_rt.hwasan-", "HWAddressSanitizer" } };
	enum { MOST_DYN = 512 };
	const char *found = NULL;
	Elf64_Phdr ph[MOST_PHDRS];
	Elf64_Dyn dyn[MOST_DYN];
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	int nph = elf_phdrs(f, ph, MOST_PHDRS);
	size_t ndyn = 0;
	for (int k = 0; k < nph; k++)
		if (ph[k].p_type == PT_DYNAMIC) {
			ndyn = ph[k].p_filesz / sizeof(dyn[0]);
			if (ndyn > MOST_DYN)
				ndyn = MOST_DYN;
			if (fseeko(f, (off_t)ph[k].p_offset, SEEK_SET) != 0 ||
			    fread(dyn, sizeof(dyn[0]), ndyn, f) != ndyn)
				goto out;
		}
	/* The string table's address, as a place in the file. */
	uint64_t strtab = 0, strsz = 0;
	for (size_t d = 0; d < ndyn; d++)
		if (dyn[d].d_tag == DT_STRTAB)
			strtab = dyn[d].d_un.d_ptr;
		else if (dyn[d].d_tag == DT_STRSZ)
			strsz = dyn[d].d_un.d_val;
	off_t at = -1;
	for (int k = 0; k < nph && strtab; k++)
		if (ph[k].p_type == PT_LOAD && strtab >= ph[k].p_vaddr &&
		    strtab < ph[k].p_vaddr + ph[k].p_filesz)
			at = (off_t)(strtab - ph[k].p_vaddr + ph[k].p_offset);
	for (size_t d = 0; d < ndyn && at >= 0 && !found; d++) {
		char name[64] = "";
		if (dyn[d].d_tag != DT_NEEDED ||
		    fseeko(f, at + (off_t)dyn[d].d_un.d_val, SEEK_SET) != 0 ||
		    !fgets(name, sizeof(name), f))
			continue;
		for (size_t r = 0; r < sizeof(runtimes) / sizeof(*runtimes); r++)
			if (strncmp(name, runtimes[r].lib,
				    strlen(runtimes[r].lib)) == 0)
				found = runtimes[r].name;
	}
	*linked_in = false;
	if (found || at < 0 || fseeko(f, at, SEEK_SET) != 0)
		goto out;
	/* Not needed: linked in? Its entry point's name is among the
	 * dynamic symbols' names. */
	static const char *const inits[][2] = {
		{ "__asan_init", "AddressSanitizer" },
		{ "__hwasan_init", "HWAddressSanitizer" },
	};
	char line[256];
	size_t len = 0, read_so_far = 0;
	int c;
	while (!found && read_so_far++ < strsz && (c = getc(f)) != EOF) {
		if (c && len < sizeof(line) - 1) {
			line[len++] = (char)c;
			continue;
		}
		line[len] = '\0';
		for (size_t r = 0; r < sizeof(inits) / sizeof(*inits); r++)
			if (strcmp(line, inits[r][0]) == 0)
				found = inits[r][1];
		len = 0;
	}
	*linked_in = found != NULL;
out:
	fclose(f);
	return found;
}

/* How the program's process ended: its name (its /proc comm, which a
 * zombie keeps; "" if unknown) and the effective user id it had (-1 if
 * unknown). */
struct ended {
	char name[32];
	long uid;
	long long fsize; /* its file size limit in bytes; -1: none known */
	bool unmarked;   /* the note stayed as ward run made it: ward's
			  * library never ran in the process */
};

/* Why the profile could not be written to out (an absolute path) as the
 * program left its directory: gone, not writable, or on a full file
 * system (the tracer said so too, with the error); NULL when none. */
static const char *why_not_written(const char *out)
{
	static char why[PATH_MAX + 128];
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", out);
	char *slash = strrchr(dir, '/');
	if (!slash)
		return NULL;
	if (slash == dir)
		slash[1] = '\0'; /* the root directory */
	else
		*slash = '\0';
	struct stat sb;
	struct statvfs vs;
	if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
		snprintf(why, sizeof(why), "its directory %s is gone (the "
			 "program removed or replaced it)", dir);
	else if (access(dir, W_OK | X_OK) != 0)
		snprintf(why, sizeof(why), "its directory %s is no longer "
			 "writable", dir);
	else if (statvfs(dir, &vs) == 0 && vs.f_bavail == 0)
		snprintf(why, sizeof(why), "the file system holding %s is "
			 "full", dir);
	else
		return NULL;
	return why;
}

/* The file program names as execvp() finds it: itself when it holds a
 * '/', else the first executable file of that name along PATH (written
 * into path). NULL when there is none. */
static const char *find_program(const char *program, char *path, size_t len)
{
	if (strchr(program, '/'))
		return program;
	const char *env = getenv("PATH");
	char dirs[8192];
	snprintf(dirs, sizeof(dirs), "%s", env ? env : "/usr/bin:/bin");
	for (char *s, *d = strtok_r(dirs, ":", &s); d;
	     d = strtok_r(NULL, ":", &s)) {
		snprintf(path, len, "%s/%s", *d ? d : ".", program);
		struct stat sb;
		if (access(path, X_OK) == 0 && stat(path, &sb) == 0 &&
		    S_ISREG(sb.st_mode))
			return path;
	}
	return NULL;
}

/*
 * Why the kernel refused to execute program (EACCES), in a few words, or
 * NULL: the first file of that name (as PATH finds it, when the name has
 * no '/') is a directory, not a regular file, has no execute permission,
 * or lies on a file system mounted noexec.
 */
static const char *exec_denied(const char *program, char *why, size_t len)
{
	char path[PATH_MAX];
	struct stat sb;
	bool found = false;
	if (strchr(program, '/')) {
		snprintf(path, sizeof(path), "%s", program);
		found = stat(path, &sb) == 0;
	} else {
		const char *env = getenv("PATH");
		char dirs[8192];
		snprintf(dirs, sizeof(dirs), "%s", env ? env : "/usr/bin:/bin");
		for (char *s, *d = strtok_r(dirs, ":", &s); d && !found;
		     d = strtok_r(NULL, ":", &s)) {
			snprintf(path, sizeof(path), "%s/%s", *d ? d : ".",
				 program);
			found = stat(path, &sb) == 0;
		}
	}
	struct statvfs fs;
	if (!found)
		return NULL;
	if (S_ISDIR(sb.st_mode))
		snprintf(why, len, "%s is a directory", path);
	else if (!S_ISREG(sb.st_mode))
		snprintf(why, len, "%s is not a regular file", path);
	else if (access(path, X_OK) != 0)
		snprintf(why, len, "%s has no execute permission", path);
	else if (statvfs(path, &fs) == 0 && (fs.f_flag & ST_NOEXEC))
		snprintf(why, len, "%s is on a file system mounted noexec",
			 path);
	else
		return NULL;
	return why;
}

/* Why a program that was traced wrote no profile to out, in a few words,
 * from how its process ended (*e) and its status st. */
static const char *why_no_profile(const char *program, const char *out,
				  const struct ended *e, int st)
{
	static char why[512];
	if (WIFSIGNALED(st)) {
		int sig = WTERMSIG(st);
		snprintf(why, sizeof(why), "it was killed by signal %d (%s)%s",
			 sig, strsignal(sig),
			 sig == SIGKILL ? ": SIGKILL cannot be caught"
					: " before ward could write");
		return why;
	}
	char path[PATH_MAX];
	const char *found = find_program(program, path, sizeof(path));
	const char *foreign = found ? elf_foreign(found) : NULL;
	if (foreign) {
		snprintf(why, sizeof(why), "it is %s: ward's library, built "
			 "for x86-64, cannot be loaded into it", foreign);
		return why;
	}
	struct stat sb;
	if (found && stat(found, &sb) == 0 && (sb.st_mode & (S_ISUID | S_ISGID)))
		return "it is setuid or setgid: the loader ignores LD_PRELOAD "
		       "for it";
	if (found && elf_is_static(found))
		return "it is statically linked: LD_PRELOAD cannot reach it";
	bool linked_in = false;
	const char *sanitizer = found ? elf_sanitizer(found, &linked_in) : NULL;
	if (sanitizer && linked_in) {
		snprintf(why, sizeof(why), "it is built with %s linked in, "
			 "whose leak check ends the program without its exit "
			 "handlers (ASAN_OPTIONS=detect_leaks=0 lets ward's "
			 "report run; the runtime's malloc is the program's "
			 "own, which ward does not see)", sanitizer);
		return why;
	}
	if (sanitizer) {
		snprintf(why, sizeof(why), "it is built with %s, whose runtime "
			 "must load first and serves malloc itself: ward cannot "
			 "trace it", sanitizer);
		return why;
	}
	if (e->uid >= 0 && e->uid != (long)geteuid()) {
		snprintf(why, sizeof(why), "it ended as user %ld, not ward "
			 "run's: the profile, or the note saying why there is "
			 "none, was out of that user's reach", e->uid);
		return why;
	}
	/* The tracer writes the profile past a file size limit where it
	 * can raise it (its helper's own copy), and tells why there is none
	 * in a line: a limit smaller than that line is what silenced it. */
	if (e->fsize >= 0 && e->fsize < 4096) {
		snprintf(why, sizeof(why), "its file size limit (RLIMIT_FSIZE, "
			 "`ulimit -f`) was %lld bytes, which neither the "
			 "profile nor the tracer's line fits; with "
			 "CAP_SYS_RESOURCE ward writes past it", e->fsize);
		return why;
	}
	const char *unwritable = why_not_written(out);
	if (unwritable)
		return unwritable;
	/* The kernel names a process after the file it last ran (cut to 15
	 * bytes): another name means it ran another program in its place,
	 * which ward did not reach (it would have written the profile) — or
	 * that it named itself (PR_SET_NAME, pthread_setname_np()) and then
	 * ended past its exit handlers, which a name alone cannot tell. */
	const char *base = strrchr(program, '/');
	base = base ? base + 1 : program;
	if (*e->name && strncmp(base, e->name, 15) != 0) {
		snprintf(why, sizeof(why), "it ended as %s: a program run in "
			 "its place (exec) that ward did not reach (its "
			 "environment dropped LD_PRELOAD, or it is static or "
			 "setuid), or it gave itself that name and ended "
			 "without running its exit handlers (a raw exit "
			 "system call)", e->name);
		return why;
	}
	/* The dynamic loader ends a program whose libraries it cannot load
	 * with status 127, before any of them runs: ward's never marked the
	 * note. */
	if (e->unmarked && WIFEXITED(st) && WEXITSTATUS(st) == 127)
		return "the dynamic loader ended it (status 127) before ward's "
		       "library ran: a library it needs is missing or cannot "
		       "be loaded (the loader's message is above)";
	/* Later, the loader ends it so when a function it binds lazily is
	 * missing: no exit handlers, no call ward sees. */
	if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
		return "it ended with status 127 without running its exit "
		       "handlers, as the dynamic loader ends a program that "
		       "calls a function no library has (a \"symbol lookup "
		       "error\" above), or a raw exit system call does";
	return "it ended without running its exit handlers (a raw exit "
	       "system call, or a runtime that bypasses exit(), as a "
	       "sanitizer's leak check does)";
}

/* The file at path's first len - 1 bytes into buf, its ending newlines
 * dropped; "" when it cannot be read. */
static void read_line(const char *path, char *buf, size_t len)
{
	buf[0] = '\0';
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, len - 1);
	close(fd);
	n = n < 0 ? 0 : n;
	while (n > 0 && buf[n - 1] == '\n')
		n--;
	buf[n] = '\0';
}

/* Once pid has ended, before it is reaped: how, into *e. */
static void ended_as(pid_t pid, struct ended *e)
{
	siginfo_t si;
	e->name[0] = '\0';
	e->uid = -1;
	e->fsize = -1;
	while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) < 0)
		if (errno != EINTR)
			return;
	char path[64], status[4096];
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	read_line(path, e->name, sizeof(e->name));
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	read_line(path, status, sizeof(status));
	const char *u = strstr(status, "\nUid:");
	long real, eff;
	if (u && sscanf(u + 5, "%ld %ld", &real, &eff) == 2)
		e->uid = eff;
	snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
	read_line(path, status, sizeof(status));
	const char *f = strstr(status, "\nMax file size ");
	if (!f || sscanf(f + 15, "%lld", &e->fsize) != 1)
		e->fsize = -1; /* "unlimited" too */
}

/* ward run passes these signals on to the program and waits for it to
 * end: a service stopped with SIGTERM writes its profile. Signals the
 * terminal sent (^C) reached the program already, and so did an ending
 * signal the program or a process it started sent: to its process group
 * (kill(0, SIGTERM), a shell's `trap 'kill 0' EXIT`), which ward run is
 * in, or to its parent, which would not have signalled it back. (The
 * snapshot signal is passed on from anyone: a snapshot more is no
 * harm.) */
static volatile pid_t child_pid;
static volatile int snapshot_sig; /* passed on from anyone; 0: none */

/* pid's parent, from /proc/PID/stat (system calls only: a signal
 * handler's); 0 when unknown. */
static pid_t parent_of(pid_t pid)
{
	char path[48], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	const char *p = strrchr(buf, ')'); /* the name may hold one */
	int ppid; /* after the name: " STATE PPID" */
	return p && sscanf(p + 1, " %*c %d", &ppid) == 1 ? (pid_t)ppid : 0;
}

/* Whether pid is the program ward run started or a process under it. */
static bool from_program(pid_t pid)
{
	for (int depth = 0; depth < 64 && pid > 1; depth++) {
		if (pid == child_pid)
			return true;
		pid = parent_of(pid);
	}
	return false;
}

static void forward(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	int saved = errno;
	bool ending = sig != snapshot_sig;
	if (child_pid > 0 && si->si_code != SI_KERNEL &&
	    !(ending && si->si_code == SI_USER && from_program(si->si_pid)))
		kill(child_pid, sig);
	errno = saved;
}

/*
 * What --fail-on-leak counts: classes of heap block (definite, indirect,
 * reachable; "heap" for blocks the scan did not classify, in sampled mode
 * or when it could not run) and kinds (fd, file, thread, a user kind's
 * name). By default what LeakSanitizer and valgrind's
 * --errors-for-leak-kinds=definite,indirect count, plus every descriptor,
 * FILE and thread left open: what is still reachable (a stdout buffer, a
 * cache a global holds, a detached thread still running) is no failure.
 */
#define DEFAULT_FAIL_LIST "definite,indirect,heap,fd,file,thread,user"

static const char *check_fail_list(const char *list)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", list);
	for (char *s, *t = strtok_r(buf, ",", &s); t; t = strtok_r(NULL, ",", &s))
		if (strcmp(t, "definite") && strcmp(t, "indirect") &&
		    strcmp(t, "reachable") && strcmp(t, "heap") &&
		    strcmp(t, "fd") && strcmp(t, "file") &&
		    strcmp(t, "thread") && strcmp(t, "user"))
			die("run: --fail-on-leak= takes definite, indirect, "
			    "reachable, heap, fd, file, thread, user; not '%s'",
			    t);
	if (!*list)
		die("run: --fail-on-leak= needs a list (default %s)",
		    DEFAULT_FAIL_LIST);
	return list;
}

static bool fails_on(const char *list, const struct ward_sample *s)
{
	if (s->live_count <= 0)
		return false;
	if (s->kind == WARD_KIND_HEAP) {
		const char *leak = ward_leak_name(s->leak);
		return in_list(list, leak ? leak : "heap");
	}
	/* A detached thread still running at exit: let go on purpose. */
	if (s->leak == WARD_LEAK_REACHABLE)
		return in_list(list, "reachable");
	if (s->kind >= WARD_KIND_USER)
		return in_list(list, "user");
	const char *name = ward_kind_name(s->kind);
	return name && in_list(list, name);
}

/* What `ward run` was asked. */
struct run_opts {
	const char *out, *kinds, *sample, *snap_signal, *http, *why;
	bool follow_forks, follow_exec, fail_on_leak, json, quiet;
	const char *fail_list, *supp_file;
	bool supp_defaults;
};

/* Parse ward run's options into *o: the index of the program in argv, or
 * 0 when --help was answered. Dies on a bad option. */
static int parse_run(int argc, char **argv, struct run_opts *o)
{
	*o = (struct run_opts){ .out = "ward.pb.gz", .follow_forks = true,
				.follow_exec = true,
				.fail_list = DEFAULT_FAIL_LIST,
				.supp_defaults = true };
	int i = 1;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		} else if (is_help(a)) {
			usage_run(stdout);
			return 0;
		} else if (strcmp(a, "-o") == 0)
			o->out = value_of("run", argc, argv, &i);
		else if (strcmp(a, "--full") == 0)
			o->sample = NULL;
		else if (strcmp(a, "--sample") == 0) {
			o->sample = value_of("run", argc, argv, &i);
			char *end;
			errno = 0;
			unsigned long long v = strtoull(o->sample, &end, 10);
			if (*end || v == 0 || v > WARD_SAMPLE_MOST || errno ||
			    o->sample[0] < '0' || o->sample[0] > '9')
				die("run: --sample takes a number of bytes from "
				    "1 to %llu, not '%s'",
				    WARD_SAMPLE_MOST, o->sample);
		} else if (strcmp(a, "--kinds") == 0) {
			o->kinds = value_of("run", argc, argv, &i);
			char buf[256];
			snprintf(buf, sizeof(buf), "%s", o->kinds);
			int named = 0;
			for (char *sv, *t = strtok_r(buf, ",", &sv); t;
			     t = strtok_r(NULL, ",", &sv), named++)
				if (strcmp(t, "heap") && strcmp(t, "fd") &&
				    strcmp(t, "file") && strcmp(t, "thread"))
					die("run: unknown kind '%s' (kinds are "
					    "heap, fd, file, thread)",
					    t);
			if (!named)
				die("run: --kinds names no kind (kinds are "
				    "heap, fd, file, thread)");
		} else if (strcmp(a, "--http") == 0) {
			o->http = value_of("run", argc, argv, &i);
		} else if (strcmp(a, "--why") == 0) {
			o->why = value_of("run", argc, argv, &i);
		} else if (strcmp(a, "--snapshot-signal") == 0) {
			o->snap_signal = value_of("run", argc, argv, &i);
			if (ward_trace_signal_number(o->snap_signal) < 0)
				die("run: --snapshot-signal takes USR1, USR2 or "
				    "a real-time signal (RTMIN+N), not '%s'",
				    o->snap_signal);
		} else if (strcmp(a, "--follow-forks") == 0)
			o->follow_forks = true;
		else if (strcmp(a, "--no-follow-forks") == 0)
			o->follow_forks = false;
		else if (strcmp(a, "--no-follow-exec") == 0)
			o->follow_exec = false;
		else if (strcmp(a, "--fail-on-leak") == 0)
			o->fail_on_leak = true;
		else if (strncmp(a, "--fail-on-leak=", 15) == 0) {
			o->fail_on_leak = true;
			o->fail_list = check_fail_list(a + 15);
		}
		else if (strcmp(a, "--json") == 0)
			o->json = true;
		else if (strcmp(a, "--quiet") == 0)
			o->quiet = true;
		else if (strcmp(a, "--suppressions") == 0)
			o->supp_file = value_of("run", argc, argv, &i);
		else if (strcmp(a, "--no-default-suppressions") == 0)
			o->supp_defaults = false;
		else if (a[0] == '-')
			die("run: unknown option '%s' (ward run --help)", a);
		else
			break; /* the program, without a "--" */
	}
	if (i >= argc)
		die("run: which program? (ward run [options] -- PROGRAM ARGS)");
	return i;
}

/*
 * Where the tracer in the program ward run starts says why it wrote no
 * profile (WARD_NOTE): a file ward run makes empty before and removes
 * after; the tracer writes into it, never makes it. "" when none could be
 * made (the tracer then says it on standard error).
 */
static char note_path[PATH_MAX];

/*
 * Where the tracer writes its lines when the program's standard error is
 * no longer the one it started with (WARD_LOG: it closed descriptor 2 and
 * opened a file of its own there, which must not get ward's words): a file
 * made like the note, printed on ward run's standard error when the
 * program has ended.
 */
static char log_path[PATH_MAX];

/* An empty file $TMPDIR/ward-STEM.XXXXXX (else in /tmp) into path; ""
 * when none could be made. */
static void temp_make(char *path, size_t len, const char *stem)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(path, len, "%s/ward-%s.XXXXXX",
		 tmp && tmp[0] == '/' && strlen(tmp) < PATH_MAX - 32 ? tmp
								   : "/tmp",
		 stem);
	int fd = mkstemp(path);
	if (fd < 0)
		path[0] = '\0';
	else
		close(fd);
}

static void note_make(void)
{
	temp_make(note_path, sizeof(note_path), "note");
	temp_make(log_path, sizeof(log_path), "log");
}

/* The tracer's lines from the log, onto standard error; the log is
 * removed. */
static void log_take(void)
{
	if (!log_path[0])
		return;
	FILE *f = fopen(log_path, "re");
	if (f) {
		char buf[4096];
		size_t n;
		while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
			fwrite(buf, 1, n, stderr);
		fclose(f);
	}
	unlink(log_path);
	log_path[0] = '\0';
}

/* What the tracer wrote into the note (its end of line dropped), "" for
 * nothing; the note is removed. False when the tracer removed it: it
 * could not write its line there (a file size limit) and wrote it on
 * standard error. *unmarked: the note is as ward run made it, empty (the
 * tracer marks it when it starts). */
static bool note_take(char *buf, size_t len, bool *unmarked)
{
	buf[0] = '\0';
	*unmarked = false;
	if (!note_path[0])
		return true;
	struct stat sb;
	bool kept = stat(note_path, &sb) == 0;
	*unmarked = kept && sb.st_size == 0;
	read_line(note_path, buf, len);
	unlink(note_path);
	note_path[0] = '\0';
	return kept;
}

/* When the run began, by the clock the kernel stamps files with. */
static struct timespec run_began;

/* What marks the processes of this run in their environment: when it
 * began, and where they write (traced_env()). */
static char run_marks[2][2 * PATH_MAX + 32];

/* The settings below are at most this many. */
enum { RUN_SETTINGS = 16 };

/* The program's environment: ward's own, with the tracer's settings
 * (own: the strings made for them; pid: WARD_OUTPUT_PID's value, which
 * the child fills in). */
struct run_env {
	char **v;
	size_t n;
	char *own[RUN_SETTINGS];
	size_t nown;
	char *pid;
};

/* Set NAME to value in e (value NULL: remove it). */
static void env_set(struct run_env *e, const char *name, const char *value)
{
	size_t len = strlen(name), k = 0;
	for (size_t i = 0; i < e->n; i++)
		if (strncmp(e->v[i], name, len) != 0 || e->v[i][len] != '=')
			e->v[k++] = e->v[i];
	e->n = k;
	e->v[k] = NULL;
	if (!value)
		return;
	char *kv = malloc(len + strlen(value) + 2);
	if (!kv)
		die("run: out of memory");
	sprintf(kv, "%s=%s", name, value);
	e->own[e->nown++] = kv;
	e->v[e->n++] = kv;
	e->v[e->n] = NULL;
}

static struct run_env traced_env(const struct run_opts *o, const char *ld,
				 const char *escaped)
{
	struct run_env e = { .v = NULL };
	size_t n = 0;
	while (environ[n])
		n++;
	if (!(e.v = malloc((n + RUN_SETTINGS + 1) * sizeof(*e.v))))
		die("run: out of memory");
	memcpy(e.v, environ, n * sizeof(*e.v));
	e.n = n;
	e.v[n] = NULL;
	env_set(&e, "LD_PRELOAD", ld);
	env_set(&e, "WARD_OUTPUT", escaped);
	/* The program's pid, room for which the child fills in: only the
	 * process ward runs writes OUT itself (its forked children write
	 * OUT.PID). */
	env_set(&e, "WARD_OUTPUT_PID", "01234567890123456789");
	e.pid = strchr(e.v[e.n - 1], '=') + 1;
	/* The report is printed here, from the profile: the traced
	 * processes only write profiles (and load no symbolizer). */
	env_set(&e, "WARD_SUMMARY", "none");
	env_set(&e, "WARD_SAMPLE", o->sample);
	if (o->kinds)
		env_set(&e, "WARD_KINDS", o->kinds);
	env_set(&e, "WARD_FOLLOW_FORKS", o->follow_forks ? "1" : "0");
	env_set(&e, "WARD_FOLLOW_EXEC", o->follow_exec ? "1" : "0");
	env_set(&e, "WARD_SNAPSHOT_SIGNAL", o->snap_signal);
	if (o->http)
		env_set(&e, "WARD_HTTP", o->http);
	env_set(&e, "WARD_WHY", o->why);
	env_set(&e, "WARD_NOTE", note_path[0] ? note_path : NULL);
	env_set(&e, "WARD_LOG", log_path[0] ? log_path : NULL);
	/* A process whose OUT.PID one before it in the run wrote (the pid
	 * used again) writes OUT.PID-2: when the run began tells them. */
	char began[48];
	snprintf(began, sizeof(began), "%lld.%09ld",
		 (long long)run_began.tv_sec, run_began.tv_nsec);
	env_set(&e, "WARD_RUN_BEGAN", began);
	snprintf(run_marks[0], sizeof(run_marks[0]), "WARD_RUN_BEGAN=%s",
		 began);
	snprintf(run_marks[1], sizeof(run_marks[1]), "WARD_OUTPUT=%s",
		 escaped);
	return e;
}

static void run_env_free(struct run_env *e)
{
	for (size_t k = 0; k < e->nown; k++)
		free(e->own[k]);
	free(e->v);
}

/* v in decimal at buf (room for 20 digits and the end). */
static void put_decimal(char *buf, unsigned long v)
{
	char digits[21];
	int n = 0;
	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10) && n < 20);
	while (n)
		*buf++ = digits[--n];
	*buf = '\0';
}

/*
 * Start the program under the tracer with ward's signal mask `mask`; 0,
 * or the errno of an exec that failed (the program never ran). vfork: the
 * child borrows ward's memory until its exec, so starting a program costs
 * no copy of ward's page tables and no copy-on-write faults after (~1.7
 * ms a run here); the child only writes its pid into the environment
 * made for it, sets its signal mask and execs, or writes its errno where
 * the parent reads it once the child is gone.
 */
static int spawn_traced(char **program, struct run_env *env,
			const sigset_t *mask, pid_t *pid)
{
	volatile int exec_errno = 0;
	/* An ELF file is executed as it is: where the kernel cannot run it
	 * (a 32-bit program on a kernel without their support, another
	 * machine's), execvp() would hand it to /bin/sh as a script, and
	 * the report would be the shell's. */
	char where[PATH_MAX];
	const char *found = find_program(program[0], where, sizeof(where));
	bool elf = found && is_elf(found);
	pid_t p = vfork();
	if (p < 0)
		die("run: fork: %s", strerror(errno));
	if (p == 0) {
		put_decimal(env->pid, (unsigned long)getpid());
		sigprocmask(SIG_SETMASK, mask, NULL);
		if (elf)
			execve(found, program, env->v);
		else
			execvpe(program[0], program, env->v);
		exec_errno = errno;
		/* As a shell says it: 127 not found, 126 found but not
		 * runnable (no permission, a directory, not a program). */
		_exit(errno == ENOENT || errno == ENOTDIR ? 127 : 126);
	}
	*pid = p;
	return exec_errno;
}

/* Whether name is "PID" or "PID-N" (a pid used again in the run). */
static bool pid_name(const char *name)
{
	size_t n = strspn(name, "0123456789");
	if (n && name[n] == '-') {
		name += n + 1;
		n = strspn(name, "0123456789");
	}
	return n && name[n] == '\0';
}

/* How many profiles the processes the program forked or ran wrote beside
 * out since the run began: OUT.PID (or OUT.PID-N), each written or
 * rewritten since. */
static int others_written(const char *out)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", out);
	char *slash = strrchr(dir, '/');
	if (!slash)
		return 0;
	const char *base = out + (slash - dir) + 1;
	size_t nbase = strlen(base);
	*slash = '\0';
	DIR *d = opendir(slash == dir ? "/" : dir);
	if (!d)
		return 0;
	int n = 0;
	for (struct dirent *de; (de = readdir(d));) {
		const char *pid = de->d_name + nbase + 1;
		if (strncmp(de->d_name, base, nbase) != 0 ||
		    de->d_name[nbase] != '.' || !pid_name(pid))
			continue;
		struct stat sb;
		if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(sb.st_mode) &&
		    (sb.st_mtim.tv_sec > run_began.tv_sec ||
		     (sb.st_mtim.tv_sec == run_began.tv_sec &&
		      sb.st_mtim.tv_nsec >= run_began.tv_nsec)))
			n++;
	}
	closedir(d);
	return n;
}

/* The whole of /proc/PID/FILE, NUL-terminated, into a buffer of the
 * caller's to free; NULL when it cannot be read. */
static char *proc_file(const char *pid, const char *file, size_t *len)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%s/%s", pid, file);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	size_t cap = 16384, n = 0;
	char *buf = malloc(cap);
	for (ssize_t got = 1; buf && got > 0;) {
		if (n + 1 == cap) {
			char *more = realloc(buf, cap *= 2);
			if (!more) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = more;
		}
		got = read(fd, buf + n, cap - n - 1);
		n += got > 0 ? (size_t)got : 0;
	}
	close(fd);
	if (buf) {
		buf[n] = '\0';
		*len = n;
	}
	return buf;
}

/* Whether the environment env (n bytes of NUL-separated entries) holds
 * both of this run's marks. */
static bool marked_by_run(const char *env, size_t n)
{
	bool seen[2] = { false, false };
	for (size_t at = 0; at < n; at += strlen(env + at) + 1)
		for (int k = 0; k < 2; k++)
			seen[k] |= strcmp(env + at, run_marks[k]) == 0;
	return seen[0] && seen[1];
}

/* The pid process `pid` sees as its own: NSpid's last (in a pid namespace
 * of its own, the one its profile is named by); 0 when it has ended. */
static long own_pid(const char *pid)
{
	size_t n;
	char *status = proc_file(pid, "status", &n);
	long own = 0;
	for (char *line = status; line && *line;) {
		char *end = strchr(line, '\n');
		if (end)
			*end = '\0';
		if (strncmp(line, "NSpid:", 6) == 0) {
			char *last = strrchr(line, '\t');
			own = strtol(last ? last + 1 : line + 6, NULL, 10);
		} else if (strncmp(line, "State:", 6) == 0 && strchr(line, 'Z')) {
			break; /* ended, not yet reaped */
		}
		line = end ? end + 1 : NULL;
	}
	free(status);
	return own;
}

/* When process `pid` started, in clock ticks after boot (/proc/PID/stat's
 * 22nd field); 0 when it cannot be read. */
static unsigned long long started_at(const char *pid)
{
	size_t n;
	char *fields = proc_file(pid, "stat", &n);
	unsigned long long at = 0;
	/* The fields after the name, which may hold anything but ends at
	 * the last ')': the state is the 3rd field, the start the 22nd. */
	char *p = fields ? strrchr(fields, ')') : NULL;
	for (int field = 2; p && *p && field < 22; p++)
		if (*p == ' ')
			field++;
	if (p && *p)
		at = strtoull(p, NULL, 10);
	free(fields);
	return at;
}

/*
 * The processes of this run still running after the program ended — a
 * child it forked and left behind, a server it started — which write
 * their profiles when they end, after ward run has reported: the
 * processes /proc shows whose environment holds this run's marks and
 * that have ward's library mapped (one that executed a program without
 * it writes nothing). Only processes that started after ward run are
 * asked for their environment, which reading waits on the process's
 * memory map for. Up to max of their pids, each as the process sees its
 * own; returns how many there are.
 */
static int still_running(long *pids, int max)
{
	unsigned long long self = started_at("self");
	DIR *d = opendir("/proc");
	if (!self || !d) {
		if (d)
			closedir(d);
		return 0;
	}
	int n = 0;
	for (struct dirent *de; (de = readdir(d));) {
		if (!pid_name(de->d_name) ||
		    atol(de->d_name) == (long)getpid() ||
		    started_at(de->d_name) < self)
			continue;
		size_t len;
		char *env = proc_file(de->d_name, "environ", &len);
		bool marked = env && marked_by_run(env, len);
		free(env);
		char *maps = marked ? proc_file(de->d_name, "maps", &len) : NULL;
		bool traced = maps && strstr(maps, "/libward_preload");
		free(maps);
		long own = traced ? own_pid(de->d_name) : 0;
		if (own > 0 && n < max)
			pids[n] = own;
		n += own > 0;
	}
	closedir(d);
	return n;
}

/* Say which processes of the run still run, and where they write. */
static void say_still_running(const char *out)
{
	enum { LISTED = 8 };
	long pids[LISTED];
	int n = still_running(pids, LISTED);
	if (n == 1) {
		say("1 process of the run still runs (pid %ld): it writes its "
		    "profile, %s.%ld, when it ends", pids[0], out, pids[0]);
		return;
	}
	if (n == 0)
		return;
	char list[LISTED * 24] = "";
	size_t at = 0;
	for (int k = 0; k < n && k < LISTED; k++)
		at += (size_t)snprintf(list + at, sizeof(list) - at, "%s%ld",
				       k ? ", " : "", pids[k]);
	say("%d processes of the run still run (pids %s%s): each writes its "
	    "profile, %s.PID, when it ends", n, list, n > LISTED ? ", ..." : "",
	    out);
}

/* Whether the program turned its leak check off (the tracer asked its
 * __lsan_is_turned_off() when it wrote the profile). */
static bool leakcheck_off(const ward_profile_t *p)
{
	for (size_t i = 0; i < ward_profile_figure_count(p); i++) {
		const struct ward_figure *f = ward_profile_figure(p, i);
		if (strcmp(f->what, "leakcheck") == 0 &&
		    strcmp(f->figure, "turned_off") == 0 && f->value)
			return true;
	}
	return false;
}

/* After the program: the report from its profile, the line saying why
 * there is none (unless already said: the program could not be run, or
 * the tracer said it on standard error), and the --fail-on-leak verdict.
 * Returns ward run's status. */
static int run_verdict(const struct run_opts *o, const char *program,
		       const struct ended *e, const char *told, pid_t pid,
		       int st, bool have, bool said)
{
	int status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	/* Read once: the report and the verdict see the same suppressions.
	 * Quiet and with no verdict to give, nothing reads the profile
	 * (matching suppressions names frames: libc's debug information
	 * alone takes tens of milliseconds to load). */
	ward_profile_t *p = NULL;
	struct ward_suppressed gone = { 0, 0, 0 }, own = { 0, 0, 0 };
	if (have && (!o->quiet || o->fail_on_leak)) {
		ward_suppressions_t *supp = suppressions(o->supp_file,
							 o->supp_defaults);
		if ((p = load(o->out))) {
			ward_profile_suppress(p, supp, &gone);
			suppress_own(p, &own, stderr);
		}
		ward_suppressions_free(supp);
	}
	if (!o->quiet && p) {
		if (o->json) {
			ward_profile_write(p, WARD_FORMAT_JSON, to_stderr, NULL);
		} else {
			bool shown[WARD_KIND_USER] = { false };
			for (int k = 0; k < WARD_KIND_USER; k++)
				shown[k] = kind_selected(o->kinds, k);
			char head[200];
			snprintf(head, sizeof(head), "%slive at exit (pid %d)%s%s",
				 isatty(2) ? "\033[1m" : "", (int)pid,
				 o->sample ? ", estimated from samples" : "",
				 isatty(2) ? "\033[0m" : "");
			ward_profile_write_summary(p, head, shown, to_stderr, NULL);
			say_suppressed(stderr, &gone, o->supp_file,
				       o->supp_defaults);
			say_suppressed_by(stderr, &own, OWN_SUPPRESSIONS);
		}
	}
	if (have && !o->quiet)
		say("profile written to %s", o->out);
	int others = o->quiet ? 0 : others_written(o->out);
	if (others)
		say("%d more profile%s from the processes it forked or ran: "
		    "%s.PID", others, others == 1 ? "" : "s", o->out);
	else if (!have && !said)
		say("no profile from %s: %s", program,
			*told ? told
			      : why_no_profile(program, o->out, e, st));
	if (!o->quiet && o->follow_forks)
		say_still_running(o->out);
	/* Children that followed forks wrote OUT.PID; they stay. */

	if (o->fail_on_leak && status == 0 && !have) {
		say("--fail-on-leak: no profile, so no verdict (exit 3)");
		return 3;
	}
	if (o->fail_on_leak && status == 0 && p && leakcheck_off(p))
		say("--fail-on-leak: the program turned its leak check off "
		    "(its __lsan_is_turned_off()): nothing is counted");
	else if (o->fail_on_leak && status == 0 && p) {
		int64_t live = 0;
		for (size_t k = 0; k < ward_profile_count(p); k++) {
			const struct ward_sample *s = ward_profile_sample(p, k);
			if (fails_on(o->fail_list, s))
				live = ward__sat_add(live, s->live_count);
		}
		if (live > 0) {
			say("%" PRId64 " resources leaked (--fail-on-leak=%s)",
			    live, o->fail_list);
			ward_profile_free(p);
			return 1;
		}
	}
	ward_profile_free(p);
	return status;
}

static int cmd_run(int argc, char **argv)
{
	struct run_opts o;
	int i = parse_run(argc, argv, &o);
	if (i == 0)
		return 0;

	/* A suppressions file that does not parse is said before the
	 * program runs, not after. */
	if (o.supp_file)
		ward_suppressions_free(suppressions(o.supp_file, false));

	char preload[PATH_MAX], abs[PATH_MAX], escaped[2 * PATH_MAX];
	find_preload(preload, sizeof(preload));
	output_path(o.out, abs, sizeof(abs), escaped, sizeof(escaped));
	o.out = abs;
	struct stat before;
	bool existed = stat(o.out, &before) == 0;
	clock_gettime(CLOCK_REALTIME_COARSE, &run_began);

	const char *old = getenv("LD_PRELOAD");
	char ld[PATH_MAX * 2];
	if (old && *old)
		snprintf(ld, sizeof(ld), "%s:%s", preload, old);
	else
		snprintf(ld, sizeof(ld), "%s", preload);

	/* Forward what would end ward run — the ending signals, and those a
	 * service is sent to act on (USR1 to reopen its logs, a supervisor's
	 * signal sent to the pid it started: ended by it, ward run would
	 * leave the program running on, orphaned) — and the snapshot signal;
	 * block them until the handler knows whom to forward to. */
	sigset_t fwd, orig;
	sigemptyset(&fwd);
	int forwarded[10] = { SIGTERM, SIGHUP, SIGINT,   SIGQUIT, SIGUSR1,
			      SIGUSR2, SIGALRM, SIGWINCH, SIGPWR };
	size_t nforwarded = 9;
	if (o.snap_signal) {
		snapshot_sig = ward_trace_signal_number(o.snap_signal);
		if (snapshot_sig >= SIGRTMIN)
			forwarded[nforwarded++] = snapshot_sig;
	}
	for (size_t k = 0; k < nforwarded; k++)
		sigaddset(&fwd, forwarded[k]);
	sigprocmask(SIG_BLOCK, &fwd, &orig);

	note_make();
	struct run_env env = traced_env(&o, ld, escaped);
	pid_t pid;
	int exec_errno = spawn_traced(&argv[i], &env, &orig, &pid);
	run_env_free(&env);
	child_pid = pid;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = forward;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (size_t k = 0; k < nforwarded; k++)
		sigaction(forwarded[k], &sa, NULL);
	/* Its standard error gone (a pipe whose reader ended) or a file past
	 * the size limit, ward run still ends with the program's status, not
	 * by SIGPIPE or SIGXFSZ; a background job on a terminal under `stty
	 * tostop`, ward run's lines are written, not stopped by SIGTTOU (the
	 * tracer's report is written so too). The program was started with
	 * the dispositions it had. */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGXFSZ, SIG_IGN);
	signal(SIGTTOU, SIG_IGN);
	sigprocmask(SIG_SETMASK, &orig, NULL);
	char where[PATH_MAX], denied[PATH_MAX + 64];
	const char *found = exec_errno == ENOEXEC
				    ? find_program(argv[i], where, sizeof(where))
				    : NULL;
	const char *foreign = found ? elf_foreign(found) : NULL;
	if (foreign)
		say("run: cannot run %s: %s: it is %s, which this kernel does "
		    "not run", argv[i], strerror(exec_errno), foreign);
	else if (exec_errno == EACCES &&
		 exec_denied(argv[i], denied, sizeof(denied)))
		say("run: cannot run %s: %s: %s", argv[i],
		    strerror(exec_errno), denied);
	else if (exec_errno)
		say("run: cannot run %s: %s", argv[i], strerror(exec_errno));
	int st;
	struct ended e;
	ended_as(pid, &e);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			die("run: waitpid: %s", strerror(errno));
	bool have = written_since(o.out, &before, existed);
	char told[PATH_MAX + 256];
	bool said_here = !note_take(told, sizeof(told), &e.unmarked);
	log_take();
	return run_verdict(&o, argv[i], &e, told, pid, st, have,
			   exec_errno != 0 || said_here);
}

/* Whether the nearest of dir and the directories above it that exists
 * is the user's own. */
static bool owned_by_user(const char *dir)
{
	char path[512];
	struct stat st;
	snprintf(path, sizeof(path), "%s", dir);
	for (;;) {
		if (stat(path, &st) == 0)
			return st.st_uid == geteuid();
		char *slash = strrchr(path, '/');
		if (errno != ENOENT || !slash || !path[1])
			return false;
		slash[slash == path] = '\0'; /* "/a" goes up to "/" */
	}
}

/*
 * Where source positions are kept between runs: $WARD_CACHE_DIR (empty:
 * nowhere), else $XDG_CACHE_HOME/ward/lines, else ~/.cache/ward/lines —
 * those two only where the user owns what is there already: under
 * `sudo -E` HOME is another user's, whose ~/.cache must not become
 * root's, and a directory shared with others (/tmp) is not the user's
 * to fill.
 */
static const char *cache_dir(void)
{
	static char dir[512];
	const char *env = getenv("WARD_CACHE_DIR"), *base;
	if (env)
		return env;
	if ((base = getenv("XDG_CACHE_HOME")) && base[0] == '/')
		snprintf(dir, sizeof(dir), "%s/ward/lines", base);
	else if ((base = getenv("HOME")) && base[0] == '/')
		snprintf(dir, sizeof(dir), "%s/.cache/ward/lines", base);
	if (dir[0] && !owned_by_user(dir))
		dir[0] = '\0';
	return dir;
}

/* Standard output must have taken everything: a full disk or a closed
 * pipe is an error, not a report. */
static int finish_stdout(int status)
{
	if (fflush(stdout) != 0 || ferror(stdout))
		die("cannot write the output: %s", strerror(errno ? errno : EIO));
	return status;
}

static int dispatch(int argc, char **argv)
{
	/* Offline, source lines may come from separate debug files too,
	 * and what was found is kept for the next report. */
	ward_symbolize_separate_debuginfo(true);
	ward_symbolize_cache(cache_dir());
	if (argc < 2) {
		usage_main(stderr);
		return 2;
	}
	if (is_help(argv[1])) {
		usage_main(stdout);
		return finish_stdout(0);
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("ward %s\n", ward_version());
		return finish_stdout(0);
	}
	if (strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(argv[1], "report") == 0)
		return finish_stdout(cmd_report(argc - 1, argv + 1));
	if (strcmp(argv[1], "diff") == 0)
		return finish_stdout(cmd_diff(argc - 1, argv + 1));
	if (strcmp(argv[1], "flame") == 0)
		return finish_stdout(cmd_flame(argc - 1, argv + 1));
	if (strcmp(argv[1], "watch") == 0)
		return finish_stdout(cmd_watch(argc - 1, argv + 1));
	if (strcmp(argv[1], "top") == 0)
		return finish_stdout(cmd_top(argc - 1, argv + 1));
	die("unknown command '%s' (ward --help lists them)", argv[1]);
}

/*
 * Every command runs on a stack of its own, mapped here: naming a frame's
 * source line reads debug information (libdw), which takes tens of
 * kilobytes of stack, and a `ulimit -s 64` set for a program is the ward
 * command's limit too (`ward report` died by SIGSEGV there, `ward run`
 * below 32). The same thread switches to it (no thread of ward's to
 * count against the program's RLIMIT_NPROC, signals as they were); where
 * it cannot be mapped (an RLIMIT_AS), the command runs where it is.
 */
enum { COMMAND_STACK = 16 << 20 };

static struct {
	int argc;
	char **argv;
	int status;
} command;

static void command_run(void *arg)
{
	(void)arg;
	command.status = dispatch(command.argc, command.argv);
}

int main(int argc, char **argv)
{
	command.argc = argc;
	command.argv = argv;
	void *stack = mmap(NULL, COMMAND_STACK, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
				   MAP_STACK,
			   -1, 0);
	if (stack == MAP_FAILED ||
	    ward__run_on_stack(stack, COMMAND_STACK, command_run, NULL) != 0)
		return dispatch(argc, argv);
	return command.status;
}
