/*
 * ward/track.h — the resource registry: every acquisition attributed to the
 * stack that made it.
 *
 * A tracked resource has a kind (heap, fd, FILE, thread, or a kind the
 * program registers by name), a handle (a pointer or an integer), a size,
 * and the site that acquired it: the kind plus the acquiring stack. Sites
 * are deduplicated; each keeps counters of what it acquired and released,
 * so a snapshot of what is live costs time in proportion to the number of
 * sites, not of live resources.
 *
 *     int db_kind = ward_kind_register("db_conn");
 *     conn *c = db_connect(...);
 *     ward_track(db_kind, (uintptr_t)c, 1);
 *     ...
 *     ward_untrack(db_kind, (uintptr_t)c);
 *
 * The library-mode wrappers (ward_malloc(), ward_open(), ward_fopen(),
 * ward_thread_create(), ...) acquire and track in one call.
 *
 * Stacks are captured by ward's own .eh_frame walker, which caches the
 * unwind rule of each return address (WARD_STACK=cfi, the default: correct
 * through code built without frame pointers, such as Debian's libraries),
 * by following frame pointers (WARD_STACK=fp: a little faster, complete only
 * through code built with -fno-omit-frame-pointer), or by libgcc's unwinder
 * (WARD_STACK=dwarf: a reference, about 5 us a stack). WARD_STACK_DEPTH sets
 * the most frames kept (default 64). Each thread remembers its recent
 * walks: one that starts where an earlier one did and reads the same stack
 * words is not walked again.
 *
 * Thread-safe: any thread may track and untrack; no global lock is taken on
 * the common path.
 */
#ifndef WARD_TRACK_H
#define WARD_TRACK_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "ward/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Built-in kinds. Kinds registered by name get ids from WARD_KIND_USER. */
enum {
	WARD_KIND_HEAP = 0,
	WARD_KIND_FD = 1,
	WARD_KIND_FILE = 2,
	WARD_KIND_THREAD = 3,
	WARD_KIND_USER = 8,
	WARD_KIND_MAX = 64,
};

/*
 * ward_kind_register - get the kind id for a name, registering it the first
 * time. The same name always gives the same id.
 * Returns the id (>= WARD_KIND_USER, or the built-in id for "heap", "fd",
 * "file" and "thread"), -EINVAL for an empty or NULL name or one with a
 * control character (names reach terminals), or -ENOSPC when
 * WARD_KIND_MAX kinds exist.
 */
WARD_API int ward_kind_register(const char *name);

/* ward_kind_name - the name of a kind, or NULL for an unknown id. */
WARD_API const char *ward_kind_name(int kind);

/*
 * ward_track - record that the caller acquired `handle` of `kind`, `size`
 * bytes (or units) large, attributing it to the calling stack.
 * Returns 0; -EINVAL for an unknown kind; -EEXIST when the handle is already
 * live for that kind (it is then left as it was); -ENOMEM.
 */
WARD_API int ward_track(int kind, uintptr_t handle, size_t size);

/*
 * ward_untrack - record that `handle` of `kind` was released.
 * Returns 0, or -ENOENT when it is not live (a double release, or a handle
 * acquired before tracking began); nothing changes then.
 */
WARD_API int ward_untrack(int kind, uintptr_t handle);

/* Per-kind counters since the process started. */
struct ward_kind_stats {
	uint64_t live_count, live_bytes;
	uint64_t acquired_count, acquired_bytes;
	uint64_t released_count, released_bytes;
	/* High-water marks of live_*: each running thread batches up to 32
	 * records' changes before they count here, so a peak may differ
	 * from the truth by that much per running thread, never more (a
	 * thread that ends publishes its batch). */
	uint64_t peak_count, peak_bytes;
};

/* ward_kind_stats - fill *out for a kind. Returns 0 or -EINVAL. */
WARD_API int ward_kind_stats(int kind, struct ward_kind_stats *out);

/*
 * ward_track_set_sampling - record only a sample of heap blocks: one per
 * `mean_bytes` allocated on average (a Poisson process by bytes, as Go and
 * jemalloc sample; 512 KiB is their default); each thread starts at a
 * random distance. A sampled block of s bytes counts as 1/(1-exp(-s/mean))
 * blocks and that many times s bytes, so snapshots are estimates of the
 * whole (docs/formats.md). 0 records every block (the default). Applies to
 * ward_malloc() and friends, and to the LD_PRELOAD tracer (WARD_SAMPLE);
 * ward_track() always records. Safe to call while other threads allocate.
 * A mean above WARD_SAMPLE_MOST (4 EiB, past which the distances drawn
 * would overflow) is taken as WARD_SAMPLE_MOST. Sampling's first start
 * reserves 8 MiB of address space for its page counts; where the system
 * refuses it (an RLIMIT_AS), the setting stays as it was. Returns the
 * previous setting.
 */
#define WARD_SAMPLE_MOST (1ull << 62)
WARD_API uint64_t ward_track_set_sampling(uint64_t mean_bytes);

/*
 * ---- Library-mode wrappers: acquire, then track ---------------------
 *
 * Each does the call it wraps and records (or forgets) the resource with
 * the calling stack. They keep the conventions of the calls they wrap —
 * not ward's negative errno — so they drop in where those calls were:
 */

/* malloc, calloc, realloc: NULL and errno ENOMEM on failure. ward_free
 * accepts NULL. A block not from these (or the tracer) is freed as it is. */
WARD_API void *ward_malloc(size_t size);
WARD_API void *ward_calloc(size_t n, size_t size);
WARD_API void *ward_realloc(void *ptr, size_t size);
WARD_API void ward_free(void *ptr);

/* open, close: -1 and errno on failure (close forgets the descriptor even
 * then, as the kernel does). */
WARD_API int ward_open(const char *path, int flags, ...);
WARD_API int ward_close(int fd);

/* fopen: NULL and errno (EINVAL for a NULL path or mode). fclose: EOF and
 * errno; accepts NULL and returns 0. */
WARD_API FILE *ward_fopen(const char *path, const char *mode);
WARD_API int ward_fclose(FILE *f);

/* pthread_create, pthread_join, pthread_detach: 0, or a positive error
 * number (EINVAL for a NULL thread or function). A thread is live from
 * create until it is joined or, detached (by ward_thread_detach(), by
 * itself, or created so), until it ends: a detached thread blocked for
 * ever is a leak of ward_leakcheck_end(), with where it is blocked. */
WARD_API int ward_thread_create(pthread_t *th, const pthread_attr_t *attr,
				void *(*fn)(void *), void *arg);
WARD_API int ward_thread_join(pthread_t th, void **ret);
WARD_API int ward_thread_detach(pthread_t th);

#ifdef __cplusplus
}
#endif

#endif /* WARD_TRACK_H */
