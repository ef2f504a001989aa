/*
 * bench_pool.c — a pool's get+put of a 64-byte object against the
 * allocators a program would use instead, measured in the same run:
 * glibc's malloc+free, and jemalloc's and mimalloc's (bench/run.sh runs
 * `bench_pool malloc NAME` with the Debian library preloaded by path: the
 * process's malloc is then theirs); the same across two threads; and
 * checking mode's cost per pair; a ref's retain+release alone, and on two
 * threads sharing one object (its count contended). bench/run.sh adds Go's
 * sync.Pool and C++'s shared_ptr as anchors.
 *
 * Output: one line "ANCHOR <name> <ns per pair>" per measurement, the best
 * of several interleaved passes.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ward.h>

#define NOINLINE __attribute__((noinline))

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void reset64(void *obj, void *arg)
{
	(void)arg;
	((long *)obj)[0] = 0; /* what a program's reset does: a field or two */
}

static ward_pool_t *pool, *checked;
static __thread void *volatile sink;

static NOINLINE void pool_pair(void)
{
	void *o = ward_pool_get(pool);
	sink = o;
	ward_pool_put(pool, o);
}

static NOINLINE void checked_pair(void)
{
	void *o = ward_pool_get(checked);
	sink = o;
	ward_pool_put(checked, o);
}

static void *ref_obj;

static NOINLINE void ref_pair(void)
{
	void *o = ward_ref_retain(ref_obj);
	sink = o;
	ward_ref_release(o);
}

static NOINLINE void malloc_pair(void)
{
	void *o = malloc(64);
	sink = o;
	free(o);
}

typedef void (*op)(void);

static double pass(op f, long iters)
{
	double t0 = now_ns();
	for (long i = 0; i < iters; i++)
		f();
	return (now_ns() - t0) / (double)iters;
}

struct two_arg {
	op f;
	double ns;
};

static void *two_threads_body(void *arg)
{
	struct two_arg *a = arg;
	a->ns = pass(a->f, 2000000);
	return NULL;
}

/* f on two threads at once; the slower thread's time per call. */
static double two_threads(op f)
{
	pthread_t a, b;
	struct two_arg ta = { f, 0 }, tb = { f, 0 };
	pthread_create(&a, NULL, two_threads_body, &ta);
	pthread_create(&b, NULL, two_threads_body, &tb);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	return ta.ns > tb.ns ? ta.ns : tb.ns;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "malloc") == 0) {
		/* malloc+free alone, under whichever allocator is preloaded. */
		double best = 1e30;
		for (int round = 0; round < 7; round++) {
			double t = pass(malloc_pair, 5000000);
			if (t < best)
				best = t;
		}
		printf("ANCHOR %s %.3f\n", argv[2], best);
		return 0;
	}
	pool = ward_pool_new(&(struct ward_pool_config){
		.name = "bench", .size = 64, .reset = reset64 });
	ref_obj = ward_ref_new(64, NULL, NULL);
	checked = ward_pool_new(&(struct ward_pool_config){
		.name = "checked", .size = 64, .reset = reset64, .check = true });
	static const struct {
		const char *name;
		op f;
		long iters;
	} v[] = {
		{ "pool_pair", pool_pair, 5000000 },
		{ "glibc_pair", malloc_pair, 5000000 },
		{ "pool_check_pair", checked_pair, 200000 },
		{ "ref_pair", ref_pair, 5000000 },
	};
	enum { N = sizeof(v) / sizeof(v[0]) };
	double best[N], two = 1e30, two_ref = 1e30;
	for (int k = 0; k < N; k++)
		best[k] = 1e30;
	/* One thread first, every round: once a thread has started, glibc's
	 * malloc takes its arena lock and a ref counts atomically, where
	 * the anchors in processes of their own (jemalloc, mimalloc, C++'s
	 * shared_ptr) never started one. */
	for (int round = 0; round < 7; round++)
		for (int k = 0; k < N; k++) {
			double t = pass(v[k].f, v[k].iters);
			if (t < best[k])
				best[k] = t;
		}
	/* Two threads: pools each have their own cache; refs share one. */
	for (int round = 0; round < 7; round++) {
		double t = two_threads(pool_pair);
		if (t < two)
			two = t;
		t = two_threads(ref_pair);
		if (t < two_ref)
			two_ref = t;
	}
	for (int k = 0; k < N; k++)
		printf("ANCHOR %s %.3f\n", v[k].name, best[k]);
	printf("ANCHOR pool_pair_2threads %.3f\n", two);
	printf("ANCHOR ref_pair_2threads %.3f\n", two_ref);
	ward_pool_free(pool);
	ward_pool_free(checked);
	return 0;
}
