/*
 * intercept.c — the logic behind the LD_PRELOAD interposers in preload/:
 * which acquisitions to record (kinds, sampling), what happens around
 * fork() and exec, and the report written when the program ends.
 *
 * Configuration comes from the environment, which `ward run` sets:
 *   WARD_OUTPUT        profile path; "%p" becomes the pid, "%%" a '%'
 *                      (unset: no file); relative: from the directory
 *                      the program started in
 *   WARD_OUTPUT_PID    the process that writes WARD_OUTPUT itself; any
 *                      other (a forked child, or this one's children)
 *                      writes WARD_OUTPUT.PID. `ward run` sets it to the
 *                      program it starts.
 *   WARD_RUN_BEGAN     SECONDS.NANOSECONDS, when the run began: a process
 *                      whose WARD_OUTPUT.PID an earlier process of the run
 *                      wrote (its pid was used again) writes
 *                      WARD_OUTPUT.PID-2, -3, ..., and snapshots and
 *                      checks skip the numbers written in the run.
 *                      `ward run` sets it.
 *   WARD_SUMMARY       text report path, "%p" likewise (unset: stderr;
 *                      "none": no report, only the profile — ward run
 *                      prints the report itself, from the profile)
 *   WARD_SAMPLE        mean bytes between heap samples; 0 = every block
 *   WARD_KINDS         comma list of heap,fd,file,thread (default all)
 *   WARD_FOLLOW_FORKS  0: a forked child records nothing
 *   WARD_FOLLOW_EXEC   0: programs this one executes run without ward
 *   WARD_SNAPSHOT_SIGNAL  a signal (USR1, USR2, RTMIN+N or a number of
 *                      one of those) that writes a snapshot, OUTPUT.snapN,
 *                      without stopping the program
 *   WARD_HTTP          HOST:PORT: serve /debug/pprof/ and /metrics there
 *                      (include/ward/http.h); loopback unless
 *                      WARD_HTTP_REMOTE=1
 *
 * What ward keeps of its own lives out of the program's way: no
 * descriptor at all (a profile is written even when the program has used
 * up its descriptors, see save_without_descriptor()); a snapshot thread
 * (only with a snapshot signal) that blocks the program's signals;
 * and, for the signals that would end the program with their default
 * action (TERM, INT, HUP, QUIT, PIPE, SEGV, BUS, ABRT, FPE, ILL), a
 * handler that writes the profile and then ends the program by the same
 * signal. The program sees those signals at their default (sigaction()
 * and signal() answer SIG_DFL) and takes one over by setting its own.
 *
 * Only the process whose books these are reports: a vfork() child shares
 * the parent's memory, and reports nothing.
 *
 * Sampling (WARD_SAMPLE > 0), as jemalloc and Go do it: each thread counts
 * down the bytes it allocates; when the count crosses zero the block is
 * recorded with its stack and a new distance is drawn from an exponential
 * distribution with the configured mean. Exported values are scaled back
 * the way Go scales its heap profile. free() must tell sampled blocks from
 * the rest without a table lookup per call: a two-level table counts the
 * sampled blocks live on each 4 KiB page, and only frees on pages with a
 * count look in the registry.
 *
 * Re-entry: ward__in_registry is raised while ward does its own work, so
 * its own allocations go straight to libc.
 */
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "trace/intercept.h"
#include "lifetime/threads.h"
#include "capture/capture.h"
#include "core/clock.h"
#include "core/env.h"
#include "core/file.h"
#include "core/grow.h"
#include "core/log.h"
#include "core/thread.h"
#include "core/map.h"
#include "core/stacks.h"
#include "core/text.h"
#include "export/export.h"
#include "lifetime/lifetime.h"
#include "registry/registry.h"
#include "scan/scan.h"
#include "ward/profile.h"
#include "serve/serve.h"
#include "snapshot/profile.h"
#include "snapshot/symbolize.h"
#include "ward/core.h"
#include "ward/http.h"
#include "ward/trace.h"
#include "ward/track.h"

/* glibc's own sigaction, which the preload's interposer stands in front of. */
extern int __sigaction(int sig, const struct sigaction *act,
		       struct sigaction *old);

static struct {
	bool kinds[WARD_KIND_USER];
	uint64_t rate;
	bool follow_forks;
	pid_t output_pid; /* writes output itself; 0: every process does */
	struct timespec run_began; /* WARD_RUN_BEGAN; 0: not known */
	char output[PATH_MAX];
	char summary[PATH_MAX];
	char log[PATH_MAX]; /* where ward run takes ward's lines when standard
			     * error is no longer the one the program
			     * started with ("": nowhere) */
	char note[PATH_MAX]; /* where ward run wants to be told why there is
			      * no profile ("": standard error) */
	int snap_signal; /* 0: none */
	bool no_scan;	 /* WARD_SCAN=0 */
	bool json;	 /* WARD_SUMMARY_FORMAT=json */
	char why[1024];	 /* WARD_WHY: the sites whose holders are told */
	char heap_by[PATH_MAX]; /* who defines the malloc the program calls,
				 * when not ward ("": ward) */
} cfg;

/* A bit per signal ward's handler holds while the program has set none
 * (the fatal ones, the snapshot signal); the program sees them at their
 * default, and takes one over by setting its own action. */
static _Atomic uint64_t held;

/* Acquisitions are recorded only between init and the exit report. */
static _Atomic bool active;
/* A leak check the program asked for is under way (below), in this
 * thread: the exit's report waits for one. */
static _Atomic int checking;
static __thread bool checking_here;

/* Until init, the heap blocks allocated are noted as early ones (roots of
 * the exit scan, src/registry/early.c): the libraries a program links
 * initialise before this one, and their constructors allocate. */
static _Atomic bool before_start = true;

/* Releases are recorded from init on, the exit report's time included: a
 * thread still running while exit() reports keeps freeing and closing
 * until the scan stops it, and what it released meanwhile is not live
 * (left in the books, a block it freed read as lost). Off only where the
 * books are given up (a forked child told to record nothing). */
static _Atomic bool releasing;

static bool releases_recorded(void)
{
	return atomic_load_explicit(&releasing, memory_order_relaxed);
}

/* The process whose books these are (set at init and in a forked child). */
static pid_t books_pid;

__thread struct ward__trace_tls ward__trace
	__attribute__((tls_model("initial-exec")));
void (*ward__exit_heap)(void);
uintptr_t ward__exit_sp;


enum { LINE_MAX_BYTES = PATH_MAX + 256 };

/* fmt's line into line[size], made printable (a path or a program's name
 * may hold a newline, or a terminal's escapes), cut to fit and ended by a
 * newline: its length, or -1. */
static __attribute__((format(printf, 3, 0))) int
format_line(char *line, size_t size, const char *fmt, va_list ap)
{
	int n = vsnprintf(line, size - 1, fmt, ap);
	if (n < 0)
		return -1;
	if ((size_t)n > size - 2)
		n = (int)size - 2;
	line[n] = '\0';
	ward__printable(line);
	line[n++] = '\n';
	return n;
}

/*
 * ward's lines go to the standard error the program started with, and
 * only there: a program that closed descriptor 2 and opened a file of its
 * own in its place (a daemon's log, a data file) must not find ward's
 * words in it. The file descriptor 2 names is known by its device and
 * inode at start; when it has changed, the lines go to the file ward run
 * made for them (WARD_LOG), which it prints when the program ends, or
 * nowhere.
 */
static struct {
	bool known;
	dev_t dev;
	ino_t ino;
} err_start;

static void err_remember(void)
{
	struct stat st;
	err_start.known = fstat(2, &st) == 0;
	err_start.dev = st.st_dev;
	err_start.ino = st.st_ino;
}

/* Descriptor 2 when it is still the standard error the program started
 * with, else a descriptor on WARD_LOG (to be closed), else -1. */
