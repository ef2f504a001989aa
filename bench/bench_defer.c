/*
 * bench_defer.c — ward's defer, loop-defer and panic costs against C
 * anchors measured in the same run: hand-written cleanup, GCC's cleanup
 * attribute, and setjmp/longjmp. bench/run.sh adds the C++ and Go anchors
 * and prints the BENCH lines.
 *
 * Every workload acquires and releases a "resource" through functions the
 * compiler cannot inline (acquire() hands out a slot, release() counts it),
 * so what differs between variants is only how the release is arranged.
 * Each figure is the best of several repetitions, in ns per operation.
 *
 * Output: one line "ANCHOR <name> <ns>" per measurement.
 */
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ward.h>

#define NOINLINE __attribute__((noinline))

static long released;
static long slots[64];

static NOINLINE void *acquire(int i)
{
	return &slots[i & 63];
}

static NOINLINE void release(void *p)
{
	++*(long *)p;
	released++;
}

static NOINLINE long use(void *p)
{
	return *(long *)p;
}

static void release_cleanup(void **p)
{
	release(*p);
}

/* ---- one resource per call -------------------------------------------- */

static NOINLINE long one_hand(int i)
{
	void *p = acquire(i);
	long r = use(p);
	release(p);
	return r;
}

static NOINLINE long one_cleanup_attr(int i)
{
	void *p __attribute__((cleanup(release_cleanup))) = acquire(i);
	return use(p);
}

static NOINLINE long one_ward(int i)
{
	WARD_FRAME;
	void *p = acquire(i);
	ward_defer(release, p);
	return use(p);
}

/* The same with a heap block as the resource: what most defers release. */
static NOINLINE long one_malloc_hand(int i)
{
	char *p = malloc(64);
	p[0] = (char)i;
	long r = use(slots);
	free(p);
	return r;
}

static NOINLINE long one_malloc_ward(int i)
{
	WARD_FRAME;
	char *p = malloc(64);
	ward_defer_free(p);
	p[0] = (char)i;
	return use(slots);
}

/* ---- sixteen resources acquired in a loop, released at function exit -- */

enum { LOOP = 16 };

static NOINLINE long loop_hand(int i)
{
	void *held[LOOP];
	long r = 0;
	for (int k = 0; k < LOOP; k++) {
		held[k] = acquire(i + k);
		r += use(held[k]);
	}
	for (int k = LOOP - 1; k >= 0; k--)
		release(held[k]);
	return r;
}

static NOINLINE long loop_ward(int i)
{
	WARD_FRAME;
	long r = 0;
	for (int k = 0; k < LOOP; k++) {
		void *p = acquire(i + k);
		ward_defer(release, p);
		r += use(p);
	}
	return r;
}

/* ---- a panic through ten frames, each holding a defer ------------------ */

static jmp_buf top;
static void *sj_held[10]; /* what each level holds, for the unwinding */

/* Each level either recurses or ends the recursion by jumping out. */
#pragma GCC diagnostic ignored "-Winfinite-recursion"

static NOINLINE void sj_level(int n)
{
	void *p = acquire(n);
	sj_held[n] = p;
	if (n == 0)
		longjmp(top, 1);
	sj_level(n - 1);
	release(p);
}

/* Hand-written unwinding: after the jump, every level's resource is
 * released, innermost first, as the ten defers are. */
static NOINLINE long panic10_setjmp(void)
{
	if (setjmp(top) == 0)
		sj_level(9);
	for (int n = 0; n < 10; n++)
		release(sj_held[n]);
	return 0;
}

static NOINLINE void ward_level(int n)
{
	WARD_FRAME;
	ward_defer(release, acquire(n));
	if (n == 0)
		ward_panic(1, "deep");
	ward_level(n - 1);
}

static void swallow(void *unused)
{
	(void)unused;
	ward_recover();
}

static NOINLINE long panic10_ward(void)
{
	WARD_FRAME_RESUMABLE(return 1);
	ward_defer(swallow, NULL);
	ward_level(9);
	return 0;
}

/* ---- timing ------------------------------------------------------------ */

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

typedef long (*op_i)(int);

static volatile long sink;

/* One timed pass of f over iters calls, in ns per call. */
static double pass(op_i f, long iters)
{
	double t0 = now_ns();
	long s = 0;
	for (long i = 0; i < iters; i++)
		s += f((int)i);
	sink = s;
	return (now_ns() - t0) / (double)iters;
}

static NOINLINE long panic10_setjmp_i(int i)
{
	(void)i;
	return panic10_setjmp();
}

static NOINLINE long panic10_ward_i(int i)
{
	(void)i;
	return panic10_ward();
}

struct variant {
	const char *name;
	op_i f;
	long iters; /* per pass, before scaling */
	double best;
};

/*
 * Allocation counting for defer_mallocs_per_op: this program's malloc
 * family counts calls, then hands them to glibc's own entry points.
 */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
static long mallocs;

void *malloc(size_t n)
{
	mallocs++;
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t m)
{
	mallocs++;
	return __libc_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
	mallocs++;
	return __libc_realloc(p, n);
}

int main(int argc, char **argv)
{
	long scale = argc > 1 ? atol(argv[1]) : 1;
	int reps = 15;

	if (scale < 1)
		scale = 1;
	ward_defer_set_limit(0);
	/* Warm up: the first call of a thread sets up its chain. */
	one_ward(0);
	panic10_ward();

	struct variant v[] = {
		{ "one_hand", one_hand, 1000000, 1e30 },
		{ "one_cleanup_attr", one_cleanup_attr, 1000000, 1e30 },
		{ "one_ward", one_ward, 1000000, 1e30 },
		{ "one_malloc_hand", one_malloc_hand, 1000000, 1e30 },
		{ "one_malloc_ward", one_malloc_ward, 1000000, 1e30 },
		{ "loop16_hand", loop_hand, 100000, 1e30 },
		{ "loop16_ward", loop_ward, 100000, 1e30 },
		{ "panic10_setjmp", panic10_setjmp_i, 100000, 1e30 },
		{ "panic10_ward", panic10_ward_i, 50000, 1e30 },
	};
	size_t nv = sizeof(v) / sizeof(v[0]);
	/* Interleaved passes, best of each: on a shared, noisy machine every
	 * variant then sees the same quiet moments. */
	for (int r = 0; r < reps; r++)
		for (size_t k = 0; k < nv; k++) {
			double t = pass(v[k].f, v[k].iters * scale);
			if (t < v[k].best)
				v[k].best = t;
		}
	for (size_t k = 0; k < nv; k++)
		printf("ANCHOR %s %.3f\n", v[k].name, v[k].best);

	/* Steady-state mallocs per defer: the chain never grows past its first
	 * block here, and a thread's counters say how many ran. */
	struct ward_defer_stats before, after;
	ward_defer_stats(&before);
	long m0 = mallocs;
	for (int i = 0; i < 100000; i++) {
		loop_ward(i);
		one_ward(i);
	}
	long m1 = mallocs;
	ward_defer_stats(&after);
	printf("ANCHOR defer_mallocs_per_op %.6f\n",
	       (double)(m1 - m0) / (double)(after.run - before.run));
	m0 = mallocs;
	for (int i = 0; i < 10000; i++)
		panic10_ward();
	printf("ANCHOR panic_mallocs_per_op %.6f\n",
	       (double)(mallocs - m0) / 10000.0);
	return 0;
}
