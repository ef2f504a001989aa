/*
 * test_conformance.c — Go's defer/panic/recover/Goexit behaviour, ported
 * case by case from what Go's own tests check (test/defer.go,
 * test/recover.go, test/recover1.go, test/defernil.go,
 * src/runtime/defer_test.go, src/runtime/crash_test.go), plus the
 * block-scope behaviour of a C defer (goto, break, continue, return).
 *
 * Each case records a trace; the expected trace is what the Go program of
 * the same shape prints (checked against Go 1.19 for the step-ordered
 * cases). Go's closures become small static functions here; `defer
 * panic(x)` becomes a deferred function that panics.
 */
#include <pthread.h>
#include <stdarg.h>

#include "runner.h"
#include "ward.h"

static char trace[8192];

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	size_t len = strlen(trace);
	va_list ap;

	if (len && len < sizeof(trace) - 1)
		trace[len++] = ' ';
	va_start(ap, fmt);
	vsnprintf(trace + len, sizeof(trace) - len, fmt, ap);
	va_end(ap);
}

static void say_arg(void *s)
{
	say("%s", (const char *)s);
}

/* Go: defer func() { expect(tag, recover()) }() */
static void recover_say(void *tag)
{
	const ward_panic_t *p = ward_recover();
	say("%s:%s", (const char *)tag, p ? p->message : "nil");
}

/* Go: defer panic(msg) */
static void panic_with(void *msg)
{
	ward_panic(0, "%s", (const char *)msg);
}

static void nothing(void *unused)
{
}

static void check_clean(void)
{
	ASSERT_EQ(ward__self.depth, 0);
	ASSERT_EQ(ward__self.n, 0);
	ASSERT_TRUE(!ward_panicking());
}

/* ---- test/defer.go ------------------------------------------------------ */

static void addit(void *i)
{
	say("%d", (int)(intptr_t)i);
}

static void defer_ten(void)
{
	WARD_FRAME;
	for (int i = 0; i < 10; i++)
		ward_defer(addit, (void *)(intptr_t)i);
}

TEST(go_defer_runs_lifo_at_function_exit)
{
	defer_ten();
	ASSERT_STREQ(trace, "9 8 7 6 5 4 3 2 1 0");
}

static void defer_args_evaluated_early(void)
{
	WARD_FRAME;
	int x = 1;
	ward_defer(addit, (void *)(intptr_t)x);
	x = 2;
	ward_defer(addit, (void *)(intptr_t)x);
	x = 3;
	say("%d", x);
}

TEST(go_defer_arguments_evaluated_at_the_defer_statement)
{
	defer_args_evaluated_early();
	ASSERT_STREQ(trace, "3 2 1");
}

/* ---- src/runtime/defer_test.go ----------------------------------------- */

TEST(go_unconditional_panic)
{
	const ward_panic_t *p = ward_pcall(panic_with, "testUnconditional");
	ASSERT_STREQ(p->message, "testUnconditional");
	check_clean();
}

static void cond_defers(int n)
{
	WARD_FRAME;
	ward_defer(addit, (void *)1);
	if (n > 5) {
		ward_defer(addit, (void *)2);
		if (n > 8)
			ward_defer(addit, (void *)3);
		else
			ward_defer(addit, (void *)4);
	}
	ward_panic(0, "testConditional");
}

static void conditional_outer(void)
{
	WARD_FRAME_RESUMABLE(return);
	ward_defer(recover_say, "rec");
	cond_defers(8);
}

TEST(go_conditional_defers)
{
	conditional_outer();
	ASSERT_STREQ(trace, "4 2 1 rec:testConditional");
	check_clean();
}

static void test_open(int arg)
{
	WARD_FRAME_RESUMABLE(return);
	ward_defer(recover_say, "open");
	if (arg > 2)
		ward_panic(0, "testOpenDefer");
}

static void open_and_nonopen(void)
{
	WARD_FRAME_RESUMABLE(return);
	for (;;) {
		ward_defer(recover_say, "nonopen");
		break;
	}
	test_open(47);
	ward_panic(0, "testNonOpenDefer");
}

