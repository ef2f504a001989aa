/*
 * test_track.c — the registry: kinds, track/untrack, counters, stacks,
 * snapshots and diffs, leak checks, the library-mode wrappers, a stress
 * test, and profiles read back by the real `go tool pprof`.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../src/snapshot/profile.h"
#include "../src/snapshot/symbolize.h"
#include "../src/export/export.h"
#include "../src/registry/registry.h"
#include "../src/registry/sample.h"
#include "runner.h"
#include "ward.h"

/* Non-static and not inlined, so that stacks can name them (-rdynamic). */
void *leak_small(void);
void *leak_big(void);
int leak_fd(void);
void *nofp_outer(size_t n);

__attribute__((noinline)) void *leak_small(void)
{
	void *p = ward_malloc(100);
	__asm__ volatile("" ::: "memory");
	return p;
}

__attribute__((noinline)) void *leak_big(void)
{
	void *p = ward_malloc(1000);
	__asm__ volatile("" ::: "memory");
	return p;
}

__attribute__((noinline)) int leak_fd(void)
{
	int fd = ward_open("/dev/null", O_RDONLY);
	__asm__ volatile("" ::: "memory");
	return fd;
}

/* The first sample whose top frame is in `fn`, or NULL. */
static const struct ward_sample *sample_in(const ward_profile_t *p,
					   const char *fn)
{
	extern void ward__describe_pc(uintptr_t pc, char *buf, size_t len);
	char frame[512];
	for (size_t i = 0; i < ward_profile_count(p); i++) {
		const struct ward_sample *s = ward_profile_sample(p, i);
		if (s->depth == 0)
			continue;
		ward__describe_pc(s->pcs[0], frame, sizeof(frame));
		if (strncmp(frame, fn, strlen(fn)) == 0 &&
		    frame[strlen(fn)] == '+')
			return s;
	}
	return NULL;
}

/* Sum over every sample whose top frame is in fn (a loop the compiler
 * unrolled calls from several places: several sites). */
static struct ward_sample sum_in(const ward_profile_t *p, const char *fn)
{
	extern void ward__describe_pc(uintptr_t pc, char *buf, size_t len);
	struct ward_sample sum = { 0 };
	char frame[512];
	for (size_t i = 0; i < ward_profile_count(p); i++) {
		const struct ward_sample *s = ward_profile_sample(p, i);
		if (s->depth == 0)
			continue;
		ward__describe_pc(s->pcs[0], frame, sizeof(frame));
		if (strncmp(frame, fn, strlen(fn)) != 0 ||
		    frame[strlen(fn)] != '+')
			continue;
		sum.kind = s->kind;
		sum.depth = s->depth;
		sum.live_count += s->live_count;
		sum.live_bytes += s->live_bytes;
		sum.alloc_count += s->alloc_count;
		sum.alloc_bytes += s->alloc_bytes;
	}
	return sum;
}

TEST(kinds_register_by_name)
{
	int a = ward_kind_register("db_conn");
	ASSERT_GE(a, WARD_KIND_USER);
	ASSERT_EQ(ward_kind_register("db_conn"), a);
	ASSERT_STREQ(ward_kind_name(a), "db_conn");
	ASSERT_EQ(ward_kind_register("heap"), WARD_KIND_HEAP);
	ASSERT_EQ(ward_kind_register("fd"), WARD_KIND_FD);
	ASSERT_EQ(ward_kind_register(""), -EINVAL);
	ASSERT_EQ(ward_kind_register(NULL), -EINVAL);
	ASSERT_NULL(ward_kind_name(WARD_KIND_MAX));
	int last = 0;
	char name[32];
	for (int i = 0; i < WARD_KIND_MAX; i++) {
		snprintf(name, sizeof(name), "k%d", i);
		last = ward_kind_register(name);
	}
	ASSERT_EQ(last, -ENOSPC);
}

TEST(kind_names_with_control_characters_are_refused)
{
	ASSERT_EQ(ward_kind_register("clear\033[2Jscreen"), -EINVAL);
	ASSERT_EQ(ward_kind_register("tab\tname"), -EINVAL);
	ASSERT_GE(ward_kind_register("plain name"), WARD_KIND_USER);
}

TEST(track_and_untrack_keep_counts)
{
	int k = ward_kind_register("socket_pool");
	ASSERT_EQ(ward_track(k, 1, 10), 0);
	ASSERT_EQ(ward_track(k, 2, 20), 0);
	ASSERT_EQ(ward_track(k, 2, 20), -EEXIST);
	ASSERT_EQ(ward_track(99, 2, 20), -EINVAL);
	struct ward_kind_stats st;
	ASSERT_EQ(ward_kind_stats(k, &st), 0);
	ASSERT_EQ(st.live_count, 2);
	ASSERT_EQ(st.live_bytes, 30);
	ASSERT_EQ(ward_untrack(k, 1), 0);
	ASSERT_EQ(ward_untrack(k, 1), -ENOENT);
	ASSERT_EQ(ward_kind_stats(k, &st), 0);
	ASSERT_EQ(st.live_count, 1);
	ASSERT_EQ(st.live_bytes, 20);
	ASSERT_EQ(st.acquired_count, 2);
	ASSERT_EQ(st.released_count, 1);
	/* Peaks may lag by a batch of 32 records per thread. */
	ASSERT_GE(st.peak_count, 1);
	ASSERT_LE(st.peak_count, 2);
	ASSERT_GE(st.peak_bytes, 20);
	ASSERT_EQ(ward_untrack(k, 2), 0);
}

TEST(many_handles_grow_and_shrink_the_shards)
{
	int k = ward_kind_register("many");
	for (uintptr_t h = 1; h <= 20000; h++)
		ASSERT_EQ(ward_track(k, h * 16, h), 0);
	for (uintptr_t h = 1; h <= 20000; h += 2)
		ASSERT_EQ(ward_untrack(k, h * 16), 0);
	for (uintptr_t h = 2; h <= 20000; h += 2)
		ASSERT_EQ(ward_untrack(k, h * 16), 0);
	struct ward_kind_stats st;
	ward_kind_stats(k, &st);
	ASSERT_EQ(st.live_count, 0);
	ASSERT_EQ(st.live_bytes, 0);
	ASSERT_GE(st.peak_count, 20000 - 32);
	ASSERT_LE(st.peak_count, 20000);
}

static int churn_kind;

static void *release_handles(void *arg)
{
	uintptr_t base = (uintptr_t)arg;
	for (uintptr_t h = base; h < base + 31; h++)
		ward_untrack(churn_kind, h);
	return NULL;
}

TEST(peaks_hold_under_thread_churn)
{
	/* 31 handles acquired here and released by a short-lived thread,
	 * 1000 times: at most 31 are ever live. Batches a thread took with
	 * it used to push the peak to ~31,000. */
	churn_kind = ward_kind_register("churned");
	for (uintptr_t round = 0; round < 1000; round++) {
		uintptr_t base = 1 + round * 31;
		for (uintptr_t h = base; h < base + 31; h++)
			ASSERT_EQ(ward_track(churn_kind, h, 1), 0);
		pthread_t th;
		ASSERT_EQ(pthread_create(&th, NULL, release_handles,
					 (void *)base),
			  0);
		ASSERT_EQ(pthread_join(th, NULL), 0);
	}
	struct ward_kind_stats st;
	ASSERT_EQ(ward_kind_stats(churn_kind, &st), 0);
	ASSERT_EQ(st.live_count, 0);
	/* The documented bound: 32 per running thread (two run at once). */
	ASSERT_LE(st.peak_count, 31 + 2 * 32);
}

TEST(huge_sizes_are_kept_exactly)
{
	int k = ward_kind_register("mapping");
	uint64_t big = (uint64_t)5 << 32;
	ASSERT_EQ(ward_track(k, 42, big), 0);
	struct ward_kind_stats st;
	ward_kind_stats(k, &st);
	ASSERT_EQ(st.live_bytes, big);
	ASSERT_EQ(ward_untrack(k, 42), 0);
	ward_kind_stats(k, &st);
	ASSERT_EQ(st.live_bytes, 0);
	ASSERT_EQ(st.released_bytes, big);
}

/* Heap records in three 4 GiB zones (one above 2^63), against a model. */
enum { MODEL = 30000 };
static struct {
	uintptr_t handle;
	uint64_t size;
	bool live;
} model[MODEL];

