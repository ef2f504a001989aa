/*
 * leaks.c — programs with known leaks, one per argument, for the preload
 * tests: each leaks a known number of resources of a kind from a function
 * named after the scenario.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <linux/aio_abi.h>
#include <linux/io_uring.h>
#include <linux/futex.h>
#include <ward/track.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <linux/seccomp.h>
#include <linux/filter.h>
#include <linux/landlock.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <malloc.h>
#include <mntent.h>
#include <mqueue.h>
#include <pty.h>
#include <errno.h>
#include <execinfo.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/fanotify.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/sendfile.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <threads.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))
#define KEEP(x) __asm__ volatile("" : : "r"(x) : "memory")

/* A system call made without the C library, as a language runtime makes
 * its own: neither its wrappers nor syscall() see it. */
static long kernel_call(long nr, long a, long b, long c)
{
#if defined(__x86_64__)
	long rc;
	__asm__ volatile("syscall"
			 : "=a"(rc)
			 : "0"(nr), "D"(a), "S"(b), "d"(c)
			 : "rcx", "r11", "memory");
	return rc;
#elif defined(__aarch64__)
	register long x8 __asm__("x8") = nr, x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b, x2 __asm__("x2") = c;
	__asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2)
			 : "memory");
	return x0;
#else
#error "kernel_call() needs this architecture's system call instruction"
#endif
}

/* 1000 blocks of 48 bytes, pointers dropped: definitely lost. */
NOINLINE void leak_malloc_loop(void)
{
	for (int i = 0; i < 1000; i++) {
		char *p = malloc(48);
		KEEP(p);
	}
}

/* One more leak, for `ward diff`. */
NOINLINE void leak_extra(void)
{
	KEEP(malloc(999));
}

/* One block that grew by realloc to 5000 bytes. */
NOINLINE void leak_realloc_chain(void)
{
	char *p = malloc(10);
	for (int i = 1; i <= 50; i++)
		p = realloc(p, (size_t)i * 100);
	KEEP(p);
}

/* Five aligned blocks: 100 + 128 + 200 + 300 bytes, and pvalloc(400)'s
 * whole page, 4096 (the size pvalloc() makes, as LeakSanitizer counts
 * it). */
NOINLINE void leak_memalign(void)
{
	void *a;
	if (posix_memalign(&a, 64, 100) == 0)
		KEEP(a);
	KEEP(aligned_alloc(64, 128));
	KEEP(memalign(64, 200));
	KEEP(valloc(300));
	KEEP(pvalloc(400));
}

/* One descriptor received over a socket (SCM_RIGHTS). */
NOINLINE int receive_one(void)
{
	int sp[2], fd = open("/dev/null", O_RDONLY), got = -1;
	char byte = 'x', cbuf[CMSG_SPACE(sizeof(int))];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) < 0 || fd < 0)
		exit(1);
	struct iovec io = { &byte, 1 };
	struct msghdr m = { 0 };
	m.msg_iov = &io;
	m.msg_iovlen = 1;
	m.msg_control = cbuf;
	m.msg_controllen = sizeof(cbuf);
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	if (sendmsg(sp[0], &m, 0) != 1)
		exit(1);
	memset(cbuf, 0, sizeof(cbuf));
	m.msg_controllen = sizeof(cbuf);
	if (recvmsg(sp[1], &m, 0) != 1)
		exit(1);
	memcpy(&got, CMSG_DATA(CMSG_FIRSTHDR(&m)), sizeof(int));
	close(fd);
	close(sp[0]);
	close(sp[1]);
	return got;
}

/* Twenty descriptors from eighteen sources (one from receive_one, one
 * from the probe of pidfd_open through syscall()). */
NOINLINE void leak_fds(void)
{
	int two[2];
	sigset_t m;
	char tmpl[] = "/tmp/ward-leak-XXXXXX";
	sigemptyset(&m);
	sigaddset(&m, SIGUSR1);
	KEEP(open("/dev/null", O_RDONLY));
	KEEP(socket(AF_UNIX, SOCK_STREAM, 0));
	KEEP(pipe(two));
	KEEP(socketpair(AF_UNIX, SOCK_STREAM, 0, two));
	KEEP(eventfd(0, 0));
	KEEP(timerfd_create(CLOCK_MONOTONIC, 0));
	KEEP(signalfd(-1, &m, 0));
	KEEP(epoll_create1(0));
	KEEP(inotify_init1(0));
	KEEP(memfd_create("ward", 0));
	KEEP(dup(0));
	KEEP(fcntl(0, F_DUPFD, 10));
	int t = mkstemp(tmpl); /* closed: not a leak */
	if (t >= 0) {
		unlink(tmpl);
		close(t);
	}
	char tmpl2[] = "/tmp/ward-leak-XXXXXX";
	t = mkostemp(tmpl2, O_CLOEXEC);
	if (t >= 0)
		unlink(tmpl2);
	KEEP(t);
	KEEP(creat("/tmp/ward-leak-creat", 0600));
	unlink("/tmp/ward-leak-creat");
	KEEP(receive_one());
	KEEP(posix_openpt(O_RDWR | O_NOCTTY));
	KEEP(syscall(SYS_pidfd_open, getpid(), 0) >= 0 ? pidfd_open(getpid(), 0) : -1);
}

/* Nine FILE/DIR handles from seven sources; a popen()ed stream closed. */
NOINLINE void leak_files(void)
{
	static char buf[64], *mem;
	static size_t memlen;
	for (int i = 0; i < 3; i++)
		KEEP(fopen("/dev/null", "r"));
	KEEP(fdopen(open("/dev/null", O_RDONLY), "r"));
	KEEP(opendir("/"));
	KEEP(tmpfile());
	KEEP(popen("true", "r"));
	KEEP(open_memstream(&mem, &memlen));
	KEEP(fmemopen(buf, sizeof(buf), "r+"));
	pclose(popen("true", "r"));
}

static void *quick(void *arg)
{
	return arg;
}

/* Two threads never joined; one joined. */
NOINLINE void leak_threads(void)
{
	pthread_t t;
	for (int i = 0; i < 2; i++)
		pthread_create(&t, NULL, quick, NULL);
	pthread_create(&t, NULL, quick, NULL);
	pthread_join(t, NULL);
}

NOINLINE void leak_in_child(void)
{
	for (int i = 0; i < 77; i++)
		KEEP(malloc(16));
}

/* The child leaks 77 x 16 bytes; the parent leaks nothing of that. */
NOINLINE void leak_fork(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		leak_in_child();
		exit(0);
	}
	waitpid(pid, NULL, 0);
}

NOINLINE void leak_in_second_child(void)
{
	for (int i = 0; i < 5; i++)
		KEEP(malloc(48));
}

/* Two children with one pid, one after the other (in a pid namespace of
 * their own, the next pid set back with ns_last_pid): the first leaks
 * 77 x 16 bytes, the second 5 x 48. Prints both pids. */
NOINLINE void leak_pid_again(void)
{
	pid_t first = fork();
	if (first == 0) {
		leak_in_child();
		exit(0);
	}
	waitpid(first, NULL, 0);
	int fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY | O_CLOEXEC);
	char last[24];
	int n = snprintf(last, sizeof(last), "%d", (int)first - 1);
	if (fd < 0 || write(fd, last, (size_t)n) != n) {
		fprintf(stderr, "leaks: ns_last_pid: %s\n", strerror(errno));
		exit(1);
	}
	close(fd);
	pid_t second = fork();
	if (second == 0) {
		leak_in_second_child();
		exit(0);
	}
	waitpid(second, NULL, 0);
	printf("pids %d %d\n", (int)first, (int)second);
}

/* A plugin leaks 3 x 1000 bytes and is unloaded before the report. */
NOINLINE void leak_dlopen(const char *plugin)
{
	void *h = dlopen(plugin, RTLD_NOW);
	if (!h) {
		fprintf(stderr, "leaks: %s\n", dlerror());
		exit(1);
	}
	void (*fn)(void) = (void (*)(void))dlsym(h, "plugin_leak");
	fn();
	dlclose(h);
}

struct owner {
	char *child;
};
char *kept; /* a global: what it points to is still reachable */

NOINLINE char *leak_child(void)
{
	return malloc(300);
}

NOINLINE void leak_kept(void)
{
	kept = malloc(700);
}

/* 5 owners (64 bytes) definitely lost, their children (300) indirectly,
 * one block (700) still reachable from a global. */
NOINLINE void leak_indirect(void)
{
	for (int i = 0; i < 5; i++) {
		struct owner *o = malloc(64);
		o->child = leak_child();
		KEEP(o);
	}
	leak_kept();
}

/* Many live blocks: 400,000 still reachable from a global (lists of
 * 1000) and 100 definitely lost, each in a list of its own of 10. With
 * this many, the live set's tables are large: the scan must not read them
 * as the program's memory (every block would look reachable). */
struct many {
	struct many *next;
	char pad[24];
};
struct many *many_lists[400]; /* not static: the stores must stay */

NOINLINE static struct many *many_list(int n)
{
	struct many *head = NULL;
	for (int i = 0; i < n; i++) {
		struct many *m = malloc(sizeof(*m));
		m->next = head;
		head = m;
	}
	return head;
}

NOINLINE void leak_among_many(void)
{
	for (int i = 0; i < 100; i++)
		KEEP(many_list(10));
}

NOINLINE static void leak_many(void)
{
	for (int l = 0; l < 400; l++)
		many_lists[l] = many_list(1000);
	leak_among_many();
}

/* Twelve rows, one a call line, of 1000 to 2100 bytes: more than the
 * summary shows. */
NOINLINE void *held_at_one_of_twelve(size_t n)
{
	return malloc(n);
}

NOINLINE static void leak_twelve_sites(void)
{
	static void *volatile keep[12];
	keep[0] = held_at_one_of_twelve(1000);
	keep[1] = held_at_one_of_twelve(1100);
	keep[2] = held_at_one_of_twelve(1200);
	keep[3] = held_at_one_of_twelve(1300);
	keep[4] = held_at_one_of_twelve(1400);
	keep[5] = held_at_one_of_twelve(1500);
	keep[6] = held_at_one_of_twelve(1600);
	keep[7] = held_at_one_of_twelve(1700);
	keep[8] = held_at_one_of_twelve(1800);
	keep[9] = held_at_one_of_twelve(1900);
	keep[10] = held_at_one_of_twelve(2000);
	keep[11] = held_at_one_of_twelve(2100);
}

/* What only thread-local storage points to is still reachable: one block
 * from this thread's __thread variable. */
__thread char *tls_kept; /* not static: the store must stay */

NOINLINE void leak_tls_kept(void)
{
	tls_kept = malloc(333);
}

NOINLINE void leak_snapshot_batch(void)
{
	for (int i = 0; i < 500; i++)
		KEEP(malloc(100));
}

/* Two batches, a snapshot signal after each. */
NOINLINE void leak_snapshot(void)
{
	for (int b = 0; b < 2; b++) {
		leak_snapshot_batch();
		raise(SIGUSR2);
		usleep(300000); /* ward's thread writes the snapshot */
	}
}

/* The snapshot signal sent to ward run (the parent), not the program:
 * waits up to 5 s for the snapshot to be written. */
NOINLINE void leak_snapshot_via_parent(void)
{
	const char *out = getenv("WARD_OUTPUT");
	char snap[4096];
	snprintf(snap, sizeof(snap), "%s.snap1", out ? out : "");
	leak_snapshot_batch();
	kill(getppid(), SIGUSR2);
	for (int i = 0; i < 500 && access(snap, F_OK) != 0; i++)
		usleep(10000);
}

/* "daemonize MARK": a block lost before daemon(), one lost in the daemon,
 * which writes to MARK (an absolute path) what it became: "session cwd
 * stdin stdout stderr", each stream as /proc/self/fd names it. */
NOINLINE void *lost_before_daemon(void) { return malloc(4242); }
NOINLINE void *lost_in_daemon(void) { return malloc(2424); }

NOINLINE void leak_daemonize(const char *mark)
{
	void *volatile p = lost_before_daemon();
	p = NULL;
	if (daemon(0, 0) != 0)
		exit(1);
	p = lost_in_daemon();
	p = NULL;
	char cwd[256], stream[3][64];
	for (int i = 0; i < 3; i++) {
		char link[32];
		snprintf(link, sizeof(link), "/proc/self/fd/%d", i);
		ssize_t n = readlink(link, stream[i], sizeof(stream[i]) - 1);
		stream[i][n > 0 ? n : 0] = '\0';
	}
	FILE *f = fopen(mark, "w");
	if (!f || !getcwd(cwd, sizeof(cwd)))
		exit(1);
	fprintf(f, "%s %s %s %s %s\n",
		getsid(0) == getpid() ? "own" : "inherited", cwd, stream[0],
		stream[1], stream[2]);
	fclose(f);
}

/* "outlives DIR": the program forks a child and ends; the child waits
 * (up to 10 s) for DIR/go, which the test makes once ward run has
 * reported, loses a block and returns. The child's pid on standard
 * output. */
NOINLINE void *lost_in_orphan(void) { return malloc(4343); }

NOINLINE void leak_outlives(const char *dir)
{
	char go[4096];
	snprintf(go, sizeof(go), "%s/go", dir);
	pid_t child = fork();
	if (child < 0)
		exit(1);
	if (child > 0) {
		printf("child %d\n", (int)child);
		return;
	}
	for (int i = 0; i < 200 && access(go, F_OK) != 0; i++)
		usleep(50 * 1000);
	void *volatile p = lost_in_orphan();
	p = NULL;
	/* On to main's return, as daemonize's child: what follows leaves no
	 * copy of the pointer where the exit's scan reads. */
}

/* "snapshot_exec": a snapshot, then the program executes itself in its
 * own process ("snapshot_exec again"), which takes a snapshot of its own;
 * each waits up to 5 s for its file, OUT.snap1 then OUT.snap2. */
NOINLINE void leak_before_exec(void)
{
	for (int i = 0; i < 7; i++)
		KEEP(malloc(70));
}

NOINLINE void leak_after_exec(void)
{
	for (int i = 0; i < 9; i++)
		KEEP(malloc(90));
}

static void snapshot_and_wait(int n)
{
	const char *out = getenv("WARD_OUTPUT");
	char snap[4096];
	snprintf(snap, sizeof(snap), "%s.snap%d", out ? out : "", n);
	raise(SIGUSR2);
	for (int i = 0; i < 500 && access(snap, F_OK) != 0; i++)
		usleep(10000);
}

NOINLINE void leak_snapshot_exec(const char *self, bool again)
{
	if (!again) {
		leak_before_exec();
		snapshot_and_wait(1);
		execl("/proc/self/exe", self, "snapshot_exec", "again",
		      (char *)NULL);
		exit(1);
	}
	leak_after_exec();
	snapshot_and_wait(2);
}

/* Threads still running at exit, blocked in read(): what only their
 * stacks point to is still reachable; what nobody points to is lost. */
static int block_pipe[2];
static atomic_int holders_ready;

NOINLINE char *held_by_thread(void)
{
	return malloc(400);
}

static void *holder(void *arg)
{
	char *volatile mine = held_by_thread();
	char c;
	(void)arg;
	atomic_fetch_add(&holders_ready, 1);
	if (read(block_pipe[0], &c, 1) < 0) /* never returns before exit */
		return NULL;
	return mine;
}

static void *blocks_everything(void *arg)
{
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	return holder(arg);
}

NOINLINE void lost_while_threads_run(void)
{
	for (int i = 0; i < 3; i++)
		KEEP(malloc(90));
}

/* In a thread of its own, joined: no stale copy of the pointers stays on
 * the main thread's stack. */
static void *lose(void *arg)
{
	(void)arg;
	lost_while_threads_run();
	return NULL;
}

/* Two threads hold a block each on their stacks; 3 x 90 bytes lost. With
 * "masked", one thread blocks every signal, so it cannot be stopped: it is
 * read where it sleeps. */
NOINLINE void leak_running_threads(bool masked)
{
	pthread_t t;
	if (pipe(block_pipe) < 0)
		exit(1);
	pthread_create(&t, NULL, holder, NULL);
	pthread_create(&t, NULL, masked ? blocks_everything : holder, NULL);
	while (atomic_load(&holders_ready) < 2)
		usleep(1000);
	pthread_create(&t, NULL, lose, NULL);
	pthread_join(t, NULL);
}

/* ---- Who holds it ------------------------------------------------------- */

/* Four blocks still reachable, each held by another kind of root: a
 * global through a block of its own, a thread's stack, the exiting
 * thread's TLS, and a register of a thread that spins. */
struct why_mid {
	long tag;
	void *held; /* at +0x8 */
};
struct why_mid *why_cache[4];
__thread void *why_tls;
static atomic_int why_ready;

NOINLINE void *why_target_global(void) { return malloc(100); }
NOINLINE void *why_target_stack(void) { return malloc(101); }
NOINLINE void *why_target_tls(void) { return malloc(102); }
NOINLINE void *why_target_register(void) { return malloc(103); }
NOINLINE struct why_mid *why_middle(void) { return malloc(sizeof(struct why_mid)); }

