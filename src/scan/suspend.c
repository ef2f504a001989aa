/*
 * suspend.c — stopping every other thread of the process, so that the
 * reachability scan at exit can read their stacks and registers while
 * nothing changes under it. LeakSanitizer does this with ptrace from a
 * helper; ward sends each thread a signal whose handler saves the
 * thread's registers and waits on a futex until the scan is done.
 *
 * The signal is SIGRTMAX-1. A thread that blocks it, or waits for it in
 * sigwait() (which would hand it to the program), is never sent it: it
 * is "held" — when it sleeps in a system call, its stack pointer is read
 * from /proc and the scan reads it where it sleeps; running, its stack is
 * not read at all. Nothing is stopped, and the caller skips what needed
 * it, when the program has its own handler for that signal, or when a
 * thread does not answer within 1 s (a thread that is running answers at
 * once; the wait is for a loaded machine).
 * While stopped, a thread may hold any lock (malloc's included): the
 * scanner allocates nothing and takes no lock until it resumes them.
 *
 * The handler stays installed after the first stop (a late signal must
 * never meet the default action, which would end the process); with no
 * stop in progress it returns at once. A thread interrupted in a system
 * call that signals cannot restart (nanosleep, poll) goes back into it
 * on its way out of the handler (sleep_again()).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/io_uring.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "capture/capture.h"
#include "core/clock.h"
#include "core/file.h"
#include "core/lock.h"
#include "core/map.h"
#include "core/valgrind.h"
#include "scan/scan.h"

/*
 * The threads' files are read under /proc/self; when the program has used
 * up its descriptors, where one is free (ward__with_descriptor), under
 * /proc/PID: the helper's /proc/self is its own. System calls only, as the
 * helper requires.
 */
struct task_read {
	const char *base; /* "/proc/self" or "/proc/PID" */
	int tid;
	const char *file;
	char *buf;
	size_t len;
};

static int read_task_job(void *arg)
{
	const struct task_read *r = arg;
	char path[96];
	snprintf(path, sizeof(path), "%s/task/%d/%s", r->base, r->tid,
		 r->file);
	int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n;
	do
		n = syscall(SYS_read, fd, r->buf, r->len - 1);
	while (n < 0 && errno == EINTR);
	syscall(SYS_close, fd);
	if (n > 0)
		r->buf[n] = '\0';
	return n < 0 ? -1 : (int)n;
}

/* job(arg) with *base "/proc/self"; when that finds the descriptors used
 * up, again where one is free, *base naming this process by its pid. */
static int under_proc_self(int (*job)(void *), void *arg, const char **base)
{
	*base = "/proc/self";
	int n = job(arg);
	if (n == -EMFILE) {
		char own[32];
		snprintf(own, sizeof(own), "/proc/%d", (int)getpid());
		*base = own;
		n = ward__with_descriptor(job, arg);
		*base = "/proc/self";
	}
	return n;
}

/* BASE/task/TID/FILE into buf, NUL-terminated: its length, or <= 0 when
 * the thread is gone. */
static ssize_t read_task_file_at(const char *base, int tid, const char *file,
				 char *buf, size_t len)
{
	struct task_read r = { base, tid, file, buf, len };
	return strcmp(base, "/proc/self") == 0
		       ? under_proc_self(read_task_job, &r, &r.base)
		       : read_task_job(&r);
}

static ssize_t read_task_file(int tid, const char *file, char *buf,
			      size_t len)
{
	return read_task_file_at("/proc/self", tid, file, buf, len);
}

/* Whether thread tid has ended and waits to be reaped: only the main
 * thread does that, after pthread_exit() while others run on. It answers
 * no signal and its stack holds nothing of its own any more. */
static bool ended(const char *base, int tid)
{
	char buf[512];
	if (read_task_file_at(base, tid, "stat", buf, sizeof(buf)) <= 0)
		return true;
	const char *close_paren = strrchr(buf, ')'); /* the name may hold one */
	return !close_paren || close_paren[1] != ' ' || close_paren[2] == 'Z' ||
	       close_paren[2] == 'X';
}

struct list_job {
	const char *base;
	int self, leader;
	int *tids, max;
};

static int list_job(void *arg)
{
	const struct list_job *j = arg;
	char buf[4096], path[64];
	int n = 0;
	snprintf(path, sizeof(path), "%s/task", j->base);
	int fd = (int)syscall(SYS_openat, AT_FDCWD, path,
			      O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t got = syscall(SYS_getdents64, fd, buf, sizeof(buf));
		if (got <= 0)
			break;
		for (ssize_t off = 0; off < got;) {
			struct dirent64 *d = (struct dirent64 *)(buf + off);
			off += d->d_reclen;
			int tid = atoi(d->d_name);
			if (tid <= 0 || tid == j->self ||
			    (tid == j->leader && ended(j->base, tid)))
				continue;
			if (n == j->max) {
				syscall(SYS_close, fd);
				return -E2BIG;
			}
			j->tids[n++] = tid;
		}
	}
	syscall(SYS_close, fd);
	return n;
}

/* Threads of this process other than the caller, and other than a main
 * thread that has ended: up to max tids. */
int ward__list_threads(int *tids, int max)
{
	struct list_job j = { NULL, (int)syscall(SYS_gettid), (int)getpid(),
			      tids, max };
	return under_proc_self(list_job, &j, &j.base);
}

#if defined(__x86_64__)

#include <cpuid.h>

/* Threads a stop handles at most; the slots are mapped for as many as
 * the process has when it begins, with room for more that start. */
enum { MAX_STOPPED = 32768 };

static struct ward__stopped *slots;
static int slots_cap, nstopped;
/* Threads never sent the signal (see ward__threads_stop), tab->held. */
enum { MAX_HELD = MAX_STOPPED };
static int nheld;
static _Atomic int claimed, arrived;
static _Atomic uint32_t stop_gen, release_gen;
static bool installed;

static bool install(int sig);
enum doing { GONE, RUNNING, ASLEEP, SIGWAIT };
static enum doing doing_at(int tid, uintptr_t *sp, uintptr_t *pc,
			   long *nr_out);
static bool ends_early(long nr);

/* A request for one thread's stack (ward__thread_stack): the thread walks
 * itself from where the signal found it, and answers. */
