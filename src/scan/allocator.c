/*
 * allocator.c — the memory the allocator behind ward's interposers mapped
 * for itself (scan.h).
 *
 * An allocator preloaded after ward (jemalloc, mimalloc) maps the memory
 * for its blocks and for its bookkeeping with mmap(). Its records point
 * at blocks — jemalloc's record of each slab at the slab's first block —
 * and read as roots they hold lost blocks as reachable. The tracer tells
 * this file of every mapping the allocator makes for itself, and of every
 * range unmapped (or mapped anew by the program) since; the scan reads
 * the blocks in such a mapping as blocks and the rest (the allocator's
 * records and free space) as no root, as glibc's heaps are not.
 *
 * The ranges are few (an allocator maps in large pieces) and kept in a
 * small array under a lock. Whatever cannot be kept exactly (the array
 * full, a call made while the same thread was inside this file from a
 * signal handler, a fork while another thread held the lock) makes the
 * set unreliable, and the scan then leaves nothing out: a lost block read
 * as reachable, never the reverse.
 *
 * Under the same lock, the opposite: the memory the program took by
 * moving the break itself (sbrk, brk), which the scan reads as the
 * program's own though it lies in [heap] beside malloc's.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/spin.h"
#include "scan/scan.h"

enum { MAX_RANGES = 4096 };

static struct ward__range ranges[MAX_RANGES];
static _Atomic size_t nranges;
static ward__spin_t lock;
static _Atomic bool unreliable;
static __thread bool inside;

/* Enter the set: false (and the set unreliable) when this thread is in
 * it already, a signal handler having interrupted it there. */
static bool enter(void)
{
	if (inside) {
		atomic_store(&unreliable, true);
		return false;
	}
	inside = true;
	ward__spin_lock(&lock);
	return true;
}

static void leave(void)
{
	ward__spin_unlock(&lock);
	inside = false;
}

/* Take [lo, hi) out of every range (lock held). */
static void cut(uintptr_t lo, uintptr_t hi)
{
	for (size_t i = 0; i < nranges;) {
		struct ward__range *r = &ranges[i];
		if (r->hi <= lo || r->lo >= hi) {
			i++;
		} else if (r->lo < lo && r->hi > hi) { /* split in two */
			if (nranges == MAX_RANGES) {
				atomic_store(&unreliable, true);
				return;
			}
			ranges[nranges++] = (struct ward__range){ hi, r->hi };
			r->hi = lo;
			i++;
		} else if (r->lo < lo) {
			r->hi = lo;
			i++;
		} else if (r->hi > hi) {
			r->lo = hi;
			i++;
		} else {
			*r = ranges[--nranges];
		}
	}
}

void ward__scan_allocator_mapped(uintptr_t lo, uintptr_t hi)
{
	if (lo >= hi || !enter())
		return;
	cut(lo, hi);
	/* An allocator maps piece after piece, most often next to the
	 * last: the ranges it touches (kept ranges never touch each other)
	 * join it. */
	for (size_t i = 0; i < nranges;)
		if (ranges[i].hi == lo || ranges[i].lo == hi) {
			lo = ranges[i].lo < lo ? ranges[i].lo : lo;
			hi = ranges[i].hi > hi ? ranges[i].hi : hi;
			ranges[i] = ranges[--nranges];
		} else {
			i++;
		}
	if (nranges < MAX_RANGES)
		ranges[nranges++] = (struct ward__range){ lo, hi };
	else
		atomic_store(&unreliable, true);
	leave();
}

void ward__scan_unmapped(uintptr_t lo, uintptr_t hi)
{
	/* The common case, a program that never ran another allocator:
	 * nothing to look through, no lock. */
	if (lo >= hi || !atomic_load_explicit(&nranges,
					      memory_order_relaxed) ||
	    !enter())
		return;
	cut(lo, hi);
	leave();
}

void ward__scan_allocator_forked(void)
{
	/* Another thread may have held the lock at the fork: its copy
	 * stays held, and the set may be half changed. */
	if (atomic_load(&lock)) {
		atomic_store(&lock, 0);
		atomic_store(&unreliable, true);
	}
	inside = false;
}

bool ward__scan_allocator_any(void)
{
	return atomic_load(&nranges) > 0 && !atomic_load(&unreliable);
}

void ward__scan_allocator_distrust(void)
{
	atomic_store(&unreliable, true);
}

size_t ward__scan_allocator_ranges(struct ward__range *out, size_t max)
{
	/* The other threads are stopped: one may hold the lock. */
	if (atomic_load(&unreliable) || inside ||
	    atomic_exchange_explicit(&lock, 1, memory_order_acquire))
		return 0;
	size_t n = nranges <= max ? nranges : 0;
	for (size_t i = 0; i < n; i++)
		out[i] = ranges[i];
	ward__spin_unlock(&lock);
	return n;
}

/* What the program took of the break, a few ranges: one more past the
 * last widens the last, so that what the program took is always covered
 * (a lost block read as reachable at worst, never the reverse). A call
 * this thread makes from a signal handler while inside is not kept. */
static struct ward__range break_taken[WARD__BREAK_RANGES];
static size_t nbreak_taken;

void ward__scan_break_grew(uintptr_t lo, uintptr_t hi)
{
	if (lo >= hi || !enter())
		return;
	struct ward__range *last =
		nbreak_taken ? &break_taken[nbreak_taken - 1] : NULL;
	if (last && (lo == last->hi || nbreak_taken == WARD__BREAK_RANGES)) {
		last->lo = lo < last->lo ? lo : last->lo;
		last->hi = hi > last->hi ? hi : last->hi;
	} else {
		break_taken[nbreak_taken] = (struct ward__range){ lo, hi };
		nbreak_taken++;
	}
	leave();
}

size_t ward__scan_break_ranges(struct ward__range *out, size_t max)
{
	/* The other threads are stopped, and one may hold the lock: read
	 * without it. One stopped inside ward__scan_break_grew() leaves at
	 * worst the range it was adding unread. */
	size_t n = nbreak_taken <= max ? nbreak_taken : max;
	for (size_t i = 0; i < n; i++)
		out[i] = break_taken[i];
	return n;
}
