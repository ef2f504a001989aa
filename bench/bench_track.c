/*
 * bench_track.c — the registry's costs against plain malloc+free measured
 * in the same run.
 *
 *  track_pair_fp      track+untrack of one heap block, stack of depth ~16
 *                     walked by frame pointers (run with WARD_STACK=fp)
 *  track_pair_nofp_*  the same through code built without frame pointers
 *                     (bench/nofp_chain.c), with the walker WARD_STACK names
 *  malloc_pair        malloc+free of the same size, no ward
 *  track_sampled_pair ward_malloc+ward_free, sampling at 512 KiB
 *  bytes_per_record   memory the live set uses per live record, 1M
 *                     records (the process's anonymous resident memory)
 *  export_1m          snapshot + pprof of 1M live records over 10k stacks
 *  track_first_walk   (mode "sites") a track whose stack was never seen:
 *                     the walk remembers nothing and the site is new
 *  export_1m_sites    (mode "sites") snapshot + pprof of 1M live records
 *                     at 1M sites
 *
 * Output: "ANCHOR <name> <value>" lines; bench/run.sh prints BENCH lines.
 */
#include <stdint.h>
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

/* A chain of `depth` frames with frame pointers, then `fn`. */
static NOINLINE long fp_chain(int depth, long (*fn)(long), long arg)
{
	long r;
	if (depth == 0)
		r = fn(arg);
	else
		r = fp_chain(depth - 1, fn, arg) + 1;
	__asm__ volatile("" ::: "memory");
	return r;
}

long nofp_chain(int depth, long (*fn)(long), long arg); /* nofp_chain.c */

static volatile long sink;

static NOINLINE long pair_track(long iters)
{
	for (long i = 0; i < iters; i++) {
		void *p = malloc(64);
		ward_track(WARD_KIND_HEAP, (uintptr_t)p, 64);
		ward_untrack(WARD_KIND_HEAP, (uintptr_t)p);
		free(p);
	}
	return 0;
}

static NOINLINE long pair_sampled(long iters)
{
	for (long i = 0; i < iters; i++) {
		void *p = ward_malloc(64);
		sink = (long)(uintptr_t)p;
		ward_free(p);
	}
	return 0;
}

static NOINLINE long pair_plain(long iters)
{
	for (long i = 0; i < iters; i++) {
		void *p = malloc(64);
		sink = (long)(uintptr_t)p;
		free(p);
	}
	return 0;
}

static double timed(long (*chain)(int, long (*)(long), long),
		    long (*fn)(long), long iters)
{
	double t0 = now_ns();
	chain(14, fn, iters);
	return (now_ns() - t0) / (double)iters;
}

/* 10,000 distinct stacks: four levels, ten call sites each. */
static NOINLINE void leaf_track(long h)
{
	ward_track(WARD_KIND_HEAP, (uintptr_t)h, 32);
	__asm__ volatile("" ::: "memory");
}

/* Ten distinct functions, so ten distinct return addresses per level. */
static void descend(int level, int code, long h);
#define STEP(n)                                                               \
	static NOINLINE void step##n(int level, int code, long h)             \
	{                                                                     \
		descend(level, code, h);                                      \
		__asm__ volatile("" ::: "memory"); /* no tail call */         \
		sink = n;                                                     \
	}
STEP(0) STEP(1) STEP(2) STEP(3) STEP(4) STEP(5) STEP(6) STEP(7) STEP(8)
STEP(9)
static void (*const steps[10])(int, int, long) = {
	step0, step1, step2, step3, step4, step5, step6, step7, step8, step9,
};

static NOINLINE void descend(int level, int code, long h)
{
	if (level == 0) {
		leaf_track(h);
		return;
	}
	steps[code % 10](level - 1, code / 10, h);
	__asm__ volatile("" ::: "memory");
}

static size_t counted;
static void count_bytes(void *opaque, const void *buf, size_t len)
{
	(void)opaque;
	(void)buf;
	counted += len;
}

