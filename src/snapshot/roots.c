/*
 * roots.c — who holds a block the scan found still reachable: the path
 * from a root to it, each step named, as a line of text:
 *
 *   ward: who holds heap block 0x5581c0 (100 bytes, acquired at
 *   why_target+0xe (prog)): global why_cache+0x8 (prog) → block 0x5581a0
 *   (64 bytes, acquired at why_middle+0xe (prog)) → +0x10 → the block
 *
 * "→ +0x10 →" says where in the block before the arrow the pointer to the
 * one after it lies. Roots are named by kind: a global (its symbol), a
 * thread's stack (the function whose frame holds the word), a register, a
 * thread's TLS, memory the program mapped itself, a block a forked child
 * inherited, a block allocated before ward started, the dynamic loader's
 * own bookkeeping.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/grow.h"
#include "core/guard.h"
#include "core/stacks.h"
#include "scan/scan.h"
#include "snapshot/profile.h"
#include "snapshot/symbolize.h"
#include "ward/leakcheck.h"

/* "heap block", or the kind's name ("ref"), of what a site acquired. */
static const char *what(uint32_t site)
{
	const struct ward__site_rec *r = ward__site_get(site);
	if (!r || r->kind == WARD_KIND_HEAP)
		return "heap block";
	const char *name = ward_kind_name((int)r->kind);
	return name ? name : "block";
}

static void site_text(uint32_t site, char *out, size_t len)
{
	const struct ward__site_rec *r = ward__site_get(site);
	if (r && r->depth > 0)
		ward__describe_pc(r->pcs[0], out, len);
	else
		snprintf(out, len, "?");
}

static void root_text(const struct ward__scan_path *p, char *out, size_t len)
{
	char name[200], fn[300];
	uint64_t off;
	const char *object = NULL;
	char who[48];

	if (p->tid)
		snprintf(who, sizeof(who), "thread %d", p->tid);
	else
		snprintf(who, sizeof(who), "the exiting thread");
	switch (p->root) {
	case WARD__ROOT_GLOBAL:
	case WARD__ROOT_LIBC:
		if (ward__symbolize_data(p->word, name, sizeof(name), &off,
					 &object) == 0) {
			const char *base = strrchr(object, '/');
			base = base ? base + 1 : object;
			if (off)
				snprintf(out, len, "global %s+0x%" PRIx64 " (%s)",
					 name, off, base);
			else
				snprintf(out, len, "global %s (%s)", name, base);
		} else {
			snprintf(out, len, "global data at 0x%" PRIxPTR, p->word);
		}
		break;
	case WARD__ROOT_STACK:
		if (p->pc) {
			ward__describe_pc(p->pc, fn, sizeof(fn));
			snprintf(out, len, "stack of %s, in %s", who, fn);
		} else {
			snprintf(out, len, "stack of %s", who);
		}
		break;
	case WARD__ROOT_REGISTER:
		snprintf(out, len, "register %s of %s", p->reg, who);
		break;
	case WARD__ROOT_TLS:
		if (p->tp == (uintptr_t)pthread_self())
			snprintf(out, len, "thread-local storage of the "
					   "exiting thread");
		else if (p->tp == ward__main_thread)
			snprintf(out, len, "thread-local storage of the main "
					   "thread");
		else
			snprintf(out, len, "thread-local storage of the thread "
					   "at 0x%" PRIxPTR, p->tp);
		break;
	case WARD__ROOT_MAPPED:
		snprintf(out, len, "memory the program mapped itself, at 0x%"
				   PRIxPTR, p->word);
		break;
	case WARD__ROOT_INHERITED:
		snprintf(out, len, "a block inherited from the parent process, "
				   "at 0x%" PRIxPTR, p->word);
		break;
	case WARD__ROOT_IGNORED:
		snprintf(out, len, "a block the program said is no leak "
				   "(__lsan_ignore_object(), or allocated under "
				   "__lsan_disable()), at 0x%" PRIxPTR, p->word);
		break;
	case WARD__ROOT_EARLY:
		snprintf(out, len, "a block allocated before ward started (a "
				   "library's constructor's), at 0x%" PRIxPTR,
			 p->word);
		break;
	default:
		snprintf(out, len, "the dynamic loader's own bookkeeping");
		break;
	}
}

