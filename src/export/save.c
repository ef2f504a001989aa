/*
 * save.c — writing a file atomically: profiles, flame graphs and the
 * tracer's output. Only a regular file or a new path is ever written.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/guard.h"
#include "core/log.h"
#include "export/export.h"
#include "snapshot/profile.h"

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

const char *ward__save_strerror(int err)
{
	switch (err) {
	case -EEXIST:
		return "it exists and is not a regular file (ward replaces only "
		       "regular files)";
	case -ENOLINK:
		return "it is a symbolic link to nothing";
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
	ward__in_registry++;
	int fd = mkostemp(tmp, O_CLOEXEC);
	ward__in_registry--;
	if (fd < 0)
		return -errno;
	rc = fill(fd, ctx);
	/* Atomic, not durable: the rename means no reader sees half a file;
	 * an fsync per profile (every traced process writes one at exit)
	 * would cost more than the tracing. */
	if (rc == 0 && fchmod(fd, 0644) < 0) /* mkstemp made it 0600 */
		rc = -errno;
	ward__in_registry++;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	ward__in_registry--;
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

WARD_API int ward_profile_save(const ward_profile_t *p, const char *path,
			       enum ward_format fmt)
{
	if (!p || !path)
		return -EINVAL;
	struct file_out f = { -1, 0, p, fmt };
	return ward__save_atomic(path, fill_profile, &f);
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

WARD_API const char *ward_save_strerror(int err)
{
	return ward__save_strerror(err);
}
