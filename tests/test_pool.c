/*
 * test_pool.c — pools (include/ward/pool.h): reuse through the thread's
 * cache and the shared list, victim aging by trims, the buffer pool's cap,
 * and every checking-mode report with both places: a write after put, a
 * double put, a foreign put, a reset that leaves state, an object never
 * put back (tracked with its get stack).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runner.h"
#include "ward.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

static const struct ward_figure *figure_of(const ward_profile_t *p,
					   const char *name, const char *figure);

static void start(void)
{
	ward_test_capture_log();
}

struct conn {
	int fd;
	char buf[56];
};

static atomic_int inits, destroys;

static void conn_init(void *obj, void *arg)
{
	struct conn *c = obj;
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	atomic_fetch_add(&inits, 1);
}

static void conn_reset(void *obj, void *arg)
{
	struct conn *c = obj;
	c->fd = -1;
	memset(c->buf, 0, sizeof(c->buf));
}

/* A reset that forgets the buffer: state survives into the next get. */
static void sloppy_reset(void *obj, void *arg)
{
	((struct conn *)obj)->fd = -1;
}

static void conn_destroy(void *obj, void *arg)
{
	atomic_fetch_add(&destroys, 1);
}

static ward_pool_t *conn_pool(bool check, void (*reset)(void *, void *))
{
	atomic_store(&inits, 0);
	atomic_store(&destroys, 0);
	return ward_pool_new(&(struct ward_pool_config){
		.name = "conns", .size = sizeof(struct conn), .init = conn_init,
		.reset = reset, .destroy = conn_destroy, .check = check });
}

/* ---- Reuse ---------------------------------------------------------------- */

TEST(a_put_object_is_reused_reset)
{
	start();
	ward_pool_t *p = conn_pool(false, conn_reset);
	ASSERT_NOT_NULL(p);
	struct conn *c = ward_pool_get(p);
	ASSERT_EQ(c->fd, -1);
	c->fd = 7;
	strcpy(c->buf, "secret");
	ward_pool_put(p, c);
	struct conn *again = ward_pool_get(p);
	ASSERT_TRUE(again == c);            /* the same object */
	ASSERT_EQ(again->fd, -1);           /* reset */
	ASSERT_EQ(again->buf[0], '\0');
	ASSERT_EQ(atomic_load(&inits), 1);  /* made once */
	ward_pool_put(p, again);
	struct ward_pool_stats st;
	ASSERT_EQ(ward_pool_stats(p, &st), 0);
	ASSERT_EQ(st.gets, 2);
	ASSERT_EQ(st.puts, 2);
	ASSERT_EQ(st.misses, 1);
	ASSERT_EQ(st.hits, 1);
	ASSERT_EQ(st.in_use, 0);
	ward_pool_free(p);
	ASSERT_EQ(atomic_load(&destroys), 1);
	ward_pool_free(NULL);
}

TEST(a_pool_needs_a_reset_hook)
{
	errno = 0;
	ASSERT_TRUE(ward_pool_new(&(struct ward_pool_config){ .size = 8 }) == NULL);
	ASSERT_EQ(errno, EINVAL);
	ASSERT_TRUE(ward_pool_new(NULL) == NULL);
	ASSERT_TRUE(ward_pool_get(NULL) == NULL);
	ward_pool_put(NULL, NULL);
}