/* The process's anonymous resident memory, in KiB (-1: unknown). */
static long rss_anon_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "RssAnon: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "all";
	long iters = 200000;
	int reps = 5;

	if (strcmp(mode, "sites") == 0) {
		/* 1M records, each from a stack never seen before (six levels
		 * of ten call sites): every walk is a first walk (nothing
		 * remembered matches) and makes a new site. */
		double t0 = now_ns();
		for (long i = 0; i < 1000000; i++)
			descend(6, (int)i, (i + 1) * 16);
		printf("ANCHOR track_first_walk_ns %.1f\n",
		       (now_ns() - t0) / 1e6);
		double best = 1e30;
		for (int r = 0; r < 3; r++) {
			counted = 0;
			t0 = now_ns();
			ward_profile_t *p = ward_profile_snapshot();
			ward_profile_write(p, WARD_FORMAT_PPROF, count_bytes, NULL);
			if (r == 0)
				printf("ANCHOR export_1m_sites_samples %zu\n",
				       ward_profile_count(p));
			ward_profile_free(p);
			double ms = (now_ns() - t0) / 1e6;
			best = ms < best ? ms : best;
		}
		printf("ANCHOR export_1m_sites_ms %.2f\n", best);
		return 0;
	}
	if (strcmp(mode, "nofp") == 0) {
		/* Through code without frame pointers, with the walker run.sh
		 * chose in WARD_STACK (named by argv[2]). */
		const char *name = argc > 2 ? argv[2] : "default";
		long n = strcmp(name, "dwarf") == 0 ? iters / 20 : iters;
		double best = 1e30;
		for (int r = 0; r < reps; r++) {
			double t = timed(nofp_chain, pair_track, n);
			best = t < best ? t : best;
		}
		printf("ANCHOR track_pair_nofp_%s %.3f\n", name, best);
		return 0;
	}

	double fp = 1e30, plain = 1e30, sampled = 1e30;
	for (int r = 0; r < reps; r++) {
		double a = timed(fp_chain, pair_track, iters);
		double b = timed(fp_chain, pair_plain, iters);
		ward_track_set_sampling(512 * 1024);
		double c = timed(fp_chain, pair_sampled, iters * 5);
		ward_track_set_sampling(0);
		fp = a < fp ? a : fp;
		plain = b < plain ? b : plain;
		sampled = c < sampled ? c : sampled;
	}
	printf("ANCHOR track_pair_fp %.3f\n", fp);
	printf("ANCHOR malloc_pair %.3f\n", plain);
	printf("ANCHOR track_sampled_pair %.3f\n", sampled);

	/* Live set: 1M records over 10k stacks (handles that are no
	 * memory: what grows is ward's, mapped or malloc'd). */
	long before = rss_anon_kb();
	double t0 = now_ns();
	for (long i = 0; i < 1000000; i++)
		descend(4, (int)(i % 10000), (i + 1) * 16);
	double track_ms = (now_ns() - t0) / 1e6;
	long after = rss_anon_kb();
	printf("ANCHOR bytes_per_record %.2f\n",
	       (double)(after - before) * 1024 / 1e6);
	printf("ANCHOR track_1m_ms %.1f\n", track_ms);

	double best = 1e30;
	for (int r = 0; r < 3; r++) {
		counted = 0;
		t0 = now_ns();
		ward_profile_t *p = ward_profile_snapshot();
		if (r == 0)
			printf("ANCHOR export_1m_samples %zu\n",
			       ward_profile_count(p));
		ward_profile_write(p, WARD_FORMAT_PPROF, count_bytes, NULL);
		ward_profile_free(p);
		double ms = (now_ns() - t0) / 1e6;
		best = ms < best ? ms : best;
	}
	printf("ANCHOR export_1m_ms %.2f\n", best);
	printf("ANCHOR export_1m_bytes %zu\n", counted);
	return 0;
}
