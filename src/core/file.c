/*
 * file.c — reading a whole small file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
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
