/*
 * ward/leakcheck.h — leak checks for tests, in the manner of goleak, for
 * every kind the registry tracks.
 *
 *     ward_leakcheck_t *lc = ward_leakcheck_begin();
 *     run_code_under_test();
 *     ward_profile_t *leaks = NULL;
 *     int n = ward_leakcheck_end(lc, &leaks);   // resources still live
 *     if (n > 0)
 *         ward_profile_write(leaks, WARD_FORMAT_TEXT, my_write, NULL);
 *     ward_profile_free(leaks);
 *
 * or, in a test, just:
 *
 *     ward_leakcheck_t *lc = ward_leakcheck_begin();
 *     run_code_under_test();
 *     ward_leakcheck_verify(lc, "test_parser");  // exits 1 on a leak
 *
 * What counts: resources acquired after begin and still live at end —
 * including a handle that was live at begin, released, and acquired again.
 * Threads still running are given time to finish (WARD_LEAKCHECK_WAIT_MS,
 * default 1000) before they count.
 */
#ifndef WARD_LEAKCHECK_H
#define WARD_LEAKCHECK_H

#include <stdint.h>

#include "ward/core.h"
#include "ward/profile.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ward_leakcheck ward_leakcheck_t;

/* ward_leakcheck_begin - remember what is live now. NULL when out of memory. */
WARD_API ward_leakcheck_t *ward_leakcheck_begin(void);

/*
 * ward_leakcheck_ignore - never report this resource (a cache, a pool, a
 * thread meant to outlive the check). Returns 0 or -ENOMEM.
 */
WARD_API int ward_leakcheck_ignore(ward_leakcheck_t *lc, int kind,
				   uintptr_t handle);

/*
 * ward_leakcheck_suppress - count nothing at the sites a suppression of s
 * matches (ward_suppressions_parse() in ward/profile.h: a library's own
 * caches, by function, object or source file anywhere in the stack). s is
 * the caller's and must outlive the check. Returns 0 or -EINVAL.
 */
WARD_API int ward_leakcheck_suppress(ward_leakcheck_t *lc,
				     const ward_suppressions_t *s);

/*
 * ward_leakcheck_end - finish the check and free lc. Returns how many
 * resources acquired since begin are still live (0: no leak), or a negative
 * errno. When leaks is not NULL, *leaks gets a profile of them by site
 * (live_* values), to be freed with ward_profile_free(); NULL when none.
 */
WARD_API int ward_leakcheck_end(ward_leakcheck_t *lc, ward_profile_t **leaks);

/*
 * ward_leakcheck_verify - end the check (freeing lc), and fail the test if
 * anything leaked, as goleak.VerifyNone does: print to stderr
 * "ward: NAME leaked N resources:" and the text report of the leaks (sites
 * with their stacks), then exit(1). Returns 0 when nothing leaked, or a
 * negative errno when the check itself could not run (also reported on
 * stderr).
 */
WARD_API int ward_leakcheck_verify(ward_leakcheck_t *lc, const char *name);

#ifdef __cplusplus
}
#endif

#endif /* WARD_LEAKCHECK_H */