static void nonopen_and_open(void)
{
	WARD_FRAME_RESUMABLE(return);
	test_open(47);
	for (;;) {
		ward_defer(recover_say, "nonopen");
		break;
	}
	ward_panic(0, "testNonOpenDefer");
}

TEST(go_open_and_nonopen_defers)
{
	open_and_nonopen();
	ASSERT_STREQ(trace, "open:testOpenDefer nonopen:testNonOpenDefer");
	trace[0] = 0;
	nonopen_and_open();
	ASSERT_STREQ(trace, "open:testOpenDefer nonopen:testNonOpenDefer");
	check_clean();
}

static void aborted_panic(void)
{
	WARD_FRAME_RESUMABLE(return);
	ward_defer(recover_say, "d3");
	ward_defer(recover_say, "d2");
	ward_defer(panic_with, "panic2");
	ward_panic(0, "panic1");
}

TEST(go_aborted_panic)
{
	aborted_panic();
	ASSERT_STREQ(trace, "d2:panic2 d3:nil");
	check_clean();
}

static void defers_a_recover(void *unused)
{
	WARD_FRAME;
	/* Called directly by a deferred function, but that function was not
	 * called by the panic: no recovery. */
	ward_defer(recover_say, "inner");
}

static void recover_matching(void)
{
	WARD_FRAME_RESUMABLE(return);
	ward_defer(recover_say, "outer");
	ward_defer(defers_a_recover, NULL);
	ward_panic(0, "panic1");
}

TEST(go_recover_matching)
{
	recover_matching();
	ASSERT_STREQ(trace, "inner:nil outer:panic1");
	check_clean();
}

struct interp {
	int level, max, rec;
};

static void interp_defer(void *arg)
{
	struct interp *in = arg;
	const ward_panic_t *e = ward_recover();
	if (!e)
		return;
	if (e->code != in->level) {
		say("re%d", in->level);
		ward_panic(e->code, "%s", e->message);
	}
	say("got%d", in->level);
}

static void interpreter(int level, int max, int rec)
{
	struct interp in = { level, max, rec };
	WARD_FRAME_RESUMABLE(return);
	ward_defer(interp_defer, &in);
	if (level + 1 < max)
		interpreter(level + 1, max, rec);
	else
		ward_panic(rec, "%d", rec);
}

static volatile unsigned save_int;

