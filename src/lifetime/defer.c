/*
 * defer.c — frames, deferred calls, panic, recover and Goexit.
 *
 * Data structures. Each thread owns two stacks in ward__self: the open
 * frames (outermost first) and the pending defers (oldest first). A frame
 * records the index of its first defer (`base`), so the defers of frame d are
 * defers[frames[d].base .. frames[d+1].base). Both stacks start in a first
 * block inside the thread's TLS, so registering a defer calls malloc only
 * when a thread holds more than FIRST_DEFERS at once; they then move to the
 * heap and stay there until the thread exits.
 *
 * The common path (open a frame, defer, leave) is inline in ward/defer.h
 * and touches only ward__self. Everything here is the slow path: running
 * defers, growth, the accumulation guard, and the unwinder.
 *
 * Panics follow Go's runtime (gopanic/gorecover/Goexit). A panic record
 * joins the thread's panic chain; the unwinder takes the topmost pending
 * defer, marks it started by recording its index in the record, and calls it
 * through call_deferred(), which records its own frame address in the panic
 * (`argp`). ward_recover() succeeds only if its caller's saved frame pointer
 * is that address and its caller's return address lies inside
 * call_deferred(): that is, the caller was invoked directly by the unwinder
 * for this panic. When the unwinder meets a defer that an earlier panic (or
 * Goexit) started, that earlier one is aborted, as in Go. After a deferred
 * call recovers, the unwinder longjmps to the resume point of the frame that
 * holds the defer; that frame's remaining defers run when its block exits.
 *
 * Locking: none, except the process-wide set of sites already warned about
 * by the accumulation guard, which takes a mutex on that cold path only.
 *
 * Invariants: frames[d].base is non-decreasing in d; n >= frames[depth-1].base;
 * a defer whose fn is NULL has been cancelled or already run by an unwinder.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <execinfo.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/capture.h"
#include "core/env.h"
#include "core/lock.h"
#include "core/log.h"
#include "registry/registry.h"
#include "ward/track.h"
#include "ward/defer.h"

/* Process-wide totals, for the metrics endpoint. */
static _Atomic uint64_t totals_panics, totals_accumulations;

enum { FIRST_DEFERS = 32, FIRST_FRAMES = 16, MAX_UNWOUND = 32 };

struct panic_rec {
	ward_panic_t pub;
	struct panic_rec *link;  /* chain: the panic in progress before */
	struct panic_rec *older; /* every record of the thread, for freeing */
	void *argp;              /* call_deferred()'s frame for this panic */
	ward_defer_fn fn;        /* the deferred function it is calling */
	uint32_t running;        /* 1 + index of the defer it runs, or 0 */
	bool goexit;
	jmp_buf *goexit_resume;  /* Goexit's loop, for a bypassed recovery */
	uint32_t nunwound;
	size_t cap;              /* room in msg, past the NUL */
	const struct ward__site *unwound[MAX_UNWOUND];
	char msg[];
};

/* What only this file touches; one per thread. */
struct thread_private {
	struct panic_rec *panic;   /* innermost panic or Goexit, or NULL */
	struct panic_rec *records; /* live records, newest first */
	struct panic_rec *spare;   /* records ready for reuse */
	uint32_t nspare;
	struct ward_defer_stats stats;
	bool in_thread_exit;
	const char *warned_file; /* last site the guard saw */
	int warned_line;
	uint32_t guarded;        /* 1 + depth of the frame in the registry */
	struct ward__defer first_defers[FIRST_DEFERS];
	struct ward__frame first_frames[FIRST_FRAMES];
};

WARD_API __thread struct ward__thread ward__self
	__attribute__((tls_model("initial-exec")));
static __thread struct thread_private P
	__attribute__((tls_model("initial-exec")));

/* ---- Set-up and thread exit -------------------------------------------- */

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key;
static uint32_t default_limit = 1024;

static void thread_exit(void *unused);

static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static void make_key(void)
{
	pthread_key_create(&exit_key, thread_exit);
}

