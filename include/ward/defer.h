/*
 * ward/defer.h — frames, defer, panic, recover and Goexit for C.
 *
 * A frame is the block that holds WARD_FRAME. At the top of a function the
 * frame is the function (Go's defer); in a loop body or any inner block the
 * frame is that block (try-with-resources). Leaving the block by any path
 * (fall-through, return, break, continue, goto) runs the frame's pending
 * deferred calls, last registered first.
 *
 *     int copy(const char *from, const char *to)
 *     {
 *         WARD_FRAME;
 *         FILE *in = fopen(from, "r");
 *         if (!in) return -errno;
 *         ward_defer_fclose(in);
 *         ...
 *     }
 *
 * A panic runs the thread's pending deferred calls, innermost first, across
 * frames. A deferred function that calls ward_recover() during a panic stops
 * it; the frame that deferred it then exits normally. Because C cannot return
 * from a function half-way through without help, a frame that may be resumed
 * after a recovery says so, and says how it exits:
 *
 *     int parse(const char *s)
 *     {
 *         volatile int result = -1;   // read after a resume: volatile
 *         WARD_FRAME_RESUMABLE(return result);
 *         ward_defer(catch_parse_error, (void *)&result);
 *         ...   // may call ward_panic() at any depth
 *     }
 *
 * All state is per thread; nothing here takes a lock on the common path, and
 * registering a defer calls malloc only to grow a thread's chain beyond its
 * first block. Semantics, and every place where C forced a choice, are in
 * docs/semantics.md.
 */
#ifndef WARD_DEFER_H
#define WARD_DEFER_H

#include <pthread.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ward/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A deferred function: called once with the argument given at registration. */
typedef void (*ward_defer_fn)(void *arg);

/* Identifies one registered defer, for cancellation: unique in the
 * process (it names the registering thread too). */
typedef struct ward_defer_handle {
	uint32_t index;
	uint32_t serial;
	uint32_t thread; /* the registering thread's number, never 0 */
} ward_defer_t;

/*
 * A panic, as ward_recover() and ward_pcall() return it and as the report of
 * an unrecovered panic prints it. Owned by the thread that raised it: it
 * stays valid until that thread raises its next panic — copy what must
 * outlive that; built with AddressSanitizer, a record read after it is
 * reported as a use after free (so it may be passed to
 * that panic's own arguments) or exits. Copy what you need beyond that.
 */
typedef struct ward_panic {
	int code;                      /* as given to ward_panic() */
	const char *message;           /* formatted message, never NULL */
	void *value;                   /* payload of ward_panic_value() */
	bool has_value;                /* true even when value is NULL */
	bool recovered;                /* a deferred function recovered it */
	bool aborted;                  /* a later panic overtook it */
	const char *file;              /* where it was raised */
	int line;
	const char *func;
	const struct ward_panic *link; /* panic in progress when raised */
} ward_panic_t;

/* ---- Frames --------------------------------------------------------- */

/*
 * WARD_FRAME; — open a frame bound to the enclosing block. One per block.
 * Cheap: a few stores, no setjmp. A jump past it into its block (a `case`
 * label after it, a goto over it) does not compile. A deferred function of a plain frame must
 * not recover a panic (ward reports that as a programming error naming the
 * frame); use WARD_FRAME_RESUMABLE for frames that recover.
 */
#define WARD_FRAME WARD__FRAME(WARD__CAT(ward__frame_, __LINE__), NULL, )

