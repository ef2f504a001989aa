/*
 * Heap sampling (sample.c), shared by the library-mode wrappers
 * (ward_malloc/ward_free) and the LD_PRELOAD interposers.
 */
#ifndef WARD_INTERNAL_SAMPLE_H
#define WARD_INTERNAL_SAMPLE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Mean bytes between heap samples, 0 when every block is recorded. Set
 * by one thread while others read it: read it through ward__rate().
 * Declared hidden, as it is defined: read where it lies, not through an
 * address loaded first (the interposers read it on every call). */
extern _Atomic uint64_t ward__sample_rate __attribute__((visibility("hidden")));

static inline uint64_t ward__rate(void)
{
	return atomic_load_explicit(&ward__sample_rate, memory_order_relaxed);
}

/*
 * The sampled mode's fast paths, inline in the interposers so that the
 * common malloc and free pay a few instructions and no call.
 */
extern __thread int64_t ward__countdown __attribute__((tls_model("initial-exec")));

extern __thread int ward__in_registry __attribute__((tls_model("initial-exec")));

/* True when this allocation of n bytes is not sampled (count it down).
 * ward's own allocations neither count nor get sampled: they would bias
 * the program's samples. */
static inline bool ward__alloc_unsampled(size_t n)
{
	return ward__rate() &&
	       (ward__in_registry || (ward__countdown -= (int64_t)n) > 0);
}

enum { WARD__LEAF_BITS = 15 };

/* The directory of leaves of page counts (sample.c): 2^20 entries, made
 * when sampling first starts, NULL until then. */
typedef _Atomic(_Atomic uint8_t *) ward__page_leaf;
extern _Atomic(ward__page_leaf *) ward__page_dir
	__attribute__((visibility("hidden")));

/* dir's entry for the leaf that counts p's page, and the page's place in
 * that leaf. */
static inline ward__page_leaf *ward__page_leaf_of(ward__page_leaf *dir,
						  uintptr_t p)
{
	return &dir[(p >> 12 >> WARD__LEAF_BITS) & ((1 << 20) - 1)];
}

static inline size_t ward__page_in_leaf(uintptr_t p)
{
	return (size_t)(p >> 12) & ((1 << WARD__LEAF_BITS) - 1);
}

/* Whether the page of p holds a live sampled block; true (look) before
 * the directory is made. */
static inline bool ward__page_has_sampled(uintptr_t p)
{
	ward__page_leaf *dir =
		atomic_load_explicit(&ward__page_dir, memory_order_acquire);
	if (__builtin_expect(!dir, 0))
		return true;
	_Atomic uint8_t *leaf = atomic_load_explicit(ward__page_leaf_of(dir, p),
						     memory_order_acquire);
	return leaf && atomic_load_explicit(&leaf[ward__page_in_leaf(p)],
					    memory_order_relaxed) != 0;
}

/* Make the directory, before sampling starts; false when the system
 * refuses its address space (8 MiB, touched where used). */
bool ward__sample_pages_ready(void);

/*
 * The pages from lo to hi always look (their counts stay at 255): the
 * arenas whose blocks no allocator may be given, so that free() finds
 * them on its slow path. A region of pages with no counters yet takes the
 * next of leaves, which must hold one for every 128 MiB region the range
 * meets (two for a range under 128 MiB); called before sampling starts.
 * Before the directory is made, the range is kept and marked when it is.
 */
void ward__sample_pages_look(uintptr_t lo, uintptr_t hi,
			     _Atomic uint8_t (*leaves)[1 << WARD__LEAF_BITS]);

/* True when freeing p needs no bookkeeping (sampled mode, page clean). */
static inline bool ward__free_unsampled(void *p)
{
	return ward__rate() && !ward__page_has_sampled((uintptr_t)p);
}


/*
 * The natural logarithm and exponential the sampler needs, without libm
 * (one library less for the preload tracer to load into every process):
 * range reduction by powers of two, then series that converge to double
 * precision on the reduced range.
 */
static inline double ward__ln(double x)
{
	union { double d; uint64_t u; } v = { x };
	if (!(x > 0))
		return -1.0 / 0.0;
	int e = (int)((v.u >> 52) & 0x7ff) - 1023;
	if (e == -1023) { /* subnormal: scale up first */
		v.d = x * 18014398509481984.0; /* 2^54 */
		e = (int)((v.u >> 52) & 0x7ff) - 1023 - 54;
	}
	v.u = (v.u & 0x000fffffffffffffull) | 0x3ff0000000000000ull;
	double m = v.d; /* [1, 2) */
	if (m > 1.4142135623730951) {
		m *= 0.5;
		e++;
	}
	/* ln m = 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.172 */
	double s = (m - 1) / (m + 1), s2 = s * s, term = s, sum = 0;
	for (int k = 1; k <= 23; k += 2) {
		sum += term / k;
		term *= s2;
	}
	return (double)e * 0.6931471805599453 + 2 * sum;
}

static inline double ward__exp(double x)
{
	if (x < -745)
		return 0;
	if (x > 709)
		return 1.0 / 0.0;
	double kf = x * 1.4426950408889634; /* x / ln 2, rounded */
	int k = (int)(kf < 0 ? kf - 0.5 : kf + 0.5);
	/* ln 2 in two parts, so k * ln2_hi is exact (Cody and Waite) */
	double r = (x - k * 6.93147180369123816490e-01) -
		   k * 1.90821492927058770002e-10; /* |r| <= 0.35 */
	double term = 1, sum = 1;
	for (int n = 1; n <= 17; n++) {
		term *= r / n;
		sum += term;
	}
	/* sum * 2^k, in two steps so that 2^k stays a normal double */
	int k1 = k / 2, k2 = k - k1;
	union { double d; uint64_t u; } a, b;
	a.u = (uint64_t)(k1 + 1023) << 52;
	b.u = (uint64_t)(k2 + 1023) << 52;
	return sum * a.d * b.d;
}

/*
 * The countdown crossed zero: whether this block is a sample. A thread's
 * first crossing is where its countdown starts, at a random distance (as
 * jemalloc starts each thread's): were it zero, the first block of every
 * thread would be sampled, and 200 threads holding 32 bytes each would be
 * estimated at 200 times the mean distance.
 */
bool ward__sample_due(void);

/* The countdown crossed zero at block p, a sample: draw the next distance
 * and count p's page as holding a sampled block. */
void ward__sample_take(uintptr_t p);

/*
 * Heap counts are kept in 1/WARD__WEIGHT_ONE of a block. A block recorded
 * in full mode counts one block and its size; a sampled block of size s
 * stands for 1 / (1 - exp(-s / rate)) blocks like it (the chance it had to
 * be sampled), so it counts that many, and that many times its size —
 * jemalloc's per-sample weights. Weighing each sample by its own size keeps
 * object counts right at sites whose blocks differ in size (scaling a
 * site's totals by their average size does not: large blocks are sampled
 * more often, and drag the count down).
 */
enum { WARD__WEIGHT_ONE = 1 << 16 };
static inline void ward__heap_weight(uint64_t size, uint64_t rate,
				     uint64_t *count, uint64_t *bytes)
{
	if (!rate) {
		*count = WARD__WEIGHT_ONE;
		*bytes = size;
		return;
	}
	double p = 1.0 - ward__exp(-(double)(size ? size : 1) / (double)rate);
	double w = p > 0 ? 1.0 / p : (double)rate;
	*count = (uint64_t)(w * WARD__WEIGHT_ONE + 0.5);
	*bytes = (uint64_t)((double)size * w + 0.5);
}

/* A sampled block at p was freed. */
void ward__sample_drop(uintptr_t p);

#endif