/* Every path that returns recurses: the one that ends it panics. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winfinite-recursion"
static void recurse_fn(int level, int max)
{
	volatile unsigned a[40];
	for (int i = 0; i < 40; i++)
		a[i] = 0xffffffffu;
	if (level + 1 < max) {
		save_int = a[4];
		recurse_fn(level + 1, max);
	} else {
		ward_panic(0, "recurseFn panic");
	}
}
#pragma GCC diagnostic pop

static void recover_quietly(void *unused)
{
	ward_recover();
}

static void recurse_fn_panic_rec(int level, int max)
{
	WARD_FRAME_RESUMABLE(return);
	ward_defer(recover_quietly, NULL);
	recurse_fn(level, max);
}

TEST(go_defer_with_repeated_repanics)
{
	interpreter(0, 6, 2);
	recurse_fn_panic_rec(0, 10);
	interpreter(0, 5, 1);
	recurse_fn_panic_rec(0, 10);
	interpreter(0, 6, 3);
	recurse_fn_panic_rec(0, 10);
	ASSERT_STREQ(trace, "re5 re4 re3 got2 re4 re3 re2 got1 re5 re4 got3");
	check_clean();
}

static void i43921_inner_defer(void *unused)
{
	WARD_FRAME_RESUMABLE(return);
	ward_defer(recover_say, "b");
	ward_panic(4, "4");
}

static void i43921_inner(void)
{
	WARD_FRAME;
	for (;;) {
		ward_defer(nothing, NULL);
		break;
	}
	ward_defer(i43921_inner_defer, NULL);
	ward_panic(1, "1");
}

static void i43921(void)
{
	WARD_FRAME_RESUMABLE(return);
	ward_defer(recover_say, "a");
	i43921_inner();
}

TEST(go_issue_43921)
{
	i43921();
	ASSERT_STREQ(trace, "b:4 a:1");
	check_clean();
}

static int steps;
static void step(void *unused)
{
	say("%d", ++steps);
}

static void panic_four(void)
{
	ward_panic(4, "4");
}

static void i43920_b1(void *unused)
{
	WARD_FRAME_RESUMABLE(return);
	ward_defer(recover_say, "b");
	ward_defer(panic_with, "5");
	panic_four();
}

static void i43920_b(void *unused)
{
	WARD_FRAME_RESUMABLE(return);
	ward_defer(i43920_b1, NULL);
	ward_defer(recover_say, "c");
	ward_defer(panic_with, "3");
}

static void i43920_steps(void)
{
	WARD_FRAME;
	ward_defer(step, NULL);
	ward_panic(1, "1");
}

static void i43920(void)
{
	WARD_FRAME_RESUMABLE(return);
	ward_defer(recover_say, "a");
	ward_defer(i43920_b, NULL);
	i43920_steps();
}

TEST(go_issue_43920)
{
	steps = 0;
	i43920();
	ASSERT_STREQ(trace, "1 c:3 b:5 a:1");
	check_clean();
}

static void i43941_defer1(void *unused)
{
	WARD_FRAME_RESUMABLE(return);
	ward_defer(recover_say, "b");
	ward_defer(panic_with, "3");
	ward_panic(2, "2");
}

static void i43941_f1(void)
{
	WARD_FRAME_RESUMABLE(return);
	ward_defer(i43941_defer1, NULL);
	ward_defer(recover_say, "c");
	ward_defer(panic_with, "1");
}

static void i43941_f(void)
{
	WARD_FRAME;
	i43941_f1();
	ward_defer(nothing, NULL);
	ward_defer(nothing, NULL);
	ward_defer(step, NULL);
	ward_defer(step, NULL);
	step(NULL);
}

static void i43941_g1(void)
{
	WARD_FRAME;
	ward_defer(step, NULL);
	ward_panic(4, "4");
}

static void i43941_g(void)
{
	WARD_FRAME;
	ward_defer(step, NULL);
	ward_defer(step, NULL);
	i43941_g1();
	ward_defer(nothing, NULL);
	ward_defer(panic_with, "-1");
}

static void step_then_recover(void *unused)
{
	step(NULL);
	const ward_panic_t *p = ward_recover();
	say("a:%s", p ? p->message : "nil");
}

static void i43941(void)
{
	WARD_FRAME_RESUMABLE(return);
	ward_defer(step_then_recover, NULL);
	i43941_f();
	i43941_g();
}

TEST(go_issue_43941)
{
	steps = 7;
	i43941();
	ASSERT_STREQ(trace, "c:1 b:3 8 9 10 11 12 13 14 a:4");
	check_clean();
}

static int cond;

static void check_cond_then_recover(void *unused)
{
	const ward_panic_t *p = ward_recover();
	say("cond=%d %s", cond, p ? p->message : "nil");
}

static void do_panic(void)
{
	ward_panic(0, "Test panic");
}

static void no_exit(void)
{
	WARD_FRAME_RESUMABLE(return);
	cond = 1;
	ward_defer(check_cond_then_recover, NULL);
	cond = 2;
	do_panic();
	for (;;)
		;
}

TEST(go_defer_for_func_with_no_exit)
{
	no_exit();
	ASSERT_STREQ(trace, "cond=2 Test panic");
	check_clean();
}

/* ---- test/recover1.go -------------------------------------------------- */

/* mustRecover(x): not a sub-call recovery, then exactly one recovery. */
/* noinline: a helper inlined into a deferred function is, to the machine,
 * that function (docs/semantics.md). */
static __attribute__((noinline)) void must_not_recover_helper(void)
{
	const ward_panic_t *v = ward_recover();
	if (v)
		say("spurious");
}