/*
 * What a deferred call points to must outlive the frame: declared before
 * WARD_FRAME (in its block or an enclosing one), static, or on the heap.
 * A local declared after WARD_FRAME in the same block is gone when the
 * frame's deferred calls run, the way Go's closures never are: C ends the
 * block's objects' lifetimes last-declared first, so the later local's ends
 * before the frame's cleanup runs, and clang reuses its storage (from -O1:
 *
 *     WARD_FRAME;
 *     int x = 1;
 *     ward_defer(show, &x);   // show() reads 1, not 2, under clang -O2
 *     x = 2;
 *
 * ASan built by clang reports it as stack-use-after-scope; gcc happens to
 * keep the storage). WARD_FRAME_WITH(declarations); declares them first,
 * then opens the frame:
 *
 *     WARD_FRAME_WITH(int x = 1);
 *     ward_defer(show, &x);   // 2
 *     x = 2;
 *
 * A value is captured in the argument itself: ward_defer(fn, (void
 * *)(intptr_t)n) reads n now, as Go's `defer f(n)` does.
 */
#define WARD_FRAME_WITH(...)                                                  \
	__VA_ARGS__;                                                           \
	WARD_FRAME

/*
 * WARD_FRAME_RESUMABLE(stmt); — open a frame that can be resumed after one
 * of its deferred functions recovers a panic. Execution then continues with
 * `stmt` (typically `return result`, Go's named result, or `break` in a loop
 * body); leaving the block runs the frame's remaining deferred calls.
 * Variables read by `stmt` that change after the frame opens must be
 * volatile (the setjmp rule, C11 7.13.2.1) — Go's named result is
 * `volatile int result;`. A deferred function holding their address is not
 * enough: clang -O2 keeps a copy of a struct's field in a register across
 * the setjmp, and `stmt` reads the copy.
 */
#define WARD_FRAME_RESUMABLE(...)                                             \
	jmp_buf WARD__CAT(ward__jb_, __LINE__);                                \
	WARD__FRAME(WARD__CAT(ward__frame_, __LINE__),                         \
		    &WARD__CAT(ward__jb_, __LINE__), volatile);                \
	if (setjmp(WARD__CAT(ward__jb_, __LINE__))) {                         \
		__VA_ARGS__;                                                   \
	} else                                                                 \
		((void)0)

/* ---- Defer ---------------------------------------------------------- */

/*
 * ward_defer(fn, arg) — run fn(arg) when the innermost open frame of the
 * calling thread exits (or when a panic or ward_goexit() unwinds it). The
 * argument is captured now. Returns a handle for ward_defer_cancel().
 * With no open frame this is a programming error: ward logs the call site
 * and aborts. A frame holding more than the accumulation limit of pending
 * defers is reported once per registration site (see
 * ward_defer_set_limit()).
 */
#define ward_defer(fn, arg)                                                   \
	ward__defer_push((fn), (arg), __FILE__, __LINE__)

/* Typed conveniences for the common releases. */
#define ward_defer_free(ptr) ward__defer_push(ward__free_fn, (ptr), __FILE__, __LINE__)
#define ward_defer_close(fd)                                                  \
	ward__defer_push(ward__close_fn, (void *)(intptr_t)(int){ (fd) },     \
			 __FILE__, __LINE__)
#define ward_defer_fclose(fp)                                                 \
	ward__defer_push(ward__fclose_fn, _Generic((fp), FILE *: (fp)),       \
			 __FILE__, __LINE__)
#define ward_defer_unlock(mutex)                                              \
	ward__defer_push(ward__unlock_fn,                                      \
			 _Generic((mutex), pthread_mutex_t *: (mutex)),        \
			 __FILE__, __LINE__)

/*
 * ward_defer_cancel - drop a registered defer before it runs (the
 * commit/rollback pattern). Only the registering thread can cancel.
 * Returns 0; -ENOENT when the defer already ran or was cancelled; -EINVAL
 * for a handle another thread's ward_defer() returned (or none ever did),
 * which never cancels anything of the caller's.
 */
WARD_API int ward_defer_cancel(ward_defer_t handle);

/* ---- Panic and recover ---------------------------------------------- */

/*
 * ward_panic(code, fmt, ...) — start a panic: the thread's pending deferred
 * calls run, innermost first. Does not return. If nothing recovers it the
 * process prints "panic: <message>" with the panic site, the frames it
 * unwound and the stack, and exits with status 2.
 * ward_panic_value(code, value, fmt, ...) also carries a pointer payload; a
 * NULL payload is still a panic (ward_recover() returns non-NULL).
 */