static uint64_t model_rand(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static bool in_model_zone(uintptr_t h)
{
	uint64_t high = (uint64_t)h >> 32;
	return high == 0x7123 || high == 0x7124 || high == 0xffffffffu;
}

static void model_sum(uintptr_t handle, uint32_t site, uint64_t size,
		      void *opaque)
{
	uint64_t *sum = opaque;
	if (in_model_zone(handle)) {
		sum[0]++;
		sum[1] += size;
	}
}

static void young_sum(uintptr_t handle, uint32_t site, uint64_t size,
		      void *opaque)
{
	uint64_t *sum = opaque;
	(void)site;
	if ((uint64_t)handle >> 32 == 0x7400) {
		sum[0]++;
		sum[1] += size;
	}
}

static void model_check(void)
{
	uint64_t want[2] = { 0, 0 }, got[2] = { 0, 0 };
	for (int i = 0; i < MODEL; i++) {
		uint32_t site = 0;
		uint64_t size = 0;
		bool found = ward__registry_find(WARD_KIND_HEAP,
						 model[i].handle, &site, &size);
		ASSERT_EQ(found, model[i].live);
		if (model[i].live) {
			ASSERT_NE(site, 0);
			ASSERT_EQ(size, model[i].size);
			want[0]++;
			want[1] += size;
		}
	}
	ward__registry_each(WARD_KIND_HEAP, model_sum, got);
	ASSERT_EQ(got[0], want[0]);
	ASSERT_EQ(got[1], want[1]);
}

TEST(heap_records_hold_through_growth_deletion_and_big_sizes)
{
	static const uint64_t highs[] = { 0x7123, 0x7124, 0xffffffffu };
	static const uint64_t sizes[] = { 1, 64, 65534, 65535, 70000,
					  (uint64_t)5 << 32 };
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (int i = 0; i < MODEL; i++) {
		/* Offsets 8-aligned, with a few at the zone's ends. */
		uint64_t lo = i < 2 ? (i ? 0xfffffff8u : 0)
				    : (model_rand(&x) & 0xfffffff8u);
		model[i].handle = (uintptr_t)(highs[i % 3] << 32 | lo);
		for (int j = 0; j < i; j++)
			if (model[j].handle == model[i].handle)
				model[i].handle += 8;
	}
	for (int op = 0; op < 300000; op++) {
		int i = (int)(model_rand(&x) % MODEL);
		if (model[i].live) {
			ASSERT_EQ(ward_untrack(WARD_KIND_HEAP, model[i].handle), 0);
			model[i].live = false;
		} else {
			uint64_t size = sizes[model_rand(&x) % 6];
			ASSERT_EQ(ward_track(WARD_KIND_HEAP, model[i].handle,
					     size),
				  0);
			ASSERT_EQ(ward_track(WARD_KIND_HEAP, model[i].handle,
					     size),
				  -EEXIST);
			model[i].size = size;
			model[i].live = true;
		}
		if (op % 60000 == 0)
			model_check();
	}
	model_check();
	for (int i = 0; i < MODEL; i++) {
		if (model[i].live)
			ASSERT_EQ(ward_untrack(WARD_KIND_HEAP,
					       model[i].handle),
				  0);
		model[i].live = false;
	}
	model_check();
}

/* The newest heap records wait aside (blocks.c's young records) while
 * the process has one thread, as each test's does. A record that has
 * moved on into the table is still refused a second time. */
static uintptr_t young_handle(int i)
{
	return (uintptr_t)((uint64_t)0x7400 << 32 | (uint64_t)i << 6);
}

static void young_expect(int from, int to, bool live)
{
	for (int i = from; i < to; i++) {
		uint32_t site = 0;
		uint64_t size = 0;
		ASSERT_EQ(ward__registry_find(WARD_KIND_HEAP, young_handle(i),
					      &site, &size),
			  live);
		if (live)
			ASSERT_EQ(size, (uint64_t)i + 100);
	}
}

static uint64_t young_live(void)
{
	uint64_t sum[2] = { 0, 0 };
	ward__registry_each(WARD_KIND_HEAP, young_sum, sum);
	return sum[0];
}

TEST(records_moved_on_from_the_newest_are_refused_twice)
{
	for (int i = 0; i < 40; i++)
		ASSERT_EQ(ward_track(WARD_KIND_HEAP, young_handle(i),
				     (size_t)i + 100),
			  0);
	for (int i = 0; i < 40; i++)
		ASSERT_EQ(ward_track(WARD_KIND_HEAP, young_handle(i), 1),
			  -EEXIST);
	young_expect(0, 40, true);
	ASSERT_EQ(young_live(), 40);
	/* Newest first, then oldest first. */
	for (int i = 39; i >= 20; i--)
		ASSERT_EQ(ward_untrack(WARD_KIND_HEAP, young_handle(i)), 0);
	for (int i = 0; i < 20; i++)
		ASSERT_EQ(ward_untrack(WARD_KIND_HEAP, young_handle(i)), 0);
	young_expect(0, 40, false);
	ASSERT_EQ(young_live(), 0);
}

/* A second thread starts while records wait aside: it finds and releases
 * some, the next record tracked moves the rest into the table, and every
 * one is found with its size throughout. */
static void *release_two_young(void *arg)
{
	(void)arg;
	for (int i = 0; i < 2; i++)
		if (ward_untrack(WARD_KIND_HEAP, young_handle(i)) != 0)
			return (void *)1;
	return NULL;
}

TEST(newest_records_hold_when_a_second_thread_starts)
{
	for (int i = 0; i < 6; i++)
		ASSERT_EQ(ward_track(WARD_KIND_HEAP, young_handle(i),
				     (size_t)i + 100),
			  0);
	pthread_t t;
	void *failed = (void *)1;
	ASSERT_EQ(pthread_create(&t, NULL, release_two_young, NULL), 0);
	ASSERT_EQ(pthread_join(t, &failed), 0);
	ASSERT_TRUE(failed == NULL);
	young_expect(0, 2, false);
	young_expect(2, 6, true);
	ASSERT_EQ(ward_track(WARD_KIND_HEAP, young_handle(6), 106), 0);
	for (int i = 2; i < 7; i++)
		ASSERT_EQ(ward_track(WARD_KIND_HEAP, young_handle(i), 1),
			  -EEXIST);
	young_expect(2, 7, true);
	ASSERT_EQ(young_live(), 5);
	for (int i = 2; i < 7; i++)
		ASSERT_EQ(ward_untrack(WARD_KIND_HEAP, young_handle(i)), 0);
	ASSERT_EQ(young_live(), 0);
}

/* Sixteen blocks to a 256-byte granule (they share a home slot), placed in
 * a shuffled order and through the heap tables' growth and shrinking,
 * which move records in one pass in the order of their hashes: every
 * record stays where a lookup finds it, with its size. */
enum { PACKED = 200000 };

static uintptr_t packed_handle(uint32_t i)
{
	return (uintptr_t)((uint64_t)0x7300 << 32 | (uint64_t)i << 4);
}

static void packed_check(const bool *live)
{
	for (uint32_t i = 0; i < PACKED; i++) {
		uint32_t site = 0;
		uint64_t size = 0;
		ASSERT_EQ(ward__registry_find(WARD_KIND_HEAP, packed_handle(i),
					      &site, &size),
			  live[i]);
		if (live[i])
			ASSERT_EQ(size, (uint64_t)(i % 64) + 1);
	}
}

static void packed_blocks(void)
{
	static uint32_t order[PACKED];
	static bool live[PACKED];
	uint64_t x = 0x2545f4914f6cdd1dull;
	for (uint32_t i = 0; i < PACKED; i++)
		order[i] = i;
	for (uint32_t i = PACKED - 1; i > 0; i--) {
		uint32_t j = (uint32_t)(model_rand(&x) % (i + 1)), t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (int round = 0; round < 2; round++) {
		for (uint32_t k = 0; k < PACKED; k++) {
			uint32_t i = order[k];
			if (live[i])
				continue;
			ASSERT_EQ(ward_track(WARD_KIND_HEAP, packed_handle(i),
					     (size_t)(i % 64) + 1),
				  0);
			live[i] = true;
		}
		packed_check(live);
		/* Nine in ten go, in another order: the tables shrink. */
		for (uint32_t k = 0; k < PACKED; k++) {
			uint32_t i = order[(k * 7919u) % PACKED];
			if (i % 10 == (uint32_t)round)
				continue;
			ASSERT_EQ(ward_untrack(WARD_KIND_HEAP, packed_handle(i)),
				  0);
			live[i] = false;
		}
		packed_check(live);
	}
	for (uint32_t i = 0; i < PACKED; i++)
		if (live[i]) {
			ASSERT_EQ(ward_untrack(WARD_KIND_HEAP, packed_handle(i)),
				  0);
			live[i] = false;
		}
}

/* Resized where they lie, in their rooms. */
TEST(packed_blocks_hold_through_growth_and_shrinking)
{
	packed_blocks();
}

/* Copied into new tables at every resize, as where the address space is
 * limited and no room can be had. */
TEST(packed_blocks_hold_through_growth_and_shrinking_without_rooms)
{
	ward__blocks_rooms(false);
	packed_blocks();
	ward__blocks_rooms(true);
}

/* A peak of records, then nearly all gone: the tables give their room
 * back, the records left are all there, and the tables grow again. The
 * heap's in a zone of their own; another kind's in its own tables. */
enum { PEAK = 400000, KEPT_EVERY = 50 };

static uintptr_t peak_handle(int kind, int i)
{
	/* Heap: 8 KiB apart, so every region group and shard of the zone. */
	if (kind == WARD_KIND_HEAP)
		return (uintptr_t)((uint64_t)0x7200 << 32 | (uint64_t)i << 13 |
				   (uint64_t)(i % 7) << 3);
	return (uintptr_t)i + 1;
}

static void peak_check(int kind, int upto, bool all)
{
	for (int i = 0; i < upto; i++) {
		uint32_t site = 0;
		uint64_t size = 0;
		bool kept = all || i % KEPT_EVERY == 0;
		ASSERT_EQ(ward__registry_find(kind, peak_handle(kind, i), &site,
					      &size),
			  kept);
		if (kept)
			ASSERT_EQ(size, (uint64_t)(i % 1000) + 1);
	}
}

static void peak_then_drain(int kind)
{
	size_t base = ward__registry_slots(kind);
	for (int i = 0; i < PEAK; i++)
		ASSERT_EQ(ward_track(kind, peak_handle(kind, i),
				     (size_t)(i % 1000) + 1),
			  0);
	size_t peak = ward__registry_slots(kind) - base;
	ASSERT_GE(peak, (size_t)PEAK);
	for (int i = 0; i < PEAK; i++)
		if (i % KEPT_EVERY)
			ASSERT_EQ(ward_untrack(kind, peak_handle(kind, i)), 0);
	peak_check(kind, PEAK, false);
	/* 8,000 records left: every table back to its smallest or so. */
	ASSERT_LT(ward__registry_slots(kind) - base, peak / 4);
	for (int i = 0; i < PEAK / 2; i++)
		if (i % KEPT_EVERY)
			ASSERT_EQ(ward_track(kind, peak_handle(kind, i),
					     (size_t)(i % 1000) + 1),
				  0);
	peak_check(kind, PEAK / 2, true);
	for (int i = 0; i < PEAK; i++)
		if (i < PEAK / 2 || i % KEPT_EVERY == 0)
			ASSERT_EQ(ward_untrack(kind, peak_handle(kind, i)), 0);
	ASSERT_LT(ward__registry_slots(kind) - base, peak / 4);
}

TEST(tables_give_back_room_after_a_peak)
{
	peak_then_drain(WARD_KIND_HEAP);
	int k = ward_kind_register("peaky");
	ASSERT_GE(k, 0);
	peak_then_drain(k);
}

TEST(snapshot_attributes_to_the_acquiring_function)
{
	void *keep[15];
	for (int i = 0; i < 10; i++)
		keep[i] = leak_small();
	for (int i = 10; i < 15; i++)
		keep[i] = leak_big();
	ward_free(keep[0]);
	ward_profile_t *p = ward_profile_snapshot();
	struct ward_sample s = sum_in(p, "leak_small");
	ASSERT_EQ(s.kind, WARD_KIND_HEAP);
	ASSERT_EQ(s.live_count, 9);
	ASSERT_EQ(s.live_bytes, 900);
	ASSERT_EQ(s.alloc_count, 10);
	ASSERT_GE(s.depth, 2);
	s = sum_in(p, "leak_big");
	ASSERT_EQ(s.live_bytes, 5000);
	ward_profile_free(p);
	for (int i = 1; i < 15; i++)
		ward_free(keep[i]);
}

/* Live samples whose top frame is in fn. */
static size_t rows_in(const ward_profile_t *p, const char *fn)
{
	extern void ward__describe_pc(uintptr_t pc, char *buf, size_t len);
	char frame[512];
	size_t n = 0;
	for (size_t i = 0; i < ward_profile_count(p); i++) {
		const struct ward_sample *s = ward_profile_sample(p, i);
		if (s->depth == 0 || s->live_count == 0)
			continue;
		ward__describe_pc(s->pcs[0], frame, sizeof(frame));
		n += strncmp(frame, fn, strlen(fn)) == 0 &&
		     frame[strlen(fn)] == '+';
	}
	return n;
}

TEST(rows_merge_what_reads_the_same_line)
{
	/* Two calls on one line: two sites, one row. */
	void *a = leak_small(); void *b = leak_small(); void *c = leak_big();
	ward_profile_t *p = ward_profile_snapshot();
	ASSERT_NOT_NULL(p);
	ASSERT_EQ(rows_in(p, "leak_small"), 2);
	ward_profile_t *r = ward_profile_by_line(p, 0);
	ASSERT_NOT_NULL(r);
	ASSERT_EQ(rows_in(r, "leak_small"), 1);
	ASSERT_EQ(rows_in(r, "leak_big"), 1);
	struct ward_sample s = sum_in(r, "leak_small");
	ASSERT_EQ(s.live_count, 2);
	ASSERT_EQ(s.live_bytes, 200);
	/* The first row of all of them. */
	ward_profile_t *top = ward_profile_by_line(p, 1);
	ASSERT_NOT_NULL(top);
	ASSERT_EQ(ward_profile_count(top), 1);
	ASSERT_EQ(ward_profile_sample(top, 0)->live_bytes,
		  ward_profile_sample(r, 0)->live_bytes);
	ASSERT_EQ(ward_profile_sample(top, 0)->pcs,
		  ward_profile_sample(r, 0)->pcs);
	ASSERT_NULL(ward_profile_by_line(NULL, 0));
	ward_profile_free(top);
	ward_profile_free(r);
	ward_profile_free(p);
	ward_free(a);
	ward_free(b);
	ward_free(c);
}

TEST(diff_shows_what_grew)
{
	ward_profile_t *a = ward_profile_snapshot();
	void *keep[4];
	for (int i = 0; i < 4; i++)
		keep[i] = leak_big();
	ward_profile_t *b = ward_profile_snapshot();
	ward_profile_t *d = ward_profile_diff(a, b);
	struct ward_sample s = sum_in(d, "leak_big");
	ASSERT_EQ(s.live_count, 4);
	ASSERT_EQ(s.live_bytes, 4000);
	ASSERT_NULL(sample_in(d, "leak_small"));
	ward_profile_free(a);
	ward_profile_free(b);
	ward_profile_free(d);
	for (int i = 0; i < 4; i++)
		ward_free(keep[i]);
	ward_profile_free(NULL);
}

static void *sleeper(void *arg)
{
	usleep(50 * 1000);
	return arg;
}

TEST(leakcheck_reports_every_kind_with_sites)
{
	void *before = leak_small(); /* live before begin: not a leak */
	ward_leakcheck_t *lc = ward_leakcheck_begin();
	ASSERT_NOT_NULL(lc);
	void *a = leak_small(), *b = leak_big();
	ward_free(a);
	int fd = leak_fd();
	FILE *f = ward_fopen("/dev/null", "r");
	pthread_t th;
	ASSERT_EQ(ward_thread_create(&th, NULL, sleeper, NULL), 0);
	int ignored = ward_open("/dev/null", O_RDONLY);
	ASSERT_EQ(ward_leakcheck_ignore(lc, WARD_KIND_FD, (uintptr_t)ignored), 0);
	ward_profile_t *leaks = NULL;
	setenv("WARD_LEAKCHECK_WAIT_MS", "20", 1);
	int n = ward_leakcheck_end(lc, &leaks);
	ASSERT_EQ(n, 4); /* b, fd, f, the thread */
	ASSERT_NOT_NULL(sample_in(leaks, "leak_big"));
	ASSERT_NULL(sample_in(leaks, "leak_small"));
	const struct ward_sample *s = sample_in(leaks, "leak_fd");
	ASSERT_NOT_NULL(s);
	ASSERT_EQ(s->kind, WARD_KIND_FD);
	ward_profile_free(leaks);

	lc = ward_leakcheck_begin();
	ward_free(b);
	ward_close(fd);
	ward_close(ignored);
	ward_fclose(f);
	ASSERT_EQ(ward_thread_join(th, NULL), 0);
	ASSERT_EQ(ward_leakcheck_end(lc, &leaks), 0);
	ASSERT_NULL(leaks);
	ward_free(before);
}

/* Whether a suppression of pattern pat takes the site of fn out of a
 * snapshot (fn's block live meanwhile). */
static bool suppresses(const char *pat, const char *fn)
{
	char text[256];
	ward_suppressions_t *s = NULL;
	snprintf(text, sizeof(text), "leak:%s\n", pat);
	if (ward_suppressions_parse(text, false, &s, NULL, 0) != 0)
		return false;
	ward_profile_t *p = ward_profile_snapshot();
	struct ward_suppressed gone = { 0, 0, 0 };
	const struct ward_sample *smp = p ? sample_in(p, fn) : NULL;
	bool out = smp && smp->live_count > 0 &&
		   ward_profile_suppress(p, s, &gone) == 0 &&
		   smp->live_count == 0;
	ward_profile_free(p);
	ward_suppressions_free(s);
	return out;
}

TEST(suppression_patterns_read_as_leaksanitizer_reads_them)
{
	void *a = leak_small(), *b = leak_big();
	ASSERT_TRUE(suppresses("eak_sm", "leak_small"));      /* anywhere */
	ASSERT_TRUE(!suppresses("eak_sm", "leak_big"));
	ASSERT_TRUE(suppresses("^leak_b", "leak_big"));       /* a prefix */
	ASSERT_TRUE(!suppresses("^eak_big", "leak_big"));
	ASSERT_TRUE(suppresses("_big$", "leak_big"));         /* a suffix */
	ASSERT_TRUE(!suppresses("leak_bi$", "leak_big"));
	ASSERT_TRUE(suppresses("^leak_big$", "leak_big"));    /* whole */
	ASSERT_TRUE(!suppresses("^leak_bi$", "leak_big"));
	ASSERT_TRUE(suppresses("^leak_*l$", "leak_small"));   /* '*' */
	ASSERT_TRUE(!suppresses("^leak_*l$", "leak_big"));
	ASSERT_TRUE(suppresses("^l*k_s*l", "leak_small"));
	ASSERT_TRUE(!suppresses("^l*k_s*l", "leak_big"));
	ASSERT_TRUE(suppresses("^*_big", "leak_big"));
	ASSERT_TRUE(!suppresses("^$", "leak_big"));           /* nothing */
	ASSERT_TRUE(suppresses("^*l*e*a*k*_*s*m*a*l*l$", "leak_small"));
	ASSERT_TRUE(!suppresses("^*l*e*a*k*_*s*m*a*l*l*l$", "leak_small"));
	ward_free(a);
	ward_free(b);
}

TEST(suppressions_take_sites_out_of_checks_and_profiles)
{
	char err[256];
	ward_suppressions_t *s = NULL;
	ASSERT_EQ(ward_suppressions_parse("# ours\nleak:ok\nbogus line\n", false,
					  &s, err, sizeof(err)), -EINVAL);
	ASSERT_NULL(s);
	ASSERT_NOT_NULL(strstr(err, "line 3: not a suppression"));
	/* The line is quoted printable: a file of anyone's bytes. */
	ASSERT_EQ(ward_suppressions_parse("\033[2J\xc2\x9b" "31m\xff bad\n", false,
					  &s, err, sizeof(err)), -EINVAL);
	ASSERT_NOT_NULL(strstr(err, "line 1: not a suppression (leak:PATTERN): "
				    "'?[2J??31m? bad'"));
	ASSERT_EQ(ward_suppressions_load("/nonexistent/supp", false, &s, err,
					 sizeof(err)), -ENOENT);
	ASSERT_EQ(ward_suppressions_load("/dev/null", false, &s, err,
					 sizeof(err)), -EINVAL);
	ASSERT_NOT_NULL(strstr(err, "not a regular file"));
	ASSERT_EQ(ward_suppressions_parse("  leak:^leak_big$  # the cache\n",
					  true, &s, err, sizeof(err)), 0);

	ward_leakcheck_t *lc = ward_leakcheck_begin();
	ASSERT_NOT_NULL(lc);
	ASSERT_EQ(ward_leakcheck_suppress(lc, s), 0);
	void *a = leak_small(), *b = leak_big();
	ward_profile_t *leaks = NULL;
	ASSERT_EQ(ward_leakcheck_end(lc, &leaks), 1); /* leak_big's is not */
	ASSERT_NOT_NULL(sample_in(leaks, "leak_small"));
	ASSERT_NULL(sample_in(leaks, "leak_big"));
	ward_profile_free(leaks);

	ward_profile_t *p = ward_profile_snapshot();
	ASSERT_NOT_NULL(p);
	const struct ward_sample *big = sample_in(p, "leak_big");
	ASSERT_NOT_NULL(big);
	int64_t count = big->live_count, bytes = big->live_bytes;
	ASSERT_GT(count, 0);
	struct ward_suppressed gone = { 0, 0, 0 };
	ASSERT_EQ(ward_profile_suppress(p, s, &gone), 0);
	ASSERT_EQ(big->live_count, 0);
	ASSERT_EQ(gone.count, count);
	ASSERT_EQ(gone.bytes, bytes);
	ASSERT_EQ(gone.sites, 1);
	ASSERT_GT(sample_in(p, "leak_small")->live_count, 0);
	ASSERT_EQ(ward_profile_suppress(p, NULL, &gone), -EINVAL);
	ward_profile_free(p);
	ward_suppressions_free(s);
	ward_suppressions_free(NULL);
	ward_free(a);
	ward_free(b);
}

/* Each depth of this recursion is a new stack, so a new site. */
static _Atomic int stop_sites;
static int site_kind;

__attribute__((noinline)) static void track_at_depth(int depth, uintptr_t h)
{
	if (depth > 0) {
		track_at_depth(depth - 1, h);
		__asm__ volatile("" ::: "memory");
		return;
	}
	ward_track(site_kind, h, 1);
}

/* Two recursions in a row: 30 x 30 stacks, all within the captured
 * depth. */
__attribute__((noinline)) static void track_at_depths(int outer, int inner,
						      uintptr_t h)
{
	if (outer > 0) {
		track_at_depths(outer - 1, inner, h);
		__asm__ volatile("" ::: "memory");
		return;
	}
	track_at_depth(inner, h);
	__asm__ volatile("" ::: "memory");
}

static void *makes_sites(void *arg)
{
	(void)arg;
	uintptr_t i;
	for (i = 1; !atomic_load(&stop_sites); i++) {
		track_at_depths((int)(i / 30 % 30), (int)(i % 30), i);
		if (i > 16)
			ward_untrack(site_kind, i - 16); /* 16 stay live */
		usleep(20);
	}
	for (uintptr_t h = i > 16 ? i - 16 : 1; h < i; h++)
		ward_untrack(site_kind, h);
	return NULL;
}

TEST(leakcheck_with_sites_made_meanwhile)
{
	/* Sites made by another thread while a check ends must not be
	 * counted past its arrays (ASan runs this too). */
	site_kind = ward_kind_register("site_maker");
	pthread_t th;
	ASSERT_EQ(pthread_create(&th, NULL, makes_sites, NULL), 0);
	for (int round = 0; round < 200; round++) {
		ward_leakcheck_t *lc = ward_leakcheck_begin();
		ASSERT_NOT_NULL(lc);
		usleep(200);
		ward_profile_t *leaks = NULL;
		int n = ward_leakcheck_end(lc, &leaks);
		ASSERT_GE(n, 0);
		ward_profile_free(leaks);
	}
	atomic_store(&stop_sites, 1);
	ASSERT_EQ(pthread_join(th, NULL), 0);
	/* The thread released all it tracked. */
	ward_profile_t *p = ward_profile_snapshot();
	for (size_t i = 0; i < ward_profile_count(p); i++)
		ASSERT_TRUE(ward_profile_sample(p, i)->kind != site_kind ||
			    ward_profile_sample(p, i)->live_count == 0);
	ward_profile_free(p);
}

TEST(leakcheck_counts_a_handle_released_and_acquired_again)
{
	/* A user kind, so the handle is the same one on purpose. */
	int kind = ward_kind_register("reacquired");
	ASSERT_EQ(ward_track(kind, 42, 1), 0);
	ward_leakcheck_t *lc = ward_leakcheck_begin();
	ASSERT_EQ(ward_untrack(kind, 42), 0);
	ASSERT_EQ(ward_track(kind, 42, 1), 0); /* same handle, same site */
	ward_profile_t *leaks = NULL;
	ASSERT_EQ(ward_leakcheck_end(lc, &leaks), 1);
	ASSERT_NOT_NULL(leaks);
	ASSERT_EQ(ward_profile_sample(leaks, 0)->kind, kind);
	ward_profile_free(leaks);
	/* Held throughout: not a leak. */
	lc = ward_leakcheck_begin();
	ASSERT_EQ(ward_leakcheck_end(lc, NULL), 0);
	ASSERT_EQ(ward_untrack(kind, 42), 0);
}

/* Kept reachable: a leak check counts what was acquired and not released,
 * reachable or not, while valgrind (which runs this suite) fails the run
 * on a block nothing points to. */
static void *volatile leaked_on_purpose;

static void leaky_test_body(void)
{
	ward_leakcheck_t *lc = ward_leakcheck_begin();
	leaked_on_purpose = leak_big();
	ward_leakcheck_verify(lc, "leaky_test_body");
	printf("not reached\n");
}

static void clean_test_body(void)
{
	ward_leakcheck_t *lc = ward_leakcheck_begin();
	ward_free(leak_big());
	printf("verify: %d\n", ward_leakcheck_verify(lc, "clean_test_body"));
}

static void to_mem_null(void *opaque, const void *buf, size_t len)
{
}

TEST(leakcheck_verify_fails_the_test_with_a_report)
{
	struct ward_test_spawned r = ward_test_spawn(leaky_test_body);
	ASSERT_EQ(r.status, 1);
	ASSERT_CONTAINS(r.err, "ward: leaky_test_body leaked 1 resource:");
	ASSERT_CONTAINS(r.err, "leak_big+0x");
	ASSERT_TRUE(!strstr(r.out, "not reached"));
	ward_test_spawned_free(&r);

	r = ward_test_spawn(clean_test_body);
	ASSERT_EQ(r.status, 0);
	ASSERT_CONTAINS(r.out, "verify: 0");
	ASSERT_EQ(r.err[0], '\0');
	ward_test_spawned_free(&r);
}

/* The report of ward_leakcheck_verify goes through the log hook. */
static void log_to_stdout(void *opaque, enum ward_log_level level,
			  const char *msg, size_t len)
{
	printf("[hook %d] %.*s", (int)level, (int)len, msg);
	fflush(stdout);
}

static void leaky_test_body_logged(void)
{
	ward_set_log_hook(log_to_stdout, NULL);
	leaky_test_body();
}

TEST(leakcheck_verify_reports_through_the_log_hook)
{
	struct ward_test_spawned r = ward_test_spawn(leaky_test_body_logged);
	ASSERT_EQ(r.status, 1);
	ASSERT_CONTAINS(r.out, "[hook 2] ward: leaky_test_body leaked 1 "
			       "resource:");
	ASSERT_CONTAINS(r.out, "leak_big+0x");
	ASSERT_TRUE(!strstr(r.err, "leaked"));
	ward_test_spawned_free(&r);
}

/* A NULL where an object is needed is refused, never a crash (the error
 * convention in ward/core.h). */
TEST(public_functions_refuse_null)
{
	ward_profile_t *p = NULL;
	char err[64];
	ASSERT_EQ(ward_leakcheck_end(NULL, NULL), -EINVAL);
	ASSERT_EQ(ward_leakcheck_end(NULL, &p), -EINVAL);
	ASSERT_TRUE(p == NULL);
	ASSERT_EQ(ward_leakcheck_ignore(NULL, WARD_KIND_HEAP, 1), -EINVAL);
	ASSERT_EQ(ward_kind_stats(WARD_KIND_HEAP, NULL), -EINVAL);
	ASSERT_EQ(ward_kind_register(NULL), -EINVAL);
	ASSERT_TRUE(ward_profile_diff(NULL, NULL) == NULL);
	ASSERT_EQ(ward_profile_count(NULL), 0);
	ASSERT_TRUE(ward_profile_sample(NULL, 0) == NULL);
	ASSERT_TRUE(ward_profile_kind_name(NULL, 0) == NULL);
	ASSERT_EQ(ward_profile_write(NULL, WARD_FORMAT_TEXT, to_mem_null, NULL),
		  -EINVAL);
	ASSERT_EQ(ward_profile_save(NULL, "/tmp/x", WARD_FORMAT_TEXT), -EINVAL);
	ASSERT_EQ(ward_profile_read(NULL, 0, NULL, err, sizeof(err)), -EINVAL);
	ASSERT_EQ(ward_profile_load(NULL, &p, err, sizeof(err)), -EINVAL);
	ASSERT_EQ(ward_profile_load("/nonexistent", NULL, err, sizeof(err)),
		  -EINVAL);
	ASSERT_EQ(ward_trace_signal_number(NULL), -EINVAL);
	errno = 0;
	ASSERT_TRUE(ward_fopen(NULL, "r") == NULL);
	ASSERT_EQ(errno, EINVAL);
	ASSERT_TRUE(ward_fopen("/dev/null", NULL) == NULL);
	ASSERT_EQ(ward_thread_create(NULL, NULL, NULL, NULL), EINVAL);
	ward_profile_free(NULL);
	ward_free(NULL);
	ASSERT_EQ(ward_fclose(NULL), 0);
	ward_defer_stats(NULL);
}

TEST(realloc_moves_the_record)
{
	char *p = ward_malloc(10);
	p = ward_realloc(p, 100000);
	ASSERT_NOT_NULL(p);
	struct ward_kind_stats st;
	ward_kind_stats(WARD_KIND_HEAP, &st);
	ASSERT_EQ(st.live_count, 1);
	ASSERT_EQ(st.live_bytes, 100000);
	ASSERT_NULL(ward_realloc(p, 0));
	ward_kind_stats(WARD_KIND_HEAP, &st);
	ASSERT_EQ(st.live_count, 0);
	ward_free(NULL);
	ASSERT_EQ(ward_fclose(NULL), 0);
}

void *dwarf_caller(void);
__attribute__((noinline)) void *dwarf_caller(void)
{
	void *p = nofp_outer(1);
	__asm__ volatile("" ::: "memory");
	return p;
}

static bool stack_has(const struct ward_sample *s, const char *fn)
{
	extern void ward__describe_pc(uintptr_t pc, char *buf, size_t len);
	char frame[512];
	for (int k = 0; k < s->depth; k++) {
		ward__describe_pc(s->pcs[k], frame, sizeof(frame));
		if (strncmp(frame, fn, strlen(fn)) == 0)
			return true;
	}
	return false;
}

static const struct ward_sample *three_byte_sample(ward_profile_t *p)
{
	for (size_t i = 0; i < ward_profile_count(p); i++) {
		const struct ward_sample *s = ward_profile_sample(p, i);
		if (s->live_bytes == 3)
			return s;
	}
	return NULL;
}

TEST(dwarf_stacks_see_through_code_without_frame_pointers)
{
	setenv("WARD_STACK", "dwarf", 1);
	void *p = dwarf_caller();
	ward_profile_t *prof = ward_profile_snapshot();
	const struct ward_sample *s = three_byte_sample(prof);
	ASSERT_NOT_NULL(s);
	ASSERT_TRUE(stack_has(s, "nofp_outer"));
	ASSERT_TRUE(stack_has(s, "dwarf_caller"));
	ward_profile_free(prof);
	ward_free(p);
}

TEST(cfi_stacks_see_through_code_without_frame_pointers)
{
	/* The default walker. */
	void *p = dwarf_caller();
	ward_profile_t *prof = ward_profile_snapshot();
	const struct ward_sample *s = three_byte_sample(prof);
	ASSERT_NOT_NULL(s);
	ASSERT_TRUE(stack_has(s, "nofp_outer"));
	ASSERT_TRUE(stack_has(s, "dwarf_caller"));
	ASSERT_TRUE(stack_has(s, "main"));
	ward_profile_free(prof);
	ward_free(p);
}

/*
 * The walker remembers walks and does not repeat one that starts at the
 * same place and would read the same stack words. Here every acquisition
 * starts from the same stack address; what differs is one return address
 * deep in the stack (which outer function) or in the middle (which twin).
 */
void *nofp_twin_a(size_t n);
void *nofp_twin_b(size_t n);
static volatile int outer_which;

__attribute__((noinline)) static void *outer_x(void *(*twin)(size_t))
{
	outer_which = 1;
	void *p = twin(11);
	__asm__ volatile("" ::: "memory");
	return p;
}

__attribute__((noinline)) static void *outer_y(void *(*twin)(size_t))
{
	outer_which = 2;
	void *p = twin(11);
	__asm__ volatile("" ::: "memory");
	return p;
}

TEST(remembered_walks_see_every_change_of_caller)
{
	enum { N = 50 };
	void *v[3][N];
	for (int i = 0; i < N; i++) {
		v[0][i] = outer_x(nofp_twin_a);
		v[1][i] = outer_y(nofp_twin_a);
		v[2][i] = outer_x(nofp_twin_b);
	}
	ward_profile_t *prof = ward_profile_snapshot();
	int found = 0;
	for (size_t i = 0; i < ward_profile_count(prof); i++) {
		const struct ward_sample *s = ward_profile_sample(prof, i);
		if (s->live_bytes == 0 || s->live_bytes % 11 != 0)
			continue;
		ASSERT_EQ(s->live_count, N);
		bool x = stack_has(s, "outer_x"), y = stack_has(s, "outer_y");
		bool a = stack_has(s, "nofp_twin_a"), b = stack_has(s, "nofp_twin_b");
		ASSERT_TRUE(x != y);
		ASSERT_TRUE(a != b);
		ASSERT_TRUE(!(y && b));
		found |= x && a ? 1 : y && a ? 2 : 4;
	}
	ASSERT_EQ(found, 7);
	ward_profile_free(prof);
	for (int k = 0; k < 3; k++)
		for (int i = 0; i < N; i++)
			ward_free(v[k][i]);
}

TEST(fp_stacks_skip_frames_without_frame_pointers)
{
	setenv("WARD_STACK", "fp", 1);
	/* The documented limit of the default walker: the frame-pointer
	 * chain passes over functions without frame pointers, and over the
	 * return address of whoever called them. */
	void *p = dwarf_caller();
	ward_profile_t *prof = ward_profile_snapshot();
	const struct ward_sample *s = three_byte_sample(prof);
	ASSERT_NOT_NULL(s);
	ASSERT_GE(s->depth, 2);
	ASSERT_TRUE(!stack_has(s, "nofp_outer"));
	ASSERT_TRUE(!stack_has(s, "dwarf_caller"));
	ward_profile_free(prof);
	ward_free(p);
}

/* ---- Stress: totals balance exactly under concurrency ------------------ */

enum { STRESS_THREADS = 4, STRESS_OPS = 100000 };
static atomic_int stop_snapshots;
static int stress_kind;
static uintptr_t stress_left[STRESS_THREADS + 1][64]; /* still tracked */
/* What each worker did, counted by the worker itself: the registry's
 * totals are checked against these, not against each other. */
static uint64_t stress_tracked[STRESS_THREADS + 1];
static uint64_t stress_untracked[STRESS_THREADS + 1];

static void *stress_worker(void *arg)
{
	uintptr_t base = (uintptr_t)arg * 1000000 + 1;
	uintptr_t held[64] = { 0 };
	unsigned seed = (unsigned)(uintptr_t)arg;
	for (int i = 0; i < STRESS_OPS; i++) {
		int slot = (int)(rand_r(&seed) % 64);
		if (held[slot]) {
			int rc = ward_untrack(stress_kind, held[slot]);
			if (rc != 0)
				return (void *)(intptr_t)(1000 - rc);
			held[slot] = 0;
			stress_untracked[(uintptr_t)arg]++;
		} else {
			held[slot] = base + (uintptr_t)i;
			int rc = ward_track(stress_kind, held[slot], 8);
			if (rc != 0)
				return (void *)(intptr_t)(2000 - rc);
			stress_tracked[(uintptr_t)arg]++;
		}
	}
	for (int s = 0; s < 64; s++) {
		if (held[s] && (s % 2)) {
			if (ward_untrack(stress_kind, held[s]))
				return (void *)1;
			stress_untracked[(uintptr_t)arg]++;
		}
		if (!(s % 2))
			stress_left[(uintptr_t)arg][s] = held[s];
	}
	return NULL;
}

static void *snapshotter(void *arg)
{
	long n = 0;
	while (!atomic_load(&stop_snapshots)) {
		ward_profile_t *p = ward_profile_snapshot();
		for (size_t i = 0; i < ward_profile_count(p); i++) {
			const struct ward_sample *s = ward_profile_sample(p, i);
			/* Counters are read releases first, so live
			 * counts and bytes are never negative. */
			if (s->live_count < 0 || s->live_bytes < 0)
				return (void *)1;
		}
		ward_profile_free(p);
		n++;
	}
	*(long *)arg = n;
	return NULL;
}

TEST(stress_totals_balance_exactly)
{
	stress_kind = ward_kind_register("stress");
	pthread_t w[STRESS_THREADS], snap;
	long snaps = 0;
	ASSERT_EQ(pthread_create(&snap, NULL, snapshotter, &snaps), 0);
	for (intptr_t i = 0; i < STRESS_THREADS; i++)
		ASSERT_EQ(pthread_create(&w[i], NULL, stress_worker,
					 (void *)(i + 1)),
			  0);
	for (int i = 0; i < STRESS_THREADS; i++) {
		void *r;
		pthread_join(w[i], &r);
		ASSERT_NULL(r);
	}
	atomic_store(&stop_snapshots, 1);
	void *r;
	pthread_join(snap, &r);
	ASSERT_NULL(r);
	ASSERT_GE(snaps, 1);

	/* The totals against what the workers counted themselves. */
	uint64_t tracked = 0, untracked = 0, left = 0;
	for (int i = 1; i <= STRESS_THREADS; i++) {
		tracked += stress_tracked[i];
		untracked += stress_untracked[i];
		for (int s = 0; s < 64; s++)
			left += stress_left[i][s] != 0;
	}
	ASSERT_EQ(tracked - untracked, left);
	struct ward_kind_stats st;
	ward_kind_stats(stress_kind, &st);
	ASSERT_EQ(st.acquired_count, tracked);
	ASSERT_EQ(st.released_count, untracked);
	ASSERT_EQ(st.live_count, left);
	ASSERT_EQ(st.live_bytes, left * 8);
	/* What is live is exactly what the registry still holds. */
	ward_leakcheck_t *lc = ward_leakcheck_begin();
	ward_profile_t *all = ward_profile_snapshot();
	int64_t live = 0;
	for (size_t i = 0; i < ward_profile_count(all); i++)
		if (ward_profile_sample(all, i)->kind == stress_kind)
			live += ward_profile_sample(all, i)->live_count;
	ASSERT_EQ(live, (int64_t)st.live_count);
	ward_profile_free(all);
	ASSERT_EQ(ward_leakcheck_end(lc, NULL), 0);
	for (int i = 1; i <= STRESS_THREADS; i++)
		for (int s = 0; s < 64; s++)
			if (stress_left[i][s])
				ASSERT_EQ(ward_untrack(stress_kind, stress_left[i][s]), 0);
	ward_kind_stats(stress_kind, &st);
	ASSERT_EQ(st.live_count, 0);
}

/* ---- Profiles read by the real go tool pprof --------------------------- */

static char self_path[4096];

static void need_go(void)
{
	if (system("go version >/dev/null 2>&1") != 0)
		ward_test__fail(__FILE__, __LINE__,
				"go is missing: sudo apt-get install -y golang-go");
	ssize_t n = readlink("/proc/self/exe", self_path, sizeof(self_path) - 1);
	ASSERT_GE(n, 1);
	self_path[n] = '\0';
}

/* Run a command, return its stdout (caller frees). Fails the test if it
 * exits non-zero. */
static char *run(const char *cmd)
{
	FILE *f = popen(cmd, "r");
	ASSERT_NOT_NULL(f);
	size_t cap = 1 << 16, len = 0;
	char *out = malloc(cap);
	size_t r;
	while ((r = fread(out + len, 1, cap - len - 1, f)) > 0) {
		len += r;
		if (len + 1 == cap)
			out = realloc(out, cap *= 2);
	}
	out[len] = '\0';
	int st = pclose(f);
	if (st != 0)
		ward_test__fail(__FILE__, __LINE__, "`%s` failed (%d):\n%s",
				cmd, st, out);
	return out;
}

static char *pprof(const char *args, const char *file)
{
	char cmd[8192];
	snprintf(cmd, sizeof(cmd),
		 "HOME=${HOME:-/tmp} go tool pprof %s %s %s 2>&1", args,
		 self_path, file);
	return run(cmd);
}

static void write_leak_profile(const char *path, void **keep, int *fds)
{
	for (int i = 0; i < 10; i++)
		keep[i] = leak_small();
	for (int i = 10; i < 15; i++)
		keep[i] = leak_big();
	for (int i = 0; i < 3; i++)
		fds[i] = leak_fd();
	ward_profile_t *p = ward_profile_snapshot();
	ASSERT_EQ(ward_profile_save(p, path, WARD_FORMAT_PPROF), 0);
	ward_profile_free(p);
}

TEST(go_tool_pprof_reads_the_profile)
{
	need_go();
	char path[] = "/tmp/ward-test-XXXXXX.pb.gz";
	int tfd = mkstemps(path, 6);
	ASSERT_GE(tfd, 0);
	close(tfd);
	void *keep[15];
	int fds[3];
	write_leak_profile(path, keep, fds);
	struct stat sb;
	ASSERT_EQ(stat(path, &sb), 0);
	ASSERT_EQ(sb.st_mode & 0777, 0644);

	char *top = pprof("-top -sample_index=inuse_space", path);
	ASSERT_CONTAINS(top, "leak_big");
	ASSERT_CONTAINS(top, "leak_small");
	ASSERT_CONTAINS(top, "Type: inuse_space");
	/* 5 x 1000 and 10 x 100 bytes; the three descriptors are 0 bytes. */
	ASSERT_CONTAINS(top, "5000B 83.33%");
	ASSERT_CONTAINS(top, "1000B 16.67%");
	free(top);

	char *objs = pprof("-top -sample_index=inuse_objects "
			   "-tagfocus=kind=fd", path);
	ASSERT_CONTAINS(objs, "leak_fd");
	ASSERT_TRUE(!strstr(objs, "leak_big"));
	free(objs);

	char *alloc = pprof("-top -sample_index=alloc_objects", path);
	ASSERT_CONTAINS(alloc, "leak_small");
	free(alloc);

	char *traces = pprof("-traces", path);
	ASSERT_CONTAINS(traces, "kind:  heap");
	ASSERT_CONTAINS(traces, "kind:  fd");
	ASSERT_CONTAINS(traces, "test_go_tool_pprof_reads_the_profile");
	free(traces);

	char *raw = pprof("-raw", path);
	ASSERT_CONTAINS(raw, "alloc_objects/count alloc_space/bytes "
			     "inuse_objects/count inuse_space/bytes");
	ASSERT_CONTAINS(raw, "Mappings");
	free(raw);
	unlink(path);
	for (int i = 0; i < 15; i++)
		ward_free(keep[i]);
	for (int i = 0; i < 3; i++)
		ward_close(fds[i]);
}

TEST(go_tool_pprof_base_shows_growth)
{
	need_go();
	char base[] = "/tmp/ward-base-XXXXXX.pb.gz";
	char now[] = "/tmp/ward-now-XXXXXX.pb.gz";
	close(mkstemps(base, 6));
	close(mkstemps(now, 6));
	ward_profile_t *p = ward_profile_snapshot();
	ASSERT_EQ(ward_profile_save(p, base, WARD_FORMAT_PPROF), 0);
	ward_profile_free(p);
	void *keep[7];
	for (int i = 0; i < 7; i++)
		keep[i] = leak_big();
	p = ward_profile_snapshot();
	ASSERT_EQ(ward_profile_save(p, now, WARD_FORMAT_PPROF), 0);
	ward_profile_free(p);
	char args[256];
	snprintf(args, sizeof(args), "-top -sample_index=inuse_objects -base %s",
		 base);
	char *top = pprof(args, now);
	ASSERT_CONTAINS(top, "leak_big");
	ASSERT_CONTAINS(top, "Showing nodes accounting for 7, 100% of 7 total");
	free(top);
	unlink(base);
	unlink(now);
	for (int i = 0; i < 7; i++)
		ward_free(keep[i]);
}

TEST(save_is_atomic_and_reports_errors)
{
	ward_profile_t *p = ward_profile_snapshot();
	ASSERT_EQ(ward_profile_save(p, "/nonexistent-dir/x.pb.gz",
				    WARD_FORMAT_PPROF),
		  -ENOENT);
	char path[] = "/tmp/ward-text-XXXXXX";
	close(mkstemp(path));
	void *k = leak_big();
	ward_profile_free(p);
	p = ward_profile_snapshot();
	ASSERT_EQ(ward_profile_save(p, path, WARD_FORMAT_TEXT), 0);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "cat %s", path);
	char *text = run(cmd);
	ASSERT_CONTAINS(text, "live bytes");
	ASSERT_CONTAINS(text, "leak_big+0x");
	free(text);
	ASSERT_EQ(ward_profile_save(p, path, WARD_FORMAT_JSON), 0);
	text = run(cmd);
	ASSERT_CONTAINS(text, "\"kind\":\"heap\"");
	ASSERT_CONTAINS(text, "\"live_bytes\":1000");
	free(text);
	ASSERT_EQ(ward_profile_save(p, path, (enum ward_format)9), -EINVAL);
	ward_profile_free(p);
	unlink(path);
	ward_free(k);
}

/* ---- Reading profiles back --------------------------------------------- */

struct membuf {
	unsigned char *p;
	size_t len, cap;
};

static void to_mem(void *opaque, const void *buf, size_t len)
{
	struct membuf *m = opaque;
	if (m->len + len > m->cap) {
		m->cap = (m->len + len) * 2;
		m->p = realloc(m->p, m->cap);
	}
	memcpy(m->p + m->len, buf, len);
	m->len += len;
}

TEST(pprof_round_trips)
{
	void *keep[3] = { leak_small(), leak_big(), leak_big() };
	int fd = leak_fd();
	ward_profile_t *p = ward_profile_snapshot();
	struct membuf m = { 0 };
	ASSERT_EQ(ward_profile_write(p, WARD_FORMAT_PPROF, to_mem, &m), 0);
	ward_profile_t *back = NULL;
	char err[256];
	ASSERT_EQ(ward_profile_read(m.p, m.len, &back, err, sizeof(err)), 0);
	ASSERT_EQ(ward_profile_count(back), ward_profile_count(p));
	for (size_t i = 0; i < ward_profile_count(p); i++) {
		const struct ward_sample *a = ward_profile_sample(p, i);
		const struct ward_sample *b = ward_profile_sample(back, i);
		ASSERT_EQ(a->kind, b->kind);
		ASSERT_EQ(a->live_count, b->live_count);
		ASSERT_EQ(a->live_bytes, b->live_bytes);
		ASSERT_EQ(a->alloc_count, b->alloc_count);
		ASSERT_EQ(a->alloc_bytes, b->alloc_bytes);
		ASSERT_EQ(a->leak, b->leak);
		ASSERT_EQ(a->depth, b->depth);
		ASSERT_STREQ(ward_kind_name(a->kind), ward_kind_name(b->kind));
		for (int k = 0; k < a->depth; k++) {
			ASSERT_EQ(a->pcs[k], b->pcs[k]);
			/* Named through the profile's own mappings, each frame
			 * is the function it is in this process. */
			char here[512], there[512];
			ward__describe(NULL, a->pcs[k], here, sizeof(here));
			ward__describe(back, b->pcs[k], there, sizeof(there));
			ward__frame_function(here, true);
			ward__frame_function(there, true);
			ASSERT_STREQ(there, here);
		}
	}
	/* The mappings name this program among the loaded objects. */
	const struct ward_profile *bp = back;
	bool self_mapped = false;
	for (size_t i = 0; i < bp->nmaps; i++)
		if (bp->maps[i].file && strstr(bp->maps[i].file, "test_track"))
			self_mapped = true;
	ASSERT_TRUE(self_mapped);
	ward_profile_free(back);
	ward_profile_free(p);
	free(m.p);
	ward_free(keep[0]);
	ward_free(keep[1]);
	ward_free(keep[2]);
	ward_close(fd);
}

/* A profile owns what names it: written again after it was read, it
 * carries the mappings (file, range, offset, build id) and kind names it
 * was read with, not the running process's. */
TEST(loaded_profile_written_again_keeps_its_own_names)
{
	void *keep = leak_big();
	ward_profile_t *p = ward_profile_snapshot();
	struct membuf m = { 0 }, m2 = { 0 };
	ASSERT_EQ(ward_profile_write(p, WARD_FORMAT_PPROF, to_mem, &m), 0);
	ward_profile_t *back = NULL, *again = NULL;
	char err[256];
	ASSERT_EQ(ward_profile_read(m.p, m.len, &back, err, sizeof(err)), 0);
	struct ward_profile *bp = back;
	ASSERT_TRUE(bp->nmaps > 0);
	bool with_build_id = false;
	for (size_t i = 0; i < bp->nmaps; i++)
		with_build_id |= bp->maps[i].build_id != NULL;
	ASSERT_TRUE(with_build_id); /* Debian's gcc and clang write them */
	/* As if read on another machine, where the objects live elsewhere. */
	for (size_t i = 0; i < bp->nmaps; i++) {
		free(bp->maps[i].file);
		bp->maps[i].file = strdup("/elsewhere/libmoved.so");
	}
	ASSERT_EQ(ward_profile_write(back, WARD_FORMAT_PPROF, to_mem, &m2), 0);
	ASSERT_EQ(ward_profile_read(m2.p, m2.len, &again, err, sizeof(err)), 0);
	const struct ward_profile *ap = again;
	ASSERT_EQ(ap->nmaps, bp->nmaps);
	for (size_t i = 0; i < ap->nmaps; i++) {
		ASSERT_EQ(ap->maps[i].start, bp->maps[i].start);
		ASSERT_EQ(ap->maps[i].limit, bp->maps[i].limit);
		ASSERT_EQ(ap->maps[i].offset, bp->maps[i].offset);
		ASSERT_STREQ(ap->maps[i].file, "/elsewhere/libmoved.so");
		if (bp->maps[i].build_id)
			ASSERT_STREQ(ap->maps[i].build_id, bp->maps[i].build_id);
	}
	for (int k = 0; k < WARD_KIND_USER; k++)
		if (ward_kind_name(k))
			ASSERT_STREQ(ward_profile_kind_name(again, k),
				     ward_kind_name(k));
	ASSERT_TRUE(ward_profile_kind_name(again, WARD_KIND_MAX) == NULL);
	ASSERT_TRUE(ward_profile_kind_name(NULL, 0) == NULL);
	ward_profile_free(again);
	ward_profile_free(back);
	ward_profile_free(p);
	free(m.p);
	free(m2.p);
	ward_free(keep);
}

/* A named profile carries function, file and line for every frame, and
 * a reader names its frames from them, binary or not. */
TEST(named_profiles_carry_their_frames_names)
{
	void *keep = leak_big();
	ward_profile_t *p = ward_profile_snapshot();
	struct membuf m = { 0 };
	ASSERT_EQ(ward_profile_write(p, WARD_FORMAT_PPROF_NAMED, to_mem, &m), 0);
	ward_profile_t *back = NULL;
	char err[256];
	ASSERT_EQ(ward_profile_read(m.p, m.len, &back, err, sizeof(err)), 0);
	const struct ward_profile *bp = back;
	ASSERT_GT(bp->nnamed, 0);
	bool found = false;
	for (size_t i = 0; i < ward_profile_count(back); i++) {
		const struct ward_sample *s = ward_profile_sample(back, i);
		for (int k = 0; k < s->depth; k++) {
			uint32_t n;
			const struct ward__src_frame *f =
				ward__profile_named(back, s->pcs[k], &n);
			if (f && strcmp(f[n - 1].func, "leak_big") == 0) {
				ASSERT_STREQ(f[n - 1].file, "test_track.c");
				ASSERT_GT(f[n - 1].line, 0);
				found = true;
			}
		}
	}
	ASSERT_TRUE(found);
	ward_profile_free(back);
	ward_profile_free(p);
	free(m.p);
	ward_free(keep);
}

TEST(pprof_reader_refuses_bad_input_with_reasons)
{
	void *k = leak_big();
	ward_profile_t *p = ward_profile_snapshot(), *back = NULL;
	struct membuf m = { 0 };
	ASSERT_EQ(ward_profile_write(p, WARD_FORMAT_PPROF, to_mem, &m), 0);
	char err[256];

	/* Truncated gzip. */
	ASSERT_EQ(ward_profile_read(m.p, m.len / 2, &back, err, sizeof(err)),
		  -EBADMSG);
	ASSERT_CONTAINS(err, "truncated");
	ASSERT_NULL(back);

	/* Not a profile at all. */
	const char junk[] = "this is not a profile, just some text";
	ASSERT_EQ(ward_profile_read(junk, sizeof(junk), &back, err,
				    sizeof(err)),
		  -EBADMSG);
	ASSERT_CONTAINS(err, "not a pprof profile");

	/* A sample that refers to a location that does not exist:
	 * field 2 (sample) { field 1 (location_id) = 99; field 2 = 1 },
	 * string table "", "inuse_space". */
	const unsigned char dangling[] = { 0x0a, 0x02, 0x08, 0x01,   /* type */
					   0x12, 0x04, 0x08, 0x63, 0x10, 0x01,
					   0x32, 0x00, 0x32, 0x0b, 'i', 'n', 'u',
					   's', 'e', '_', 's', 'p', 'a', 'c', 'e' };
	ASSERT_EQ(ward_profile_read(dangling, sizeof(dangling), &back, err,
				    sizeof(err)),
		  -EBADMSG);
	ASSERT_CONTAINS(err, "location 99, which is not defined");

	/* No heap values at all (a CPU profile): refused by name. */
	const unsigned char cpu[] = { 0x0a, 0x02, 0x08, 0x01, 0x32, 0x00,
				      0x32, 0x03, 'c', 'p', 'u' };
	ASSERT_EQ(ward_profile_read(cpu, sizeof(cpu), &back, err, sizeof(err)),
		  -EBADMSG);
	ASSERT_CONTAINS(err, "not a heap profile");
	ASSERT_CONTAINS(err, "its values: cpu");

	/* A length that runs past the end. */
	const unsigned char overlong[] = { 0x12, 0x7f, 0x08 };
	ASSERT_EQ(ward_profile_read(overlong, sizeof(overlong), &back, err,
				    sizeof(err)),
		  -EBADMSG);
	ASSERT_CONTAINS(err, "runs past the end");

	/* A missing file names itself. */
	ASSERT_EQ(ward_profile_load("/nonexistent/p.pb.gz", &back, err,
				    sizeof(err)),
		  -ENOENT);
	ASSERT_CONTAINS(err, "/nonexistent/p.pb.gz");
	ward_profile_free(p);
	free(m.p);
	ward_free(k);
}

void *sampled_alloc(void);
__attribute__((noinline)) void *sampled_alloc(void)
{
	void *p = ward_malloc(48);
	__asm__ volatile("" ::: "memory");
	return p;
}

/* Sampled estimates against the truth, in threads. Each thread holds
 * `per` blocks of 16, 32, 64 and 128 bytes in turn from one site. */
struct mixed_job {
	int per;
	void **keep;
};

__attribute__((noinline)) static void *mixed_alloc(int i)
{
	static const size_t sizes[4] = { 16, 32, 64, 128 };
	void *p = ward_malloc(sizes[i & 3]);
	__asm__ volatile("" ::: "memory");
	return p;
}

static void *mixed_thread(void *arg)
{
	struct mixed_job *j = arg;
	for (int i = 0; i < j->per; i++)
		j->keep[i] = mixed_alloc(i);
	return NULL;
}

/* Run `threads` threads of `per` blocks; return the estimate at the site,
 * the truth in *bytes and *count; free everything. */
static struct ward_sample mixed_estimate(int threads, int per, int64_t *bytes,
					 int64_t *count)
{
	pthread_t *th = calloc((size_t)threads, sizeof(*th));
	struct mixed_job *jobs = calloc((size_t)threads, sizeof(*jobs));
	*bytes = *count = 0;
	for (int t = 0; t < threads; t++) {
		jobs[t].per = per;
		jobs[t].keep = calloc((size_t)per, sizeof(void *));
		pthread_create(&th[t], NULL, mixed_thread, &jobs[t]);
	}
	for (int t = 0; t < threads; t++)
		pthread_join(th[t], NULL);
	for (int i = 0; i < per; i++)
		*bytes += (int64_t)(16 << (i & 3)) * threads;
	*count = (int64_t)threads * per;
	ward_profile_t *p = ward_profile_snapshot();
	struct ward_sample s = sum_in(p, "mixed_alloc");
	ward_profile_free(p);
	for (int t = 0; t < threads; t++) {
		for (int i = 0; i < per; i++)
			ward_free(jobs[t].keep[i]);
		free(jobs[t].keep);
	}
	free(jobs);
	free(th);
	return s;
}

TEST(sampling_mean_is_capped_where_distances_would_overflow)
{
	ASSERT_EQ(ward_track_set_sampling(UINT64_MAX), 0);
	ASSERT_EQ(ward_track_set_sampling(WARD_SAMPLE_MOST + 1), WARD_SAMPLE_MOST);
	ASSERT_EQ(ward_track_set_sampling(0), WARD_SAMPLE_MOST);
}

TEST(sampled_estimates_hold_for_objects_and_bytes_in_threads)
{
	/* 100,000 blocks of 16-128 bytes at a mean distance of 1 KiB:
	 * ~5,600 samples, so bytes and objects are within 10% (more than 5
	 * standard deviations) — objects too, though the site's blocks
	 * differ in size, because each sample is weighed by its own. */
	const int threads[2] = { 1, 8 };
	ASSERT_EQ(ward_track_set_sampling(1024), 0);
	for (int k = 0; k < 2; k++) {
		int64_t bytes, count;
		struct ward_sample s =
			mixed_estimate(threads[k], 100000 / threads[k], &bytes, &count);
		ASSERT_GE(s.live_bytes, bytes * 90 / 100);
		ASSERT_LE(s.live_bytes, bytes * 110 / 100);
		ASSERT_GE(s.live_count, count * 90 / 100);
		ASSERT_LE(s.live_count, count * 110 / 100);
	}
	ASSERT_EQ(ward_track_set_sampling(0), 1024);
}

TEST(sampled_threads_start_at_a_random_distance)
{
	/* 200 threads each holding one block of 16 bytes (3,200 bytes) at a
	 * mean distance of 512 KiB: each block is sampled with chance
	 * 6e-5, so the estimate is 0 or one sample's worth (more than two
	 * samples: chance below 1e-6). A countdown starting at zero would
	 * sample all 200 and estimate ~100 MB. */
	ASSERT_EQ(ward_track_set_sampling(512 * 1024), 0);
	int64_t bytes, count;
	struct ward_sample s = mixed_estimate(200, 1, &bytes, &count);
	ASSERT_EQ(bytes, 200 * 16);
	ASSERT_LE(s.live_bytes, 2 * 512 * 1024);
	ASSERT_EQ(ward_track_set_sampling(0), 512 * 1024);
}

TEST(sampling_estimates_and_frees_cleanly)
{
	enum { N = 20000 };
	static void *keep[N];
	ASSERT_EQ(ward_track_set_sampling(1024), 0);
	for (int i = 0; i < N; i++)
		keep[i] = sampled_alloc();
	ward_profile_t *p = ward_profile_snapshot();
	struct ward_sample s = sum_in(p, "sampled_alloc");
	ward_profile_free(p);
	/* ~940 samples: the estimate is well within 15% of the truth. */
	ASSERT_GE(s.live_bytes, N * 48 * 85 / 100);
	ASSERT_LE(s.live_bytes, N * 48 * 115 / 100);
	for (int i = 0; i < N; i++)
		ward_free(keep[i]);
	struct ward_kind_stats st;
	ward_kind_stats(WARD_KIND_HEAP, &st);
	ASSERT_EQ(st.live_count, 0);
	ASSERT_EQ(ward_track_set_sampling(0), 1024);
}

/* Pages set to always look stay so through samples taken and dropped on
 * them, a range across two 128 MiB regions takes a leaf for each (the
 * second from the leaves given), and the pages around it do not look. */
TEST(pages_that_always_look_stay_looking)
{
	static _Atomic uint8_t leaves[2][1 << WARD__LEAF_BITS];
	/* Address space of this test's own: 64 KiB across a region
	 * boundary, reserved and never touched. */
	size_t region = (size_t)4096 << WARD__LEAF_BITS;
	char *m = mmap(NULL, 2 * region, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_TRUE(m != MAP_FAILED);
	uintptr_t edge = ((uintptr_t)m + region) & ~(uintptr_t)(region - 1);
	uintptr_t lo = edge - 32768, hi = edge + 32768;
	ASSERT_EQ(ward_track_set_sampling(1024), 0);
	ward__sample_pages_look(lo, hi, leaves);
	for (uintptr_t q = lo; q < hi; q += 4096)
		ASSERT_TRUE(!ward__free_unsampled((void *)q));
	ASSERT_TRUE(ward__free_unsampled((void *)(lo - 4096)));
	ASSERT_TRUE(ward__free_unsampled((void *)hi));
	ward__sample_take(lo);
	ward__sample_drop(lo);
	ward__sample_drop(lo);
	ASSERT_TRUE(!ward__free_unsampled((void *)lo));
	ASSERT_EQ(ward_track_set_sampling(0), 1024);
	munmap(m, 2 * region);
}

TEST(reports_name_source_lines)
{
	extern void ward__describe_pc(uintptr_t pc, char *buf, size_t len);
	void *k = leak_big();
	ward_profile_t *p = ward_profile_snapshot();
	char frame[512] = "";
	for (size_t i = 0; i < ward_profile_count(p); i++) {
		const struct ward_sample *s = ward_profile_sample(p, i);
		if (s->live_bytes == 1000)
			ward__describe_pc(s->pcs[0], frame, sizeof(frame));
	}
	ward_profile_free(p);
	if (!strstr(frame, "test_track.c:"))
		ward_test__fail(__FILE__, __LINE__,
				"no source line in \"%s\": ward was built "
				"without libdw (sudo apt-get install -y "
				"libdw-dev, then rebuild)",
				frame);
	ASSERT_CONTAINS(frame, "leak_big+0x");
	ward_free(k);
}

/* Inlined into inl_handler: reports show them as frames of their own. */
static inline __attribute__((always_inline)) void *inl_make(size_t n)
{
	return ward_malloc(n); /* INL_MAKE_LINE */
}

static inline __attribute__((always_inline)) void *inl_wrap(size_t n)
{
	void *p = inl_make(n + 1); /* INL_WRAP_LINE */
	return p;
}

__attribute__((noinline)) static void *inl_handler(void)
{
	void *p = inl_wrap(1233); /* INL_HANDLER_LINE */
	__asm__ volatile("" ::: "memory");
	return p;
}

static void to_string(void *opaque, const void *buf, size_t len)
{
	char *s = opaque;
	size_t have = strlen(s);
	if (have + len < 65536) {
		memcpy(s + have, buf, len);
		s[have + len] = '\0';
	}
}

/* The line of this file holding `marker`. */
static int line_of(const char *marker)
{
	FILE *f = fopen(__FILE__, "r");
	char line[512];
	int n = 0, found = 0;
	while (f && fgets(line, sizeof(line), f)) {
		n++;
		if (strstr(line, marker) && !strstr(line, "line_of("))
			found = n;
	}
	if (f)
		fclose(f);
	return found;
}

TEST(reports_show_inlined_frames)
{
	void *k = inl_handler();
	ward_profile_t *p = ward_profile_snapshot();
	bool found = false;
	for (size_t i = 0; i < ward_profile_count(p); i++)
		found |= ward_profile_sample(p, i)->live_bytes == 1234;
	ASSERT_TRUE(found);
	static char text[65536];
	text[0] = '\0';
	ASSERT_EQ(ward_profile_write(p, WARD_FORMAT_TEXT, to_string, text), 0);
	ward_profile_free(p);
	ward_free(k);

	char exe[4096] = "";
	ASSERT_LT(0, readlink("/proc/self/exe", exe, sizeof(exe) - 1));
	const char *me = strrchr(exe, '/') + 1;
	char want[3][512];
	snprintf(want[0], sizeof(want[0]),
		 "\tinl_make (%s) test_track.c:%d (inlined)\n"
		 "\tinl_wrap (%s) test_track.c:%d (inlined)\n",
		 me, line_of("INL_MAKE_LINE"), me, line_of("INL_WRAP_LINE"));
	snprintf(want[1], sizeof(want[1]), "\tinl_handler+0x");
	snprintf(want[2], sizeof(want[2]), " (%s) test_track.c:%d\n", me,
		 line_of("INL_HANDLER_LINE"));
	/* The two inlined frames, then the function they were inlined into,
	 * at the line of the call. */
	const char *a = strstr(text, want[0]);
	if (!a)
		ward_test__fail(__FILE__, __LINE__, "no \"%s\" in:\n%s", want[0],
				text);
	a += strlen(want[0]);
	ASSERT_EQ(strncmp(a, want[1], strlen(want[1])), 0);
	const char *src = strchr(a + 1, ' ');
	ASSERT_EQ(strncmp(src, want[2], strlen(want[2])), 0);
}

/* The sampler's own ln and exp (no libm in the tracer) agree with libm's
 * to within a few units in the last place. */
TEST(sampler_math_matches_libm)
{
	double worst = 0;
	for (double x = 1e-300; x < 1e300; x *= 1.37) {
		double want = log(x), got = ward__ln(x);
		double err = fabs(got - want) / (fabs(want) > 1 ? fabs(want) : 1);
		worst = err > worst ? err : worst;
	}
	for (double u = 0; u < 1; u += 1.0 / 4099) {
		double want = log(1 - u), got = ward__ln(1 - u);
		double err = fabs(got - want) / (fabs(want) > 1 ? fabs(want) : 1);
		worst = err > worst ? err : worst;
	}
	for (double x = -700; x < 700; x += 0.173) {
		double want = exp(x), got = ward__exp(x);
		double err = fabs(got - want) / want;
		worst = err > worst ? err : worst;
	}
	if (!(worst < 1e-14))
		ward_test__fail(__FILE__, __LINE__, "relative error %g", worst);
	ASSERT_TRUE(ward__exp(-800) == 0);
	ASSERT_TRUE(ward__ln(0) < -1e308);
}

/* ---- Rust's v0 names ----------------------------------------------------- */

/* Names from rustc 1.95's own libraries and from a program it built, each
 * as binutils' c++filt prints it less the crates' [hash] (v0 names) or
 * the ::h hash that ends it (legacy names). */
static const struct {
	const char *mangled, *plain;
} rust_names[] = {
	{ "_RNvMs0_Cs1PbGgLnHewJ_9jobserverNtB5_6Client3new",
	  "<jobserver::Client>::new" },
	{ "_RNSINvNtCsjrHSEGnQ3l9_3std9panicking11begin_panicReE5reifyB6_",
	  "std::panicking::begin_panic::<&str>::{shim:reify#0}" },
	{ "_RNSNvYNCINvCs2N2TEQjwqGk_7stacker4growuNCNvNtCs5wPqZkVjkEZ_18rustc_"
	  "monomorphize9collector13collect_alloc0E0INtNtNtCsgEmfK2I1SDS_4core3o"
	  "ps8function6FnOnceuE9call_once6vtableBH_",
	  "<stacker::grow<(), rustc_monomorphize::collector::collect_alloc::"
	  "{closure#0}>::{closure#0} as core::ops::function::FnOnce<()>>::"
	  "call_once::{shim:vtable#0}" },
	{ "_RINvNtCsgEmfK2I1SDS_4core3ptr13drop_in_placeINtNtCslNYArtu3iFV_5al"
	  "loc5boxed3BoxDG_INtNtNtB4_3ops8function5FnMutTRL0_eEEp6OutputbEL_EE"
	  "CslKGqiwnqz1t_17rustc_codegen_ssa",
	  "core::ptr::drop_in_place::<alloc::boxed::Box<dyn for<'a> core::ops::"
	  "function::FnMut<(&'a str,), Output = bool>>>" },
	{ "_RINvCsife2kuN9Z4V_11rustc_arena7outlineNCINvMs6_B2_NtB2_13Dropless"
	  "Arena15alloc_from_iterhINtNtCslNYArtu3iFV_5alloc3vec3VechEE0QShECsd"
	  "adwybgsbvk_12rustc_middle",
	  "rustc_arena::outline::<<rustc_arena::DroplessArena>::alloc_from_iter"
	  "<u8, alloc::vec::Vec<u8>>::{closure#0}, &mut [u8]>" },
	{ "_RNvMs3_NtCslNYArtu3iFV_5alloc7raw_vecINtB5_6RawVecTOhFUKCBN_EuENtNt"
	  "CsjrHSEGnQ3l9_3std5alloc6SystemE8grow_oneB13_",
	  "<alloc::raw_vec::RawVec<(*mut u8, unsafe extern \"C\" fn(*mut u8)), "
	  "std::alloc::System>>::grow_one" },
	{ "_RINvNtCsfhTr2ijyTAe_16rustc_query_impl9execution17try_execute_quer"
	  "yINtNtNtCsdadwybgsbvk_12rustc_middle5query6caches10DefIdCacheINtNtB"
	  "18_5erase10ErasedDataAhj0_EEKb1_EB4_",
	  "rustc_query_impl::execution::try_execute_query::<rustc_middle::query"
	  "::caches::DefIdCache<rustc_middle::query::erase::ErasedData<[u8; 0: "
	  "usize]>>, true: bool>" },
	{ "_RINvNtCsgEmfK2I1SDS_4core3ptr13drop_in_placeTINtNtCslNYArtu3iFV_5al"
	  "loc3vec3VecPhEIBI_jEEECs59TyybOfEHA_18rustc_codegen_llvm",
	  "core::ptr::drop_in_place::<(alloc::vec::Vec<*const u8>, alloc::vec::"
	  "Vec<usize>)>" },
	/* Legacy names (C++-mangled, with Rust's escapes and a hash). */
	{ "_ZN4core3ptr32drop_in_place$LT$leak..Cache$GT$17hb4dcbb6672d8528bE",
	  "core::ptr::drop_in_place<leak::Cache>" },
	{ "_ZN3std2rt10lang_start28_$u7b$$u7b$closure$u7d$$u7d$17h71acb6ed29ef"
	  "b28bE",
	  "std::rt::lang_start::{{closure}}" },
	{ "_ZN4leak4main17h68d97aefc12db3cbE", "leak::main" },
};

TEST(rust_names_read_as_cxxfilt_reads_them)
{
	enum { N = sizeof(rust_names) / sizeof(rust_names[0]) };
	char cmd[16384] = "printf '%s\\n'";
	for (int i = 0; i < N; i++) {
		char name[512];
		snprintf(name, sizeof(name), "%s", rust_names[i].mangled);
		ward__demangle(name, sizeof(name));
		ASSERT_STREQ(name, rust_names[i].plain);
		strcat(cmd, " '"); /* quoted: legacy names hold "$" */
		strcat(cmd, rust_names[i].mangled);
		strcat(cmd, "'");
	}
	/* The table itself, against the real c++filt (binutils). */
	if (system("c++filt --version >/dev/null 2>&1") != 0)
		ward_test__fail(__FILE__, __LINE__,
				"c++filt is missing: sudo apt-get install -y "
				"binutils");
	strcat(cmd, " | c++filt | sed -E 's/\\[[0-9a-f]+\\]//g; "
		    "s/::h[0-9a-f]{16}$//'");
	char *out = run(cmd), *line = out;
	for (int i = 0; i < N; i++) {
		char *nl = strchr(line, '\n');
		ASSERT_NOT_NULL(nl);
		*nl = '\0';
		ASSERT_STREQ(line, rust_names[i].plain);
		line = nl + 1;
	}
	free(out);
}

TEST(cxx_names_keep_their_whole_demangled_form)
{
	/* Through the C++ runtime's demangler, whole. */
	static const char *const names[][2] = {
		{ "_ZNSt6vectorIiSaIiEE9push_backERKi",
		  "std::vector<int, std::allocator<int> >::push_back(int const&)" },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char name[256];
		snprintf(name, sizeof(name), "%s", names[i][0]);
		ward__demangle(name, sizeof(name));
		ASSERT_STREQ(name, names[i][1]);
	}
}

TEST(rust_names_not_read_whole_stay_as_they_are)
{
	static const char *const raw[] = {
		"_RNvMs0_Cs1PbGgLnHewJ_9jobserverNtB5_6Client3ne", /* cut */
		"_RNvC1a1fB9_",    /* a backref forward */
		"_R0NvC1a1f",      /* an encoding version */
		"_RNvC1a99999999f", /* a length past the end */
		"_RINvC1a1fKc110000_E", /* a char past Unicode's */
		"_R",
	};
	for (size_t i = 0; i < sizeof(raw) / sizeof(raw[0]); i++) {
		char name[128];
		snprintf(name, sizeof(name), "%s", raw[i]);
		ward__demangle(name, sizeof(name));
		ASSERT_STREQ(name, raw[i]);
	}
	/* A name whose types name each other twice at every level doubles
	 * 60 times over: read within a bound, and left as it is. */
	char big[2048] = "_RINvC1a1fTllE";
	size_t prev = strlen("INvC1a1f");
	for (int level = 0; level < 60; level++) {
		size_t here = strlen(big) - 2;
		char ref[16], digits[12];
		int n = 0;
		for (size_t v = prev - 1;; v /= 62) {
			digits[n++] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEF"
				      "GHIJKLMNOPQRSTUVWXYZ"[v % 62];
			if (v < 62)
				break;
		}
		int k = 0;
		while (n)
			ref[k++] = digits[--n];
		ref[k] = '\0';
		snprintf(big + strlen(big), sizeof(big) - strlen(big),
			 "TB%s_B%s_E", ref, ref);
		prev = here;
	}
	strcat(big, "E");
	char name[4096];
	snprintf(name, sizeof(name), "%s", big);
	ward__demangle(name, sizeof(name));
	ASSERT_STREQ(name, big);
}

/* ---- The "acquired at" column ------------------------------------------ */

TEST(acquired_at_passes_over_the_allocation_layers)
{
	static const char *const layers[] = {
		"operator new(unsigned long)+0x1c (libstdc++.so.6)",
		"strdup+0x1a (libc.so.6)",
		"std::vector<int, std::allocator<int> >::_M_realloc_insert "
		"(app) vector.tcc:449 (inlined)",
		"<alloc::raw_vec::RawVecInner>::finish_grow+0x62 (app) alloc.rs:95",
		"alloc::fmt::format::format_inner+0xf3 (app)",
		"alloc::alloc::exchange_malloc (app) alloc.rs:237 (inlined)",
		"<alloc::string::String as core::clone::Clone>::clone+0x1e (app)",
		"<alloc::vec::Vec<T,A> as alloc::vec::spec_from_iter::"
		"SpecFromIter<T,I>>::from_iter+0x40 (app)",
		"hashbrown::raw::RawTable<T,A>::reserve_rehash+0x9c (app)",
		"__rust_alloc+0x9 (app)",
	};
	static const char *const programs[] = {
		"leak::main+0x3c (app) main.rs:7",
		"<app::Cache>::fill+0x20 (app) main.rs:3",
		"<alloc::vec::Vec<u8> as app::Store>::put+0x11 (app) store.rs:9",
		"allocate_table+0x8 (app) table.c:12",
		"alloca_wrapper+0x3 (app)",
	};
	for (size_t i = 0; i < sizeof(layers) / sizeof(layers[0]); i++)
		if (!ward__allocator_frame(layers[i]))
			ward_test__fail(__FILE__, __LINE__,
					"taken for the program's: %s",
					layers[i]);
	for (size_t i = 0; i < sizeof(programs) / sizeof(programs[0]); i++)
		if (ward__allocator_frame(programs[i]))
			ward_test__fail(__FILE__, __LINE__,
					"taken for an allocation layer: %s",
					programs[i]);
}

/* ---- A thread with a small stack ---------------------------------------- */

/*
 * Reports written from a thread made with a small stack: naming a frame's
 * source line reads debug information, and libdw took 150 KiB of the
 * caller's stack and more for a line table; each report added tens of
 * kilobytes. A thread of 32 KiB died by SIGSEGV in ward_profile_write().
 */
enum { SMALL_STACK = 32 << 10 };

static __attribute__((noinline)) void *small_stack_acquires(void)
{
	void *p = ward_malloc(4321);
	__asm__ volatile("" : : "r"(p) : "memory"); /* no tail call */
	return p;
}

static void *small_stack_reports(void *arg)
{
	struct membuf *out = arg; /* one per format, the summary, the holder */
	void *block = small_stack_acquires();
	ward_profile_t *p = ward_profile_snapshot();
	if (!p)
		return (void *)"snapshot";
	const enum ward_format fmts[4] = { WARD_FORMAT_TEXT, WARD_FORMAT_PPROF,
					   WARD_FORMAT_JSON,
					   WARD_FORMAT_PPROF_NAMED };
	for (int i = 0; i < 4; i++)
		if (ward_profile_write(p, fmts[i], to_mem, &out[i]) != 0)
			return (void *)"write";
	ward_profile_write_summary(p, "live", NULL, to_mem, &out[4]);
	ward_profile_t *rows = ward_profile_by_line(p, 5);
	ward_profile_free(rows);
	ward_suppressions_t *s = NULL;
	struct ward_suppressed taken = { 0 };
	if (!rows ||
	    ward_suppressions_parse("leak:no_such_function\n", true, &s, NULL,
				    0) != 0 ||
	    ward_profile_suppress(p, s, &taken) != 0)
		return (void *)"by line or suppress";
	ward_suppressions_free(s);
	char path[] = "/tmp/ward-small-stack-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return (void *)"mkstemp";
	close(fd);
	int saved = ward_profile_save(p, path, WARD_FORMAT_TEXT);
	unlink(path);
	ward_profile_free(p);
	/* The scan reads this thread's stack, which holds the block. */
	int held = ward_who_holds("small_stack_acquires", to_mem, &out[5]);
	__asm__ volatile("" : : "r"(block) : "memory");
	ward_free(block);
	return saved != 0 ? (void *)"save" : held != 1 ? (void *)"who holds" : NULL;
}

TEST(reports_are_written_from_a_thread_with_a_small_stack)
{
	struct membuf out[6] = { { 0 } };
	pthread_attr_t a;
	pthread_t t;
	void *failed = (void *)"not run";
	ASSERT_EQ(pthread_attr_init(&a), 0);
	ASSERT_EQ(pthread_attr_setstacksize(&a, SMALL_STACK), 0);
	ASSERT_EQ(pthread_create(&t, &a, small_stack_reports, out), 0);
	ASSERT_EQ(pthread_join(t, &failed), 0);
	pthread_attr_destroy(&a);
	if (failed)
		ward_test__fail(__FILE__, __LINE__, "%s failed",
				(const char *)failed);
	for (int i = 0; i < 6; i++)
		ASSERT_GT(out[i].len, 0);
	/* The text names the frame, with its source line where the test has
	 * debug information. */
	char *text = strndup((const char *)out[0].p, out[0].len);
	ASSERT_CONTAINS(text, "small_stack_acquires");
	free(text);
	text = strndup((const char *)out[5].p, out[5].len);
	ASSERT_CONTAINS(text, "acquired at small_stack_acquires+");
	free(text);
	for (int i = 0; i < 6; i++)
		free(out[i].p);
}
