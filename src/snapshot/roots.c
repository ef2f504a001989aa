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
 * inherited, the dynamic loader's own bookkeeping.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/grow.h"
#include "core/guard.h"
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

static bool wanted(uint32_t site, void *arg)
{
	const struct ward__site_rec *r = ward__site_get(site);
	return r && ward__suppressed(arg, NULL, r->pcs, (int)r->depth);
}

WARD_API __attribute__((noinline)) int
ward_who_holds(const char *pattern, ward_write_fn write, void *opaque)
{
	struct ward__scan_self self;
	WARD__SCAN_SELF(&self);
	if (!pattern || !*pattern || !write)
		return -EINVAL;
	char text[1024], err[256];
	ward_suppressions_t *want;
	snprintf(text, sizeof(text), "leak:%s", pattern);
	if (ward_suppressions_parse(text, false, &want, err, sizeof(err)) < 0)
		return -EINVAL;
	int refs = ward_kind_register("ref");
	struct ward__scan_result r;
	ward__in_registry++;
	int rc = ward__scan_heap_why(&self, refs >= 0 ? refs : -1, wanted, want,
				     &r);
	ward__in_registry--;
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