static void init_process(void)
{
	unsigned long long v;
	char keeping[32];
	snprintf(keeping, sizeof(keeping), "keeping %u", default_limit);
	if (ward__env_number("WARD_DEFER_LIMIT", 0, UINT32_MAX, &v,
			     keeping) > 0)
		default_limit = (uint32_t)v;
	pthread_once(&key_once, make_key);
}

/* Made when the library loads, so among the program's first 32 keys (see
 * registry/counters.c). */
__attribute__((constructor(101))) static void key_early(void)
{
	pthread_once(&key_once, make_key);
}

static inline uint32_t stored_limit(uint32_t limit)
{
	return limit == 0 ? UINT32_MAX : limit;
}

static void setup(struct ward__thread *t)
{
	if (t->cap != 0)
		return;
	pthread_once(&once, init_process);
	t->defers = P.first_defers;
	t->cap = FIRST_DEFERS;
	t->frames = P.first_frames;
	t->fcap = FIRST_FRAMES;
	t->limit = stored_limit(default_limit);
	static _Atomic uint32_t threads;
	t->id = atomic_fetch_add_explicit(&threads, 1, memory_order_relaxed) + 1;
	/* Any non-NULL value makes thread_exit() run at thread exit. */
	pthread_setspecific(exit_key, t);
}

static void free_records(struct panic_rec *r)
{
	while (r) {
		struct panic_rec *older = r->older;
		free(r);
		r = older;
	}
}

static void retire_records(void);

static void goexit_unwind(void);
static void guard_release(uint32_t d);
static void release_thread_state(void);

/*
 * A thread that ends with defers pending (pthread_exit() from code built
 * without -fexceptions, or a start routine that returned past a frame it
 * never closed) gets them run here, Goexit-style, while its stack is still
 * mapped. Then its heap blocks go back.
 */
static void thread_exit(void *unused)
{
	struct ward__thread *t = &ward__self;

	(void)unused;
	if (P.guarded)
		guard_release(P.guarded - 1);
	if (t->n > 0 && !P.in_thread_exit) {
		/* The frames' blocks are gone: nothing can resume them. */
		for (uint32_t d = 0; d < t->depth; d++)
			t->frames[d].resume = NULL;
		P.in_thread_exit = true;
		goexit_unwind();
	}
	release_thread_state();
}

/* What the thread's defers and panics held, freed as it ends. */
static void release_thread_state(void)
{
	struct ward__thread *t = &ward__self;

	t->depth = 0;
	t->n = 0;
	if (t->defers != P.first_defers)
		free(t->defers);
	if (t->frames != P.first_frames)
		free(t->frames);
	t->defers = NULL;
	t->frames = NULL;
	t->cap = t->fcap = 0;
	free_records(P.records);
	free_records(P.spare);
	P.records = P.spare = NULL;
	P.nspare = 0;
	P.panic = NULL;
}

/* ---- Growth ------------------------------------------------------------ */

static int grow(void **arr, uint32_t *cap, void *first, size_t elem)
{
	uint32_t ncap = *cap * 2;
	void *p;

	if (ncap < *cap)
		return -ENOMEM;
	if (*arr == first) {
		p = malloc((size_t)ncap * elem);
		if (p)
			memcpy(p, first, (size_t)*cap * elem);
	} else {
		p = realloc(*arr, (size_t)ncap * elem);
	}
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

WARD_API const int ward__frame_guard = 1;

static void close_dead_frames(uintptr_t fa, uintptr_t var,
			      const char *file, int line);

/*
 * Panics (and Goexits) whose deferred call a longjmp left for a frame
 * above it: the stack at `here`, the caller's, is above the call's frame.
 * They are over — not current, not in the next panic's chain, their
 * records retired with the rest. The frames the jump skipped are dead, and
 * their other defers run when that is found (close_dead_frames()); the
 * call the jump left is never run again (unwind() marks it run before the
 * call).
 */
static void end_abandoned(uintptr_t here)
{
	while (P.panic && P.panic->running &&
	       (uintptr_t)P.panic->argp < here) {
		P.panic->running = 0;
		P.panic = P.panic->link;
	}
}

WARD_API uint32_t ward__frame_enter_slow(const struct ward__site *site,
					 uintptr_t fa, uintptr_t var,
					 jmp_buf *resume)
{
	struct ward__thread *t = &ward__self;

	setup(t);
	end_abandoned((uintptr_t)__builtin_frame_address(0));
	close_dead_frames(fa, var, site->file, site->line);
	if (t->depth >= t->fcap) {
		void *arr = t->frames;
		if (grow(&arr, &t->fcap, P.first_frames,
			 sizeof(struct ward__frame)) < 0)
			ward__panic(-ENOMEM, NULL, false, site->file, site->line,
				    site->func,
				    "ward: out of memory opening a frame");
		t->frames = arr;
	}
	return ward__frame_open(site, resume, fa, var);
}

/* ---- The accumulation guard -------------------------------------------- */

static pthread_mutex_t warned_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	const char *file;
	int line;
} warned[4096];

