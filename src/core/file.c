/*
 * file.c — reading a whole small file; this process's files under /proc.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/file.h"

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

size_t ward__exe_path(char *buf, size_t len)
{
	/* /proc/self/exe first: valgrind answers it with its guest's path
	 * (the thread's own names valgrind's tool). */
	static const char *const where[] = { "/proc/self/exe",
					     "/proc/thread-self/exe" };
	ssize_t n = -1;
	for (size_t i = 0; i < 2 && n <= 0; i++)
		n = syscall(SYS_readlinkat, AT_FDCWD, where[i], buf, len - 1);
	buf[n > 0 ? n : 0] = '\0';
	return n > 0 ? (size_t)n : 0;
}