TEST(objects_unused_for_two_trims_are_freed)
{
	start();
	ward_pool_t *p = conn_pool(false, conn_reset);
	void *o[40];
	for (int i = 0; i < 40; i++)
		o[i] = ward_pool_get(p);
	for (int i = 0; i < 40; i++)
		ward_pool_put(p, o[i]);
	ward_pool_trim(p); /* all cached: now the victims */
	struct ward_pool_stats st;
	ward_pool_stats(p, &st);
	ASSERT_EQ(st.victims_freed, 0);
	ASSERT_EQ(st.cached, 40);
	/* A get now is served from the victims. */
	void *v = ward_pool_get(p);
	ward_pool_stats(p, &st);
	ASSERT_EQ(st.victim_hits, 1);
	ward_pool_put(p, v);
	ward_pool_trim(p); /* the victims not taken back are freed */
	ward_pool_stats(p, &st);
	ASSERT_GE(st.victims_freed, 30);
	ward_pool_trim(p);
	ward_pool_stats(p, &st);
	ASSERT_EQ(st.cached, 0);
	ASSERT_EQ(st.victims_freed, 40);
	ASSERT_EQ(atomic_load(&destroys), 40);
	ward_pool_free(p);
}

TEST(a_pool_trims_itself_on_its_interval)
{
	start();
	atomic_store(&destroys, 0);
	ward_pool_t *p = ward_pool_new(&(struct ward_pool_config){
		.name = "timed", .size = sizeof(struct conn), .reset = conn_reset,
		.destroy = conn_destroy, .trim_ms = 20 });
	void *o = ward_pool_get(p);
	ward_pool_put(p, o);
	ward_pool_trim(p); /* the calling thread's cache back to the pool */
	for (int i = 0; i < 200 && atomic_load(&destroys) == 0; i++)
		usleep(5000);
	ASSERT_EQ(atomic_load(&destroys), 1);
	ward_pool_free(p);
}

static ward_pool_t *shared_pool;

static void *churn(void *unused)
{
	void *held[8];
	for (int r = 0; r < 20000; r++) {
		for (int i = 0; i < 8; i++)
			held[i] = ward_pool_get(shared_pool);
		for (int i = 0; i < 8; i++)
			ward_pool_put(shared_pool, held[i]);
	}
	return NULL;
}