static int err_open(void)
{
	struct stat st;
	if (err_start.known && fstat(2, &st) == 0 &&
	    st.st_dev == err_start.dev && st.st_ino == err_start.ino)
		return 2;
	if (!cfg.log[0])
		return -1;
	return open(cfg.log, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
}

static void err_close(int fd)
{
	if (fd > 2)
		close(fd);
}

/* Whether len bytes written to fd now fit the program's file size limit:
 * a line cut short is no line. */
static bool fits(int fd, size_t len)
{
	struct stat st;
	struct rlimit rl;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    getrlimit(RLIMIT_FSIZE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
		return true;
	int fl = fcntl(fd, F_GETFL);
	off_t at = fl >= 0 && (fl & O_APPEND) ? st.st_size
					      : lseek(fd, 0, SEEK_CUR);
	return at >= 0 && (uint64_t)at + len <= rl.rlim_cur;
}

/* text on standard error (err_open()), whole or not at all: 0, or
 * -errno (-EFBIG: it does not fit the file size limit). */
static int err_write(const char *text, size_t len)
{
	int fd = err_open(), rc = -EBADF;
	if (fd >= 0)
		rc = fits(fd, len) ? ward__write_all(fd, text, len) : -EFBIG;
	err_close(fd);
	return rc;
}

/* The library's own messages, where the tracer's go. */
static void log_to_err(void *opaque, enum ward_log_level level,
		       const char *msg, size_t len)
{
	(void)opaque;
	(void)level;
	err_write(msg, len);
}

/* One line on standard error, without stdio (its lock may be held by the
 * code a signal interrupted). */
static __attribute__((format(printf, 1, 2))) void say(const char *fmt, ...)
{
	char line[LINE_MAX_BYTES];
	va_list ap;
	va_start(ap, fmt);
	int n = format_line(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 0)
		err_write(line, (size_t)n);
}


/* ---- Events ------------------------------------------------------------ */

__attribute__((noinline)) void ward__intercept_alloc(void *p, size_t size)
{
	if (!p || ward__in_registry)
		return;
	if (!atomic_load_explicit(&active, memory_order_relaxed)) {
		if (atomic_load_explicit(&before_start, memory_order_relaxed))
			ward__early_note((uintptr_t)p, size);
		return;
	}
	if (!cfg.kinds[WARD_KIND_HEAP])
		return;
	if (__builtin_expect(ward__trace.lsan_disabled > 0, 0)) {
		/* Between __lsan_disable() and __lsan_enable(): no leak,
		 * and a root of the scan, as an ignored block. */
		ward__guard_raise();
		ward__early_ignore((uintptr_t)p, size);
		ward__guard_lower();
		return;
	}
	if (cfg.rate) {
		/* The interposer has counted size down already (see
		 * ward__alloc_unsampled()); here the count crossed zero. */
		if (ward__countdown > 0)
			return;
		ward__guard_raise();
		bool due = ward__sample_due();
		if (due)
			ward__sample_take((uintptr_t)p);
		ward__guard_lower();
		if (!due)
			return;
	}
	ward__guard_raise();
	ward__track_at(WARD_KIND_HEAP, (uintptr_t)p, size, 2);
	ward__guard_lower();
}

/* Set in a child forked without the fork handlers: the allocator's
 * ranges may be locked for good there, and no scan reads them. */
static bool maps_aside;

static uintptr_t page_end(const void *p, size_t len)
{
	uintptr_t end = (uintptr_t)p + len;
	return end < (uintptr_t)p ? UINTPTR_MAX : (end + 4095) & ~(uintptr_t)4095;
}

void ward__intercept_mapped(const void *p, size_t len, bool by_allocator)
{
	if (maps_aside)
		return;
	if (by_allocator)
		ward__scan_allocator_mapped((uintptr_t)p, page_end(p, len));
	else
		ward__scan_unmapped((uintptr_t)p, page_end(p, len));
}

void ward__intercept_break_grew(const void *p, size_t len)
{
	if (!maps_aside)
		ward__scan_break_grew((uintptr_t)p, (uintptr_t)p + len);
}

void ward__intercept_unmapped(const void *p, size_t len)
{
	if (!maps_aside)
		ward__scan_unmapped((uintptr_t)p, page_end(p, len));
}

void ward__intercept_ignore(const void *p)
{
	uint32_t site;
	uint64_t size;
	if (!p || ward__in_registry || !cfg.kinds[WARD_KIND_HEAP])
		return;
	ward__guard_raise();
	if (ward__registry_find(WARD_KIND_HEAP, (uintptr_t)p, &site, &size) &&
	    ward__untrack(WARD_KIND_HEAP, (uintptr_t)p) == 0) {
		if (cfg.rate)
			ward__sample_drop((uintptr_t)p);
		ward__early_ignore((uintptr_t)p, size);
	}
	ward__guard_lower();
}

/* A block ward has no record of was freed: one inherited from the
 * parent, one allocated before ward started, or one the program had
 * ward ignore. */
static void forget_unrecorded(void *p)
{
	if (!ward__blocks_inherited_forget((uintptr_t)p))
		ward__early_forget((uintptr_t)p);
}

__attribute__((noinline)) void ward__intercept_free(void *p)
{
	if (!p || ward__in_registry)
		return;
	if (!releases_recorded()) {
		if (atomic_load_explicit(&before_start, memory_order_relaxed))
			ward__early_forget((uintptr_t)p);
		return;
	}
	if (!cfg.kinds[WARD_KIND_HEAP])
		return;
	if (cfg.rate && !ward__page_has_sampled((uintptr_t)p))
		return;
	ward__guard_raise();
	int rc = ward__untrack(WARD_KIND_HEAP, (uintptr_t)p);
	if (rc == 0 && cfg.rate)
		ward__sample_drop((uintptr_t)p);
	else if (rc == -ENOENT)
		forget_unrecorded(p);
	ward__guard_lower();
}

uint32_t ward__intercept_realloc_take(void *old, uint64_t *size)
{
	if (!old || ward__in_registry || !releases_recorded() ||
	    !cfg.kinds[WARD_KIND_HEAP])
		return 0;
	if (cfg.rate && !ward__page_has_sampled((uintptr_t)old))
		return 0;
	ward__guard_raise();
	uint32_t site = ward__realloc_take((uintptr_t)old, size);
	ward__guard_lower();
	return site;
}

void ward__intercept_realloc_settle(void *old, uint32_t site, uint64_t size,
				    bool failed)
{
	if (!old || ward__in_registry)
		return;
	ward__guard_raise();
	if (site)
		ward__realloc_settle((uintptr_t)old, site, size, failed);
	else if (!failed)
		forget_unrecorded(old);
	ward__guard_lower();
}

__thread int ward__vfork_child __attribute__((tls_model("initial-exec")));

/* Whether an event of kind in this thread is the books' to record: in a
 * vfork() child only the heap is (Python's subprocess module closes every
 * descriptor above 2 there, and took them off the parent's books). */
static inline bool books_kind(int kind)
{
	return kind == WARD_KIND_HEAP || !ward__vfork_child;
}

bool ward__intercept_recording(int kind)
{
	return !ward__in_registry &&
	       atomic_load_explicit(&active, memory_order_relaxed) &&
	       cfg.kinds[kind] && books_kind(kind);
}

__attribute__((noinline)) void ward__intercept_acquire(int kind,
							uintptr_t handle)
{
	if (!ward__intercept_recording(kind))
		return;
	WARD__ENTER();
	ward__guard_raise();
	/* A handle the program got back (an fd number reused after a close
	 * ward did not see) replaces the old record. */
	/* Descriptors, FILEs and threads have no size: 0 bytes, so they
	 * never mix into byte totals. */
	if (ward__track_at(kind, handle, 0, 2) == -EEXIST) {
		ward__untrack(kind, handle);
		ward__track_at(kind, handle, 0, 2);
	}
	ward__guard_lower();
	WARD__LEAVE();
}

void ward__intercept_release(int kind, uintptr_t handle)
{
	if (ward__in_registry || !releases_recorded() || !cfg.kinds[kind] ||
	    !books_kind(kind))
		return;
	WARD__ENTER();
	ward__guard_raise();
	ward__untrack(kind, handle);
	ward__guard_lower();
	WARD__LEAVE();
}

/* The books of the threads followed to their end (lifetime/threads.c):
 * the tracer's records, kept while it records threads. */
static bool threads_followed(void)
{
	return ward__intercept_recording(WARD_KIND_THREAD);
}

static void thread_let_go(uintptr_t handle)
{
	ward__intercept_release(WARD_KIND_THREAD, handle);
}

static const struct ward__thread_books thread_books = {
	.following = threads_followed,
	.release = thread_let_go,
};

/* ---- Paths ------------------------------------------------------------- */

/*
 * A path from the environment, made absolute from the directory the
 * program started in: a program that moves elsewhere (a daemon's
 * chdir("/")) must not take ward's files with it, into a directory the
 * user never named. Left relative when that directory has no name any
 * more. -ENAMETOOLONG when it does not fit out.
 */
static int from_start_dir(char *out, size_t len, const char *path)
{
	size_t n = 0;
	if (path[0] != '/' && path[0] && getcwd(out, len)) {
		n = strlen(out);
		if (n > 1 && n + 1 < len)
			out[n++] = '/';
		else if (n > 1)
			return -ENAMETOOLONG;
	}
	if ((size_t)snprintf(out + n, len - n, "%s", path) >= len - n)
		return -ENAMETOOLONG;
	return 0;
}

/*
 * Whether path was written since the run began: by an earlier process of
 * the run that had this one's pid (pids are used again: 32,768 of them
 * in many containers, fewer than a long build starts).
 */
static bool written_in_this_run(const char *path)
{
	struct stat st;
	const struct timespec *b = &cfg.run_began;
	return b->tv_sec && stat(path, &st) == 0 &&
	       (st.st_mtim.tv_sec > b->tv_sec ||
		(st.st_mtim.tv_sec == b->tv_sec &&
		 st.st_mtim.tv_nsec >= b->tv_nsec));
}

/* ".PID" (again 1) or ".PID-N" (again N) at out; -ENAMETOOLONG when it
 * does not fit. */
static int pid_suffix(char *out, size_t len, int pid, unsigned again)
{
	int n = again > 1 ? snprintf(out, len, ".%d-%u", pid, again)
			  : snprintf(out, len, ".%d", pid);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/*
 * This process's name for a file from template tmpl: "%p" becomes the pid
 * and "%%" a '%'; a process other than cfg.output_pid (when set) adds
 * ".PID", or ".PID-N" when an earlier process of the run with the same
 * pid wrote that name (N from 2, chosen once a process: its snapshots and
 * checks take the same name). Returns 0, or -ENAMETOOLONG when it does
 * not fit (nothing is truncated).
 */
static int expand_path(char *out, size_t len, const char *tmpl)
{
	size_t k = 0;
	int pid = (int)getpid();
	for (const char *s = tmpl; *s; s++) {
		int n;
		if (s[0] == '%' && s[1] == 'p') {
			n = snprintf(out + k, len - k, "%d", pid);
			s++;
		} else if (s[0] == '%' && s[1] == '%') {
			n = snprintf(out + k, len - k, "%%");
			s++;
		} else {
			n = snprintf(out + k, len - k, "%c", *s);
		}
		if (n < 0 || (size_t)n >= len - k)
			return -ENAMETOOLONG;
		k += (size_t)n;
	}
	out[k] = '\0';
	if (!cfg.output_pid || pid == cfg.output_pid)
		return 0;
	static pid_t chosen_by; /* the process that chose `again` */
	static unsigned again;  /* 1: ".PID"; else ".PID-N" */
	if (chosen_by != pid) {
		for (again = 1; again < 10000; again++)
			if (pid_suffix(out + k, len - k, pid, again) < 0 ||
			    !written_in_this_run(out))
				break;
		chosen_by = pid;
	}
	return pid_suffix(out + k, len - k, pid, again);
}

/* ---- Saving ------------------------------------------------------------ */

static void to_mem(void *opaque, const void *data, size_t len)
{
	ward__buf_add(opaque, data, len);
}

/*
 * When the program has used up its descriptors (the very case of a
 * descriptor leak), or set a file size limit the profile does not fit
 * (`ulimit -f`), the profile is written where one is free and the limit
 * is raised if it can be (ward__with_descriptor): the bytes prepared
 * here, written with system calls only, into a new file renamed over the
 * old.
 */
struct write_job {
	const char *data;
	size_t len;
	const char *tmp, *path;
};

static int write_prepared(void *arg)
{
	const struct write_job *j = arg;
	long fd = syscall(SYS_openat, AT_FDCWD, j->tmp,
			  O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	for (size_t off = 0; off < j->len;) {
		long w = syscall(SYS_write, fd, j->data + off, j->len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int err = w < 0 ? errno : EIO;
			syscall(SYS_close, fd);
			syscall(SYS_unlink, j->tmp);
			return -err;
		}
		off += (size_t)w;
	}
	syscall(SYS_close, fd);
	if (syscall(SYS_rename, j->tmp, j->path) < 0) {
		int err = errno;
		syscall(SYS_unlink, j->tmp);
		return -err;
	}
	return 0;
}

/* data saved as path from the helper. */
static int save_in_helper(const char *path, const char *data, size_t len)
{
	char target[PATH_MAX], tmp[PATH_MAX + 32];
	int rc = ward__save_target(path, target, sizeof(target));
	if (rc < 0)
		return rc;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%d", target,
			     (int)getpid()) >= sizeof(tmp))
		return -ENAMETOOLONG;
	struct write_job j = { data, len, tmp, target };
	return ward__with_descriptor(write_prepared, &j);
}

static int save_without_descriptor(const ward_profile_t *p, const char *path)
{
	struct ward__buf m = { 0 };
	int rc = ward_profile_write(p, WARD_FORMAT_PPROF, to_mem, &m);
	if (rc == 0 && m.oom)
		rc = -ENOMEM;
	if (rc == 0)
		rc = save_in_helper(path, m.p, m.len);
	free(m.p);
	return rc;
}

struct bytes {
	const char *data;
	size_t len;
};

static int fill_bytes(int fd, void *ctx)
{
	const struct bytes *b = ctx;
	return ward__write_all(fd, b->data, b->len);
}

/*
 * The report written to path (WARD_SUMMARY): a regular file or a new path
 * whole and atomically, as the profile, never half a report; a terminal,
 * a FIFO or a link to an open descriptor (/dev/stderr) written into at its
 * end, never replaced or truncated. A FIFO nobody reads is an error, not
 * a program that hangs at exit.
 */
static int save_report(const char *path, const char *data, size_t len)
{
	char target[PATH_MAX];
	int rc = ward__save_target(path, target, sizeof(target));
	if (rc == -EEXIST || rc == -EBADFD) {
		int fd = open(path, O_WRONLY | O_APPEND | O_NOCTTY | O_CLOEXEC |
					    O_NONBLOCK);
		if (fd < 0)
			return -errno;
		rc = fcntl(fd, F_SETFL, O_APPEND) < 0 ? -errno : 0;
		if (rc == 0)
			rc = ward__write_all(fd, data, len);
		close(fd);
		return rc;
	}
	if (rc < 0)
		return rc;
	struct bytes b = { data, len };
	rc = ward__save_atomic(target, fill_bytes, &b);
	if (rc == -EMFILE || rc == -EFBIG)
		rc = save_in_helper(target, data, len);
	return rc;
}

/*
 * Why the exit profile was not written, in one line. The process ward run
 * started tells ward run, through the file ward run made for it
 * (WARD_NOTE; written into, never created), and ward run prints it as the
 * one line: the tracer's own reason, not one ward run guesses from how the
 * program ended. Elsewhere, or when that file cannot be opened, the line
 * goes to standard error.
 */
struct note_job {
	const char *line;
	size_t n;
	int write_err; /* when the note was opened but not written */
};

/* The note written; 0, or -errno when it could not be opened (1 when it
 * was opened but not written, j->write_err saying why). System calls
 * only: it may run in ward__with_descriptor()'s helper. */
static int write_note(void *arg)
{
	struct note_job *j = arg;
	long fd = syscall(SYS_openat, AT_FDCWD, cfg.note,
			  O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	int rc = ward__write_all((int)fd, j->line, j->n);
	if (rc < 0) /* no part of a line: ward run reads none */
		syscall(SYS_ftruncate, fd, 0);
	syscall(SYS_close, fd);
	j->write_err = rc < 0 ? -rc : 0;
	return rc < 0 ? 1 : 0;
}

/* 0: the line is in the note; 1: the note was opened but the line does
 * not fit (it is left empty); -errno: the note could not be opened. */
static int to_note(const char *line, size_t n)
{
	if (!cfg.note[0] || cfg.output_pid != getpid())
		return -ENOENT;
	struct note_job j = { line, n, 0 };
	int rc = write_note(&j);
	/* A program that used up its descriptors, or set its limit to
	 * none, or a file size limit the line does not fit (RLIMIT_FSIZE
	 * applies to the note too): where one is free and the limit raised
	 * (ward run would guess the wrong reason). */
	if (rc == -EMFILE || (rc == 1 && j.write_err == EFBIG))
		rc = ward__with_descriptor(write_note, &j);
	return rc;
}

static __attribute__((format(printf, 1, 2))) void
say_no_profile(const char *fmt, ...)
{
	/* The line for the note after the words standard error's takes. */
	static const char head[] = "ward: no profile: ";
	enum { HEAD = sizeof(head) - 1 };
	char whole[HEAD + LINE_MAX_BYTES], *line = whole + HEAD;
	memcpy(whole, head, HEAD);
	va_list ap;
	va_start(ap, fmt);
	int n = format_line(line, LINE_MAX_BYTES, fmt, ap);
	va_end(ap);
	int noted = n < 0 ? 0 : to_note(line, (size_t)n);
	if (noted == 0)
		return;
	/* On standard error instead. Said there whole, a note left empty is
	 * removed, which tells ward run so; else it stays, and ward run says
	 * why there is no profile as best it can tell (a file size limit
	 * that neither could take). A note that could not be opened keeps
	 * what it was told ahead. */
	if (err_write(whole, HEAD + (size_t)n) == 0 && noted == 1)
		syscall(SYS_unlink, cfg.note);
}

/* ward run told now, ahead of a call after which this process may not
 * reach the note (an exec, a chroot); errno as it was. */
static __attribute__((format(printf, 1, 2))) void
tell_ahead(const char *fmt, ...)
{
	int saved = errno;
	char line[LINE_MAX_BYTES];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 0 && (size_t)n < sizeof(line))
		to_note(line, (size_t)n);
	errno = saved;
}

/* What tell_ahead() said, taken back: the call failed. The mark that
 * ward ran stays. */
void ward__intercept_take_back(void)
{
	int saved = errno;
	to_note("\n", 1);
	errno = saved;
}

/*
 * The program is about to run another in its place (exec). When that one
 * will not load ward — its environment has no LD_PRELOAD naming ward's
 * library: a program that cleans its environment and runs itself again,
 * whose name the kernel keeps — this process ends with no profile and
 * nothing of ward's left to say why: ward run is told now. A failed exec
 * takes it back.
 */
void ward__intercept_exec(const char *path, char *const envp[])
{
	for (char *const *e = envp; e && *e; e++)
		if (strncmp(*e, "LD_PRELOAD=", 11) == 0 &&
		    strstr(*e, "libward_preload"))
			return;
	tell_ahead("it ran %s in its place (exec) without ward's library in "
		   "LD_PRELOAD\n",
		   path ? path : "another program");
}

/*
 * The program is about to change its root directory (chroot, as a daemon
 * that drops privileges does). From its new root the profile's path and
 * ward run's note are most often out of reach: the tracer could neither
 * write the profile nor tell ward run why, and ward run would guess wrong
 * (that the program ended without its exit handlers). ward run is told
 * now; a profile written after all (read by ward run first) makes the
 * line moot, and a chroot that fails takes it back.
 */
void ward__intercept_chroot(const char *path)
{
	tell_ahead("it changed its root directory to %s (chroot), and the "
		   "profile's path was out of reach from there\n",
		   path ? path : "another");
}

/*
 * The program is about to move to a mount namespace of its own. What it
 * mounts there (a tmpfs over the directory the profile goes to, as a
 * sandbox does) hides the profile from ward run, which would guess wrong
 * (that the program ended without its exit handlers): it is told now. A
 * profile it finds after all makes the line moot.
 */
void ward__intercept_mount_ns(const char *how)
{
	tell_ahead("it moved to a mount namespace of its own (%s), and the "
		   "profile's path was out of reach from there\n",
		   how);
}

/* The program is about to restrict its own access to files (Landlock, as
 * a sandboxed parser does): the profile's path and the note are most
 * often out of reach from there, as after a chroot; told now, the same
 * way. */
void ward__intercept_landlock(void)
{
	tell_ahead("it restricted its own access to files (Landlock), and the "
		   "profile's path was out of reach from there\n");
}

/* A descriptor limit of none, from which even ward's helper
 * (ward__with_descriptor(), which raises its own copy of a soft limit)
 * can open nothing without the privilege to raise a hard one. */
void ward__intercept_no_descriptors(void)
{
	tell_ahead("it set its descriptor limit to none (RLIMIT_NOFILE 0), "
		   "and the profile could not be opened from there\n");
}

/*
 * The program is about to put itself in a seccomp sandbox, whose filter
 * may end it for any system call the filter does not allow — and ward
 * cannot read the filter. ward then makes no call of its own from there
 * on: no report at exit, no snapshot, no endpoint (stopped now, while
 * every call is still allowed); the one line why is said now, and the
 * program ends as it would alone (before, its exit status became a kill
 * by SIGSYS when ward's exit asked for its pid). A filter the kernel
 * refuses takes it back (the endpoint stays stopped, and fatal signals
 * end the program without a profile).
 */
static bool sandbox_stopped;
static _Atomic bool sandboxed;

/* Signal sig's default action, which ward held, back to the program. */
static void give_default_back(int sig)
{
	struct sigaction dfl;
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	atomic_fetch_and(&held, ~(1ull << sig));
	__sigaction(sig, &dfl, NULL);
}

bool ward__intercept_sandboxed(void)
{
	return atomic_load_explicit(&sandboxed, memory_order_relaxed);
}

void ward__intercept_sandbox(const char *how)
{
	int saved = errno;
	sandbox_stopped = atomic_exchange(&active, false);
	if (sandbox_stopped) {
		atomic_store(&sandboxed, true);
		ward_http_stop();
		/* The signals whose default ward held (to write the profile
		 * first) get it back: the program ends by them as alone. */
		uint64_t h = atomic_load(&held);
		for (int sig = 1; sig < 64; sig++)
			if (h & (1ull << sig))
				give_default_back(sig);
		say_no_profile("it put itself in a seccomp sandbox (%s), whose "
			       "filter a call of ward's at exit could break: "
			       "ward made none from there on",
			       how);
	}
	errno = saved;
}

void ward__intercept_sandbox_done(bool refused)
{
	int saved = errno;
	if (refused && sandbox_stopped) {
		ward__intercept_take_back();
		atomic_store(&sandboxed, false);
		atomic_store(&active, true);
	}
	sandbox_stopped = false;
	errno = saved;
}

/* Write profile p to this process's name for cfg.output (with suffix);
 * one line on failure. */
static void save_profile(const ward_profile_t *p, const char *suffix)
{
	char path[PATH_MAX], why[LINE_MAX_BYTES];
	if (expand_path(path, sizeof(path), cfg.output) < 0 ||
	    strlen(path) + strlen(suffix) >= sizeof(path)) {
		snprintf(why, sizeof(why),
			 "the path from %s is longer than %d bytes",
			 cfg.output, PATH_MAX - 1);
	} else {
		strcat(path, suffix);
		char target[PATH_MAX];
		int rc = ward__save_profile_target(path, target,
						   sizeof(target));
		if (rc >= 0)
			rc = ward_profile_save(p, path, WARD_FORMAT_PPROF);
		if (rc == -EMFILE || rc == -EFBIG)
			rc = save_without_descriptor(p, path);
		if (rc >= 0)
			return;
		snprintf(why, sizeof(why), "cannot write %s: %s", path,
			 ward__save_strerror(rc));
	}
	if (*suffix)
		say("ward: no snapshot: %s", why);
	else
		say_no_profile("%s", why);
}

/* ---- Fork -------------------------------------------------------------- */

static void snapshots_start(void);

/* The registry's own fork handlers hold its locks across fork(); they
 * were registered first, so they unlock before this child handler runs. */
static void after_fork_child(void)
{
	/* The endpoint's thread stayed in the parent: so do its sockets. */
	ward__http_forked();
	ward__scan_allocator_forked();
	atomic_store(&checking, 0); /* another thread's, in the parent */
	if (!atomic_load(&active)) {
		atomic_store(&releasing, false);
		return;
	}
	if (!cfg.follow_forks) {
		atomic_store(&active, false);
		atomic_store(&releasing, false);
		cfg.output[0] = cfg.summary[0] = '\0';
		return;
	}
	books_pid = getpid();
	ward__threads_forked();
	/* The parent's blocks are the child's inherited ones (roots of
	 * its scan, not its leaks); its own books start empty. */
	ward__blocks_set_aside();
	ward__registry_reset();
	if (cfg.kinds[WARD_KIND_FD])
		ward__intercept_fds_note();
	/* The parent's snapshot thread did not come along. */
	if (cfg.snap_signal)
		snapshots_start();
}

/*
 * A child forked without the fork handlers (_Fork(), a fork or clone
 * system call of the program's own): its copy of ward's locks is as the
 * parent's threads held them at that instant, and one held then stays
 * held for good. ward stands aside there, as with --no-follow-forks:
 * nothing recorded, nothing written. Such a child most often only opens,
 * duplicates and closes descriptors and execs (the calls safe after a
 * fork in a threaded program); under ward each of those could once wait
 * for a lock forever. A program it execs is traced anew.
 */
void ward__intercept_forked_raw(void)
{
	maps_aside = true;
	atomic_store(&active, false);
	atomic_store(&releasing, false);
	cfg.output[0] = cfg.summary[0] = '\0';
	ward__http_forked();
}

/* ---- Snapshots on a signal --------------------------------------------- */

/*
 * The handler only posts a semaphore (no descriptor the program could
 * close or reuse); a thread of ward's waits on it and writes the snapshot
 * from an ordinary context, so nothing unsafe runs in the handler and the
 * program never stops. The thread blocks every signal but the scan's, so
 * the program's signals go to the program's threads. The memory is the
 * process's own: a signal sent to a forked child snapshots the child.
 */
static sem_t snap_sem;
static unsigned snap_count;

/*
 * The next of this process's OUT.WHATN (snapshots, checks) that no
 * process of the run wrote: a program that executes another in its own
 * process (its pid, its name) starts counting again, and the other's
 * files would replace its own.
 */
static unsigned next_number(unsigned *count, const char *what)
{
	char path[PATH_MAX];
	unsigned n = ++*count;
	if (!cfg.output[0] || expand_path(path, sizeof(path), cfg.output) < 0)
		return n;
	size_t k = strlen(path);
	for (int tries = 0; tries < 10000; tries++, n = ++*count) {
		int len = snprintf(path + k, sizeof(path) - k, ".%s%u", what, n);
		if (len < 0 || (size_t)len >= sizeof(path) - k ||
		    !written_in_this_run(path))
			break;
	}
	return n;
}

static void snap_handler(int sig)
{
	int saved = errno;
	(void)sig;
	sem_post(&snap_sem);
	errno = saved;
}

static void *snap_thread(void *arg)
{
	(void)arg;
	ward__guard_raise(); /* this thread's own work is not the program's */
	for (;;) {
		if (sem_wait(&snap_sem) < 0)
			continue; /* EINTR */
		if (!atomic_load(&active) || !cfg.output[0] ||
		    getpid() != books_pid)
			continue;
		char suffix[32];
		snprintf(suffix, sizeof(suffix), ".snap%u",
			 next_number(&snap_count, "snap"));
		ward_profile_t *p = ward_profile_snapshot();
		if (p) {
			save_profile(p, suffix);
			ward_profile_free(p);
		}
	}
	return NULL;
}

static void snapshots_start(void)
{
	sem_init(&snap_sem, 0, 0);
	int rc = ward__thread_start(NULL, snap_thread, NULL, true,
				    ward__stop_signal());
	if (rc != 0)
		say("ward: no snapshots: cannot start a thread: %s",
		    strerror(-rc));
}

WARD_API int ward_trace_signal_number(const char *s)
{
	static const struct {
		const char *name;
		int sig;
	} names[] = { { "USR1", SIGUSR1 }, { "USR2", SIGUSR2 } };
	char *end;
	long v;
	if (!s)
		return -EINVAL;
	if (strncmp(s, "SIG", 3) == 0)
		s += 3;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i].name) == 0)
			return names[i].sig;
	if (strncmp(s, "RTMIN", 5) == 0) {
		v = s[5] == '\0' ? 0 : s[5] == '+' ? strtol(s + 6, &end, 10) : -1;
		if (s[5] == '+' && (*end || end == s + 6))
			return -EINVAL;
		v += SIGRTMIN;
	} else {
		v = strtol(s, &end, 10);
		if (*end || end == s)
			return -EINVAL;
	}
	/* Only signals whose default would end the program quietly and that
	 * nothing else sends on its own: USR1, USR2, the real-time ones (but
	 * the one ward stops threads with). A fault signal would loop. */
	if (v == SIGUSR1 || v == SIGUSR2 ||
	    (v >= SIGRTMIN && v <= SIGRTMAX && v != ward__stop_signal()))
		return (int)v;
	return -ERANGE;
}