static _Atomic int stack_want_tid;
static uintptr_t stack_buf[128];
static uintptr_t stack_self; /* the answering thread's pthread_self() */
static _Atomic int stack_got;
static pthread_mutex_t stack_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * The threads found asleep where a handler ends the wait (restarts())
 * just before a stop sent them the signal: on its way out of the handler,
 * such a thread goes back into the system call it was in, as the kernel
 * restarts one that a stop without a handler interrupted — the program's
 * sleep and poll() do not end early because ward read its registers.
 */
struct asleep {
	int tid;
	long nr;
	uintptr_t sp, pc;
};

/* The thread a request for one stack (ward__thread_stack) found asleep
 * where ward's handler ends the wait: it goes back in as a stop's do.
 * Kept until the next request, so that a signal that arrives after its
 * request gave up still sends it back. */
static struct asleep stack_asleep;
static _Atomic int stack_asleep_tid;

/* What a stop keeps of the threads: 1.7 MiB, mapped at the first stop
 * rather than carried by every process (its address space is the
 * program's, and RLIMIT_AS counts it). */
static struct stop_tables {
	int tids[MAX_STOPPED]; /* the threads listed */
	struct {
		int tid;
		uintptr_t sp;
	} held[MAX_HELD];                  /* never sent the signal */
	struct asleep asleep[MAX_STOPPED]; /* found asleep (note_asleep) */
	bool settled[MAX_STOPPED];         /* hold_unsignallable()'s */
	bool sent[MAX_STOPPED];            /* which of tids were sent it */
} *tab;
static _Atomic int nasleep;

/*
 * The system calls a thread goes back into when ward's handler made them
 * fail with EINTR: the sleeps (ends_early()), a futex wait with a timeout,
 * and reads, writes, receives, sends (recvmmsg(), sendmmsg() and
 * sendfile() too) and accepts on a descriptor with a timeout (SO_RCVTIMEO,
 * SO_SNDTIMEO), which have done nothing when they fail so; and connect()
 * with a timeout, which has begun by then: called again on the socket it
 * left connecting, it waits for that connection to finish, as the
 * kernel's own restart of one without a timeout does (a timeout then ends
 * it with EALREADY, not EINPROGRESS).
 */
static bool restarts(long nr)
{
	switch (nr) {
	case SYS_connect:
	case SYS_futex:
	case SYS_read:
	case SYS_write:
	case SYS_readv:
	case SYS_writev:
	case SYS_recvfrom:
	case SYS_recvmsg:
	case SYS_recvmmsg:
	case SYS_sendto:
	case SYS_sendmsg:
	case SYS_sendmmsg:
	case SYS_sendfile:
	case SYS_accept:
	case SYS_accept4:
		return true;
	default:
		return ends_early(nr);
	}
}

static void note_asleep(int tid)
{
	uintptr_t sp = 0, pc = 0;
	long nr = -1;
	int i = atomic_load_explicit(&nasleep, memory_order_relaxed);
	if (i < MAX_STOPPED && !RUNNING_ON_VALGRIND &&
	    doing_at(tid, &sp, &pc, &nr) == ASLEEP && restarts(nr) && pc) {
		tab->asleep[i] = (struct asleep){ tid, nr, sp, pc };
		atomic_store_explicit(&nasleep, i + 1, memory_order_release);
	}
}

/* This thread's entry, if the stop found it asleep (handler). */
static bool was_asleep(int tid, struct asleep *out)
{
	int n = atomic_load_explicit(&nasleep, memory_order_acquire);
	for (int i = 0; i < n; i++)
		if (tab->asleep[i].tid == tid) {
			*out = tab->asleep[i];
			return true;
		}
	return false;
}

/* The end of a relative sleep that did not ask for what was left of it
 * (usleep(): nanosleep without rem), as an absolute time on its clock:
 * sent back to sleep once, it sleeps to there, and a second stop finds
 * an absolute sleep, which goes back as it is. Without it, a program
 * whose threads ward stops more often than such a sleep lasts (a leak
 * check asked in a loop) would hold the sleeper for good. */
static __thread struct timespec sleep_until __attribute__((tls_model("initial-exec")));

/* Turn the relative sleep of `req` on clock into one to sleep_until, in
 * the registers of a clock_nanosleep system call: its own arguments only
 * (the C library's sleeps all make that call). */
static void sleep_to_deadline(greg_t *g, clockid_t clock,
			      const struct timespec *req)
{
	struct timespec now;
	if (!req || clock_gettime(clock, &now) != 0)
		return;
	sleep_until.tv_sec = now.tv_sec + req->tv_sec;
	sleep_until.tv_nsec = now.tv_nsec + req->tv_nsec;
	if (sleep_until.tv_nsec >= 1000000000) {
		sleep_until.tv_sec++;
		sleep_until.tv_nsec -= 1000000000;
	}
	g[REG_RDI] = clock;
	g[REG_RSI] = TIMER_ABSTIME;
	g[REG_RDX] = (greg_t)(uintptr_t)&sleep_until;
	g[REG_R10] = 0;
}

/*
 * A relative timeout the kernel does not count down — poll()'s and
 * epoll_wait()'s milliseconds; the timespec of a futex wait, of
 * epoll_pwait2(), semtimedop(), io_getevents() and io_uring_enter(), and
 * of a bare nanosleep without rem — sent back with what is left of it:
 * its deadline on
 * CLOCK_MONOTONIC is set when a stop first sends the call back, the time
 * it waited before that unknown (at most twice the timeout in all,
 * where sent back whole a thread ward stops more often than the timeout
 * lasts would wait for good). A call sent back again is known by the
 * address of `left`, or by its flags (sent_back()).
 */
static __thread struct {
	struct timespec until, left;
	uintptr_t pc, sp;
} resumed __attribute__((tls_model("initial-exec")));

/*
 * A call ward sent back is known by the flags it enters the kernel with:
 * ZF and SF both set, which no arithmetic leaves (a zero result is not
 * negative), and which no program relies on across a system call
 * (compilers take every asm statement to change the flags) — with the
 * place of the call it sent back last.
 */
enum { MARK_FLAGS = 0x40 | 0x80 }; /* ZF | SF */