int ward__write_paths(const struct ward__scan_path *paths, size_t n,
		      ward_write_fn write, void *opaque)
{
	struct ward__buf b = { 0 };
	char text[600], site[400];

	for (size_t i = 0; i < n; i++) {
		const struct ward__scan_path *p = &paths[i];
		if (p->n < 1)
			continue;
		site_text(p->hop[p->n - 1].site, site, sizeof(site));
		int k = snprintf(text, sizeof(text),
				 "ward: who holds %s 0x%" PRIxPTR
				 " (%" PRIu64 " bytes, acquired at %s): ",
				 what(p->hop[p->n - 1].site),
				 p->hop[p->n - 1].start, p->hop[p->n - 1].size,
				 site);
		ward__buf_add(&b, text, (size_t)k);
		root_text(p, text, sizeof(text));
		ward__buf_add(&b, text, strlen(text));
		if (p->cut)
			ward__buf_add(&b, " → …", strlen(" → …"));
		for (int h = 0; h + 1 < p->n; h++) {
			site_text(p->hop[h].site, site, sizeof(site));
			const char *w = what(p->hop[h].site);
			k = snprintf(text, sizeof(text),
				     " → %s 0x%" PRIxPTR " (%" PRIu64
				     " bytes, acquired at %s) → +0x%" PRIxPTR,
				     strcmp(w, "heap block") == 0 ? "block" : w,
				     p->hop[h].start, p->hop[h].size, site,
				     p->hop[h].off);
			ward__buf_add(&b, text, (size_t)k);
		}
		ward__buf_add(&b, " → the block\n", strlen(" → the block\n"));
	}
	if (b.oom) {
		free(b.p);
		return -ENOMEM;
	}
	if (b.len)
		write(opaque, b.p, b.len);
	free(b.p);
	return 0;
}

/* ---- The library's call --------------------------------------------------- */

bool ward__site_matches(uint32_t site, void *pattern)
{
	const struct ward__site_rec *r = ward__site_get(site);
	return r && ward__suppressed(pattern, NULL, r->pcs, (int)r->depth);
}

int ward__site_pattern(const char *pattern, ward_suppressions_t **out,
		       char *err, size_t errlen)
{
	char text[1024];
	snprintf(text, sizeof(text), "leak:%s", pattern);
	return ward_suppressions_parse(text, false, out, err, errlen);
}

/*
 * The library's scans run on a stack with room for the scan's frames and
 * for naming what it found (ward__deep); self, the calling thread's
 * stack and registers, is taken on that thread's own stack first.
 */
typedef int scan_body(const struct ward__scan_self *self, const char *pattern,
		      ward_write_fn write, void *opaque);

struct scan_call {
	scan_body *body;
	const struct ward__scan_self *self;
	const char *pattern;
	ward_write_fn write;
	void *opaque;
	int rc;
};

static void scan_call_deep(void *arg)
{
	struct scan_call *c = arg;
	c->rc = c->body(c->self, c->pattern, c->write, c->opaque);
}

static int with_room(scan_body *body, const struct ward__scan_self *self,
		     const char *pattern, ward_write_fn write, void *opaque)
{
	struct scan_call c = { body, self, pattern, write, opaque, 0 };
	ward__deep(scan_call_deep, &c);
	return c.rc;
}

static int who_holds_here(const struct ward__scan_self *self,
			  const char *pattern, ward_write_fn write,
			  void *opaque)
{
	ward_suppressions_t *want;
	if (ward__site_pattern(pattern, &want, NULL, 0) < 0)
		return -EINVAL;
	int refs = ward_kind_register("ref");
	struct ward__scan_result r;
	ward__guard_raise();
	int rc = ward__scan_heap_why(self, refs >= 0 ? refs : -1,
				     ward__site_matches, want, &r);
	ward__guard_lower();
	ward_suppressions_free(want);
	if (rc == -ENOTSUP)
		return rc;
	if (rc < 0)
		return -EAGAIN;
	rc = ward__write_paths(r.paths, r.npaths, write, opaque);
	if (rc == 0)
		rc = r.npaths > INT32_MAX ? INT32_MAX : (int)r.npaths;
	ward__scan_free(&r);
	return rc;
}

WARD_API __attribute__((noinline)) int
ward_who_holds(const char *pattern, ward_write_fn write, void *opaque)
{
	struct ward__scan_self self;
	WARD__SCAN_SELF(&self);
	if (!pattern || !*pattern || !write)
		return -EINVAL;
	return with_room(who_holds_here, &self, pattern, write, opaque);
}

/* ---- Cycles of refs ------------------------------------------------------ */

struct cyc {
	size_t n;              /* lost refs */
	const uintptr_t *lo;   /* their addresses, sorted */
	const uint64_t *size;
	const uint32_t *site;
	/* edges: out[i] .. out[i+1] in to[] (CSR), with the offsets */
	size_t *first, *to;
	uintptr_t *off;
	/* Tarjan, iterative */
	size_t *index, *low, *stack, *call, *edge;
	bool *on;
	bool *in, *seen; /* write_cycle()'s, cleared after each cycle */
};