TEST(pools_from_many_threads_keep_their_counts)
{
	start();
	shared_pool = conn_pool(false, conn_reset);
	pthread_t th[4];
	for (int i = 0; i < 4; i++)
		ASSERT_EQ(pthread_create(&th[i], NULL, churn, NULL), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	struct ward_pool_stats st;
	ward_pool_stats(shared_pool, &st);
	/* Ended threads gave their caches and counts back. */
	ASSERT_EQ(st.gets, 4 * 20000 * 8);
	ASSERT_EQ(st.puts, 4 * 20000 * 8);
	ASSERT_LE(atomic_load(&inits), 4 * 8 + 4 * 16);
	ward_pool_free(shared_pool);
	ASSERT_EQ(atomic_load(&destroys), atomic_load(&inits));
}

/* Figures read on another thread while the workers' counts wait in their
 * caches: they count those too, and a counter never goes back. */
static atomic_bool churning;
static atomic_int holding;

static void *hold_two(void *unused)
{
	(void)unused;
	void *a = ward_pool_get(shared_pool), *b = ward_pool_get(shared_pool);
	atomic_fetch_add(&holding, 1);
	while (atomic_load(&churning)) {
		void *c = ward_pool_get(shared_pool);
		ward_pool_put(shared_pool, c);
		sched_yield(); /* valgrind runs one thread at a time */
	}
	ward_pool_put(shared_pool, a);
	ward_pool_put(shared_pool, b);
	return NULL;
}

TEST(another_thread_reads_the_counts_waiting_in_caches)
{
	start();
	shared_pool = conn_pool(false, conn_reset);
	atomic_store(&churning, true);
	atomic_store(&holding, 0);
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		ASSERT_EQ(pthread_create(&th[i], NULL, hold_two, NULL), 0);
	while (atomic_load(&holding) < 2) /* each holds its two */
		usleep(100);
	uint64_t last_gets = 0, last_puts = 0;
	struct ward_pool_stats st;
	for (int i = 0; i < 100000; i++) { /* 10 s at most */
		ASSERT_EQ(ward_pool_stats(shared_pool, &st), 0);
		ASSERT_GE(st.gets, last_gets);
		ASSERT_GE(st.puts, last_puts);
		last_gets = st.gets;
		last_puts = st.puts;
		if (st.gets >= 4 + 1000)
			break;
		usleep(100);
	}
	/* Each worker holds two and churns in its own cache, whose counts
	 * this thread could not see before. */
	ASSERT_GE(st.gets, 4 + 1000);
	ASSERT_GE(st.in_use, 4);
	ASSERT_LE(st.in_use, 6);
	atomic_store(&churning, false);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	ASSERT_EQ(ward_pool_stats(shared_pool, &st), 0);
	ASSERT_EQ(st.in_use, 0);
	ASSERT_EQ(st.gets, st.puts);
	ward_pool_free(shared_pool);
}

/* Counts moving from a cache to the pool while another thread reads the
 * figures: each worker takes 20 and puts them back, so its cache refills
 * and spills (the slow paths move its counts) on every round. A reader
 * sees each batch once, in the cache or in the pool: gets and puts never
 * go back, and never more are out than the workers hold. */
static void *spill_and_refill(void *unused)
{
	(void)unused;
	void *held[20];
	while (atomic_load(&churning)) {
		for (int i = 0; i < 20; i++)
			held[i] = ward_pool_get(shared_pool);
		for (int i = 0; i < 20; i++)
			ward_pool_put(shared_pool, held[i]);
		sched_yield();
	}
	return NULL;
}

TEST(figures_never_go_back_while_caches_spill_and_refill)
{
	start();
	shared_pool = conn_pool(false, conn_reset);
	atomic_store(&churning, true);
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		ASSERT_EQ(pthread_create(&th[i], NULL, spill_and_refill, NULL),
			  0);
	uint64_t last_gets = 0, last_puts = 0;
	struct ward_pool_stats st;
	/* 1000 reads at least, and 500 rounds of the workers' (10 s at
	 * most). */
	for (int i = 0; i < 1000000; i++) {
		ASSERT_EQ(ward_pool_stats(shared_pool, &st), 0);
		ASSERT_GE(st.gets, last_gets);
		ASSERT_GE(st.puts, last_puts);
		ASSERT_LE(st.in_use, 2 * 20);
		last_gets = st.gets;
		last_puts = st.puts;
		if (i >= 1000 && st.gets >= 500 * 20)
			break;
		if (i % 100 == 99)
			usleep(1000); /* valgrind runs one thread at a time */
	}
	atomic_store(&churning, false);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	ASSERT_GE(last_gets, 500 * 20);
	ASSERT_EQ(ward_pool_stats(shared_pool, &st), 0);
	ASSERT_EQ(st.in_use, 0);
	ASSERT_EQ(st.gets, st.puts);
	ward_pool_free(shared_pool);
}

/* ---- Buffers --------------------------------------------------------------- */

TEST(a_buffer_over_the_cap_is_freed_not_kept)
{
	ward_bufpool_t *bp = ward_bufpool_new("bufs", 64 * 1024);
	char *small = ward_bufpool_get(bp, 100);
	ASSERT_NOT_NULL(small);
	ASSERT_EQ(ward_bufpool_cap(small), 128);
	memset(small, 1, 128);
	ward_bufpool_put(bp, small);
	ASSERT_TRUE(ward_bufpool_get(bp, 120) == small); /* reused */
	char *huge = ward_bufpool_get(bp, 10 * 1024 * 1024);
	ASSERT_NOT_NULL(huge);
	memset(huge, 2, 10 * 1024 * 1024);
	ward_bufpool_put(bp, huge);
	struct ward_pool_stats st;
	ASSERT_EQ(ward_bufpool_stats(bp, &st), 0);
	ASSERT_EQ(st.dropped, 1);
	ASSERT_LE(st.bytes_retained, 64 * 1024 + 64);
	ward_bufpool_put(bp, small);
	ward_bufpool_free(bp);
}

/* A size no buffer can have is refused, not wrapped around to a small
 * buffer that claims it (the header's size added to it overflowed). */
TEST(an_impossible_buffer_size_is_refused)
{
	ward_bufpool_t *bp = ward_bufpool_new("bufs", 0);
	ASSERT_NOT_NULL(bp);
	size_t sizes[] = { SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 8 };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		errno = 0;
		ASSERT_TRUE(ward_bufpool_get(bp, sizes[i]) == NULL);
		ASSERT_EQ(errno, ENOMEM);
	}
	errno = 0;
	ASSERT_TRUE(ward_bufpool_get(NULL, 10) == NULL);
	ASSERT_EQ(errno, EINVAL);
	ward_bufpool_free(bp);
}