/* True the first time a site is seen (or when the table is full). */
static bool first_warning_for(const char *file, int line)
{
	size_t h = ((uintptr_t)file >> 3) * 31u + (size_t)line;
	bool first = true;

	ward__mutex_lock(&warned_lock);
	for (size_t i = 0; i < 4096; i++) {
		size_t k = (h + i) & 4095;
		if (warned[k].file == NULL) {
			warned[k].file = file;
			warned[k].line = line;
			break;
		}
		if (warned[k].file == file && warned[k].line == line) {
			first = false;
			break;
		}
	}
	ward__mutex_unlock(&warned_lock);
	return first;
}

static void accumulation_warning(struct ward__thread *t, const char *file,
				 int line)
{
	struct ward__frame *f = &t->frames[t->depth - 1];

	/* Every registration past the limit comes here; the common case, the
	 * same site as last time, costs two compares. */
	if (P.warned_file == file && P.warned_line == line)
		return;
	P.warned_file = file;
	P.warned_line = line;
	if (!first_warning_for(file, line))
		return;
	P.stats.warnings++;
	atomic_fetch_add_explicit(&totals_accumulations, 1, memory_order_relaxed);
	ward__log(WARD_LOG_WARN,
		  "ward: defer accumulation: the frame opened at %s:%d (%s) "
		  "holds %u pending defers, more than the limit of %u.\n"
		  "  registered at: %s:%d\n"
		  "  Defers run only when their frame exits, so a defer in a "
		  "loop piles up until the function returns.\n"
		  "  Open a frame in the loop body (WARD_FRAME; as its first "
		  "line) so each iteration releases what it acquired.\n",
		  f->site->file, f->site->line, f->site->func,
		  t->n - f->base + 1, t->limit, file, line);
}

/*
 * The guard also shows the pile-up in the registry, as a resource of kind
 * "defer" sized by the frame's pending count and attributed to the stack
 * that pushed it past the limit, so a profile taken meanwhile shows it for
 * what it is. One frame per thread at a time: the innermost offender.
 */
static int defer_kind = -1;

static uintptr_t guard_handle(uint32_t depth)
{
	return (uintptr_t)&P + depth; /* unique per thread and depth */
}

static __attribute__((noinline)) void guard_track(struct ward__thread *t)
{
	uint32_t d = t->depth - 1;
	if (defer_kind < 0)
		defer_kind = ward_kind_register("defer");
	if (defer_kind < 0)
		return;
	/* The record is re-made with the pending count as its size. */
	if (P.guarded)
		ward__untrack(defer_kind, guard_handle(P.guarded - 1));
	P.guarded = d + 1;
	/* skip 2: this function and ward__defer_slow; the stack starts at
	 * the code that called ward_defer(). */
	ward__track_at(defer_kind, guard_handle(d), t->n - t->frames[d].base + 1,
		       2);
	__asm__ volatile("" ::: "memory");
}

static void guard_release(uint32_t d)
{
	if (P.guarded == d + 1) {
		ward__untrack(defer_kind, guard_handle(d));
		P.guarded = 0;
	}
}

