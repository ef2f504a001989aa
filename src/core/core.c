/*
 * core.c — error strings, the version, and the log hook.
 *
 * ward never writes to a stream on its own: messages are formatted here and
 * passed to one process-wide hook. The hook and its opaque pointer change
 * together under hook_lock, and a logging thread copies the pair under it,
 * then calls the hook with no lock held (so a hook may log or replace
 * itself). Logging is a cold path; the lock costs nothing that matters.
 */
#include <errno.h>
#include <limits.h>
#include <link.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/file.h"
#include "core/guard.h"
#include "core/lock.h"
#include "core/log.h"
#include "core/thread.h"
#include "core/map.h"
#include "core/spin.h"
#include "ward/core.h"

__thread int ward__in_registry __attribute__((tls_model("initial-exec")));

/* ---- ward's own mappings ----------------------------------------------- */

/*
 * A fixed table of the ranges ward mapped, claimed and released slot by
 * slot with compare-and-swap (no lock: the scan reads it with every other
 * thread stopped, and the fatal-signal path maps too). A mapping made
 * when the table is full is simply not remembered: the scan then reads it
 * as the program's, which can only make blocks look reachable.
 */
enum { OWN_MAPS = 65536 };
static struct {
	_Atomic uintptr_t lo, hi;
} own[OWN_MAPS];
/* One past the highest slot ever claimed: the searches stop there, so a
 * process that maps little pays for little. */
static _Atomic int own_top;
/* Where a search for a free slot starts: slots below it were taken when
 * it moved past them, and one given back moves it down. Only a hint. */
static _Atomic int own_hint;
/* Changes with every slot claimed or given back (the sorted copy below
 * is remade when it has). */
static _Atomic unsigned own_gen = 1;

static void own_claimed(int i)
{
	int top = atomic_load(&own_top);
	while (top < i + 1 &&
	       !atomic_compare_exchange_weak(&own_top, &top, i + 1))
		;
}

/* Remember [p, p + bytes) as ward's; false when the table is full. From
 * the hint on, then from the start; a slot is read before it is claimed
 * (a thousand threads each mapping their tables found every slot taken
 * by a compare-and-swap of its own, each taking the line). */
static bool own_remember(void *p, size_t bytes)
{
	int from = atomic_load_explicit(&own_hint, memory_order_relaxed);
	for (int k = 0; k < OWN_MAPS; k++) {
		int i = (from + k) % OWN_MAPS;
		uintptr_t free_slot = 0;
		if (atomic_load_explicit(&own[i].lo, memory_order_relaxed) ||
		    !atomic_compare_exchange_strong(&own[i].lo, &free_slot,
						    (uintptr_t)p))
			continue;
		atomic_store(&own[i].hi, (uintptr_t)p + bytes);
		own_claimed(i);
		atomic_fetch_add(&own_gen, 1);
		atomic_store_explicit(&own_hint, i + 1, memory_order_relaxed);
		return true;
	}
	return false;
}

/*
 * A program that locks its future memory (mlockall(MCL_FUTURE), as
 * chronyd, cryptsetup or a real-time program does) would lock ward's too:
 * each mapping made resident whole as it is made — the exit report's
 * 1 GiB arena among them, a gigabyte at exit — and counted against the
 * program's RLIMIT_MEMLOCK. While it does, ward's mappings are made
 * inaccessible (which the kernel does not make resident), unlocked, then
 * opened.
 */
static atomic_bool locks_future;

bool ward__map_locks_future(bool on)
{
	return atomic_exchange(&locks_future, on);
}

