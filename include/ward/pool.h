/*
 * ward/pool.h — pools of reusable objects, Go's sync.Pool for C, with the
 * checks Go's leaves to the reader.
 *
 *     static void conn_reset(void *obj, void *arg) { memset(obj, 0, sizeof(struct conn)); }
 *     ward_pool_t *conns = ward_pool_new(&(struct ward_pool_config){
 *             .name = "conns", .size = sizeof(struct conn), .reset = conn_reset });
 *     struct conn *c = ward_pool_get(conns);
 *     ...
 *     ward_pool_put(conns, c);     // reset, then cached for the next get
 *
 * The rules (docs/pools.md has the reasons):
 *  - An object comes from the calling thread's cache, else the pool's shared
 *    list, else its victims, else it is made (malloc, then init). A put
 *    resets it (the reset hook is mandatory: an object's last user's state
 *    must never reach the next) and caches it.
 *  - ward_pool_trim() ages the cache: what sat unused since the previous
 *    trim (the victims) is freed, and what is cached now becomes the
 *    victims, as Go's pool drops its victim cache at each GC. A pool may
 *    trim itself every trim_ms milliseconds.
 *  - Checking mode (config.check, or WARD_POOL_CHECK=1 in the environment)
 *    reports, with both places: a write to an object after it was put (found
 *    at the next get, by the object's checksum; under AddressSanitizer the
 *    write itself is caught), a put of an object that is cached already
 *    (double put), a put of an object the pool never gave out (foreign put),
 *    and a reset hook that leaves state behind (the reset object differs
 *    from a new one). Objects taken and not put back are then tracked
 *    (kind "pool") with the stack of their get, so leak checks and reports
 *    show them. A misuse is logged (WARD_LOG_WARN) and the object is not
 *    cached (a foreign or double put changes nothing).
 *  - Buffer pools (ward_bufpool_*) keep byte buffers in power-of-two size
 *    classes; a buffer larger than `max_cached` put back is freed, not
 *    kept, and counted (a huge buffer must not live on in the pool).
 * A pool may be used from any thread.
 */
#ifndef WARD_POOL_H
#define WARD_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ward/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ward_pool ward_pool_t;

struct ward_pool_config {
	const char *name;                        /* for reports; copied */
	size_t size;                             /* object size, > 0 */
	void (*init)(void *obj, void *arg);      /* a new object; may be NULL */
	void (*reset)(void *obj, void *arg);     /* every put; required */
	void (*destroy)(void *obj, void *arg);   /* before free; may be NULL */
	void *arg;
	bool check;                              /* checking mode */
	uint32_t trim_ms;                        /* trim every N ms; 0: never */
};

/*
 * ward_pool_new - a pool. NULL with errno EINVAL (no reset hook, size 0)
 * or ENOMEM.
 */
WARD_API ward_pool_t *ward_pool_new(const struct ward_pool_config *cfg);

/*
 * ward_pool_free - free the pool and every object it caches. Objects still
 * out are the program's (in checking mode they stay tracked). Accepts NULL.
 */
WARD_API void ward_pool_free(ward_pool_t *pool);

/* ward_pool_get - an object (cached or new); NULL when out of memory. */
#define ward_pool_get(pool) ward__pool_get_inline((pool), __FILE__, __LINE__)

/* ward_pool_put - give obj back (reset, then cached). NULL does nothing. */
#define ward_pool_put(pool, obj)                                              \
	ward__pool_put_inline((pool), (obj), __FILE__, __LINE__)

/* ward_pool_trim - free the victims; what is cached becomes the victims. */
WARD_API void ward_pool_trim(ward_pool_t *pool);

struct ward_pool_stats {
	uint64_t gets, puts;
	uint64_t hits;          /* gets served from a cache */
	uint64_t victim_hits;   /* ... from the victims */
	uint64_t misses;        /* gets that made an object */
	uint64_t in_use;        /* got and not put back */
	uint64_t cached;        /* shared list and victims (not counting
				 * the threads' own small caches) */
	uint64_t bytes_retained;/* what the cached objects hold */
	uint64_t victims_freed; /* freed by trims */
	uint64_t dropped;       /* buffers over max_cached, freed on put */
	uint64_t misuses;       /* reports in checking mode */
};

/* ward_pool_stats - the pool's figures now. 0 or -EINVAL. */
WARD_API int ward_pool_stats(ward_pool_t *pool, struct ward_pool_stats *out);

/* ---- Byte buffers in size classes ---------------------------------------- */

typedef struct ward_bufpool ward_bufpool_t;

/*
 * ward_bufpool_new - buffers from 64 bytes up; those over max_cached bytes
 * are freed on put (0: 1 MiB). NULL when out of memory.
 */
WARD_API ward_bufpool_t *ward_bufpool_new(const char *name, size_t max_cached);
WARD_API void ward_bufpool_free(ward_bufpool_t *bp);

/* A buffer of at least size bytes; NULL with errno ENOMEM when out of
 * memory (or no buffer can be that big), EINVAL when bp is NULL. */
WARD_API void *ward_bufpool_get(ward_bufpool_t *bp, size_t size);

/* Give a buffer back (NULL does nothing). */
WARD_API void ward_bufpool_put(ward_bufpool_t *bp, void *buf);

/* The capacity of a buffer from ward_bufpool_get. */
WARD_API size_t ward_bufpool_cap(const void *buf);

WARD_API int ward_bufpool_stats(ward_bufpool_t *bp, struct ward_pool_stats *out);
WARD_API void ward_bufpool_trim(ward_bufpool_t *bp);

/* ---- Internals used by the macros above -------------------------------- */

