/*
 * bench_owner.c — owners and contexts against their anchors, measured in
 * the same run: talloc (a context made, one block under it, the context
 * freed) for an owner with one block; a bare defer for attaching one
 * resource to an owner and releasing it; and cancelling 10,000 child
 * contexts (bench/run.sh adds Go's context.WithCancel tree as an anchor).
 *
 * Built by bench/run.sh against libward.a and libtalloc. Each figure is
 * the best of several interleaved passes.
 *
 * Output: one line "ANCHOR <name> <value>" per measurement (ns per
 * operation; ms for the cancel).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <talloc.h>
#include <time.h>

#include <ward.h>

#define NOINLINE __attribute__((noinline))

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static long released;
static volatile long sink;

static NOINLINE void release(void *p)
{
	++*(long *)p;
	released++;
}

static long slot;

/* ---- an owner with one block, against talloc ------------------------------ */

static NOINLINE void owner_one_block(void)
{
	ward_owner_t *o = ward_owner_new(NULL, "req");
	char *b = ward_owner_malloc(o, 64);
	b[0] = 1;
	ward_owner_release(o);
}

static NOINLINE void talloc_one_block(void)
{
	void *ctx = talloc_new(NULL);
	char *b = talloc_size(ctx, 64);
	b[0] = 1;
	talloc_free(ctx);
}

/* ---- one resource attached and released, against a defer ----------------- */

static ward_owner_t *existing;

static NOINLINE void owner_attach_release(void)
{
	ward_owner_attach(existing, release, &slot);
	ward_owner_release_one(existing, release, &slot);
}

static NOINLINE void defer_one(void)
{
	WARD_FRAME;
	ward_defer(release, &slot);
	sink = slot;
}

typedef void (*op)(void);

static double pass(op f, long iters)
{
	double t0 = now_ns();
	for (long i = 0; i < iters; i++)
		f();
	return (now_ns() - t0) / (double)iters;
}

/* ---- cancelling 10,000 children ------------------------------------------- */

static double cancel_10k_ms(void)
{
	ward_owner_t *o = ward_owner_new(NULL, "fan");
	ward_ctx_t *root = ward_ctx_new(o, NULL);
	for (int i = 0; i < 10000; i++)
		ward_ctx_new(o, root);
	double t0 = now_ns();
	ward_ctx_cancel(root, 0);
	double ms = (now_ns() - t0) / 1e6;
	ward_owner_release(o);
	return ms;
}

int main(void)
{
	static const struct {
		const char *name;
		op f;
	} v[] = {
		{ "owner_one_block", owner_one_block },
		{ "talloc_one_block", talloc_one_block },
		{ "owner_attach_release", owner_attach_release },
		{ "defer_one_bare", defer_one },
	};
	enum { N = sizeof(v) / sizeof(v[0]) };
	double best[N];
	existing = ward_owner_new(NULL, "existing");
	for (int k = 0; k < N; k++)
		best[k] = 1e30;
	for (int round = 0; round < 7; round++)
		for (int k = 0; k < N; k++) {
			double t = pass(v[k].f, 200000);
			if (t < best[k])
				best[k] = t;
		}
	for (int k = 0; k < N; k++)
		printf("ANCHOR %s %.3f\n", v[k].name, best[k]);
	double c = 1e30;
	for (int round = 0; round < 7; round++) {
		double t = cancel_10k_ms();
		if (t < c)
			c = t;
	}
	printf("ANCHOR ctx_cancel_10k_ms %.4f\n", c);
	ward_owner_release(existing);
	return 0;
}