static bool sent_back(const greg_t *g, const struct asleep *a)
{
	return (g[REG_EFL] & MARK_FLAGS) == MARK_FLAGS &&
	       resumed.pc == a->pc && resumed.sp == a->sp;
}

static void mark_sent_back(greg_t *g, const struct asleep *a)
{
	resumed.pc = a->pc;
	resumed.sp = a->sp;
	g[REG_EFL] |= MARK_FLAGS;
}

enum { NS = 1000000000 };

/* resumed.until, `after` from now; false when it cannot be told. */
static bool set_deadline(const struct timespec *after)
{
	struct timespec now;
	if (after->tv_sec < 0 || after->tv_sec > INT32_MAX ||
	    clock_gettime(CLOCK_MONOTONIC, &now) != 0)
		return false;
	resumed.until.tv_sec = now.tv_sec + after->tv_sec;
	resumed.until.tv_nsec = now.tv_nsec + after->tv_nsec;
	if (resumed.until.tv_nsec >= NS) {
		resumed.until.tv_sec++;
		resumed.until.tv_nsec -= NS;
	}
	return true;
}

/* What is left to resumed.until, in nanoseconds (0 once past); -1 when
 * it cannot be told. */
static long long ns_left(void)
{
	struct timespec now;
	if (clock_gettime(CLOCK_MONOTONIC, &now) != 0)
		return -1;
	long long ns = (long long)(resumed.until.tv_sec - now.tv_sec) * NS +
		       (resumed.until.tv_nsec - now.tv_nsec);
	return ns > 0 ? ns : 0;
}

/* The milliseconds in *reg (an int; negative: no timeout), for call a
 * in context g. */
static void ms_again(greg_t *g, greg_t *reg, const struct asleep *a)
{
	int ms = (int)*reg;
	if (ms <= 0)
		return;
	struct timespec after = { ms / 1000, ms % 1000 * 1000000L };
	if (!sent_back(g, a) && !set_deadline(&after))
		return;
	long long ns = ns_left();
	if (ns < 0)
		return;
	mark_sent_back(g, a);
	*reg = (greg_t)((ns + 999999) / 1000000);
}

/* What is left to resumed.until, into resumed.left; false when it cannot
 * be told. */
static bool left_to_deadline(void)
{
	long long ns = ns_left();
	if (ns < 0)
		return false;
	resumed.left.tv_sec = ns / NS;
	resumed.left.tv_nsec = ns % NS;
	return true;
}

/* The timespec *reg points to (NULL: no timeout). */
static void timespec_again(greg_t *reg)
{
	const struct timespec *t = (const struct timespec *)(uintptr_t)*reg;
	if (!t || (t != &resumed.left && !set_deadline(t)) ||
	    !left_to_deadline())
		return;
	*reg = (greg_t)(uintptr_t)&resumed.left;
}

/*
 * An io_uring_enter() waiting for completions with a relative timeout
 * (IORING_ENTER_EXT_ARG, whose argument names a timespec): the argument
 * goes back as a copy of ward's pointing at what is left. Not one whose
 * timeout is absolute, or whose argument lies in a registered region
 * (later kernels' flags, named here for headers that lack them).
 */
enum { URING_ABS_TIMER = 1U << 5, URING_EXT_ARG_REG = 1U << 6 };
static __thread struct io_uring_getevents_arg uring_arg
	__attribute__((tls_model("initial-exec")));

static void uring_wait_again(greg_t *g)
{
	unsigned flags = (unsigned)g[REG_R10];
	if (!(flags & IORING_ENTER_GETEVENTS) ||
	    !(flags & IORING_ENTER_EXT_ARG) ||
	    (flags & (URING_ABS_TIMER | URING_EXT_ARG_REG)) ||
	    (size_t)g[REG_R9] != sizeof(uring_arg) || !g[REG_R8])
		return;
	struct io_uring_getevents_arg *arg =
		(struct io_uring_getevents_arg *)(uintptr_t)g[REG_R8];
	if (arg != &uring_arg) {
		if (!arg->ts)
			return;
		uring_arg = *arg;
		if (!set_deadline((const struct timespec *)(uintptr_t)arg->ts))
			return;
	}
	if (!left_to_deadline())
		return;
	uring_arg.ts = (uint64_t)(uintptr_t)&resumed.left;
	g[REG_R8] = (greg_t)(uintptr_t)&uring_arg;
}

/* The timeout, in microseconds, set on descriptor fd with option opt
 * (SO_RCVTIMEO, SO_SNDTIMEO): 0 for none, or when fd is no socket. */
static long socket_timeout(int fd, int opt)
{
	struct timeval tv = { 0, 0 };
	socklen_t len = sizeof(tv);
	if (getsockopt(fd, SOL_SOCKET, opt, &tv, &len) != 0)
		return 0;
	return tv.tv_sec * 1000000L + tv.tv_usec;
}

/* The socket option whose timeout bounds call nr (SO_RCVTIMEO,
 * SO_SNDTIMEO), and in *timed_out what the call fails with when it passes;
 * 0 for a call no socket timeout bounds. */
static int socket_timeout_option(long nr, int *timed_out)
{
	*timed_out = EAGAIN;
	switch (nr) {
	case SYS_read:
	case SYS_readv:
	case SYS_recvfrom:
	case SYS_recvmsg:
	case SYS_recvmmsg:
	case SYS_accept:
	case SYS_accept4:
		return SO_RCVTIMEO;
	case SYS_connect:
		*timed_out = EINPROGRESS;
		return SO_SNDTIMEO;
	case SYS_write:
	case SYS_writev:
	case SYS_sendto:
	case SYS_sendmsg:
	case SYS_sendmmsg:
	case SYS_sendfile:
		return SO_SNDTIMEO;
	default:
		return 0;
	}
}

/*
 * A call on a socket with a timeout (SO_RCVTIMEO, SO_SNDTIMEO), which the
 * kernel begins again whole, goes back as it is, with a deadline that
 * timeout away from the first stop that sends it back; a stop that finds
 * it again past its deadline ends it as its timeout would have (EAGAIN;
 * EINPROGRESS for connect()), so that however often stops come, it ends
 * within twice its timeout (sent_back() knows it again). Returns whether
 * it goes back.
 */