/* "clearenv": a global holds a block, then the program clears its
 * environment (as a daemon does before it runs others) and ends: what
 * ward was asked at start (--why) still holds. */
static void *volatile envless_held;
NOINLINE void *why_target_envless(void) { return malloc(104); }

static void leak_clearenv(void)
{
	envless_held = why_target_envless();
	clearenv();
	setenv("PATH", "/bin", 1);
}

/* "thread_churn": four threads start short-lived detached threads as fast
 * as they can for a second (a thread per request), each thread allocating
 * and freeing; then the program loses a block and exits while they go on.
 * Prints how many threads were alive at the end ("alive N"). */
static void *churn_leaf(void *arg)
{
	free(malloc(32));
	free(arg);
	return NULL;
}

static void *churn_spawner(void *arg)
{
	(void)arg;
	for (;;) {
		pthread_t t;
		void *a = malloc(16);
		if (pthread_create(&t, NULL, churn_leaf, a) == 0)
			pthread_detach(t);
		else
			free(a), usleep(100);
	}
	return NULL;
}

NOINLINE void *lost_in_churn(void) { return malloc(73); }

static void leak_thread_churn(void)
{
	for (int i = 0; i < 4; i++) {
		pthread_t t;
		pthread_create(&t, NULL, churn_spawner, NULL);
	}
	sleep(1);
	char line[256];
	FILE *st = fopen("/proc/self/status", "r");
	while (st && fgets(line, sizeof(line), st))
		if (strncmp(line, "Threads:", 8) == 0)
			printf("alive %ld\n", strtol(line + 8, NULL, 10));
	if (st)
		fclose(st);
	void *volatile lost = lost_in_churn();
	lost = NULL;
	fflush(stdout);
	exit(0);
}

/* "naps": one thread sleeps two seconds and another polls a pipe nobody
 * writes for two seconds, while whoever runs this asks for every thread's
 * stack (ward run --http, /debug/pprof/threads?debug=2). Each says how
 * its wait ended: "slept 2" (whole seconds) and "poll 0" (the timeout,
 * not -1 with EINTR). */
static double naps_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

NOINLINE void *naps_sleeper(void *arg)
{
	double t0 = naps_now();
	sleep(2);
	printf("slept %d\n", (int)(naps_now() - t0 + 0.05));
	return arg;
}

NOINLINE void *naps_poller(void *arg)
{
	int p[2];
	if (pipe(p) != 0)
		return arg;
	struct pollfd fd = { .fd = p[0], .events = POLLIN };
	int rc = poll(&fd, 1, 2000);
	printf("poll %d%s\n", rc, rc < 0 && errno == EINTR ? " EINTR" : "");
	close(p[0]);
	close(p[1]);
	return arg;
}

/* recv() of a byte that never comes, on a socket whose SO_RCVTIMEO is
 * `seconds`: its result. */
static int recv_nothing(time_t seconds)
{
	int sv[2];
	char c;
	struct timeval tv = { seconds, 0 };
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0 ||
	    setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0)
		exit(1);
	return (int)recv(sv[0], &c, 1, 0);
}

/* sem_timedwait() `seconds` on a semaphore nobody posts: its result. */
static int sem_wait_nothing(time_t seconds)
{
	sem_t sem;
	struct timespec until;
	sem_init(&sem, 0, 0);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += seconds;
	return sem_timedwait(&sem, &until);
}

/* "timed_waits": threads wait 1 s with a timeout the handler would cut
 * short — a recv() on a socket with SO_RCVTIMEO, a sem_timedwait() — and
 * say how each ended, while the test asks the endpoint for every
 * thread's stack again and again. */
NOINLINE void *timed_waiter(void *arg)
{
	int k = (int)(intptr_t)arg;
	double t0 = naps_now();
	int rc = k == 0 ? recv_nothing(1) : sem_wait_nothing(1);
	printf("%s %s after %.1f s\n", k == 0 ? "recv" : "sem_timedwait",
	       rc < 0 && errno == EINTR ? "EINTR" : "timed out",
	       naps_now() - t0);
	fflush(stdout);
	return arg;
}

static void leak_timed_waits(void)
{
	pthread_t t[2];
	for (intptr_t k = 0; k < 2; k++)
		pthread_create(&t[k], NULL, timed_waiter, (void *)k);
	printf("ready\n");
	fflush(stdout);
	for (int k = 0; k < 2; k++)
		pthread_join(t[k], NULL);
}

static void leak_naps(void)
{
	pthread_t a, b;
	pthread_create(&a, NULL, naps_sleeper, NULL);
	pthread_create(&b, NULL, naps_poller, NULL);
	printf("ready\n");
	fflush(stdout);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	fflush(stdout);
}

/* "checked_waits": threads wait 1 s each with a timeout the kernel does
 * not count down — poll(), epoll_wait(), epoll_pwait(), a futex wait, a
 * bare nanosleep without rem, semtimedop(), io_getevents(), a recv() on a
 * socket with SO_RCVTIMEO, io_uring_enter() (where the kernel has
 * io_uring; it says so where not) — while the
 * program asks for a leak check every 150 ms, which stops them all each
 * time. Each says how long it waited, and the program how many checks it
 * asked for. */
int __lsan_do_recoverable_leak_check(void) __attribute__((weak));
static atomic_int waits_left;

NOINLINE void *checked_wait(void *arg)
{
	int k = (int)(intptr_t)arg;
	long rc = 0;
	double t0 = naps_now();
	struct timespec second = { 1, 0 };
	if (k == 0) {
		rc = poll(NULL, 0, 1000);
	} else if (k == 1 || k == 2) {
		struct epoll_event ev;
		int ep = epoll_create1(0);
		rc = k == 1 ? epoll_wait(ep, &ev, 1, 1000)
			    : epoll_pwait(ep, &ev, 1, 1000, NULL);
		close(ep);
	} else if (k == 3) {
		static uint32_t word;
		rc = syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 0, &second,
			     NULL, 0);
	} else if (k == 4) {
		rc = syscall(SYS_nanosleep, &second, NULL);
	} else if (k == 5) {
		int id = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
		struct sembuf op = { 0, -1, 0 };
		rc = semtimedop(id, &op, 1, &second);
		semctl(id, 0, IPC_RMID);
	} else if (k == 6) {
		aio_context_t ctx = 0;
		struct io_event ev;
		if (syscall(SYS_io_setup, 1, &ctx) == 0) {
			rc = syscall(SYS_io_getevents, ctx, 1, 1, &ev, &second);
			syscall(SYS_io_destroy, ctx);
		}
	} else if (k == 7) {
		rc = recv_nothing(1);
	} else {
		/* A wait for one completion, 1 s at most (EXT_ARG). */
		struct io_uring_params p = { 0 };
		struct __kernel_timespec ts = { 1, 0 };
		struct io_uring_getevents_arg wait = { .ts = (uintptr_t)&ts };
		int ring = (int)syscall(SYS_io_uring_setup, 4, &p);
		if (ring < 0) {
			printf("io_uring_enter unavailable (%s)\n",
			       strerror(errno));
			fflush(stdout);
			atomic_fetch_sub(&waits_left, 1);
			return arg;
		}
		rc = syscall(SYS_io_uring_enter, ring, 0, 1,
			     IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG,
			     &wait, sizeof(wait));
		close(ring);
	}
	static const char *const names[] = { "poll", "epoll_wait",
					      "epoll_pwait", "futex",
					      "nanosleep", "semtimedop",
					      "io_getevents", "recv",
					      "io_uring_enter" };
	printf("%s %s after %.1f s\n", names[k],
	       rc < 0 && errno == EINTR ? "EINTR" : "timed out",
	       naps_now() - t0);
	fflush(stdout);
	atomic_fetch_sub(&waits_left, 1);
	return arg;
}

static void leak_checked_waits(void)
{
	enum { WAITS = 9 };
	pthread_t t[WAITS];
	if (!__lsan_do_recoverable_leak_check)
		exit(1);
	atomic_store(&waits_left, WAITS);
	for (intptr_t k = 0; k < WAITS; k++)
		pthread_create(&t[k], NULL, checked_wait, (void *)k);
	int checks = 0;
	for (; atomic_load(&waits_left) > 0 && checks < 40; checks++) {
		usleep(150 * 1000);
		__lsan_do_recoverable_leak_check();
	}
	for (int k = 0; k < WAITS; k++)
		pthread_join(t[k], NULL);
	printf("checks %s\n", checks >= 3 ? "3 or more" : "fewer than 3");
}

/* "checked_ipc": threads block where a handler would end the call with
 * EINTR, SA_RESTART or not — msgsnd() on a full queue, semop() (the system
 * call itself; the C library's makes semtimedop's), recvmmsg(),
 * sendmmsg() and sendfile() on a socket with a timeout — while the
 * program asks for a leak check every 100 ms, five times; then it lets
 * each go on. Each says how its call ended. */
static int ipc_queue, ipc_sem, ipc_in[2], ipc_out[2], ipc_stream[2];

NOINLINE void *checked_ipc_wait(void *arg)
{
	int k = (int)(intptr_t)arg;
	long rc;
	if (k == 0) {
		struct {
			long type;
			char text[1024];
		} m = { 1, { 0 } };
		while (msgsnd(ipc_queue, &m, sizeof(m.text), IPC_NOWAIT) == 0)
			;
		rc = msgsnd(ipc_queue, &m, sizeof(m.text), 0);
	} else if (k == 1) {
		struct sembuf op = { 0, -1, 0 };
		rc = syscall(SYS_semop, ipc_sem, &op, 1);
	} else if (k == 2) {
		char buf[8];
		struct iovec io = { buf, sizeof(buf) };
		struct mmsghdr mm = { .msg_hdr = { .msg_iov = &io, .msg_iovlen = 1 } };
		rc = recvmmsg(ipc_in[0], &mm, 1, 0, NULL);
	} else if (k == 3) {
		char buf[512] = { 0 };
		struct iovec io = { buf, sizeof(buf) };
		struct mmsghdr mm = { .msg_hdr = { .msg_iov = &io, .msg_iovlen = 1 } };
		while (sendmmsg(ipc_out[1], &mm, 1, MSG_DONTWAIT) == 1)
			;
		rc = sendmmsg(ipc_out[1], &mm, 1, 0);
	} else {
		char buf[4096] = { 0 };
		int file = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
		while (send(ipc_stream[1], buf, sizeof(buf), MSG_DONTWAIT) > 0)
			;
		rc = sendfile(ipc_stream[1], file, NULL, 4096);
		close(file);
	}
	static const char *const names[] = { "msgsnd", "semop", "recvmmsg",
					      "sendmmsg", "sendfile" };
	printf("%s %s\n", names[k],
	       rc >= 0 ? "went on" : errno == EINTR ? "EINTR" : strerror(errno));
	fflush(stdout);
	return arg;
}

static void leak_checked_ipc(void)
{
	enum { WAITS = 5 };
	pthread_t t[WAITS];
	struct timeval ten = { 10, 0 };
	ipc_queue = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	ipc_sem = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
	if (!__lsan_do_recoverable_leak_check || ipc_queue < 0 || ipc_sem < 0 ||
	    socketpair(AF_UNIX, SOCK_DGRAM, 0, ipc_in) != 0 ||
	    socketpair(AF_UNIX, SOCK_DGRAM, 0, ipc_out) != 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, ipc_stream) != 0 ||
	    setsockopt(ipc_in[0], SOL_SOCKET, SO_RCVTIMEO, &ten, sizeof(ten)) ||
	    setsockopt(ipc_out[1], SOL_SOCKET, SO_SNDTIMEO, &ten, sizeof(ten)) ||
	    setsockopt(ipc_stream[1], SOL_SOCKET, SO_SNDTIMEO, &ten,
		       sizeof(ten)))
		exit(1);
	for (intptr_t k = 0; k < WAITS; k++)
		pthread_create(&t[k], NULL, checked_ipc_wait, (void *)k);
	for (int checks = 0; checks < 5; checks++) {
		usleep(100 * 1000);
		__lsan_do_recoverable_leak_check();
	}
	char m[1032], buf[512];
	struct sembuf post = { 0, 1, 0 };
	msgrcv(ipc_queue, m, 1024, 0, IPC_NOWAIT);
	semop(ipc_sem, &post, 1);
	send(ipc_in[1], "x", 1, 0);
	recv(ipc_out[0], buf, sizeof(buf), MSG_DONTWAIT);
	while (recv(ipc_stream[0], buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
	for (int k = 0; k < WAITS; k++)
		pthread_join(t[k], NULL);
	msgctl(ipc_queue, IPC_RMID, NULL);
	semctl(ipc_sem, 0, IPC_RMID);
}

/* "sleepers": threads asleep in sleep(), usleep(), poll(), epoll_wait(),
 * select(), pause(), sem_timedwait(), recv() with a timeout and connect()
 * with a timeout (to a loopback listener whose queue is full, which
 * drops the connection's first packets) when main returns: the exit's
 * scan stops each to
 * read its registers, and none may wake early for it (each would say so;
 * alone, the program prints "done" only). */
NOINLINE void *exit_sleeper(void *arg)
{
	int k = (int)(intptr_t)arg, rc = 0;
	if (k == 0) {
		rc = (int)sleep(30);
	} else if (k == 1) {
		rc = usleep(30 * 1000 * 1000);
	} else if (k == 2) {
		rc = poll(NULL, 0, 30000);
	} else if (k == 3) {
		struct epoll_event ev;
		int ep = epoll_create1(0);
		rc = epoll_wait(ep, &ev, 1, 30000);
	} else if (k == 4) {
		struct timeval tv = { 30, 0 };
		rc = select(0, NULL, NULL, NULL, &tv);
	} else if (k == 5) {
		rc = pause();
	} else if (k == 8) {
		struct sockaddr_in at = { .sin_family = AF_INET };
		socklen_t len = sizeof(at);
		struct timeval tv = { 30, 0 };
		int l = socket(AF_INET, SOCK_STREAM, 0),
		    queued = socket(AF_INET, SOCK_STREAM, 0),
		    c = socket(AF_INET, SOCK_STREAM, 0);
		at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (bind(l, (struct sockaddr *)&at, sizeof(at)) != 0 ||
		    getsockname(l, (struct sockaddr *)&at, &len) != 0 ||
		    listen(l, 0) != 0 ||
		    connect(queued, (struct sockaddr *)&at, sizeof(at)) != 0)
			exit(3);
		setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		rc = connect(c, (struct sockaddr *)&at, sizeof(at));
	} else if (k == 7) {
		rc = recv_nothing(30);
	} else {
		rc = sem_wait_nothing(30);
	}
	printf("sleeper %d woke early: %d (%s)\n", k, rc, strerror(errno));
	fflush(stdout);
	return arg;
}

static void leak_sleepers(void)
{
	pthread_t t;
	for (intptr_t k = 0; k < 9; k++)
		pthread_create(&t, NULL, exit_sleeper, (void *)k);
	usleep(200 * 1000);
	printf("done\n");
}

NOINLINE void why_wipe_stack(void)
{
	volatile char junk[8192];
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = 0;
}

NOINLINE void *why_stack_holder(void *arg)
{
	(void)arg;
	void *volatile mine = why_target_stack();
	atomic_fetch_add(&why_ready, 1);
	for (;;)
		pause();
	return (void *)mine;
}

NOINLINE void *why_register_holder(void *arg)
{
	(void)arg;
	uintptr_t p = (uintptr_t)why_target_register();
	/* Only r13 holds it: the copy is taken out of the variable, and the
	 * stack below is wiped of what malloc left. */
	__asm__ volatile("mov %0, %%r13\n\txor %0, %0" : "+r"(p) : : "r13");
	why_wipe_stack();
	atomic_fetch_add(&why_ready, 1);
	for (;;)
		__asm__ volatile("pause" : : : "memory");
	return (void *)p;
}

/* "own_break": the program takes memory by moving the break itself, with
 * sbrk() and with brk() (a bump allocator of its own), and keeps a block
 * in each; the pointers kept anywhere else are gone. */
NOINLINE void *held_in_sbrk(void) { return malloc(555); }
NOINLINE void *held_in_brk(void) { return malloc(556); }

NOINLINE void leak_own_break(void)
{
	free(malloc(10)); /* malloc has a heap of its own first */
	void **by_sbrk = sbrk(4096);
	void **by_brk = sbrk(0);
	if (by_sbrk == (void *)-1 || brk((char *)by_brk + 4096) != 0)
		exit(1);
	by_sbrk[7] = held_in_sbrk();
	by_brk[9] = held_in_brk();
}

/* "space_used_up": the program limits its address space to 128 MiB more
 * than it has, fills it with pages' worth of blocks, frees every other,
 * and fills the holes with small blocks: each comes from memory malloc
 * has, while the books that would record it have no room left to grow.
 * Every block is kept (nothing is lost); it says how many it took.
 * "space_used_up full": under a limit it was given (ulimit -v), it stops
 * once the pages' worth fill the space, and maps what is left of it. */
void *space_big[1 << 16];
void **space_small;

NOINLINE void leak_space_used_up(bool full)
{
	long kib = 0;
	char line[256];
	FILE *st = fopen("/proc/self/status", "r");
	while (st && fgets(line, sizeof(line), st))
		if (sscanf(line, "VmSize: %ld", &kib) == 1)
			break;
	if (st)
		fclose(st);
	struct rlimit rl;
	rl.rlim_cur = rl.rlim_max = ((rlim_t)kib << 10) + (128u << 20);
	if (!full && (!kib || setrlimit(RLIMIT_AS, &rl) != 0))
		exit(1);
	size_t n = 0, m = 0, cap = 1 << 22;
	space_small = malloc(cap * sizeof(*space_small));
	if (!space_small)
		exit(1);
	while (n < sizeof(space_big) / sizeof(space_big[0]) &&
	       (space_big[n] = malloc(4000)))
		n++;
	if (full) {
		/* What malloc left, taken in mappings of any size. */
		for (size_t len = 1 << 20; len >= 4096; len /= 2)
			while (mmap(NULL, len, PROT_NONE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) !=
			       MAP_FAILED)
				;
		printf("%zu large\n", n);
		return;
	}
	for (size_t i = 0; i < n; i += 2) {
		free(space_big[i]);
		space_big[i] = NULL;
	}
	while (m < cap && (space_small[m] = malloc(24)))
		m++;
	printf("%zu large, %zu small\n", n, m);
}

/* "file_shared DIR": the program shares memory through a file of its own
 * in DIR, mapped shared (as two programs share a file in /tmp), and
 * keeps a block there alone; the file is unlinked, as such files are. */
NOINLINE void *held_in_file(void) { return malloc(557); }

NOINLINE void leak_file_shared(const char *dir)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/shared.XXXXXX", dir);
	int fd = mkstemp(path);
	if (fd < 0 || ftruncate(fd, 4096) != 0)
		exit(1);
	void **page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED,
			   fd, 0);
	if (page == MAP_FAILED)
		exit(1);
	unlink(path);
	close(fd);
	page[11] = held_in_file();
}