static void must_recover(void *x)
{
	must_not_recover_helper(); /* because it's not a defer call */
	const ward_panic_t *v = ward_recover();
	if (!v)
		say("missing:%s", (const char *)x);
	else if (strcmp(v->message, x) != 0)
		say("wrong:%s!=%s", v->message, (const char *)x);
	else
		say("rec%s", (const char *)x);
	if (ward_recover())
		say("recover-didnt-recover");
}

static void must_not_recover(void *unused)
{
	if (ward_recover())
		say("spurious");
	else
		say("none");
}

static void r1_test1_inner(void *unused)
{
	WARD_FRAME_RESUMABLE(return);
	ward_defer(must_recover, "2");
	ward_panic(2, "2");
}

static void r1_test1(void)
{
	WARD_FRAME_RESUMABLE(return);
	ward_defer(must_recover, "1");
	ward_defer(r1_test1_inner, NULL);
	ward_panic(1, "1");
}

TEST(go_recover1_easy_nested_recursive_panic)
{
	r1_test1();
	ASSERT_STREQ(trace, "rec2 rec1");
	check_clean();
}

static void r1_test2_inner(void *unused)
{
	WARD_FRAME_RESUMABLE(return);
	const ward_panic_t *v = ward_recover();
	say("v=%s", v ? v->message : "nil");
	ward_defer(must_recover, "3");
	ward_panic(3, "3");
}

static void r1_test2(void)
{
	WARD_FRAME_RESUMABLE(return);
	ward_defer(must_not_recover, NULL);
	ward_defer(r1_test2_inner, NULL);
	ward_panic(2, "2");
}

TEST(go_recover1_sequential_panic)
{
	r1_test2();
	ASSERT_STREQ(trace, "v=2 rec3 none");
	check_clean();
}

static void r1_test3_inner(void *unused)
{
	WARD_FRAME_RESUMABLE(return);
	ward_recover();
	ward_defer(must_recover, "3");
	ward_panic(3, "3");
}

static void r1_test3(void)
{
	WARD_FRAME_RESUMABLE(return);
	ward_defer(must_not_recover, NULL);
	ward_defer(r1_test3_inner, NULL);
	ward_panic(2, "2");
}

TEST(go_recover1_sequential_panic_less_picky)
{
	r1_test3();
	ASSERT_STREQ(trace, "rec3 none");
	check_clean();
}

static void r1_test4(void)
{
	WARD_FRAME_RESUMABLE(return);
	ward_defer(must_not_recover, NULL);
	ward_defer(recover_quietly, NULL);
	ward_panic(4, "4");
}

TEST(go_recover1_single_panic)
{
	r1_test4();
	ASSERT_STREQ(trace, "none");
	check_clean();
}

static __attribute__((noinline)) void recover_as_sub_call(void *unused)
{
	must_not_recover_helper();
	say("noop");
}

static void r1_test7_inner(void *unused)
{
	WARD_FRAME_RESUMABLE(return);
	ward_defer(must_recover, "3");
	/* Go's `defer recover()` here is a no-op: recover runs at the wrong
	 * level to see panic 3. C has no way to defer recover itself; the
	 * same no-op is a recover one call too deep. */
	ward_defer(recover_as_sub_call, NULL);
	ward_panic(3, "3");
}

static void r1_test7(void)
{
	WARD_FRAME_RESUMABLE(return);
	ward_defer(must_recover, "2");
	ward_defer(r1_test7_inner, NULL);
	ward_panic(2, "2");
}

TEST(go_recover1_swapped_defer_order)
{
	r1_test7();
	ASSERT_STREQ(trace, "noop rec3 rec2");
	check_clean();
}

/* ---- test/recover.go --------------------------------------------------- */

TEST(go_recover_outside_panic_is_nil)
{
	ASSERT_NULL(ward_recover());
	WARD_FRAME;
	ward_defer(recover_say, "normal");
}

TEST(go_recover_in_defer_on_normal_return_is_nil)
{
	{
		WARD_FRAME;
		ward_defer(recover_say, "d");
	}
	ASSERT_STREQ(trace, "d:nil");
}

static __attribute__((noinline)) void without_recover(void)
{
	must_not_recover_helper(); /* because it's a sub-call */
}