static size_t lost_at(const struct cyc *c, uintptr_t v)
{
	size_t a = 0, b = c->n;
	while (a < b) {
		size_t m = (a + b) / 2;
		if (c->lo[m] <= v)
			a = m + 1;
		else
			b = m;
	}
	if (a == 0)
		return SIZE_MAX;
	size_t i = a - 1;
	return v < c->lo[i] + (c->size[i] ? c->size[i] : 1) ? i : SIZE_MAX;
}

/* One cycle of component `members` (k of them): follow an edge inside it
 * from the first until it returns, and write the line. */
static void write_cycle(const struct cyc *c, const size_t *members, size_t k,
			struct ward__buf *b)
{
	char text[700], site[400];
	int len = snprintf(text, sizeof(text),
			   "ward: a cycle of %zu refs that nothing reaches, so "
			   "none is ever finalized:", k);
	ward__buf_add(b, text, (size_t)len);
	bool *in = c->in, *seen = c->seen;
	for (size_t i = 0; i < k; i++)
		in[members[i]] = true;
	size_t at = members[0];
	for (size_t steps = 0; steps <= k; steps++) {
		site_text(c->site[at], site, sizeof(site));
		len = snprintf(text, sizeof(text),
			       " ref 0x%" PRIxPTR " (%" PRIu64
			       " bytes, acquired at %s)",
			       c->lo[at], c->size[at], site);
		ward__buf_add(b, text, (size_t)len);
		seen[at] = true;
		/* On to a member not seen yet; back to the first once every
		 * one is; else any. */
		size_t next = SIZE_MAX;
		uintptr_t off = 0;
		int best = 0;
		for (size_t e = c->first[at]; e < c->first[at + 1]; e++) {
			size_t w = c->to[e];
			if (!in[w])
				continue;
			int rank = w == members[0] && steps + 1 >= k ? 3
				   : !seen[w]			    ? 2
								    : 1;
			if (rank > best) {
				best = rank;
				next = w;
				off = c->off[e];
			}
		}
		if (next == SIZE_MAX)
			break;
		if (seen[next]) {
			len = snprintf(text, sizeof(text),
				       " → +0x%" PRIxPTR " → back to ref 0x%" PRIxPTR,
				       off, c->lo[next]);
			ward__buf_add(b, text, (size_t)len);
			break;
		}
		len = snprintf(text, sizeof(text), " → +0x%" PRIxPTR " →", off);
		ward__buf_add(b, text, (size_t)len);
		at = next;
	}
	ward__buf_add(b, "\n", 1);
	for (size_t i = 0; i < k; i++)
		in[members[i]] = seen[members[i]] = false;
}

/* Strongly connected components of the lost refs' graph (Tarjan's, with
 * an explicit stack); each of two or more members, or one pointing to
 * itself, is a cycle. Returns how many. */
static int find_cycles(struct cyc *c, struct ward__buf *b)
{
	size_t next_index = 1, sp = 0, depth = 0;
	int cycles = 0;
	for (size_t root = 0; root < c->n; root++) {
		if (c->index[root])
			continue;
		c->call[depth] = root;
		c->edge[depth++] = c->first[root];
		c->index[root] = c->low[root] = next_index++;
		c->stack[sp++] = root;
		c->on[root] = true;
		while (depth) {
			size_t v = c->call[depth - 1];
			if (c->edge[depth - 1] < c->first[v + 1]) {
				size_t w = c->to[c->edge[depth - 1]++];
				if (!c->index[w]) {
					c->index[w] = c->low[w] = next_index++;
					c->stack[sp++] = w;
					c->on[w] = true;
					c->call[depth] = w;
					c->edge[depth++] = c->first[w];
				} else if (c->on[w] && c->index[w] < c->low[v]) {
					c->low[v] = c->index[w];
				}
				continue;
			}
			depth--;
			if (depth && c->low[v] < c->low[c->call[depth - 1]])
				c->low[c->call[depth - 1]] = c->low[v];
			if (c->low[v] != c->index[v])
				continue;
			size_t top = sp;
			do
				c->on[c->stack[--sp]] = false;
			while (c->stack[sp] != v);
			size_t k = top - sp;
			bool self = false;
			for (size_t e = c->first[v]; e < c->first[v + 1]; e++)
				self |= c->to[e] == v;
			if (k >= 2 || self) {
				write_cycle(c, &c->stack[sp], k, b);
				cycles++;
			}
		}
	}
	return cycles;
}

/* The refs nothing reaches, in address order (as the scan's), into c's
 * arrays, which the caller frees. 0 or -ENOMEM. */
