/*
 * file.c — reading a whole small file; this process's files under /proc.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/file.h"
#include "core/map.h"

ssize_t ward__read_file(const char *path, size_t max, char **out)
{
	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return -errno;
	struct stat st;
	int rc = fstat(fd, &st) < 0        ? -errno
		 : !S_ISREG(st.st_mode)     ? -EINVAL
		 : (size_t)st.st_size > max ? -EFBIG
					    : 0;
	char *text = rc ? NULL : malloc((size_t)st.st_size + 1);
	size_t have = 0;
	while (text && have < (size_t)st.st_size) {
		ssize_t r = read(fd, text + have, (size_t)st.st_size - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		have += (size_t)r;
	}
	close(fd);
	if (rc)
		return rc;
	if (!text)
		return -ENOMEM;
	text[have] = '\0';
	*out = text;
	return (ssize_t)have;
}

int ward__open_proc_self(const char *name)
{
	char path[96];
	snprintf(path, sizeof(path), "/proc/thread-self/%s", name);
	int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(path, sizeof(path), "/proc/self/%s", name);
		fd = (int)syscall(SYS_openat, AT_FDCWD, path,
				  O_RDONLY | O_CLOEXEC);
	}
	return fd;
}

/* Each descriptor named in the fd directory open at dir (but skip) to
 * fn(arg, fd); dir is closed. System calls only: it may run in
 * ward__with_descriptor()'s helper. 0, or -errno. */
static int each_listed_fd(int dir, int skip, void (*fn)(void *arg, int fd),
			  void *arg)
{
	char buf[4096];
	ssize_t got;
	while ((got = syscall(SYS_getdents64, dir, buf, sizeof(buf))) > 0)
		for (ssize_t off = 0; off < got;) {
			struct dirent64 *d = (struct dirent64 *)(buf + off);
			off += d->d_reclen;
			long fd = 0;
			const char *c = d->d_name;
			for (; *c >= '0' && *c <= '9' && fd <= INT_MAX; c++)
				fd = fd * 10 + (*c - '0');
			if (c != d->d_name && !*c && fd <= INT_MAX && fd != skip)
				fn(arg, (int)fd);
		}
	int rc = got < 0 ? -errno : 0;
	syscall(SYS_close, dir);
	return rc;
}

/* The descriptors of the process at path (/proc/PID/fd) into v[0..cap),
 * for a helper that has a descriptor free where the process has none. */
struct fds_job {
	char path[48];
	int *v;
	size_t n, cap;
};

static void keep_fd(void *arg, int fd)
{
	struct fds_job *j = arg;
	if (j->n < j->cap)
		j->v[j->n++] = fd;
}

static int list_fds_job(void *arg)
{
	struct fds_job *j = arg;
	int dir = (int)syscall(SYS_openat, AT_FDCWD, j->path,
			       O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	/* The helper's own descriptor is in its table, not the listed one. */
	return dir < 0 ? -errno : each_listed_fd(dir, -1, keep_fd, j);
}

/* The same where this process has used up its descriptors. */
static int proc_self_fds_elsewhere(void (*fn)(void *arg, int fd), void *arg)
{
	struct rlimit rl;
	if (syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &rl) != 0)
		return -errno;
	struct fds_job j = { .cap = rl.rlim_cur < (1u << 20) ? rl.rlim_cur
							    : (1u << 20) };
	snprintf(j.path, sizeof(j.path), "/proc/%d/fd", (int)getpid());
	j.v = ward__map(j.cap * sizeof(int));
	if (!j.v)
		return -ENOMEM;
	int rc = ward__with_descriptor(list_fds_job, &j);
	for (size_t i = 0; rc == 0 && i < j.n; i++)
		fn(arg, j.v[i]);
	ward__unmap(j.v, j.cap * sizeof(int));
	return rc;
}

int ward__proc_self_fds(void (*fn)(void *arg, int fd), void *arg)
{
	int dir = ward__open_proc_self("fd");
	if (dir < 0)
		return errno == EMFILE ? proc_self_fds_elsewhere(fn, arg)
				       : -errno;
	return each_listed_fd(dir, dir, fn, arg);
}

/*
 * The directory the program started in, when the path it was run by
 * (AT_EXECFN) is relative: read before main(), since the program may move.
 */
static char start_dir[PATH_MAX];

__attribute__((constructor)) static void remember_start_dir(void)
{
	const char *fn = (const char *)getauxval(AT_EXECFN);
	if (fn && fn[0] != '/' &&
	    syscall(SYS_getcwd, start_dir, sizeof(start_dir)) <= 0)
		start_dir[0] = '\0';
}

/* The path the program was run by (AT_EXECFN), made absolute and with
 * its links resolved, into buf: its length, 0 when unknown. */
static size_t exe_from_exec(char *buf, size_t len)
{
	const char *fn = (const char *)getauxval(AT_EXECFN);
	char joined[PATH_MAX], real[PATH_MAX];
	if (!fn || !fn[0] || (fn[0] != '/' && !start_dir[0]))
		return 0;
	int n = fn[0] == '/'
			? snprintf(joined, sizeof(joined), "%s", fn)
			: snprintf(joined, sizeof(joined), "%s/%s", start_dir, fn);
	if (n < 0 || (size_t)n >= sizeof(joined) || !realpath(joined, real) ||
	    strlen(real) >= len)
		return 0;
	strcpy(buf, real);
	return strlen(buf);
}