/* "vector_held": a running thread holds a block in xmm0 alone (a copy
 * of a struct goes through the vector registers), as LeakSanitizer's
 * own use_registers_extra test has it. */
NOINLINE void *held_in_xmm(void) { return malloc(1337); }

NOINLINE void *xmm_holder(void *arg)
{
	(void)arg;
	uintptr_t p = (uintptr_t)held_in_xmm();
	why_wipe_stack(); /* of what malloc left below */
	/* Into xmm0, out of the variable and of every register a call may
	 * have left a copy in (clang's build kept one in rsi). */
	__asm__ volatile("movq %0, %%xmm0\n\t"
			 "xor %0, %0\n\t"
			 "xor %%eax, %%eax\n\txor %%ecx, %%ecx\n\t"
			 "xor %%edx, %%edx\n\txor %%esi, %%esi\n\t"
			 "xor %%edi, %%edi\n\txor %%r8d, %%r8d\n\t"
			 "xor %%r9d, %%r9d\n\txor %%r10d, %%r10d\n\t"
			 "xor %%r11d, %%r11d"
			 : "+r"(p)
			 :
			 : "xmm0", "rax", "rcx", "rdx", "rsi", "rdi", "r8",
			   "r9", "r10", "r11");
	atomic_fetch_add(&why_ready, 1);
	for (;;)
		__asm__ volatile("pause" : : : "memory");
	return (void *)p;
}

NOINLINE void leak_vector_held(void)
{
	pthread_t t;
	pthread_create(&t, NULL, xmm_holder, NULL);
	while (atomic_load(&why_ready) < 1)
		usleep(1000);
}

NOINLINE void leak_why(void)
{
	struct why_mid *mid = why_middle();
	mid->tag = 1;
	mid->held = why_target_global();
	why_cache[2] = mid; /* at +0x10 */
	why_tls = why_target_tls();
	pthread_t t;
	pthread_create(&t, NULL, why_stack_holder, NULL);
	pthread_create(&t, NULL, why_register_holder, NULL);
	while (atomic_load(&why_ready) < 2)
		usleep(1000);
}

/* ---- What the tracer must not harm ------------------------------------- */

/* A signal handler that allocates and frees (not async-signal-safe, but
 * programs do it), signalled thousands of times while the main thread
 * opens and closes descriptors: many signals land inside ward's
 * bookkeeping (none inside malloc, where the handler's malloc would
 * deadlock with or without ward). The handler keeps its last 16 blocks;
 * every other one it freed. Exactly 16 must be live at its site. */
enum { HANDLER_KEEPS = 16 };
static void *handler_kept[HANDLER_KEEPS];
static volatile sig_atomic_t handler_runs;

NOINLINE void *allocated_in_handler(void)
{
	return malloc(24);
}

static void allocating_handler(int sig)
{
	(void)sig;
	int i = handler_runs++ % HANDLER_KEEPS;
	free(handler_kept[i]);
	handler_kept[i] = allocated_in_handler();
}

static void *signaller(void *arg)
{
	pthread_t target = *(pthread_t *)arg;
	for (int i = 0; i < 20000; i++) {
		pthread_kill(target, SIGUSR1);
		if (i % 64 == 0)
			sched_yield();
	}
	return NULL;
}

NOINLINE void leak_in_handler(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = allocating_handler;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	pthread_t self = pthread_self(), t;
	pthread_create(&t, NULL, signaller, &self);
	void *ret;
	while (pthread_tryjoin_np(t, &ret) != 0)
		for (int i = 0; i < 64; i++)
			close(open("/dev/null", O_RDONLY));
	signal(SIGUSR1, SIG_IGN);
	printf("handler ran %d times\n", (int)handler_runs);
}


/* malloc_usable_size and a failed realloc, with whatever allocator is
 * loaded (jemalloc, mimalloc): ward must hand every block back to the
 * allocator that made it. */
NOINLINE void leak_usable(void)
{
	for (int i = 0; i < 10; i++) {
		char *p = malloc(100);
		if (malloc_usable_size(p) < 100)
			exit(3);
		KEEP(p);
	}
	char *q = malloc(10);
	/* Kept, so that the compiler cannot drop the call and take its
	 * result for a success (clang does, for a result only compared). */
	void *volatile grown = realloc(q, (size_t)1 << 62);
	if (grown != NULL)
		exit(4);
	free(q);
}

/* Closes every descriptor but 0-2, opens files of its own on the freed
 * numbers, asks for a snapshot and checks that nothing wrote into them. */
NOINLINE void leak_closeall(const char *dir)
{
	int fds[16], n = 0;
	char path[4096];
	for (int fd = 3; fd < 1024; fd++)
		close(fd);
	for (int i = 0; i < 16; i++) {
		snprintf(path, sizeof(path), "%s/own%d", dir, i);
		fds[n++] = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	}
	raise(SIGUSR2);
	usleep(300000);
	for (int i = 0; i < n; i++) {
		struct stat st;
		if (fstat(fds[i], &st) == 0 && st.st_size != 0) {
			printf("fd %d was written by someone else\n", fds[i]);
			exit(5);
		}
	}
	/* the files stay open: a leak of 16 descriptors */
}

NOINLINE void leak_after_vfork(void)
{
	for (int i = 0; i < 10; i++)
		KEEP(malloc(20));
}

/* A vfork() child whose exec fails ends with _exit(127); the parent goes
 * on and leaks 10 x 20 bytes after it. */
NOINLINE void leak_vfork(void)
{
	pid_t pid = vfork();
	if (pid == 0) {
		execl("/nonexistent/program", "x", (char *)NULL);
		_exit(127);
	}
	waitpid(pid, NULL, 0);
	leak_after_vfork();
}

NOINLINE void leak_in_snapped_child(void)
{
	for (int i = 0; i < 7; i++)
		KEEP(malloc(30));
}

/* A forked child links a block of its own into a list the parent built:
 * still reachable through the inherited head. */
struct link {
	struct link *next;
	char pad[24];
};
struct link *list_head;

NOINLINE struct link *linked_by_child(void)
{
	return malloc(sizeof(struct link));
}

NOINLINE void leak_fork_list(void)
{
	list_head = calloc(1, sizeof(struct link));
	pid_t pid = fork();
	if (pid == 0) {
		list_head->next = linked_by_child();
		exit(0);
	}
	waitpid(pid, NULL, 0);
}

/* The same a generation further: the head is the grandparent's, and a
 * forked child's child hangs its block off it (the middle process's own
 * books, set aside in its child, must not drop the ones it inherited). */
NOINLINE struct link *linked_by_grandchild(void)
{
	return malloc(sizeof(struct link));
}

NOINLINE void leak_fork_list_twice(void)
{
	list_head = calloc(1, sizeof(struct link));
	pid_t pid = fork();
	if (pid == 0) {
		pid_t grandchild = fork();
		if (grandchild == 0) {
			list_head->next = linked_by_grandchild();
			printf("grandchild %d\n", (int)getpid());
			exit(0);
		}
		waitpid(grandchild, NULL, 0);
		exit(0);
	}
	waitpid(pid, NULL, 0);
}

/* A forked child frees the inherited block that alone pointed to its
 * own: the block is lost, as the freed one is no root any more. The
 * pointer sits past the bytes free() writes into a chunk, in a chunk of
 * a size nothing else asks for (its memory stays as it was). */
struct holder {
	char pad[600];
	void *kept;
};
static struct holder *freed_holder;

NOINLINE void *held_by_freed_inherited(void)
{
	void *p = malloc(48);
	__asm__ volatile("" ::: "memory");
	return p;
}

NOINLINE void leak_fork_freed(void)
{
	freed_holder = calloc(1, sizeof(*freed_holder));
	pid_t pid = fork();
	if (pid == 0) {
		freed_holder->kept = held_by_freed_inherited();
		/* Kept: a store into memory freed next is otherwise dead
		 * to the compiler, which drops it. */
		__asm__ volatile("" ::: "memory");
		free(freed_holder);
		freed_holder = NULL;
		exit(0);
	}
	waitpid(pid, NULL, 0);
	free(freed_holder);
}

/* A program built with ward's owners, traced (ward's functions are the
 * tracer's): a forked child that releases an owner it inherited counts
 * nothing released, its books starting empty. */
NOINLINE void leak_fork_owner(void)
{
	void *(*mk)(void *, const char *, const char *, int) =
		(void *(*)(void *, const char *, const char *, int))dlsym(
			RTLD_DEFAULT, "ward__owner_new");
	int (*rel)(void *, const char *, int) =
		(int (*)(void *, const char *, int))dlsym(
			RTLD_DEFAULT, "ward__owner_release");
	int (*reg)(const char *) =
		(int (*)(const char *))dlsym(RTLD_DEFAULT, "ward_kind_register");
	int (*stats)(int, struct ward_kind_stats *) =
		(int (*)(int, struct ward_kind_stats *))dlsym(RTLD_DEFAULT,
							      "ward_kind_stats");
	if (!mk || !rel || !reg || !stats) {
		puts("no ward owners");
		exit(2);
	}
	void *o = mk(NULL, "inherited", __FILE__, __LINE__);
	pid_t pid = fork();
	if (pid == 0) {
		struct ward_kind_stats st;
		rel(o, __FILE__, __LINE__);
		if (stats(reg("owner"), &st) != 0)
			_exit(3);
		printf("child owners: live %lld released %lld\n",
		       (long long)st.live_count, (long long)st.released_count);
		fflush(stdout);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	rel(o, __FILE__, __LINE__);
}

/* A snapshot signal sent to a forked child snapshots the child. */
NOINLINE void leak_snapfork(void)
{
	int ready[2], go[2];
	if (pipe(ready) < 0 || pipe(go) < 0)
		exit(1);
	pid_t pid = fork();
	if (pid == 0) {
		char c;
		leak_in_snapped_child();
		if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(1);
		usleep(300000);
		exit(0);
	}
	char c;
	if (read(ready[0], &c, 1) != 1)
		exit(1);
	kill(pid, SIGUSR2);
	usleep(100000);
	if (write(go[1], "g", 1) != 1)
		exit(1);
	waitpid(pid, NULL, 0);
}

/* Opens descriptors until there are none left (RLIMIT_NOFILE 64). */
static void use_up_descriptors(void)
{
	struct rlimit rl = { 64, 64 };
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		exit(1);
	while (open("/dev/null", O_RDONLY) >= 0)
		;
}

/* Runs into RLIMIT_NOFILE (64) and leaks every descriptor it got. */
static void *volatile held_at_fdlimit_ptr;

NOINLINE void *held_at_fdlimit(void)
{
	return malloc(71);
}

NOINLINE void *lost_at_fdlimit(void)
{
	return malloc(72);
}

static void *sleep_forever(void *arg)
{
	for (;;)
		pause();
	return arg;
}

static volatile sig_atomic_t terms;

static void count_term(int sig)
{
	(void)sig;
	terms++;
}

/* SIGTERM to its own process group, which ward run is in (a shell's
 * `trap 'kill 0' EXIT`): the program gets it once, as without ward. */
NOINLINE void leak_kill_group(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = count_term;
	if (sigaction(SIGTERM, &sa, NULL) != 0 || kill(0, SIGTERM) != 0)
		exit(1);
	for (int i = 0; i < 50 && terms < 2; i++)
		usleep(10000);
	printf("SIGTERM %d time(s)\n", (int)terms);
}

static char guarded[3 * 4096] __attribute__((aligned(4096)));
static void *volatile held_beside_guard_ptr;
static void *volatile guarded_block;

NOINLINE void *held_beside_guard(void)
{
	return malloc(77);
}

NOINLINE void *lost_behind_guard(void)
{
	return malloc(78);
}

/* Pages the program made inaccessible (PROT_NONE): one in its globals,
 * one inside a heap block of its own, which alone holds another block.
 * The scan passes over them: the program exits as it would, a block a
 * global holds is still reachable, and the one only the inaccessible page
 * held is lost, as valgrind tells them. */
NOINLINE void leak_prot_none(void)
{
	char *big = malloc(1 << 20);
	char *page = (char *)(((uintptr_t)big + 8192) & ~(uintptr_t)4095);
	*(void **)(void *)(page + 64) = lost_behind_guard();
	guarded_block = big;
	held_beside_guard_ptr = held_beside_guard();
	if (mprotect(guarded + 4096, 4096, PROT_NONE) != 0 ||
	    mprotect(page, 4096, PROT_NONE) != 0)
		exit(1);
}

/* What a program built with _FORTIFY_SOURCE calls for open() whose flags
 * are not known when it is compiled. */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dir, const char *path, int flags);
int __openat64_2(int dir, const char *path, int flags);
FILE *freopen64(const char *path, const char *mode, FILE *old);

NOINLINE FILE *reopened64(FILE *f)
{
	return freopen64("/dev/zero", "r", f);
}

/* Five descriptors through the fortified opens and shm_open(), and a
 * stream reopened by freopen64() (its site now the reopening's), all left
 * open. */
NOINLINE void leak_fortified_fds(void)
{
	char name[64];
	snprintf(name, sizeof(name), "/ward-leaks-%d", (int)getpid());
	int fds[5] = {
		__open_2("/dev/null", O_RDONLY),
		__open64_2("/dev/null", O_RDONLY),
		__openat_2(AT_FDCWD, "/dev/null", O_RDONLY),
		__openat64_2(AT_FDCWD, "/dev/null", O_RDONLY),
		shm_open(name, O_CREAT | O_RDWR, 0600),
	};
	shm_unlink(name);
	for (int i = 0; i < 5; i++)
		if (fds[i] < 0)
			exit(1);
	FILE *f = fopen("/dev/null", "r");
	if (!f || reopened64(f) != f)
		exit(1);
}

static pthread_barrier_t exit_together;

NOINLINE void *lost_before_two_exits(void)
{
	return malloc(76);
}

static void *exits_too(void *arg)
{
	pthread_barrier_wait(&exit_together);
	exit(3);
	return arg;
}

/* Two threads call exit() at once: the process ends once, with its
 * profile (glibc before 2.41 let the second end it under the first's exit
 * handlers, ward's among them). */
NOINLINE void leak_two_exits(void)
{
	pthread_t t;
	KEEP(lost_before_two_exits());
	if (pthread_barrier_init(&exit_together, NULL, 2) != 0 ||
	    pthread_create(&t, NULL, exits_too, NULL) != 0)
		exit(1);
	pthread_barrier_wait(&exit_together);
	exit(3);
}

NOINLINE void *lost_on_small_stack(void)
{
	return malloc(75);
}

/* Uses 512 bytes and more a frame, then allocates and formats. */
NOINLINE int use_stack(int frames)
{
	volatile char pad[512];
	pad[0] = (char)frames;
	if (frames > 0)
		return use_stack(frames - 1) + pad[0];
	KEEP(lost_on_small_stack());
	char line[64];
	return snprintf(line, sizeof(line), "%d %s", frames, "deep");
}

static void *small_stack_thread(void *arg)
{
	use_stack(8);
	return arg;
}

/* A thread made with the smallest stack there is (PTHREAD_STACK_MIN, 16
 * KiB), using a third of it: it runs as it does without ward, whose
 * thread-local storage glibc also carves from that stack. */