static int collect_lost(struct cyc *c, uintptr_t **lo, uint64_t **size,
			uint32_t **site, const struct ward__scan_result *r,
			int refs)
{
	size_t cap = r->blocks ? r->blocks : 1;
	*lo = malloc(cap * sizeof(**lo));
	*size = malloc(cap * sizeof(**size));
	*site = malloc(cap * sizeof(**site));
	if (!*lo || !*size || !*site)
		return -ENOMEM;
	for (size_t i = 0; i < r->blocks; i++) {
		const struct ward__site_rec *s = ward__site_get(r->site[i]);
		if (!s || (int)s->kind != refs ||
		    r->state[i] == WARD_LEAK_REACHABLE)
			continue;
		(*lo)[c->n] = r->handle[i];
		(*size)[c->n] = r->size[i];
		(*site)[c->n++] = r->site[i];
	}
	c->lo = *lo;
	c->size = *size;
	c->site = *site;
	return 0;
}

/* Edges: every word of a lost ref that points into another. 0 or
 * -ENOMEM. */
static int find_edges(struct cyc *c)
{
	size_t nedges = 0, ecap = 64;
	c->first = calloc(c->n + 1, sizeof(*c->first));
	c->to = malloc(ecap * sizeof(*c->to));
	c->off = malloc(ecap * sizeof(*c->off));
	if (!c->first || !c->to || !c->off)
		return -ENOMEM;
	for (size_t i = 0; i < c->n; i++) {
		c->first[i] = nedges;
		const uintptr_t *w = (const uintptr_t *)c->lo[i];
		for (size_t k = 0; k < c->size[i] / sizeof(*w); k++) {
			size_t j = lost_at(c, w[k]);
			if (j == SIZE_MAX)
				continue;
			if (nedges == ecap) {
				ecap *= 2;
				size_t *nt = realloc(c->to, ecap * sizeof(*nt));
				if (nt)
					c->to = nt;
				uintptr_t *no = realloc(c->off,
							ecap * sizeof(*no));
				if (no)
					c->off = no;
				if (!nt || !no)
					return -ENOMEM;
			}
			c->to[nedges] = j;
			c->off[nedges++] = k * sizeof(*w);
		}
	}
	c->first[c->n] = nedges;
	return 0;
}

/* The search's arrays, one slot a lost ref. 0 or -ENOMEM. */
static int search_arrays(struct cyc *c)
{
	c->index = calloc(c->n + 1, sizeof(*c->index));
	c->low = calloc(c->n + 1, sizeof(*c->low));
	c->stack = calloc(c->n + 1, sizeof(*c->stack));
	c->call = calloc(c->n + 1, sizeof(*c->call));
	c->edge = calloc(c->n + 1, sizeof(*c->edge));
	c->on = calloc(c->n + 1, sizeof(*c->on));
	c->in = calloc(c->n + 1, sizeof(*c->in));
	c->seen = calloc(c->n + 1, sizeof(*c->seen));
	return c->index && c->low && c->stack && c->call && c->edge &&
			       c->on && c->in && c->seen
		       ? 0
		       : -ENOMEM;
}

static void cyc_free(struct cyc *c)
{
	free(c->first);
	free(c->to);
	free(c->off);
	free(c->index);
	free(c->low);
	free(c->stack);
	free(c->call);
	free(c->edge);
	free(c->on);
	free(c->in);
	free(c->seen);
}

static int ref_cycles_here(const struct ward__scan_self *self,
			   const char *pattern, ward_write_fn write,
			   void *opaque)
{
	(void)pattern;
	int refs = ward_kind_register("ref");
	if (refs < 0)
		return refs;
	struct ward__scan_result r;
	ward__guard_raise();
	int rc = ward__scan_heap_why(self, refs, NULL, NULL, &r);
	if (rc < 0) {
		ward__guard_lower();
		return rc == -ENOTSUP ? rc : -EAGAIN;
	}
	struct cyc c = { 0 };
	uintptr_t *lo = NULL;
	uint64_t *size = NULL;
	uint32_t *site = NULL;
	rc = collect_lost(&c, &lo, &size, &site, &r, refs);
	if (rc == 0)
		rc = find_edges(&c);
	if (rc == 0)
		rc = search_arrays(&c);
	if (rc == 0) {
		struct ward__buf b = { 0 };
		rc = find_cycles(&c, &b);
		if (b.oom)
			rc = -ENOMEM;
		else if (b.len)
			write(opaque, b.p, b.len);
		free(b.p);
	}
	free(lo);
	free(size);
	free(site);
	cyc_free(&c);
	ward__scan_free(&r);
	ward__guard_lower();
	return rc;
}

WARD_API __attribute__((noinline)) int ward_ref_cycles(ward_write_fn write,
							void *opaque)
{
	struct ward__scan_self self;
	WARD__SCAN_SELF(&self);
	if (!write)
		return -EINVAL;
	return with_room(ref_cycles_here, &self, NULL, write, opaque);
}
