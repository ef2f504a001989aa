/*
 * test_lock.c — the lock-order check of debug builds (src/core/lock.h):
 * two locks taken in both orders, each order on its own and at different
 * times, is found the first time the second order is taken — no deadlock
 * needed — and named; locks of one class taken inside one another, and a
 * consistent order through a third lock, are not errors. Built against
 * the sanitizer library, which has the check.
 */
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/lock.h"
#include "runner.h"
#include "ward.h"

#ifndef WARD_LOCK_CHECK
#error "test_lock is built with the lock-order check"
#endif

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t index_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;

static void cache_then_index(void)
{
	ward__mutex_lock(&cache_lock);
	ward__mutex_lock(&index_lock);
	ward__mutex_unlock(&index_lock);
	ward__mutex_unlock(&cache_lock);
}

static void index_then_cache(void)
{
	ward__mutex_lock(&index_lock);
	ward__mutex_lock(&cache_lock);
	ward__mutex_unlock(&cache_lock);
	ward__mutex_unlock(&index_lock);
}

static struct ward_test_buf fatal_text;

static void keep_log(void *opaque, enum ward_log_level level, const char *msg,
		     size_t len)
{
	(void)level;
	(void)opaque;
	ward_test_to_buf(&fatal_text, msg, len);
}

static void *other_order(void *unused)
{
	(void)unused;
	index_then_cache();
	return NULL;
}

TEST(an_inverted_order_is_fatal_the_first_time_and_named)
{
	ward_set_log_hook(keep_log, NULL);
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		cache_then_index();
		/* Later, on another thread: no deadlock happens here, the
		 * two never overlap; the order is still wrong. */
		pthread_t th;
		pthread_create(&th, NULL, other_order, NULL);
		pthread_join(th, NULL);
		_exit(0); /* not reached: the check aborts */
	}
	int st;
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	ASSERT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
}

TEST(the_report_names_both_locks)
{
	ward_set_log_hook(keep_log, NULL);
	int out[2];
	ASSERT_EQ(pipe(out), 0);
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		cache_then_index();
		/* The fatal message goes through the log hook: pass it up. */
		ward_set_log_hook(NULL, NULL);
		dup2(out[1], 2);
		index_then_cache();
		_exit(0);
	}
	close(out[1]);
	char buf[1024] = { 0 };
	size_t n = 0;
	ssize_t r;
	while (n < sizeof(buf) - 1 && (r = read(out[0], buf + n, sizeof(buf) - 1 - n)) > 0)
		n += (size_t)r;
	close(out[0]);
	int st;
	waitpid(pid, &st, 0);
	ASSERT_CONTAINS(buf, "lock order: ");
	ASSERT_CONTAINS(buf, "test_lock.c: &cache_lock taken while holding ");
	ASSERT_CONTAINS(buf, "test_lock.c: &index_lock");
}

TEST(a_consistent_order_through_a_third_lock_is_fine)
{
	ward__mutex_lock(&cache_lock);
	ward__mutex_lock(&stats_lock);
	ward__mutex_unlock(&stats_lock);
	ward__mutex_unlock(&cache_lock);
	ward__mutex_lock(&stats_lock);
	ward__mutex_unlock(&stats_lock);
	/* One class inside itself (a lock of each pool, in turn). */
	pthread_mutex_t each[3];
	for (int i = 0; i < 3; i++)
		pthread_mutex_init(&each[i], NULL);
	for (int i = 0; i < 3; i++)
		ward__mutex_lock(&each[i]);
	for (int i = 3; i-- > 0;)
		ward__mutex_unlock(&each[i]);
	ASSERT_TRUE(fatal_text.p == NULL);
}