/* ---- Checking mode ------------------------------------------------------------ */

static void write_after_put(void)
{
	ward_test_capture_log();
	ward_pool_t *p = conn_pool(true, conn_reset);
	struct conn *c = ward_pool_get(p);
	ward_pool_put(p, c);
	c->fd = 99; /* the bug: still using it */
	void *again = ward_pool_get(p);
	fputs(ward_test_logged, stdout);
	ward_pool_put(p, again);
	ward_pool_free(p);
}

TEST(a_write_after_put_is_reported_with_both_sites)
{
	struct ward_test_spawned r = ward_test_spawn(write_after_put);
#ifdef UNDER_ASAN
	/* AddressSanitizer catches the write itself. */
	ASSERT_NE(r.status, 0);
	ASSERT_CONTAINS(r.err, "use-after-poison");
	ASSERT_CONTAINS(r.err, "write_after_put");
#else
	ASSERT_EQ(r.status, 0);
	ASSERT_CONTAINS(r.out, "pool \"conns\": an object was written after it "
			       "was put back: put at ");
	ASSERT_CONTAINS(r.out, "test_pool.c:");
	ASSERT_CONTAINS(r.out, "found at the get at");
#endif
	ward_test_spawned_free(&r);
}

/* A large object: its pages are read-only while it is cached, so the
 * write faults where it happens, and the report names the writer. */
struct page_buf {
	char bytes[8192];
};

static void page_reset(void *obj, void *arg)
{
	(void)arg;
	memset(obj, 0, sizeof(struct page_buf));
}

__attribute__((noinline)) void scribbles_after_put(struct page_buf *b);
__attribute__((noinline)) void scribbles_after_put(struct page_buf *b)
{
	b->bytes[5000] = 'x';
	__asm__ volatile("" ::: "memory");
}

/* Not static: the report names frames by their dynamic symbols. */
void large_write_after_put(void);
void large_write_after_put(void)
{
	ward_pool_t *p = ward_pool_new(&(struct ward_pool_config){
		.name = "pages", .size = sizeof(struct page_buf),
		.reset = page_reset, .check = true });
	struct page_buf *b = ward_pool_get(p);
	b->bytes[0] = 1;  /* in use: writable */
	ward_pool_put(p, b);
	(void)b->bytes[100]; /* a read is not the bug this catches */
	scribbles_after_put(b);
	puts("not reached");
}

TEST(a_write_after_put_to_a_large_object_faults_at_the_writer)
{
	struct ward_test_spawned r = ward_test_spawn(large_write_after_put);
#ifdef UNDER_ASAN
	ASSERT_NE(r.status, 0);
	ASSERT_CONTAINS(r.err, "use-after-poison");
	ASSERT_CONTAINS(r.err, "scribbles_after_put");
#else
	ASSERT_EQ(r.status, 128 + SIGABRT);
	ASSERT_TRUE(strstr(r.out, "not reached") == NULL);
	ASSERT_CONTAINS(r.err, "ward: pool \"pages\": an object was written "
			       "after it was put back at ");
	ASSERT_CONTAINS(r.err, "test_pool.c:");
	ASSERT_CONTAINS(r.err, "\tscribbles_after_put+0x");
	ASSERT_CONTAINS(r.err, "\tlarge_write_after_put+0x");
#endif
	ward_test_spawned_free(&r);
}