WARD_API ward_defer_t ward__defer_slow(ward_defer_fn fn, void *arg,
				       uintptr_t fa, const char *file, int line)
{
	struct ward__thread *t = &ward__self;

	setup(t);
	close_dead_frames(fa, 0, file, line);
	if (t->depth == 0)
		ward__fatal("ward: ward_defer() at %s:%d with no open frame.\n"
			    "  Open one with WARD_FRAME; at the top of the "
			    "block whose exit should run it.\n",
			    file, line);
	if (t->n >= t->cap) {
		void *arr = t->defers;
		if (grow(&arr, &t->cap, P.first_defers,
			 sizeof(struct ward__defer)) < 0) {
			/* It cannot wait for its frame: release it now. */
			fn(arg);
			ward__panic(-ENOMEM, NULL, false, file, line, "ward_defer",
				    "ward: out of memory growing the defer "
				    "chain (the deferred call ran at once)");
		}
		t->defers = arr;
	}
	struct ward__frame *top = &t->frames[t->depth - 1];
	if (t->n - top->base >= t->limit) {
		accumulation_warning(t, file, line);
		guard_track(t);
	}

	uint32_t n = t->n, serial = ++t->serial;
	t->defers[n] = (struct ward__defer){ fn ? fn : ward__nil_defer, arg,
					     serial, 0 };
	t->n = n + 1;
	return (ward_defer_t){ n, serial, t->id };
}

WARD_API int ward_defer_cancel(ward_defer_t h)
{
	struct ward__thread *t = &ward__self;

	if (h.thread == 0 || h.thread != t->id)
		return -EINVAL; /* another thread's, or never registered */
	if (h.index >= t->n || t->defers[h.index].serial != h.serial ||
	    t->defers[h.index].fn == NULL)
		return -ENOENT;
	t->defers[h.index].fn = NULL;
	P.stats.cancelled++;
	return 0;
}

WARD_API uint32_t ward_defer_set_limit(uint32_t limit)
{
	struct ward__thread *t = &ward__self;

	setup(t);
	uint32_t old = t->limit == UINT32_MAX ? 0 : t->limit;
	t->limit = stored_limit(limit);
	return old;
}

/* Counters the fast paths keep live in ward__self; the rest in P. */
WARD_API void ward_defer_totals(struct ward_defer_totals *out)
{
	if (!out)
		return;
	out->panics = atomic_load_explicit(&totals_panics, memory_order_relaxed);
	out->accumulations = atomic_load_explicit(&totals_accumulations,
						  memory_order_relaxed);
}

WARD_API void ward_defer_stats(struct ward_defer_stats *out)
{
	struct ward__thread *t = &ward__self;

	if (!out)
		return;
	*out = P.stats;
	out->registered = t->serial;
	out->max_depth = t->max_depth;
	out->run = t->run;
}

static inline void note_depth(uint32_t n)
{
	if (n > ward__self.max_depth)
		ward__self.max_depth = n;
}

/* ---- Frame exit -------------------------------------------------------- */

/*
 * Close the frames at the top that are dead (WARD__TOP_DEAD): their
 * functions were left by a longjmp that was not ward's, and no enclosing
 * frame exited to notice. Their defers run now, after a warning naming
 * them and where ward found out — leaving them would leak what they guard
 * and let later defers land on a frame that is gone.
 */
static void close_dead_frames(uintptr_t fa, uintptr_t var,
			      const char *file, int line)
{
	struct ward__thread *t = &ward__self;

	while (t->depth > 0 &&
	       (t->frames[t->depth - 1].fa < fa ||
		(var && t->frames[t->depth - 1].var == var))) {
		uint32_t d = t->depth - 1;
		const struct ward__site *s = t->frames[d].site;
		ward__log(WARD_LOG_WARN,
			  "ward: the frame opened at %s:%d (%s) was left "
			  "without closing (longjmp?); its defers run now, "
			  "at %s:%d.\n",
			  s->file, s->line, s->func, file, line);
		ward__frame_exit(d);
	}
}

/*
 * Run the pending defers of frame d, last first, then close it. Frames above
 * d that are still open were skipped by a longjmp that was not ward's: their
 * defers run here too (after a warning), since leaving them would leak what
 * they guard. A frame already closed by an unwinder is left alone.
 */
