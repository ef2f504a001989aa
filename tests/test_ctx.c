/*
 * test_ctx.c — contexts and threads that belong to an owner
 * (include/ward/ctx.h): cancellation runs to children and never to
 * parents, the first cause stays, deadlines, the done descriptor, owners
 * cancelling their contexts and joining their threads, and leaked threads
 * reported with where they are blocked — in read() on a pipe, in
 * pthread_cond_wait(), and busy.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>
#include <unistd.h>

#include "../src/core/valgrind.h"
#include "runner.h"
#include "ward.h"

static void start(void)
{
	ward_test_capture_log();
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool readable(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };
	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/* ---- Cancellation --------------------------------------------------------- */

TEST(cancel_runs_to_children_never_to_parents)
{
	start();
	ward_owner_t *o = ward_owner_new(NULL, "o");
	ward_ctx_t *root = ward_ctx_new(o, NULL);
	ward_ctx_t *mid = ward_ctx_new(o, root);
	ward_ctx_t *leaf = ward_ctx_new(o, mid);
	ward_ctx_t *sibling = ward_ctx_new(o, root);
	ASSERT_EQ(ward_ctx_err(leaf), 0);
	ASSERT_EQ(ward_ctx_cancel(mid, -EPIPE), 0);
	ASSERT_EQ(ward_ctx_err(mid), -ECANCELED);
	ASSERT_EQ(ward_ctx_err(leaf), -ECANCELED);
	ASSERT_EQ(ward_ctx_cause(leaf), -EPIPE);
	ASSERT_EQ(ward_ctx_err(root), 0);
	ASSERT_EQ(ward_ctx_err(sibling), 0);
	/* The first cause stays. */
	ASSERT_EQ(ward_ctx_cancel(mid, -EIO), -EALREADY);
	ASSERT_EQ(ward_ctx_cause(mid), -EPIPE);
	/* A child of a cancelled context starts cancelled. */
	ward_ctx_t *late = ward_ctx_new(o, mid);
	ASSERT_EQ(ward_ctx_cause(late), -EPIPE);
	ASSERT_EQ(ward_ctx_cancel(root, 0), 0);
	ASSERT_EQ(ward_ctx_cause(sibling), -ECANCELED);
	ASSERT_EQ(ward_ctx_cancel(NULL, 0), -EINVAL);
	ASSERT_EQ(ward_ctx_err(NULL), -EINVAL);
	ASSERT_TRUE(ward_ctx_new(NULL, NULL) == NULL);
	ward_owner_release(o);
}

TEST(ten_thousand_children_are_cancelled)
{
	start();
	ward_owner_t *o = ward_owner_new(NULL, "fan");
	ward_ctx_t *root = ward_ctx_new(o, NULL);
	static ward_ctx_t *kids[10000];
	for (int i = 0; i < 10000; i++) {
		kids[i] = ward_ctx_new(o, root);
		ASSERT_NOT_NULL(kids[i]);
	}
	/* And a chain 10,000 deep: no recursion to overflow. */
	ward_ctx_t *deep = root;
	for (int i = 0; i < 10000; i++)
		deep = ward_ctx_new(o, deep);
	ASSERT_EQ(ward_ctx_cancel(root, 0), 0);
	for (int i = 0; i < 10000; i++)
		ASSERT_EQ(ward_ctx_err(kids[i]), -ECANCELED);
	ASSERT_EQ(ward_ctx_err(deep), -ECANCELED);
	ASSERT_EQ(ward_owner_release(o), 0);
}

/* ---- Deadlines and the done descriptor ------------------------------------ */

TEST(a_deadline_cancels_with_etimedout_when_it_passes)
{
	start();
	ward_owner_t *o = ward_owner_new(NULL, "timed");
	uint64_t t0 = now_ms();
	ward_ctx_t *c = ward_ctx_with_timeout(o, NULL, 80 * 1000000ull);
	ASSERT_EQ(ward_ctx_err(c), 0);
	ASSERT_EQ(ward_ctx_wait(c, UINT64_MAX), -ETIMEDOUT);
	uint64_t took = now_ms() - t0;
	ASSERT_GE(took, 80);
	ASSERT_LT(took, 1080); /* generous: a loaded machine */
	ASSERT_EQ(ward_ctx_cause(c), -ETIMEDOUT);
	ASSERT_EQ(ward_ctx_cancel(c, 0), -EALREADY);
	/* A child's deadline is never later than its parent's. */
	ward_ctx_t *p = ward_ctx_with_timeout(o, NULL, 1000000000ull);
	ward_ctx_t *k = ward_ctx_with_timeout(o, p, 60ull * 1000000000ull);
	ASSERT_EQ(ward_ctx_deadline(k), ward_ctx_deadline(p));
	/* wait() with a timeout that comes first returns 0. */
	ASSERT_EQ(ward_ctx_wait(k, 10 * 1000000ull), 0);
	ward_owner_release(o);
}