#define ward_panic(code, ...)                                                 \
	ward__panic((code), NULL, false, __FILE__, __LINE__, __func__,         \
		    __VA_ARGS__)
#define ward_panic_value(code, value, ...)                                    \
	ward__panic((code), (value), true, __FILE__, __LINE__, __func__,       \
		    __VA_ARGS__)

/*
 * ward_recover() — stop the current panic and return it, or return NULL.
 * It returns non-NULL only when called directly by a deferred function that
 * the unwinder invoked for the innermost panic, as in Go; anywhere else
 * (outside a panic, in a helper called by the deferred function, in a
 * deferred function run by a normal frame exit, during ward_goexit()) it
 * returns NULL. A second call for the same panic returns NULL.
 */
#define ward_recover() ward__recover(__builtin_frame_address(0))

/*
 * ward_pcall - call fn(arg) inside a recovery boundary (Lua's pcall).
 * Returns NULL when fn returns, or the panic that ended it.
 */
WARD_API const ward_panic_t *ward_pcall(ward_defer_fn fn, void *arg);

/*
 * ward_goexit - run every pending deferred call of the calling thread, then
 * end the thread (pthread_exit(NULL)). ward_recover() returns NULL during it;
 * a panic raised and recovered during it does not stop it. On the main
 * thread the process continues until its other threads end (see
 * docs/semantics.md).
 */
WARD_API __attribute__((noreturn)) void ward_goexit(void);

/* True while the calling thread is running deferred calls for a panic. */
WARD_API bool ward_panicking(void);

/* ---- Limits and statistics ------------------------------------------ */

/*
 * ward_defer_set_limit - set the calling thread's accumulation limit: a
 * frame that holds more than `limit` pending defers is reported once per
 * registration site. 0 turns the report off. The default for every thread
 * is 1024, or the WARD_DEFER_LIMIT environment variable when set.
 * Returns the previous limit.
 */
WARD_API uint32_t ward_defer_set_limit(uint32_t limit);

/* Per-thread counters since the thread started. */
struct ward_defer_stats {
	uint64_t registered; /* ward_defer() calls */
	uint64_t run;        /* deferred calls that ran */
	uint64_t cancelled;  /* ward_defer_cancel() successes */
	uint64_t max_depth;  /* most defers pending at once */
	uint64_t panics;     /* ward_panic() calls */
	uint64_t recoveries; /* ward_recover() calls that stopped a panic */
	uint64_t goexits;    /* ward_goexit() calls */
	uint64_t warnings;   /* accumulation reports this thread made */
};

/* ward_defer_stats - fill *out with the calling thread's counters. */
WARD_API void ward_defer_stats(struct ward_defer_stats *out);

/* Process-wide totals since the process started, all threads. */
struct ward_defer_totals {
	uint64_t panics;        /* ward_panic() calls */
	uint64_t accumulations; /* accumulation reports */
};
WARD_API void ward_defer_totals(struct ward_defer_totals *out);

/* ======================================================================
 * Internals the macros above need. Not API: names and layout may change.
 * ====================================================================== */

#define WARD__CAT2(a, b) a##b
#define WARD__CAT(a, b) WARD__CAT2(a, b)

struct ward__site {
	const char *file;
	int line;
	const char *func;
};

struct ward__frame {
	uint32_t base; /* index of the frame's first defer */
	const struct ward__site *site;
	jmp_buf *resume; /* where a recovery resumes, NULL if plain */
	uintptr_t fa;    /* frame address of the function that opened it */
	uintptr_t var;   /* the address of its WARD_FRAME variable */
};

struct ward__defer {
	ward_defer_fn fn; /* NULL once cancelled or run by an unwinder */
	void *arg;
	uint32_t serial;
	uint32_t spare;
};