static bool socket_wait_again(greg_t *g, const struct asleep *a, int opt,
			      int timed_out)
{
	long us = socket_timeout((int)g[REG_RDI], opt);
	if (us <= 0)
		return true;
	bool again = sent_back(g, a);
	struct timespec after = { us / 1000000, us % 1000000 * 1000 };
	if (!again && !set_deadline(&after))
		return true;
	if (again && ns_left() == 0) {
		g[REG_RAX] = -timed_out;
		return false;
	}
	mark_sent_back(g, a);
	return true;
}

/*
 * Back into the system call a, when the context uc is its return with
 * EINTR — the same instruction after `syscall` and stack pointer the
 * kernel showed — and no signal of the program's own is pending, which
 * would have ended the sleep without ward (it is delivered next, and the
 * program sees EINTR as it would have). A relative sleep goes on for what
 * was left of it where the kernel says (nanosleep's rem; select, pselect
 * and ppoll update their timeout), else to the deadline ward keeps
 * (ms_again(), timespec_again(), socket_wait_again()).
 */
static void sleep_again(ucontext_t *uc, const struct asleep *a, int sig)
{
	greg_t *g = uc->uc_mcontext.gregs;
	const unsigned char *ip = (const unsigned char *)g[REG_RIP];
	if (g[REG_RAX] != -EINTR || (uintptr_t)g[REG_RIP] != a->pc ||
	    (uintptr_t)g[REG_RSP] != a->sp || ip[-2] != 0x0f || ip[-1] != 0x05)
		return;
	sigset_t pending;
	if (sigpending(&pending) != 0)
		return;
	for (int s = 1; s < NSIG; s++)
		if (s != sig && sigismember(&pending, s) == 1 &&
		    sigismember(&uc->uc_sigmask, s) != 1)
			return;
	/* A futex wait with a timeout ends so too (sem_timedwait() fails
	 * with EINTR); its other operations are not sleeps. */
	if (a->nr == SYS_futex && (g[REG_RSI] & FUTEX_CMD_MASK) != FUTEX_WAIT &&
	    (g[REG_RSI] & FUTEX_CMD_MASK) != FUTEX_WAIT_BITSET)
		return;
	switch (a->nr) {
	case SYS_nanosleep:
		if (g[REG_RSI])
			g[REG_RDI] = g[REG_RSI]; /* what was left */
		else
			timespec_again(&g[REG_RDI]);
		break;
	case SYS_clock_nanosleep:
		if (g[REG_RSI] & TIMER_ABSTIME)
			break;
		if (g[REG_R10])
			g[REG_RDX] = g[REG_R10];
		else
			sleep_to_deadline(g, (clockid_t)g[REG_RDI],
					  (const struct timespec *)g[REG_RDX]);
		break;
	case SYS_futex:
		if ((g[REG_RSI] & FUTEX_CMD_MASK) == FUTEX_WAIT)
			timespec_again(&g[REG_R10]);
		break;
	case SYS_poll:
		ms_again(g, &g[REG_RDX], a);
		break;
	case SYS_epoll_wait:
	case SYS_epoll_pwait:
		ms_again(g, &g[REG_R10], a);
		break;
#ifdef SYS_epoll_pwait2
	case SYS_epoll_pwait2:
#endif
	case SYS_semtimedop:
		timespec_again(&g[REG_R10]);
		break;
	case SYS_io_getevents:
		timespec_again(&g[REG_R8]);
		break;
	case SYS_io_uring_enter:
		uring_wait_again(g);
		break;
	default: {
		int timed_out, opt = socket_timeout_option(a->nr, &timed_out);
		if (opt && !socket_wait_again(g, a, opt, timed_out))
			return;
		break;
	}
	}
	g[REG_RAX] = a->nr;
	g[REG_RIP] -= 2;
}

/*
 * The vector registers a signal frame holds: the FXSAVE area's xmm0-15,
 * then, after the XSAVE header, the components whose bits its XSTATE_BV
 * sets (one not set is in its initial state, zeros, and the bytes there
 * are whatever the stack held before). Where each component lies in the
 * frame (the standard format) CPUID leaf 0xD tells: read once, before
 * any thread is stopped.
 */
enum {
	XS_SSE = 1,       /* xmm0-15, in the FXSAVE area */
	XS_AVX = 2,       /* ymm0-15's upper halves */
	XS_ZMM_HI256 = 6, /* zmm0-15's upper halves */
	XS_HI16_ZMM = 7,  /* zmm16-31 whole */
	FX_XMM = 160,     /* xmm0 in the FXSAVE area */
	FX_SW_BYTES = 464, /* the kernel's record of the XSAVE area */
	XSAVE_HEADER = 512,
};
static uint32_t xs_offset[8], xs_size[8];

static void vector_layout(void)
{
	static bool done;
	static const int comps[] = { XS_AVX, XS_ZMM_HI256, XS_HI16_ZMM };
	if (done)
		return;
	for (size_t i = 0; i < sizeof(comps) / sizeof(comps[0]); i++) {
		unsigned a, b, c, d;
		if (__get_cpuid_count(0xd, (unsigned)comps[i], &a, &b, &c, &d)) {
			xs_size[comps[i]] = a;
			xs_offset[comps[i]] = b;
		}
	}
	done = true;
}

/* Words of bytes [at, at + len) of the frame's area that could be
 * addresses into s->vec, each named by its register: `per` bytes a
 * register, the first numbered `first`, `code` its kind. */
static void vector_words(const uint8_t *area, uint32_t at, uint32_t len,
			 uint32_t per, int first, int code,
			 struct ward__stopped *s)
{
	for (uint32_t off = 0; off + 8 <= len; off += 8) {
		uint64_t w;
		memcpy(&w, area + at + off, 8);
		if (w < 4096 || w >= 1ull << 57 || s->nvec == WARD__STOPPED_VEC)
			continue;
		s->vec[s->nvec] = (uintptr_t)w;
		s->vec_reg[s->nvec++] = (uint8_t)(code << 5 | (first + (int)(off / per)));
	}
}

