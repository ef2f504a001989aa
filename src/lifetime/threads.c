/*
 * threads.c — the program's threads, followed from start to end.
 *
 * A thread is on the books from pthread_create() (or thrd_create()) until
 * it is joined; a detached one until it ends. Its end is seen from inside
 * it: every thread the program creates starts in run_thread() below, which
 * sets a key of ward's and then calls the program's start routine as its
 * last call (a jump where the compiler allows, so the thread's stack
 * shows the program's routine right under the C library's start), and
 * the key's destructor runs when the thread returns, calls pthread_exit()
 * or is cancelled. So a detached thread that is still running is live in
 * every snapshot, and one blocked forever shows as a growing count, as a
 * goroutine dump would show it; the tracer's exit report lists it with
 * where it is blocked, still reachable (the program let it go on
 * purpose), not lost; a leak check counts one started during the check
 * that has not ended, as goleak counts a goroutine.
 *
 * A thread may end before its creator's call returns: what it started
 * from (struct start) settles that order. It may be detached after it
 * ended: a table of ward's own by handle (pthread_t) keeps which of the
 * settled threads are detached and which have ended, and settles that
 * one. A handle leaves the table when it may be reused: the thread
 * joined, or detached and ended.
 *
 * Who keeps the books: a program built with ward follows the threads it
 * starts through ward_thread_create() (below; declared in ward/track.h),
 * and their records are the registry's; the tracer follows every thread
 * the program creates (its interposers, preload/preload.c) and keeps the
 * books itself (trace/intercept.c), through ward__threads_kept_by().
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "core/lock.h"
#include "core/map.h"
#include "core/spin.h"
#include "lifetime/threads.h"
#include "registry/registry.h"
#include "ward/track.h"

enum { DETACHED = 1, ENDED = 2 };

struct entry {
	uintptr_t handle; /* 0: free */
	uintptr_t flags;
};

/* Open addressing, linear probing, at most half full; ward's own mapping
 * (the scan never takes it for the program's memory). */
static struct entry *table;
static size_t cap, used;
static ward__spin_t lock;
static pthread_key_t end_key;
static bool have_key;

static size_t slot_of(uintptr_t h, size_t n)
{
	uint64_t x = (uint64_t)h * 0x9e3779b97f4a7c15ull;
	return (size_t)(x >> 32) & (n - 1);
}

static struct entry *find(uintptr_t h)
{
	if (!table)
		return NULL;
	for (size_t i = slot_of(h, cap);; i = (i + 1) & (cap - 1)) {
		if (table[i].handle == h)
			return &table[i];
		if (!table[i].handle)
			return NULL;
	}
}

static bool grow(void)
{
	size_t n = cap ? cap * 2 : 256;
	struct entry *t = ward__map(n * sizeof(*t));
	if (!t)
		return false;
	for (size_t i = 0; i < cap; i++) {
		if (!table[i].handle)
			continue;
		size_t j = slot_of(table[i].handle, n);
		while (t[j].handle)
			j = (j + 1) & (n - 1);
		t[j] = table[i];
	}
	ward__unmap(table, cap * sizeof(*table));
	table = t;
	cap = n;
	return true;
}

/* The entry for h, added with no flags when there was none; NULL when
 * there is no room. */
static struct entry *find_or_add(uintptr_t h)
{
	struct entry *e = find(h);
	if (e)
		return e;
	if ((used + 1) * 2 > cap && !grow())
		return NULL;
	size_t i = slot_of(h, cap);
	while (table[i].handle)
		i = (i + 1) & (cap - 1);
	table[i] = (struct entry){ h, 0 };
	used++;
	return &table[i];
}

/* Take e out, moving back the entries after it that probed past it. */
static void drop(struct entry *e)
{
	size_t i = (size_t)(e - table);
	for (size_t j = (i + 1) & (cap - 1); table[j].handle;
	     j = (j + 1) & (cap - 1)) {
		size_t home = slot_of(table[j].handle, cap);
		/* j's entry may move to i when its home is not in (i, j]. */
		if (((j - home) & (cap - 1)) >= ((j - i) & (cap - 1))) {
			table[i] = table[j];
			i = j;
		}
	}
	table[i] = (struct entry){ 0, 0 };
	used--;
}

/* A forked child's table: none of it is the child's. */
static void empty(void)
{
	if (table)
		memset(table, 0, cap * sizeof(*table));
	used = 0;
}

#ifdef WARD_TRACER
/* The tracer's books follow no thread until it says how. */
static const struct ward__thread_books *_Atomic books;
#else
/* The library's books: every thread ward_thread_create() starts is
 * followed; its record is the registry's. */
static bool library_follows(void)
{
	return true;
}

static void library_releases(uintptr_t h)
{
	ward__untrack(WARD_KIND_THREAD, h);
}

static const struct ward__thread_books library_books = {
	.following = library_follows,
	.release = library_releases,
};
static const struct ward__thread_books *_Atomic books = &library_books;
#endif

