/*
 * ref.c — reference-counted objects, finalizers and weak references
 * (include/ward/ref.h).
 *
 * An object is a header then the program's bytes. The header counts strong
 * references, and weak ones — the strong references together hold one
 * weak reference, so the header outlives the last strong reference for as
 * long as a weak one may look at it (shared_ptr's control block, in one
 * allocation). A weak get increments the strong count only from a value
 * above zero (a compare-and-swap loop), so it never revives an object whose
 * last strong reference went: the finalizer runs exactly once, and a weak
 * get after it returns NULL.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/single_threaded.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/thread.h"
#include "registry/registry.h"
#include "scan/scan.h"
#include "ward/ref.h"
#include "ward/track.h"

enum { MAGIC = 0x77617264726566ull }; /* "wardref" */

struct hdr {
	_Atomic uint32_t strong;
	_Atomic uint32_t weak;    /* weak references, plus one for the strong */
	ward_finalizer_fn fn;
	void *arg;
	uint64_t magic;
	struct hdr *next;         /* in the finalizer queue */
	uint64_t queued_ns;
} __attribute__((aligned(16)));

struct ward_weak {
	struct hdr *h;
};

static int ref_kind = -1;
static pthread_once_t kind_once = PTHREAD_ONCE_INIT;
static _Atomic uint64_t created, finalized, alive;

static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;

/* The finalizer queue's lock is held across fork(). */
static void fork_prepare(void)
{
	pthread_mutex_lock(&q_lock);
}

static void fork_done(void)
{
	pthread_mutex_unlock(&q_lock);
}

static void kind_init(void)
{
	ref_kind = ward_kind_register("ref");
	ward__registry_fork_handlers();
	pthread_atfork(fork_prepare, fork_done, fork_done);
}

static struct hdr *hdr_of(const void *obj)
{
	return (struct hdr *)obj - 1;
}

static void drop_weak(struct hdr *h)
{
	if (atomic_fetch_sub_explicit(&h->weak, 1, memory_order_acq_rel) == 1) {
		h->magic = 0;
		ward__in_registry++;
		free(h);
		ward__in_registry--;
	}
}

/* ---- The finalizer thread ------------------------------------------------ */

static pthread_cond_t q_cond = PTHREAD_COND_INITIALIZER;
static pthread_cond_t q_empty = PTHREAD_COND_INITIALIZER;
static struct hdr *q_head, *q_tail;
static uint64_t q_len;
static bool q_running;   /* a finalizer is running now */
static _Atomic bool thread_on;
static bool thread_started;

static void run_finalizer(struct hdr *h)
{
	if (h->fn)
		h->fn(h + 1, h->arg);
	atomic_fetch_add(&finalized, 1);
	drop_weak(h);
}

static void *finalizer_main(void *unused)
{
	(void)unused;
	pthread_mutex_lock(&q_lock);
	for (;;) {
		while (!q_head)
			pthread_cond_wait(&q_cond, &q_lock);
		struct hdr *h = q_head;
		q_head = h->next;
		if (!q_head)
			q_tail = NULL;
		q_len--;
		q_running = true;
		pthread_mutex_unlock(&q_lock);
		run_finalizer(h);
		pthread_mutex_lock(&q_lock);
		q_running = false;
		if (!q_head)
			pthread_cond_broadcast(&q_empty);
	}
	return NULL;
}

WARD_API int ward_ref_finalizer_thread(bool on)
{
	pthread_mutex_lock(&q_lock);
	int rc = 0;
	if (on && !thread_started) {
		rc = ward__thread_start(NULL, finalizer_main, NULL, true,
					ward__stop_signal());
		thread_started = rc == 0;
	}
	if (rc == 0)
		thread_on = on;
	pthread_mutex_unlock(&q_lock);
	return rc;
}

WARD_API void ward_ref_drain(void)
{
	pthread_mutex_lock(&q_lock);
	while (q_head || q_running)
		pthread_cond_wait(&q_empty, &q_lock);
	pthread_mutex_unlock(&q_lock);
}

/* ---- Strong references ----------------------------------------------------- */

WARD_API __attribute__((noinline)) void *
ward_ref_new(size_t size, ward_finalizer_fn finalize, void *arg)
{
	pthread_once(&kind_once, kind_init);
	if (size > SIZE_MAX - sizeof(struct hdr))
		return NULL;
	ward__in_registry++;
	struct hdr *h = calloc(1, sizeof(*h) + size);
	ward__in_registry--;
	if (!h)
		return NULL;
	atomic_init(&h->strong, 1);
	atomic_init(&h->weak, 1);
	h->fn = finalize;
	h->arg = arg;
	h->magic = MAGIC;
	atomic_fetch_add(&created, 1);
	atomic_fetch_add(&alive, 1);
	if (ref_kind >= 0)
		ward__track_at(ref_kind, (uintptr_t)(h + 1), size, 1);
	__asm__ volatile("" ::: "memory");
	return h + 1;
}