static void save_vectors(const ucontext_t *uc, struct ward__stopped *s)
{
	const uint8_t *area = (const uint8_t *)uc->uc_mcontext.fpregs;
	s->nvec = 0;
	if (!area)
		return;
	struct { uint32_t magic1, extended_size; uint64_t xfeatures;
		 uint32_t xstate_size; } sw;
	memcpy(&sw, area + FX_SW_BYTES, sizeof(sw));
	uint64_t bv = 1u << XS_SSE; /* FXSAVE alone: the xmm are there */
	uint32_t size = 0;
	if (sw.magic1 == FP_XSTATE_MAGIC1) {
		memcpy(&bv, area + XSAVE_HEADER, 8);
		size = sw.xstate_size;
	}
	if (bv >> XS_SSE & 1)
		vector_words(area, FX_XMM, 16 * 16, 16, 0, XS_SSE, s);
	static const struct { int comp, per, first; } parts[] = {
		{ XS_AVX, 16, 0 }, { XS_ZMM_HI256, 32, 0 }, { XS_HI16_ZMM, 64, 16 },
	};
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		int c = parts[i].comp;
		if ((bv >> c & 1) && xs_offset[c] &&
		    xs_offset[c] + xs_size[c] <= size)
			vector_words(area, xs_offset[c], xs_size[c],
				     (uint32_t)parts[i].per, parts[i].first, c, s);
	}
}

const char *ward__vector_reg_name(uint8_t reg, char *buf, size_t len)
{
	int code = reg >> 5, n = reg & 31;
	snprintf(buf, len, "%s%d",
		 code == XS_SSE ? "xmm" : code == XS_AVX ? "ymm" : "zmm", n);
	return buf;
}

static void on_stop(int sig, siginfo_t *si, void *ctx)
{
	int saved = errno;
	ucontext_t *uc = ctx;
	uint32_t gen = atomic_load(&stop_gen);
	(void)si;

	int me = (int)syscall(SYS_gettid);
	int want = atomic_load(&stack_want_tid);
	if (want && want == me) {
		const greg_t *g = uc->uc_mcontext.gregs;
		stack_self = (uintptr_t)pthread_self();
		int n = ward__capture_context((uintptr_t)g[REG_RIP],
					      (uintptr_t)g[REG_RSP],
					      (uintptr_t)g[REG_RBP], stack_buf,
					      128);
		atomic_store(&stack_got, n);
		syscall(SYS_futex, (uint32_t *)&stack_got, FUTEX_WAKE_PRIVATE,
			1, NULL, NULL, 0);
	}

	if (gen == atomic_load(&release_gen)) {
		/* No stop: a request for this thread's stack, answered or
		 * given up on. */
		if (atomic_load(&stack_asleep_tid) == me) {
			struct asleep a = stack_asleep;
			sleep_again(uc, &a, sig);
		}
	} else {
		struct asleep a = { 0, 0, 0, 0 };
		bool again = was_asleep(me, &a);
		int i = atomic_fetch_add(&claimed, 1);
		if (i < slots_cap) {
			struct ward__stopped *s = &slots[i];
			const greg_t *g = uc->uc_mcontext.gregs;
			s->tid = me;
			for (int r = 0; r < NGREG && r < WARD__STOPPED_REGS; r++)
				s->regs[r] = (uintptr_t)g[r];
			save_vectors(uc, s);
			s->sp = (uintptr_t)g[REG_RSP];
			s->stack.self = (uintptr_t)pthread_self();
			s->stack.n = ward__capture_context(
				(uintptr_t)g[REG_RIP], (uintptr_t)g[REG_RSP],
				(uintptr_t)g[REG_RBP], s->stack.pcs,
				WARD__STOPPED_PCS);
		}
		atomic_fetch_add(&arrived, 1);
		while (atomic_load(&release_gen) != gen)
			syscall(SYS_futex, (uint32_t *)&release_gen,
				FUTEX_WAIT_PRIVATE, gen - 1, NULL, NULL, 0);
		if (again)
			sleep_again(uc, &a, sig);
	}
	errno = saved;
}

/*
 * What thread tid is doing, from /proc/self/task/TID/syscall: running,
 * asleep in a system call (*sp: its stack pointer), or asleep in
 * sigwait()/sigtimedwait(), which would take ward's signal for the
 * program's own were it sent one (the kernel unblocks the awaited
 * signals for the wait, so SigBlk does not show it).
 */
static enum doing doing_with_args(int tid, uintptr_t *sp, uintptr_t *pc,
				  long *nr_out, unsigned long *args)
{
	char buf[256];
	if (read_task_file(tid, "syscall", buf, sizeof(buf)) <= 0)
		return GONE;
	if (strncmp(buf, "running", 7) == 0)
		return RUNNING;
	/* "NR ARG1 .. ARG6 SP PC", or "-1 SP PC" when blocked elsewhere. */
	char *p = buf, *end;
	long nr = strtol(p, &end, 10);
	if (end == p)
		return RUNNING;
	*nr_out = nr;
	for (int k = 0, n = nr < 0 ? 0 : 6; k < n; k++) {
		unsigned long arg = strtoull(p = end, &end, 16);
		if (end == p)
			return RUNNING;
		if (args)
			args[k] = arg;
	}
	p = end;
	*sp = (uintptr_t)strtoull(p, &end, 16);
	if (end == p || *sp == 0)
		return RUNNING;
	if (pc) {
		p = end;
		*pc = (uintptr_t)strtoull(p, &end, 16);
		if (end == p)
			*pc = 0;
	}
	return nr == SYS_rt_sigtimedwait ? SIGWAIT : ASLEEP;
}

static enum doing doing_at(int tid, uintptr_t *sp, uintptr_t *pc,
			   long *nr_out)
{
	return doing_with_args(tid, sp, pc, nr_out, NULL);
}

static enum doing doing(int tid, uintptr_t *sp, long *nr_out)
{
	return doing_at(tid, sp, NULL, nr_out);
}

/*
 * Whether a thread asleep in system call nr would have it fail with EINTR
 * if a handler ran, SA_RESTART or not (signal(7)): the sleeps and waits
 * with a timeout. Sent ward's signal there, a program's sleep(3) would end
 * at once, its poll() return -1; such a thread's stack is read where it
 * sleeps instead.
 */
