/*
 * test_defer.c — the defer module's API: frames, defer, cancel, the typed
 * conveniences, panics that end the process, the accumulation guard,
 * threads, statistics and the log hook.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

#include "runner.h"
#include "ward.h"

/* A trace of what ran, as a string: "a b c". */
static char trace[4096];

static void mark(void *word)
{
	size_t len = strlen(trace);
	snprintf(trace + len, sizeof(trace) - len, "%s%s", len ? " " : "",
		 (const char *)word);
}

static void mark_int(void *v)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%d", (int)(intptr_t)v);
	mark(buf);
}

TEST(lifo_on_fall_through)
{
	{
		WARD_FRAME;
		ward_defer(mark, "a");
		ward_defer(mark, "b");
		ward_defer(mark, "c");
		mark("body");
	}
	ASSERT_STREQ(trace, "body c b a");
}

static int returns_early(int x)
{
	WARD_FRAME;
	ward_defer(mark, "d1");
	if (x > 0)
		return x * 2;
	ward_defer(mark, "d2");
	return -1;
}

TEST(return_runs_defers_after_the_value_is_computed)
{
	ASSERT_EQ(returns_early(4), 8);
	ASSERT_STREQ(trace, "d1");
	trace[0] = 0;
	ASSERT_EQ(returns_early(0), -1);
	ASSERT_STREQ(trace, "d2 d1");
}

TEST(break_and_continue_leave_a_loop_body_frame)
{
	for (int i = 0; i < 5; i++) {
		WARD_FRAME;
		ward_defer(mark_int, (void *)(intptr_t)i);
		if (i == 1)
			continue;
		if (i == 3)
			break;
		mark("x");
	}
	ASSERT_STREQ(trace, "x 0 1 x 2 3");
}

TEST(goto_out_of_a_frame_and_backward_goto_reentering)
{
	int round = 0;
again:
	{
		WARD_FRAME;
		ward_defer(mark_int, (void *)(intptr_t)round);
		if (round++ < 2)
			goto again;
		if (round == 3)
			goto out;
		mark("unreached");
	}
out:
	ASSERT_STREQ(trace, "0 1 2");
}

TEST(argument_is_captured_at_registration)
{
	int i = 1;
	{
		WARD_FRAME;
		ward_defer(mark_int, (void *)(intptr_t)i);
		i = 2;
		ward_defer(mark_int, (void *)(intptr_t)i);
		i = 3;
	}
	ASSERT_STREQ(trace, "2 1");
}

static void defers_more(void *unused)
{
	mark("outer");
	{
		WARD_FRAME;
		ward_defer(mark, "own-frame");
	}
	/* No frame of its own: it lands on the frame being closed, and runs
	 * before that frame finishes closing. */
	ward_defer(mark, "added-late");
}

TEST(deferred_functions_may_defer)
{
	{
		WARD_FRAME;
		ward_defer(mark, "first");
		ward_defer(defers_more, NULL);
	}
	ASSERT_STREQ(trace, "outer own-frame added-late first");
}

TEST(cancel_before_it_runs)
{
	{
		WARD_FRAME;
		ward_defer(mark, "kept");
		ward_defer_t h = ward_defer(mark, "rolled-back");
		ward_defer(mark, "last");
		ASSERT_EQ(ward_defer_cancel(h), 0);
		ASSERT_EQ(ward_defer_cancel(h), -ENOENT);
	}
	ASSERT_STREQ(trace, "last kept");
	struct ward_defer_stats st;
	ward_defer_stats(&st);
	ASSERT_EQ(st.cancelled, 1);
	ASSERT_EQ(st.registered, 3);
	ASSERT_EQ(st.run, 2);
}

TEST(cancel_after_it_ran_is_enoent)
{
	ward_defer_t h;
	{
		WARD_FRAME;
		h = ward_defer(mark, "x");
	}
	ASSERT_EQ(ward_defer_cancel(h), -ENOENT);
	{
		WARD_FRAME;
		/* Same slot, new registration: the old handle must not
		 * cancel it. */
		ward_defer(mark, "y");
		ASSERT_EQ(ward_defer_cancel(h), -ENOENT);
	}
	ASSERT_STREQ(trace, "x y");
}

/* Another thread registers one defer and hands its handle out. */
static void *registers_one(void *out)
{
	WARD_FRAME;
	*(ward_defer_t *)out = ward_defer(mark_int, (void *)(intptr_t)7);
	ward_defer_t mine = *(ward_defer_t *)out;
	/* Its own handle works for it. */
	return (void *)(intptr_t)(ward_defer_cancel(mine) == 0);
}