TEST(the_done_descriptor_is_readable_from_cancel_on)
{
	start();
	ward_owner_t *o = ward_owner_new(NULL, "fd");
	ward_ctx_t *c = ward_ctx_new(o, NULL);
	ward_ctx_t *k = ward_ctx_new(o, c);
	int fd = ward_ctx_done_fd(c), kfd = ward_ctx_done_fd(k);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(ward_ctx_done_fd(c), fd); /* one per context */
	ASSERT_TRUE(!readable(fd));
	ASSERT_TRUE(!readable(kfd));
	ward_ctx_cancel(c, 0);
	usleep(1000);
	ASSERT_TRUE(readable(fd));
	ASSERT_TRUE(readable(kfd)); /* the child's too */
	ASSERT_TRUE(readable(fd)); /* and it stays readable */
	/* A deadline makes it readable with nobody asking. */
	ward_ctx_t *t = ward_ctx_with_timeout(o, NULL, 30 * 1000000ull);
	int tfd = ward_ctx_done_fd(t);
	struct pollfd p = { tfd, POLLIN, 0 };
	ASSERT_EQ(poll(&p, 1, 2000), 1);
	ASSERT_EQ(ward_ctx_err(t), -ETIMEDOUT);
	ward_owner_release(o);
	/* Released with the owner: the descriptors are closed. */
	ASSERT_EQ(fcntl(fd, F_GETFD), -1);
}

TEST(releasing_the_owner_cancels_its_contexts)
{
	start();
	ward_owner_t *parent_owner = ward_owner_new(NULL, "parent");
	ward_owner_t *o = ward_owner_new(NULL, "o");
	ward_ctx_t *outer = ward_ctx_new(parent_owner, NULL);
	ward_ctx_t *c = ward_ctx_new(o, outer);
	ward_ctx_t *grandchild = ward_ctx_new(parent_owner, c);
	ward_owner_release(o);
	/* c is gone; its child, owned elsewhere, was cancelled with it. */
	ASSERT_EQ(ward_ctx_err(grandchild), -ECANCELED);
	ASSERT_EQ(ward_ctx_err(outer), 0); /* never the parent */
	ward_owner_release(parent_owner);
}

/* ---- Threads that belong to an owner -------------------------------------- */

static atomic_int worker_ended;

static void polite_worker(ward_ctx_t *ctx, void *arg)
{
	ASSERT_EQ(ward_ctx_wait(ctx, UINT64_MAX), -ECANCELED);
	atomic_fetch_add(&worker_ended, 1);
}

TEST(releasing_the_owner_cancels_and_joins_its_threads)
{
	start();
	atomic_store(&worker_ended, 0);
	ward_owner_t *o = ward_owner_new(NULL, "workers");
	ward_ctx_t *c = ward_ctx_new(o, NULL);
	for (int i = 0; i < 8; i++)
		ASSERT_EQ(ward_go(c, polite_worker, NULL), 0);
	struct ward_kind_stats st;
	ward_kind_stats(WARD_KIND_THREAD, &st);
	ASSERT_EQ(st.live_count, 8);
	ward_profile_t *p = ward_profile_snapshot();
	int64_t held = 0;
	for (size_t i = 0; i < ward_profile_count(p); i++) {
		const struct ward_sample *s = ward_profile_sample(p, i);
		if (s->kind == WARD_KIND_THREAD && s->owner &&
		    strcmp(s->owner, "workers") == 0)
			held += s->live_count;
	}
	ASSERT_EQ(held, 8);
	ward_profile_free(p);
	ASSERT_EQ(ward_owner_release(o), 0);
	ASSERT_EQ(atomic_load(&worker_ended), 8); /* joined: all ended */
	ward_kind_stats(WARD_KIND_THREAD, &st);
	ASSERT_EQ(st.live_count, 0);
	ASSERT_EQ(ward_test_logged[0], '\0');
	/* No new thread on a cancelled context. */
	ward_owner_t *o2 = ward_owner_new(NULL, "o2");
	ward_ctx_t *c2 = ward_ctx_new(o2, NULL);
	ward_ctx_cancel(c2, 0);
	ASSERT_EQ(ward_go(c2, polite_worker, NULL), -EINVAL);
	ASSERT_EQ(ward_go(NULL, polite_worker, NULL), -EINVAL);
	ward_owner_release(o2);
}

