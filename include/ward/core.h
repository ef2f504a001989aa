/*
 * ward/core.h — what every ward module shares: error codes, the log hook and
 * the hook that reports programming errors.
 *
 * Errors: every ward function that can fail returns an int, zero or positive
 * on success and a negative errno value on failure. ward_strerror() turns one
 * into words.
 *
 * ward never prints on its own. Everything it has to say (an unrecovered
 * panic, a defer accumulation warning, a programming error) goes through the
 * log hook, which by default writes to standard error.
 */
#ifndef WARD_CORE_H
#define WARD_CORE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define WARD_API __attribute__((visibility("default")))
#else
#define WARD_API
#endif

/* Library version, as numbers and as "MAJOR.MINOR.PATCH". These lines are
 * the one place the version is set: the build (CMakeLists.txt) reads them,
 * and make test checks docs/ward.1 names the same. */
#define WARD_VERSION_MAJOR 0
#define WARD_VERSION_MINOR 1
#define WARD_VERSION_PATCH 0
WARD_API const char *ward_version(void);

/*
 * ward_strerror - describe a ward error code.
 * Takes a negative errno as returned by a ward function (a positive value is
 * treated the same). Returns a static string; never NULL.
 */
WARD_API const char *ward_strerror(int err);

/* How serious a logged message is. */
enum ward_log_level {
	WARD_LOG_INFO = 0,
	WARD_LOG_WARN = 1,  /* a likely bug that does not stop the program */
	WARD_LOG_ERROR = 2, /* a programming error; ward aborts after logging */
	WARD_LOG_PANIC = 3, /* an unrecovered panic report; the process exits */
};

/*
 * A log hook receives one complete message (several lines, each ending in
 * '\n', not NUL-terminated past len). It may be called from any thread and
 * must not call back into ward's defer API.
 */
typedef void (*ward_log_fn)(void *opaque, enum ward_log_level level,
			    const char *msg, size_t len);

/*
 * ward_set_log_hook - route ward's messages to fn(opaque, ...).
 * Passing NULL restores the default, which writes to standard error.
 * Returns the previous hook (NULL when it was the default).
 */
WARD_API ward_log_fn ward_set_log_hook(ward_log_fn fn, void *opaque);

/*
 * What ward does on a programming error it cannot return from (a defer
 * with no open frame, a recovery where none may happen): it logs the
 * message (WARD_LOG_ERROR), then calls the abort hook, then abort().
 * A hook may end the process its own way (a test harness recording the
 * failure, exit with a status, longjmp to a recovery point in a program
 * that knows the state it abandons); if it returns, ward aborts.
 */
typedef void (*ward_abort_fn)(void *opaque, const char *msg, size_t len);

/*
 * ward_set_abort_hook - call fn(opaque, message) before aborting on a
 * programming error. NULL restores plain abort(). Returns the previous
 * hook.
 */
WARD_API ward_abort_fn ward_set_abort_hook(ward_abort_fn fn, void *opaque);

/*
 * Error convention of the whole API: functions that return int return 0
 * (or a count) on success and a negative errno on failure; functions that
 * return a pointer return NULL on failure. A NULL where an object is
 * required is refused with -EINVAL (or NULL), never a crash. Free, close
 * and release functions accept NULL and do nothing. The library-mode
 * wrappers in ward/track.h are the exception: they keep the conventions of
 * the calls they wrap (track.h says which).
 */

#ifdef __cplusplus
}
#endif

#endif /* WARD_CORE_H */
