/*
 * scan.c — which live heap blocks a program can still reach, at exit, in
 * LeakSanitizer's model.
 *
 * Roots are the writable segments of every loaded object (globals, .bss)
 * except ward's own, and the calling thread's stack from its current frame
 * up. Every aligned word of a root that points into a live block (at its
 * start or inside it) marks that block reachable; marked blocks are scanned
 * the same way, transitively. What is left is lost: "definitely" when no
 * other lost block points to it, "indirectly" when one does (it would be
 * freed by freeing its owner).
 *
 * Limits: other threads' stacks and registers are not scanned (at exit the
 * other threads are usually gone; a block held only by a running thread's
 * stack shows as lost), and neither is thread-local storage.
 */
#include <link.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal/registry.h"
#include "internal/scan.h"
#include "ward/track.h"

struct block {
	uintptr_t start, end;
	uint32_t site;
	uint8_t state; /* 0 unreached, 1 reachable, 2 pointed to by lost */
};

struct scan {
	struct block *b;
	size_t n, cap;
	size_t *work;
	size_t nwork;
	uintptr_t skip_lo, skip_hi; /* ward's own object */
	bool oom;
};

static void collect(uintptr_t h, uint32_t site, uint64_t size, void *opaque)
{
	struct scan *s = opaque;
	if (s->n == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 1024;
		struct block *nb = realloc(s->b, ncap * sizeof(*nb));
		if (!nb) {
			s->oom = true;
			return;
		}
		s->b = nb;
		s->cap = ncap;
	}
	s->b[s->n++] = (struct block){ h, h + (size ? size : 1), site, 0 };
}

static int by_start(const void *a, const void *b)
{
	const struct block *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

static struct block *find(struct scan *s, uintptr_t p)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (s->b[mid].start <= p)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	struct block *b = &s->b[lo - 1];
	return p < b->end ? b : NULL;
}

/* Mark what [lo, hi) points to with `state`; reachable blocks are queued. */
static void scan_range(struct scan *s, uintptr_t lo, uintptr_t hi,
		       uint8_t state)
{
	lo = (lo + 7) & ~(uintptr_t)7;
	for (uintptr_t a = lo; a + 8 <= hi; a += 8) {
		uintptr_t v = *(const uintptr_t *)a;
		if (v < s->b[0].start || v >= s->b[s->n - 1].end)
			continue;
		struct block *b = find(s, v);
		if (!b || b->state == 1 || (b->state == 2 && state == 2))
			continue;
		if (state == 2 && b->state == 0 && b->start == lo)
			continue;
		b->state = state;
		if (state == 1)
			s->work[s->nwork++] = (size_t)(b - s->b);
	}
}

static int scan_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct scan *s = arg;
	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W))
			continue;
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		uintptr_t hi = lo + ph->p_memsz;
		if (lo >= s->skip_lo && hi <= s->skip_hi)
			continue; /* ward's own tables name every block */
		scan_range(s, lo, hi, 1);
	}
	return 0;
}

static int find_self(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct scan *s = arg;
	uintptr_t me = (uintptr_t)&find_self;
	(void)size;
	uintptr_t lo = UINTPTR_MAX, hi = 0;
	bool mine = false;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD)
			continue;
		uintptr_t a = info->dlpi_addr + ph->p_vaddr;
		if (a < lo)
			lo = a;
		if (a + ph->p_memsz > hi)
			hi = a + ph->p_memsz;
		if (me >= a && me < a + ph->p_memsz)
			mine = true;
	}
	if (mine) {
		s->skip_lo = lo;
		s->skip_hi = hi;
	}
	return mine;
}

int ward__scan_heap(uintptr_t stack_hi, struct ward__scan_result *out)
{
	struct scan s;
	memset(&s, 0, sizeof(s));
	memset(out, 0, sizeof(*out));
	ward__registry_each(WARD_KIND_HEAP, collect, &s);
	if (s.oom) {
		free(s.b);
		return -1;
	}
	if (s.n == 0) {
		free(s.b);
		return 0;
	}
	qsort(s.b, s.n, sizeof(*s.b), by_start);
	s.work = malloc(s.n * sizeof(*s.work));
	if (!s.work) {
		free(s.b);
		return -1;
	}
	/* In the static library the "object" is the program itself: then its
	 * globals are roots and ward's tables, on the heap, are not scanned. */
	dl_iterate_phdr(find_self, &s);
	if (s.skip_lo == 0 || (s.skip_hi - s.skip_lo) > ((uintptr_t)1 << 30))
		s.skip_lo = s.skip_hi = 0;
	dl_iterate_phdr(scan_object, &s);
	uintptr_t here = (uintptr_t)__builtin_frame_address(0);
	if (stack_hi > here)
		scan_range(&s, here, stack_hi, 1);
	while (s.nwork > 0) {
		struct block *b = &s.b[s.work[--s.nwork]];
		scan_range(&s, b->start, b->end, 1);
	}
	/* Lost blocks pointing to other lost blocks make those indirect. */
	for (size_t i = 0; i < s.n; i++)
		if (s.b[i].state != 1)
			scan_range(&s, s.b[i].start, s.b[i].end, 2);
	out->blocks = s.n;
	out->site = malloc(s.n * sizeof(*out->site));
	out->state = malloc(s.n * sizeof(*out->state));
	out->size = malloc(s.n * sizeof(*out->size));
	if (!out->site || !out->state || !out->size) {
		ward__scan_free(out);
		free(s.b);
		free(s.work);
		return -1;
	}
	for (size_t i = 0; i < s.n; i++) {
		out->site[i] = s.b[i].site;
		out->size[i] = s.b[i].end - s.b[i].start;
		out->state[i] = s.b[i].state == 1   ? WARD_LEAK_REACHABLE
				: s.b[i].state == 2 ? WARD_LEAK_INDIRECT
						    : WARD_LEAK_DEFINITE;
	}
	free(s.b);
	free(s.work);
	return 0;
}

void ward__scan_free(struct ward__scan_result *r)
{
	free(r->site);
	free(r->state);
	free(r->size);
	memset(r, 0, sizeof(*r));
}
