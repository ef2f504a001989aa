/*
 * Internal logging: every message ward emits goes through ward__log(), which
 * formats it and hands it to the log hook set by ward_set_log_hook().
 */
#ifndef WARD_CORE_LOG_H
#define WARD_CORE_LOG_H

#include <stdarg.h>
#include <stddef.h>

#include "ward/core.h"

/* Format and deliver one message. Never fails; long messages are cut. */
void ward__log(enum ward_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void ward__vlog(enum ward_log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* Write all of buf to fd, through EINTR and short writes (async-signal-
 * safe). Returns 0 or a negative errno (-EIO when nothing is taken). */
int ward__write_all(int fd, const void *buf, size_t len);

/* Deliver an already formatted message. */
void ward__log_raw(enum ward_log_level level, const char *msg, size_t len);

/* Log a programming error, call the abort hook, and abort. */
__attribute__((noreturn, format(printf, 1, 2))) void
ward__fatal(const char *fmt, ...);

#endif