static void snapshots_setup(const char *name)
{
	int sig = ward_trace_signal_number(name);
	if (sig < 0) {
		say("ward: no snapshots: WARD_SNAPSHOT_SIGNAL=%s is not USR1, "
		    "USR2 or a real-time signal",
		    name);
		return;
	}
	cfg.snap_signal = sig;
	snapshots_start();
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = snap_handler;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (__sigaction(sig, &sa, NULL) == 0 && sig < 64)
		atomic_fetch_or(&held, 1ull << sig);
}

/* ---- Signals that end the program -------------------------------------- */

/*
 * For each signal whose default action ends the program, and which the
 * program left at its default, ward installs a handler that writes the
 * profile, puts the default back and raises the signal again, so the
 * program ends exactly as it would have (same signal, same core dump).
 *
 * A signal that arrives while its thread is inside the allocator or ward's
 * own bookkeeping (ward__trace.busy) would deadlock on their locks: an
 * asynchronous one (TERM, INT, ...) is noted and acted on when the call
 * returns (WARD__LEAVE()); a fault there cannot wait, and ends the
 * program with one line saying why there is no profile.
 */
static const int fatal_signals[] = {
	SIGTERM,   SIGINT,  SIGHUP,  SIGQUIT, SIGPIPE, SIGSEGV,
	SIGBUS,    SIGABRT, SIGFPE,  SIGILL,  SIGALRM, SIGUSR1,
	SIGUSR2,   SIGXCPU, SIGXFSZ, SIGSYS,  SIGTRAP, SIGVTALRM,
	SIGPROF,   SIGIO,   SIGPWR,  SIGSTKFLT,
};
static __thread int reporting __attribute__((tls_model("initial-exec")));

