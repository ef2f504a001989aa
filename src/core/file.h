/*
 * Reading a whole small file (file.c): suppressions, cached source
 * positions.
 */
#ifndef WARD_CORE_FILE_H
#define WARD_CORE_FILE_H

#include <stddef.h>
#include <sys/types.h>

/*
 * The regular file at path, whole and NUL-terminated, into *out (to be
 * freed): its length, or -errno: -EINVAL when it is not a regular file,
 * -EFBIG when it holds more than max bytes. Opened without blocking, so
 * a FIFO named by mistake does not hang the caller.
 */
ssize_t ward__read_file(const char *path, size_t max, char **out);

#endif