/*
 * Per-thread state the inline fast paths touch. Frames and defers are two
 * stacks in memory ward owns (a first block inside the thread's TLS, then
 * the heap), so a frame left by a longjmp never leaves a dangling pointer.
 */
struct ward__thread {
	struct ward__defer *defers; /* pending defers, oldest first */
	struct ward__frame *frames; /* open frames, outermost first */
	uint32_t n;                 /* pending defers */
	uint32_t cap;               /* 0 until the thread is set up */
	uint32_t depth;             /* open frames */
	uint32_t fcap;              /* 0 until the thread is set up */
	uint32_t serial;            /* registrations so far */
	uint32_t id;                /* this thread's number, from 1; 0 until set up */
	uint32_t limit;             /* accumulation limit, UINT32_MAX = off */
	uint32_t max_depth;         /* most defers pending at once */
	uint64_t run;               /* deferred calls run */
};

WARD_API extern __thread struct ward__thread ward__self
	__attribute__((tls_model("initial-exec")));

WARD_API ward_defer_t ward__defer_slow(ward_defer_fn fn, void *arg,
				       uintptr_t fa,
				       const char *file, int line);
WARD_API uint32_t ward__frame_enter_slow(const struct ward__site *site,
					 uintptr_t fa, uintptr_t var,
					 jmp_buf *resume);
WARD_API void ward__frame_exit(uint32_t depth);
WARD_API __attribute__((noreturn, format(printf, 7, 8))) void
ward__panic(int code, void *value, bool has_value, const char *file, int line,
	    const char *func, const char *fmt, ...);
WARD_API const ward_panic_t *ward__recover(void *caller_frame);
WARD_API void ward__nil_defer(void *arg);
WARD_API void ward__free_fn(void *ptr);
WARD_API void ward__close_fn(void *fd);
WARD_API void ward__fclose_fn(void *fp);
WARD_API void ward__unlock_fn(void *mutex);

/*
 * The fast paths name ward__self directly rather than through a pointer:
 * the code is the same, and GCC's UBSan does not misreport the TLS address
 * as a null pointer in threads other than the first.
 */
#define WARD__T ward__self

static inline __attribute__((always_inline)) ward_defer_t
ward__defer_push(ward_defer_fn fn, void *arg, const char *file, int line)
{
	uint32_t n = WARD__T.n, d = WARD__T.depth;

	if (__builtin_expect(fn == NULL, 0))
		fn = ward__nil_defer; /* panics when it runs, as in Go */
	uintptr_t fa = (uintptr_t)__builtin_frame_address(0);
	/* A frame opened by a function deeper than this one is dead (left
	 * by a longjmp): the slow path closes it. */
	if (__builtin_expect(d == 0 || n >= WARD__T.cap ||
				     n - WARD__T.frames[d - 1].base >=
					     WARD__T.limit ||
				     WARD__T.frames[d - 1].fa < fa,
			     0))
		return ward__defer_slow(fn, arg, fa, file, line);
	uint32_t serial = ++WARD__T.serial;
	struct ward__defer *e = &WARD__T.defers[n];
	e->fn = fn;
	e->arg = arg;
	e->serial = serial;
	WARD__T.n = n + 1;
	return (ward_defer_t){ n, serial, WARD__T.id };
}

/* Returns the frame's depth; the frame is frames[depth]. */
/*
 * The innermost open frame is dead — its function was left by a longjmp
 * that was not ward's — when it was opened by a function deeper than the
 * one at fa (frame addresses grow toward the caller), or when var, a
 * frame variable being opened now, has its address: two live frame
 * variables never share one. The slow paths close dead frames (running
 * their defers, after a warning) before going on.
 */
#define WARD__TOP_DEAD(d, fa, var)                                            \
	((d) > 0 && (WARD__T.frames[(d) - 1].fa < (fa) ||                     \
		     WARD__T.frames[(d) - 1].var == (var)))

