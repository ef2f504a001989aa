/*
 * ward/ctx.h — contexts, Go's context for C, and threads that cannot
 * outlive their owner.
 *
 *     ward_ctx_t *ctx = ward_ctx_new(conn, parent_ctx);   // belongs to conn
 *     ward_go(ctx, reader, sock);        // a thread that ends with conn
 *     ...
 *     static void reader(ward_ctx_t *ctx, void *sock) {
 *         struct pollfd p[2] = { { sock_fd, POLLIN }, { ward_ctx_done_fd(ctx), POLLIN } };
 *         while (poll(p, 2, -1) > 0 && !ward_ctx_err(ctx)) ...
 *     }
 *     ward_owner_release(conn);   // cancels ctx, joins the reader
 *
 * The rules (docs/owners.md):
 *  - A context belongs to an owner: releasing the owner cancels the
 *    context and frees it. A context may have a parent context;
 *    cancelling a context cancels its children, never its parent. A
 *    child's deadline is never later than its parent's.
 *  - The first cancel wins: its cause stays (ward_ctx_cause); later ones
 *    return -EALREADY. A deadline that passes cancels with -ETIMEDOUT.
 *  - ward_ctx_done_fd() is a descriptor that becomes readable (POLLIN) when
 *    the context is cancelled or its deadline passes, and stays readable
 *    — poll it with the program's own descriptors; do not read it.
 *  - A thread started with ward_go() belongs to the context's owner:
 *    releasing the owner cancels the context and joins the thread. A thread
 *    that has not ended within the grace period (ward_go_set_grace, default
 *    1000 ms, or WARD_GO_GRACE_MS) is a leaked thread: it is logged with
 *    where it was started and the stack where it is blocked now, and stays
 *    in every report — labelled "leaked from OWNER", with that stack —
 *    until it ends.
 */
#ifndef WARD_CTX_H
#define WARD_CTX_H

#include <stdint.h>

#include "ward/core.h"
#include "ward/owner.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ward_ctx ward_ctx_t;

/*
 * ward_ctx_new - a context belonging to owner (required), a child of
 * parent (NULL: a root context, never cancelled but by its owner). A child
 * of a cancelled parent starts cancelled. NULL when out of memory or an
 * argument is not live (errno EINVAL).
 */
WARD_API ward_ctx_t *ward_ctx_new(ward_owner_t *owner, ward_ctx_t *parent);

/*
 * ward_ctx_with_timeout - the same, cancelled with -ETIMEDOUT after
 * timeout_ns nanoseconds (or at the parent's deadline, if earlier).
 */
WARD_API ward_ctx_t *ward_ctx_with_timeout(ward_owner_t *owner,
					   ward_ctx_t *parent,
					   uint64_t timeout_ns);

/*
 * ward_ctx_cancel - cancel ctx and its children with cause (a negative
 * errno; 0 means -ECANCELED). Returns 0, or -EALREADY when it was
 * cancelled already (the first cause stays), -EINVAL for NULL.
 */
WARD_API int ward_ctx_cancel(ward_ctx_t *ctx, int cause);

/*
 * ward_ctx_err - 0 while ctx is live; -ECANCELED once cancelled,
 * -ETIMEDOUT once its deadline passed (Go's ctx.Err()). -EINVAL for NULL.
 */
WARD_API int ward_ctx_err(ward_ctx_t *ctx);

/* ward_ctx_cause - the cause given to the first cancel (context.Cause);
 * -ETIMEDOUT for a deadline; 0 while live. */
WARD_API int ward_ctx_cause(ward_ctx_t *ctx);

/*
 * ward_ctx_done_fd - a descriptor readable from when ctx is cancelled (made
 * on first call, closed when ctx is freed; ctx keeps it). -errno on error.
 */
WARD_API int ward_ctx_done_fd(ward_ctx_t *ctx);

/*
 * ward_ctx_wait - block until ctx is cancelled or timeout_ns passes
 * (UINT64_MAX: no limit). Returns ward_ctx_err() then: 0 when the timeout
 * came first.
 */
WARD_API int ward_ctx_wait(ward_ctx_t *ctx, uint64_t timeout_ns);

/* The context's deadline on CLOCK_MONOTONIC, in nanoseconds; 0: none. */
WARD_API uint64_t ward_ctx_deadline(ward_ctx_t *ctx);

/* The owner ctx belongs to. */
WARD_API ward_owner_t *ward_ctx_owner(ward_ctx_t *ctx);

/*
 * ward_go - run fn(ctx, arg) on a new thread that belongs to ctx's owner
 * (tracked as a thread, with the caller's stack). Returns 0, or a negative
 * errno (-EINVAL: ctx NULL or cancelled; pthread_create's errors).
 */
#define ward_go(ctx, fn, arg) ward__go((ctx), (fn), (arg), __FILE__, __LINE__)

/*
 * ward_go_set_grace - how long releasing an owner waits for each of its
 * threads to end after cancelling its context, in milliseconds. Returns
 * the previous value.
 */
WARD_API uint32_t ward_go_set_grace(uint32_t ms);

WARD_API int ward__go(ward_ctx_t *ctx, void (*fn)(ward_ctx_t *ctx, void *arg),
		      void *arg, const char *file, int line);

#ifdef __cplusplus
}
#endif

#endif /* WARD_CTX_H */
