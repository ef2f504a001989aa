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

/*
 * ward_who_holds - who holds what is still alive: for each live block of
 * ward_malloc() and ward_ref_new() (ward/ref.h) at a site pattern names (a
 * function, object or source file anywhere in its stack, as in
 * suppressions: ward/profile.h) that the program can still reach, write a
 * line with the path from a root to it — a global by name, a thread's
 * stack and the function whose frame holds the word, a register, TLS —
 * through each tracked block on the way, with the site of each:
 *
 *   ward: who holds ref 0x4052a0 (48 bytes, acquired at open_session+0x1c
 *   (server)): global session_cache+0x10 (server) → the block
 *
 * The other threads are stopped while it reads (docs/cli.md, "Who holds
 * it"). Only what ward tracks is followed: a chain through memory the
 * program got from plain malloc() starts at that memory, named as such.
 * Returns how many paths were written (0: nothing alive there is
 * reachable), -EINVAL, -EAGAIN when the other threads could not be
 * stopped, -ENOTSUP off x86-64.
 */
WARD_API int ward_who_holds(const char *pattern, ward_write_fn write,
			    void *opaque);

/*
 * ward_ref_cycles - refs (ward/ref.h) alive that nothing reaches, because
 * they hold each other: each cycle is one line, every member with its
 * site and where in it the pointer to the next lies:
 *
 *   ward: a cycle of 3 refs that nothing reaches, so none is ever
 *   finalized: ref 0x… (40 bytes, acquired at node_new+0x1a (prog)) →
 *   +0x8 → ref 0x… (…) → +0x8 → ref 0x… (…) → +0x8 → back to ref 0x…
 *
 * A reference count cannot free them; CPython's cycle collector would.
 * Returns how many cycles were written, or -EAGAIN, -ENOMEM, -ENOTSUP as
 * ward_who_holds().
 */
WARD_API int ward_ref_cycles(ward_write_fn write, void *opaque);

#ifdef __cplusplus
}
#endif

#endif /* WARD_LEAKCHECK_H */
