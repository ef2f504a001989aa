/*
 * ward/owner.h — owners: resources that live as long as a request, a
 * connection or a subsystem, in a tree.
 *
 *     ward_owner_t *conn = ward_owner_new(server, "conn 17");
 *     char *buf = ward_owner_malloc(conn, 4096);     // tracked, held by conn
 *     int fd = ward_owner_open(conn, path, O_RDONLY);
 *     ward_owner_attach(conn, session_end, session);  // any release function
 *     ...
 *     ward_owner_release(conn);   // session_end(session), close(fd), free(buf)
 *
 * The rules (docs/owners.md has the reasons):
 *  - Releasing an owner releases its children first, newest first, then
 *    its own resources, newest first, each exactly once. A release
 *    function may attach to the owner being released (that is released
 *    too, before the owner is gone) and may release other resources or
 *    owners; the walk stays sound.
 *  - A tracked resource held by an owner (ward_owner_malloc and the other
 *    wrappers below, ward_owner_hold) that the program releases itself
 *    (ward_free, ward_close, ward_fclose, ward_untrack) leaves its owner:
 *    it is never released twice. ward_realloc of a held block leaves the
 *    new block unowned; ward_owner_realloc keeps it held.
 *  - The innermost WARD_FRAME is an owner too: ward_owner_frame() returns
 *    it, and it is released when the frame ends or a panic unwinds it.
 *  - Owners are a tracked kind ("owner"): an owner never released is a
 *    leak with its creation stack, and the registry knows each held
 *    record's owner: snapshots, reports and pprof label samples with the
 *    owner's path ("server/conn 17/request").
 *  - Misuse is an error naming both places: releasing an owner twice,
 *    attaching to a released owner, moving an owner under itself. The
 *    call returns a negative errno and logs (WARD_LOG_WARN) where the
 *    owner was created and released.
 * Owners may be used from any thread; each call is atomic with respect to
 * the others.
 */
#ifndef WARD_OWNER_H
#define WARD_OWNER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ward/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ward_owner ward_owner_t;

/*
 * ward_owner_new - a new owner named `name` (copied; NULL: "owner") under
 * parent, or at the top when parent is NULL. NULL when out of memory or
 * when parent is not a live owner (errno EINVAL, and a message naming
 * where parent was released).
 */
#define ward_owner_new(parent, name)                                          \
	ward__owner_new((parent), (name), __FILE__, __LINE__)

/*
 * ward_owner_release - release o's children, then its resources, then o.
 * Returns 0; 0 for NULL; -EALREADY when o was already released (or is
 * being released: a release function releasing its own owner), -EINVAL
 * when o is not an owner.
 */
#define ward_owner_release(o) ward__owner_release((o), __FILE__, __LINE__)

/*
 * ward_owner_attach - hold fn(arg): called once when o is released.
 * Returns 0, -ENOMEM, or -EINVAL (fn NULL, o not a live owner).
 */
#define ward_owner_attach(o, fn, arg)                                         \
	ward__owner_attach((o), (fn), (arg), __FILE__, __LINE__)

/*
 * ward_owner_hold - hold a resource already tracked as (kind, handle):
 * released by fn(arg) with o, or leaves o when released elsewhere.
 * Returns 0, -ENOMEM, -EINVAL, or -EEXIST when an owner already holds it.
 */
#define ward_owner_hold(o, kind, handle, fn, arg)                             \
	ward__owner_hold((o), (kind), (handle), (fn), (arg), __FILE__, __LINE__)

/*
 * ward_owner_detach - let go of the newest resource of o whose release is
 * fn(arg) (fn NULL: any function with that arg), without releasing it.
 * Returns 0 or -ENOENT.
 */
WARD_API int ward_owner_detach(ward_owner_t *o, void (*fn)(void *), void *arg);

/*
 * ward_owner_release_one - release the newest resource of o whose release
 * is fn(arg) (fn NULL: any function with that arg) now, before o is
 * (talloc_free of one child). Returns 0 or -ENOENT.
 */
WARD_API int ward_owner_release_one(ward_owner_t *o, void (*fn)(void *),
				    void *arg);

/*
 * ward_owner_move - move that resource from `from` to `to` (talloc_steal).
 * Returns 0, -ENOENT, or -EINVAL when either is not a live owner.
 */
WARD_API int ward_owner_move(ward_owner_t *from, ward_owner_t *to,
			     void (*fn)(void *), void *arg);

/*
 * ward_owner_reparent - move o and its subtree under parent (NULL: the
 * top). Returns 0; -ELOOP when parent is o or one of its descendants
 * (logged with both owners' creation sites); -EINVAL.
 */
#define ward_owner_reparent(o, parent)                                        \
	ward__owner_reparent((o), (parent), __FILE__, __LINE__)

/*
 * ward_owner_frame - the owner of the innermost open WARD_FRAME, made on
 * first use and released when the frame ends (or a panic unwinds it).
 * NULL outside any frame or when out of memory.
 */
WARD_API ward_owner_t *ward_owner_frame(void);

/* ward_owner_name - o's name (NULL for NULL), valid while o lives. */
WARD_API const char *ward_owner_name(const ward_owner_t *o);

/*
 * ward_owner_path - "top/child/o" into buf (cut to len). Returns the full
 * length, or -EINVAL (o not live, buf NULL).
 */
WARD_API int ward_owner_path(const ward_owner_t *o, char *buf, size_t len);

/*
 * Tracked acquisitions held by o, attributed to the caller's stack. They
 * fail as the calls they wrap do (NULL / -1 and errno) and also when o is
 * not a live owner (EINVAL); nothing is acquired then.
 */
WARD_API void *ward_owner_malloc(ward_owner_t *o, size_t size);
WARD_API void *ward_owner_calloc(ward_owner_t *o, size_t n, size_t size);
WARD_API void *ward_owner_realloc(ward_owner_t *o, void *ptr, size_t size);
WARD_API char *ward_owner_strdup(ward_owner_t *o, const char *s);
WARD_API int ward_owner_open(ward_owner_t *o, const char *path, int flags, ...);
WARD_API FILE *ward_owner_fopen(ward_owner_t *o, const char *path,
				const char *mode);

/* ---- Internals used by the macros above -------------------------------- */

WARD_API ward_owner_t *ward__owner_new(ward_owner_t *parent, const char *name,
				       const char *file, int line);
WARD_API int ward__owner_release(ward_owner_t *o, const char *file, int line);
WARD_API int ward__owner_attach(ward_owner_t *o, void (*fn)(void *), void *arg,
				const char *file, int line);
WARD_API int ward__owner_hold(ward_owner_t *o, int kind, uintptr_t handle,
			      void (*fn)(void *), void *arg, const char *file,
			      int line);
WARD_API int ward__owner_reparent(ward_owner_t *o, ward_owner_t *parent,
				  const char *file, int line);

#ifdef __cplusplus
}
#endif

#endif /* WARD_OWNER_H */