static void *map_anon(size_t bytes, int prot, int flags)
{
	bool unlock = atomic_load_explicit(&locks_future, memory_order_relaxed);
	void *p = mmap(NULL, bytes, unlock ? PROT_NONE : prot,
		       MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (unlock && (munlock(p, bytes) != 0 ||
		       (prot != PROT_NONE && mprotect(p, bytes, prot) != 0))) {
		munmap(p, bytes);
		return NULL;
	}
	return p;
}

static void *map_own(size_t bytes, int flags)
{
	void *p = map_anon(bytes ? bytes : 1, PROT_READ | PROT_WRITE, flags);
	if (!p)
		return NULL;
	own_remember(p, bytes ? bytes : 1);
	return p;
}

void *ward__map(size_t bytes)
{
	return map_own(bytes, 0);
}

void *ward__map_reserve(size_t bytes)
{
	return map_own(bytes, MAP_NORESERVE);
}

enum { HUGE_FROM = 4 << 20 };

void ward__map_populate(void *p, size_t bytes, bool huge)
{
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
	/* A page: its first write faults it in as cheaply, without a
	 * system call that takes the address-space lock. */
	if (!p || bytes <= 4096)
		return;
	/* Large arrays in huge pages where the system allows them (THP
	 * "madvise"): a 2 MiB page faults in once, not 512 times, and the
	 * random reads and writes over them miss the TLB far less. */
	if (huge && bytes >= HUGE_FROM)
		madvise(p, bytes, MADV_HUGEPAGE);
	madvise(p, bytes, MADV_POPULATE_WRITE);
}

void ward__unmap(void *p, size_t bytes)
{
	if (!p)
		return;
	for (int i = 0, top = atomic_load(&own_top); i < top; i++)
		if (atomic_load(&own[i].lo) == (uintptr_t)p) {
			atomic_store(&own[i].hi, 0);
			atomic_store(&own[i].lo, 0);
			atomic_fetch_add(&own_gen, 1);
			int hint = atomic_load(&own_hint);
			while (i < hint && !atomic_compare_exchange_weak(
						   &own_hint, &hint, i))
				;
			break;
		}
	munmap(p, bytes ? bytes : 1);
}

bool ward__space_limited(void)
{
	static _Atomic int limited = -1; /* threads may ask at once */
	int lim = atomic_load_explicit(&limited, memory_order_relaxed);
	if (lim < 0) {
		struct rlimit rl;
		lim = getrlimit(RLIMIT_AS, &rl) != 0 ||
		      rl.rlim_cur != RLIM_INFINITY;
		atomic_store_explicit(&limited, lim, memory_order_relaxed);
	}
	return lim;
}

const char *ward__no_memory_for(const char *what, char *buf, size_t len)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_AS, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
		snprintf(buf, len, "out of memory for %s", what);
	else
		snprintf(buf, len, "out of memory for %s: the program has "
			 "used up its address space (its limit, RLIMIT_AS or "
			 "`ulimit -v`, is %llu KiB)", what,
			 (unsigned long long)rl.rlim_cur >> 10);
	return buf;
}

void *ward__map_room(size_t bytes)
{
	/* A process whose address space is limited gets none: the room
	 * would count against the program's own limit. */
	if (ward__space_limited())
		return NULL;
	void *p = map_anon(bytes, PROT_NONE, MAP_NORESERVE);
	if (!p)
		return NULL;
	if (!own_remember(p, bytes)) {
		munmap(p, bytes);
		return NULL;
	}
	return p;
}

bool ward__room_use(void *p, size_t from, size_t to)
{
	if (to <= from)
		return true;
	if (mprotect((char *)p + from, to - from, PROT_READ | PROT_WRITE))
		return false;
	ward__map_populate((char *)p + from, to - from, false);
	return true;
}

void ward__room_give_back(void *p, size_t from, size_t to)
{
	if (to <= from)
		return;
	madvise((char *)p + from, to - from, MADV_DONTNEED);
	mprotect((char *)p + from, to - from, PROT_NONE);
}

static void *_Atomic spare;

void ward__spare_keep(void)
{
	if (ward__space_limited())
		return;
	void *p = map_anon(WARD__SPARE_BYTES, PROT_NONE, MAP_NORESERVE);
	if (!p)
		return;
	void *was = atomic_exchange(&spare, p);
	if (was) /* kept already */
		munmap(was, WARD__SPARE_BYTES);
}

void ward__map_unlock_own(void)
{
	for (int i = 0, top = atomic_load(&own_top); i < top; i++) {
		uintptr_t lo = atomic_load(&own[i].lo), hi = atomic_load(&own[i].hi);
		if (lo && hi > lo)
			munlock((void *)lo, hi - lo);
	}
	void *p = atomic_load(&spare);
	if (p)
		munlock(p, WARD__SPARE_BYTES);
}

struct own_object {
	uintptr_t lo, hi;
	bool mine;
};

static int find_own_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct own_object *o = arg;
	uintptr_t me = (uintptr_t)&find_own_object, lo = UINTPTR_MAX, hi = 0;
	bool mine = false;
	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD)
			continue;
		uintptr_t at = info->dlpi_addr + ph->p_vaddr;
		if (at < lo)
			lo = at;
		if (at + ph->p_memsz > hi)
			hi = at + ph->p_memsz;
		if (me >= at && me < at + ph->p_memsz)
			mine = true;
	}
	/* The executable's name is empty: linked into it (the static
	 * library), ward's object is the program's. */
	if (mine && info->dlpi_name && info->dlpi_name[0])
		*o = (struct own_object){ lo, hi, true };
	return mine;
}