/* A guarded pool's objects in use next to cached ones stay roots of the
 * scan: what they point to is reachable, not lost. */
static void *held_by_pooled;

TEST(a_block_an_object_in_use_points_to_is_not_lost)
{
	ward_pool_t *p = ward_pool_new(&(struct ward_pool_config){
		.name = "pages2", .size = sizeof(struct page_buf),
		.reset = page_reset, .check = true });
	struct page_buf *v[8];
	for (int i = 0; i < 8; i++)
		v[i] = ward_pool_get(p);
	for (int i = 0; i < 8; i += 2)
		ward_pool_put(p, v[i]); /* cached, read-only, between */
	ward_leakcheck_t *lc = ward_leakcheck_begin();
	void *block = ward_malloc(77);
	memcpy(v[3]->bytes + 64, &block, sizeof(block));
	block = NULL;
	held_by_pooled = NULL;
	ward_profile_t *leaks = NULL;
	ASSERT_EQ(ward_leakcheck_end(lc, &leaks), 1);
	struct ward_test_buf text = { 0 };
	ward_profile_write(leaks, WARD_FORMAT_TEXT, ward_test_to_buf, &text);
	ASSERT_TRUE(strstr(text.p, "heap/definite") == NULL);
	free(text.p);
	ward_profile_free(leaks);
	memcpy(&block, v[3]->bytes + 64, sizeof(block));
	ward_free(block);
	for (int i = 1; i < 8; i += 2)
		ward_pool_put(p, v[i]);
	ward_pool_free(p);
}

TEST(a_double_put_names_both_puts)
{
	start();
	ward_pool_t *p = conn_pool(true, conn_reset);
	void *c = ward_pool_get(p);
	ward_pool_put(p, c);
	int first = __LINE__ - 1;
	ward_pool_put(p, c);
	int second = __LINE__ - 1;
	char want[256];
	snprintf(want, sizeof(want), "ward_pool_put at %s:%d of an object "
		 "already put back at %s:%d (a double put)", __FILE__, second,
		 __FILE__, first);
	ASSERT_CONTAINS(ward_test_logged, want);
	struct ward_pool_stats st;
	ward_pool_stats(p, &st);
	ASSERT_EQ(st.misuses, 1);
	ASSERT_EQ(st.cached, 1); /* cached once, not twice */
	ward_pool_free(p);
}

TEST(a_foreign_put_is_refused)
{
	start();
	ward_pool_t *p = conn_pool(true, conn_reset);
	struct conn mine;
	ward_pool_put(p, &mine);
	ASSERT_CONTAINS(ward_test_logged, "which this pool never gave out (a foreign "
				"object)");
	ASSERT_CONTAINS(ward_test_logged, "test_pool.c:");
	struct ward_pool_stats st;
	ward_pool_stats(p, &st);
	ASSERT_EQ(st.cached, 0);
	ward_pool_free(p);
}

TEST(a_reset_that_leaves_state_is_reported)
{
	start();
	ward_pool_t *p = conn_pool(true, sloppy_reset);
	struct conn *c = ward_pool_get(p);
	strcpy(c->buf, "previous user's data");
	ward_pool_put(p, c);
	int at = __LINE__ - 1;
	char want[200];
	snprintf(want, sizeof(want), "the reset hook left state behind: after "
		 "the put at %s:%d, byte %zu differs", __FILE__, at,
		 offsetof(struct conn, buf));
	ASSERT_CONTAINS(ward_test_logged, want);
	ward_pool_free(p);
}

static __attribute__((noinline)) void *take_and_forget(ward_pool_t *p)
{
	void *o = ward_pool_get(p);
	__asm__ volatile("" ::: "memory");
	return o;
}