NOINLINE void leak_small_stack(void)
{
	pthread_attr_t a;
	pthread_t t;
	if (pthread_attr_init(&a) != 0 ||
	    pthread_attr_setstacksize(&a, PTHREAD_STACK_MIN) != 0 ||
	    pthread_create(&t, &a, small_stack_thread, NULL) != 0 ||
	    pthread_join(t, NULL) != 0)
		exit(1);
	pthread_attr_destroy(&a);
}

static void *asks_its_bounds_first(void *arg)
{
	pthread_attr_t a;
	if (pthread_getattr_np(pthread_self(), &a) != 0)
		exit(1);
	pthread_attr_destroy(&a);
	return arg;
}

/* A thread whose first allocation is inside pthread_getattr_np() (glibc
 * allocates there under the thread's lock), as runtimes check their stack
 * guard at thread start: it runs on. */
NOINLINE void leak_getattr_first(void)
{
	pthread_t t;
	if (pthread_create(&t, NULL, asks_its_bounds_first, NULL) != 0 ||
	    pthread_join(t, NULL) != 0)
		exit(1);
}

static _Atomic long churned;

NOINLINE void *churn_block(long i)
{
	return malloc(64 + 16 * (size_t)(i % 60));
}

/* Replaces the eight blocks it holds, one a round, until the scan stops
 * it: what it freed after exit() began is freed, not lost. */
static void *churn_forever(void *arg)
{
	void *volatile held[8];
	for (int k = 0; k < 8; k++)
		held[k] = churn_block(k);
	for (long i = 8;; i++) {
		void *next = churn_block(i);
		free(held[i % 8]);
		held[i % 8] = next;
		atomic_store(&churned, i);
	}
	return arg;
}

/* A thread still freeing while exit() reports: the blocks it frees before
 * the scan stops it leave the books; none is reported lost. */
NOINLINE void leak_exit_while_freeing(void)
{
	pthread_t t;
	if (pthread_create(&t, NULL, churn_forever, NULL) != 0)
		exit(1);
	while (atomic_load(&churned) < 10000)
		sched_yield();
	KEEP(malloc(74));
}

static void own_stop_handler(int sig)
{
	(void)sig;
}

/* The program's own action for the signal ward stops threads with, and a
 * second thread: the heap cannot be classified, and ward says why. */
NOINLINE void leak_own_stop_signal(void)
{
	pthread_t t;
	if (signal(SIGRTMAX - 1, own_stop_handler) == SIG_ERR ||
	    pthread_create(&t, NULL, sleep_forever, NULL) != 0)
		exit(1);
	KEEP(malloc(73));
}

/* The same, after the program closed its standard error and opened a file
 * of its own (argv[2]) in its place: ward's words stay out of that file. */
NOINLINE void leak_stderr_reused(const char *path)
{
	close(2);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd != 2 || write(fd, "the program's data\n", 19) != 19)
		exit(1);
	leak_own_stop_signal();
}

/* The program uses up its descriptors, a thread of it asleep: the profile
 * is still written, and the heap still told lost from reachable (the scan
 * lists and reads the threads and the memory map where a descriptor is
 * free). */
NOINLINE void leak_fdlimit(void)
{
	struct rlimit rl = { 64, 64 };
	int n = 0;
	pthread_t t;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0 ||
	    pthread_create(&t, NULL, sleep_forever, NULL) != 0)
		exit(1);
	/* Here, not in use_up_descriptors(): the descriptors' site. */
	while (open("/dev/null", O_RDONLY) >= 0)
		n++;
	held_at_fdlimit_ptr = held_at_fdlimit();
	KEEP(lost_at_fdlimit());
	printf("opened %d\n", n);
}

NOINLINE void leak_before_signal(void)
{
	for (int i = 0; i < 4; i++)
		KEEP(malloc(111));
}

/* Recurses until the stack overflows. */
NOINLINE int overflow(int depth)
{
	volatile char frame[1024];
	frame[0] = (char)depth;
	return overflow(depth + 1) + frame[0];
}

/* Leaks, then dies by a signal or an exit (how, by the argument). */
NOINLINE void leak_die(const char *how)
{
	leak_before_signal();
	fflush(stdout);
	if (strcmp(how, "term") == 0)
		kill(getpid(), SIGTERM);
	else if (strcmp(how, "segv") == 0)
		*(volatile int *)(uintptr_t)8 = 1;
	else if (strcmp(how, "abort") == 0)
		abort();
	else if (strcmp(how, "quick_exit") == 0)
		quick_exit(3);
	else if (strcmp(how, "overflow") == 0)
		KEEP(overflow(0));
	else if (strcmp(how, "raw_exit") == 0) /* no exit handlers run */
		kernel_call(SYS_exit_group, 5, 0, 0);
	else if (strcmp(how, "renamed_raw_exit") == 0) {
		prctl(PR_SET_NAME, "renamed", 0, 0, 0);
		kernel_call(SYS_exit_group, 5, 0, 0);
	}
	else if (strcmp(how, "_Exit") == 0)
		_Exit(3);
	else if (strcmp(how, "alarm") == 0)
		alarm(1); /* its default ends the program: a timeout's */
	else if (strcmp(how, "usr1") == 0)
		raise(SIGUSR1);
	else if (strcmp(how, "sys") == 0)
		raise(SIGSYS); /* as a seccomp filter's trap */
	else if (strcmp(how, "trap") == 0)
		__asm__ volatile("int3"); /* a breakpoint, no debugger */
	else if (strcmp(how, "xcpu") == 0) {
		struct rlimit rl = { 1, 5 }; /* a second of CPU time */
		setrlimit(RLIMIT_CPU, &rl);
		for (volatile unsigned long i = 0;; i++)
			;
	}
	pause();
}

/* Allocates in a loop until a signal ends it (for ward run forwarding
 * SIGTERM, and a signal arriving inside malloc); "spin threads": three
 * more threads do too, where a second copy of the signal can land. */
static void *spin_more(void *arg)
{
	for (;;)
		free(malloc(64));
	return arg;
}

NOINLINE void leak_spin(bool threads)
{
	leak_before_signal();
	for (int i = 0; threads && i < 3; i++) {
		pthread_t t;
		if (pthread_create(&t, NULL, spin_more, NULL) != 0)
			exit(1);
	}
	printf("spinning\n");
	fflush(stdout);
	for (;;)
		free(malloc(64));
}

/* "exit_busy": two million blocks kept, a thread churning malloc, then
 * exit(3) once the line "exiting" is out: the exit's report takes a
 * moment, in which a signal can come. */
void **exit_busy_kept;

NOINLINE void leak_exit_busy(void)
{
	enum { N = 2000000 };
	exit_busy_kept = malloc(N * sizeof(*exit_busy_kept));
	for (int i = 0; exit_busy_kept && i < N; i++)
		exit_busy_kept[i] = malloc(32);
	pthread_t t;
	if (pthread_create(&t, NULL, spin_more, NULL) != 0)
		exit(1);
	printf("exiting\n");
	fflush(stdout);
	exit(3);
}

/* What the program sees of the signals ward holds. */
NOINLINE void leak_sigquery(void)
{
	const int sigs[] = { SIGTERM, SIGINT,  SIGSEGV, SIGPIPE,
			     SIGALRM, SIGUSR1, SIGSYS,  SIGTRAP };
	for (int i = 0; i < 8; i++) {
		struct sigaction old;
		sigaction(sigs[i], NULL, &old);
		printf("%s ", old.sa_handler == SIG_DFL ? "dfl" : "other");
	}
	/* Set one, read it back. */
	signal(SIGTERM, SIG_IGN);
	struct sigaction now;
	sigaction(SIGTERM, NULL, &now);
	printf("%s ", now.sa_handler == SIG_IGN ? "ign" : "other");
	/* No alternate signal stack, and one set is read back. */
	stack_t ss;
	sigaltstack(NULL, &ss);
	printf("%s ", ss.ss_flags & SS_DISABLE ? "no-altstack" : "altstack");
	static char alt[65536];
	stack_t mine = { .ss_sp = alt, .ss_size = sizeof(alt) };
	sigaltstack(&mine, NULL);
	sigaltstack(NULL, &ss);
	printf("%s\n", ss.ss_sp == alt && !(ss.ss_flags & SS_DISABLE) ? "mine" : "other");
}

NOINLINE void leak_in_new_dir(void)
{
	KEEP(malloc(55));
}

/* Leaks after chdir(): the profile still lands where ward run was told. */
NOINLINE void leak_chdir(void)
{
	if (chdir("/") != 0)
		exit(1);
	leak_in_new_dir();
}

NOINLINE void leak_snapshot_seen_batch(void)
{
	for (int i = 0; i < 3; i++)
		KEEP(malloc(10));
}

/* Asks for a snapshot and waits for FILE.snap1 to appear while it still
 * runs (the name `ward diff` is given on a live server). */
NOINLINE void leak_snapshot_live(const char *file)
{
	char path[4096];
	leak_snapshot_seen_batch();
	snprintf(path, sizeof(path), "%s.snap1", file);
	raise(SIGUSR2);
	for (int i = 0; i < 300; i++) {
		if (access(path, F_OK) == 0) {
			printf("seen\n");
			return;
		}
		usleep(10000);
	}
	printf("not seen\n");
}

/* ---- The scan's rules, from valgrind's and LeakSanitizer's cases ----- */

/* A pointer only in this frame, which is dead once main returns:
 * definitely lost (the scan reads live frames only). */
NOINLINE void leak_stale(void)
{
	char *volatile copies[1024]; /* deep enough that exit() leaves some */
	char *p = malloc(77);
	for (int i = 0; i < 1024; i++)
		copies[i] = p;
	(void)copies;
}

/* A lost block whose address only a stdio buffer's unused bytes still
 * hold: memory freed after it held the address, then given to stdout's
 * buffer. Those bytes are stale, never data the program can reach the
 * block by: definitely lost, as valgrind says (it frees the buffer before
 * it counts). */
NOINLINE void stdio_fill(char *lost)
{
	char **scratch = malloc(BUFSIZ); /* stdout's buffer will take it */
	for (size_t i = 0; i < BUFSIZ / sizeof(*scratch); i++)
		scratch[i] = lost;
	KEEP(scratch);
	free(scratch);
}

NOINLINE void leak_stdio_stale(void)
{
	char *lost = malloc(99);
	KEEP(lost);
	stdio_fill(lost);
	printf("stdout's buffer taken\n");
	char *volatile clobber[256];
	for (int i = 0; i < 256; i++)
		clobber[i] = NULL;
	(void)clobber;
}

/* A block whose address only a forked child wrote into shared memory,
 * on a page this process never touched itself: still reachable (the page
 * is in the segment, though in no page table of this process's). */
NOINLINE void shared_by_child(void **shm)
{
	char *p = malloc(321);
	KEEP(p);
	pid_t child = fork();
	if (child == 0) {
		shm[100 * 512] = p;
		_exit(0);
	}
	waitpid(child, NULL, 0);
}

NOINLINE void leak_child_wrote(void)
{
	void **shm = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shm == MAP_FAILED)
		return;
	shared_by_child(shm);
	char *volatile clobber[256];
	for (int i = 0; i < 256; i++)
		clobber[i] = NULL;
	(void)clobber;
}

/*
 * Memory of which no page can be told touched or not: this process is not
 * dumpable (and, run by the suite, not root, under a seccomp filter that
 * leaves out mincore()), so neither /proc/self/pagemap nor mincore()
 * answers. Each block's address is left on one page of a mapping:
 *  - a SysV segment of 256 MiB (kept for the suite to read its resident
 *    size, its id printed): not read (reading it would allocate every
 *    page of it), the block lost;
 *  - 64 KiB of private memory, every page written: read, reachable;
 *  - a 16 MiB reservation, one page written: read (little to fault in),
 *    reachable;
 *  - a 1 GiB reservation, one page written: not read (a second's faults
 *    and more), the block lost.
 */
NOINLINE void untold_in_segment(void **at) { *at = malloc(401); }
NOINLINE void untold_in_written(void **at) { *at = malloc(402); }
NOINLINE void untold_in_small(void **at) { *at = malloc(403); }
NOINLINE void untold_in_reserved(void **at) { *at = malloc(404); }

/* A mapping of n bytes with a page no access can reach above it: the
 * kernel keeps it a mapping of its own, merged with no neighbour. */
static void **untold_map(size_t n, int flags)
{
	char *p = mmap(NULL, n + 4096, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (p == MAP_FAILED || mprotect(p + n, 4096, PROT_NONE) != 0)
		return MAP_FAILED;
	return (void **)p;
}

NOINLINE void leak_untold(void)
{
	prctl(PR_SET_DUMPABLE, 0);
	int id = shmget(IPC_PRIVATE, 256 << 20, IPC_CREAT | 0600);
	void **seg = id < 0 ? (void **)-1 : shmat(id, NULL, 0);
	size_t small = 16 << 20, big = (size_t)1 << 30;
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
	void **written = untold_map(64 << 10, flags);
	void **few = untold_map(small, flags);
	void **vast = untold_map(big, flags);
	if (seg == (void **)-1 || written == MAP_FAILED || few == MAP_FAILED ||
	    vast == MAP_FAILED) {
		perror("untold");
		exit(1);
	}
	memset(written, 1, 64 << 10);
	untold_in_segment(&seg[512]);
	untold_in_written(&written[1000]);
	untold_in_small(&few[small / 2 / sizeof(void *)]);
	untold_in_reserved(&vast[big / 2 / sizeof(void *)]);
	printf("segment %d\n", id);
	char *volatile clobber[256];
	for (int i = 0; i < 256; i++)
		clobber[i] = NULL;
	(void)clobber;
}

/* Three blocks of size 0: reported as 0 bytes. */
NOINLINE void leak_zero(void)
{
	for (int i = 0; i < 3; i++)
		KEEP(malloc(0));
}

/* Two blocks lost from one line, at two call addresses (what an unrolled
 * loop makes too): one row of the report, the two added up. */
NOINLINE void *one_line_block(size_t n)
{
	return malloc(n);
}

NOINLINE void leak_one_line(void)
{
	void *volatile a = one_line_block(10); void *volatile b = one_line_block(20);
	a = b = NULL;
}

/* C++'s new T[0] for a T with a destructor: an 8-byte block holding the
 * count 0, and only a pointer just past it kept. Still reachable. */
char *past_cookie;

NOINLINE void leak_new0(void)
{
	uintptr_t *cookie = malloc(sizeof(uintptr_t));
	*cookie = 0;
	past_cookie = (char *)(cookie + 1);
}

/* Another thread calls exit() while main holds a block in its TLS:
 * still reachable. */
__thread char *main_tls_kept;

NOINLINE void leak_main_tls(void)
{
	main_tls_kept = malloc(444);
}

static void *exits(void *arg)
{
	(void)arg;
	printf("done exit_thread\n");
	fflush(stdout);
	exit(0);
}

NOINLINE void leak_exit_thread(void)
{
	pthread_t t;
	leak_main_tls();
	pthread_create(&t, NULL, exits, NULL);
	pthread_join(t, NULL);
}

/* A value in a thread's pthread key past the first 32 (glibc keeps those
 * in a block it allocates per thread): still reachable. The program makes
 * its keys before any thread ward records in, as a server's libraries
 * do at start. */
static pthread_key_t many_keys[40];
static pthread_barrier_t keys_set;

NOINLINE void *held_in_key_39(void)
{
	return malloc(4242);
}

static void *keys_worker(void *arg)
{
	(void)arg;
	free(malloc(10)); /* the thread's first block */
	pthread_setspecific(many_keys[39], held_in_key_39());
	pthread_barrier_wait(&keys_set);
	for (;;)
		pause();
	return NULL;
}

NOINLINE void leak_keys(void)
{
	pthread_t t;
	for (int i = 0; i < 40; i++)
		pthread_key_create(&many_keys[i], NULL);
	pthread_barrier_init(&keys_set, NULL, 2);
	pthread_create(&t, NULL, keys_worker, NULL);
	pthread_barrier_wait(&keys_set);
}

/* A server's signal thread: every signal blocked in every thread, one
 * thread taking them with sigwait(). ward's stop signal must never reach
 * the program through it, and the heap is still classified: the block
 * on the waiter's stack is reachable, the one dropped is lost. */
static pthread_barrier_t waiting;

NOINLINE void *held_on_waiter_stack(void)
{
	return malloc(99);
}

NOINLINE void *dropped_by_main(void)
{
	return malloc(55);
}

static void *signal_waiter(void *arg)
{
	(void)arg;
	void *volatile mine = held_on_waiter_stack();
	sigset_t all;
	sigfillset(&all);
	pthread_barrier_wait(&waiting);
	for (;;) {
		int sig = 0;
		sigwait(&all, &sig);
		printf("the program got signal %d\n", sig);
		fflush(stdout);
	}
	return (void *)mine;
}

NOINLINE void *held_while_spinning(void)
{
	return malloc(77);
}

/* A thread that blocks every signal and never sleeps: its registers
 * cannot be read and its stack is read whole; the rest of the heap is
 * classified. */
static void *spins_masked(void *arg)
{
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	void *volatile held = held_while_spinning();
	atomic_store((atomic_int *)arg, 1);
	for (;;)
		__asm__ volatile("pause" ::: "memory");
	KEEP(held);
	return NULL;
}

NOINLINE void *dropped_while_one_spins(void)
{
	return malloc(66);
}

NOINLINE void leak_masked_busy(void)
{
	static atomic_int started;
	pthread_t t;
	pthread_create(&t, NULL, spins_masked, &started);
	while (!atomic_load(&started))
		usleep(1000);
	void *volatile dropped = dropped_while_one_spins();
	dropped = NULL;
}

/* keep: main keeps its block too, and nothing is lost. */
NOINLINE void leak_sigwait(bool keep)
{
	static void *volatile kept;
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_barrier_init(&waiting, NULL, 2);
	pthread_t t;
	pthread_create(&t, NULL, signal_waiter, NULL);
	pthread_barrier_wait(&waiting);
	void *volatile dropped = dropped_by_main();
	if (keep)
		kept = dropped;
	dropped = NULL;
	usleep(50 * 1000); /* into sigwait */
}

/* Blocks a program keeps in memory it mapped itself (an arena of its own
 * allocator, or another runtime's): still reachable. */
NOINLINE void *held_in_own_arena(void)
{
	return malloc(123);
}

NOINLINE void leak_own_arena(void)
{
	void **arena = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (arena == MAP_FAILED)
		exit(1);
	for (int i = 0; i < 5; i++)
		arena[1000 + i * 100] = held_in_own_arena();
}

/* The same arena mapped right after ward's own zero-filled data, where
 * the kernel makes the two one mapping (one line of /proc/self/maps):
 * still the program's, still a root. Exits 3 when ward's library is not
 * loaded, 4 when the place is taken. */
NOINLINE void *held_by_bss_arena(void)
{
	return malloc(123);
}

static int ward_end(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	if (!strstr(info->dlpi_name, "libward_preload"))
		return 0;
	uintptr_t end = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t e = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
		if (ph->p_type == PT_LOAD && e > end)
			end = e;
	}
	*(uintptr_t *)arg = (end + 4095) & ~(uintptr_t)4095;
	return 1;
}