static bool holds(int sig)
{
	return sig > 0 && sig < 64 &&
	       (atomic_load_explicit(&held, memory_order_acquire) >> sig & 1);
}

/* End the process by sig with its default action. */
static void die_by(int sig, bool refault)
{
	give_default_back(sig);
	if (refault)
		return; /* the faulting instruction runs again */
	sigset_t one;
	sigemptyset(&one);
	sigaddset(&one, sig);
	pthread_sigmask(SIG_UNBLOCK, &one, NULL);
	raise(sig);
	_exit(128 + sig);
}

/* The thread writing the exit report (0 before it begins): it ends the
 * process when it is done. */
static _Atomic pid_t report_tid;

/*
 * A signal sent to a process group reaches the program twice under ward
 * run: once itself, once as ward run passes on its own copy (`timeout`,
 * `kill %1`, a service manager's stop, `kill -- -PGID`). The second, a
 * moment after the first and on any thread, must not end the process
 * halfway through the report the first began. The thread writing it
 * blocks that signal meanwhile: handled there, on the alternate stack's
 * top (the thread runs on the report's own stack by then), the handler's
 * frame would overwrite the first handler's, to which the report
 * returns. Any other thread that takes it waits for the report, which
 * ends the process. A fault is never waited out: it ends the process as
 * before.
 */