/* Leaked threads: each ignores its context and blocks somewhere. */
static int leak_pipe[2];
static pthread_mutex_t never_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never_cond = PTHREAD_COND_INITIALIZER;
static atomic_bool stop_spinning;

static __attribute__((noinline)) void wait_for_input(ward_ctx_t *ctx, void *arg)
{
	char c;
	(void)!read(leak_pipe[0], &c, 1); /* forgets to poll the context */
	__asm__ volatile("" ::: "memory");
}

static __attribute__((noinline)) void wait_for_signal(ward_ctx_t *ctx, void *arg)
{
	pthread_mutex_lock(&never_lock);
	while (!atomic_load(&stop_spinning))
		pthread_cond_wait(&never_cond, &never_lock);
	pthread_mutex_unlock(&never_lock);
	__asm__ volatile("" ::: "memory");
}

static __attribute__((noinline)) void spin_forever(ward_ctx_t *ctx, void *arg)
{
	while (!atomic_load(&stop_spinning))
		__asm__ volatile("" ::: "memory");
}

static const struct ward_sample *leaked_sample(const ward_profile_t *p,
					       const char *label)
{
	for (size_t i = 0; i < ward_profile_count(p); i++) {
		const struct ward_sample *s = ward_profile_sample(p, i);
		if (s->kind == WARD_KIND_THREAD && s->owner &&
		    strcmp(s->owner, label) == 0 && s->live_count > 0)
			return s;
	}
	return NULL;
}

static void leaks_one(void (*fn)(ward_ctx_t *, void *), const char *name,
		      const char *blocked_in)
{
	start();
	ward_go_set_grace(100);
	ward_owner_t *server = ward_owner_new(NULL, "server");
	ward_owner_t *conn = ward_owner_new(server, name);
	ward_ctx_t *c = ward_ctx_new(conn, NULL);
	ASSERT_EQ(ward_go(c, fn, NULL), 0);
	usleep(20 * 1000); /* let it block */
	uint64_t t0 = now_ns();
	ASSERT_EQ(ward_owner_release(conn), 0);
	/* The grace period was given (in nanoseconds: two readings cut to
	 * milliseconds can be 99 apart across 100 ms). */
	ASSERT_GE(now_ns() - t0, 100 * 1000000ull);
	ASSERT_CONTAINS(ward_test_logged, "did not end within 100 ms after its owner");
	ASSERT_CONTAINS(ward_test_logged, name);
	ASSERT_CONTAINS(ward_test_logged, "test_ctx.c:");

	char label[64];
	snprintf(label, sizeof(label), "leaked from server/%s", name);
	ward_profile_t *p = ward_profile_snapshot();
	const struct ward_sample *s = leaked_sample(p, label);
	ASSERT_NOT_NULL(s);
	ASSERT_GE(s->blocked_depth, 2);
	struct ward_test_buf b = { 0 };
	ward_profile_write(p, WARD_FORMAT_TEXT, ward_test_to_buf, &b);
	ASSERT_CONTAINS(b.p, "[blocked now in:]");
	ASSERT_CONTAINS(b.p, blocked_in);
	ASSERT_CONTAINS(b.p, "leaks_one"); /* where it was started */
	free(b.p);
	b = (struct ward_test_buf){ 0 };
	ward_profile_write(p, WARD_FORMAT_JSON, ward_test_to_buf, &b);
	ASSERT_CONTAINS(b.p, "\"blocked\":[");
	free(b.p);
	ward_profile_free(p);

	/* When it ends at last, it leaves the books. */
	atomic_store(&stop_spinning, true);
	pthread_mutex_lock(&never_lock);
	pthread_cond_broadcast(&never_cond);
	pthread_mutex_unlock(&never_lock);
	(void)!write(leak_pipe[1], "x", 1);
	struct ward_kind_stats st;
	for (int i = 0; i < 200; i++) {
		ward_kind_stats(WARD_KIND_THREAD, &st);
		if (st.live_count == 0)
			break;
		usleep(10 * 1000);
	}
	ASSERT_EQ(st.live_count, 0);
	p = ward_profile_snapshot();
	ASSERT_TRUE(leaked_sample(p, label) == NULL);
	ward_profile_free(p);
	ward_owner_release(server);
}

TEST(a_thread_blocked_in_read_is_reported_where_it_blocks)
{
	ASSERT_EQ(pipe(leak_pipe), 0);
	leaks_one(wait_for_input, "conn read", "wait_for_input");
	ASSERT_CONTAINS(ward_test_logged, "leaked");
}