NOINLINE void leak_arena_by_bss(void)
{
	uintptr_t end = 0;
	dl_iterate_phdr(ward_end, &end);
	if (!end)
		exit(3);
	/* One page: the next library may begin a page after ward's data. */
	void **arena = mmap((void *)end, 4096, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
			    -1, 0);
	if (arena != (void **)end)
		exit(4);
	for (int i = 0; i < 5; i++)
		arena[100 + i * 80] = held_by_bss_arena();
}

/* Blocks only shared memory the program mapped points to: shared
 * anonymous memory, a memfd, a POSIX and a System V segment, each still
 * the program's memory (valgrind: still reachable). The memfd's file is
 * cut to one page after it was written: reading the rest in place would
 * raise SIGBUS. */
NOINLINE void *held_in_shared_memory(size_t size)
{
	return malloc(size);
}

NOINLINE void leak_shared_arenas(void)
{
	enum { LEN = 64 << 10 };
	void **anon = mmap(NULL, LEN, PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int mfd = memfd_create("arena", MFD_CLOEXEC);
	char name[64]; /* one per process: suites may run side by side */
	snprintf(name, sizeof(name), "/ward-leaks-arena.%d", (int)getpid());
	int pfd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
	shm_unlink(name);
	int sid = shmget(IPC_PRIVATE, LEN, IPC_CREAT | 0600);
	if (anon == MAP_FAILED || mfd < 0 || pfd < 0 || sid < 0 ||
	    ftruncate(mfd, LEN) < 0 || ftruncate(pfd, LEN) < 0)
		exit(3);
	void **mem = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	void **posix = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, pfd,
			    0);
	void **sysv = shmat(sid, NULL, 0);
	shmctl(sid, IPC_RMID, NULL); /* gone once detached */
	if (mem == MAP_FAILED || posix == MAP_FAILED || sysv == (void *)-1)
		exit(3);
	memset(mem, 0, LEN);
	/* A size each, so a row of the report names its segment. */
	anon[100] = held_in_shared_memory(77);
	mem[100] = held_in_shared_memory(78);
	posix[100] = held_in_shared_memory(79);
	sysv[100] = held_in_shared_memory(80);
	if (ftruncate(mfd, 4096) < 0)
		exit(3);
}

/* A block only a JIT's memory holds: an anonymous mapping writable and
 * executable, as the JVM's code cache is (valgrind: still reachable). */
NOINLINE void *held_in_jit_memory(void)
{
	return malloc(91);
}

NOINLINE void leak_jit_memory(void)
{
	void **code = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE | PROT_EXEC,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (code == MAP_FAILED)
		exit(3);
	code[100] = held_in_jit_memory();
}

/* Blocks only a file's private, writable mapping holds, in a page the
 * program wrote (the JVM's class-data archive is such a mapping; so is
 * /dev/zero mapped private): valgrind says still reachable. */
NOINLINE void *held_in_file_copy(void)
{
	return malloc(93);
}

NOINLINE void leak_file_copy(void)
{
	char path[] = "/tmp/ward-leaks-copy-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0 || ftruncate(fd, 1 << 16) < 0)
		exit(3);
	unlink(path);
	void **copy = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE,
			   fd, 0);
	close(fd);
	if (copy == MAP_FAILED)
		exit(3);
	copy[4096 / sizeof(void *) + 100] = held_in_file_copy();
	/* Memory the old way, /dev/zero mapped private: its pages are the
	 * program's once written. */
	int zero = open("/dev/zero", O_RDWR);
	void **mem = zero < 0 ? MAP_FAILED
			      : mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE,
				     MAP_PRIVATE, zero, 0);
	if (mem == MAP_FAILED)
		exit(3);
	close(zero);
	mem[100] = held_in_file_copy();
}

/* A buffer only the C library's own data holds: the program gives it to
 * stdout (setvbuf) and drops its pointer; stdout's FILE, in libc's data,
 * still names it at exit. */
NOINLINE void *held_by_libc(void)
{
	return malloc(4096);
}

NOINLINE void leak_libc_held(void)
{
	if (setvbuf(stdout, held_by_libc(), _IOFBF, 4096) != 0)
		exit(3);
}

/* A sandbox as strict as OpenSSH's: a seccomp filter that kills the
 * process for any call but the few it needs to print and end. how:
 * "prctl" or "syscall" (libseccomp's way) installs it; "segv" then
 * faults, which must end the program by SIGSEGV as it would alone;
 * "exit" ends its only thread by syscall(SYS_exit). */
#define ALLOW(nr) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), \
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)

NOINLINE void leak_sandbox(const char *how)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		ALLOW(__NR_write), ALLOW(__NR_exit_group), ALLOW(__NR_exit),
		ALLOW(__NR_rt_sigreturn), ALLOW(__NR_brk), ALLOW(__NR_mmap),
		ALLOW(__NR_munmap), ALLOW(__NR_futex), ALLOW(__NR_newfstatat),
		ALLOW(__NR_fstat),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };
	KEEP(malloc(100));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		exit(3);
	int rc = strcmp(how, "syscall") == 0
			 ? (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0,
					&prog)
			 : prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
	if (rc != 0)
		exit(3);
	KEEP(malloc(50)); /* the allocator still serves */
	if (strcmp(how, "segv") == 0)
		*(volatile int *)8 = 1;
	if (strcmp(how, "exit") == 0) { /* its only thread ends by number */
		printf("done sandbox\n");
		fflush(stdout);
		syscall(SYS_exit, 0);
	}
}

/* A large block (glibc maps it on its own) lost with pointers past its
 * first page: what only it points to is indirectly lost, as valgrind
 * says, however many pages into it the pointers lie. */
NOINLINE void *held_by_big_table(void)
{
	return malloc(48);
}

NOINLINE void **leak_big_table(void)
{
	return calloc(1 << 16, sizeof(void *)); /* 512 KiB */
}

NOINLINE void leak_big_lost(void)
{
	void **volatile t = leak_big_table();
	for (int i = 0; i < 10; i++)
		t[4096 + i * 6000] = held_by_big_table();
	t = NULL;
}

/* Large blocks that hold the only pointers to others, deep inside them,
 * in a chain a global holds and in one nothing holds: whatever order the
 * scan reads large blocks in, each is found as it is. */
void **volatile large_chain_kept;

NOINLINE void *large_held_small(void)
{
	return malloc(40);
}

NOINLINE void **large_link(size_t bytes)
{
	return calloc(bytes / sizeof(void *), sizeof(void *));
}

/* A chain of n large blocks of growing sizes, each holding the next and a
 * small block near its end. */
static void **large_chain(int n)
{
	void **head = NULL;
	for (int i = n; i-- > 0;) {
		size_t bytes = ((size_t)64 << 10) + (size_t)i * (96 << 10);
		void **b = large_link(bytes);
		size_t words = bytes / sizeof(void *);
		b[words / 2] = head;
		b[words - 3] = large_held_small();
		head = b;
	}
	return head;
}

NOINLINE void leak_large_chains(void)
{
	large_chain_kept = large_chain(12);
	void **volatile lost = large_chain(8);
	lost = NULL;
}

/* Lost blocks whose last 8 bytes hold the next chunk's header, glibc's
 * top chunk or a free chunk its main arena names (sizes 8 past a multiple
 * of 16): definitely lost, as valgrind says; the arena is no root. Exits
 * 4 when the blocks did not land where the case needs them. */
void *volatile arena_guard;

NOINLINE void *lost_before_top(void)
{
	return malloc(100008);
}

NOINLINE void *lost_before_free_chunk(void)
{
	return malloc(104);
}

NOINLINE void leak_arena_neighbours(void)
{
	/* Standard output's buffer now, not from the top chunk after. */
	printf("arena neighbours\n");
	fflush(stdout);
	char *volatile b = lost_before_free_chunk();
	char *big = malloc(3000); /* past the tcache: freed into a bin */
	arena_guard = malloc(40); /* keeps it from the top chunk */
	if (big != b + 112)
		exit(4);
	free(big);
	b = NULL;
	/* The last block taken from the top chunk: its header is a's last
	 * 8 bytes. */
	char *volatile a = lost_before_top();
	const size_t *top = (const size_t *)(a + 100000);
	if ((char *)top + (top[1] & ~(size_t)7) != (char *)sbrk(0))
		exit(4);
	a = NULL;
}

/* A lost cycle of three, one of them pointing to a fourth block: one of
 * the cycle definitely lost (its head, as valgrind picks a clique's
 * leader), the rest indirectly. */
NOINLINE void **cycle_node(void)
{
	return calloc(4, sizeof(void *)); /* 32 bytes */
}

NOINLINE void *cycle_tail(void)
{
	return calloc(1, 48);
}

NOINLINE void leak_cycle(void)
{
	void **volatile a = cycle_node();
	void **b = cycle_node(), **c = cycle_node();
	a[0] = b;
	b[0] = c;
	c[0] = a;
	c[1] = cycle_tail();
	KEEP(b);
	KEEP(c);
	a = NULL;
}

/* A thread asleep in sleep() at exit, the only holder of a block (on its
 * stack), which ends as soon as its sleep is cut short: the block is
 * still reachable, and the thread shown blocked in its sleep. */
static pthread_barrier_t sleeper_ready;
static atomic_int sleeper_tid;

NOINLINE void *held_by_sleeper(void)
{
	return malloc(222);
}

static void *sleeper(void *arg)
{
	void *volatile held = held_by_sleeper();
	atomic_store(&sleeper_tid, (int)syscall(SYS_gettid));
	pthread_barrier_wait(&sleeper_ready);
	sleep(100); /* a signal cuts it short: the thread ends */
	(void)held;
	return arg;
}

NOINLINE void leak_sleeper(void)
{
	pthread_t t;
	char path[64], line[64] = "";
	pthread_barrier_init(&sleeper_ready, NULL, 2);
	if (pthread_create(&t, NULL, sleeper, NULL) != 0)
		exit(1);
	pthread_barrier_wait(&sleeper_ready);
	/* Until it sleeps in clock_nanosleep (up to 5 s). */
	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall",
		 atomic_load(&sleeper_tid));
	for (int i = 0; i < 500; i++) {
		FILE *f = fopen(path, "r");
		bool asleep = f && fgets(line, sizeof(line), f) &&
			      atoi(line) == SYS_clock_nanosleep;
		if (f)
			fclose(f);
		if (asleep)
			return;
		usleep(10000);
	}
	exit(4);
}

/* Descriptors closed by system calls of the program's own, made without
 * the C library (kernel_call()), which no wrapper sees (a raw close,
 * close_range): no leak; one kept open is. */
NOINLINE int fd_closed_raw(void)
{
	return open("/dev/null", O_RDONLY);
}

NOINLINE int fd_kept_open(void)
{
	return open("/dev/null", O_RDONLY);
}

NOINLINE void leak_raw_close(void)
{
	int a = fd_closed_raw(), b = fd_closed_raw(), c = fd_closed_raw();
	int kept = fd_kept_open();
	if (a < 0 || b < 0 || c != b + 1 || kept < 0)
		exit(4);
	kernel_call(SYS_close, a, 0, 0);
	kernel_call(SYS_close_range, b, c, 0);
	KEEP(kept);
}

/* Descriptors opened without the C library (kernel_call()): two kept,
 * one closed with close(); a stream and a directory kept, whose
 * descriptors are theirs; then a forked child, whose copies of them are
 * the parent's. */
NOINLINE void leak_unseen_fds(void)
{
	KEEP(fopen("/dev/zero", "r"));
	KEEP(opendir("/"));
	long a = kernel_call(SYS_openat, AT_FDCWD, (long)"/dev/null", O_RDONLY);
	long b = kernel_call(SYS_openat, AT_FDCWD, (long)"/dev/null", O_RDONLY);
	long c = kernel_call(SYS_openat, AT_FDCWD, (long)"/dev/null", O_RDONLY);
	if (a < 0 || b < 0 || c < 0 || close((int)c) != 0)
		exit(4);
	pid_t pid = fork();
	if (pid == 0)
		exit(0);
	if (pid < 0 || waitpid(pid, NULL, 0) != pid)
		exit(4);
}

/* Descriptors opened without the C library until none is left (a limit
 * of 64): every one a leak, found though no descriptor is free at exit.
 * How many it opened is printed. */
NOINLINE void leak_unseen_fdlimit(void)
{
	struct rlimit rl = { 64, 64 };
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		exit(1);
	int n = 0;
	while (kernel_call(SYS_openat, AT_FDCWD, (long)"/dev/null",
			   O_RDONLY) >= 0)
		n++;
	printf("opened %d\n", n);
}

/* LeakSanitizer's annotations (sanitizer/lsan_interface.h), which ward's
 * library provides: declared weak, as a program that calls them only
 * where a leak checker is there. An ignored block and one allocated
 * under __lsan_disable() are no leak, and what they point to is
 * reachable; a block nothing holds is lost. "check": the report written
 * at __lsan_do_leak_check(), none at exit (what follows is not in it). */
void __lsan_ignore_object(const void *p) __attribute__((weak));
void __lsan_disable(void) __attribute__((weak));
void __lsan_enable(void) __attribute__((weak));
void __lsan_do_leak_check(void) __attribute__((weak));

NOINLINE void **lsan_ignored(void)
{
	return malloc(sizeof(void *));
}

NOINLINE void *lsan_held_by_ignored(void)
{
	return malloc(666);
}

NOINLINE void **lsan_disabled(void)
{
	__lsan_disable();
	void **p = malloc(sizeof(void *));
	__lsan_enable();
	return p;
}

NOINLINE void *lsan_held_by_disabled(void)
{
	return malloc(777);
}

NOINLINE void *lsan_lost(void)
{
	return malloc(1337);
}

NOINLINE void *lsan_after_check(void)
{
	return malloc(55);
}

NOINLINE void leak_lsan(bool check)
{
	if (!__lsan_ignore_object || !__lsan_disable || !__lsan_enable ||
	    !__lsan_do_leak_check)
		exit(5);
	void **p = lsan_ignored();
	*p = lsan_held_by_ignored();
	__lsan_ignore_object(p);
	void **q = lsan_disabled();
	*q = lsan_held_by_disabled();
	KEEP(lsan_lost());
	if (check) {
		__lsan_do_leak_check();
		KEEP(lsan_after_check());
	}
}

/* The suppressions a program gives LeakSanitizer for itself, and its
 * leak check turned off, which ward asks at exit too: defined here for
 * every scenario, as a program does, and giving nothing unless the
 * scenario says ("lsan_own": one site suppressed, another kept; "bad": a
 * list that does not parse, left out; "lsan_off": the check off). */
static const char *own_suppressions;
static int turned_off;

const char *__lsan_default_suppressions(void);
int __lsan_is_turned_off(void);

const char *__lsan_default_suppressions(void)
{
	return own_suppressions;
}

int __lsan_is_turned_off(void)
{
	return turned_off;
}

NOINLINE void *lsan_own_suppressed(void)
{
	return malloc(666);
}

NOINLINE void *lsan_own_kept(void)
{
	return malloc(1337);
}

NOINLINE void leak_lsan_own(bool bad)
{
	own_suppressions = bad ? "leak:lsan_own_suppressed\nlesk:typo\n"
			       : "# the program's own\n"
				 "leak:lsan_own_suppressed\n";
	KEEP(lsan_own_suppressed());
	KEEP(lsan_own_kept());
}