static void report_for_signal(int sig)
{
	sigset_t one, was;
	sigemptyset(&one);
	sigaddset(&one, sig);
	pthread_sigmask(SIG_BLOCK, &one, &was);
	reporting = sig;
	ward__intercept_report();
	reporting = 0;
	pthread_sigmask(SIG_SETMASK, &was, NULL);
}

/*
 * The exit's report, written by this thread outside any handler (exit(),
 * a return from main): the program had ended, and the report is ward's
 * time, not the program's. An ending signal that arrives then (a
 * supervisor's timeout, a ^C at a report that seems slow) would throw the
 * report away where, without ward, it would have found the process gone.
 * The first is let pass, said in a line, and the report goes on, the
 * process then ending as the program asked; a second ends it (the same
 * signal again within a second is the first's copy, which ward run
 * passes on when it was sent to the process group). Not where
 * the thread is on its alternate stack (exit() from a handler set with
 * SA_ONSTACK): a handler's frame there would overwrite that one's.
 */
static __thread bool exit_report_here
	__attribute__((tls_model("initial-exec")));
static _Atomic int let_pass;
static uint64_t let_pass_at;
enum { SAME_REQUEST_NS = 1000000000 };

static int altstack(const stack_t *ss, stack_t *old);

static bool on_alternate_stack(void)
{
	stack_t ss;
	return altstack(NULL, &ss) != 0 || (ss.ss_flags & SS_ONSTACK);
}

static bool signal_let_pass(int sig, bool fault)
{
	if (fault || !exit_report_here)
		return false;
	/* Only this thread comes here: a second signal can come in between,
	 * on it. The time is set before the signal is. */
	int was = atomic_load(&let_pass);
	if (was)
		return was == sig &&
		       ward__now_ns() - let_pass_at < SAME_REQUEST_NS;
	let_pass_at = ward__now_ns();
	atomic_store(&let_pass, sig);
	say("ward: signal %d while the exit's report is written: the report "
	    "goes on, and the program ends as it asked (a second signal ends "
	    "it now)",
	    sig);
	return true;
}

static void wait_for_report(bool fault)
{
	pid_t writer = atomic_load(&report_tid);
	if (fault || !writer || writer == (pid_t)syscall(SYS_gettid))
		return;
	for (;;)
		pause();
}

static void on_fatal(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;
	bool fault = ward__raised_by_fault(sig, si);
	/* A fault runs its instruction again once the default is back; a
	 * trap (int3) has run it, and would go on from the next one. */
	bool refault = fault && sig != SIGTRAP;
#if defined(__x86_64__)
	if (uc) /* on the alternate stack, the scan reads on from there */
		ward__trace.interrupted_sp =
			(uintptr_t)((ucontext_t *)uc)->uc_mcontext.gregs[REG_RSP];
#endif
	wait_for_report(fault);
	if (signal_let_pass(sig, fault)) {
		errno = saved;
		return;
	}
	if (reporting) {
		say_no_profile("signal %d while writing it after signal %d",
			       sig, reporting);
		die_by(sig, refault);
		return;
	}
	if (getpid() == books_pid && atomic_load(&active)) {
		if (ward__trace.busy || ward__in_registry) {
			if (!fault) {
				ward__trace.fatal_pending = sig;
				errno = saved;
				return;
			}
			say_no_profile("signal %d inside the allocator or "
				       "ward's bookkeeping",
				       sig);
		} else {
			report_for_signal(sig);
		}
	}
	die_by(sig, refault);
	errno = saved;
}

void ward__intercept_after(void)
{
	if (ward__trace.signal_waiting)
		ward__intercept_run_waiting();
	if (ward__trace.fatal_pending)
		ward__intercept_fatal_resume();
}

void ward__intercept_fatal_resume(void)
{
	int sig = ward__trace.fatal_pending;
	ward__trace.fatal_pending = 0;
	report_for_signal(sig);
	die_by(sig, false);
}

/*
 * A stack that overflowed leaves no room for a handler: the fault would
 * kill the program before ward's handler could run. The main thread gets
 * an alternate signal stack of ward's (when it has none), on which the
 * handler runs (SA_ONSTACK) long enough to move to the report's own
 * stack. A program that sets its own replaces it, as it would the
 * default; other threads run the handler on their stacks. A program's
 * own handler set with SA_ONSTACK but no alternate stack of its own runs
 * there too: a quarter of a megabyte, reserved (pages backed as they are
 * touched), so that one that needs more than a few pages still fits.
 */
enum { FAULT_STACK = 256 << 10 };
static void *fault_stack;

/* sigaltstack() itself, past the tracer's. */
static int altstack(const stack_t *ss, stack_t *old)
{
	return (int)syscall(SYS_sigaltstack, ss, old);
}

static void fault_stack_setup(void)
{
	stack_t ss;
	if (altstack(NULL, &ss) != 0 || !(ss.ss_flags & SS_DISABLE))
		return;
	void *p = ward__map_reserve(FAULT_STACK);
	if (!p)
		return;
	ss.ss_sp = p;
	ss.ss_size = FAULT_STACK;
	ss.ss_flags = 0;
	if (altstack(&ss, NULL) != 0)
		ward__unmap(p, FAULT_STACK);
	else
		fault_stack = p;
}

/* The program sees no alternate stack where ward's is, as it would see
 * none without ward; setting its own replaces ward's. */
int ward__intercept_sigaltstack(const stack_t *ss, stack_t *old)
{
	stack_t was;
	int rc = altstack(ss, &was);
	if (rc != 0 || !old)
		return rc;
	*old = was;
	if (fault_stack && was.ss_sp == fault_stack) {
		old->ss_sp = NULL;
		old->ss_size = 0;
		old->ss_flags = SS_DISABLE | (was.ss_flags & SS_ONSTACK);
	}
	return 0;
}

static void fatal_setup(void)
{
	struct sigaction sa, old;
	fault_stack_setup();
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fatal;
	/* NODEFER: a fault while writing the profile reaches on_fatal again
	 * and says so, instead of killing the process in silence. */
	sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_RESTART | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(fatal_signals) / sizeof(*fatal_signals);
	     i++) {
		int sig = fatal_signals[i];
		if (__sigaction(sig, NULL, &old) == 0 &&
		    !(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_DFL) {
			atomic_fetch_or(&held, 1ull << sig);
			__sigaction(sig, &sa, NULL);
		}
	}
}

int ward__intercept_sigaction(int sig, const struct sigaction *act,
			      struct sigaction *old)
{
	if (!holds(sig))
		return ward__handlers_sigaction(sig, act, old);
	if (act) {
		int rc = ward__handlers_sigaction(sig, act, NULL);
		if (rc < 0)
			return rc;
		atomic_fetch_and(&held, ~(1ull << sig));
		if (sig == cfg.snap_signal)
			say("ward: no more snapshots on signal %d: the program "
			    "set its own action for it",
			    sig);
	}
	if (old) {
		memset(old, 0, sizeof(*old));
		old->sa_handler = SIG_DFL;
		sigemptyset(&old->sa_mask);
	}
	return 0;
}

/* ---- Set-up ------------------------------------------------------------ */

static void report_at_exit(void)
{
	ward__intercept_report();
}

/* The kinds WARD_KINDS names, a comma list of heap, fd, file and thread:
 * only those are recorded. A name not among them refuses the list, and
 * every kind is recorded (read otherwise, a misspelt list would record
 * nothing and say nothing). */
static void choose_kinds(const char *list)
{
	static const char *const names[] = {
		[WARD_KIND_HEAP] = "heap", [WARD_KIND_FD] = "fd",
		[WARD_KIND_FILE] = "file", [WARD_KIND_THREAD] = "thread",
	};
	enum { NAMES = sizeof(names) / sizeof(names[0]) };
	bool want[WARD_KIND_USER] = { false };
	int named = 0;
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", list);
	for (char *save, *t = strtok_r(buf, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		int k = 0;
		while (k < NAMES && strcmp(t, names[k]))
			k++;
		if (k == NAMES) {
			say("ward: WARD_KINDS=%s: no kind '%s' (kinds are heap, "
			    "fd, file, thread); recording every kind",
			    list, t);
			return;
		}
		want[k] = true;
		named++;
	}
	if (!named) {
		say("ward: WARD_KINDS=%s names no kind; recording every kind",
		    list);
		return;
	}
	memcpy(cfg.kinds, want, sizeof(want));
}

/* Whether the LD_PRELOAD entry of n bytes at name is this library. */
static bool names_self(const char *name, size_t n, const struct stat *self)
{
	char path[PATH_MAX];
	struct stat st;
	if (n == 0 || n >= sizeof(path))
		return false;
	memcpy(path, name, n);
	path[n] = '\0';
	return stat(path, &st) == 0 && st.st_dev == self->st_dev &&
	       st.st_ino == self->st_ino;
}

/*
 * Programs this one executes run without ward: its own entry leaves
 * LD_PRELOAD, and the program's other preloads stay (a library the user
 * preloads beside ward still reaches every program). The value is
 * rewritten where it lies — it only shrinks — so nothing is allocated
 * before the program starts; with nothing left the variable goes.
 */
static void drop_own_preload(void)
{
	char *list = getenv("LD_PRELOAD");
	Dl_info info;
	struct stat self;
	if (!list)
		return;
	if (!dladdr((void *)drop_own_preload, &info) || !info.dli_fname ||
	    stat(info.dli_fname, &self) != 0) {
		unsetenv("LD_PRELOAD");
		return;
	}
	char *out = list;
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ": ");
		if (n && !names_self(p, n, &self)) {
			if (out != list)
				*out++ = ':';
			memmove(out, p, n);
			out += n;
		}
		p += n;
		if (*p)
			p++;
	}
	*out = '\0';
	if (out == list)
		unsetenv("LD_PRELOAD");
}