WARD_API void *ward_ref_retain(void *obj)
{
	if (!obj)
		return NULL;
	struct hdr *h = hdr_of(obj);
	uint32_t s;
	/* A process that never started a thread needs no atomic (glibc's
	 * flag, which libstdc++'s shared_ptr reads the same way). */
	if (__libc_single_threaded) {
		s = atomic_load_explicit(&h->strong, memory_order_relaxed);
		atomic_store_explicit(&h->strong, s + 1, memory_order_relaxed);
	} else {
		s = atomic_fetch_add_explicit(&h->strong, 1,
					      memory_order_relaxed);
	}
	if (s == 0)
		ward__log(WARD_LOG_WARN, "ward: ward_ref_retain of %p, whose "
			  "last reference went: it is finalized\n", obj);
	return obj;
}

WARD_API void ward_ref_release(void *obj)
{
	if (!obj)
		return;
	struct hdr *h = hdr_of(obj);
	uint32_t s;
	if (__libc_single_threaded) {
		s = atomic_load_explicit(&h->strong, memory_order_relaxed);
		atomic_store_explicit(&h->strong, s - 1, memory_order_relaxed);
	} else {
		s = atomic_fetch_sub_explicit(&h->strong, 1,
					      memory_order_acq_rel);
	}
	if (__builtin_expect(s == 0, 0)) {
		/* None left: undo, and say so. (A weak get meanwhile sees
		 * the wrapped count as live for that instant and takes a
		 * reference to a finalized object: the program's error
		 * already happened.) */
		atomic_fetch_add_explicit(&h->strong, 1, memory_order_relaxed);
		ward__log(WARD_LOG_WARN, "ward: ward_ref_release of %p, which "
			  "has no reference left (released once too often)\n",
			  obj);
		return;
	}
	if (s != 1)
		return;
	/* The last one: finalized once, here or on the finalizer thread. */
	if (ref_kind >= 0)
		ward_untrack(ref_kind, (uintptr_t)obj);
	atomic_fetch_sub(&alive, 1);
	if (!atomic_load_explicit(&thread_on, memory_order_relaxed)) {
		run_finalizer(h);
		return;
	}
	pthread_mutex_lock(&q_lock);
	bool queue = thread_on;
	if (queue) {
		h->next = NULL;
		h->queued_ns = ward__now_ns();
		if (q_tail)
			q_tail->next = h;
		else
			q_head = h;
		q_tail = h;
		q_len++;
		pthread_cond_signal(&q_cond);
	}
	pthread_mutex_unlock(&q_lock);
	if (!queue)
		run_finalizer(h);
}

WARD_API uint32_t ward_ref_count(const void *obj)
{
	return obj ? atomic_load(&hdr_of(obj)->strong) : 0;
}

/* ---- Weak references --------------------------------------------------------- */

WARD_API ward_weak_t *ward_weak_new(void *obj)
{
	if (!obj)
		return NULL;
	ward__in_registry++;
	struct ward_weak *w = malloc(sizeof(*w));
	ward__in_registry--;
	if (!w)
		return NULL;
	w->h = hdr_of(obj);
	atomic_fetch_add_explicit(&w->h->weak, 1, memory_order_relaxed);
	return w;
}

WARD_API void *ward_weak_get(ward_weak_t *w)
{
	if (!w)
		return NULL;
	struct hdr *h = w->h;
	uint32_t s = atomic_load_explicit(&h->strong, memory_order_acquire);
	do {
		if (s == 0)
			return NULL; /* finalizing or gone: never revived */
	} while (!atomic_compare_exchange_weak_explicit(
		&h->strong, &s, s + 1, memory_order_acq_rel,
		memory_order_acquire));
	return h + 1;
}

WARD_API void ward_weak_free(ward_weak_t *w)
{
	if (!w)
		return;
	drop_weak(w->h);
	ward__in_registry++;
	free(w);
	ward__in_registry--;
}

WARD_API void ward_ref_stats(struct ward_ref_stats *out)
{
	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	out->created = atomic_load(&created);
	out->finalized = atomic_load(&finalized);
	out->alive = atomic_load(&alive);
	pthread_mutex_lock(&q_lock);
	out->pending = q_len + (q_running ? 1 : 0);
	if (q_head)
		out->oldest_pending_ms = (ward__now_ns() - q_head->queued_ns) / 1000000;
	pthread_mutex_unlock(&q_lock);
}
