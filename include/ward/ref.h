/*
 * ward/ref.h — reference-counted objects with a finalizer, and weak
 * references that never dangle.
 *
 *     struct session *s = ward_ref_new(sizeof(*s), session_finalize, NULL);
 *     ward_weak_t *w = ward_weak_new(s);     // does not keep s alive
 *     ward_ref_retain(s);  ...  ward_ref_release(s);
 *     ward_ref_release(s);                   // the last: finalized, once
 *     struct session *again = ward_weak_get(w);   // NULL now
 *     ward_weak_free(w);
 *
 * The rules (docs/pools.md, "References"):
 *  - An object starts with one strong reference. When the last goes, its
 *    finalizer runs exactly once — inline, on the releasing thread, or on
 *    ward's finalizer thread once the program asks for one — and then the
 *    object's memory is freed (when no weak reference remains; until then
 *    only the small header stays).
 *  - ward_weak_get() returns a new strong reference, or NULL once the last
 *    strong one went: never a pointer to an object being finalized. It
 *    races the last release safely; whichever comes first wins.
 *  - Objects are a tracked kind ("ref") with the stack that made them: one
 *    alive at exit, or at the end of a leak check, is reported there. The
 *    finalizer monitor (ward_ref_stats) counts finalizers registered, run
 *    and pending, and the age of the oldest pending one.
 *  - In checking mode (ward_ref_check, or WARD_REF_CHECK=1) every strong
 *    reference is also a record of kind "retain" with the stack that took
 *    it, so an object alive at exit comes with the references that keep
 *    it: which retain is the extra one.
 */
#ifndef WARD_REF_H
#define WARD_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ward/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*ward_finalizer_fn)(void *obj, void *arg);

/*
 * ward_ref_new - a zeroed object of size bytes with one strong reference;
 * finalize(obj, arg) (may be NULL) runs when the last goes. NULL when out
 * of memory.
 */
WARD_API void *ward_ref_new(size_t size, ward_finalizer_fn finalize, void *arg);

/* ward_ref_retain - one more strong reference to obj; returns obj. */
WARD_API void *ward_ref_retain(void *obj);

/*
 * ward_ref_release - drop a strong reference (NULL does nothing). The last
 * one finalizes the object. A release of an object with none left is a
 * programming error: logged, and nothing is done.
 */
WARD_API void ward_ref_release(void *obj);

/*
 * ward_ref_check - checking mode for the objects made from now on (on), or
 * not (off); WARD_REF_CHECK=1 in the environment turns it on from the
 * start. Each strong reference taken — the one ward_ref_new returns, each
 * retain, each successful weak get — is tracked as kind "retain" with the
 * stack that took it, and each release ends one of them: the one taken in
 * the releasing function when there is one, else the one whose stack
 * shares most with the release's, else the oldest. References carry no
 * identity, so the pairing is a guess where one function takes a
 * reference and another gives it back; the count of "retain" records
 * alive is always the count of references held. A retain+release then
 * costs two stack walks (microseconds): for tests and debug builds.
 */
WARD_API void ward_ref_check(bool on);

/* The strong references obj has now (for tests and reports). */
WARD_API uint32_t ward_ref_count(const void *obj);

typedef struct ward_weak ward_weak_t;

/* ward_weak_new - a weak reference to obj; NULL when out of memory. */
WARD_API ward_weak_t *ward_weak_new(void *obj);

/* ward_weak_get - a new strong reference to the object, or NULL once it is
 * finalizing or gone. Release what it returns. */
WARD_API void *ward_weak_get(ward_weak_t *w);

/* ward_weak_free - drop the weak reference. Accepts NULL. */
WARD_API void ward_weak_free(ward_weak_t *w);

/*
 * ward_ref_finalizer_thread - run finalizers on ward's finalizer thread
 * (started now) instead of the releasing thread, as Go runs them: a
 * finalizer that blocks or takes the releaser's locks then harms no one.
 * Returns 0 or a negative errno.
 */
WARD_API int ward_ref_finalizer_thread(bool on);

/* Wait until every queued finalizer ran (for tests and shutdown). */
WARD_API void ward_ref_drain(void);

struct ward_ref_stats {
	uint64_t created;           /* objects made */
	uint64_t finalized;         /* finalizers run */
	uint64_t pending;           /* queued, not run yet */
	uint64_t oldest_pending_ms; /* how long the oldest has waited */
	uint64_t alive;             /* objects with strong references */
};

/* ward_ref_stats - the finalizer monitor's figures now. */
WARD_API void ward_ref_stats(struct ward_ref_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* WARD_REF_H */