WARD_API void ward__frame_exit(uint32_t d)
{
	struct ward__thread *t = &ward__self;

	if (P.panic)
		end_abandoned((uintptr_t)__builtin_frame_address(0));
	if (t->depth <= d)
		return;
	if (t->depth > d + 1) {
		const struct ward__site *s = t->frames[d + 1].site;
		ward__log(WARD_LOG_WARN,
			  "ward: the frame opened at %s:%d (%s) was left "
			  "without closing (longjmp?); its defers run now, "
			  "with the frame at %s:%d.\n",
			  s->file, s->line, s->func, t->frames[d].site->file,
			  t->frames[d].site->line);
		t->depth = d + 1;
	}
	note_depth(t->n);
	if (P.guarded)
		guard_release(d);
	while (t->n > t->frames[d].base) {
		struct ward__defer e = t->defers[--t->n];
		if (e.fn) {
			t->run++;
			e.fn(e.arg);
		}
	}
	t->depth = d;
}

/* ---- Panic records ----------------------------------------------------- */

/*
 * Panic records live on two per-thread lists: P.records holds every record
 * of the current panic chain and of finished panics whose values a caller
 * may still hold; P.spare holds records ready for reuse, so a thread that
 * panics and recovers in a loop allocates nothing after the first time.
 * Finished records move to P.spare when the next panic starts (after its
 * message is formatted, since its arguments may point into them).
 */
/*
 * Under AddressSanitizer no record is kept for reuse: a retired record is
 * freed, so a program that reads a recovered panic after the thread's
 * next panic (keeping two side by side) gets a use-after-free report
 * naming both, instead of reading the second panic in the first's place.
 */
#if defined(__SANITIZE_ADDRESS__)
#define WARD__ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WARD__ASAN 1
#endif
#endif
#ifdef WARD__ASAN
static const bool reuse_records = false;
#else
static const bool reuse_records = true;
#endif
enum { SPARE_MAX = 4 };

static void retire_records(void)
{
	struct panic_rec *r = P.records;

	P.records = NULL;
	while (r) {
		struct panic_rec *older = r->older;
		if (reuse_records && P.nspare < SPARE_MAX) {
			r->older = P.spare;
			P.spare = r;
			P.nspare++;
		} else {
			free(r);
		}
		r = older;
	}
}

/*
 * A record with room for a message of len bytes, fields cleared. Out of
 * memory, it falls back to one static record per thread whose message says
 * so.
 */
static struct panic_rec *new_record(size_t len)
{
	static __thread struct panic_rec emergency;
	struct panic_rec *r = NULL, **pp = &P.spare;

	for (; *pp; pp = &(*pp)->older)
		if ((*pp)->cap >= len) {
			r = *pp;
			*pp = r->older;
			P.nspare--;
			break;
		}
	if (!r) {
		size_t cap = len < 120 ? 120 : len;
		r = malloc(sizeof(*r) + cap + 1);
		if (!r) {
			r = &emergency;
			memset(r, 0, sizeof(*r));
			r->pub.message = "(out of memory for the panic message)";
			return r;
		}
		r->cap = cap;
	}
	size_t cap = r->cap;
	memset(r, 0, offsetof(struct panic_rec, unwound));
	r->cap = cap;
	r->msg[0] = '\0';
	r->pub.message = r->msg;
	r->older = P.records;
	P.records = r;
	return r;
}

static void push_panic(struct panic_rec *r)
{
	r->link = P.panic;
	r->pub.link = r->link ? &r->link->pub : NULL;
	P.panic = r;
}

/* ---- The unwinder ------------------------------------------------------ */

/*
 * Call a deferred function on behalf of panic p. Must stay a real call (not
 * inlined, not a tail call): ward__recover() identifies its caller as
 * "called directly by the unwinder" by this function's frame address and
 * code range.
 */
#if defined(__clang__)
#define NOT_CLONED __attribute__((noinline))
#else
#define NOT_CLONED __attribute__((noinline, noipa))
#endif
static NOT_CLONED void call_deferred(struct panic_rec *p, ward_defer_fn fn, void *arg)
{
	p->argp = __builtin_frame_address(0);
	p->fn = fn;
	fn(arg);
	__asm__ volatile("" ::: "memory");
}

static __attribute__((noreturn)) void fatal_panic(struct panic_rec *p);