TEST(cancel_with_another_threads_handle_is_refused)
{
	ward_defer_t foreign;
	pthread_t th;
	void *own_cancel_worked;
	ASSERT_EQ(pthread_create(&th, NULL, registers_one, &foreign), 0);
	ASSERT_EQ(pthread_join(th, &own_cancel_worked), 0);
	ASSERT_EQ((intptr_t)own_cancel_worked, 1);
	{
		WARD_FRAME;
		/* The same slot and serial as the other thread's: a handle
		 * that named only those would cancel this one. */
		ward_defer(mark, "mine");
		ASSERT_EQ(ward_defer_cancel(foreign), -EINVAL);
		ward_defer_t never = { 0, 0, 0 };
		ASSERT_EQ(ward_defer_cancel(never), -EINVAL);
	}
	ASSERT_STREQ(trace, "mine");
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

TEST(typed_conveniences_release)
{
	int fds[2];
	ASSERT_EQ(pipe(fds), 0);
	FILE *f = tmpfile();
	ASSERT_NOT_NULL(f);
	int ffd = fileno(f);
	{
		WARD_FRAME;
		void *p = malloc(100);
		ward_defer_free(p);
		ward_defer_close(fds[0]);
		ward_defer_close(fds[1]);
		ward_defer_fclose(f);
		pthread_mutex_lock(&lock);
		ward_defer_unlock(&lock);
	}
	ASSERT_EQ(fcntl(fds[0], F_GETFD), -1);
	ASSERT_EQ(fcntl(fds[1], F_GETFD), -1);
	ASSERT_EQ(fcntl(ffd, F_GETFD), -1);
	ASSERT_EQ(pthread_mutex_trylock(&lock), 0);
	pthread_mutex_unlock(&lock);
}

static void defer_without_frame(void)
{
	ward_defer(mark, "nowhere");
}

TEST(defer_with_no_open_frame_aborts_naming_the_site)
{
	struct ward_test_spawned s = ward_test_spawn(defer_without_frame);
	ASSERT_EQ(s.status, 128 + SIGABRT);
	ASSERT_CONTAINS(s.err, "ward_defer() at");
	ASSERT_CONTAINS(s.err, "test_defer.c:");
	ASSERT_CONTAINS(s.err, "no open frame");
	ward_test_spawned_free(&s);
}

/* Go: recover() in a helper the deferred function calls returns nil —
 * also when the helper is called last, and -O2 makes it a sibling call
 * that takes over the deferred function's frame. */
static __attribute__((noinline)) void helper_tries_to_recover(void *arg)
{
	*(volatile bool *)arg = ward_recover() != NULL;
}

static void deferred_calls_helper_last(void *arg)
{
	helper_tries_to_recover(arg); /* a tail call at -O2 */
}

static void panics_under_a_tail_calling_defer(void *arg)
{
	WARD_FRAME;
	ward_defer(deferred_calls_helper_last, arg);
	ward_panic(0, "not recovered by a helper");
}

TEST(recover_in_a_helper_called_last_returns_null_at_O2)
{
	volatile bool recovered = true;
	const ward_panic_t *p = ward_pcall(panics_under_a_tail_calling_defer,
					   (void *)&recovered);
	ASSERT_NOT_NULL(p); /* the panic went on, as in Go */
	ASSERT_TRUE(!recovered);
}

/* Go's named result, in C: a struct the deferred function changes after a
 * recovery, read by the resume statement. volatile, per defer.h. */
struct named_result {
	int code;
	char detail[12];
};

static void recover_and_set(void *arg)
{
	volatile struct named_result *r = arg;
	if (ward_recover())
		r->code = 42;
}

static __attribute__((noinline)) int resumed_with_struct(void)
{
	volatile struct named_result r = { 1, "" };
	WARD_FRAME_RESUMABLE(return r.code);
	ward_defer(recover_and_set, (void *)&r);
	r.code = 2;
	ward_panic(0, "recovered into a named result");
	return 0;
}

TEST(resume_statement_reads_a_volatile_struct_the_defer_changed)
{
	ASSERT_EQ(resumed_with_struct(), 42);
}

/* The abort hook sees the message and may end the process its own way. */
static void exit_with_7(void *opaque, const char *msg, size_t len)
{
	char line[64];
	snprintf(line, sizeof(line), "hook(%s): %.*s", (const char *)opaque,
		 (int)(len < 30 ? len : 30), msg);
	fputs(line, stdout);
	fflush(stdout);
	exit(7);
}

static void defer_without_frame_hooked(void)
{
	ward_set_abort_hook(exit_with_7, "mine");
	ward_defer(mark, "nowhere");
}

static void returning_hook(void *opaque, const char *msg, size_t len)
{
	fputs("returned\n", stdout);
	fflush(stdout);
}

static void defer_without_frame_hook_returns(void)
{
	ward_set_abort_hook(returning_hook, NULL);
	ward_defer(mark, "nowhere");
}

TEST(abort_hook_replaces_the_abort)
{
	struct ward_test_spawned s = ward_test_spawn(defer_without_frame_hooked);
	ASSERT_EQ(s.status, 7);
	ASSERT_CONTAINS(s.out, "hook(mine): ward: ward_defer() at");
	ASSERT_CONTAINS(s.err, "no open frame"); /* logged first */
	ward_test_spawned_free(&s);
	/* A hook that returns: ward aborts all the same. */
	s = ward_test_spawn(defer_without_frame_hook_returns);
	ASSERT_EQ(s.status, 128 + SIGABRT);
	ASSERT_CONTAINS(s.out, "returned");
	ward_test_spawned_free(&s);
	ASSERT_TRUE(ward_set_abort_hook(NULL, NULL) == NULL);
}

static void nothing(void *unused)
{
}

static void leaky_loop(void)
{
	WARD_FRAME;
	for (int i = 0; i < 3000; i++)
		ward_defer(nothing, NULL); /* the loop-defer bug */
	for (int i = 0; i < 3000; i++)
		ward_defer(nothing, NULL); /* a second site */
}

static void fixed_loop(void)
{
	WARD_FRAME;
	for (int i = 0; i < 3000; i++) {
		WARD_FRAME;
		ward_defer(nothing, NULL);
	}
}

static void guard_scenario(void)
{
	leaky_loop();
	leaky_loop(); /* same sites again: no new report */
	fixed_loop();
	struct ward_defer_stats st;
	ward_defer_stats(&st);
	printf("warnings=%llu max_depth=%llu\n",
	       (unsigned long long)st.warnings,
	       (unsigned long long)st.max_depth);
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

TEST(accumulation_guard_reports_once_per_site)
{
	struct ward_test_spawned s = ward_test_spawn(guard_scenario);
	ASSERT_EQ(s.status, 0);
	ASSERT_EQ(count(s.err, "defer accumulation"), 2);
	ASSERT_CONTAINS(s.err, "more than the limit of 1024");
	ASSERT_CONTAINS(s.err, "(leaky_loop)");
	ASSERT_CONTAINS(s.err, "Open a frame in the loop body");
	ASSERT_CONTAINS(s.out, "max_depth=6000");
	ward_test_spawned_free(&s);
}

static void guard_with_env(void)
{
	setenv("WARD_DEFER_LIMIT", "10", 1);
	WARD_FRAME;
	for (int i = 0; i < 11; i++)
		ward_defer(nothing, NULL);
}

TEST(accumulation_limit_from_the_environment)
{
	struct ward_test_spawned s = ward_test_spawn(guard_with_env);
	ASSERT_EQ(s.status, 0);
	ASSERT_CONTAINS(s.err, "holds 11 pending defers, more than the "
			       "limit of 10");
	ward_test_spawned_free(&s);
}

TEST(accumulation_limit_per_thread_and_off)
{
	ASSERT_EQ(ward_defer_set_limit(0), 1024);
	{
		WARD_FRAME;
		for (int i = 0; i < 5000; i++)
			ward_defer(nothing, NULL);
	}
	struct ward_defer_stats st;
	ward_defer_stats(&st);
	ASSERT_EQ(st.warnings, 0);
	ASSERT_EQ(st.run, 5000);
	ASSERT_EQ(st.max_depth, 5000);
	ASSERT_EQ(ward_defer_set_limit(4), 0);
	{
		WARD_FRAME;
		for (int i = 0; i < 5; i++)
			ward_defer(nothing, NULL);
	}
	ward_defer_stats(&st);
	ASSERT_EQ(st.warnings, 1);
}

static int deep_frames(int n)
{
	WARD_FRAME;
	ward_defer(mark_int, (void *)(intptr_t)(n % 10));
	return n == 0 ? 0 : 1 + deep_frames(n - 1);
}

TEST(frames_nest_beyond_the_first_block)
{
	ASSERT_EQ(deep_frames(99), 99);
	ASSERT_EQ(strlen(trace), 199);
	ASSERT_TRUE(strncmp(trace, "0 1 2 3 4 5 6 7 8 9 0", 21) == 0);
}

static void panic_unrecovered(void)
{
	WARD_FRAME;
	ward_defer(mark, "ran");
	ward_defer_fclose(stdout); /* flushes "ran" only if defers ran */
	printf("before\n");
	ward_panic(7, "disk %s is full", "sda");
}

TEST(unrecovered_panic_prints_like_go_and_exits_2)
{
	struct ward_test_spawned s = ward_test_spawn(panic_unrecovered);
	ASSERT_EQ(s.status, 2);
	ASSERT_STREQ(s.out, "before\n");
	ASSERT_TRUE(strncmp(s.err, "panic: disk sda is full\n", 24) == 0);
	ASSERT_CONTAINS(s.err, "panic site: ");
	ASSERT_CONTAINS(s.err, "(panic_unrecovered), code 7");
	ASSERT_CONTAINS(s.err, "frames unwound, innermost first:");
	ASSERT_CONTAINS(s.err, "stack:");
	ward_test_spawned_free(&s);
}

static void repanic_in_defer(void *unused)
{
	const ward_panic_t *p = ward_recover();
	ward_panic(0, "again: %s", p ? p->message : "?");
}

static void panic_chain(void)
{
	WARD_FRAME_RESUMABLE(return);
	ward_defer(repanic_in_defer, NULL);
	ward_panic(1, "first");
}

TEST(unrecovered_chain_prints_recovered_and_nested)
{
	struct ward_test_spawned s = ward_test_spawn(panic_chain);
	ASSERT_EQ(s.status, 2);
	ASSERT_TRUE(strncmp(s.err,
			    "panic: first [recovered]\n\tpanic: again: first\n",
			    45) == 0);
	ward_test_spawned_free(&s);
}

static void recover_in_plain_frame(void *unused)
{
	ward_recover();
}

static void plain_frame_recovery(void)
{
	WARD_FRAME;
	ward_defer(recover_in_plain_frame, NULL);
	ward_panic(0, "p");
}

TEST(recovery_on_a_plain_frame_is_a_programming_error)
{
	struct ward_test_spawned s = ward_test_spawn(plain_frame_recovery);
	ASSERT_EQ(s.status, 128 + SIGABRT);
	ASSERT_CONTAINS(s.err, "cannot resume");
	ASSERT_CONTAINS(s.err, "(plain_frame_recovery)");
	ASSERT_CONTAINS(s.err, "WARD_FRAME_RESUMABLE");
	ward_test_spawned_free(&s);
}

static void panics_with_null(void *unused)
{
	ward_panic_value(5, NULL, "nil payload");
}

static int payload = 9;
static void panics_with_payload(void *unused)
{
	ward_panic_value(6, &payload, "payload");
}

TEST(null_payload_is_still_a_panic)
{
	const ward_panic_t *p = ward_pcall(panics_with_null, NULL);
	ASSERT_NOT_NULL(p);
	ASSERT_EQ(p->code, 5);
	ASSERT_TRUE(p->has_value);
	ASSERT_NULL(p->value);
	ASSERT_TRUE(p->recovered);
	p = ward_pcall(panics_with_payload, NULL);
	ASSERT_PTR_EQ(p->value, &payload);
	ASSERT_STREQ(p->message, "payload");
	ASSERT_CONTAINS(p->file, "test_defer.c");
	ASSERT_STREQ(p->func, "panics_with_payload");
}

TEST(pcall_without_panic_returns_null)
{
	ASSERT_NULL(ward_pcall(mark, "plain"));
	ASSERT_STREQ(trace, "plain");
	ASSERT_TRUE(!ward_panicking());
}

static void nested_pcall(void *unused)
{
	const ward_panic_t *inner = ward_pcall(panics_with_null, NULL);
	ward_panic(2, "outer after %s", inner ? inner->message : "none");
}

TEST(pcall_nests)
{
	const ward_panic_t *p = ward_pcall(nested_pcall, NULL);
	ASSERT_NOT_NULL(p);
	ASSERT_STREQ(p->message, "outer after nil payload");
	struct ward_defer_stats st;
	ward_defer_stats(&st);
	ASSERT_EQ(st.panics, 2);
	ASSERT_EQ(st.recoveries, 2);
}

static void *goexit_thread(void *arg)
{
	WARD_FRAME;
	ward_defer(mark, "thread-defer");
	{
		WARD_FRAME;
		ward_defer(mark, "inner-defer");
		ward_goexit();
	}
	mark("unreached");
	return arg;
}

TEST(goexit_runs_every_pending_defer_and_ends_the_thread)
{
	pthread_t th;
	static int marker;
	void *ret = &marker;
	ASSERT_EQ(pthread_create(&th, NULL, goexit_thread, &marker), 0);
	ASSERT_EQ(pthread_join(th, &ret), 0);
	ASSERT_NULL(ret);
	ASSERT_STREQ(trace, "inner-defer thread-defer");
}

static void *pthread_exit_thread(void *arg)
{
	WARD_FRAME;
	ward_defer(mark, "ran-at-thread-exit");
	pthread_exit(NULL);
}

TEST(pthread_exit_still_runs_pending_defers)
{
	pthread_t th;
	ASSERT_EQ(pthread_create(&th, NULL, pthread_exit_thread, NULL), 0);
	ASSERT_EQ(pthread_join(th, NULL), 0);
	ASSERT_STREQ(trace, "ran-at-thread-exit");
}

/* A cancelled thread ends in a way ward does not see: its defers run from
 * the thread-exit destructor (or, with -fexceptions, the unwinding). */
static atomic_int cancel_ready;

static void *cancelled_thread(void *arg)
{
	(void)arg;
	WARD_FRAME;
	ward_defer(mark, "ran-at-cancel");
	atomic_store(&cancel_ready, 1);
	for (;;)
		pause(); /* a cancellation point */
	return NULL;
}

TEST_CANCELS_A_THREAD(a_cancelled_thread_still_runs_pending_defers)
{
	pthread_t th;
	void *ret = NULL;
	trace[0] = '\0';
	atomic_store(&cancel_ready, 0);
	ASSERT_EQ(pthread_create(&th, NULL, cancelled_thread, NULL), 0);
	while (!atomic_load(&cancel_ready))
		usleep(1000);
	ASSERT_EQ(pthread_cancel(th), 0);
	ASSERT_EQ(pthread_join(th, &ret), 0);
	ASSERT_TRUE(ret == PTHREAD_CANCELED);
	ASSERT_STREQ(trace, "ran-at-cancel");
}

/* pthread_exit() with defers pending in two frames, from a deferred call
 * during a panic, and ward_goexit() from a defer pthread_exit() runs:
 * each defer once, the thread ends (built with -fexceptions too, where
 * the unwinding runs them, under gcc and clang). */
static void *exits_with_two_frames_pending(void *arg)
{
	(void)arg;
	WARD_FRAME;
	ward_defer(mark, "outer");
	{
		WARD_FRAME;
		ward_defer(mark, "inner1");
		ward_defer(mark, "inner2");
		pthread_exit((void *)"exited");
	}
	return NULL;
}

static void exits_now(void *arg)
{
	(void)arg;
	mark("exits");
	pthread_exit((void *)"exited");
}

static void *exits_from_a_deferred_call_in_a_panic(void *arg)
{
	(void)arg;
	WARD_FRAME;
	ward_defer(mark, "outer");
	{
		WARD_FRAME;
		ward_defer(mark, "inner");
		ward_defer(exits_now, NULL);
		ward_panic(2, "p");
	}
	return NULL;
}

static void goexits_now(void *arg)
{
	(void)arg;
	mark("goexits");
	ward_goexit();
}

static void *goexits_from_a_defer_pthread_exit_runs(void *arg)
{
	(void)arg;
	WARD_FRAME;
	ward_defer(mark, "outer");
	{
		WARD_FRAME;
		ward_defer(goexits_now, NULL);
		pthread_exit((void *)"exited");
	}
	return NULL;
}

/* A panic raised by a defer pthread_exit() runs, recovered further up:
 * the exit goes on, as Goexit does — the recovering frame is not resumed
 * (with -fexceptions it was: the thread ran on after pthread_exit()). */
static void panics_now(void *arg)
{
	(void)arg;
	mark("panics");
	ward_panic(0, "during the exit");
}

static void recovers_it(void *arg)
{
	(void)arg;
	if (ward_recover())
		mark("recovered");
}

static void *recovery_during_pthread_exit(void *arg)
{
	(void)arg;
	WARD_FRAME;
	ward_defer(recovers_it, NULL);
	{
		WARD_FRAME;
		ward_defer(panics_now, NULL);
		pthread_exit((void *)"exited");
	}
	mark("resumed");
	return (void *)"resumed";
}

/* The same where the recovering frame could resume: it is not. */
static void *resumable_recovery_during_pthread_exit(void *arg)
{
	(void)arg;
	WARD_FRAME_RESUMABLE(return (void *)"resumed");
	ward_defer(recovers_it, NULL);
	{
		WARD_FRAME;
		ward_defer(panics_now, NULL);
		pthread_exit((void *)"exited");
	}
	mark("resumed");
	return (void *)"resumed";
}

static const char *thread_trace(void *(*fn)(void *), void **ret)
{
	pthread_t th;
	trace[0] = '\0';
	if (pthread_create(&th, NULL, fn, NULL) != 0 ||
	    pthread_join(th, ret) != 0)
		return "(no thread)";
	return trace;
}

TEST(pthread_exit_runs_each_pending_defer_once)
{
	void *ret = NULL;
	ASSERT_STREQ(thread_trace(exits_with_two_frames_pending, &ret),
		     "inner2 inner1 outer");
	ASSERT_STREQ((char *)ret, "exited");
	ASSERT_STREQ(thread_trace(exits_from_a_deferred_call_in_a_panic, &ret),
		     "exits inner outer");
	ASSERT_STREQ((char *)ret, "exited");
	ASSERT_STREQ(thread_trace(goexits_from_a_defer_pthread_exit_runs, &ret),
		     "goexits outer");
	ASSERT_NULL(ret);
}

TEST(a_recovery_does_not_stop_pthread_exit)
{
	void *ret = NULL;
	ASSERT_STREQ(thread_trace(recovery_during_pthread_exit, &ret),
		     "panics recovered");
	ASSERT_STREQ((char *)ret, "exited");
	ASSERT_STREQ(thread_trace(resumable_recovery_during_pthread_exit, &ret),
		     "panics recovered");
	ASSERT_STREQ((char *)ret, "exited");
}

static void *counting_thread(void *arg)
{
	long sum = 0;
	for (int i = 0; i < 100000; i++) {
		WARD_FRAME;
		ward_defer(nothing, &sum);
		sum++;
	}
	struct ward_defer_stats st;
	ward_defer_stats(&st);
	return (void *)(intptr_t)(st.run == 100000 && sum == 100000);
}

TEST(threads_keep_their_own_chains)
{
	pthread_t th[4];
	for (int i = 0; i < 4; i++)
		ASSERT_EQ(pthread_create(&th[i], NULL, counting_thread, NULL),
			  0);
	for (int i = 0; i < 4; i++) {
		void *ok;
		ASSERT_EQ(pthread_join(th[i], &ok), 0);
		ASSERT_EQ((intptr_t)ok, 1);
	}
}

static jmp_buf escape;

static void jumps_out(void)
{
	WARD_FRAME;
	ward_defer(mark, "skipped-by-longjmp");
	longjmp(escape, 1);
}

static void longjmp_over_frames(void)
{
	/* Resumable only for its volatile depth: this function calls setjmp
	 * itself, and a plain frame's depth would draw -Wclobbered. */
	WARD_FRAME_RESUMABLE(return);
	ward_defer(mark, "outer");
	if (setjmp(escape) == 0)
		jumps_out();
	mark("after-longjmp");
}

static char logged[4096];
static void capture(void *opaque, enum ward_log_level level, const char *msg,
		    size_t len)
{
	size_t have = strlen(logged);
	if (have + len >= sizeof(logged))
		len = sizeof(logged) - have - 1;
	memcpy(logged + have, msg, len);
	logged[have + len] = '\0';
	*(int *)opaque = (int)level;
}

TEST(longjmp_over_a_frame_is_caught_at_the_enclosing_exit)
{
	int level = -1;
	ward_set_log_hook(capture, &level);
	longjmp_over_frames();
	ward_set_log_hook(NULL, NULL);
	ASSERT_STREQ(trace, "after-longjmp skipped-by-longjmp outer");
	ASSERT_CONTAINS(logged, "(jumps_out) was left without closing");
	ASSERT_EQ(level, WARD_LOG_WARN);
}

static jmp_buf out_of_outermost;

static __attribute__((noinline)) void opens_and_jumps(void)
{
	WARD_FRAME;
	ward_defer(mark, "dead-frame");
	longjmp(out_of_outermost, 1);
}

TEST(longjmp_out_of_the_outermost_frame_is_caught)
{
	/* No frame encloses the one left by the longjmp: the next frame
	 * opened by a shallower function (here) finds it dead, runs its
	 * defer with a warning, and the new frame's defers are its own. */
	int level = -1;
	ward_set_log_hook(capture, &level);
	if (setjmp(out_of_outermost) == 0)
		opens_and_jumps();
	mark("after");
	{
		WARD_FRAME;
		ward_defer(mark, "new");
	}
	ward_set_log_hook(NULL, NULL);
	ASSERT_STREQ(trace, "after dead-frame new");
	ASSERT_CONTAINS(logged, "(opens_and_jumps) was left without closing");
	ASSERT_EQ(ward__self.depth, 0);
}

#if defined(__SANITIZE_ADDRESS__)
/* Under ASan only: there a record read after the thread's next panic is
 * reported (defer.c frees retired records instead of reusing them). */
static void panics_other(void *arg)
{
	(void)arg;
	ward_panic(7, "second");
}

static void keeps_two_recovered_side_by_side(void)
{
	const ward_panic_t *a = ward_pcall(panics_with_payload, NULL);
	const ward_panic_t *b = ward_pcall(panics_other, NULL);
	/* a's record went back to the thread at b's panic: misuse. */
	printf("%s %s\n", a->message, b->message);
	exit(0);
}

TEST(a_recovered_record_read_after_the_next_panic_is_caught_under_asan)
{
	struct ward_test_spawned s = ward_test_spawn(keeps_two_recovered_side_by_side);
	ASSERT_NE(s.status, 0);
	ASSERT_CONTAINS(s.err, "heap-use-after-free");
	ward_test_spawned_free(&s);
}
#endif

TEST(recovered_panic_stays_valid_until_the_next_panic)
{
	const ward_panic_t *a = ward_pcall(panics_with_payload, NULL);
	ASSERT_STREQ(a->message, "payload");
	mark("other work");
	ASSERT_STREQ(a->message, "payload");
	ASSERT_EQ(a->code, 6);
}

static void panics_with_long_message(void *arg)
{
	(void)arg;
	char msg[400];
	memset(msg, 'x', sizeof(msg) - 1);
	msg[sizeof(msg) - 1] = '\0';
	memcpy(msg, "first:", 6);
	ward_panic(1, "%s", msg);
}

static void repanics_with(void *prev)
{
	const ward_panic_t *r = prev;
	ward_panic(2, "%s", r->message);
}

TEST(repanic_with_a_recovered_long_message_keeps_it)
{
	/* defer.h promises a recovered record may be used in the next
	 * panic's arguments: a long message went through a record the new
	 * panic reused, and came out empty. */
	const ward_panic_t *a = ward_pcall(panics_with_long_message, NULL);
	ASSERT_NOT_NULL(a);
	ASSERT_EQ(strlen(a->message), 399);
	char want[400];
	snprintf(want, sizeof(want), "%s", a->message);
	const ward_panic_t *b = ward_pcall(repanics_with, (void *)a);
	ASSERT_NOT_NULL(b);
	ASSERT_STREQ(b->message, want);
	ASSERT_EQ(b->code, 2);
}

static ward_defer_t self_handle;
static int self_cancel_rc;

static void cancels_itself(void *arg)
{
	(void)arg;
	self_cancel_rc = ward_defer_cancel(self_handle);
}

static void cancel_self_then_panic(void *arg)
{
	(void)arg;
	ward_defer_cancel(self_handle);
	ward_panic(9, "final");
}

static void runs_cancel_self(void *panics)
{
	WARD_FRAME;
	self_handle = ward_defer(panics ? cancel_self_then_panic : cancels_itself,
				 NULL);
	if (panics)
		ward_panic(8, "p");
}

static void panics_through_cancel_self(void *arg)
{
	WARD_FRAME;
	self_handle = ward_defer(cancels_itself, NULL);
	(void)arg;
	ward_panic(7, "p");
}

TEST(cancelling_the_running_defer_is_enoent_in_and_out_of_panics)
{
	runs_cancel_self(NULL);
	ASSERT_EQ(self_cancel_rc, -ENOENT);
	self_cancel_rc = 0;
	const ward_panic_t *r = ward_pcall(panics_through_cancel_self, NULL);
	ASSERT_NOT_NULL(r);
	ASSERT_EQ(self_cancel_rc, -ENOENT);
	/* A running defer that cancels itself, then panics: the first panic
	 * is aborted, and once the second is recovered nothing is left. */
	r = ward_pcall(runs_cancel_self, (void *)1);
	ASSERT_NOT_NULL(r);
	ASSERT_STREQ(r->message, "final");
	ASSERT_NOT_NULL(r->link);
	ASSERT_TRUE(r->link->aborted);
	ASSERT_TRUE(!ward_panicking());
}

/* A deferred function that leaves the panic by longjmp: the call runs
 * once, the frame it was deferred on is dead and its other defers run
 * once, and the panic it left is over (not current, not in the next
 * panic's chain). */
static jmp_buf out_of_defer;
static int jumper_runs, guarded_runs;

static void jumps_out_of_the_panic(void *arg)
{
	(void)arg;
	jumper_runs++;
	longjmp(out_of_defer, 1);
}

static void guarded(void *arg)
{
	(void)arg;
	guarded_runs++;
}

static __attribute__((noinline)) void panics_into_a_jumping_defer(void)
{
	WARD_FRAME;
	ward_defer(guarded, NULL);
	ward_defer(jumps_out_of_the_panic, NULL);
	ward_panic(1, "left by longjmp");
}

static void panics_final(void *arg)
{
	(void)arg;
	ward_panic(2, "final");
}

static __attribute__((noinline)) void jump_out_of_a_panic_once(void)
{
	if (setjmp(out_of_defer) == 0)
		panics_into_a_jumping_defer();
}

TEST(longjmp_out_of_a_deferred_call_ends_the_panic_it_left)
{
	int level = -1;
	ward_set_log_hook(capture, &level);
	if (setjmp(out_of_defer) == 0)
		panics_into_a_jumping_defer();
	ASSERT_TRUE(!ward_panicking());
	{
		WARD_FRAME; /* finds the dead frame: its defer runs now */
	}
	ward_set_log_hook(NULL, NULL);
	ASSERT_EQ(jumper_runs, 1);
	ASSERT_EQ(guarded_runs, 1);
	ASSERT_EQ(ward__self.depth, 0);
	const ward_panic_t *r = ward_pcall(panics_final, NULL);
	ASSERT_NOT_NULL(r);
	ASSERT_STREQ(r->message, "final");
	ASSERT_NULL(r->link); /* the abandoned panic is not in its chain */
	ASSERT_TRUE(!ward_panicking());
	ASSERT_CONTAINS(logged, "(panics_into_a_jumping_defer) was left without closing");
	/* Over and over, nothing is kept. */
	ward_set_log_hook(capture, &level);
	for (int i = 0; i < 1000; i++) {
		logged[0] = '\0';
		jump_out_of_a_panic_once();
	}
	{
		WARD_FRAME;
	}
	ward_set_log_hook(NULL, NULL);
	ASSERT_EQ(jumper_runs, 1001);
	ASSERT_EQ(guarded_runs, 1001);
	ASSERT_TRUE(!ward_panicking());
}

/* Locals a deferred call points to, declared with the frame: alive when
 * it runs (a local declared after WARD_FRAME is not, under clang). */
static void show_int(void *p)
{
	mark_int((void *)(intptr_t)*(int *)p);
}

static __attribute__((noinline)) void defers_on_a_local_declared_with_the_frame(void)
{
	WARD_FRAME_WITH(int x = 1, y = 10);
	ward_defer(show_int, &x);
	ward_defer(show_int, &y);
	x = 2;
	y = 20;
	__asm__ volatile("" ::: "memory");
}

TEST(frame_with_declares_what_its_defers_point_to)
{
	defers_on_a_local_declared_with_the_frame();
	ASSERT_STREQ(trace, "20 2");
}

#if defined(__clang__) && defined(__has_feature)
#if __has_feature(address_sanitizer)
static __attribute__((noinline)) void defers_on_a_local_declared_after(void)
{
	WARD_FRAME;
	int x = 1;
	ward_defer(show_int, &x);
	x = 2;
	__asm__ volatile("" ::: "memory");
}

static void runs_the_dead_local_defer(void)
{
	defers_on_a_local_declared_after();
	exit(0);
}

/* The rule broken is caught where the toolchain can: clang's ASan. */
TEST(a_local_declared_after_the_frame_is_caught_under_clang_asan)
{
	struct ward_test_spawned s = ward_test_spawn(runs_the_dead_local_defer);
	ASSERT_NE(s.status, 0);
	ASSERT_CONTAINS(s.err, "stack-use-after-scope");
	ward_test_spawned_free(&s);
}
#endif
#endif

TEST(strerror_and_version)
{
	ASSERT_STREQ(ward_strerror(-ENOENT), "No such file or directory");
	ASSERT_STREQ(ward_strerror(0), "success");
	char v[32];
	snprintf(v, sizeof(v), "%d.%d.%d", WARD_VERSION_MAJOR,
		 WARD_VERSION_MINOR, WARD_VERSION_PATCH);
	ASSERT_STREQ(ward_version(), v);
}

static size_t defer_records(int64_t *pending)
{
	ward_profile_t *p = ward_profile_snapshot();
	size_t n = 0;
	*pending = 0;
	for (size_t i = 0; i < ward_profile_count(p); i++) {
		const struct ward_sample *s = ward_profile_sample(p, i);
		if (s->live_count > 0 &&
		    strcmp(ward_kind_name(s->kind), "defer") == 0) {
			n += (size_t)s->live_count;
			*pending += s->live_bytes;
		}
	}
	ward_profile_free(p);
	return n;
}

static void quiet_log(void *opaque, enum ward_log_level level,
		      const char *msg, size_t len)
{
}

TEST(accumulated_chain_shows_in_the_registry)
{
	int64_t pending;
	ward_set_log_hook(quiet_log, NULL);
	ward_defer_set_limit(100);
	{
		WARD_FRAME;
		for (int i = 0; i < 150; i++)
			ward_defer(nothing, NULL);
		ASSERT_EQ(defer_records(&pending), 1);
		ASSERT_EQ(pending, 150);
	}
	ASSERT_EQ(defer_records(&pending), 0);
	ward_set_log_hook(NULL, NULL);
}