TEST(an_object_never_put_back_is_a_leak_with_its_get_stack)
{
	start();
	ward_pool_t *p = conn_pool(true, conn_reset);
	void *kept = ward_pool_get(p);
	ward_leakcheck_t *lc = ward_leakcheck_begin();
	void *lost = take_and_forget(p);
	ward_profile_t *leaks = NULL;
	ASSERT_EQ(ward_leakcheck_end(lc, &leaks), 1);
	struct ward_test_buf b = { 0 };
	ward_profile_write(leaks, WARD_FORMAT_TEXT, ward_test_to_buf, &b);
	ASSERT_CONTAINS(b.p, "pool");
	ASSERT_CONTAINS(b.p, "take_and_forget");
	free(b.p);
	ward_profile_free(leaks);
	ward_pool_put(p, kept);
	ward_pool_put(p, lost);
	ward_pool_free(p);
}

/* A fork by a program that used a pool and read its figures: the fork
 * handlers take the pools' locks in the order everything else does (the
 * lock-order check of the sanitizer build sees both), and the child's
 * pool works. One thread, so it runs under every build. */
TEST(a_child_forked_after_figures_were_read_uses_the_pool)
{
	start();
	ward_pool_t *p = conn_pool(false, conn_reset);
	void *o = ward_pool_get(p);
	ward_pool_put(p, o);
	ward_profile_free(ward_profile_snapshot()); /* the figures */
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		void *c = ward_pool_get(p);
		ward_pool_put(p, c);
		ward_profile_t *snap = ward_profile_snapshot();
		int ok = snap && figure_of(snap, "conns", "gets") &&
			 figure_of(snap, "conns", "gets")->value == 2;
		ward_profile_free(snap);
		_exit(ok ? 0 : 3);
	}
	int st;
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	ASSERT_TRUE(WIFEXITED(st));
	ASSERT_EQ(WEXITSTATUS(st), 0);
	ward_pool_free(p);
}

/* fork() while threads get and put: the child's pool, trim and contexts
 * work (no lock copied held). */
static atomic_bool forking_churn;

static void *get_put(void *unused)
{
	while (atomic_load(&forking_churn)) {
		void *o = ward_pool_get(shared_pool);
		ward_pool_put(shared_pool, o);
		ward_pool_trim(shared_pool);
		sched_yield(); /* the forking thread gets its turn under valgrind */
	}
	return NULL;
}

static void pool_in_child(void)
{
	void *o = ward_pool_get(shared_pool);
	ward_pool_put(shared_pool, o);
	ward_pool_trim(shared_pool);
	ward_owner_t *ow = ward_owner_new(NULL, "child");
	ward_ctx_t *c = ward_ctx_new(ow, NULL);
	ward_ctx_cancel(c, 0);
	ward_owner_release(ow);
}

TEST_FORK_UNDER_LOAD(fork_while_threads_use_a_pool_never_deadlocks_the_child)
{
	start();
	shared_pool = conn_pool(false, conn_reset);
	atomic_store(&forking_churn, true);
	pthread_t th[3];
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(pthread_create(&th[i], NULL, get_put, NULL), 0);
	ward_test_fork_rounds(60, pool_in_child);
	atomic_store(&forking_churn, false);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	ward_pool_free(shared_pool);
}

/* ---- Figures in snapshots, reports and profiles -------------------------- */

static const struct ward_figure *figure_of(const ward_profile_t *p,
					   const char *name, const char *figure)
{
	for (size_t i = 0; i < ward_profile_figure_count(p); i++) {
		const struct ward_figure *f = ward_profile_figure(p, i);
		if (strcmp(f->what, "pool") == 0 && strcmp(f->name, name) == 0 &&
		    strcmp(f->figure, figure) == 0)
			return f;
	}
	return NULL;
}