/* Which panic in the chain started the defer at index i, if any. */
static struct panic_rec *starter_of(uint32_t i)
{
	for (struct panic_rec *q = P.panic; q; q = q->link)
		if (q->running == i + 1)
			return q;
	return NULL;
}

static void recovered(struct panic_rec *p);

/*
 * Run the thread's pending defers for p until none is left or one of them
 * recovers p (then this does not return). Frames are closed as their last
 * defer runs; their sites are kept for the report.
 */
static void unwind(struct panic_rec *p)
{
	struct ward__thread *t = &ward__self;

	note_depth(t->n);
	while (t->n > 0) {
		uint32_t i = t->n - 1;
		while (t->depth > 0 && t->frames[t->depth - 1].base > i) {
			t->depth--;
			if (P.guarded)
				guard_release(t->depth);
			if (p->nunwound < MAX_UNWOUND)
				p->unwound[p->nunwound++] =
					t->frames[t->depth].site;
		}
		struct ward__defer e = t->defers[i];
		struct panic_rec *q = starter_of(i);
		if (q) {
			/* An earlier panic or Goexit was running this defer
			 * when the current panic started: it is aborted. */
			q->pub.aborted = true;
			q->running = 0;
			t->defers[i].fn = NULL;
			t->n = i;
			continue;
		}
		if (e.fn == NULL) {
			t->n = i;
			continue;
		}
		p->running = i + 1;
		t->run++;
		/* Running counts as run: cancelling it from inside is
		 * -ENOENT, as on a frame's normal exit. */
		t->defers[i].fn = NULL;
		call_deferred(p, e.fn, e.arg);
		p->running = 0;
		/* The call may have added defers to this frame above i; they
		 * run next, and i is skipped when reached. */
		t->defers[i].fn = NULL;
		if (t->n == i + 1)
			t->n = i;
		if (p->pub.recovered)
			recovered(p);
	}
	while (t->depth > 0) {
		t->depth--;
		if (P.guarded)
			guard_release(t->depth);
		if (p->nunwound < MAX_UNWOUND)
			p->unwound[p->nunwound++] = t->frames[t->depth].site;
	}
}

/* p was recovered by the defer just run; resume where Go would. */
static void recovered(struct panic_rec *p)
{
	struct ward__thread *t = &ward__self;

	P.panic = p->link;
	if (P.panic && P.panic->goexit && P.panic->pub.aborted)
		longjmp(*P.panic->goexit_resume, 1);
	while (P.panic && P.panic->pub.aborted)
		P.panic = P.panic->link;

	struct ward__frame *f = &t->frames[t->depth - 1];
	if (f->resume == NULL)
		ward__fatal("ward: a deferred function recovered the panic "
			    "\"%s\" (raised at %s:%d), but the frame it was "
			    "deferred on, opened at %s:%d (%s), cannot resume.\n"
			    "  Open that frame with WARD_FRAME_RESUMABLE(...) "
			    "to say how it exits after a recovery.\n",
			    p->pub.message, p->pub.file, p->pub.line,
			    f->site->file, f->site->line, f->site->func);
	longjmp(*f->resume, 1);
}

WARD_API void ward__panic(int code, void *value, bool has_value,
			  const char *file, int line, const char *func,
			  const char *fmt, ...)
{
	va_list ap;

	char buf[256], *heap = NULL;
	const char *msg = fmt;
	size_t len;

	setup(&ward__self);
	/* The message is made whole before a record is taken: its arguments
	 * (or fmt itself) may point into a record that new_record() reuses,
	 * a recovered panic's message passed on to the next panic. */
	if (strchr(fmt, '%')) {
		va_start(ap, fmt);
		int n = vsnprintf(buf, sizeof(buf), fmt, ap);
		va_end(ap);
		len = n > 0 ? (size_t)n : 0;
		msg = buf;
		if (len >= sizeof(buf) && (heap = malloc(len + 1))) {
			va_start(ap, fmt);
			vsnprintf(heap, len + 1, fmt, ap);
			va_end(ap);
			msg = heap;
		}
	} else {
		len = strlen(fmt);
		if (len < sizeof(buf)) {
			memcpy(buf, fmt, len + 1);
			msg = buf;
		} else if ((heap = malloc(len + 1))) {
			memcpy(heap, fmt, len + 1);
			msg = heap;
		}
	}
	if (msg == buf && len >= sizeof(buf))
		len = sizeof(buf) - 1; /* out of memory: what fits */
	end_abandoned((uintptr_t)__builtin_frame_address(0));
	if (!P.panic)
		retire_records();
	struct panic_rec *p = new_record(len);
	if (p->pub.message == p->msg)
		memcpy(p->msg, msg, len + 1);
	free(heap);
	p->pub.code = code;
	p->pub.value = value;
	p->pub.has_value = has_value;
	p->pub.file = file;
	p->pub.line = line;
	p->pub.func = func;
	P.stats.panics++;
	atomic_fetch_add_explicit(&totals_panics, 1, memory_order_relaxed);
	push_panic(p);
	unwind(p);
	fatal_panic(p);
}