static bool ends_early(long nr)
{
	switch (nr) {
	case SYS_nanosleep:
	case SYS_clock_nanosleep:
	case SYS_poll:
	case SYS_ppoll:
	case SYS_select:
	case SYS_pselect6:
	case SYS_epoll_wait:
	case SYS_epoll_pwait:
#ifdef SYS_epoll_pwait2
	case SYS_epoll_pwait2:
#endif
	case SYS_pause:
	case SYS_rt_sigsuspend:
	case SYS_io_getevents:
	case SYS_io_uring_enter:
	case SYS_semop:
	case SYS_semtimedop:
	case SYS_msgrcv:
	case SYS_msgsnd:
		return true;
	default:
		return false;
	}
}

/*
 * Whether a thread asleep in system call nr while it blocks ward's signal
 * will soon take it: only around pthread_create(), which blocks every
 * signal in the creating thread across clone() and in the new thread
 * until it is set up. One asleep in anything else (a worker that blocks
 * every signal and waits on a futex or a pipe, as xz's do) never will:
 * waiting for it is only time lost at the program's exit. Under valgrind
 * every thread it is not running shows as blocking everything: there,
 * wait as for the others.
 */
static bool blocked_briefly(long nr)
{
	if (RUNNING_ON_VALGRIND)
		return true;
	switch (nr) {
	case SYS_clone:
#ifdef SYS_clone3
	case SYS_clone3:
#endif
	case SYS_rt_sigprocmask:
	case SYS_set_robust_list:
#ifdef SYS_rseq
	case SYS_rseq:
#endif
	case SYS_mmap:
	case SYS_mprotect:
	case SYS_madvise:
		return true;
	default:
		return false;
	}
}

/* Whether thread tid blocks signal sig (from its SigBlk mask). */
static bool blocks(int tid, int sig)
{
	char buf[4096];
	if (read_task_file(tid, "status", buf, sizeof(buf)) <= 0)
		return false; /* gone: nothing to stop */
	const char *p = strstr(buf, "SigBlk:");
	if (!p)
		return true;
	unsigned long long mask = strtoull(p + 7, NULL, 16);
	return (mask >> (sig - 1)) & 1;
}

/*
 * Whether the call nr (args as /proc shows them) that restarts() would
 * send back has a timeout, which going back would begin again whole: a
 * futex wait with one, or a call on a socket with SO_RCVTIMEO or
 * SO_SNDTIMEO set. Without one, the call goes back as the kernel would
 * restart it, and nothing is lost.
 */
static bool waits_with_timeout(long nr, const unsigned long *args)
{
	if (nr == SYS_futex)
		return args[3] != 0 &&
		       ((args[1] & FUTEX_CMD_MASK) == FUTEX_WAIT ||
			(args[1] & FUTEX_CMD_MASK) == FUTEX_WAIT_BITSET);
	if (nr == SYS_recvmmsg && args[4] != 0)
		return true;
	int timed_out, opt = socket_timeout_option(nr, &timed_out);
	return opt && socket_timeout((int)args[0], opt) != 0;
}

int ward__stop_signal(void)
{
	return SIGRTMAX - 1;
}

int ward__thread_stack(int tid, uintptr_t *pcs, int max, uintptr_t *self)
{
	int sig = ward__stop_signal();
	ward__mutex_lock(&stack_lock);
	if (!install(sig)) {
		ward__mutex_unlock(&stack_lock);
		return -ENOTSUP;
	}
	/* A thread in sigwait() would take it for the program's own; one
	 * asleep with it blocked will not answer (blocked_briefly()); one in
	 * a sleep would end it early (ends_early()), and one in a wait with
	 * a timeout would begin it again whole (waits_with_timeout()): when
	 * the caller need not know who it is, each is walked from where it
	 * sleeps, its frame pointer unknown (a frame found by it ends the
	 * walk). Any other is sent it: one running with it blocked answers
	 * within the second, or never; one asleep in a call the handler
	 * ends goes back into it (stack_asleep). */
	uintptr_t sp, pc = 0;
	long nr = -1;
	unsigned long args[6] = { 0 };
	enum doing d = doing_with_args(tid, &sp, &pc, &nr, args);
	bool unsendable = d == SIGWAIT || (d == ASLEEP && !blocked_briefly(nr) &&
					   blocks(tid, sig));
	if (!self && (unsendable ||
		      (d == ASLEEP && (ends_early(nr) ||
				       waits_with_timeout(nr, args))))) {
		ward__mutex_unlock(&stack_lock);
		/* Under valgrind, where the kernel says it sleeps is
		 * valgrind's own code: it is left asleep, its stack unread. */
		if (!pc || RUNNING_ON_VALGRIND)
			return -ETIMEDOUT;
		int n = ward__capture_asleep(pc, sp, pcs, max);
		return n > 0 ? n : -ETIMEDOUT;
	}
	if (unsendable) {
		ward__mutex_unlock(&stack_lock);
		return -ETIMEDOUT;
	}
	atomic_store(&stack_asleep_tid, 0);
	if (d == ASLEEP && restarts(nr) && pc && !RUNNING_ON_VALGRIND) {
		stack_asleep = (struct asleep){ tid, nr, sp, pc };
		atomic_store(&stack_asleep_tid, tid);
	}
	atomic_store(&stack_got, -1);
	atomic_store(&stack_want_tid, tid);
	int rc = -ESRCH;
	if (syscall(SYS_tgkill, getpid(), tid, sig) == 0) {
		/* A second at most: a thread that blocks every signal never
		 * answers. */
		struct timespec step = { 0, 10 * 1000 * 1000 };
		for (int i = 0; i < 100 && atomic_load(&stack_got) < 0; i++)
			syscall(SYS_futex, (uint32_t *)&stack_got,
				FUTEX_WAIT_PRIVATE, (uint32_t)-1, &step, NULL, 0);
		rc = atomic_load(&stack_got);
		if (rc < 0)
			rc = -ETIMEDOUT;
	}
	atomic_store(&stack_want_tid, 0);
	/* The handler writes into ward's buffer, never the caller's: one
	 * answering late finds no one to answer. */
	if (rc > 0) {
		if (rc > max)
			rc = max;
		memcpy(pcs, stack_buf, (size_t)rc * sizeof(*pcs));
		if (self)
			*self = stack_self;
	}
	ward__mutex_unlock(&stack_lock);
	return rc;
}