TEST(a_thread_blocked_in_cond_wait_is_reported_where_it_blocks)
{
	ASSERT_EQ(pipe(leak_pipe), 0);
	leaks_one(wait_for_signal, "conn wait", "pthread_cond_wait");
}

TEST(a_busy_thread_is_reported_where_it_runs)
{
	ASSERT_EQ(pipe(leak_pipe), 0);
	leaks_one(spin_forever, "conn busy", "spin_forever");
}

/* ---- From many threads ----------------------------------------------------- */

static ward_ctx_t *shared_ctx;

static void *cancel_and_add(void *arg)
{
	ward_owner_t *o = arg;
	for (int i = 0; i < 500; i++) {
		ward_ctx_t *k = ward_ctx_new(o, shared_ctx);
		if (k && i % 7 == 0)
			ward_ctx_cancel(k, 0);
		if (i == 250)
			ward_ctx_cancel(shared_ctx, -EINTR);
		if (k)
			ward_ctx_err(k);
	}
	return NULL;
}

TEST(contexts_from_many_threads)
{
	start();
	ward_owner_t *o = ward_owner_new(NULL, "shared");
	shared_ctx = ward_ctx_new(o, NULL);
	pthread_t th[4];
	for (int i = 0; i < 4; i++)
		ASSERT_EQ(pthread_create(&th[i], NULL, cancel_and_add, o), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	ASSERT_EQ(ward_ctx_cause(shared_ctx), -EINTR);
	ward_ctx_t *k = ward_ctx_new(o, shared_ctx);
	ASSERT_EQ(ward_ctx_cause(k), -EINTR);
	ASSERT_EQ(ward_owner_release(o), 0);
}

/* A leak check reads a leaked thread asleep in poll() where it sleeps:
 * neither it nor a thread the check does not report wakes early (a
 * signal's handler would end either's poll with EINTR). */
static int poll_pipe[2];
static _Atomic int poll_rc[2] = { -2, -2 };

static __attribute__((noinline)) void *stuck_poller(void *slot)
{
	struct pollfd p = { .fd = poll_pipe[0], .events = POLLIN };
	int rc = poll(&p, 1, 10000);
	atomic_store(&poll_rc[(intptr_t)slot], rc < 0 ? -errno : rc);
	__asm__ volatile("" ::: "memory");
	return NULL;
}

static void *bystander(void *slot)
{
	int rc = poll(NULL, 0, 600);
	atomic_store(&poll_rc[(intptr_t)slot], rc < 0 ? -errno : rc);
	return NULL;
}

TEST(a_leak_check_wakes_no_thread_asleep)
{
	ASSERT_EQ(pipe(poll_pipe), 0);
	setenv("WARD_LEAKCHECK_WAIT_MS", "50", 1);
	pthread_t by, th;
	ASSERT_EQ(pthread_create(&by, NULL, bystander, (void *)1), 0);
	ward_leakcheck_t *lc = ward_leakcheck_begin();
	ASSERT_EQ(ward_thread_create(&th, NULL, stuck_poller, (void *)0), 0);
	usleep(50 * 1000);
	ward_profile_t *leaks = NULL;
	ASSERT_EQ(ward_leakcheck_end(lc, &leaks), 1);
	struct ward_test_buf b = { 0 };
	ward_profile_write(leaks, WARD_FORMAT_TEXT, ward_test_to_buf, &b);
	/* Under valgrind, where it sleeps is valgrind's: left unread. */
	if (!RUNNING_ON_VALGRIND) {
		ASSERT_CONTAINS(b.p, "[blocked now in:]");
		ASSERT_CONTAINS(b.p, "stuck_poller");
	}
	free(b.p);
	ward_profile_free(leaks);
	ASSERT_EQ(pthread_join(by, NULL), 0);
	ASSERT_EQ(atomic_load(&poll_rc[1]), 0); /* its whole 600 ms */
	ASSERT_EQ(atomic_load(&poll_rc[0]), -2); /* still asleep */
	(void)!write(poll_pipe[1], "x", 1);
	ASSERT_EQ(ward_thread_join(th, NULL), 0);
	ASSERT_EQ(atomic_load(&poll_rc[0]), 1); /* woken by the pipe */
	close(poll_pipe[0]);
	close(poll_pipe[1]);
}

/* A leak check names a leaked thread's blocked call too. */
static int check_pipe[2];

static __attribute__((noinline)) void *stuck_reader(void *unused)
{
	char c;
	(void)!read(check_pipe[0], &c, 1);
	__asm__ volatile("" ::: "memory");
	return NULL;
}

TEST(a_leak_check_shows_where_a_leaked_thread_is_blocked)
{
	ASSERT_EQ(pipe(check_pipe), 0);
	setenv("WARD_LEAKCHECK_WAIT_MS", "50", 1);
	ward_leakcheck_t *lc = ward_leakcheck_begin();
	pthread_t th;
	ASSERT_EQ(ward_thread_create(&th, NULL, stuck_reader, NULL), 0);
	usleep(20 * 1000);
	ward_profile_t *leaks = NULL;
	ASSERT_EQ(ward_leakcheck_end(lc, &leaks), 1);
	struct ward_test_buf b = { 0 };
	ward_profile_write(leaks, WARD_FORMAT_TEXT, ward_test_to_buf, &b);
	ASSERT_CONTAINS(b.p, "[blocked now in:]");
	ASSERT_CONTAINS(b.p, "stuck_reader");
	ASSERT_CONTAINS(b.p, "thread: 1 live");
	free(b.p);
	ward_profile_free(leaks);
	(void)!write(check_pipe[1], "x", 1);
	ASSERT_EQ(ward_thread_join(th, NULL), 0);
}

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifndef UNDER_TSAN
#define UNDER_TSAN 0
#endif

/* A thread started with ward_thread_create() and detached stays live
 * until it ends, as goleak counts a goroutine until it returns: a leak
 * check names one blocked for ever, with where it is blocked. */
static int detach_pipe[2];

static __attribute__((noinline)) void *detached_reader(void *unused)
{
	char c;
	(void)!read(detach_pipe[0], &c, 1);
	__asm__ volatile("" ::: "memory");
	return unused;
}

static void *ends_at_once(void *arg)
{
	return arg;
}

static void *detaches_itself(void *arg)
{
	ward_thread_detach(pthread_self());
	return arg;
}

static int64_t live_threads(void)
{
	struct ward_kind_stats st;
	if (ward_kind_stats(WARD_KIND_THREAD, &st) != 0)
		return -1;
	return (int64_t)st.live_count;
}

/* Whether the live threads come down to n within five seconds. */
static bool live_threads_reach(int64_t n)
{
	for (int i = 0; i < 5000 && live_threads() != n; i++)
		usleep(1000);
	return live_threads() == n;
}

TEST(a_detached_thread_is_live_until_it_ends)
{
	ASSERT_EQ(pipe(detach_pipe), 0);
	setenv("WARD_LEAKCHECK_WAIT_MS", "50", 1);
	int64_t base = live_threads();
	ward_leakcheck_t *lc = ward_leakcheck_begin();
	pthread_t th, t;
	ASSERT_EQ(ward_thread_create(&th, NULL, detached_reader, NULL), 0);
	ASSERT_EQ(ward_thread_detach(th), 0);
	/* Threads that end: created detached, detached by themselves, and
	 * detached once ended. */
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	for (int i = 0; i < 50; i++) {
		ASSERT_EQ(ward_thread_create(&t, &a, ends_at_once, NULL), 0);
		ASSERT_EQ(ward_thread_create(&t, NULL, detaches_itself, NULL),
			  0);
	}
	pthread_attr_destroy(&a);
	ASSERT_EQ(ward_thread_create(&t, NULL, ends_at_once, NULL), 0);
	usleep(20 * 1000);
	ASSERT_EQ(ward_thread_detach(t), 0);
	ASSERT_TRUE(live_threads_reach(base + 1));

	ward_profile_t *leaks = NULL;
	ASSERT_EQ(ward_leakcheck_end(lc, &leaks), 1);
	struct ward_test_buf b = { 0 };
	ward_profile_write(leaks, WARD_FORMAT_TEXT, ward_test_to_buf, &b);
	ASSERT_CONTAINS(b.p, "thread: 1 live");
	/* Where it sleeps is valgrind's under valgrind, and TSan's read()
	 * under TSan (run there for the races of its ending): left unread. */
	if (!RUNNING_ON_VALGRIND && !UNDER_TSAN) {
		ASSERT_CONTAINS(b.p, "[blocked now in:]");
		ASSERT_CONTAINS(b.p, "detached_reader");
	}
	free(b.p);
	ward_profile_free(leaks);

	/* Let go, it ends: off the books with nobody to join it. */
	(void)!write(detach_pipe[1], "x", 1);
	ASSERT_TRUE(live_threads_reach(base));
	close(detach_pipe[0]);
	close(detach_pipe[1]);
}