void ward__threads_kept_by(const struct ward__thread_books *b)
{
	atomic_store(&books, b);
}

/* The thread recorded under h leaves the books. */
static void let_go(uintptr_t h)
{
	const struct ward__thread_books *b = atomic_load(&books);
	if (b)
		b->release(h);
}

/* ---- The thread's start and end ----------------------------------------- */

/*
 * What a followed thread starts from, shared by its creator and the thread
 * until both are done with it: the creator records the thread and then
 * settles it (ward__thread_created), the thread's key destructor marks its
 * end; whichever comes second frees it. A thread that ended before its
 * creator settled it leaves the settling to the creator, which alone
 * knows the handle is still the thread's (a detached thread's handle may
 * be reused the moment it ends).
 */
struct start {
	void *(*fn)(void *);
	int (*c11)(void *);
	void *arg;
	bool created, ended, detached; /* under the lock */
	struct start *next_free;
};

/*
 * They come from pages of ward's own, not the program's heap: freeing one
 * from malloc's heap as the thread ends would walk ward's index of the
 * program's blocks on the thread's stack, and a stack the program mapped
 * itself is a root of the scan; what that walk left there could keep a
 * lost block reachable.
 */
static struct start *free_starts;

static struct start *new_start(void)
{
	ward__spin_take(&lock);
	if (!free_starts) {
		enum { PER_PAGE = 4096 / sizeof(struct start) };
		struct start *page = ward__map(PER_PAGE * sizeof(*page));
		for (size_t i = 0; page && i < PER_PAGE; i++) {
			page[i].next_free = free_starts;
			free_starts = &page[i];
		}
	}
	struct start *s = free_starts;
	if (s)
		free_starts = s->next_free;
	ward__spin_drop(&lock);
	return s;
}

static void free_start(struct start *s)
{
	ward__spin_take(&lock);
	s->next_free = free_starts;
	free_starts = s;
	ward__spin_drop(&lock);
}

static struct start begin(void *p)
{
	pthread_setspecific(end_key, p);
	return *(struct start *)p;
}

static void *run_thread(void *p)
{
	struct start s = begin(p);
	return s.fn(s.arg);
}

static int run_thrd(void *p)
{
	struct start s = begin(p);
	return s.c11(s.arg);
}

void ward__thread_unwrap(void *arg, void *wrapped)
{
	if (arg != wrapped)
		free_start(wrapped);
}

/*
 * h's entry gains flag (DETACHED or ENDED); with both, h leaves the table
 * and the books. A detached thread with no entry is one ward does not
 * follow to its end: it leaves the books at once.
 */
static void mark(uintptr_t h, uintptr_t flag)
{
	bool leaves;
	ward__spin_take(&lock);
	struct entry *e = find(h);
	if (e) {
		e->flags |= flag;
		if ((leaves = e->flags == (DETACHED | ENDED)))
			drop(e);
	} else {
		leaves = flag == DETACHED;
	}
	ward__spin_drop(&lock);
	if (leaves)
		let_go(h);
}

/* The key's destructor: the thread is ending. */
static void ended(void *p)
{
	struct start *s = p;
	ward__spin_take(&lock);
	bool settled = s->created;
	if (!settled)
		s->ended = true; /* the creator settles it, and frees s */
	ward__spin_drop(&lock);
	if (settled) {
		mark((uintptr_t)pthread_self(), ENDED);
		free_start(s);
	}
}

#ifdef WARD_TRACER
/* Made before the program makes keys of its own: glibc keeps a thread's
 * first 32 values in its descriptor and allocates room for later ones,
 * which would be the program's blocks if ward's set were the first (as
 * in registry/counters.c). */
__attribute__((constructor(101))) static void make_key(void)
{
	have_key = pthread_key_create(&end_key, ended) == 0;
}
#else
/* A program built with ward: the key is made at its first
 * ward_thread_create() (glibc's room for later keys is not the program's
 * heap here: ward only sees the blocks it is given). The lock is held
 * across fork(); a child starts with an empty table, its one thread
 * being none of these. */
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

static void fork_prepare(void)
{
	ward__spin_take(&lock);
}

static void fork_parent(void)
{
	ward__spin_drop(&lock);
}

static void fork_child(void)
{
	empty();
	ward__spin_drop(&lock);
}

static void make_key(void)
{
	have_key = pthread_key_create(&end_key, ended) == 0;
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}
#endif

static bool following(void)
{
#ifndef WARD_TRACER
	pthread_once(&key_once, make_key);
#endif
	const struct ward__thread_books *b = atomic_load(&books);
	return have_key && b && b->following();
}

void *ward__thread_wrap(void *(**fn)(void *), int (**c11)(void *),
			void *arg)
{
	if (!following())
		return arg;
	struct start *s = new_start();
	if (!s)
		return arg; /* not followed to its end: joined, it still is */
	if (fn) {
		*s = (struct start){ .fn = *fn, .arg = arg };
		*fn = run_thread;
	} else {
		*s = (struct start){ .c11 = *c11, .arg = arg };
		*c11 = run_thrd;
	}
	return s;
}