/* The tracer's sigaction() runs the program's handlers through a
 * trampoline that holds a signal back from a thread inside ward
 * (handlers.c) — ward's own threads always are: this one it leaves as it
 * is. */
bool ward__is_stop_handler(const struct sigaction *act)
{
	return act && (act->sa_flags & SA_SIGINFO) &&
	       act->sa_sigaction == on_stop;
}

static bool install(int sig)
{
	struct sigaction sa, old;
	if (installed)
		return true;
	if (sigaction(sig, NULL, &old) < 0 ||
	    ((old.sa_flags & SA_SIGINFO) ? old.sa_sigaction != NULL
					 : old.sa_handler != SIG_DFL))
		return false; /* the program's own */
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_stop;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigfillset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL) < 0)
		return false;
	installed = true;
	return true;
}

static bool is_held(int tid)
{
	for (int i = 0; i < nheld; i++)
		if (tab->held[i].tid == tid)
			return true;
	return false;
}

static bool is_stopped(int tid)
{
	for (int i = 0; i < nstopped; i++)
		if (slots[i].tid == tid)
			return true;
	return false;
}

void ward__threads_resume(void)
{
	if (atomic_load(&release_gen) == atomic_load(&stop_gen))
		return; /* nothing was stopped */
	atomic_store(&release_gen, atomic_load(&stop_gen));
	syscall(SYS_futex, (uint32_t *)&release_gen, FUTEX_WAKE_PRIVATE,
		INT32_MAX, NULL, NULL, 0);
	nstopped = 0;
}

/*
 * A thread may block every signal for a moment (pthread_create() does
 * around clone(), and a thread on its way out): wait a little for it. One
 * that still blocks it, or awaits it in sigwait(), is never sent it:
 * asleep in a system call, it is held instead (its stack read from where
 * it sleeps, its registers unread); running, nothing is stopped. The held
 * leave tids[0..*n). False when more are held than there is room for.
 *
 * The wait is by passes over those still blocking, a millisecond between
 * passes and at most 250 of them: a program starting threads by the
 * hundred has many in that moment at once, each to be waited for, and a
 * budget spent thread by thread would hold the last of them for good.
 */
static bool hold_unsignallable(int *tids, int *n, int sig)
{
	bool *settled = tab->settled;
	nheld = 0;
	memset(settled, 0, (size_t)*n * sizeof(*settled));
	for (int pass = 0;; pass++) {
		bool waiting = false;
		for (int i = 0; i < *n; i++) {
			if (settled[i])
				continue;
			uintptr_t sp = 0;
			long nr = -1;
			enum doing d = doing(tids[i], &sp, &nr);
			if (d == GONE || (d != SIGWAIT && !blocks(tids[i], sig))) {
				settled[i] = true; /* to be sent it, or gone */
				continue;
			}
			if (pass < 250 && d != SIGWAIT &&
			    (d != ASLEEP || blocked_briefly(nr))) {
				waiting = true;
				continue;
			}
			if (nheld == MAX_HELD)
				return false;
			/* Running, its stack moves under any read: only its
			 * TLS is read (sp 0). */
			tab->held[nheld].tid = tids[i];
			tab->held[nheld].sp =
				d == ASLEEP || d == SIGWAIT ? sp : 0;
			nheld++;
			--*n;
			tids[i] = tids[*n];
			settled[i] = settled[*n];
			i--;
		}
		if (!waiting)
			return true;
		struct timespec ms = { 0, 1000 * 1000 };
		nanosleep(&ms, NULL);
	}
}


static bool answered(int tid)
{
	int n = atomic_load(&claimed);
	for (int i = 0; i < n && i < slots_cap; i++)
		if (slots[i].tid == tid)
			return true;
	return false;
}

/*
 * Of those sent the signal that have not answered, the ones that never
 * will: ended since (a detached thread, its work done, blocks every
 * signal on its way out), or, when `hold` is set, asleep with it blocked
 * now — a thread on its way out waiting for a lock that a thread ward
 * stopped holds (glibc's stack cache, inside pthread_create()): those are
 * held as hold_unsignallable() holds them. Each is counted once (its sent
 * flag cleared); returns how many.
 */
static int never_answering(const int *tids, int n, int sig, bool hold)
{
	int lost = 0;
	for (int i = 0; i < n; i++) {
		if (!tab->sent[i] || answered(tids[i]))
			continue;
		uintptr_t sp = 0;
		long nr = -1;
		enum doing d = doing(tids[i], &sp, &nr);
		if (d == GONE) {
			tab->sent[i] = false;
			lost++;
		} else if (hold && d == ASLEEP && nheld < MAX_HELD &&
			   blocks(tids[i], sig)) {
			tab->held[nheld].tid = tids[i];
			tab->held[nheld].sp = sp;
			nheld++;
			tab->sent[i] = false;
			lost++;
		}
	}
	return lost;
}

/* Send sig to tids[0..n) and wait for each to answer, or end. Threads may
 * start while others are being stopped: list again until every thread
 * listed has answered. 0, -ETIMEDOUT when one did not, -E2BIG when they
 * were too many, -EAGAIN when new ones kept starting, -ENOBUFS when the
 * signal could not be queued (the user's pending signals at their limit,
 * RLIMIT_SIGPENDING), or why they could not be listed again. */
