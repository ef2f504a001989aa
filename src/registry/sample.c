/*
 * sample.c — heap sampling by bytes, as jemalloc and Go do it: each thread
 * counts down the bytes it allocates; when the count crosses zero the
 * block is recorded with its stack and the next distance is drawn from an
 * exponential distribution with the configured mean, so a block of s bytes
 * is recorded with probability 1 - exp(-s / mean). Each thread's countdown
 * starts at such a distance too. A sampled block counts as many blocks as
 * it stands for (ward__heap_weight()), so snapshots need no scaling.
 *
 * free() must tell sampled blocks from the rest without a table lookup per
 * call: a two-level table counts the sampled blocks live on each 4 KiB page,
 * and only frees on pages with a count look in the registry.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/map.h"
#include "registry/registry.h"
#include "registry/sample.h"
#include "ward/track.h"

_Atomic uint64_t ward__sample_rate;


__thread int64_t ward__countdown __attribute__((tls_model("initial-exec")));
static __thread uint64_t rng;
static __thread bool started;

static int64_t draw_distance(void)
{
	if (rng == 0)
		rng = (uint64_t)(uintptr_t)&rng ^ 0x9e3779b97f4a7c15ull ^
		      (uint64_t)getpid() << 32;
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	double u = (double)(rng >> 11) * (1.0 / 9007199254740992.0);
	double d = -ward__ln(1.0 - u) * (double)ward__rate();
	return d < 1 ? 1 : (int64_t)d;
}

/*
 * How many sampled blocks each 4 KiB page holds: 2^20 leaves of 2^15
 * one-byte counters, made on first use. A free on a page whose count is
 * zero skips the registry. A count that reaches 255 stays there (its page
 * then always looks). The directory of leaves (8 MiB of address space) is
 * made when sampling starts: a process that records every block does not
 * carry it, and its address space is the program's (RLIMIT_AS).
 */
enum { LEAF_BITS = WARD__LEAF_BITS, DIR_BYTES = sizeof(ward__page_leaf) << 20 };
_Atomic(ward__page_leaf *) ward__page_dir;

static _Atomic uint8_t *page_counter(ward__page_leaf *dir, uintptr_t p,
				     bool create)
{
	if (!dir)
		return NULL;
	ward__page_leaf *at = ward__page_leaf_of(dir, p);
	_Atomic uint8_t *leaf = atomic_load_explicit(at, memory_order_acquire);
	if (!leaf && create) {
		void *m = ward__map(1 << LEAF_BITS);
		if (!m)
			return NULL;
		_Atomic uint8_t *expected = NULL;
		if (atomic_compare_exchange_strong(at, &expected,
						   (_Atomic uint8_t *)m))
			leaf = m;
		else {
			ward__unmap(m, 1 << LEAF_BITS);
			leaf = expected;
		}
	}
	return leaf ? &leaf[ward__page_in_leaf(p)] : NULL;
}

static void count_sampled(uintptr_t p, int delta)
{
	_Atomic uint8_t *c = page_counter(
		atomic_load_explicit(&ward__page_dir, memory_order_acquire), p,
		delta > 0);
	if (!c)
		return;
	uint8_t v = atomic_load_explicit(c, memory_order_relaxed);
	while (v != 255 && !(delta < 0 && v == 0) &&
	       !atomic_compare_exchange_weak_explicit(
		       c, &v, (uint8_t)(v + delta), memory_order_release,
		       memory_order_relaxed))
		;
}

static void look(ward__page_leaf *dir, uintptr_t lo, uintptr_t hi,
		 _Atomic uint8_t (*leaves)[1 << WARD__LEAF_BITS])
{
	for (uintptr_t p = lo & ~(uintptr_t)4095; p < hi; p += 4096) {
		ward__page_leaf *at = ward__page_leaf_of(dir, p);
		_Atomic uint8_t *none = NULL;
		if (!atomic_load_explicit(at, memory_order_acquire) &&
		    atomic_compare_exchange_strong(at, &none, *leaves))
			leaves++;
		atomic_store_explicit(page_counter(dir, p, false), 255,
				      memory_order_relaxed);
	}
}

/* Ranges that always look, kept until the directory is made (the tracer
 * names its boot arena before it knows whether it samples). */
enum { KEPT_RANGES = 4 };
static struct {
	uintptr_t lo, hi;
	_Atomic uint8_t (*leaves)[1 << WARD__LEAF_BITS];
} kept[KEPT_RANGES];
static int nkept;

void ward__sample_pages_look(uintptr_t lo, uintptr_t hi,
			     _Atomic uint8_t (*leaves)[1 << WARD__LEAF_BITS])
{
	ward__page_leaf *dir =
		atomic_load_explicit(&ward__page_dir, memory_order_acquire);
	if (!dir && nkept < KEPT_RANGES) {
		kept[nkept].lo = lo;
		kept[nkept].hi = hi;
		kept[nkept++].leaves = leaves;
		return;
	}
	if (dir || ward__sample_pages_ready())
		look(atomic_load_explicit(&ward__page_dir,
					  memory_order_acquire),
		     lo, hi, leaves);
}

bool ward__sample_pages_ready(void)
{
	if (atomic_load_explicit(&ward__page_dir, memory_order_acquire))
		return true;
	ward__page_leaf *dir = ward__map_reserve(DIR_BYTES);
	if (!dir)
		return false;
	/* Marked before it is seen: no free finds those pages clean. */
	for (int i = 0; i < nkept; i++)
		look(dir, kept[i].lo, kept[i].hi, kept[i].leaves);
	ward__page_leaf *none = NULL;
	if (!atomic_compare_exchange_strong(&ward__page_dir, &none, dir))
		ward__unmap(dir, DIR_BYTES); /* another thread made it */
	return true;
}

bool ward__sample_due(void)
{
	if (__builtin_expect(started, 1))
		return true;
	started = true;
	ward__countdown += draw_distance();
	return ward__countdown <= 0;
}

void ward__sample_take(uintptr_t p)
{
	ward__countdown = draw_distance();
	count_sampled(p, +1);
}

void ward__sample_drop(uintptr_t p)
{
	count_sampled(p, -1);
}

WARD_API uint64_t ward_track_set_sampling(uint64_t mean_bytes)
{
	if (mean_bytes > WARD_SAMPLE_MOST)
		mean_bytes = WARD_SAMPLE_MOST;
	if (mean_bytes && !ward__sample_pages_ready())
		return ward__rate(); /* no room to tell sampled pages */
	return atomic_exchange_explicit(&ward__sample_rate, mean_bytes,
					memory_order_relaxed);
}
