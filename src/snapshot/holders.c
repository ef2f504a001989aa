/*
 * holders.c — samples split by who holds their resources: the owners
 * (src/lifetime/owner.c) tell the registry what they hold, and a snapshot
 * moves each held record's count from its site's sample to a sample of
 * the same site labelled with the owner's path.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/grow.h"
#include "registry/registry.h"
#include "registry/sample.h"
#include "snapshot/profile.h"

struct held {
	uint32_t site, note;
	const char *label; /* the profile's copy */
	int64_t count, bytes; /* heap: weighted count, WARD__WEIGHT_ONE = 1 */
};

struct gather {
	struct ward_profile *p;
	const char *only; /* the label gathered, or NULL for all */
	struct held *v;
	size_t n, cap;
	int err;
};

static void gather_one(int kind, uintptr_t handle, const char *label,
		       uint32_t note, uint32_t site, void *opaque)
{
	struct gather *g = opaque;
	uint64_t size = 0;
	if (g->err || (g->only && strcmp(label, g->only) != 0))
		return;
	if (!site && !ward__registry_find(kind, handle, &site, &size))
		return; /* not recorded: sampling passed it over */
	const char *l = ward__profile_label(g->p, label);
	struct held *v = ward__grow(g->v, &g->cap, g->n + 1, sizeof(*v), 64);
	if (!l || !v) {
		g->err = -ENOMEM;
		return;
	}
	g->v = v;
	uint64_t count = WARD__WEIGHT_ONE, bytes = size;
	if (kind == WARD_KIND_HEAP)
		ward__heap_weight(size, ward__rate(), &count, &bytes);
	g->v[g->n++] = (struct held){ site, note, l, (int64_t)count,
				      (int64_t)bytes };
}

static int by_site_label(const void *a, const void *b)
{
	const struct held *x = a, *y = b;
	if (x->site != y->site)
		return x->site < y->site ? -1 : 1;
	if (x->label != y->label)
		return x->label < y->label ? -1 : 1;
	return x->note < y->note ? -1 : x->note > y->note;
}

static int split(struct ward_profile *p, const char *only)
{
	const struct ward__holders *h = ward__holders_get();
	if (!h)
		return 0;
	struct gather g = { p, only, NULL, 0, 0, 0 };
	h->each(gather_one, &g);
	if (g.err || !g.n) {
		free(g.v);
		return g.err;
	}
	qsort(g.v, g.n, sizeof(*g.v), by_site_label);
	/* Merge equal (site, label) pairs. */
	size_t m = 0;
	for (size_t i = 0; i < g.n; i++) {
		if (m && g.v[m - 1].site == g.v[i].site &&
		    g.v[m - 1].label == g.v[i].label &&
		    g.v[m - 1].note == g.v[i].note) {
			g.v[m - 1].count += g.v[i].count;
			g.v[m - 1].bytes += g.v[i].bytes;
		} else {
			g.v[m++] = g.v[i];
		}
	}
	size_t cap = p->count + m + 1;
	struct ward_sample *ns = calloc(cap, sizeof(*ns));
	uint32_t *nsites = calloc(cap, sizeof(*nsites));
	if (!ns || !nsites) {
		free(ns);
		free(nsites);
		free(g.v);
		return -ENOMEM;
	}
	size_t n = 0, k = 0;
	for (size_t i = 0; i < p->count; i++) {
		struct ward_sample base = p->samples[i];
		uint32_t site = p->sites[i];
		size_t first = n++;
		while (k < m && g.v[k].site < site)
			k++; /* a site the snapshot did not see: skipped */
		for (; k < m && g.v[k].site == site; k++) {
			int64_t count = base.kind == WARD_KIND_HEAP
						? (g.v[k].count + WARD__WEIGHT_ONE / 2) /
							  WARD__WEIGHT_ONE
						: g.v[k].count / WARD__WEIGHT_ONE;
			struct ward_sample s = base;
			s.owner = g.v[k].label;
			struct ward__site_rec *note =
				g.v[k].note ? ward__site_get(g.v[k].note) : NULL;
			if (note) {
				s.blocked_pcs = note->pcs;
				s.blocked_depth = (int)note->depth;
			}
			s.live_count = count;
			s.live_bytes = g.v[k].bytes;
			s.alloc_count = s.alloc_bytes = 0;
			base.live_count -= count;
			base.live_bytes -= g.v[k].bytes;
			ns[n] = s;
			nsites[n++] = site;
		}
		/* Counts read a moment apart may disagree by what was
		 * released meanwhile: never below zero. */
		if (base.live_count < 0)
			base.live_count = 0;
		if (base.live_bytes < 0)
			base.live_bytes = 0;
		if (n == first + 2 && base.live_count == 0 &&
		    base.live_bytes == 0) {
			/* One holder has all the site has live: the site's
			 * acquisitions go with it, no sample is left empty. */
			ns[first] = ns[first + 1];
			ns[first].alloc_count = base.alloc_count;
			ns[first].alloc_bytes = base.alloc_bytes;
			nsites[first] = site;
			n--;
			continue;
		}
		ns[first] = base;
		nsites[first] = site;
	}
	free(p->samples);
	free(p->sites);
	p->samples = ns;
	p->sites = nsites;
	p->count = n;
	free(g.v);
	return 0;
}

int ward__profile_split_by_holder(struct ward_profile *p)
{
	return split(p, NULL);
}

int ward__profile_split_by_label(struct ward_profile *p, const char *label)
{
	return split(p, label);
}

static int by_handle(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
	return x < y ? -1 : x > y;
}

struct want {
	int kind;
	struct ward__handles *h;
	int err;
};

static void want_one(int kind, uintptr_t handle, const char *label,
		     uint32_t note, uint32_t site, void *opaque)
{
	struct want *w = opaque;
	(void)label;
	(void)note;
	(void)site;
	if (kind != w->kind || w->err)
		return;
	uintptr_t *v = ward__grow(w->h->v, &w->h->cap, w->h->n + 1,
				  sizeof(*v), 64);
	if (!v) {
		w->err = -ENOMEM;
		return;
	}
	w->h->v = v;
	w->h->v[w->h->n++] = handle;
}

int ward__held_handles(int kind, struct ward__handles *out)
{
	memset(out, 0, sizeof(*out));
	const struct ward__holders *h = ward__holders_get();
	if (!h)
		return 0;
	struct want w = { kind, out, 0 };
	h->each(want_one, &w);
	if (w.err)
		return w.err;
	qsort(out->v, out->n, sizeof(*out->v), by_handle);
	return 0;
}

bool ward__handles_has(const struct ward__handles *h, uintptr_t handle)
{
	return h->n && bsearch(&handle, h->v, h->n, sizeof(*h->v), by_handle);
}