bool ward__own_object(uintptr_t *lo, uintptr_t *hi)
{
	struct own_object o = { 0, 0, false };
	dl_iterate_phdr(find_own_object, &o);
	*lo = o.lo;
	*hi = o.hi;
	return o.mine;
}

/*
 * mlockall(MCL_CURRENT) the kernel refused because of ward. Without
 * CAP_IPC_LOCK it asks that the whole address space fit in the program's
 * RLIMIT_MEMLOCK, and ward's part of it counts: its tables' room, the
 * spare, its library's data (some 38 MiB). A program that fits alone gets
 * what it asked for: each of its mappings locked (mlock2(), which counts
 * what it locks; a mapping it cannot lock, as mlockall() does, is passed
 * over) and its future ones by the kernel (the same flags without
 * MCL_CURRENT); ward's are left out, its library among them. One that does not fit alone is
 * refused, as alone.
 */

struct lock_pass {
	bool lock;
	int flags;       /* mlock2()'s */
	uint64_t bytes;  /* counted, when not locking */
	uintptr_t object_lo, object_hi; /* ward's library, when it is one */
};

/* [lo, hi), none of it in ward's own mappings, less ward's library and
 * the spare: counted or locked. */
static void lock_piece(struct lock_pass *p, uintptr_t lo, uintptr_t hi)
{
	uintptr_t spare_lo = (uintptr_t)atomic_load(&spare);
	const uintptr_t out[2][2] = {
		{ p->object_lo, p->object_hi },
		{ spare_lo, spare_lo ? spare_lo + WARD__SPARE_BYTES : 0 },
	};
	for (int i = 0; i < 2; i++)
		if (out[i][1] > lo && out[i][0] < hi) {
			if (out[i][0] > lo)
				lock_piece(p, lo, out[i][0]);
			if (out[i][1] < hi)
				lock_piece(p, out[i][1], hi);
			return;
		}
	if (!p->lock)
		p->bytes += hi - lo;
	else
		syscall(SYS_mlock2, lo, hi - lo, p->flags);
}

static void lock_line(void *arg, char *text)
{
	struct lock_pass *p = arg;
	char *e;
	uintptr_t lo = strtoull(text, &e, 16), hi = 0;
	if (*e == '-')
		hi = strtoull(e + 1, &e, 16);
	if (*e != ' ' || hi <= lo || hi > (uintptr_t)1 << 56)
		return; /* [vsyscall] lies above the process's own space */
	while (lo < hi) {
		uintptr_t olo, ohi;
		if (!ward__map_first_own(lo, hi, &olo, &ohi)) {
			lock_piece(p, lo, hi);
			return;
		}
		if (olo > lo)
			lock_piece(p, lo, olo);
		lo = ohi;
	}
}

int ward__map_lock_all_but_own(int flags)
{
	char buf[PATH_MAX + 256];
	struct lock_pass p = { false, 0, 0, 0, 0 };
	if (ward__own_object(&p.object_lo, &p.object_hi)) {
		p.object_lo &= ~(uintptr_t)4095;
		p.object_hi = (p.object_hi + 4095) & ~(uintptr_t)4095;
	}
	int rc = ward__proc_lines("maps", buf, sizeof(buf), lock_line, &p);
	if (rc < 0)
		return rc;
	struct rlimit rl;
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    p.bytes / page > rl.rlim_cur / page)
		return -ENOMEM;
	int future = flags & ~MCL_CURRENT;
	if ((future & MCL_FUTURE) && syscall(SYS_mlockall, future) != 0)
		return -errno;
	p.lock = true;
	p.flags = (flags & MCL_ONFAULT) ? 1 /* MLOCK_ONFAULT */ : 0;
	return ward__proc_lines("maps", buf, sizeof(buf), lock_line, &p);
}

void ward__spare_give_back(void)
{
	void *p = atomic_exchange(&spare, NULL);
	if (p)
		munmap(p, WARD__SPARE_BYTES);
}

/*
 * The table sorted, for ward__map_first_own(): the scan asks for every
 * range it reads, and a thousand threads' tables made a search of the
 * whole table each time most of the scan's work. Remade when the table
 * has changed since; ward's mappings never overlap, so sorted by their
 * start they are sorted by their end too. Its memory is mapped directly
 * (not remembered: it holds the ranges of ward's mappings, no block's
 * address) and sorted in place without the allocator, which a thread the
 * scan stopped may hold.
 */
struct own_range {
	uintptr_t lo, hi;
};
static struct own_range *sorted;
static size_t nsorted, sorted_room;
static unsigned sorted_gen;
static ward__spin_t sorted_lock;