static void calls_helper_then_recovers(void *unused)
{
	without_recover();
	const ward_panic_t *p = ward_recover();
	say("direct:%s", p ? p->message : "nil");
}

static void recover_via_helper(void)
{
	WARD_FRAME_RESUMABLE(return);
	ward_defer(calls_helper_then_recovers, NULL);
	ward_panic(0, "x");
}

TEST(go_recover_in_a_sub_call_is_nil)
{
	recover_via_helper();
	ASSERT_STREQ(trace, "direct:x");
	check_clean();
}

static void recover_twice(void *unused)
{
	const ward_panic_t *a = ward_recover();
	const ward_panic_t *b = ward_recover();
	say("%s %s", a ? a->message : "nil", b ? b->message : "nil");
}

static void double_recover(void)
{
	WARD_FRAME_RESUMABLE(return);
	ward_defer(recover_twice, NULL);
	ward_panic(0, "once");
}

TEST(go_second_recover_returns_nil)
{
	double_recover();
	ASSERT_STREQ(trace, "once nil");
}

static void sets_result(void *r)
{
	if (ward_recover())
		*(volatile int *)r = 42;
}

static int named_result(void)
{
	volatile int r = 1; /* read after the resume: volatile (defer.h) */
	WARD_FRAME_RESUMABLE(return r);
	ward_defer(sets_result, (void *)&r);
	ward_panic(0, "p");
	return 7;
}

TEST(go_recovering_function_returns_its_named_result)
{
	ASSERT_EQ(named_result(), 42);
	check_clean();
}

static void frame_defers_after_recovery(void)
{
	WARD_FRAME_RESUMABLE(return);
	ward_defer(say_arg, "x");
	ward_defer(recover_say, "r");
	ward_defer(say_arg, "y");
	ward_panic(0, "p");
}

TEST(go_remaining_defers_run_after_recovery)
{
	frame_defers_after_recovery();
	say("returned");
	ASSERT_STREQ(trace, "y r:p x returned");
	check_clean();
}

static void replace_outer(void)
{
	WARD_FRAME_RESUMABLE(return);
	ward_defer(recover_say, "r");
	ward_defer(panic_with, "second");
	ward_panic(0, "first");
}

TEST(go_panic_in_defer_replaces_the_first)
{
	replace_outer();
	ASSERT_STREQ(trace, "r:second");
	check_clean();
}

static const ward_panic_t *seen;
static void keep_recovered(void *unused)
{
	seen = ward_recover();
}

static void chain_kept(void)
{
	WARD_FRAME_RESUMABLE(return);
	ward_defer(keep_recovered, NULL);
	ward_defer(panic_with, "second");
	ward_panic(0, "first");
}

TEST(go_replaced_panic_is_kept_in_the_chain)
{
	chain_kept();
	ASSERT_STREQ(seen->message, "second");
	ASSERT_NOT_NULL(seen->link);
	ASSERT_STREQ(seen->link->message, "first");
	ASSERT_TRUE(seen->link->aborted);
}

static void level3(void)
{
	WARD_FRAME;
	ward_defer(say_arg, "c");
	ward_panic(0, "deep");
}

static void level2(void)
{
	WARD_FRAME;
	ward_defer(say_arg, "b");
	level3();
	say("unreached");
}

static void level1(void)
{
	WARD_FRAME_RESUMABLE(return);
	ward_defer(recover_say, "top");
	ward_defer(say_arg, "a");
	level2();
	say("unreached");
}

TEST(go_panic_runs_defers_across_frames_innermost_first)
{
	level1();
	ASSERT_STREQ(trace, "c b a top:deep");
	check_clean();
}

static int recursive(int n)
{
	volatile int r = -1;
	WARD_FRAME_RESUMABLE(return r);
	if (n == 50)
		ward_defer(sets_result, (void *)&r);
	if (n == 100)
		ward_panic(0, "bottom");
	return recursive(n + 1) + 1;
}

TEST(go_recovery_mid_recursion_resumes_that_level)
{
	/* Levels 50..100 unwound; level 50 returns 42; 49 levels above add. */
	ASSERT_EQ(recursive(0), 42 + 50);
	check_clean();
}