NOINLINE void leak_lsan_off(bool off)
{
	turned_off = off;
	KEEP(lsan_own_kept());
}

/* __lsan_do_recoverable_leak_check(), as LeakSanitizer's own test asks
 * it: nothing lost while a global holds the first block; the block a
 * callee dropped, once allocated; both, once the global lets go. Each
 * check writes its profile; the exit's report still comes. */
int __lsan_do_recoverable_leak_check(void) __attribute__((weak));
static void *volatile recoverable_held;

NOINLINE void *recoverable_first(void)
{
	return malloc(23);
}

NOINLINE void *recoverable_dropped(void)
{
	return malloc(1337);
}

NOINLINE void drop_one(void)
{
	KEEP(recoverable_dropped());
}

NOINLINE void leak_lsan_recoverable(void)
{
	if (!__lsan_do_recoverable_leak_check)
		exit(5);
	recoverable_held = recoverable_first();
	int a = __lsan_do_recoverable_leak_check();
	drop_one();
	int b = __lsan_do_recoverable_leak_check();
	recoverable_held = NULL;
	int c = __lsan_do_recoverable_leak_check();
	printf("recoverable %d %d %d\n", a, b, c);
}

/* A thread that checks for leaks in a loop while main sleeps 300 ms with
 * usleep(), which asks for no time left: each check stops main, and main
 * still wakes when its time is up (before, each stop sent it back to
 * sleep its whole 300 ms again, and it never woke). */
static void *check_forever(void *arg)
{
	(void)arg;
	for (;;)
		__lsan_do_recoverable_leak_check();
	return NULL;
}

NOINLINE void leak_lsan_check_loop(void)
{
	if (!__lsan_do_recoverable_leak_check)
		exit(5);
	for (int i = 0; i < 20000; i++)
		KEEP(malloc(16));
	pthread_t t;
	if (pthread_create(&t, NULL, check_forever, NULL) != 0)
		exit(6);
	usleep(300000);
	puts("woke");
	fflush(stdout);
	exit(0);
}

/* Children that share the program's memory, a vfork() one and a
 * clone(CLONE_VM | CLONE_VFORK) one: each points descriptor 0 elsewhere,
 * opens one of its own, closes the parent's two and then everything above
 * 2 (as Python's subprocess module does in its vfork() child), and execs
 * /bin/true, or _exit()s. A child's descriptor table is a copy: the
 * parent's two stay open, its leaks; nothing a child did is. */
NOINLINE int kept_across_vfork(void)
{
	return open("/dev/null", O_RDONLY);
}

NOINLINE int opened_in_vfork_child(void)
{
	return open("/dev/null", O_RDONLY);
}

struct vfork_job {
	int a, b;
	bool exec;
};

static NOINLINE int in_vfork_child(void *arg)
{
	const struct vfork_job *j = arg;
	dup2(j->a, 0);
	KEEP(opened_in_vfork_child());
	close(j->b);
	close_range(3, ~0U, 0);
	if (j->exec)
		execl("/bin/true", "true", (char *)NULL);
	_exit(7);
}

NOINLINE void leak_vfork_fds(bool exec)
{
	static char stack[64 * 1024] __attribute__((aligned(16)));
	struct vfork_job j = { kept_across_vfork(), kept_across_vfork(), exec };
	for (int i = 0; i < 2; i++) {
		pid_t p = i == 0 ? vfork()
				 : clone(in_vfork_child, stack + sizeof(stack),
					 CLONE_VM | CLONE_VFORK | SIGCHLD, &j);
		if (p == 0)
			in_vfork_child(&j);
		int st;
		if (p < 0 || waitpid(p, &st, 0) != p || !WIFEXITED(st))
			exit(4);
		printf("child %d: status %d\n", i, WEXITSTATUS(st));
	}
	KEEP(j.a);
}

/* Children forked without the fork handlers, by _Fork() and by a clone
 * system call, while three threads allocate and open: each child opens,
 * duplicates and closes a descriptor (calls safe there) and _exit()s.
 * Such a child could wait for good on a lock of ward's another thread
 * held at the fork; alarm() ends one that does. The parent's books go
 * on: its block after the children is its leak. */
static atomic_bool raw_fork_done;

static void *raw_fork_churn(void *arg)
{
	while (!atomic_load_explicit(&raw_fork_done, memory_order_relaxed)) {
		void *volatile p = malloc(64);
		free(p);
		int fd = open("/dev/null", O_RDONLY);
		close(fd);
	}
	return arg;
}

NOINLINE void leak_after_raw_fork(void)
{
	KEEP(malloc(17));
}

NOINLINE void leak_raw_fork(int children)
{
	pthread_t t[3];
	for (int i = 0; i < 3; i++)
		if (pthread_create(&t[i], NULL, raw_fork_churn, NULL) != 0)
			exit(4);
	int stuck = 0;
	for (int i = 0; i < children; i++) {
		pid_t pid = i & 1 ? _Fork()
				  : (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
		if (pid == 0) {
			alarm(5);
			int fd = open("/dev/null", O_RDONLY);
			dup2(fd, 0);
			close(fd);
			_exit(0);
		}
		int st;
		if (pid < 0 || waitpid(pid, &st, 0) != pid)
			exit(5);
		stuck += !WIFEXITED(st) || WEXITSTATUS(st) != 0;
	}
	atomic_store(&raw_fork_done, true);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	printf("raw forks: %d of %d children stuck\n", stuck, children);
	leak_after_raw_fork();
}

/* A program that locks its memory to come, and with "current" all it has
 * too (mlockall(), as chronyd -m does), then leaks a block. */
NOINLINE void leak_mlocked(bool current)
{
	if (mlockall(MCL_FUTURE | (current ? MCL_CURRENT : 0)) != 0) {
		printf("mlockall: %s\n", strerror(errno));
		exit(5);
	}
	KEEP(malloc(23));
}

/* A program that restricts its own access to files (Landlock: no file
 * written, made or removed from then on), as a sandboxed parser does,
 * then leaks a block. */
NOINLINE void leak_landlock(void)
{
	KEEP(malloc(19));
	struct landlock_ruleset_attr attr = {
		.handled_access_fs = LANDLOCK_ACCESS_FS_WRITE_FILE |
				     LANDLOCK_ACCESS_FS_MAKE_REG |
				     LANDLOCK_ACCESS_FS_REMOVE_FILE,
	};
	long rs = syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (rs < 0) {
		printf("landlock: %s\n", strerror(errno));
		exit(5);
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    syscall(SYS_landlock_restrict_self, rs, 0) != 0) {
		printf("landlock: %s\n", strerror(errno));
		exit(5);
	}
	printf("restricted\n");
}

/* Descriptors from the calls whose descriptors the C library opens out
 * of the interposers' sight (getpt, openpty's pair) and from its newer
 * wrappers: pidfd_open and pidfd_getfd, mq_open; as root fanotify_init,
 * fsopen, and open_by_handle_at (with the directory it names from). A
 * message queue closed with mq_close() is no leak. How many it opened is
 * printed: every one is a leak. */
NOINLINE int more_fds_opened(void)
{
	int n = 0, master, slave;
	n += getpt() >= 0;
	if (openpty(&master, &slave, NULL, NULL, NULL) == 0)
		n += 2;
	int pidfd = pidfd_open(getpid(), 0);
	if (pidfd >= 0)
		n += 1 + (pidfd_getfd(pidfd, 1, 0) >= 0);
	char name[64];
	snprintf(name, sizeof(name), "/ward-more-fds-%d", (int)getpid());
	mqd_t q = mq_open(name, O_CREAT | O_RDWR, 0600, NULL);
	if (q != (mqd_t)-1) {
		n++;
		mqd_t closed = mq_open(name, O_RDWR);
		if (closed == (mqd_t)-1 || mq_close(closed) != 0)
			n += 1000; /* the check fails */
		mq_unlink(name);
	}
	n += fanotify_init(FAN_CLASS_NOTIF, O_RDONLY) >= 0;
	n += fsopen("tmpfs", 0) >= 0;
	struct {
		struct file_handle h;
		unsigned char bytes[MAX_HANDLE_SZ];
	} fh = { .h.handle_bytes = MAX_HANDLE_SZ };
	int mount_id, root = open("/", O_RDONLY | O_DIRECTORY);
	if (root >= 0) {
		n++;
		if (name_to_handle_at(AT_FDCWD, "/etc", &fh.h, &mount_id, 0) == 0)
			n += open_by_handle_at(root, &fh.h, O_RDONLY) >= 0;
	}
	return n;
}

/* The mount table's stream kept, and one closed with endmntent(). */
NOINLINE FILE *mount_table_kept(void)
{
	return setmntent("/proc/self/mounts", "r");
}

NOINLINE void mount_table_closed(void)
{
	FILE *f = setmntent("/proc/self/mounts", "r");
	if (!f || endmntent(f) != 1)
		exit(4);
}

NOINLINE void leak_more_fds(void)
{
	printf("opened %d\n", more_fds_opened());
	KEEP(mount_table_kept());
	mount_table_closed();
}

/* Descriptors made and closed by number, through syscall(): nine kept
 * (openat, pipe2's two, socketpair's two, eventfd2, dup, fcntl's
 * F_DUPFD_CLOEXEC, memfd_create), one put in place of a kept one with
 * dup3 (still nine), and three let go again (closed by number, one of
 * them opened with open(); close_range). */
NOINLINE void raw_fds_opened(void)
{
	int p[2], sv[2];
	long kept = syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDONLY);
	if (kept < 0 || syscall(SYS_pipe2, p, O_CLOEXEC) != 0 ||
	    syscall(SYS_socketpair, AF_UNIX, SOCK_STREAM, 0, sv) != 0 ||
	    syscall(SYS_eventfd2, 0, 0) < 0 || syscall(SYS_dup, kept) < 0 ||
	    syscall(SYS_fcntl, kept, F_DUPFD_CLOEXEC, 100) < 0 ||
	    syscall(SYS_memfd_create, "ward-raw", 0) < 0 ||
	    syscall(SYS_dup3, p[0], sv[0], 0) != sv[0])
		exit(4);
	long a = syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDONLY);
	int b = open("/dev/null", O_RDONLY);
	long c = syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDONLY);
	if (a < 0 || b < 0 || c < 0 || syscall(SYS_close, a) != 0 ||
	    syscall(SYS_close, b) != 0 ||
	    syscall(SYS_close_range, c, c, 0) != 0)
		exit(4);
}

NOINLINE FILE *std_reopened(void)
{
	close(0);
	int in = open("/dev/null", O_RDONLY); /* descriptor 0 again */
	int out = dup(1);
	dup2(in, 2);
	dup2(out, 2); /* stderr back where it was */
	close(out);
	return freopen("/dev/null", "w", stdout);
}

NOINLINE int std_then_real(void)
{
	return open("/dev/null", O_RDONLY);
}

/* A daemon's idiom: the standard descriptors and streams pointed
 * elsewhere by close/open, dup2 and freopen are no leak; the one
 * descriptor opened besides them is. */
NOINLINE void leak_daemon(void)
{
	if (!std_reopened())
		exit(4);
	KEEP(std_then_real());
}

/* The threads of this process, from /proc/self/status; -1 unread. */
static long threads_now(void)
{
	char line[256];
	long n = -1;
	FILE *st = fopen("/proc/self/status", "r");
	while (st && fgets(line, sizeof(line), st))
		if (strncmp(line, "Threads:", 8) == 0)
			n = strtol(line + 8, NULL, 10);
	if (st)
		fclose(st);
	return n;
}

/* Until this process has at most n threads (at most ten seconds): a
 * thread gone from the kernel has run its keys' destructors. */
static void wait_threads_down_to(long n)
{
	for (int i = 0; i < 10000 && threads_now() > n; i++)
		usleep(1000);
}

static void *ends_now(void *arg)
{
	return arg;
}

static int ends_now_c11(void *arg)
{
	(void)arg;
	return 0;
}

NOINLINE pthread_t started_joinable(void)
{
	pthread_t t;
	if (pthread_create(&t, NULL, ends_now, NULL) != 0)
		exit(4);
	return t;
}

NOINLINE thrd_t started_c11(void)
{
	thrd_t t;
	if (thrd_create(&t, ends_now_c11, NULL) != thrd_success)
		exit(4);
	return t;
}

/* Threads joined or detached by every call there is for it are no leak;
 * a C11 thread never joined is one. */
NOINLINE void leak_joins(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += 10;
	if (pthread_timedjoin_np(started_joinable(), NULL, &t) != 0)
		exit(5);
	pthread_t th = started_joinable();
	while (pthread_tryjoin_np(th, NULL) != 0)
		usleep(1000);
	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += 10;
	if (pthread_clockjoin_np(started_joinable(), NULL, CLOCK_MONOTONIC,
				 &t) != 0)
		exit(5);
	if (thrd_join(started_c11(), NULL) != thrd_success ||
	    thrd_detach(started_c11()) != thrd_success)
		exit(5);
	/* the detached one ended: no longer on the books */
	wait_threads_down_to(1);
	KEEP(started_c11());
}

static int let_go_pipe[2];
static pthread_mutex_t let_go_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t let_go_never = PTHREAD_COND_INITIALIZER;

static void *reads_let_go_pipe(void *arg)
{
	char c;
	(void)arg;
	if (read(let_go_pipe[0], &c, 1) < 0) /* never returns before exit */
		return NULL;
	return arg;
}

static void *waits_for_nothing(void *arg)
{
	pthread_mutex_lock(&let_go_lock);
	for (;;)
		pthread_cond_wait(&let_go_never, &let_go_lock);
	return arg;
}

static pthread_attr_t detached_attrs;
static pthread_once_t detached_attrs_once = PTHREAD_ONCE_INIT;

static void make_detached_attrs(void)
{
	if (pthread_attr_init(&detached_attrs) != 0 ||
	    pthread_attr_setdetachstate(&detached_attrs,
					PTHREAD_CREATE_DETACHED) != 0)
		exit(4);
}

/* Attributes that create a thread detached. */
static const pthread_attr_t *detached_attr(void)
{
	pthread_once(&detached_attrs_once, make_detached_attrs);
	return &detached_attrs;
}

NOINLINE void started_detached(void)
{
	pthread_t t;
	if (pthread_create(&t, detached_attr(), reads_let_go_pipe, NULL) != 0)
		exit(4);
}

NOINLINE void detached_after_start(void)
{
	pthread_t t;
	if (pthread_create(&t, NULL, waits_for_nothing, NULL) != 0 ||
	    pthread_detach(t) != 0)
		exit(4);
}

NOINLINE void started_unjoined(void)
{
	pthread_t t;
	if (pthread_create(&t, NULL, reads_let_go_pipe, NULL) != 0)
		exit(4);
}

static void *detaches_itself(void *arg)
{
	pthread_detach(pthread_self());
	return arg;
}

NOINLINE void detached_and_ended(void)
{
	pthread_t t;
	for (int i = 0; i < 50; i++)
		if (pthread_create(&t, detached_attr(), ends_now, NULL) != 0)
			exit(4);
	/* detached by themselves, most before their creator's call returns */
	for (int i = 0; i < 100; i++)
		if (pthread_create(&t, NULL, detaches_itself, NULL) != 0)
			exit(4);
	/* ended before it was detached, and detached before it ended */
	if (pthread_create(&t, NULL, ends_now, NULL) != 0)
		exit(4);
	wait_threads_down_to(1);
	if (pthread_detach(t) != 0)
		exit(4);
	thrd_t c;
	if (thrd_create(&c, ends_now_c11, NULL) != thrd_success ||
	    thrd_detach(c) != thrd_success)
		exit(4);
	wait_threads_down_to(1);
}

/* "detached": threads let go. Detached threads still running at exit
 * (one created detached, blocked on a pipe nobody writes; one detached
 * after it started, waiting on a condition nobody signals) are still
 * reachable, each shown where it is blocked; detached threads that
 * ended, in either order, are on no books; a joinable thread nobody
 * joined, blocked too, is a leak. */
NOINLINE void leak_detached(bool snap)
{
	if (pipe(let_go_pipe) != 0)
		exit(4);
	detached_and_ended();
	started_detached();
	detached_after_start();
	started_unjoined();
	usleep(20000); /* each at its wait */
	if (snap) { /* and a snapshot now, mid-run (up to 5 s for it) */
		const char *out = getenv("WARD_OUTPUT");
		char path[4096];
		snprintf(path, sizeof(path), "%s.snap1", out ? out : "");
		raise(SIGUSR2);
		for (int i = 0; i < 500 && access(path, F_OK) != 0; i++)
			usleep(10000);
	}
}

/* "detach_churn": four threads each start a thousand detached threads
 * and a thousand joinable ones, joining half of those and detaching the
 * rest, while the ones before end and their handles are reused: once all
 * have ended, none is on the books. */
NOINLINE void started_in_churn(pthread_t *t, const pthread_attr_t *a)
{
	if (pthread_create(t, a, ends_now, NULL) != 0)
		exit(4);
}

