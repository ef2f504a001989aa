/*
 * core.c — error strings, the version, and the log hook.
 *
 * ward never writes to a stream on its own: messages are formatted here and
 * passed to one process-wide hook. The hook and its opaque pointer change
 * together under hook_lock, and a logging thread copies the pair under it,
 * then calls the hook with no lock held (so a hook may log or replace
 * itself). Logging is a cold path; the lock costs nothing that matters.
 */
#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal/log.h"
#include "ward/core.h"

static pthread_mutex_t hook_lock = PTHREAD_MUTEX_INITIALIZER;
static ward_log_fn hook_fn;   /* NULL: write to stderr; under hook_lock */
static void *hook_opaque;     /* under hook_lock */

WARD_API const char *ward_version(void)
{
	return "0.1.0";
}

WARD_API const char *ward_strerror(int err)
{
	if (err < 0)
		err = -err;
	if (err == 0)
		return "success";
	/* strerror() is not thread-safe in general, but glibc's returns
	 * static strings for every known errno. */
	return strerror(err);
}

WARD_API ward_log_fn ward_set_log_hook(ward_log_fn fn, void *opaque)
{
	pthread_mutex_lock(&hook_lock);
	ward_log_fn old = hook_fn;
	hook_fn = fn;
	hook_opaque = fn ? opaque : NULL;
	pthread_mutex_unlock(&hook_lock);
	return old;
}

static void write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		p += w;
		len -= (size_t)w;
	}
}

void ward__log_raw(enum ward_log_level level, const char *msg, size_t len)
{
	pthread_mutex_lock(&hook_lock);
	ward_log_fn fn = hook_fn;
	void *opaque = hook_opaque;
	pthread_mutex_unlock(&hook_lock);

	if (fn)
		fn(opaque, level, msg, len);
	else
		write_all(STDERR_FILENO, msg, len);
}

void ward__vlog(enum ward_log_level level, const char *fmt, va_list ap)
{
	char buf[4096];
	int len = vsnprintf(buf, sizeof(buf), fmt, ap);

	if (len < 0)
		return;
	if ((size_t)len >= sizeof(buf))
		len = sizeof(buf) - 1;
	ward__log_raw(level, buf, (size_t)len);
}

void ward__log(enum ward_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ward__vlog(level, fmt, ap);
	va_end(ap);
}

void ward__fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ward__vlog(WARD_LOG_ERROR, fmt, ap);
	va_end(ap);
	abort();
}