int ward__proc_lines(const char *name, char *buf, size_t size,
		     void (*line)(void *arg, char *text), void *arg)
{
	size_t have = 0;
	int fd = ward__open_proc_self(name);
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t got = syscall(SYS_read, fd, buf + have, size - 1 - have);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		have += (size_t)got;
		buf[have] = '\0';
		char *text = buf, *nl;
		while ((nl = strchr(text, '\n'))) {
			*nl = '\0';
			line(arg, text);
			text = nl + 1;
		}
		have = (size_t)(buf + have - text);
		if (have == size - 1)
			have = 0; /* no line is this long */
		memmove(buf, text, have);
		buf[have] = '\0';
	}
	syscall(SYS_close, fd);
	return 0;
}

ssize_t ward__read_proc_self(const char *name, char *buf, size_t len)
{
	int fd = ward__open_proc_self(name);
	if (fd < 0)
		return -1;
	ssize_t got = syscall(SYS_read, fd, buf, len - 1);
	syscall(SYS_close, fd);
	buf[got > 0 ? got : 0] = '\0';
	return got;
}

size_t ward__exe_path(char *buf, size_t len)
{
	/* /proc/self/exe first: valgrind answers it with its guest's path
	 * (the thread's own names valgrind's tool). Without /proc (a
	 * container or chroot that has none), the path it was run by. */
	static const char *const where[] = { "/proc/self/exe",
					     "/proc/thread-self/exe" };
	ssize_t n = -1;
	for (size_t i = 0; i < 2 && n <= 0; i++)
		n = syscall(SYS_readlinkat, AT_FDCWD, where[i], buf, len - 1);
	buf[n > 0 ? n : 0] = '\0';
	return n > 0 ? (size_t)n : exe_from_exec(buf, len);
}

/* Descriptors the helper may number up to, at least. */
enum { HELPER_FDS = 64 };

struct helper_job {
	int (*fn)(void *);
	void *arg;
	int rc;
};

/*
 * This process's own copy of a limit raised to at least want: the hard
 * limit too with the privilege to raise it (CAP_SYS_RESOURCE), else the
 * soft one up to the hard.
 */
static void lift(int resource, rlim_t want)
{
	struct rlimit have, more;
	if (syscall(SYS_prlimit64, 0, resource, NULL, &have) != 0 ||
	    have.rlim_cur >= want)
		return;
	more.rlim_cur = want;
	more.rlim_max = have.rlim_max < want ? want : have.rlim_max;
	if (syscall(SYS_prlimit64, 0, resource, &more, NULL) != 0) {
		more.rlim_cur = more.rlim_max = have.rlim_max;
		syscall(SYS_prlimit64, 0, resource, &more, NULL);
	}
}

static int helper(void *arg)
{
	struct helper_job *j = arg;
	for (long fd = 0; fd < 1 << 20; fd++)
		if (syscall(SYS_close, fd) == 0)
			break;
	/* The helper is a process of its own (no CLONE_THREAD), with its
	 * own copy of the limits: raised here, the program's stay as it set
	 * them. A limit that allows no descriptor at all (a sandbox sets
	 * RLIMIT_NOFILE to 0, as OpenSSH's pre-authentication child does),
	 * and a file size limit (`ulimit -f`) that ward's files do not fit. */
	lift(RLIMIT_NOFILE, HELPER_FDS);
	lift(RLIMIT_FSIZE, RLIM_INFINITY);
	/* Where the file size limit stays, a write past it fails with EFBIG
	 * and raises SIGXFSZ, which would end the helper: blocked here, the
	 * signal ends with the helper, never delivered. */
	uint64_t quiet = 1ull << (SIGXFSZ - 1) | 1ull << (SIGPIPE - 1);
	syscall(SYS_rt_sigprocmask, SIG_BLOCK, &quiet, NULL, sizeof(quiet));
	j->rc = j->fn(j->arg);
	return 0;
}

/* The helper's stack, kept once made: one unmapped after the helper read
 * /proc/self/maps would be a mapping the reachability scan reads that is
 * gone. A second caller meanwhile makes its own, kept when none is. */
static _Atomic(char *) helper_stack;

int ward__with_descriptor(int (*fn)(void *), void *arg)
{
	enum { STACK = 64 * 1024 };
	char *stack = atomic_exchange(&helper_stack, NULL);
	if (!stack)
		stack = ward__map(STACK);
	if (!stack)
		return -ENOMEM;
	/* Until the helper says otherwise: a helper that did not share this
	 * memory (valgrind runs such a clone as a fork) reports nothing. */
	struct helper_job j = { fn, arg, -ENOSYS };
	int rc, saved = errno;
	int tid = clone(helper, stack + STACK, CLONE_VM | CLONE_VFORK, &j);
	if (tid < 0) {
		rc = -errno;
	} else {
		int st;
		while (waitpid(tid, &st, __WCLONE) < 0 && errno == EINTR)
			;
		rc = j.rc;
	}
	char *none = NULL;
	if (!atomic_compare_exchange_strong(&helper_stack, &none, stack))
		ward__unmap(stack, STACK);
	errno = saved;
	return rc;
}