static void *churns_threads(void *arg)
{
	pthread_t t;
	for (int i = 0; i < 1000; i++) {
		started_in_churn(&t, detached_attr());
		started_in_churn(&t, NULL);
		if (i & 1)
			pthread_join(t, NULL);
		else
			pthread_detach(t);
	}
	return arg;
}

NOINLINE void leak_detach_churn(void)
{
	pthread_t c[4];
	for (int i = 0; i < 4; i++)
		if (pthread_create(&c[i], NULL, churns_threads, NULL) != 0)
			exit(4);
	for (int i = 0; i < 4; i++)
		pthread_join(c[i], NULL);
	wait_threads_down_to(1);
}

NOINLINE void *grown_from(void)
{
	return malloc(60);
}

NOINLINE void *grown_too_far(void *p)
{
	return realloc(p, SIZE_MAX / 2);
}

/* A realloc that fails leaves the block as it was: still 60 bytes, still
 * from where it was allocated. */
NOINLINE void leak_realloc_failed(void)
{
	static void *volatile kept;
	kept = grown_from();
	if (grown_too_far(kept) != NULL)
		exit(4);
}

NOINLINE void *named_above_descriptor(void)
{
	return malloc(48);
}

static void *ends_at_once(void *arg)
{
	return arg;
}

NOINLINE void *named_on_dead_stack(void)
{
	return malloc(56);
}

static void *leaves_on_stack(void *arg)
{
	void *volatile p = named_on_dead_stack();
	KEEP(p);
	return arg;
}

/* A thread's TLS is read exactly. Its descriptor ends where its stack
 * does, and what lies above is another thing altogether — here a
 * read-only page, no root, holding the only pointers to 512 blocks; below
 * its static TLS lie its first frames, dead once it ended — here the only
 * pointer to a block. All lost, though both threads (ended, never joined)
 * are read for their TLS. */
NOINLINE void leak_above_descriptor(void)
{
	enum { STACK = 64 << 10, PAGE = 4096 };
	char *stack = mmap(NULL, STACK + PAGE, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (stack == MAP_FAILED)
		exit(4);
	void **above = (void **)(stack + STACK);
	for (int i = 0; i < PAGE / (int)sizeof(void *); i++)
		above[i] = named_above_descriptor();
	pthread_attr_t attr;
	pthread_t t;
	if (mprotect(above, PAGE, PROT_READ) != 0 ||
	    pthread_attr_init(&attr) != 0 ||
	    pthread_attr_setstack(&attr, stack, STACK) != 0 ||
	    pthread_create(&t, &attr, ends_at_once, NULL) != 0 ||
	    pthread_create(&t, NULL, leaves_on_stack, NULL) != 0)
		exit(4);
	pthread_attr_destroy(&attr);
	usleep(20000);
}

NOINLINE void *lost_before_fault(void)
{
	return malloc(77);
}

NOINLINE void *held_by_faulting_frame(void)
{
	return malloc(88);
}

static void exit_from_handler(int sig)
{
	(void)sig;
	exit(3);
}

/* A program whose fault handler runs on a small alternate stack and calls
 * exit(): it exits 3, as it does without ward, and its profile tells the
 * block it lost (lost) from the one the faulting frame holds (reachable). */
NOINLINE void leak_altstack_exit(void)
{
	static char alt[16384];
	stack_t ss = { .ss_sp = alt, .ss_size = sizeof(alt) };
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = exit_from_handler;
	sa.sa_flags = SA_ONSTACK;
	if (sigaltstack(&ss, NULL) != 0 || sigaction(SIGSEGV, &sa, NULL) != 0)
		exit(4);
	KEEP(lost_before_fault());
	void *volatile held = held_by_faulting_frame();
	*(volatile int *)(uintptr_t)8 = 1;
	KEEP(held);
}

NOINLINE void *lost_in_handler(void)
{
	return malloc(66);
}

/* A fault handler on an alternate stack of `size` bytes that allocates,
 * as a crash handler that names its frames does (backtrace_symbols()),
 * then ends the program with _exit(9). */
static void alloc_in_handler(int sig)
{
	(void)sig;
	void *pcs[32];
	int n = backtrace(pcs, 32);
	free(backtrace_symbols(pcs, n));
	KEEP(lost_in_handler());
	_exit(9);
}

NOINLINE void leak_altstack_alloc(const char *size)
{
	size_t len = strtoul(size, NULL, 0);
	stack_t ss = { .ss_sp = malloc(len), .ss_size = len };
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = alloc_in_handler;
	sa.sa_flags = SA_ONSTACK;
	if (!ss.ss_sp || sigaltstack(&ss, NULL) != 0 ||
	    sigaction(SIGSEGV, &sa, NULL) != 0)
		exit(4);
	*(volatile int *)(uintptr_t)8 = 1;
}

NOINLINE void *lost_before_overflow(void)
{
	return malloc(79);
}

/* Stored straight to the frame's slot: no register keeps it. */
NOINLINE void held_below_overflow(void *volatile *slot)
{
	*slot = malloc(89);
}

static NOINLINE long recurse(long n)
{
	volatile char frame[512];
	/* Every byte: what a dead frame left here would still be read. */
	for (size_t i = 0; i < sizeof(frame); i++)
		frame[i] = (char)n;
	long r = recurse(n + 1);
	__asm__ volatile("" : : "r"(frame) : "memory");
	return r + frame[0];
}

/* A main thread that overflows its stack (limited to 1 MiB here), dying
 * of SIGSEGV — or with "exit", from a handler on an alternate stack that
 * calls exit(3). The frame that started the recursion holds one block;
 * the stack pointer at the fault lies past the stack's mapping. */
NOINLINE void leak_overflow(bool by_exit)
{
	struct rlimit rl = { 1 << 20, 1 << 20 };
	if (setrlimit(RLIMIT_STACK, &rl) != 0)
		exit(4);
	if (by_exit) {
		static char alt[65536];
		stack_t ss = { .ss_sp = alt, .ss_size = sizeof(alt) };
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = exit_from_handler;
		sa.sa_flags = SA_ONSTACK;
		if (sigaltstack(&ss, NULL) != 0 ||
		    sigaction(SIGSEGV, &sa, NULL) != 0)
			exit(4);
	}
	KEEP(lost_before_overflow());
	void *volatile held;
	held_below_overflow(&held);
#if defined(__x86_64__)
	/* Nor a scratch register the fault's saved context would show. */
	__asm__ volatile("xor %%eax, %%eax\n\txor %%ecx, %%ecx\n\t"
			 "xor %%edx, %%edx\n\txor %%esi, %%esi\n\t"
			 "xor %%edi, %%edi\n\txor %%r8d, %%r8d\n\t"
			 "xor %%r9d, %%r9d\n\txor %%r10d, %%r10d\n\t"
			 "xor %%r11d, %%r11d"
			 ::: "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9",
			 "r10", "r11", "memory");
#endif
	KEEP(recurse(0));
	KEEP(held);
}

NOINLINE void *lost_before_limit(void)
{
	return malloc(100);
}

NOINLINE void *kept_to_the_limit(size_t n)
{
	return malloc(n);
}

/* Blocks kept on a list until malloc fails. */
static void fill_to_the_limit(void)
{
	struct node {
		struct node *next;
		char pad[1000];
	} *head = NULL;
	for (;;) {
		struct node *n = kept_to_the_limit(sizeof(*n));
		if (!n)
			break;
		n->next = head;
		head = n;
	}
	static struct node *volatile kept;
	kept = head;
}

/* A program that uses up its address space — RLIMIT_AS set to what it
 * has plus 64 MiB, then blocks kept until malloc fails — and ends: what
 * ward's report needs is not left to it. */
NOINLINE void leak_as_limit(void)
{
	for (int i = 0; i < 10; i++)
		KEEP(lost_before_limit());
	long pages = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (!f || fscanf(f, "%ld", &pages) != 1)
		exit(4);
	fclose(f);
	rlim_t most = (rlim_t)pages * 4096 + (64 << 20);
	struct rlimit rl = { most, most };
	if (setrlimit(RLIMIT_AS, &rl) != 0)
		exit(4);
	fill_to_the_limit();
}

/* The same with its data (RLIMIT_DATA: private writable memory, the
 * heap's): its soft limit set to what it has plus 64 MiB. */
NOINLINE void leak_data_limit(void)
{
	for (int i = 0; i < 10; i++)
		KEEP(lost_before_limit());
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmData: %ld kB", &kb) == 1)
			break;
	if (!f || kb < 0)
		exit(4);
	fclose(f);
	rlim_t most = (rlim_t)kb * 1024 + (64 << 20);
	struct rlimit rl;
	if (getrlimit(RLIMIT_DATA, &rl) != 0)
		exit(4);
	rl.rlim_cur = most;
	if (setrlimit(RLIMIT_DATA, &rl) != 0)
		exit(4);
	fill_to_the_limit();
}

/* A program that needs mib MiB of heap (64 KiB blocks, all freed) and
 * loses one block of 48 bytes: run under an address-space limit just above
 * what it needs. */
NOINLINE void *lost_in_room(void)
{
	return malloc(48);
}

NOINLINE void leak_room(const char *mib)
{
	static void *blocks[16 * 1024];
	int n = atoi(mib) * 16;
	if (n <= 0 || n > 16 * 1024)
		exit(4);
	KEEP(lost_in_room());
	for (int i = 0; i < n; i++)
		if (!(blocks[i] = malloc(64 * 1024))) {
			printf("out of memory after %d KiB\n", i * 64);
			exit(8);
		} else
			memset(blocks[i], 1, 64);
	for (int i = 0; i < n; i++)
		free(blocks[i]);
	printf("ok\n");
}

/* An endpoint that misbehaves, for ward watch: it listens on a port of
 * its own (printed), takes one request, and then "stall": sends half a
 * status line and nothing more; or "endless": an answer that never ends. */
NOINLINE void leak_bad_endpoint(const char *mode)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(s, 4) != 0 || getsockname(s, (struct sockaddr *)&a, &al))
		exit(4);
	printf("%d\n", ntohs(a.sin_port));
	fflush(stdout);
	signal(SIGPIPE, SIG_IGN);
	int c = accept(s, NULL, NULL);
	char req[4096];
	if (c < 0 || read(c, req, sizeof(req)) <= 0)
		exit(5);
	if (strcmp(mode, "stall") == 0) {
		dprintf(c, "HTTP/1.1 200");
		sleep(600);
	}
	dprintf(c, "HTTP/1.1 200 OK\r\n\r\n");
	static char chunk[1 << 16];
	memset(chunk, 'A', sizeof(chunk));
	while (write(c, chunk, sizeof(chunk)) > 0)
		;
}

/* A daemon's move into a jail: chroot to dir, then on (as root, or in a
 * user namespace of its own when not). */
NOINLINE void leak_chroot(const char *dir)
{
	KEEP(malloc(40));
	if (geteuid() != 0 && unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0)
		exit(5);
	if (chroot(dir) != 0) {
		printf("chroot: %s\n", strerror(errno));
		return;
	}
	if (chdir("/") != 0)
		exit(6);
	printf("jailed\n");
}

/* A program that moves to a mount namespace of its own and, with
 * "cover", mounts a tmpfs over dir (the profile's directory), as a
 * sandbox does: the profile is written where ward run cannot see it. */
NOINLINE void leak_mount_ns(const char *dir, bool cover, bool raw)
{
	KEEP(malloc(41));
	int flags = CLONE_NEWNS | (geteuid() != 0 ? CLONE_NEWUSER : 0);
	if ((raw ? syscall(SYS_unshare, flags) : unshare(flags)) != 0) {
		printf("unshare: %s\n", strerror(errno));
		exit(5);
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
	    (cover && mount("tmpfs", dir, "tmpfs", 0, "size=1m") != 0)) {
		printf("mount: %s\n", strerror(errno));
		exit(6);
	}
	printf("moved\n");
}

enum { CROWD = 4200 };
static atomic_int crowd_ready;

NOINLINE void *held_by_crowd(void)
{
	return malloc(24);
}

static void *crowd_member(void *arg)
{
	(void)arg;
	void *volatile held = held_by_crowd();
	atomic_fetch_add(&crowd_ready, 1);
	for (;;)
		pause();
	return held;
}

/* More threads than a scan once stopped (4096): 4200 (under systemd's
 * smallest default task limit, 4915), each holding a block on its stack,
 * all still running at exit. */
NOINLINE void leak_crowd(void)
{
	pthread_attr_t a;
	if (pthread_attr_init(&a) != 0 ||
	    pthread_attr_setstacksize(&a, 64 << 10) != 0)
		exit(4);
	for (int i = 0; i < CROWD; i++) {
		pthread_t t;
		int rc = pthread_create(&t, &a, crowd_member, NULL);
		if (rc != 0) {
			fprintf(stderr, "crowd: thread %d of %d: %s (the "
				"system's task limit?)\n", i + 1, CROWD,
				strerror(rc));
			exit(5);
		}
	}
	while (atomic_load(&crowd_ready) < CROWD)
		usleep(1000);
}

NOINLINE void *lost_before_no_descriptors(void)
{
	return malloc(46);
}

/* A sandbox that allows itself no descriptors: RLIMIT_NOFILE's soft limit
 * set to 0 ("soft", the hard one kept), or both ("hard"; "hard64" through
 * prlimit64(), the name a program built with _FILE_OFFSET_BITS=64 calls). */
NOINLINE void leak_no_descriptors(const char *how)
{
	KEEP(lost_before_no_descriptors());
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		exit(4);
	rl.rlim_cur = 0;
	if (strncmp(how, "hard", 4) == 0)
		rl.rlim_max = 0;
	struct rlimit64 rl64 = { rl.rlim_cur, rl.rlim_max };
	if (strcmp(how, "hard64") == 0 ? prlimit64(0, RLIMIT_NOFILE, &rl64, NULL)
				       : setrlimit(RLIMIT_NOFILE, &rl))
		exit(5);
	printf("no descriptors\n");
}

NOINLINE void *lost_before_file_size_limit(void)
{
	return malloc(47);
}

/* A program that limits the size of the files it writes to 10 bytes:
 * the soft limit ("soft", the hard one kept) or both ("hard"). */
NOINLINE void leak_file_size_limit(const char *how)
{
	KEEP(lost_before_file_size_limit());
	struct rlimit rl;
	if (getrlimit(RLIMIT_FSIZE, &rl) != 0)
		exit(4);
	rl.rlim_cur = 10;
	if (strcmp(how, "hard") == 0)
		rl.rlim_max = 10;
	if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
		exit(5);
}

NOINLINE void *lost_before_main_exit(void)
{
	return malloc(61);
}

NOINLINE void *lost_in_last_thread(void)
{
	return malloc(62);
}

/* Whether the main thread has ended (a zombie waiting for the others). */
static bool main_thread_ended(void)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)getpid());
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return true;
	buf[n] = '\0';
	const char *paren = strrchr(buf, ')');
	return paren && (paren[2] == 'Z' || paren[2] == 'X');
}

static void *outlives_main(void *arg)
{
	for (int i = 0; i < 10000 && !main_thread_ended(); i++)
		usleep(1000);
	KEEP(lost_in_last_thread());
	return arg; /* the last thread: the process exits 0 */
}

/* The main thread calls pthread_exit() while another runs on, which ends
 * the process when it returns: every block is told and named as when the
 * main thread exits, though /proc/self no longer shows the memory. */
NOINLINE void leak_main_thread_exit(void)
{
	KEEP(lost_before_main_exit());
	pthread_t t;
	if (pthread_create(&t, NULL, outlives_main, NULL) != 0)
		exit(4);
	pthread_exit(NULL);
}

NOINLINE void *lost_before_raw_exit(void)
{
	return malloc(63);
}

NOINLINE void *lost_after_raw_thread_exit(void)
{
	return malloc(64);
}

static void *exits_by_number(void *arg)
{
	syscall(SYS_exit, 0);
	return arg;
}

/* The process ends by number through syscall(): exit_group (how), or
 * exit from its only thread ("last"); or ("thread") a thread ends so
 * while main goes on, allocates and returns. */
NOINLINE void leak_raw_exit(const char *how)
{
	KEEP(lost_before_raw_exit());
	if (strcmp(how, "thread") == 0) {
		pthread_t t;
		if (pthread_create(&t, NULL, exits_by_number, NULL) != 0)
			exit(4);
		wait_threads_down_to(1);
		KEEP(lost_after_raw_thread_exit());
		exit(6);
	}
	syscall(strcmp(how, "last") == 0 ? SYS_exit : SYS_exit_group, 5);
}

static ucontext_t coroutine_back, coroutine;

NOINLINE void *held_by_main_frame(void)
{
	return malloc(111);
}

NOINLINE void *lost_before_coroutine(void)
{
	return malloc(333);
}

static void coroutine_exits(void)
{
	exit(0);
}

/* exit() called by a coroutine on a stack of the program's making (a
 * heap block): main's frame still holds its block, and what it lost is
 * lost. */
NOINLINE void leak_coroutine_exit(void)
{
	enum { STACK = 64 << 10 };
	void *volatile held = held_by_main_frame();
	KEEP(lost_before_coroutine());
	char *stack = malloc(STACK);
	if (!stack || getcontext(&coroutine) != 0)
		exit(4);
	coroutine.uc_stack.ss_sp = stack;
	coroutine.uc_stack.ss_size = STACK;
	coroutine.uc_link = &coroutine_back;
	makecontext(&coroutine, coroutine_exits, 0);
	swapcontext(&coroutine_back, &coroutine);
	KEEP(held);
}