static void panics_at_exit(void)
{
	WARD_FRAME;
	ward_defer(panic_with, "from-defer");
	say("body");
}

static void catches_exit_panic(void)
{
	WARD_FRAME_RESUMABLE(return);
	ward_defer(recover_say, "r");
	panics_at_exit();
	say("unreached");
}

TEST(go_panic_from_a_defer_on_normal_return)
{
	catches_exit_panic();
	ASSERT_STREQ(trace, "body r:from-defer");
	check_clean();
}

static void recovery_then_panic_again(void)
{
	WARD_FRAME_RESUMABLE(return);
	ward_defer(panic_with, "after-recovery");
	ward_defer(recover_quietly, NULL);
	ward_panic(0, "first");
}

static void outer_of_again(void)
{
	WARD_FRAME_RESUMABLE(return);
	ward_defer(recover_say, "outer");
	recovery_then_panic_again();
	say("unreached");
}

TEST(go_remaining_defer_panics_after_recovery)
{
	outer_of_again();
	ASSERT_STREQ(trace, "outer:after-recovery");
	check_clean();
}

TEST(go_sequential_panics_each_recovered)
{
	/* volatile: read after a longjmp back into the loop (setjmp rules). */
	for (volatile int i = 0; i < 3; i++) {
		WARD_FRAME_RESUMABLE(continue);
		ward_defer(recover_say, "it");
		ward_panic(i, "p%d", i);
	}
	ASSERT_STREQ(trace, "it:p0 it:p1 it:p2");
	check_clean();
}

static void recover_in_nested_frame_of_defer(void *unused)
{
	/* A deferred function whose own deferred function recovers: only
	 * direct callees of the unwinder may recover, so nil (Go's
	 * TestRecoverMatching, second shape). */
	{
		WARD_FRAME;
		ward_defer(recover_say, "nested");
	}
	const ward_panic_t *p = ward_recover();
	say("direct:%s", p ? p->message : "nil");
}

static void nested_frame_case(void)
{
	WARD_FRAME_RESUMABLE(return);
	ward_defer(recover_in_nested_frame_of_defer, NULL);
	ward_panic(0, "p");
}

TEST(go_recover_in_a_block_frame_of_the_defer_is_nil)
{
	nested_frame_case();
	ASSERT_STREQ(trace, "nested:nil direct:p");
	check_clean();
}

static void code_and_payload(void *unused)
{
	const ward_panic_t *p = ward_recover();
	say("%d %s %d", p->code, p->message, *(int *)p->value);
}

static int payload_value = 77;
static void panics_with_payload(void)
{
	WARD_FRAME_RESUMABLE(return);
	ward_defer(code_and_payload, NULL);
	ward_panic_value(3, &payload_value, "value %s", "here");
}

TEST(go_recover_returns_the_panic_value)
{
	panics_with_payload();
	ASSERT_STREQ(trace, "3 value here 77");
}

static void panicking_state(void *unused)
{
	say("panicking=%d", ward_panicking());
	const ward_panic_t *p = ward_recover();
	say("after=%d", ward_panicking());
	(void)p;
}

static void panicking_case(void)
{
	WARD_FRAME_RESUMABLE(return);
	ward_defer(panicking_state, NULL);
	ward_panic(0, "p");
}

TEST(go_panicking_until_recovered)
{
	say("before=%d", ward_panicking());
	panicking_case();
	ASSERT_STREQ(trace, "before=0 panicking=1 after=0");
}

/* ---- test/defernil.go -------------------------------------------------- */

static void defers_null(void)
{
	WARD_FRAME;
	ward_defer(NULL, NULL);
	say("after-defer");
}

static void defernil_case(void)
{
	WARD_FRAME_RESUMABLE(return);
	ward_defer(recover_say, "r");
	defers_null();
}

TEST(go_defer_of_null_panics_when_it_runs)
{
	defernil_case();
	ASSERT_CONTAINS(trace, "after-defer r:");
	ASSERT_CONTAINS(trace, "deferred function is NULL");
	check_clean();
}

