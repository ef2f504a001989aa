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
 * books, nor behind a stream or directory the interposers saw opened,
 * nor ward's own (the HTTP endpoint's) is added to the books.
 * The first SHOWN of those still open are named in figures of their own,
 * "fd 7 socket:[4242]: unseen_open 1": what /proc/self/fd says each is.
 */
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/file.h"
#include "core/spin.h"
#include "registry/registry.h"
#include "serve/serve.h"
#include "trace/intercept.h"
#include "ward/track.h"

/* Descriptors above this many are taken as noted. */
enum { NOTED_MAX = 1 << 16 };

static uint64_t noted[NOTED_MAX / 64];
/* Descriptors behind the streams and directories open now (FILE and
 * DIR): theirs, not descriptors of their own. */
static _Atomic uint64_t streams[NOTED_MAX / 64];
static bool listed;   /* noted holds a listing */
static uint32_t site; /* the books' site with no stack, once made */
static _Atomic uint64_t opened_unseen;

static void note(void *arg, int fd)
{
	(void)arg;
	if (fd < NOTED_MAX)
		noted[fd / 64] |= 1ull << (fd % 64);
}

void ward__intercept_stream_fd(int fd, bool open)
{
	if (fd < 0 || fd >= NOTED_MAX || ward__vfork_child)
		return;
	uint64_t bit = 1ull << (fd % 64);
	if (open)
		atomic_fetch_or_explicit(&streams[fd / 64], bit,
					 memory_order_relaxed);
	else
		atomic_fetch_and_explicit(&streams[fd / 64], ~bit,
					  memory_order_relaxed);
}

void ward__intercept_fds_note(void)
{
	for (size_t i = 0; i < NOTED_MAX / 64; i++)
		noted[i] = 0;
	listed = ward__proc_self_fds(note, NULL) == 0;
}

/* The unseen descriptors open at the last look, named: "7 socket:[4242]". */
enum { SHOWN = 16, NAME_MAX_LEN = 160 };
struct shown {
	char name[SHOWN][NAME_MAX_LEN];
	int n;
};
static struct shown shown;
static ward__spin_t shown_lock;

static void opened_unseen_figure(ward__figure_fn fn, void *opaque)
{
	uint64_t n = atomic_load(&opened_unseen);
	if (n)
		fn("fd", "", "opened_unseen",
		   "Descriptors found open that ward did not see opened (a "
		   "system call made without the C library, or inside one of "
		   "its calls): added to the books, with no stack.",
		   true, n, opaque);
	ward__spin_lock(&shown_lock);
	for (int i = 0; i < shown.n; i++)
		fn("fd", shown.name[i], "unseen_open",
		   "A descriptor ward did not see opened, open at the last "
		   "look: its number and what /proc/self/fd says it is.",
		   false, 1, opaque);
	ward__spin_unlock(&shown_lock);
}

static struct ward__figure_source opened_unseen_source = {
	.each = opened_unseen_figure
};

/* fd's name in a figure: its number and its target, printable. */
static void name_fd(char *out, int fd)
{
	char path[64], target[NAME_MAX_LEN - 16];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	long n = syscall(SYS_readlinkat, AT_FDCWD, path, target,
			 sizeof(target) - 1);
	target[n > 0 ? n : 0] = '\0';
	for (char *c = target; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	snprintf(out, NAME_MAX_LEN, "%d %s", fd, n > 0 ? target : "?");
}

static void find_unseen(void *arg, int fd)
{
	struct shown *now = arg;
	uint32_t had_site;
	uint64_t had_size;
	if (fd < 3 || fd >= NOTED_MAX || (noted[fd / 64] >> (fd % 64) & 1) ||
	    (atomic_load_explicit(&streams[fd / 64], memory_order_relaxed) >>
		     (fd % 64) & 1) ||
	    ward__http_owns(fd))
		return;
	if (ward__registry_find(WARD_KIND_FD, (uintptr_t)fd, &had_site,
				&had_size)) {
		if (had_site != site)
			return; /* seen opened */
	} else if (ward__track_site(WARD_KIND_FD, (uintptr_t)fd, site) == 0 &&
		   atomic_fetch_add(&opened_unseen, 1) == 0) {
		ward__figure_source_add(&opened_unseen_source);
	}
	if (now->n < SHOWN)
		name_fd(now->name[now->n++], fd);
}

void ward__intercept_fds_unseen(void)
{
	if (!listed)
		return;
	if (!site)
		site = ward__site_intern(WARD_KIND_FD, NULL, 0);
	static struct shown now; /* one look at a time, under look_lock */
	static ward__spin_t look_lock;
	if (!site)
		return;
	ward__spin_lock(&look_lock);
	now.n = 0;
	if (ward__proc_self_fds(find_unseen, &now) == 0) {
		ward__spin_lock(&shown_lock);
		shown = now;
		ward__spin_unlock(&shown_lock);
	}
	ward__spin_unlock(&look_lock);
}