void ward__intercept_init(void)
{
	static bool done;
	const char *s;

	if (done)
		return;
	done = true;
	ward__guard_raise();
	err_remember();
	ward_set_log_hook(log_to_err, NULL);
	books_pid = getpid();
	ward__threads_kept_by(&thread_books);
	ward__main_thread = (uintptr_t)pthread_self(); /* constructors run there */
	ward__stacks_init();
	for (int k = 0; k < WARD_KIND_USER; k++)
		cfg.kinds[k] = true;
	if ((s = getenv("WARD_KINDS")) && *s)
		choose_kinds(s);
	if (cfg.kinds[WARD_KIND_FD]) {
		ward__intercept_fds_note();
		ward__fds_unseen = ward__intercept_fds_unseen;
	}
	unsigned long long v;
	if (ward__env_number("WARD_SAMPLE", 0, WARD_SAMPLE_MOST, &v,
			     "recording every block") > 0)
		cfg.rate = v;
	if (cfg.rate && !ward__sample_pages_ready()) {
		say("ward: recording every block: WARD_SAMPLE needs 8 MiB of "
		    "address space, and the system refused it");
		cfg.rate = 0;
	}
	atomic_store(&ward__sample_rate, cfg.rate);
	cfg.follow_forks = ward__env_flag("WARD_FOLLOW_FORKS", true,
					  "forked children record");
	if (!ward__env_flag("WARD_FOLLOW_EXEC", true,
			    "executed programs run with ward"))
		drop_own_preload();
	if (ward__env_number("WARD_OUTPUT_PID", 1, INT_MAX, &v,
			     "every process writes WARD_OUTPUT") > 0)
		cfg.output_pid = (pid_t)v;
	if ((s = getenv("WARD_RUN_BEGAN"))) {
		char *end;
		unsigned long long sec = strtoull(s, &end, 10), ns = 0;
		if (*end == '.')
			ns = strtoull(end + 1, &end, 10);
		if (*end == '\0' && ns < 1000000000ull) {
			cfg.run_began.tv_sec = (time_t)sec;
			cfg.run_began.tv_nsec = (long)ns;
		}
	}
	if ((s = getenv("WARD_OUTPUT")) &&
	    from_start_dir(cfg.output, sizeof(cfg.output), s) < 0) {
		say("ward: no profile: WARD_OUTPUT is longer than %d bytes",
		    PATH_MAX - 1);
		cfg.output[0] = '\0';
	}
	if ((s = getenv("WARD_NOTE")) && s[0] == '/' &&
	    (size_t)snprintf(cfg.note, sizeof(cfg.note), "%s", s) >=
		    sizeof(cfg.note))
		cfg.note[0] = '\0';
	/* ward's mark in the note: its library ran in this process (a note
	 * left as ward run made it, empty, means the loader never got as far
	 * as ward's library). What is told later replaces it. */
	to_note("\n", 1);
	if ((s = getenv("WARD_LOG")) && s[0] == '/' &&
	    (size_t)snprintf(cfg.log, sizeof(cfg.log), "%s", s) >=
		    sizeof(cfg.log))
		cfg.log[0] = '\0';
	if ((s = getenv("WARD_SUMMARY")) && strcmp(s, "none") == 0)
		strcpy(cfg.summary, "none");
	else if (s && from_start_dir(cfg.summary, sizeof(cfg.summary), s) < 0) {
		say("ward: WARD_SUMMARY is longer than %d bytes: the report goes "
		    "to standard error",
		    PATH_MAX - 1);
		cfg.summary[0] = '\0';
	}
	/* Read now, not at exit: a program may clear its environment before
	 * it ends (or change it from another thread while ward reads). */
	cfg.no_scan = !ward__env_flag("WARD_SCAN", true, "scanning at exit");
	static const char *const formats[] = { "text", "json", NULL };
	cfg.json = ward__env_choice("WARD_SUMMARY_FORMAT", formats,
				    "the report is text") == 1;
	if ((s = getenv("WARD_WHY")) &&
	    (size_t)snprintf(cfg.why, sizeof(cfg.why), "%s", s) >=
		    sizeof(cfg.why)) {
		say("ward: WARD_WHY is longer than %zu bytes: no holders are told",
		    sizeof(cfg.why) - 1);
		cfg.why[0] = '\0';
	}
	ward__registry_fork_handlers();
	pthread_atfork(NULL, NULL, after_fork_child);
	atexit(report_at_exit);
	at_quick_exit(report_at_exit);
	if ((s = getenv("WARD_SNAPSHOT_SIGNAL")) && *s)
		snapshots_setup(s);
	/* The endpoint is the program's: under ward run, the process it
	 * started (WARD_OUTPUT_PID), not every program that one runs (each
	 * would open a port of its own, or fail to take the same one). */
	if ((s = getenv("WARD_HTTP")) && *s &&
	    (!cfg.output_pid || cfg.output_pid == getpid())) {
		int port = ward_http_start(
			s, ward__env_flag("WARD_HTTP_REMOTE", false,
					  "serving on loopback only")
				   ? WARD_HTTP_ANY_ADDRESS
				   : 0);
		if (port < 0)
			say("ward: no endpoint: WARD_HTTP=%s: %s", s,
			    port == -EINVAL ? "not a loopback HOST:PORT "
					      "(WARD_HTTP_REMOTE=1 allows others)"
					    : strerror(-port));
		else
			say("ward: serving /debug/pprof/ and /metrics on port %d "
			    "(pid %d)", port, (int)getpid());
	}
	fatal_setup();
	ward__spare_keep();
	ward__guard_lower();
	atomic_store(&releasing, true);
	atomic_store(&active, true);
	atomic_store(&before_start, false);
}

/* ---- The report -------------------------------------------------------- */

/* The report is made in memory, then saved where WARD_SUMMARY says or
 * written to standard error with system calls, not stdio: it may be
 * written from a signal handler. */
/* Whether path names the file this process's profile goes to (the same
 * name, or the same file by another): the report must not replace it. */
static bool is_profile(const char *path)
{
	char prof[PATH_MAX];
	struct stat a, b;
	return cfg.output[0] &&
	       expand_path(prof, sizeof(prof), cfg.output) == 0 &&
	       (strcmp(prof, path) == 0 ||
		(stat(prof, &a) == 0 && stat(path, &b) == 0 &&
		 a.st_dev == b.st_dev && a.st_ino == b.st_ino));
}

static void write_report(const ward_profile_t *p)
{
	struct ward__buf m = { 0 };
	if (cfg.json) {
		ward_profile_write(p, WARD_FORMAT_JSON, to_mem, &m);
	} else {
		char head[160];
		snprintf(head, sizeof(head), "live at exit (pid %d)%s",
			 (int)getpid(),
			 cfg.rate ? ", estimated from samples" : "");
		ward__write_summary(p, head, cfg.kinds, to_mem, &m);
	}
	if (m.oom) {
		say("ward: no report: out of memory for it");
		free(m.p);
		return;
	}
	bool to_err = true;
	if (cfg.summary[0]) {
		char path[PATH_MAX];
		int rc = expand_path(path, sizeof(path), cfg.summary);
		if (rc < 0)
			say("ward: the report path from %s is too long: the "
			    "report goes to standard error",
			    cfg.summary);
		else if ((rc = is_profile(path) ? -EEXIST : 0) < 0)
			say("ward: WARD_SUMMARY names the profile's own file, "
			    "%s: the report goes to standard error", path);
		else if ((rc = save_report(path, m.p, m.len)) < 0)
			say("ward: cannot write the report to %s: %s; it goes "
			    "to standard error",
			    path, ward__save_strerror(rc));
		to_err = rc < 0;
	}
	if (to_err)
		err_write(m.p, m.len);
	free(m.p);
}

/*
 * Threads still running at exit: each walks its own stack from where
 * ward's signal finds it (the scan's, when it ran), and the report shows
 * that stack beside the one that started it, labelled "running at exit".
 * At most a second and a half in all. A thread asleep with every signal
 * blocked is not asked (it would not answer): its leak is reported with
 * the stack that started it only. A detached one (threads.c) is the
 * program's choice to let it run: labelled so, and still reachable, as
 * a block a global points to is; a joinable one nobody joined is a leak.
 */
#define RUNNING "running at exit"
#define RUNNING_DETACHED "running at exit (detached)"

/* arg: an int counting the threads labelled. */
static void note_running(uintptr_t self, const uintptr_t *pcs, int n,
			 void *arg)
{
	uint32_t site, blocked;
	uint64_t size;
	if (!ward__registry_find(WARD_KIND_THREAD, self, &site, &size))
		return; /* not one the books hold as live */
	const char *label = ward__thread_is_detached(self) ? RUNNING_DETACHED
							   : RUNNING;
	if ((blocked = ward__site_intern(WARD_KIND_THREAD, pcs, n)) &&
	    ward__owner_leftover(WARD_KIND_THREAD, self, label, blocked) == 0)
		++*(int *)arg;
}

/* p's threads split by the labels note_running() gave; the detached
 * ones' samples still reachable. 0 or -ENOMEM. */
static int split_running(struct ward_profile *p)
{
	if (ward__profile_split_by_label(p, RUNNING) < 0 ||
	    ward__profile_split_by_label(p, RUNNING_DETACHED) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < p->count; i++) {
		struct ward_sample *s = &p->samples[i];
		if (s->kind == WARD_KIND_THREAD && s->owner &&
		    strcmp(s->owner, RUNNING_DETACHED) == 0)
			s->leak = WARD_LEAK_REACHABLE;
	}
	return 0;
}

struct thread_list {
	uintptr_t *v;
	size_t n, cap;
};

