/*
 * runner.c — runs the TEST()s of one test program, each in a child process
 * with a timeout, and prints a closing "N passed, N failed" line.
 */
#include <pthread.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runner.h"
#include "ward.h"

struct test {
	const char *name;
	void (*fn)(void);
	const char *file;
	int line;
};

static struct test tests[1024];
static int ntests;

void ward_test__register(const char *name, void (*fn)(void), const char *file,
			 int line)
{
	if (ntests == 1024) {
		fprintf(stderr, "runner: too many tests\n");
		exit(1);
	}
	tests[ntests++] = (struct test){ name, fn, file, line };
}

/* Tests this build does not run, and why: listed, never counted passed. */
static struct {
	const char *name, *reason;
} excluded[64];
static int nexcluded;

void ward_test__exclude(const char *name, const char *reason)
{
	if (nexcluded < 64)
		excluded[nexcluded++] = (typeof(excluded[0])){ name, reason };
}

void ward_test__fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "  %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(NULL);
	_exit(1);
}

/* Read both pipes to the end without deadlocking on either. */
static void drain(int outfd, int errfd, char **out, char **err)
{
	struct {
		int fd;
		char **buf;
		size_t len, cap;
	} s[2] = { { outfd, out, 0, 0 }, { errfd, err, 0, 0 } };

	for (int i = 0; i < 2; i++) {
		s[i].cap = 4096;
		*s[i].buf = malloc(s[i].cap);
		if (!*s[i].buf)
			abort();
		(*s[i].buf)[0] = '\0';
	}
	int open_fds = 2;
	while (open_fds > 0) {
		struct pollfd p[2];
		int np = 0, idx[2];
		for (int i = 0; i < 2; i++)
			if (s[i].fd >= 0) {
				p[np].fd = s[i].fd;
				p[np].events = POLLIN;
				idx[np++] = i;
			}
		if (poll(p, (nfds_t)np, -1) < 0) {
			if (errno == EINTR)
				continue;
			abort();
		}
		for (int k = 0; k < np; k++) {
			if (!(p[k].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			int i = idx[k];
			if (s[i].len + 4096 + 1 > s[i].cap) {
				s[i].cap *= 2;
				*s[i].buf = realloc(*s[i].buf, s[i].cap);
				if (!*s[i].buf)
					abort();
			}
			ssize_t r = read(s[i].fd, *s[i].buf + s[i].len, 4096);
			if (r < 0 && errno == EINTR)
				continue; /* poll again */
			if (r <= 0) {
				close(s[i].fd);
				s[i].fd = -1;
				open_fds--;
				continue;
			}
			s[i].len += (size_t)r;
			(*s[i].buf)[s[i].len] = '\0';
		}
	}
}

struct ward_test_spawned ward_test_spawn(void (*fn)(void))
{
	int out[2], err[2];
	struct ward_test_spawned s = { 0 };

	fflush(NULL);
	if (pipe(out) < 0 || pipe(err) < 0)
		ward_test__fail(__FILE__, __LINE__, "pipe: %s", strerror(errno));
	pid_t pid = fork();
	if (pid < 0)
		ward_test__fail(__FILE__, __LINE__, "fork: %s", strerror(errno));
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(err[1], 2);
		close(out[0]);
		close(out[1]);
		close(err[0]);
		close(err[1]);
		fn();
		fflush(NULL);
		_exit(0);
	}
	close(out[1]);
	close(err[1]);
	drain(out[0], err[0], &s.out, &s.err);
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	s.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return s;
}

void ward_test_spawned_free(struct ward_test_spawned *s)
{
	free(s->out);
	free(s->err);
	s->out = s->err = NULL;
}

char ward_test_logged[16384];
static pthread_mutex_t logged_lock = PTHREAD_MUTEX_INITIALIZER;

static void capture(void *opaque, enum ward_log_level level, const char *msg,
		    size_t len)
{
	(void)opaque;
	(void)level;
	pthread_mutex_lock(&logged_lock);
	size_t n = strlen(ward_test_logged);
	if (n + len + 1 < sizeof(ward_test_logged)) {
		memcpy(ward_test_logged + n, msg, len);
		ward_test_logged[n + len] = '\0';
	}
	pthread_mutex_unlock(&logged_lock);
}

void ward_test_capture_log(void)
{
	pthread_mutex_lock(&logged_lock);
	ward_test_logged[0] = '\0';
	pthread_mutex_unlock(&logged_lock);
	ward_set_log_hook(capture, NULL);
}

void ward_test_to_buf(void *opaque, const void *data, size_t len)
{
	struct ward_test_buf *b = opaque;
	if (b->len + len + 1 > b->cap) {
		b->cap = (b->len + len + 1) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
}

void ward_test_fork_rounds(int rounds, void (*child)(void))
{
	int done[2];
	if (pipe(done) < 0)
		ward_test__fail(__FILE__, __LINE__, "pipe: %s", strerror(errno));
	for (int round = 0; round < rounds; round++) {
		pid_t pid = fork();
		if (pid < 0)
			ward_test__fail(__FILE__, __LINE__, "fork: %s",
					strerror(errno));
		if (pid == 0) {
			child();
			(void)!write(done[1], "k", 1);
			_exit(0);
		}
		int st = 0;
		for (int w = 0; waitpid(pid, &st, WNOHANG) != pid; w++) {
			if (w == 500) {
				kill(pid, SIGKILL);
				waitpid(pid, &st, 0);
				ward_test__fail(__FILE__, __LINE__,
						"round %d: the child hung", round);
			}
			usleep(10 * 1000);
		}
		char k = 0;
		if (read(done[0], &k, 1) != 1 || k != 'k')
			ward_test__fail(__FILE__, __LINE__, "round %d: the child "
					"ended without finishing", round);
	}
	close(done[0]);
	close(done[1]);
}

char *ward_test_run(const char *cmd, int *status)
{
	FILE *f = popen(cmd, "r");
	if (!f)
		ward_test__fail(__FILE__, __LINE__, "cannot run `%s`", cmd);
	struct ward_test_buf b = { 0 };
	char chunk[4096];
	size_t r;
	while ((r = fread(chunk, 1, sizeof(chunk), f)) > 0)
		ward_test_to_buf(&b, chunk, r);
	int st = pclose(f);
	if (status)
		*status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
	if (!b.p)
		ward_test_to_buf(&b, "", 0);
	return b.p;
}

/* Every test ends with nothing of ward's still open on its thread. */
static void check_clean(const struct test *t)
{
	if (ward__self.depth != 0 || ward__self.n != 0)
		ward_test__fail(t->file, t->line,
				"test %s left %u frames open and %u defers "
				"pending",
				t->name, ward__self.depth, ward__self.n);
}

static void to_stderr(void *opaque, const void *buf, size_t len)
{
	(void)opaque;
	fwrite(buf, 1, len, stderr);
}

/* And with nothing it tracked in ward's registry still live: ward's own
 * leak check on ward's own tests. */
static const struct test *running;
static ward_leakcheck_t *running_check;

static void check_no_leaks(void)
{
	if (!running_check)
		return;
	ward_profile_t *leaks = NULL;
	int n = ward_leakcheck_end(running_check, &leaks);
	running_check = NULL;
	if (n > 0) {
		fprintf(stderr, "  test %s left %d tracked resources live:\n",
			running->name, n);
		ward_profile_write(leaks, WARD_FORMAT_TEXT, to_stderr, NULL);
		ward_test__fail(running->file, running->line, "leaks");
	}
	ward_profile_free(leaks);
}

void ward_test_end_leak_check(void)
{
	check_no_leaks();
}

static int run_one(const struct test *t, int timeout)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		alarm((unsigned)timeout);
		running = t;
		running_check = ward_leakcheck_begin();
		t->fn();
		check_clean(t);
		check_no_leaks();
		fflush(NULL);
		_exit(0);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (WIFSIGNALED(st))
		fprintf(stderr, "  killed by signal %d%s\n", WTERMSIG(st),
			WTERMSIG(st) == SIGALRM ? " (timeout)" : "");
	return 1;
}

static bool selected(const char *name, int argc, char **argv)
{
	if (argc <= 1)
		return true;
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return true;
	return false;
}

int main(int argc, char **argv)
{
	int timeout = 20, passed = 0, failed = 0;
	const char *env = getenv("WARD_TEST_TIMEOUT");

	if (env && atoi(env) > 0)
		timeout = atoi(env);
	if (argc == 2 && strcmp(argv[1], "--list") == 0) {
		for (int i = 0; i < ntests; i++)
			printf("%s\n", tests[i].name);
		return 0;
	}
	/* Every name asked for must be a test: a misspelt one would
	 * otherwise pass by running nothing. */
	for (int a = 1; a < argc; a++) {
		bool known = false;
		for (int i = 0; i < ntests && !known; i++)
			known = strcmp(tests[i].name, argv[a]) == 0;
		for (int i = 0; i < nexcluded && !known; i++)
			known = strcmp(excluded[i].name, argv[a]) == 0;
		if (!known) {
			fprintf(stderr, "runner: no test named '%s' (--list "
					"lists them)\n",
				argv[a]);
			return 1;
		}
	}
	for (int i = 0; i < ntests; i++) {
		if (!selected(tests[i].name, argc, argv))
			continue;
		struct timespec a, b;
		clock_gettime(CLOCK_MONOTONIC, &a);
		int bad = run_one(&tests[i], timeout);
		clock_gettime(CLOCK_MONOTONIC, &b);
		double ms = (double)(b.tv_sec - a.tv_sec) * 1e3 +
			    (double)(b.tv_nsec - a.tv_nsec) / 1e6;
		printf("%s %s (%.0f ms)\n", bad ? "FAIL" : "ok  ",
		       tests[i].name, ms);
		fflush(stdout);
		bad ? failed++ : passed++;
	}
	int skipped = 0;
	for (int i = 0; i < nexcluded; i++)
		if (selected(excluded[i].name, argc, argv)) {
			printf("--   %s excluded: %s\n", excluded[i].name,
			       excluded[i].reason);
			skipped++;
		}
	if (passed + failed + skipped == 0) {
		fprintf(stderr, "runner: no test matched\n");
		return 1;
	}
	if (skipped)
		printf("%d passed, %d failed, %d excluded in this build\n", passed,
		       failed, skipped);
	else
		printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