/* ---- crash_test.go: reports of unrecovered panics ---------------------- */

static void plain_unrecovered(void)
{
	ward_panic(0, "hello");
}

static void recursive_unrecovered(void)
{
	WARD_FRAME;
	ward_defer(panic_with, "second panic");
	ward_panic(0, "first panic");
}

static void repanic_recovered(void *unused)
{
	const ward_panic_t *p = ward_recover();
	ward_panic(0, "wrap: %s", p->message);
}

static void recovered_then_repanicked(void)
{
	WARD_FRAME_RESUMABLE(return);
	ward_defer(repanic_recovered, NULL);
	ward_panic(0, "bad");
}

static void expect_report(void (*fn)(void), const char *head)
{
	struct ward_test_spawned s = ward_test_spawn(fn);
	ASSERT_EQ(s.status, 2);
	if (strncmp(s.err, head, strlen(head)) != 0)
		ward_test__fail(__FILE__, __LINE__,
				"report starts:\n%s\nwanted:\n%s", s.err, head);
	ward_test_spawned_free(&s);
}

TEST(go_crash_plain_panic_report)
{
	expect_report(plain_unrecovered, "panic: hello\n\npanic site:");
}

TEST(go_crash_recursive_panic_report)
{
	expect_report(recursive_unrecovered,
		      "panic: first panic\n\tpanic: second panic\n\n");
}

TEST(go_crash_recovered_then_repanicked_report)
{
	expect_report(recovered_then_repanicked,
		      "panic: bad [recovered]\n\tpanic: wrap: bad\n\n");
}

/* ---- Goexit (crash_test.go and runtime's Goexit tests) ----------------- */

static void *run_in_thread(void *fn)
{
	((void (*)(void))fn)();
	say("thread-returned");
	return NULL;
}

static void in_thread(void (*fn)(void))
{
	pthread_t th;
	ASSERT_EQ(pthread_create(&th, NULL, run_in_thread, (void *)fn), 0);
	ASSERT_EQ(pthread_join(th, NULL), 0);
}

static void goexit_order(void)
{
	WARD_FRAME;
	ward_defer(say_arg, "a");
	{
		WARD_FRAME;
		ward_defer(say_arg, "b");
		ward_defer(recover_say, "r");
		ward_goexit();
	}
}

TEST(go_goexit_runs_defers_and_recover_is_nil)
{
	in_thread(goexit_order);
	ASSERT_STREQ(trace, "r:nil b a");
}

static void recover_before_panic_after_goexit(void)
{
	WARD_FRAME_RESUMABLE(return);
	ward_defer(say_arg, "last");
	ward_defer(recover_say, "r");
	ward_defer(panic_with, "hello");
	ward_goexit();
}

TEST(go_recovered_panic_does_not_cancel_goexit)
{
	/* TestRecoverBeforePanicAfterGoexit: the panic is recovered, the
	 * Goexit goes on and ends the thread. */
	in_thread(recover_before_panic_after_goexit);
	ASSERT_STREQ(trace, "r:hello last");
}

static void panic_recovered_inside(void *unused)
{
	WARD_FRAME_RESUMABLE(return);
	ward_defer(recover_say, "inner");
	ward_panic(0, "hello");
}

static void recovered_panic_after_goexit(void)
{
	WARD_FRAME;
	ward_defer(say_arg, "outer");
	ward_defer(panic_recovered_inside, NULL);
	ward_goexit();
}

TEST(go_recovered_panic_after_goexit)
{
	in_thread(recovered_panic_after_goexit);
	ASSERT_STREQ(trace, "inner:hello outer");
}

static void goexit_in_defer(void *unused)
{
	ward_goexit();
}

static void goexit_in_panic(void)
{
	WARD_FRAME;
	ward_defer(say_arg, "ran");
	ward_defer(goexit_in_defer, NULL);
	ward_panic(0, "hello");
}

TEST(go_goexit_in_panic_ends_the_thread_quietly)
{
	in_thread(goexit_in_panic);
	ASSERT_STREQ(trace, "ran");
}