static int signal_all(int *tids, int n, int sig)
{
	int expected = 0, lost = 0;
	bool queue_full = false;
	atomic_store(&claimed, 0);
	atomic_store(&arrived, 0);
	atomic_store(&nasleep, 0);
	nstopped = 0;
	atomic_store(&stop_gen, atomic_load(&release_gen) + 1);
	/* A round that found the queue full does not count: a thread that
	 * takes the signal frees its place, and so do the program's own
	 * signals (any process of the user's: the count is the user's), and
	 * the rest go a millisecond later, for a second at most. */
	for (int round = 0, full = 0; round < 8 && n > 0 && full < 1000;) {
		if (queue_full) { /* a moment for the queue to drain */
			struct timespec ms = { 0, 1000 * 1000 };
			nanosleep(&ms, NULL);
		}
		queue_full = false;
		int sent_now = 0;
		for (int i = 0; i < n; i++) {
			note_asleep(tids[i]);
			tab->sent[i] = syscall(SYS_tgkill, getpid(), tids[i],
					       sig) == 0;
			queue_full |= !tab->sent[i] && errno == EAGAIN;
			sent_now += tab->sent[i];
		}
		expected += sent_now;
		if (queue_full)
			full++;
		else
			round++;
		struct timespec step = { 0, 100 * 1000 };
		int waited = 0;
		while (atomic_load(&arrived) + lost < expected &&
		       waited < 10000) {
			nanosleep(&step, NULL);
			if (++waited % 10 == 0) /* every millisecond */
				lost += never_answering(tids, n, sig,
							waited >= 100);
		}
		if (atomic_load(&arrived) + lost < expected)
			return -ETIMEDOUT; /* one did not answer */
		nstopped = atomic_load(&claimed);
		if (nstopped > slots_cap)
			return -E2BIG;
		int all = ward__list_threads(tids, MAX_STOPPED), k = 0;
		if (all < 0)
			return all;
		for (int i = 0; i < all; i++)
			if (!is_stopped(tids[i]) && !is_held(tids[i]))
				tids[k++] = tids[i];
		n = k;
	}
	if (n > 0) /* threads kept starting, or could not be sent it */
		return queue_full ? -ENOBUFS : -EAGAIN;
	return nstopped + nheld <= slots_cap ? 0 : -E2BIG;
}

int ward__threads_stop(const struct ward__stopped **out)
{
	int sig = ward__stop_signal();

	*out = NULL;
	if (!tab && !(tab = ward__map(sizeof(*tab))))
		return -ENOMEM;
	int *tids = tab->tids;
	int n = ward__list_threads(tids, MAX_STOPPED);
	if (n <= 0)
		return n; /* alone (0), or the threads cannot be listed */
	int want = n + n / 2 + 64 < MAX_STOPPED ? n + n / 2 + 64 : MAX_STOPPED;
	if (slots_cap < want) {
		void *m = ward__map((size_t)want * sizeof(*slots));
		if (!m)
			return -ENOMEM;
		ward__unmap(slots, (size_t)slots_cap * sizeof(*slots));
		slots = m;
		slots_cap = want;
	}
	if (!install(sig))
		return -EBUSY;
	vector_layout();
	if (!hold_unsignallable(tids, &n, sig))
		return -E2BIG;
	int rc = signal_all(tids, n, sig);
	if (rc < 0) {
		ward__threads_resume();
		return rc;
	}
	for (int i = 0; i < nheld; i++) {
		struct ward__stopped *h = &slots[nstopped + i];
		memset(h, 0, sizeof(*h));
		h->tid = tab->held[i].tid;
		h->sp = tab->held[i].sp;
		h->held = true;
	}
	*out = slots;
	return nstopped + nheld;
}

#else

bool ward__is_stop_handler(const struct sigaction *act)
{
	(void)act;
	return false;
}

int ward__thread_stack(int tid, uintptr_t *pcs, int max, uintptr_t *self)
{
	(void)tid; (void)pcs; (void)max; (void)self;
	return -ENOTSUP;
}

/* Elsewhere the registers cannot be read: only a process with no other
 * thread can be scanned. */
int ward__threads_stop(const struct ward__stopped **out)
{
	int tid;
	*out = NULL;
	return ward__list_threads(&tid, 1) == 0 ? 0 : -1;
}

void ward__threads_resume(void)
{
}

const char *ward__vector_reg_name(uint8_t reg, char *buf, size_t len)
{
	snprintf(buf, len, "v%d", reg);
	return buf;
}

#endif

/*
 * The one offset in this thread's descriptor that holds its id — and,
 * when this is not the main thread, the main thread's id in the main
 * thread's: where glibc keeps a thread's id. Found once.
 */
size_t ward__tid_offset(void)
{
	static _Atomic size_t known; /* the offset + 1; 0: not looked for */
	size_t at = atomic_load_explicit(&known, memory_order_relaxed);
	if (at)
		return at - 1;
	const pid_t *self = (const pid_t *)pthread_self();
	pid_t me = (pid_t)syscall(SYS_gettid), pid = getpid();
	const pid_t *main_td = (const pid_t *)ward__main_thread;
	size_t found = 0;
	for (size_t i = 1; i < 1024 / sizeof(pid_t); i++) {
		if (self[i] != me)
			continue;
		if (me != pid && main_td && main_td[i] != pid)
			continue;
		if (found) {
			found = 0; /* two candidates: neither */
			break;
		}
		found = i * sizeof(pid_t);
	}
	atomic_store_explicit(&known, found + 1, memory_order_relaxed);
	return found;
}

int ward__tid_of(uintptr_t thread)
{
	size_t at = ward__tid_offset();
	pid_t tid = 0;
	struct iovec local = { &tid, sizeof(tid) },
		     remote = { (void *)(thread + at), sizeof(tid) };
	if (!at || !thread ||
	    process_vm_readv(getpid(), &local, 1, &remote, 1, 0) != sizeof(tid))
		return -1;
	return tid > 0 ? tid : 0;
}

void ward__each_thread_stack(const uintptr_t *threads, size_t nthreads,
			     void (*fn)(uintptr_t self, const uintptr_t *pcs,
					int n, void *arg),
			     void *arg, int budget_ms)
{
	uint64_t end = ward__now_ns() + (uint64_t)budget_ms * 1000000;
	uintptr_t pcs[64];
	if (ward__tid_offset()) {
		/* Each by its id, the others left alone; one asleep is not
		 * woken (ward__thread_stack() with self NULL). */
		for (size_t i = 0; i < nthreads && ward__now_ns() < end; i++) {
			int tid = ward__tid_of(threads[i]);
			int k = tid > 0 && tid != (int)syscall(SYS_gettid)
					? ward__thread_stack(tid, pcs, 64, NULL)
					: 0;
			if (k > 0)
				fn(threads[i], pcs, k, arg);
		}
		return;
	}
	/* Ids unknown: every thread is asked who it is. */
	int tids[256];
	int n = ward__list_threads(tids, 256);
	for (int i = 0; i < n && ward__now_ns() < end; i++) {
		uintptr_t self = 0;
		int k = ward__thread_stack(tids[i], pcs, 64, &self);
		if (k > 0)
			fn(self, pcs, k, arg);
	}
}