TEST(a_pool_s_figures_are_in_snapshots_reports_and_profiles)
{
	start();
	ward_pool_t *p = ward_pool_new(&(struct ward_pool_config){
		.name = "figs", .size = sizeof(struct conn), .reset = conn_reset });
	void *a = ward_pool_get(p), *b = ward_pool_get(p), *c = ward_pool_get(p);
	ward_pool_put(p, a);
	ward_pool_t *gone = ward_pool_new(&(struct ward_pool_config){
		.name = "gone", .size = sizeof(struct conn), .reset = conn_reset });
	ward_pool_free(gone); /* a freed pool has no figures */

	ward_profile_t *snap = ward_profile_snapshot();
	const struct ward_figure *f = figure_of(snap, "figs", "in_use");
	ASSERT_NOT_NULL(f);
	ASSERT_EQ(f->value, 2);
	ASSERT_TRUE(!f->counter);
	ASSERT_NOT_NULL(f->help);
	f = figure_of(snap, "figs", "gets");
	ASSERT_NOT_NULL(f);
	ASSERT_EQ(f->value, 3);
	ASSERT_TRUE(f->counter);
	ASSERT_TRUE(figure_of(snap, "gone", "gets") == NULL);

	struct ward_test_buf text = { 0 }, json = { 0 }, pb = { 0 };
	ward_profile_write(snap, WARD_FORMAT_TEXT, ward_test_to_buf, &text);
	ASSERT_CONTAINS(text.p, "\nfigures:\n");
	ASSERT_CONTAINS(text.p, "\tpool figs: gets 3, puts 1, hits 0, ");
	ASSERT_CONTAINS(text.p, ", in_use 2, ");
	ward_profile_write(snap, WARD_FORMAT_JSON, ward_test_to_buf, &json);
	ASSERT_CONTAINS(json.p, "{\"what\":\"pool\",\"name\":\"figs\","
				"\"figure\":\"in_use\",\"value\":2,"
				"\"counter\":false}");

	/* The profile carries them as comments and reads them back. */
	ASSERT_EQ(ward_profile_write(snap, WARD_FORMAT_PPROF, ward_test_to_buf,
				     &pb), 0);
	ward_profile_t *back = NULL;
	char err[200];
	ASSERT_EQ(ward_profile_read(pb.p, pb.len, &back, err, sizeof(err)), 0);
	f = figure_of(back, "figs", "in_use");
	ASSERT_NOT_NULL(f);
	ASSERT_EQ(f->value, 2);
	ASSERT_EQ(ward_profile_figure_count(back), ward_profile_figure_count(snap));
	/* ... and keeps them when written again, and in a diff. */
	ward_profile_t *diff = ward_profile_diff(back, back);
	ASSERT_NOT_NULL(figure_of(diff, "figs", "in_use"));
	ward_profile_free(diff);
	ward_profile_free(back);

	/* The real go tool pprof shows them. */
	if (system("go version >/dev/null 2>&1") != 0)
		ward_test__fail(__FILE__, __LINE__,
				"go is missing: sudo apt-get install -y golang-go");
	char path[] = "/tmp/ward_pool_XXXXXX";
	int fd = mkstemp(path);
	ASSERT_GE(fd, 0);
	close(fd);
	ASSERT_EQ(ward_profile_save(snap, path, WARD_FORMAT_PPROF), 0);
	char cmd[256];
	snprintf(cmd, sizeof(cmd),
		 "HOME=${HOME:-/tmp} go tool pprof -comments %s 2>&1", path);
	int st;
	char *out = ward_test_run(cmd, &st);
	ASSERT_EQ(st, 0);
	ASSERT_CONTAINS(out, "pool figs: in_use 2");
	free(out);
	unlink(path);

	free(text.p);
	free(json.p);
	free(pb.p);
	ward_profile_free(snap);
	ward_pool_put(p, b);
	ward_pool_put(p, c);
	ward_pool_free(p);
}