/*
 * caller_frame is the caller's frame address: its saved frame pointer and
 * return address sit at [0] and [1]. This function keeps a frame of its own
 * (the __builtin below), so when the caller tail-calls it, the slot the
 * caller's frame occupied is rewritten with the same saved frame pointer
 * and the check still sees the caller's caller.
 */
WARD_API const ward_panic_t *ward__recover(void *caller_frame)
{
	void *volatile self = __builtin_frame_address(0);

	end_abandoned((uintptr_t)self);
	struct panic_rec *p = P.panic;
	if (!p || p->goexit || p->pub.recovered || !caller_frame)
		return NULL;
	void *const *fp = caller_frame;
	const char *ret = fp[1];
	if (fp[0] != p->argp || ret < (const char *)call_deferred ||
	    ret >= (const char *)call_deferred + 256)
		return NULL;
	/* A helper the deferred function called as its last statement takes
	 * over its frame (a sibling call at -O2): the frame checks above
	 * pass. The function ward_recover() was written in must be the
	 * deferred function itself, as the unwind tables tell. */
	const char *from = __builtin_return_address(0);
	bool tail = from >= (const char *)call_deferred &&
		    from < (const char *)call_deferred + 256;
	/* (Returning into call_deferred: the deferred function itself ended
	 * with a jump to here.) */
	uintptr_t at = tail ? 0 : ward__function_start((uintptr_t)from - 1);
	if (at && at != (uintptr_t)p->fn)
		return NULL;
	p->pub.recovered = true;
	P.stats.recoveries++;
	return &p->pub;
}

WARD_API bool ward_panicking(void)
{
	end_abandoned((uintptr_t)__builtin_frame_address(0));
	for (struct panic_rec *p = P.panic; p; p = p->link)
		if (!p->goexit && !p->pub.recovered)
			return true;
	return false;
}

/* ---- Goexit ------------------------------------------------------------ */

static void goexit_unwind(void)
{
	jmp_buf resume;
	struct panic_rec *volatile g = new_record(0);

	g->pub.func = "ward_goexit";
	g->goexit = true;
	g->goexit_resume = &resume;
	P.stats.goexits++;
	push_panic(g);
	/* A panic raised by one of these defers aborts the Goexit; if that
	 * panic is recovered, the Goexit carries on from here. */
	if (setjmp(resume)) {
		g->pub.aborted = false;
		P.panic = g;
	}
	unwind(g);
	P.panic = g->link;
}

WARD_API void ward_goexit(void)
{
	setup(&ward__self);
	goexit_unwind();
	/* Called by a defer the thread's end runs (thread_exit()): this
	 * pthread_exit() never returns there to free what it holds. */
	if (P.in_thread_exit)
		release_thread_state();
	pthread_exit(NULL);
}

/*
 * pthread_exit() is Goexit for a thread with defers pending: they run
 * first, innermost first, each once; a panic one of them raises and
 * another recovers does not stop the exit, and a panic under way is
 * abandoned quietly — as ward_goexit(), then the C library's
 * pthread_exit() with the program's value. Without this, pthread_exit()'s
 * unwinding in code built with -fexceptions ran the frames' cleanups one
 * by one, and a recovery in them resumed a frame: the thread went on
 * running code after pthread_exit(). A thread without pending defers goes
 * straight to the C library's. (The tracer, which never has the
 * program's frames, does not replace it.)
 */
