/*
 * runner.h — ward's test runner.
 *
 *     TEST(defer_runs_lifo) {
 *         ...
 *         ASSERT_EQ(order[0], 2);
 *     }
 *
 * TEST(name) registers itself before main. The runner runs every test (or
 * those named on the command line) in its own child process with a timeout
 * (WARD_TEST_TIMEOUT seconds, default 20), so a crash or hang fails one test,
 * not the run. Assertions print both operands. After each test the runner
 * checks that the test left no ward frame open and no defer pending. The run
 * ends with "N passed, N failed".
 *
 * ward_test_spawn() runs a function in a grandchild and captures its stdout,
 * stderr and exit status: for tests of panics that end the process.
 */
#ifndef WARD_TEST_RUNNER_H
#define WARD_TEST_RUNNER_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ward_test__register(const char *name, void (*fn)(void), const char *file,
			 int line);
void ward_test__exclude(const char *name, const char *reason);
__attribute__((noreturn, format(printf, 3, 4))) void
ward_test__fail(const char *file, int line, const char *fmt, ...);

#define TEST(name)                                                            \
	static void test_##name(void);                                         \
	__attribute__((constructor)) static void register_##name(void)         \
	{                                                                      \
		ward_test__register(#name, test_##name, __FILE__, __LINE__);   \
	}                                                                      \
	static void test_##name(void)

#if defined(__SANITIZE_ADDRESS__)
#define WARD_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WARD_TEST_ASAN 1
#endif
#endif

/*
 * A test this build's AddressSanitizer runtime cannot run: under ASan it
 * is not run, and the run says so ("excluded", with the reason), without
 * counting it passed. The reasons in use:
 *  - TEST_FORK_UNDER_LOAD: it forks while other threads allocate. glibc's
 *    malloc holds its locks across fork(); the ASan runtime of the Debian
 *    12 compilers does not (the child hangs in its allocator).
 *  - TEST_CANCELS_A_THREAD: a thread is cancelled in a frame with stack
 *    redzones, which the cancellation's unwinding leaves poisoned; clang's
 *    runtime then reports its own thread teardown writing there.
 */
#ifdef WARD_TEST_ASAN
#define TEST_NOT_UNDER_ASAN(name, reason)                                     \
	__attribute__((constructor)) static void register_##name(void)         \
	{                                                                      \
		ward_test__exclude(#name, reason);                             \
	}                                                                      \
	static __attribute__((unused)) void test_##name(void)
#else
#define TEST_NOT_UNDER_ASAN(name, reason) TEST(name)
#endif
#define TEST_FORK_UNDER_LOAD(name)                                            \
	TEST_NOT_UNDER_ASAN(name, "forks while threads allocate: this ASan "   \
				  "runtime's allocator is not fork-safe")
#define TEST_CANCELS_A_THREAD(name)                                           \
	TEST_NOT_UNDER_ASAN(name, "a cancelled thread's frames stay poisoned " \
				  "and this ASan runtime reports its own "     \
				  "thread teardown")

#define ASSERT_TRUE(c)                                                        \
	do {                                                                   \
		if (!(c))                                                      \
			ward_test__fail(__FILE__, __LINE__,                    \
					"expected true: %s", #c);              \
	} while (0)

#define ASSERT_INT_OP(a, op, b)                                               \
	do {                                                                   \
		intmax_t a_ = (intmax_t)(a), b_ = (intmax_t)(b);               \
		if (!(a_ op b_))                                               \
			ward_test__fail(__FILE__, __LINE__,                    \
					"%s %s %s: %jd vs %jd", #a, #op, #b,  \
					a_, b_);                               \
	} while (0)

#define ASSERT_EQ(a, b) ASSERT_INT_OP(a, ==, b)
#define ASSERT_NE(a, b) ASSERT_INT_OP(a, !=, b)
#define ASSERT_LT(a, b) ASSERT_INT_OP(a, <, b)
#define ASSERT_GT(a, b) ASSERT_INT_OP(a, >, b)
#define ASSERT_LE(a, b) ASSERT_INT_OP(a, <=, b)
#define ASSERT_GE(a, b) ASSERT_INT_OP(a, >=, b)

#define ASSERT_PTR_EQ(a, b)                                                   \
	do {                                                                   \
		const void *a_ = (a), *b_ = (b);                               \
		if (a_ != b_)                                                  \
			ward_test__fail(__FILE__, __LINE__,                    \
					"%s == %s: %p vs %p", #a, #b, a_, b_); \
	} while (0)
#define ASSERT_NULL(a) ASSERT_PTR_EQ(a, NULL)
#define ASSERT_NOT_NULL(a)                                                    \
	do {                                                                   \
		if ((a) == NULL)                                               \
			ward_test__fail(__FILE__, __LINE__,                    \
					"expected non-NULL: %s", #a);          \
	} while (0)

#define ASSERT_STREQ(a, b)                                                    \
	do {                                                                   \
		const char *a_ = (a), *b_ = (b);                               \
		if (!a_ || !b_ || strcmp(a_, b_) != 0)                         \
			ward_test__fail(__FILE__, __LINE__,                    \
					"%s == %s:\n  \"%s\"\n  \"%s\"", #a,   \
					#b, a_ ? a_ : "(null)",               \
					b_ ? b_ : "(null)");                  \
	} while (0)

#define ASSERT_CONTAINS(hay, needle)                                          \
	do {                                                                   \
		const char *h_ = (hay), *n_ = (needle);                        \
		if (!h_ || !strstr(h_, n_))                                    \
			ward_test__fail(__FILE__, __LINE__,                    \
					"%s contains \"%s\"; it is:\n%s",      \
					#hay, n_, h_ ? h_ : "(null)");        \
	} while (0)

/* What a spawned function did. Buffers are NUL-terminated; free with
 * ward_test_spawned_free(). */
struct ward_test_spawned {
	int status;   /* exit status, or 128+signal */
	char *out;    /* standard output */
	char *err;    /* standard error */
};

/* Run fn() in a child process; never returns an error (fails the test). */
struct ward_test_spawned ward_test_spawn(void (*fn)(void));
void ward_test_spawned_free(struct ward_test_spawned *s);

/* End the leak check the runner wraps every test in, now (it fails the
 * test if what the test tracked so far is still live): for a test of how
 * ward behaves where no leak check listens to releases. */
void ward_test_end_leak_check(void);

/* ward's log, captured (from any thread) into ward_test_logged from the
 * call on; the capture starts empty. */
extern char ward_test_logged[16384];
void ward_test_capture_log(void);

/* A growing NUL-terminated buffer, for ward_profile_write(): pass
 * ward_test_to_buf and a struct ward_test_buf; free b.p. */
struct ward_test_buf {
	char *p;
	size_t len, cap;
};
void ward_test_to_buf(void *opaque, const void *data, size_t len);

/*
 * Fork `rounds` times while the test's own threads keep working; each
 * child runs child() and must finish within 5 s (else the test fails
 * naming the round: a lock copied held into the child). A child says it
 * finished through a pipe: its exit status is valgrind's to set, since the
 * parent's threads' blocks are lost in it.
 */
void ward_test_fork_rounds(int rounds, void (*child)(void));

/* Run a shell command; its standard output (free it). *status gets its
 * exit status (128 when a signal ended it) when status is not NULL. */
char *ward_test_run(const char *cmd, int *status);

#endif
