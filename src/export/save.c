/*
 * save.c — writing a file atomically: profiles, flame graphs and the
 * tracer's output. Only a regular file or a new path is ever written.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "core/guard.h"
#include "core/log.h"
#include "core/stacks.h"
#include "export/export.h"
#include "snapshot/profile.h"

/*
 * Whether path, or a symbolic link its last part leads through, is one of
 * procfs's links to an open descriptor (/dev/stdout is /proc/self/fd/1,
 * /dev/fd/N is /proc/self/fd/N). Such a link names the file behind the
 * descriptor, and renaming over that file would take it from whoever
 * writes through the descriptor: `ward run -o /dev/stdout prog >out`
 * replaced out, and what prog printed to it was gone.
 */
static bool names_descriptor(const char *path)
{
	char cur[PATH_MAX], next[PATH_MAX];
	if ((size_t)snprintf(cur, sizeof(cur), "%s", path) >= sizeof(cur))
		return false;
	for (int hops = 0; hops < 40; hops++) { /* the kernel's own limit */
		struct stat st;
		struct statfs fs;
		ward__guard_raise();
		int fd = open(cur, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		ward__guard_lower();
		if (fd < 0)
			return false;
		bool link = fstat(fd, &st) == 0 && S_ISLNK(st.st_mode);
		bool proc = fstatfs(fd, &fs) == 0 &&
			    fs.f_type == PROC_SUPER_MAGIC;
		ward__guard_raise();
		close(fd);
		ward__guard_lower();
		if (!link)
			return false;
		if (proc)
			return true;
		ssize_t n = readlink(cur, next, sizeof(next) - 1);
		if (n < 0)
			return false;
		next[n] = '\0';
		if (next[0] == '/') {
			memcpy(cur, next, (size_t)n + 1);
			continue;
		}
		/* Relative: from the directory the link is in. */
		char *slash = strrchr(cur, '/');
		size_t dir = slash ? (size_t)(slash - cur) + 1 : 0;
		if (dir + (size_t)n >= sizeof(cur))
			return false;
		memcpy(cur + dir, next, (size_t)n + 1);
	}
	return false;
}

int ward__save_target(const char *path, char *out, size_t len)
{
	struct stat st;
	char real[PATH_MAX];
	if (!path || !*path)
		return -EINVAL;
	if (strlen(path) >= len)
		return -ENAMETOOLONG;
	if (lstat(path, &st) < 0) {
		if (errno != ENOENT)
			return -errno;
		strcpy(out, path); /* a new file */
		return 0;
	}
	if (S_ISLNK(st.st_mode)) {
		if (names_descriptor(path))
			return -EBADFD;
		/* Replace the file the link names, not the link. */
		if (!realpath(path, real))
			return errno == ENOENT ? -ENOLINK : -errno;
		if (strlen(real) >= len)
			return -ENAMETOOLONG;
		if (stat(real, &st) < 0)
			return -errno;
		path = real;
		if (S_ISREG(st.st_mode)) {
			strcpy(out, real);
			return 0;
		}
	}
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (!S_ISREG(st.st_mode))
		return -EEXIST; /* a device, FIFO or socket: never replaced */
	strcpy(out, path);
	return 0;
}

int ward__save_profile_target(const char *path, char *out, size_t len)
{
	int rc = ward__save_target(path, out, len);
	if (rc < 0)
		return rc;
	/* A profile is gzip data; an empty file was made to receive one. */
	ward__guard_raise();
	int fd = open(out, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	ward__guard_lower();
	if (fd < 0)
		return 0; /* new, or not readable: nothing to tell */
	unsigned char head[2];
	ssize_t n = read(fd, head, sizeof(head));
	ward__guard_raise();
	close(fd);
	ward__guard_lower();
	if (n > 0 && !(n == 2 && head[0] == 0x1f && head[1] == 0x8b))
		return -EMEDIUMTYPE;
	return 0;
}

const char *ward__save_strerror(int err)
{
	switch (err) {
	case -EMEDIUMTYPE:
		return "it exists and is not a profile (ward replaces a "
		       "profile, never another file: remove it, or name "
		       "another)";
	case -EEXIST:
		return "it exists and is not a regular file (ward replaces only "
		       "regular files)";
	case -ENOLINK:
		return "it is a symbolic link to nothing";
	case -EBADFD:
		return "it names an open descriptor, not a file (ward replaces "
		       "a file whole, which would take it from whoever writes "
		       "to that descriptor; name the file itself)";
	default:
		return strerror(-err);
	}
}

int ward__save_atomic(const char *path, int (*fill)(int fd, void *ctx),
		      void *ctx)
{
	char target[PATH_MAX], tmp[PATH_MAX + 16];
	int rc = ward__save_target(path, target, sizeof(target));
	if (rc < 0)
		return rc;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", target) >=
	    sizeof(tmp))
		return -ENAMETOOLONG;
	ward__guard_raise();
	int fd = mkostemp(tmp, O_CLOEXEC);
	ward__guard_lower();
	if (fd < 0)
		return -errno;
	rc = fill(fd, ctx);
	/* Atomic, not durable: the rename means no reader sees half a file;
	 * an fsync per profile (every traced process writes one at exit)
	 * would cost more than the tracing. */
	if (rc == 0 && fchmod(fd, 0644) < 0) /* mkstemp made it 0600 */
		rc = -errno;
	ward__guard_raise();
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	ward__guard_lower();
	if (rc == 0 && rename(tmp, target) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc;
}

struct file_out {
	int fd;
	int err;
	const ward_profile_t *p;
	enum ward_format fmt;
};

static void file_write(void *opaque, const void *buf, size_t len)
{
	struct file_out *f = opaque;
	if (!f->err)
		f->err = ward__write_all(f->fd, buf, len);
}

static int fill_profile(int fd, void *ctx)
{
	struct file_out *f = ctx;
	f->fd = fd;
	int rc = ward_profile_write(f->p, f->fmt, file_write, f);
	return rc < 0 ? rc : f->err;
}

struct saving {
	const char *path;
	struct file_out f;
	int rc;
};

static void save_deep(void *arg)
{
	struct saving *v = arg;
	v->rc = ward__save_atomic(v->path, fill_profile, &v->f);
}

/* On a stack with room for it (ward__deep): the paths it resolves, and
 * the frames the profile names. */
WARD_API int ward_profile_save(const ward_profile_t *p, const char *path,
			       enum ward_format fmt)
{
	if (!p || !path)
		return -EINVAL;
	struct saving v = { path, { -1, 0, p, fmt }, 0 };
	ward__deep(save_deep, &v);
	return v.rc;
}

WARD_API int ward_save_target(const char *path, char *out, size_t len)
{
	return out ? ward__save_target(path, out, len) : -EINVAL;
}

WARD_API int ward_save_atomic(const char *path, int (*fill)(int fd, void *ctx),
			      void *ctx)
{
	return path && fill ? ward__save_atomic(path, fill, ctx) : -EINVAL;
}

WARD_API int ward_save_profile_target(const char *path, char *out,
				     size_t len)
{
	return out ? ward__save_profile_target(path, out, len) : -EINVAL;
}

WARD_API const char *ward_save_strerror(int err)
{
	return ward__save_strerror(err);
}