static void list_thread(uintptr_t handle, uint32_t site, uint64_t size,
			void *opaque)
{
	(void)site;
	(void)size;
	struct thread_list *l = opaque;
	if (l->n < l->cap)
		l->v[l->n++] = handle;
}

static void note_running_threads(int *noted)
{
	struct ward_kind_stats st;
	if (ward_kind_stats(WARD_KIND_THREAD, &st) != 0 || !st.live_count)
		return;
	/* The live ones, and room for a few started meanwhile. */
	struct thread_list l = { NULL, 0, (size_t)st.live_count + 64 };
	if (!(l.v = calloc(l.cap, sizeof(*l.v))))
		return;
	ward__registry_each(WARD_KIND_THREAD, list_thread, &l);
	ward__each_thread_stack(l.v, l.n, note_running, noted, 1500);
	free(l.v);
}

static void to_stderr(void *opaque, const void *buf, size_t len)
{
	(void)opaque;
	err_write(buf, len);
}

/* What the exit's scan cost, among p's figures: "scan: blocks N, took_us
 * T" (a figure can be left out when memory is short). */
static void note_scan(ward_profile_t *p, const struct ward__scan_result *r,
		      uint64_t ns)
{
	ward__profile_add_figure(p, "scan", "", "blocks",
				 "Heap blocks the exit's reachability scan "
				 "classified.", false, r->blocks);
	ward__profile_add_figure(p, "scan", "", "took_us",
				 "The exit's scan, in microseconds: threads "
				 "stopped, the heap read, its blocks "
				 "classified.", false, ns / 1000);
	/* The summary says the classification is partial from this, when
	 * it called a block lost (the one class such a thread can have made
	 * wrong). */
	if (r->held)
		ward__profile_add_figure(
			p, "scan", "", "threads_unread",
			"Threads whose registers the scan could not read "
			"(they block ward's signal or await it): a block "
			"only their registers held shows as lost.",
			false, (uint64_t)r->held);
	if (r->unread)
		ward__profile_add_figure(
			p, "scan", "", "memory_unread",
			"Bytes of memory the scan left unread: neither "
			"/proc/self/pagemap nor mincore() could tell which "
			"pages were ever touched, and reading them would "
			"have faulted in every other (a block only they "
			"held shows as lost).",
			false, r->unread);
}

/* Who holds it (WARD_WHY, ward run --why): the paths the scan found. */
static void tell_who_holds(const char *why, const struct ward__scan_result *r)
{
	if (r->npaths == 0) {
		say("ward: who holds: no block still reachable at a site "
		    "matching '%s' (a lost block has no holder)", why);
		return;
	}
	if (ward__write_paths(r->paths, r->npaths, to_stderr, NULL) < 0)
		say("ward: who holds: out of memory");
}

/* The lowest address the thread's own stack may reach: its bounds, or
 * for the main thread (whose low end ward does not ask) its limit. */
static uintptr_t own_stack_lo(uintptr_t hi)
{
	if (ward__stack_lo > 4096)
		return ward__stack_lo;
	uintptr_t most = (uintptr_t)1 << 30;
	struct rlimit rl;
	if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < most)
		most = rl.rlim_cur;
	return hi > most ? hi - most : 0;
}

/*
 * Which stacks the report's thread holds live frames on. Usually its own,
 * from the report's caller up. But a program's handler installed with
 * SA_ONSTACK may call exit() (a stack overflow's handler often does), or
 * ward's own fault handler run there: then the alternate stack from the
 * report's frame up (the handler's frames, the interrupted registers the
 * kernel saved) and the thread's own stack from where the handler
 * interrupted it (the trampoline and on_fatal note it). And a coroutine
 * may call exit() on a stack of the program's making: then that stack up
 * to the outermost frame a walk finds on it, and the thread's own stack
 * whole (where the coroutine left it is not known). Never the span
 * between two stacks, which holds whatever is mapped there.
 */
static void find_stacks(struct ward__scan_self *self)
{
	uintptr_t here = self->stack_lo, hi = self->stack_hi;
	uintptr_t lo = own_stack_lo(hi);
	if (here >= lo && here < hi)
		return;
	stack_t ss;
	if (altstack(NULL, &ss) == 0 && (ss.ss_flags & SS_ONSTACK) &&
	    here >= (uintptr_t)ss.ss_sp &&
	    here < (uintptr_t)ss.ss_sp + ss.ss_size) {
		self->other_lo = here;
		self->other_hi = (uintptr_t)ss.ss_sp + ss.ss_size;
		uintptr_t sp = ward__trace.interrupted_sp;
		self->stack_lo = sp >= lo + 128 && sp < hi ? sp - 128 : 0;
		return;
	}
	enum { DEPTH = 64, MOST = 64 << 20 };
	uintptr_t pcs[DEPTH], cfas[DEPTH], top = here;
	int n = ward__capture_frames(self->pc, self->sp, self->bp, pcs, cfas,
				     DEPTH);
	for (int i = 0; i < n; i++)
		if (cfas[i] > top && cfas[i] - here < MOST)
			top = cfas[i];
	self->other_lo = here;
	self->other_hi = top;
	self->stack_lo = 0;
}

static void report(const struct ward__scan_self *self);

/*
 * The report runs on a stack of ward's own: the program's may have little
 * room left — a thread made with a small stack, an alternate signal stack
 * of a few kilobytes, a stack that overflowed — and the report needs more.
 * Reserved when the report starts (pages are backed as they are touched),
 * one of ward's mappings (the scan does not read it), never unmapped. When
 * it cannot be had, the report runs where it is.
 */
enum { REPORT_STACK = 8 << 20 };

static void report_on_own_stack(void *self)
{
	report(self);
}

/*
 * A program that used up its data limit (RLIMIT_DATA: private writable
 * memory, malloc's heap among it) or its address space (RLIMIT_AS) — the
 * leak ward is there to show — leaves the report nothing to allocate
 * from (the spare ward keeps covers only an address-space limit the
 * program set itself). Each is lifted for the report where it may be (to
 * none with CAP_SYS_RESOURCE, else to the hard limit) and set back after
 * it: the program's own memory and limits are as it left them. With
 * system calls: the preload's setrlimit() is the program's.
 */
static const int lifted_limits[2] = { RLIMIT_DATA, RLIMIT_AS };

static unsigned limits_lift(struct rlimit was[2])
{
	unsigned lifted = 0;
	for (int i = 0; i < 2; i++) {
		int r = lifted_limits[i];
		if (syscall(SYS_prlimit64, 0, r, NULL, &was[i]) != 0 ||
		    was[i].rlim_cur == RLIM_INFINITY)
			continue;
		struct rlimit none = { RLIM_INFINITY, RLIM_INFINITY },
			      hard = { was[i].rlim_max, was[i].rlim_max };
		if (syscall(SYS_prlimit64, 0, r, &none, NULL) == 0 ||
		    (was[i].rlim_cur < was[i].rlim_max &&
		     syscall(SYS_prlimit64, 0, r, &hard, NULL) == 0))
			lifted |= 1u << i;
	}
	return lifted;
}

static void limits_set_back(unsigned lifted, const struct rlimit was[2])
{
	for (int i = 0; i < 2; i++)
		if (lifted & 1u << i)
			syscall(SYS_prlimit64, 0, lifted_limits[i], &was[i], NULL);
}

static void report_elsewhere(const struct ward__scan_self *self)
{
	/* What ward keeps for its report, first: the spare given back, and
	 * the exit arena made where the program's limits allow it. */
	ward__spare_give_back();
	if (ward__exit_heap)
		ward__exit_heap();
	struct rlimit was[2];
	unsigned lifted = limits_lift(was);
	void *stack = ward__map_reserve(REPORT_STACK);
	if (!stack || ward__run_on_stack(stack, REPORT_STACK,
					 report_on_own_stack,
					 (void *)self) != 0)
		report(self);
	limits_set_back(lifted, was);
}

/* A millisecond's wait for another thread's check. */
static void nap(void)
{
	struct timespec ms = { 0, 1000000 };
	nanosleep(&ms, NULL);
}

static void wait_for_check(void)
{
	/* A check that ends the process from inside (a fault in it) is
	 * not waited for by its own thread. */
	while (atomic_load(&checking) && !checking_here)
		nap();
}

__attribute__((noinline)) void ward__intercept_report(void)
{
	if (ward__intercept_sandboxed())
		return; /* not a call of ward's from there on */
	/* A vfork() child shares the parent's memory: the books are the
	 * parent's, and so is the report. Nothing of ward's runs before this
	 * is known (a child forked without the fork handlers may find the
	 * loader's lock held, which a walk of its stack takes). */
	if (getpid() != books_pid)
		return;
	if (!atomic_exchange(&active, false))
		return;
	atomic_store(&report_tid, (pid_t)syscall(SYS_gettid));
	exit_report_here = !reporting && !on_alternate_stack();
	wait_for_check();
	struct ward__scan_self self;
	WARD__SCAN_SELF(&self);
	/* Reached through exit(): scan the live frames only, from exit()'s
	 * caller up (valgrind's rule), not the dead ones exit's reuse. */
	uintptr_t exit_sp = ward__exit_sp;
	if (exit_sp > self.stack_lo && exit_sp < self.stack_hi)
		self.stack_lo = exit_sp;
	find_stacks(&self);
	report_elsewhere(&self);
}

bool ward__intercept_only_thread(void)
{
	/* /proc/self/stat: the 20th field, num_threads, the 18th after the
	 * name's closing parenthesis (a name may hold spaces and ')'). */
	char text[1024];
	if (ward__read_proc_self("stat", text, sizeof(text)) <= 0)
		return false;
	const char *p = strrchr(text, ')');
	for (int field = 2; p && field < 20; field++)
		p = strchr(p + 1, ' ');
	return p && strtol(p + 1, NULL, 10) == 1;
}

void ward__intercept_heap_untraced(const char *by)
{
	snprintf(cfg.heap_by, sizeof(cfg.heap_by), "%s", by);
}

/* The program's own suppressions, text, into p: a line each, less the
 * comments, when the whole parses; else said and left out. */
