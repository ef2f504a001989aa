/*
 * ctx.c — contexts and the threads that belong to them (include/ward/ctx.h).
 *
 * One lock guards the context tree; cancelling walks the subtree with an
 * explicit stack (a chain of 100,000 nested contexts is fine). A context is
 * freed when its owner releases it and no thread of ward_go() still uses
 * it (each holds a reference): a thread that outlives its owner — a leaked
 * thread — reads a cancelled context, never freed memory.
 *
 * The done descriptor is a timerfd: a deadline arms it at the deadline, a
 * cancel arms it to fire at once, so it is readable from then on and no
 * thread of ward's has to wake to cancel anything. A deadline is noticed
 * by ward_ctx_err() (and the descriptor) when it passes.
 */
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "core/env.h"
#include "core/clock.h"
#include "core/grow.h"
#include "core/lock.h"
#include "core/log.h"
#include "lifetime/lifetime.h"
#include "registry/registry.h"
#include "scan/scan.h"
#include "ward/ctx.h"
#include "ward/track.h"

struct ward_ctx {
	struct ward_ctx *parent;
	struct ward_ctx *children;      /* newest first */
	struct ward_ctx *newer, *older; /* siblings */
	_Atomic int cause;              /* 0 while live */
	uint64_t deadline;              /* CLOCK_MONOTONIC ns; 0: none */
	int fd;                         /* the done timerfd, or -1 */
	int refs;                       /* the owner's, and each thread's */
	bool released;                  /* by its owner */
	ward_owner_t *owner;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t go_lock = PTHREAD_MUTEX_INITIALIZER;

/* The contexts' and threads' locks are held across fork(). */
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void fork_prepare(void)
{
	ward__mutex_lock(&lock);
	ward__mutex_lock(&go_lock);
}

static void fork_done(void)
{
	ward__mutex_unlock(&go_lock);
	ward__mutex_unlock(&lock);
}

static void fork_register(void)
{
	ward__registry_fork_handlers();
	pthread_atfork(fork_prepare, fork_done, fork_done);
}

/* Arm c's descriptor: at its deadline, or at once when cancelled. */
static void arm(struct ward_ctx *c)
{
	if (c->fd < 0)
		return;
	struct itimerspec it = { { 0, 0 }, { 0, 0 } };
	int flags = 0;
	if (atomic_load(&c->cause)) {
		it.it_value.tv_nsec = 1; /* now */
	} else if (c->deadline) {
		it.it_value.tv_sec = (time_t)(c->deadline / 1000000000ull);
		it.it_value.tv_nsec = (long)(c->deadline % 1000000000ull);
		flags = TFD_TIMER_ABSTIME;
	} else {
		return;
	}
	timerfd_settime(c->fd, flags, &it, NULL);
}

/* A stack of contexts still to visit, growing past its first 64. */
struct todo {
	struct ward_ctx *first[64], **v;
	size_t n, cap;
};

static bool push(struct todo *t, struct ward_ctx *c)
{
	if (t->n == t->cap) {
		size_t ncap = t->cap * 2;
		struct ward_ctx **nv = malloc(ncap * sizeof(*nv));
		if (!nv)
			return false;
		memcpy(nv, t->v, t->n * sizeof(*nv));
		if (t->v != t->first)
			free(t->v);
		t->v = nv;
		t->cap = ncap;
	}
	t->v[t->n++] = c;
	return true;
}

/* Cancel c and its subtree with cause (lock held): never the parents. */
static int cancel_locked(struct ward_ctx *c, int cause)
{
	if (atomic_load(&c->cause))
		return -EALREADY;
	struct todo t;
	t.v = t.first;
	t.n = 0;
	t.cap = 64;
	push(&t, c);
	while (t.n) {
		struct ward_ctx *k = t.v[--t.n];
		int expected = 0;
		if (!atomic_compare_exchange_strong(&k->cause, &expected, cause))
			continue; /* cancelled before, with its subtree */
		arm(k);
		for (struct ward_ctx *g = k->children; g; g = g->older)
			if (!push(&t, g))
				break; /* out of memory: the rest stay live */
	}
	if (t.v != t.first)
		free(t.v);
	return 0;
}

/* Drop one reference (lock held); true when c is to be freed. */
static bool unref_locked(struct ward_ctx *c)
{
	return --c->refs == 0;
}

static void free_ctx(struct ward_ctx *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

/* The owner releases c: cancel it, take it out of the tree (its children
 * become roots, cancelled), drop the owner's reference. */
static void owner_released(void *arg)
{
	struct ward_ctx *c = arg;
	ward__mutex_lock(&lock);
	cancel_locked(c, -ECANCELED);
	c->released = true;
	for (struct ward_ctx *k = c->children; k; k = k->older)
		k->parent = NULL;
	c->children = NULL;
	if (c->parent) {
		if (c->newer)
			c->newer->older = c->older;
		else
			c->parent->children = c->older;
		if (c->older)
			c->older->newer = c->newer;
	}
	c->parent = c->newer = c->older = NULL;
	bool gone = unref_locked(c);
	ward__mutex_unlock(&lock);
	if (gone)
		free_ctx(c);
}

static ward_ctx_t *make(ward_owner_t *owner, ward_ctx_t *parent,
			uint64_t timeout_ns, bool timed)
{
	if (!owner) {
		errno = EINVAL;
		return NULL;
	}
	pthread_once(&fork_once, fork_register);
	struct ward_ctx *c = calloc(1, sizeof(*c));
	if (!c) {
		errno = ENOMEM;
		return NULL;
	}
	c->fd = -1;
	c->refs = 1;
	c->owner = owner;
	if (timed) {
		uint64_t now = ward__now_ns();
		c->deadline = timeout_ns > UINT64_MAX - now ? UINT64_MAX
							    : now + timeout_ns;
		if (!c->deadline)
			c->deadline = 1;
	}
	ward__mutex_lock(&lock);
	if (parent && parent->released) {
		ward__mutex_unlock(&lock);
		free(c);
		errno = EINVAL;
		return NULL;
	}
	if (parent) {
		c->parent = parent;
		c->older = parent->children;
		if (parent->children)
			parent->children->newer = c;
		parent->children = c;
		if (parent->deadline &&
		    (!c->deadline || parent->deadline < c->deadline))
			c->deadline = parent->deadline;
		int pc = atomic_load(&parent->cause);
		if (pc)
			atomic_store(&c->cause, pc);
	}
	ward__mutex_unlock(&lock);
	if (ward_owner_attach(owner, owner_released, c) < 0) {
		/* Not a live owner: undo. */
		c->refs = 1;
		owner_released(c);
		errno = EINVAL;
		return NULL;
	}
	return c;
}

WARD_API ward_ctx_t *ward_ctx_new(ward_owner_t *owner, ward_ctx_t *parent)
{
	return make(owner, parent, 0, false);
}

WARD_API ward_ctx_t *ward_ctx_with_timeout(ward_owner_t *owner,
					   ward_ctx_t *parent,
					   uint64_t timeout_ns)
{
	return make(owner, parent, timeout_ns, true);
}

WARD_API int ward_ctx_cancel(ward_ctx_t *c, int cause)
{
	if (!c)
		return -EINVAL;
	if (cause >= 0)
		cause = -ECANCELED;
	ward__mutex_lock(&lock);
	int rc = cancel_locked(c, cause);
	ward__mutex_unlock(&lock);
	return rc;
}

/* A deadline that passed cancels (once noticed). */
static int cause_now(struct ward_ctx *c)
{
	int cause = atomic_load(&c->cause);
	if (!cause && c->deadline && ward__now_ns() >= c->deadline) {
		ward__mutex_lock(&lock);
		cancel_locked(c, -ETIMEDOUT);
		ward__mutex_unlock(&lock);
		cause = atomic_load(&c->cause);
	}
	return cause;
}

WARD_API int ward_ctx_err(ward_ctx_t *c)
{
	if (!c)
		return -EINVAL;
	int cause = cause_now(c);
	return !cause ? 0 : cause == -ETIMEDOUT ? -ETIMEDOUT : -ECANCELED;
}

WARD_API int ward_ctx_cause(ward_ctx_t *c)
{
	return c ? cause_now(c) : -EINVAL;
}

WARD_API int ward_ctx_done_fd(ward_ctx_t *c)
{
	if (!c)
		return -EINVAL;
	ward__mutex_lock(&lock);
	if (c->fd < 0) {
		c->fd = timerfd_create(CLOCK_MONOTONIC,
				       TFD_CLOEXEC | TFD_NONBLOCK);
		if (c->fd < 0) {
			int err = -errno;
			ward__mutex_unlock(&lock);
			return err;
		}
		arm(c);
	}
	int fd = c->fd;
	ward__mutex_unlock(&lock);
	return fd;
}

WARD_API int ward_ctx_wait(ward_ctx_t *c, uint64_t timeout_ns)
{
	int fd = ward_ctx_done_fd(c);
	if (fd < 0)
		return fd;
	uint64_t end = timeout_ns == UINT64_MAX ? 0 : ward__now_ns() + timeout_ns;
	for (;;) {
		int err = ward_ctx_err(c);
		if (err)
			return err;
		int ms = -1;
		if (end) {
			uint64_t now = ward__now_ns();
			if (now >= end)
				return 0;
			uint64_t left = (end - now + 999999) / 1000000;
			ms = left > 1000 ? 1000 : (int)left;
		}
		struct pollfd p = { fd, POLLIN, 0 };
		poll(&p, 1, ms);
	}
}

WARD_API uint64_t ward_ctx_deadline(ward_ctx_t *c)
{
	return c ? c->deadline : 0;
}

WARD_API ward_owner_t *ward_ctx_owner(ward_ctx_t *c)
{
	return c ? c->owner : NULL;
}

/* ---- Threads that belong to an owner ------------------------------------- */

enum { RUNNING, FINISHED, LEAKED };

struct go {
	struct ward_ctx *ctx;
	void (*fn)(ward_ctx_t *, void *);
	void *arg;
	pthread_t th;
	_Atomic int tid;
	int state;       /* under go_lock */
	const char *file;
	int line;
};

static pthread_cond_t go_started = PTHREAD_COND_INITIALIZER;
static _Atomic uint32_t grace_ms;
static pthread_once_t grace_once = PTHREAD_ONCE_INIT;

static void grace_init(void)
{
	unsigned long long v = 1000;
	ward__env_number("WARD_GO_GRACE_MS", 0, UINT32_MAX - 1, &v,
			 "keeping 1000 ms");
	atomic_store(&grace_ms, (uint32_t)v);
}

WARD_API uint32_t ward_go_set_grace(uint32_t ms)
{
	pthread_once(&grace_once, grace_init);
	return atomic_exchange(&grace_ms, ms);
}

static void ctx_unref(struct ward_ctx *c)
{
	ward__mutex_lock(&lock);
	bool gone = unref_locked(c);
	ward__mutex_unlock(&lock);
	if (gone)
		free_ctx(c);
}

static void *go_main(void *arg)
{
	struct go *g = arg;
	ward__stack_top(); /* its bounds, for a walk from a signal later */
	ward__mutex_lock(&go_lock);
	atomic_store(&g->tid, (int)syscall(SYS_gettid));
	pthread_cond_broadcast(&go_started);
	ward__mutex_unlock(&go_lock);

	g->fn(g->ctx, g->arg);

	ctx_unref(g->ctx);
	ward__mutex_lock(&go_lock);
	bool leaked = g->state == LEAKED;
	g->state = FINISHED;
	ward__mutex_unlock(&go_lock);
	if (leaked) {
		/* Nobody will join it: it leaves the books itself. */
		ward__untrack(WARD_KIND_THREAD, (uintptr_t)g->th);
		free(g);
	}
	return NULL;
}

/* Log a leaked thread: where it was started, and where it is blocked. */
static uint32_t report_leaked(struct go *g, const char *path)
{
	uintptr_t pcs[64];
	int n = ward__thread_stack(atomic_load(&g->tid), pcs, 64, NULL);
	uint32_t site = n > 0 ? ward__site_intern(WARD_KIND_THREAD, pcs, n) : 0;
	char where[1024] = "";
	size_t at = 0;
	for (int i = 0; i < n && i < 8 && at < sizeof(where) - 24; i++) {
		/* Exported names only (the loader's); reports name every
		 * frame, with file and line. */
		Dl_info info;
		uintptr_t pc = i ? pcs[i] - 1 : pcs[i];
		if (dladdr((void *)pc, &info) && info.dli_sname)
			at += (size_t)snprintf(where + at, sizeof(where) - at,
					       "\n\t#%d %s+0x%lx", i,
					       info.dli_sname,
					       (unsigned long)(pc - (uintptr_t)
							       info.dli_saddr));
		else
			at += (size_t)snprintf(where + at, sizeof(where) - at,
					       "\n\t#%d 0x%lx", i,
					       (unsigned long)pcs[i]);
	}
	ward__log(WARD_LOG_WARN,
		  "ward: a thread started by ward_go at %s:%d did not end "
		  "within %u ms after its owner \"%s\" was released; it is "
		  "leaked, blocked at:%s%s\n",
		  g->file, g->line, atomic_load(&grace_ms), path,
		  n > 0 ? where : " (its stack could not be read: ",
		  n > 0 ? "" : n == -ETIMEDOUT ? "it blocks signals)" : "unsupported)");
	return site;
}

/*
 * Join th within ms milliseconds of the monotonic clock: 0, or ETIMEDOUT.
 * pthread_timedjoin_np() takes a wall-clock deadline, which a clock set
 * forward meanwhile reaches early (the grace period cut short); each
 * early end is waited on again for what is left. (pthread_clockjoin_np()
 * would say it directly, but ThreadSanitizer does not know it for a
 * join.)
 */
static int join_within(pthread_t th, uint64_t ms)
{
	uint64_t end = ward__now_ns() + ms * 1000000ull;
	for (;;) {
		uint64_t now = ward__now_ns(), left = end > now ? end - now : 0;
		struct timespec until = ward__deadline(CLOCK_REALTIME, left);
		int rc = pthread_timedjoin_np(th, NULL, &until);
		if (rc != ETIMEDOUT || ward__now_ns() >= end)
			return rc;
	}
}

/* The owner releases the thread: cancel its context, wait for it. */
static void go_released(void *arg)
{
	struct go *g = arg;
	char path[512] = "?";
	ward_owner_path(g->ctx->owner, path, sizeof(path));
	ward_ctx_cancel(g->ctx, -ECANCELED);
	pthread_once(&grace_once, grace_init);
	uint64_t ms = atomic_load(&grace_ms);
	int rc = join_within(g->th, ms);
	if (rc == 0) {
		ward__untrack(WARD_KIND_THREAD, (uintptr_t)g->th);
		free(g);
		return;
	}
	ward__mutex_lock(&go_lock);
	bool finished = g->state == FINISHED;
	if (!finished)
		g->state = LEAKED;
	ward__mutex_unlock(&go_lock);
	if (finished) { /* it ended just now */
		pthread_join(g->th, NULL);
		ward__untrack(WARD_KIND_THREAD, (uintptr_t)g->th);
		free(g);
		return;
	}
	uint32_t blocked = report_leaked(g, path);
	char label[600];
	snprintf(label, sizeof(label), "leaked from %s", path);
	ward__owner_leftover(WARD_KIND_THREAD, (uintptr_t)g->th, label,
			     blocked);
	pthread_detach(g->th);
}

WARD_API __attribute__((noinline)) int
ward__go(ward_ctx_t *c, void (*fn)(ward_ctx_t *, void *), void *arg,
	 const char *file, int line)
{
	if (!c || !fn || ward_ctx_err(c))
		return -EINVAL;
	struct go *g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->ctx = c;
	g->fn = fn;
	g->arg = arg;
	g->file = file;
	g->line = line;
	ward__mutex_lock(&lock);
	bool ok = !c->released;
	if (ok)
		c->refs++;
	ward__mutex_unlock(&lock);
	if (!ok) {
		free(g);
		return -EINVAL;
	}
	int rc = pthread_create(&g->th, NULL, go_main, g);
	if (rc != 0) {
		ctx_unref(c);
		free(g);
		return -rc;
	}
	ward__track_at(WARD_KIND_THREAD, (uintptr_t)g->th, 0, 1);
	/* Its id, for the stack where it blocks if it ever leaks. */
	ward__mutex_lock(&go_lock);
	while (!atomic_load(&g->tid))
		pthread_cond_wait(&go_started, &go_lock);
	ward__mutex_unlock(&go_lock);
	if (ward__owner_hold(c->owner, WARD_KIND_THREAD, (uintptr_t)g->th,
			     go_released, g, file, line) < 0)
		go_released(g); /* the owner went meanwhile: end it now */
	__asm__ volatile("" ::: "memory");
	return 0;
}