uintptr_t ward__thread_record_as(uintptr_t h, bool is_detached, void *arg,
				 void *wrapped)
{
	if (arg == wrapped)
		return h;
	struct start *s = wrapped;
	ward__spin_take(&lock);
	bool gone = (is_detached || s->detached) && s->ended;
	ward__spin_drop(&lock);
	/* Ended and detached: h may be another thread's already. A key no
	 * thread has (what it started from, in ward's own pages) keeps its
	 * record apart. */
	return gone ? (uintptr_t)wrapped : h;
}

void ward__thread_created(uintptr_t h, uintptr_t recorded, bool is_detached,
			  void *arg, void *wrapped)
{
	if (arg == wrapped) { /* not followed */
		if (is_detached)
			let_go(recorded);
		return;
	}
	struct start *s = wrapped;
	bool leaves = false;
	ward__spin_take(&lock);
	bool gone = s->ended;
	is_detached |= s->detached; /* by itself, before this */
	if (gone && is_detached) {
		leaves = true;
	} else {
		/* Running, or ended but joinable (h is its until joined). */
		struct entry *e = find_or_add(h);
		if (e)
			e->flags = (is_detached ? DETACHED : 0) |
				   (gone ? ENDED : 0);
		else
			leaves = is_detached; /* no room: not followed */
		s->created = true;
	}
	ward__spin_drop(&lock);
	if (leaves)
		let_go(recorded);
	if (gone)
		free_start(s);
}

void ward__thread_detached(uintptr_t h)
{
	/* A thread that detached itself before its creator settled it
	 * (pthread_detach(pthread_self()) first thing): the creator, which
	 * has not recorded it yet, settles that too. */
	struct start *s = have_key && h == (uintptr_t)pthread_self()
				  ? pthread_getspecific(end_key)
				  : NULL;
	if (s) {
		ward__spin_take(&lock);
		bool early = !s->created;
		if (early)
			s->detached = true;
		ward__spin_drop(&lock);
		if (early)
			return;
	}
	mark(h, DETACHED);
}

void ward__thread_joined(uintptr_t h)
{
	ward__spin_take(&lock);
	struct entry *e = find(h);
	if (e)
		drop(e);
	ward__spin_drop(&lock);
	let_go(h);
}

bool ward__thread_is_detached(uintptr_t h)
{
	ward__spin_take(&lock);
	struct entry *e = find(h);
	bool d = e && (e->flags & DETACHED);
	ward__spin_drop(&lock);
	return d;
}

void ward__threads_forked(void)
{
	/* The child's books start empty and its one thread is the one that
	 * forked: nothing here is its. */
	empty();
	atomic_store(&lock, 0);
	if (have_key)
		pthread_setspecific(end_key, NULL);
}

/* ---- The library's wrappers (ward/track.h) ------------------------------ */

#ifdef WARD_TRACER
/* In the tracer, pthread_create(), pthread_join() and pthread_detach()
 * called here are its own interposers, which keep the books. */
WARD_API int ward_thread_create(pthread_t *th, const pthread_attr_t *attr,
				void *(*fn)(void *), void *arg)
{
	if (!th || !fn)
		return EINVAL;
	return pthread_create(th, attr, fn, arg);
}

WARD_API int ward_thread_join(pthread_t th, void **ret)
{
	return pthread_join(th, ret);
}

WARD_API int ward_thread_detach(pthread_t th)
{
	return pthread_detach(th);
}
#else
WARD_API __attribute__((noinline)) int
ward_thread_create(pthread_t *th, const pthread_attr_t *attr,
		   void *(*fn)(void *), void *arg)
{
	if (!th || !fn)
		return EINVAL;
	void *start_arg = ward__thread_wrap(&fn, NULL, arg);
	int rc = pthread_create(th, attr, fn, start_arg);
	if (rc != 0) {
		ward__thread_unwrap(arg, start_arg);
		return rc;
	}
	int state = PTHREAD_CREATE_JOINABLE;
	if (attr)
		pthread_attr_getdetachstate(attr, &state);
	bool detached = state == PTHREAD_CREATE_DETACHED;
	uintptr_t as = ward__thread_record_as((uintptr_t)*th, detached, arg,
					      start_arg);
	ward__track_at(WARD_KIND_THREAD, as, 0, 1);
	ward__thread_created((uintptr_t)*th, as, detached, arg, start_arg);
	__asm__ volatile("" ::: "memory");
	return 0;
}

WARD_API int ward_thread_join(pthread_t th, void **ret)
{
	int rc = pthread_join(th, ret);
	if (rc == 0)
		ward__thread_joined((uintptr_t)th);
	return rc;
}

WARD_API int ward_thread_detach(pthread_t th)
{
	int rc = pthread_detach(th);
	if (rc == 0)
		ward__thread_detached((uintptr_t)th);
	return rc;
}
#endif