static void sift_down(struct own_range *v, size_t at, size_t n)
{
	for (size_t c; (c = 2 * at + 1) < n; at = c) {
		if (c + 1 < n && v[c + 1].lo > v[c].lo)
			c++;
		if (v[at].lo >= v[c].lo)
			return;
		struct own_range t = v[at];
		v[at] = v[c];
		v[c] = t;
	}
}

static bool sorted_remake(void)
{
	unsigned gen = atomic_load(&own_gen);
	if (gen == sorted_gen)
		return true;
	size_t top = (size_t)atomic_load(&own_top);
	if (top > sorted_room) {
		size_t room = top + top / 2 + 64;
		void *m = map_anon(room * sizeof(*sorted),
				   PROT_READ | PROT_WRITE, 0);
		if (!m)
			return false;
		if (sorted)
			munmap(sorted, sorted_room * sizeof(*sorted));
		sorted = m;
		sorted_room = room;
	}
	size_t n = 0;
	for (size_t i = 0; i < top; i++) {
		uintptr_t a = atomic_load(&own[i].lo), b = atomic_load(&own[i].hi);
		if (a && b > a)
			sorted[n++] = (struct own_range){ a, b };
	}
	for (size_t i = n / 2; i-- > 0;)
		sift_down(sorted, i, n);
	for (size_t end = n; end > 1; end--) {
		struct own_range t = sorted[0];
		sorted[0] = sorted[end - 1];
		sorted[end - 1] = t;
		sift_down(sorted, 0, end - 1);
	}
	nsorted = n;
	sorted_gen = gen;
	return true;
}

bool ward__map_first_own(uintptr_t lo, uintptr_t hi, uintptr_t *olo,
			 uintptr_t *ohi)
{
	bool found = false;
	ward__spin_lock(&sorted_lock);
	if (sorted_remake()) {
		/* The first range ending past lo: the lowest that may meet
		 * [lo, hi). */
		size_t a = 0, b = nsorted;
		while (a < b) {
			size_t mid = a + (b - a) / 2;
			if (sorted[mid].hi <= lo)
				a = mid + 1;
			else
				b = mid;
		}
		if (a < nsorted && sorted[a].lo < hi) {
			*olo = sorted[a].lo;
			*ohi = sorted[a].hi;
			found = true;
		}
		ward__spin_unlock(&sorted_lock);
		return found;
	}
	ward__spin_unlock(&sorted_lock);
	/* No room for the copy: the table itself. */
	for (int i = 0, top = atomic_load(&own_top); i < top; i++) {
		uintptr_t a = atomic_load(&own[i].lo), b = atomic_load(&own[i].hi);
		if (a && b && a < hi && lo < b && (!found || a < *olo)) {
			*olo = a;
			*ohi = b;
			found = true;
		}
	}
	return found;
}

static pthread_mutex_t hook_lock = PTHREAD_MUTEX_INITIALIZER;
static ward_log_fn hook_fn;   /* NULL: write to stderr; under hook_lock */
static void *hook_opaque;     /* under hook_lock */

#define WARD_STR_(x) #x
#define WARD_STR(x) WARD_STR_(x)

WARD_API const char *ward_version(void)
{
	return WARD_STR(WARD_VERSION_MAJOR) "." WARD_STR(WARD_VERSION_MINOR)
		"." WARD_STR(WARD_VERSION_PATCH);
}

WARD_API const char *ward_strerror(int err)
{
	if (err < 0)
		err = -err;
	if (err == 0)
		return "success";
	/* strerror() is not thread-safe in general, but glibc's returns
	 * static strings for every known errno. */
	return strerror(err);
}

WARD_API ward_log_fn ward_set_log_hook(ward_log_fn fn, void *opaque)
{
	ward__mutex_lock(&hook_lock);
	ward_log_fn old = hook_fn;
	hook_fn = fn;
	hook_opaque = fn ? opaque : NULL;
	ward__mutex_unlock(&hook_lock);
	return old;
}

/*
 * Writing to a pipe or socket whose reader is gone raises SIGPIPE, and
 * writing past the file size limit (RLIMIT_FSIZE, `ulimit -f`) SIGXFSZ;
 * ward's words are not worth the program's life (a program whose standard
 * error was a pipe its reader closed, or whose file size was limited,
 * ends with its own status, not by the signal, because ward wrote its
 * summary or its profile). Both are blocked on this thread for the write;
 * the one the write raised is taken back out with sigtimedwait(), unless
 * one was already pending, which is the program's. SIGTTOU is blocked
 * too: a background job writing to its terminal under `stty tostop` is
 * stopped by it, unless it blocks it — then the write is let through.
 */
