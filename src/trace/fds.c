/*
 * fds.c — descriptors open that the tracer never saw opened.
 *
 * The interposers see the descriptors the C library's calls make, and
 * those made through syscall(). Some come from elsewhere: a system call
 * made without the C library (a language runtime's own, inline assembly),
 * or one the C library makes inside another of its calls (syslog's
 * socket). Such a descriptor still open at exit is as much a leak as any,
 * and valgrind's --track-fds counts it: so does ward, at a site with no
 * stack ("opened where ward did not see"), counted in the figure "fd
 * opened_unseen".
 *
 * What was open when the process started is the parent's (inherited, as
 * valgrind says), not a leak: the descriptors open then are noted, as
 * those open in a forked child at the fork (the parent's, which the
 * child's books start without). Before each snapshot the descriptors
 * open now are listed (/proc/self/fd); one neither noted, nor in the
 * books, nor ward's own (the HTTP endpoint's) is added to the books.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/file.h"
#include "registry/registry.h"
#include "serve/serve.h"
#include "trace/intercept.h"
#include "ward/track.h"

/* Descriptors above this many are taken as noted. */
enum { NOTED_MAX = 1 << 16 };

static uint64_t noted[NOTED_MAX / 64];
static bool listed;   /* noted holds a listing */
static uint32_t site; /* the books' site with no stack, once made */
static _Atomic uint64_t opened_unseen;

static void note(void *arg, int fd)
{
	(void)arg;
	if (fd < NOTED_MAX)
		noted[fd / 64] |= 1ull << (fd % 64);
}

void ward__intercept_fds_note(void)
{
	for (size_t i = 0; i < NOTED_MAX / 64; i++)
		noted[i] = 0;
	listed = ward__proc_self_fds(note, NULL) == 0;
}

static void opened_unseen_figure(ward__figure_fn fn, void *opaque)
{
	uint64_t n = atomic_load(&opened_unseen);
	if (n)
		fn("fd", "", "opened_unseen",
		   "Descriptors found open that ward did not see opened (a "
		   "system call made without the C library, or inside one of "
		   "its calls): added to the books, with no stack.",
		   true, n, opaque);
}

static struct ward__figure_source opened_unseen_source = {
	.each = opened_unseen_figure
};

static void find_unseen(void *arg, int fd)
{
	uint32_t had_site;
	uint64_t had_size;
	(void)arg;
	if (fd < 3 || fd >= NOTED_MAX || (noted[fd / 64] >> (fd % 64) & 1) ||
	    ward__registry_find(WARD_KIND_FD, (uintptr_t)fd, &had_site,
				&had_size) ||
	    ward__http_owns(fd))
		return;
	if (ward__track_site(WARD_KIND_FD, (uintptr_t)fd, site) == 0 &&
	    atomic_fetch_add(&opened_unseen, 1) == 0)
		ward__figure_source_add(&opened_unseen_source);
}

void ward__intercept_fds_unseen(void)
{
	if (!listed)
		return;
	if (!site)
		site = ward__site_intern(WARD_KIND_FD, NULL, 0);
	if (site)
		ward__proc_self_fds(find_unseen, NULL);
}