WARD_API void *ward__pool_get(ward_pool_t *pool, const char *file, int line);
WARD_API void ward__pool_put(ward_pool_t *pool, void *obj, const char *file,
			     int line);
/* A put whose object the caller has reset already (not in checking mode). */
WARD_API void ward__pool_put_reset(ward_pool_t *pool, void *obj);

/*
 * The fast paths, inline: the calling thread's cache of the pool, in TLS.
 * A pool begins with struct ward__pool_head; the rest is private.
 */
enum { WARD__POOL_CACHE = 16, WARD__POOL_SLOTS = 8 };

struct ward__pool_head {
	unsigned slot;                /* which thread cache it uses */
	bool check;                   /* checking mode: never inline */
	/* slot's byte offset among the caches, kept so the fast paths add
	 * it, not multiply by a cache's size (0.2 ns a pair) */
	uint16_t cache_at;
	/* The pool's address + its trims << 48 (trims add, atomically): a
	 * thread's cache of this pool filled since the last trim has the
	 * same. One compare checks both; two pools' tags never meet. */
	uint64_t tag;
	void (*reset)(void *obj, void *arg);
	void *arg;
};

/*
 * A thread's cache of one pool. `word` holds how many objects it caches
 * (the low WARD__POOL_NBITS bits) and how many gets it served since its
 * counts were last added to the pool's (the bits above): a get counts
 * itself in the one store that takes its object, and a put counts nothing
 * — the cache's puts are its gets + its objects - `base`, which only the
 * slow paths set, under the pool's lock. Only the owning thread writes
 * either; a snapshot reads them on another thread, under the pool's lock,
 * with relaxed atomic loads (an aligned 64-bit store is never torn).
 */
enum { WARD__POOL_NBITS = 8, WARD__POOL_NMASK = (1 << WARD__POOL_NBITS) - 1 };
/* Added to `word` by a get: one more get, one object fewer. */
#define WARD__POOL_ONE_GET ((1ull << WARD__POOL_NBITS) - 1)

struct ward__pool_cache {
	const void *pool;
	uint64_t tag;
	uint64_t word;
	uint64_t base;
	void *obj[WARD__POOL_CACHE];
};

/* The owning thread stores a cache's word. A plain store: an atomic one,
 * even relaxed, makes compilers reload the cache around it. Under
 * ThreadSanitizer, which would report the snapshot's read, an atomic
 * store. */
#if defined(__SANITIZE_THREAD__)
#define WARD__POOL_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WARD__POOL_TSAN 1
#endif
#endif
#ifdef WARD__POOL_TSAN
#define WARD__POOL_STORE(field, value) \
	__atomic_store_n(&(field), (value), __ATOMIC_RELAXED)
#else
#define WARD__POOL_STORE(field, value) ((field) = (value))
#endif

WARD_API extern __thread struct ward__pool_cache
	ward__pool_caches[WARD__POOL_SLOTS]
	__attribute__((tls_model("initial-exec")));

/* One of c's n objects (n > 0; w is its word), counted as a get. */
static inline __attribute__((always_inline)) void *
ward__pool_take(struct ward__pool_cache *c, uint64_t w, unsigned n)
{
	WARD__POOL_STORE(c->word, w + WARD__POOL_ONE_GET);
	return c->obj[n - 1];
}

/* obj into c, which holds n < WARD__POOL_CACHE (w is its word): a put,
 * counted by the word's rule. */
static inline __attribute__((always_inline)) void
ward__pool_keep(struct ward__pool_cache *c, uint64_t w, unsigned n, void *obj)
{
	c->obj[n] = obj;
	WARD__POOL_STORE(c->word, w + 1);
}

static inline __attribute__((always_inline)) void *
ward__pool_get_inline(ward_pool_t *pool, const char *file, int line)
{
	const struct ward__pool_head *h = (const struct ward__pool_head *)pool;
	if (__builtin_expect(h != NULL, 1)) {
		struct ward__pool_cache *c =
			(struct ward__pool_cache *)((char *)ward__pool_caches +
						    h->cache_at);
		if (__builtin_expect(c->tag == __atomic_load_n(&h->tag,
							       __ATOMIC_ACQUIRE),
				     1)) {
			uint64_t w = c->word;
			unsigned n = (unsigned)w & WARD__POOL_NMASK;
			if (__builtin_expect(n != 0, 1))
				return ward__pool_take(c, w, n);
		}
	}
	return ward__pool_get(pool, file, line);
}

/* The reset hook runs first, before the cache is looked at: the call then
 * keeps only the pool and the object alive across it. */
static inline __attribute__((always_inline)) void
ward__pool_put_inline(ward_pool_t *pool, void *obj, const char *file, int line)
{
	const struct ward__pool_head *h = (const struct ward__pool_head *)pool;
	if (__builtin_expect(h != NULL && obj != NULL && !h->check, 1)) {
		h->reset(obj, h->arg);
		struct ward__pool_cache *c =
			(struct ward__pool_cache *)((char *)ward__pool_caches +
						    h->cache_at);
		if (__builtin_expect(c->tag == __atomic_load_n(&h->tag,
							       __ATOMIC_ACQUIRE),
				     1)) {
			uint64_t w = c->word;
			unsigned n = (unsigned)w & WARD__POOL_NMASK;
			if (__builtin_expect(n < WARD__POOL_CACHE, 1)) {
				ward__pool_keep(c, w, n, obj);
				return;
			}
		}
		ward__pool_put_reset(pool, obj);
		return;
	}
	ward__pool_put(pool, obj, file, line);
}

#ifdef __cplusplus
}
#endif

#endif /* WARD_POOL_H */