#ifndef WARD_TRACER
typedef void (*exit_fn)(void *) __attribute__((noreturn));
static exit_fn libc_pthread_exit;

__attribute__((constructor)) static void find_pthread_exit(void)
{
	libc_pthread_exit = (exit_fn)dlsym(RTLD_NEXT, "pthread_exit");
}

WARD_API __attribute__((noreturn)) void pthread_exit(void *ret)
{
	if (!libc_pthread_exit)
		find_pthread_exit();
	if (!libc_pthread_exit)
		ward__fatal("ward: pthread_exit: the C library's is not found "
			    "(%s)\n", dlerror());
	if (ward__self.n > 0 && !P.in_thread_exit) {
		setup(&ward__self);
		goexit_unwind();
	}
	libc_pthread_exit(ret);
}
#endif

/* ---- Unrecovered panics ------------------------------------------------ */

struct buf {
	char *p;
	size_t len, cap;
};

static void bprintf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void bprintf(struct buf *b, const char *fmt, ...)
{
	va_list ap;

	for (;;) {
		va_start(ap, fmt);
		int n = vsnprintf(b->p ? b->p + b->len : NULL,
				  b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if (b->p && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		size_t ncap = (b->cap + (size_t)n + 1) * 2;
		char *np = realloc(b->p, ncap);
		if (!np)
			return;
		b->p = np;
		b->cap = ncap;
	}
}

/* Go's printpanics: oldest first, each later one indented by a tab. */
static void print_chain(struct buf *b, const struct panic_rec *p)
{
	if (p->link) {
		print_chain(b, p->link);
		if (!p->link->goexit)
			bprintf(b, "\t");
	}
	if (p->goexit)
		return;
	bprintf(b, "panic: %s", p->pub.message);
	if (p->pub.recovered)
		bprintf(b, " [recovered]");
	bprintf(b, "\n");
}

static void fatal_panic(struct panic_rec *p)
{
	struct buf b = { 0 };
	void *pcs[64];

	print_chain(&b, p);
	bprintf(&b, "\npanic site: %s:%d (%s)", p->pub.file, p->pub.line,
		p->pub.func);
	if (p->pub.code != 0)
		bprintf(&b, ", code %d", p->pub.code);
	bprintf(&b, "\n");
	if (p->nunwound > 0) {
		bprintf(&b, "frames unwound, innermost first:\n");
		for (uint32_t i = 0; i < p->nunwound; i++)
			bprintf(&b, "\t%s:%d (%s)\n", p->unwound[i]->file,
				p->unwound[i]->line, p->unwound[i]->func);
	}
	int n = backtrace(pcs, 64);
	char **names = backtrace_symbols(pcs, n);
	bprintf(&b, "stack:\n");
	for (int i = 1; i < n; i++)
		bprintf(&b, "\t%s\n", names ? names[i] : "?");
	free(names);
	if (b.p)
		ward__log_raw(WARD_LOG_PANIC, b.p, b.len);
	else
		ward__log_raw(WARD_LOG_PANIC, "panic\n", 6);
	free(b.p);
	fflush(NULL);
	exit(2);
}

/* ---- pcall and the typed conveniences ---------------------------------- */

static void pcall_catch(void *slot)
{
	*(const ward_panic_t **)slot = ward_recover();
}

WARD_API const ward_panic_t *ward_pcall(ward_defer_fn fn, void *arg)
{
	const ward_panic_t *caught = NULL;

	do {
		WARD_FRAME_RESUMABLE(break);
		ward_defer(pcall_catch, &caught);
		fn(arg);
	} while (0);
	return caught;
}

WARD_API void ward__nil_defer(void *arg)
{
	ward_panic(0, "ward: deferred function is NULL (argument %p)", arg);
}

WARD_API void ward__free_fn(void *ptr)
{
	free(ptr);
}

WARD_API void ward__close_fn(void *fd)
{
	close((int)(intptr_t)fd);
}

WARD_API void ward__fclose_fn(void *fp)
{
	fclose(fp);
}

WARD_API void ward__unlock_fn(void *mutex)
{
	ward__mutex_unlock(mutex);
}