static void *panic_after_goexit_thread(void *unused)
{
	WARD_FRAME;
	ward_defer(panic_with, "hello");
	ward_goexit();
}

static void panic_after_goexit(void)
{
	pthread_t th;
	pthread_create(&th, NULL, panic_after_goexit_thread, NULL);
	pthread_join(th, NULL);
}

TEST(go_panic_after_goexit_still_crashes)
{
	expect_report(panic_after_goexit, "panic: hello\n");
}

static void goexit_then_more(void)
{
	WARD_FRAME;
	ward_defer(say_arg, "x");
	ward_goexit();
	say("unreached");
}

TEST(go_goexit_never_returns)
{
	in_thread(goexit_then_more);
	ASSERT_STREQ(trace, "x");
}

/* ---- Block-scope behaviour of a C defer -------------------------------- */

static void block_inc(void *x)
{
	++*(int *)x;
}

static int value_before_defers(void)
{
	int x = 1;
	WARD_FRAME;
	ward_defer(block_inc, &x);
	return x; /* computed before the deferred call increments it */
}

TEST(c_return_value_is_computed_before_defers_run)
{
	ASSERT_EQ(value_before_defers(), 1);
}

TEST(c_goto_out_of_nested_frames)
{
	for (int i = 0; i < 3; i++) {
		WARD_FRAME;
		ward_defer(addit, (void *)(intptr_t)i);
		{
			WARD_FRAME;
			ward_defer(say_arg, "in");
			if (i == 1)
				goto done;
		}
	}
done:
	ASSERT_STREQ(trace, "in 0 in 1");
}

TEST(c_backward_goto_leaves_and_reenters)
{
	int n = 0;
top:
	if (n < 3) {
		WARD_FRAME;
		ward_defer(addit, (void *)(intptr_t)n);
		n++;
		say("body");
		goto top;
	}
	ASSERT_STREQ(trace, "body 0 body 1 body 2");
}

TEST(c_continue_and_break_in_while)
{
	int i = 0;
	while (i < 10) {
		WARD_FRAME;
		ward_defer(addit, (void *)(intptr_t)i);
		if (i++ % 2)
			continue;
		if (i > 5)
			break;
	}
	ASSERT_STREQ(trace, "0 1 2 3 4 5 6");
}

TEST(c_switch_case_block)
{
	for (int i = 0; i < 3; i++) {
		switch (i) {
		case 1: {
			WARD_FRAME;
			ward_defer(say_arg, "case1");
			break;
		}
		default:
			say("d%d", i);
		}
	}
	ASSERT_STREQ(trace, "d0 case1 d2");
}

TEST(c_nested_blocks_exit_inner_first)
{
	{
		WARD_FRAME;
		ward_defer(say_arg, "outer");
		{
			WARD_FRAME;
			ward_defer(say_arg, "inner");
		}
		say("between");
	}
	ASSERT_STREQ(trace, "inner between outer");
}

TEST(c_if_block_frame)
{
	for (int i = 0; i < 2; i++) {
		if (i) {
			WARD_FRAME;
			ward_defer(say_arg, "then");
		} else {
			WARD_FRAME;
			ward_defer(say_arg, "else");
		}
	}
	ASSERT_STREQ(trace, "else then");
}

TEST(c_loop_body_frame_releases_every_iteration)
{
	struct ward_defer_stats st;
	for (int i = 0; i < 5000; i++) {
		WARD_FRAME;
		ward_defer(nothing, NULL);
	}
	ward_defer_stats(&st);
	ASSERT_EQ(st.max_depth, 1);
	ASSERT_EQ(st.warnings, 0);
	ASSERT_EQ(st.run, 5000);
}

TEST(c_resumable_loop_body_breaks_after_recovery)
{
	volatile int i;
	for (i = 0; i < 10; i++) {
		WARD_FRAME_RESUMABLE(break);
		ward_defer(recover_say, "r");
		if (i == 2)
			ward_panic(0, "stop");
	}
	ASSERT_EQ(i, 2);
	ASSERT_STREQ(trace, "r:nil r:nil r:stop");
	check_clean();
}