/* Memory the program maps right above an inaccessible region that is no
 * thread's guard page (the tracer's reserved address space, a reservation
 * of a megabyte and more, a page the program itself made inaccessible
 * below memory it uses, as a hardened allocator does): the program's own,
 * so what it points to is still reachable. Exits 3 when no such place
 * was free. */
NOINLINE void *held_above_reservation(void)
{
	return malloc(77);
}

NOINLINE void leak_above_reservation(void)
{
	/* Enough blocks at once for the tracer's tables to take rooms;
	 * freed, the rooms stay. */
	enum { MANY = 100000 };
	void **many = malloc(MANY * sizeof(*many));
	if (!many)
		exit(1);
	for (int i = 0; i < MANY; i++)
		many[i] = malloc(16);
	for (int i = 0; i < MANY; i++)
		free(many[i]);
	free(many);
	FILE *maps = fopen("/proc/self/maps", "r");
	if (!maps)
		exit(1);
	unsigned long above[64];
	int n = 0;
	char line[512];
	while (n < 64 && fgets(line, sizeof(line), maps)) {
		unsigned long lo, hi;
		char perms[8];
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 &&
		    strcmp(perms, "---p") == 0 && hi - lo >= (1ul << 20))
			above[n++] = hi;
	}
	fclose(maps);
	int placed = 0;
	for (int i = 0; i < n; i++) {
		void **m = mmap((void *)above[i], 4096, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS |
					MAP_FIXED_NOREPLACE,
				-1, 0);
		if (m == MAP_FAILED)
			continue;
		if ((unsigned long)m != above[i]) { /* an old kernel's hint */
			munmap(m, 4096);
			continue;
		}
		m[7] = held_above_reservation();
		placed++;
	}
	/* And the program's own guard page, one page below memory it uses. */
	char *two = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (two == MAP_FAILED || mprotect(two, 4096, PROT_NONE) < 0)
		exit(1);
	((void **)(two + 4096))[7] = held_above_reservation();
	placed++;
	printf("placed %d\n", placed);
	if (placed < 2)
		exit(3);
}

/* A thread's block that only a freed block of the same thread's arena
 * (glibc's heap of its own, not the main one) still names: lost. A freed
 * chunk keeps what was written past its first 16 bytes, and reading
 * glibc's heaps as roots would make it reachable. */
NOINLINE void *lost_past_a_freed_chunk(void)
{
	return malloc(100);
}

static NOINLINE void scrub_stack(void)
{
	volatile char room[16384];
	for (size_t i = 0; i < sizeof(room); i++)
		room[i] = 0;
}

static void *free_the_holder(void *unused)
{
	(void)unused;
	void **holder = malloc(64);
	if (!holder)
		exit(1);
	holder[4] = lost_past_a_freed_chunk();
	free(holder);
	scrub_stack();
	return NULL;
}

NOINLINE void leak_past_freed_chunk(void)
{
	pthread_t t;
	if (pthread_create(&t, NULL, free_the_holder, NULL) != 0)
		exit(1);
	pthread_join(t, NULL);
}

/* The program's own memory at a glibc heap's 64 MiB alignment whose
 * first words fit a heap's header (an arena pointer, two page-multiple
 * sizes) but name no arena: still the program's memory, a root. */
NOINLINE void *held_past_a_lookalike_header(void)
{
	return malloc(55);
}

NOINLINE void leak_lookalike_header(void)
{
	size_t span = (size_t)128 << 20, align = (size_t)64 << 20;
	char *m = mmap(NULL, span, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED)
		exit(1);
	uintptr_t *at = (uintptr_t *)(((uintptr_t)m + align - 1) &
				      ~(uintptr_t)(align - 1));
	at[0] = (uintptr_t)at + 4096 * 3; /* no arena there */
	at[1] = 0;
	at[2] = 1 << 20;
	at[3] = 1 << 20;
	at[512] = (uintptr_t)held_past_a_lookalike_header();
}

static volatile sig_atomic_t usr2_count;

static void count_usr2(int sig)
{
	(void)sig;
	usr2_count++;
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";
	if (strcmp(what, "malloc_loop") == 0) {
		leak_malloc_loop();
		if (argc > 2 && strcmp(argv[2], "extra") == 0)
			leak_extra();
	}
	else if (strcmp(what, "realloc_chain") == 0)
		leak_realloc_chain();
	else if (strcmp(what, "memalign") == 0)
		leak_memalign();
	else if (strcmp(what, "fds") == 0)
		leak_fds();
	else if (strcmp(what, "files") == 0)
		leak_files();
	else if (strcmp(what, "threads") == 0) {
		leak_threads();
		usleep(20000);
	} else if (strcmp(what, "fork") == 0)
		leak_fork();
	else if (strcmp(what, "pid_again") == 0)
		leak_pid_again();
	else if (strcmp(what, "indirect") == 0)
		leak_indirect();
	else if (strcmp(what, "many") == 0)
		leak_many();
	else if (strcmp(what, "twelve_sites") == 0)
		leak_twelve_sites();
	else if (strcmp(what, "snapshot") == 0)
		leak_snapshot();
	else if (strcmp(what, "tls") == 0)
		leak_tls_kept();
	else if (strcmp(what, "running_threads") == 0)
		leak_running_threads(false);
	else if (strcmp(what, "vector_held") == 0)
		leak_vector_held();
	else if (strcmp(what, "own_break") == 0)
		leak_own_break();
	else if (strcmp(what, "space_used_up") == 0)
		leak_space_used_up(argc > 2 && strcmp(argv[2], "full") == 0);
	else if (strcmp(what, "file_shared") == 0 && argc > 2)
		leak_file_shared(argv[2]);
	else if (strcmp(what, "masked_threads") == 0)
		leak_running_threads(true);
	else if (strcmp(what, "dlopen") == 0 && argc > 2)
		leak_dlopen(argv[2]);
	else if (strcmp(what, "own_arena") == 0)
		leak_own_arena();
	else if (strcmp(what, "arena_by_bss") == 0)
		leak_arena_by_bss();
	else if (strcmp(what, "shared_arenas") == 0)
		leak_shared_arenas();
	else if (strcmp(what, "libc_held") == 0)
		leak_libc_held();
	else if (strcmp(what, "jit_memory") == 0)
		leak_jit_memory();
	else if (strcmp(what, "file_copy") == 0) {
		leak_file_copy();
		if (argc > 2 && strcmp(argv[2], "fdlimit") == 0)
			use_up_descriptors();
	}
	else if (strcmp(what, "sandbox") == 0 && argc > 2)
		leak_sandbox(argv[2]);
	else if (strcmp(what, "big_lost") == 0)
		leak_big_lost();
	else if (strcmp(what, "large_chains") == 0)
		leak_large_chains();
	else if (strcmp(what, "arena_neighbours") == 0)
		leak_arena_neighbours();
	else if (strcmp(what, "cycle") == 0)
		leak_cycle();
	else if (strcmp(what, "sleeper") == 0)
		leak_sleeper();
	else if (strcmp(what, "raw_close") == 0)
		leak_raw_close();
	else if (strcmp(what, "own_usr2") == 0) {
		/* The program's own action for ward's snapshot signal. */
		signal(SIGUSR2, count_usr2);
		raise(SIGUSR2);
		printf("the program got SIGUSR2 %d time(s)\n", (int)usr2_count);
	} else if (strcmp(what, "reexec") == 0) {
		/* Runs itself again without ward, as a program that cleans its
		 * environment does: its name stays. */
		unsetenv("LD_PRELOAD");
		execl("/proc/self/exe", argv[0], "rmdir", "/nonexistent/x", (char *)NULL);
		exit(4);
	} else if (strcmp(what, "reexec_at") == 0) {
		/* The same through execveat(). */
		char *args[] = { argv[0], "rmdir", "/nonexistent/x", NULL };
		unsetenv("LD_PRELOAD");
		execveat(AT_FDCWD, "/proc/self/exe", args, environ, 0);
		exit(4);
	} else if (strcmp(what, "reexec_syscall") == 0) {
		/* The same through syscall(SYS_execve). */
		char *args[] = { argv[0], "rmdir", "/nonexistent/x", NULL };
		unsetenv("LD_PRELOAD");
		syscall(SYS_execve, "/proc/self/exe", args, environ);
		exit(4);
	} else if (strcmp(what, "reexec_failed") == 0) {
		/* An exec that fails, then a raw exit: the raw exit's reason. */
		unsetenv("LD_PRELOAD");
		execl("/nonexistent/program", "x", (char *)NULL);
		kernel_call(SYS_exit_group, 0, 0, 0);
	} else if (strcmp(what, "rmdir") == 0 && argc > 2)
		exit(rmdir(argv[2]) == 0 ? 0 : 4); /* where the profile goes */
	else if (strcmp(what, "coroutine_exit") == 0)
		leak_coroutine_exit();
	else if (strcmp(what, "altstack_exit") == 0)
		leak_altstack_exit();
	else if (strcmp(what, "chroot") == 0 && argc > 2)
		leak_chroot(argv[2]);
	else if (strcmp(what, "raw_fork") == 0)
		leak_raw_fork(argc > 2 ? atoi(argv[2]) : 400);
	else if (strcmp(what, "mlocked") == 0)
		leak_mlocked(argc > 2 && strcmp(argv[2], "current") == 0);
	else if (strcmp(what, "data_limit") == 0)
		leak_data_limit();
	else if (strcmp(what, "landlock") == 0)
		leak_landlock();
	else if (strcmp(what, "more_fds") == 0)
		leak_more_fds();
	else if (strcmp(what, "lsan") == 0)
		leak_lsan(argc > 2 && strcmp(argv[2], "check") == 0);
	else if (strcmp(what, "lsan_own") == 0)
		leak_lsan_own(argc > 2 && strcmp(argv[2], "bad") == 0);
	else if (strcmp(what, "lsan_recoverable") == 0)
		leak_lsan_recoverable();
	else if (strcmp(what, "lsan_check_loop") == 0)
		leak_lsan_check_loop();
	else if (strcmp(what, "lsan_off") == 0)
		leak_lsan_off(argc > 2 && strcmp(argv[2], "off") == 0);
	else if (strcmp(what, "unseen_fdlimit") == 0)
		leak_unseen_fdlimit();
	else if (strcmp(what, "unseen_fds") == 0)
		leak_unseen_fds();
	else if (strcmp(what, "raw_fds") == 0)
		raw_fds_opened();
	else if (strcmp(what, "vfork_fds") == 0)
		leak_vfork_fds(argc > 2 && strcmp(argv[2], "exec") == 0);
	else if (strcmp(what, "mount_ns") == 0 && argc > 2)
		leak_mount_ns(argv[2], argc > 3 && strstr(argv[3], "cover"),
			      argc > 3 && strstr(argv[3], "raw"));
	else if (strcmp(what, "no_descriptors") == 0)
		leak_no_descriptors(argc > 2 ? argv[2] : "soft");
	else if (strcmp(what, "altstack_alloc") == 0 && argc > 2)
		leak_altstack_alloc(argv[2]);
	else if (strcmp(what, "file_size_limit") == 0)
		leak_file_size_limit(argc > 2 ? argv[2] : "soft");
	else if (strcmp(what, "crowd") == 0)
		leak_crowd();
	else if (strcmp(what, "as_limit") == 0)
		leak_as_limit();
	else if (strcmp(what, "room") == 0 && argc > 2)
		leak_room(argv[2]);
	else if (strcmp(what, "bad_endpoint") == 0 && argc > 2)
		leak_bad_endpoint(argv[2]);
	else if (strcmp(what, "overflow") == 0)
		leak_overflow(argc > 2 && strcmp(argv[2], "exit") == 0);
	else if (strcmp(what, "kill_group") == 0)
		leak_kill_group();
	else if (strcmp(what, "prot_none") == 0)
		leak_prot_none();
	else if (strcmp(what, "fortified_fds") == 0)
		leak_fortified_fds();
	else if (strcmp(what, "two_exits") == 0)
		leak_two_exits();
	else if (strcmp(what, "small_stack") == 0)
		leak_small_stack();
	else if (strcmp(what, "getattr_first") == 0)
		leak_getattr_first();
	else if (strcmp(what, "exit_while_freeing") == 0)
		leak_exit_while_freeing();
	else if (strcmp(what, "stderr_reused") == 0 && argc > 2)
		leak_stderr_reused(argv[2]);
	else if (strcmp(what, "own_stop_signal") == 0)
		leak_own_stop_signal();
	else if (strncmp(what, "raw_exit", 8) == 0)
		leak_raw_exit(what[8] ? what + 9 : "group");
	else if (strcmp(what, "main_thread_exit") == 0)
		leak_main_thread_exit();
	else if (strcmp(what, "above_descriptor") == 0)
		leak_above_descriptor();
	else if (strcmp(what, "realloc_failed") == 0)
		leak_realloc_failed();
	else if (strcmp(what, "detached") == 0)
		leak_detached(argc > 2 && strcmp(argv[2], "snap") == 0);
	else if (strcmp(what, "detach_churn") == 0)
		leak_detach_churn();
	else if (strcmp(what, "joins") == 0)
		leak_joins();
	else if (strcmp(what, "daemon") == 0)
		leak_daemon();
	else if (strcmp(what, "snapshot_via_parent") == 0)
		leak_snapshot_via_parent();
	else if (strcmp(what, "above_reservation") == 0)
		leak_above_reservation();
	else if (strcmp(what, "past_freed_chunk") == 0)
		leak_past_freed_chunk();
	else if (strcmp(what, "lookalike_header") == 0)
		leak_lookalike_header();
	else if (strcmp(what, "stale") == 0)
		leak_stale();
	else if (strcmp(what, "stdio_stale") == 0)
		leak_stdio_stale();
	else if (strcmp(what, "child_wrote") == 0)
		leak_child_wrote();
	else if (strcmp(what, "untold") == 0)
		leak_untold();
	else if (strcmp(what, "zero") == 0)
		leak_zero();
	else if (strcmp(what, "one_line") == 0)
		leak_one_line();
	else if (strcmp(what, "new0") == 0)
		leak_new0();
	else if (strcmp(what, "why") == 0)
		leak_why();
	else if (strcmp(what, "clearenv") == 0)
		leak_clearenv();
	else if (strcmp(what, "thread_churn") == 0)
		leak_thread_churn();
	else if (strcmp(what, "naps") == 0)
		leak_naps();
	else if (strcmp(what, "timed_waits") == 0)
		leak_timed_waits();
	else if (strcmp(what, "sleepers") == 0)
		leak_sleepers();
	else if (strcmp(what, "checked_waits") == 0)
		leak_checked_waits();
	else if (strcmp(what, "checked_ipc") == 0)
		leak_checked_ipc();
	else if (strcmp(what, "handler") == 0)
		leak_in_handler();
	else if (strcmp(what, "masked_busy") == 0)
		leak_masked_busy();
	else if (strcmp(what, "sigwait") == 0)
		leak_sigwait(argc > 2 && strcmp(argv[2], "kept") == 0);
	else if (strcmp(what, "keys") == 0)
		leak_keys();
	else if (strcmp(what, "exit_thread") == 0)
		leak_exit_thread();
	else if (strcmp(what, "usable") == 0)
		leak_usable();
	else if (strcmp(what, "closeall") == 0 && argc > 2)
		leak_closeall(argv[2]);
	else if (strcmp(what, "vfork") == 0)
		leak_vfork();
	else if (strcmp(what, "fork_list") == 0)
		leak_fork_list();
	else if (strcmp(what, "fork_list_twice") == 0)
		leak_fork_list_twice();
	else if (strcmp(what, "fork_freed") == 0)
		leak_fork_freed();
	else if (strcmp(what, "fork_owner") == 0)
		leak_fork_owner();
	else if (strcmp(what, "snapfork") == 0)
		leak_snapfork();
	else if (strcmp(what, "fdlimit") == 0)
		leak_fdlimit();
	else if (strcmp(what, "die") == 0 && argc > 2)
		leak_die(argv[2]);
	else if (strcmp(what, "spin") == 0)
		leak_spin(argc > 2 && strcmp(argv[2], "threads") == 0);
	else if (strcmp(what, "exit_busy") == 0)
		leak_exit_busy();
	else if (strcmp(what, "sigquery") == 0)
		leak_sigquery();
	else if (strcmp(what, "chdir") == 0)
		leak_chdir();
	else if (strcmp(what, "daemonize") == 0 && argc > 2)
		leak_daemonize(argv[2]);
	else if (strcmp(what, "outlives") == 0 && argc > 2)
		leak_outlives(argv[2]);
	else if (strcmp(what, "snapshot_exec") == 0)
		leak_snapshot_exec(argv[0], argc > 2);
	else if (strcmp(what, "snapshot_live") == 0 && argc > 2)
		leak_snapshot_live(argv[2]);
	else {
		fprintf(stderr, "usage: leaks SCENARIO\n");
		return 2;
	}
	printf("done %s\n", what);
	return 0;
}