static inline __attribute__((always_inline)) uint32_t
ward__frame_open(const struct ward__site *site, jmp_buf *resume, uintptr_t fa,
		 uintptr_t var)
{
	uint32_t d = WARD__T.depth;

	if (__builtin_expect(d >= WARD__T.fcap || WARD__TOP_DEAD(d, fa, var), 0))
		return ward__frame_enter_slow(site, fa, var, resume);
	struct ward__frame *f = &WARD__T.frames[d];
	f->base = WARD__T.n;
	f->site = site;
	f->resume = resume;
	f->fa = fa;
	f->var = var;
	WARD__T.depth = d + 1;
	return d;
}

/* Inlined into the function holding WARD_FRAME: the frame address is
 * that function's. */
static inline __attribute__((always_inline)) uint32_t
ward__frame_enter(const struct ward__site *site, jmp_buf *resume,
		  uintptr_t var)
{
	return ward__frame_open(site, resume,
				(uintptr_t)__builtin_frame_address(0), var);
}

/*
 * Leaving a frame with nothing pending pops it; with exactly one pending
 * defer (the common case) it runs it here. Anything else, and frames left
 * behind by a longjmp, go to ward__frame_exit().
 *
 * nothrow: built with -fexceptions, clang guards what a cleanup calls
 * while an unwinding runs it with a handler that aborts, as C++ does for a
 * destructor that throws. A deferred call that starts an unwinding of its
 * own there (pthread_exit() or ward_goexit() in a defer that
 * pthread_exit()'s unwinding runs) is allowed: with no handler the C
 * personality lets it through, as gcc does.
 */
static inline __attribute__((always_inline, nothrow)) void
ward__frame_leave(const volatile uint32_t *depth)
{
	uint32_t d = *depth, n = WARD__T.n;

	if (__builtin_expect(WARD__T.depth == d + 1, 1)) {
		uint32_t base = WARD__T.frames[d].base;
		if (n == base) {
			WARD__T.depth = d;
			return;
		}
		if (n == base + 1) {
			ward_defer_fn fn = WARD__T.defers[base].fn;
			void *arg = WARD__T.defers[base].arg;
			if (n > WARD__T.max_depth)
				WARD__T.max_depth = n;
			WARD__T.n = base;
			if (fn) {
				WARD__T.run++;
				fn(arg);
			}
			/* The call may have deferred more onto this frame. */
			if (__builtin_expect(WARD__T.n == base &&
						     WARD__T.depth == d + 1,
					     1)) {
				WARD__T.depth = d;
				return;
			}
		}
	}
	ward__frame_exit(d);
}

/* A resumable frame's depth is volatile: it is read after a longjmp. */
/*
 * A jump past WARD_FRAME into its block (a `case` label after it in a
 * switch, a goto over it) would leave the frame unopened and still run its
 * cleanup, closing the enclosing function's frame early. C forbids jumping
 * into the scope of a variably modified type, so each frame declares one
 * (a typedef: no storage, no code once optimised) and such a jump does not
 * compile, under gcc and clang alike. Not in C++, which has no such types.
 */
#ifdef __cplusplus
#define WARD__NO_JUMP_PAST(name)
#else
WARD_API extern const int ward__frame_guard; /* 1, not a constant expression */
#define WARD__NO_JUMP_PAST(name)                                              \
	typedef char WARD__CAT(name, _no_jump_past)[ward__frame_guard]         \
		__attribute__((unused));
#endif

#define WARD__FRAME(name, resume, qual)                                       \
	static const struct ward__site WARD__CAT(name, _site) = {              \
		__FILE__, __LINE__, __func__                                   \
	};                                                                     \
	WARD__NO_JUMP_PAST(name)                                               \
	const qual uint32_t name                                               \
		__attribute__((cleanup(ward__frame_leave), unused)) =          \
			ward__frame_enter(&WARD__CAT(name, _site), (resume),     \
					  (uintptr_t)&name)

#ifdef __cplusplus
}
#endif

#endif /* WARD_DEFER_H */