static void take_own_suppressions(ward_profile_t *p, const char *text)
{
	char err[256];
	ward_suppressions_t *s = NULL;
	if (ward_suppressions_parse(text, false, &s, err, sizeof(err)) < 0) {
		say("ward: the program's __lsan_default_suppressions(): %s: "
		    "left out", err);
		return;
	}
	ward_suppressions_free(s);
	for (const char *at = text; *at;) {
		size_t len = strcspn(at, "\n");
		size_t lead = strspn(at, " \t");
		if (lead < len && at[lead] != '#' &&
		    ward__profile_add_own_suppression(p, at, len) < 0) {
			say("ward: out of memory for the program's own "
			    "suppressions");
			return;
		}
		at += len + (at[len] == '\n');
	}
}

/*
 * What the program tells a leak checker through the calls it defines for
 * LeakSanitizer to make, found in its file's symbol table (no loader
 * exports a program's function) and asked now:
 * - its own __lsan_default_suppressions(), carried in p for `ward run`
 *   and `ward report` to apply (a text that is no list of suppressions is
 *   said and left out);
 * - its own __lsan_is_turned_off(): non-zero, and p says so
 *   ("leakcheck: turned_off 1"), so `ward run --fail-on-leak` counts
 *   nothing.
 */
static void ask_the_program(ward_profile_t *p)
{
	static const char *const names[] = { "__lsan_default_suppressions",
					     "__lsan_is_turned_off" };
	uintptr_t at[2];
	ward__program_functions(names, at, 2);
	const char *text = at[0] ? ((const char *(*)(void))at[0])() : NULL;
	if (text && *text)
		take_own_suppressions(p, text);
	if (at[1] && ((int (*)(void))at[1])() &&
	    ward__profile_add_figure(p, "leakcheck", "", "turned_off",
				     "The program turned its leak check off "
				     "(its __lsan_is_turned_off() returned "
				     "non-zero): what it left is not "
				     "counted a leak.",
				     false, 1) < 0)
		say("ward: out of memory for the profile's figures");
}

/*
 * A program that takes memory from the allocator behind ward's malloc
 * through that allocator's own calls (jemalloc's mallocx(), mimalloc's
 * mi_malloc(), tcmalloc's tc_malloc()), which no interposer sees, may keep
 * pointers to its blocks there: the allocator's mappings are then read as
 * roots, as any memory of the program's (scan.h).
 */
static bool allocator_own_call(const char *name)
{
	return strcmp(name, "mallocx") == 0 || strcmp(name, "rallocx") == 0 ||
	       strcmp(name, "xallocx") == 0 || strncmp(name, "mi_", 3) == 0 ||
	       strncmp(name, "tc_", 3) == 0;
}

static void check_allocator_calls(void)
{
	if (ward__scan_allocator_any() &&
	    ward__objects_import(allocator_own_call))
		ward__scan_allocator_distrust();
}

static void report(const struct ward__scan_self *self)
{
	ward__guard_raise();
	if (cfg.heap_by[0] && cfg.kinds[WARD_KIND_HEAP])
		say("ward: heap not traced: malloc is defined by %s, ahead of "
		    "ward's: none of its blocks are seen",
		    cfg.heap_by);
	ward_profile_t *p = ward_profile_snapshot();
	/* Every heap block is known in full mode: tell the lost from the
	 * still reachable. The scan stops the program's other threads while
	 * it reads (those asleep with its signal blocked are read where they
	 * sleep, and said); when it cannot, nothing is classified. */
	struct ward__scan_result r;
	int scanned = -1;
	if (p && !cfg.rate && cfg.kinds[WARD_KIND_HEAP] && !cfg.no_scan) {
		uint64_t t0 = ward__now_ns();
		check_allocator_calls();
		const char *why = cfg.why;
		ward_suppressions_t *want = NULL;
		if (*why) {
			char err[256];
			if (ward__site_pattern(why, &want, err, sizeof(err)) < 0)
				say("ward: WARD_WHY=%s: %s", why, err);
		}
		scanned = want ? ward__scan_heap_why(self, -1,
						     ward__site_matches, want,
						     &r)
			       : ward__scan_heap(self, &r);
		if (scanned < 0) {
			char buf[256];
			say("ward: heap not classified: %s",
			    ward__scan_failure(scanned, buf, sizeof(buf)));
		}
		if (scanned == 0 && want)
			tell_who_holds(why, &r);
		ward_suppressions_free(want);
		if (scanned == 0) {
			ward_profile_t *c = ward__profile_classify(p, &r);
			if (c) {
				ward_profile_free(p);
				p = c;
				note_scan(p, &r, ward__now_ns() - t0);
			}
		}
	}
	/* Threads still running: where the scan's signal found each (asked
	 * after the scan, a thread that signal woke from a sleep may have
	 * ended), or, with no scan, where each is now. */
	int noted = 0;
	if (scanned == 0) {
		for (int i = 0; i < r.nstacks; i++)
			note_running(r.stacks[i].self, r.stacks[i].pcs,
				     r.stacks[i].n, &noted);
		ward__scan_free(&r);
	} else {
		note_running_threads(&noted);
	}
	if (p && noted && split_running(p) < 0) {
		ward_profile_free(p);
		p = NULL;
	}
	if (!p) {
		char why[192];
		if (cfg.output[0])
			say_no_profile("%s", ward__no_memory_for("the snapshot",
								 why,
								 sizeof(why)));
	} else {
		ask_the_program(p);
		if (cfg.output[0])
			save_profile(p, "");
		if (strcmp(cfg.summary, "none") != 0)
			write_report(p);
		ward_profile_free(p);
	}
	ward__guard_lower();
}

/*
 * A leak check on the program's demand (LeakSanitizer's
 * __lsan_do_recoverable_leak_check()): the exit's scan, now, as often as
 * the program asks, the exit's report still to come. Each writes a
 * profile of its own, OUTPUT.checkN, with the scan's classes and the
 * program's own suppressions, and says in one line what it found lost;
 * the program learns whether anything was (after those suppressions and
 * the built-in list). One check at a time, and none once the exit's
 * report has begun, which waits for one under way: two scans would stop
 * each other's threads.
 */
static unsigned checks;

struct check {
	struct ward__scan_self self;
	int64_t lost, lost_bytes;
};

/* What p holds lost (definitely or indirectly) that neither the built-in
 * list nor the program's own suppressions take out. */
static void count_lost(const ward_profile_t *p, struct check *c)
{
	ward_suppressions_t *s = NULL;
	char err[256];
	if (ward_suppressions_parse(ward_profile_own_suppressions(p), true, &s,
				    err, sizeof(err)) < 0)
		s = NULL;
	for (size_t i = 0; i < ward_profile_count(p); i++) {
		const struct ward_sample *smp = ward_profile_sample(p, i);
		if (smp->kind != WARD_KIND_HEAP || smp->live_count <= 0 ||
		    (smp->leak != WARD_LEAK_DEFINITE &&
		     smp->leak != WARD_LEAK_INDIRECT) ||
		    (s && ward__suppressed(s, p, smp->pcs, smp->depth)))
			continue;
		c->lost += smp->live_count;
		c->lost_bytes += smp->live_bytes;
	}
	ward_suppressions_free(s);
}

static void check_now(void *arg)
{
	struct check *c = arg;
	unsigned n = next_number(&checks, "check");
	ward__guard_raise();
	ward_profile_t *p = ward_profile_snapshot();
	struct ward__scan_result r;
	int scanned = -1;
	char buf[256];
	if (p) {
		check_allocator_calls();
		scanned = ward__scan_heap(&c->self, &r);
	}
	if (scanned == 0) {
		ward_profile_t *classified = ward__profile_classify(p, &r);
		ward__scan_free(&r);
		ward_profile_free(p);
		p = classified;
	}
	if (!p) {
		say("ward: leak check %u: out of memory for it", n);
	} else if (scanned != 0) {
		say("ward: leak check %u: heap not classified: %s", n,
		    ward__scan_failure(scanned, buf, sizeof(buf)));
	} else {
		ask_the_program(p);
		count_lost(p, c);
		char suffix[32], path[PATH_MAX] = "";
		snprintf(suffix, sizeof(suffix), ".check%u", n);
		if (cfg.output[0]) {
			save_profile(p, suffix);
			if (expand_path(path, sizeof(path), cfg.output) < 0)
				path[0] = '\0';
		}
		say("ward: leak check %u: %" PRId64 " block%s lost (%" PRId64
		    " bytes)%s%s%s",
		    n, c->lost, c->lost == 1 ? "" : "s", c->lost_bytes,
		    path[0] ? "; its profile: " : "", path, path[0] ? suffix : "");
	}
	ward_profile_free(p);
	ward__guard_lower();
}

/* The check from the caller's frame up: its registers as its caller left
 * them (what that caller saved lies in its frame, which is read). */
static __attribute__((noinline)) void check_from_here(struct check *c)
{
	WARD__SCAN_SELF(&c->self);
	find_stacks(&c->self);
	static void *stack; /* one check at a time */
	if (!stack)
		stack = ward__map_reserve(REPORT_STACK);
	if (!stack || ward__run_on_stack(stack, REPORT_STACK, check_now, c) != 0)
		check_now(c);
}

__attribute__((noinline)) int ward__intercept_check(void)
{
	if (ward__intercept_sandboxed() || getpid() != books_pid ||
	    !atomic_load(&active))
		return 0;
	if (cfg.rate || !cfg.kinds[WARD_KIND_HEAP] || cfg.no_scan) {
		say("ward: leak check: not made (%s)",
		    cfg.rate ? "sampled mode classifies nothing"
			     : "the heap is not traced or not scanned");
		return 0;
	}
	for (int was = 0; !atomic_compare_exchange_weak(&checking, &was, 1);
	     was = 0)
		nap();
	struct check c = { .lost = 0 };
	if (atomic_load(&active)) {
		checking_here = true;
		check_from_here(&c);
		checking_here = false;
	}
	atomic_store(&checking, 0);
	return c.lost > 0;
}