int ward__write_all(int fd, const void *buf, size_t len)
{
	sigset_t quiet, old, pending;
	sigemptyset(&quiet);
	sigaddset(&quiet, SIGPIPE);
	sigaddset(&quiet, SIGXFSZ);
	sigaddset(&quiet, SIGTTOU);
	pthread_sigmask(SIG_BLOCK, &quiet, &old);
	if (sigpending(&pending) != 0)
		sigemptyset(&pending);

	const char *p = buf;
	int rc = 0;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = w < 0 ? -errno : -EIO;
			break;
		}
		p += w;
		len -= (size_t)w;
	}

	int raised = rc == -EPIPE ? SIGPIPE : rc == -EFBIG ? SIGXFSZ : 0;
	if (raised && sigismember(&pending, raised) != 1) {
		sigset_t one;
		sigemptyset(&one);
		sigaddset(&one, raised);
		struct timespec now = { 0, 0 };
		while (sigtimedwait(&one, NULL, &now) < 0 && errno == EINTR)
			;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

void ward__log_raw(enum ward_log_level level, const char *msg, size_t len)
{
	ward__mutex_lock(&hook_lock);
	ward_log_fn fn = hook_fn;
	void *opaque = hook_opaque;
	ward__mutex_unlock(&hook_lock);

	if (fn)
		fn(opaque, level, msg, len);
	else
		ward__write_all(STDERR_FILENO, msg, len);
}

void ward__vlog(enum ward_log_level level, const char *fmt, va_list ap)
{
	char buf[4096];
	int len = vsnprintf(buf, sizeof(buf), fmt, ap);

	if (len < 0)
		return;
	if ((size_t)len >= sizeof(buf))
		len = sizeof(buf) - 1;
	ward__log_raw(level, buf, (size_t)len);
}

void ward__log(enum ward_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ward__vlog(level, fmt, ap);
	va_end(ap);
}

static ward_abort_fn abort_fn;   /* under hook_lock */
static void *abort_opaque;       /* under hook_lock */

WARD_API ward_abort_fn ward_set_abort_hook(ward_abort_fn fn, void *opaque)
{
	ward__mutex_lock(&hook_lock);
	ward_abort_fn old = abort_fn;
	abort_fn = fn;
	abort_opaque = fn ? opaque : NULL;
	ward__mutex_unlock(&hook_lock);
	return old;
}

void ward__fatal(const char *fmt, ...)
{
	char buf[4096];
	va_list ap;

	va_start(ap, fmt);
	int len = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (len < 0)
		len = 0;
	if ((size_t)len >= sizeof(buf))
		len = sizeof(buf) - 1;
	ward__log_raw(WARD_LOG_ERROR, buf, (size_t)len);
	ward__mutex_lock(&hook_lock);
	ward_abort_fn fn = abort_fn;
	void *opaque = abort_opaque;
	ward__mutex_unlock(&hook_lock);
	if (fn)
		fn(opaque, buf, (size_t)len);
	abort();
}

enum { THREAD_STACK = 2 << 20 };

int ward__thread_start(pthread_t *th, void *(*fn)(void *), void *arg,
		       bool detached, int open_sig)
{
	pthread_t local;
	pthread_attr_t a;
	sigset_t all, old;
	pthread_attr_init(&a);
	if (detached)
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	/* A thread's default stack is the program's RLIMIT_STACK, 64 KiB
	 * under `ulimit -s 64`; ward's threads write profiles and read debug
	 * information, which take more (the endpoint's thread died by
	 * SIGSEGV serving a profile there, and took the program with it). */
	size_t size = 0;
	if (pthread_attr_getstacksize(&a, &size) == 0 && size < THREAD_STACK)
		pthread_attr_setstacksize(&a, THREAD_STACK);
	/* The program's signals are not for ward's threads; the new thread
	 * starts with this mask. */
	sigfillset(&all);
	if (open_sig)
		sigdelset(&all, open_sig);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ward__guard_raise();
	int rc = pthread_create(th ? th : &local, &a, fn, arg);
	ward__guard_lower();
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&a);
	return -rc;
}

uint64_t ward__now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct timespec ward__deadline(clockid_t clock, uint64_t ns)
{
	struct timespec at;
	clock_gettime(clock, &at);
	at.tv_sec += (time_t)(ns / 1000000000ull);
	at.tv_nsec += (long)(ns % 1000000000ull);
	if (at.tv_nsec >= 1000000000) {
		at.tv_sec++;
		at.tv_nsec -= 1000000000;
	}
	return at;
}
