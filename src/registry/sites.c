/*
 * sites.c — the table of sites.
 *
 * A site is (kind, stack), hash-consed. A per-thread cache of recent
 * sites answers most lookups without a lock; otherwise interning takes one
 * of 256 stripe locks picked by the hash; each stripe holds an
 * open-addressed table of site ids. Site records live in an append-only
 * arena and are found by id through a two-level directory whose slots are
 * published with release stores, so readers (snapshots, exporters) take no
 * lock.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/lock.h"
#include "core/map.h"
#include "registry/registry.h"

/* ---- Arena ------------------------------------------------------------- */

static pthread_mutex_t arena_lock = PTHREAD_MUTEX_INITIALIZER;
static char *arena_cur, *arena_end;

static void *arena_alloc(size_t n)
{
	n = (n + 15) & ~(size_t)15;
	ward__mutex_lock(&arena_lock);
	if ((size_t)(arena_end - arena_cur) < n) {
		size_t chunk = n > (1 << 20) ? n : (1 << 20);
		void *p = ward__map(chunk);
		if (!p) {
			ward__mutex_unlock(&arena_lock);
			return NULL;
		}
		arena_cur = p;
		arena_end = arena_cur + chunk;
	}
	void *r = arena_cur;
	arena_cur += n;
	ward__mutex_unlock(&arena_lock);
	return r;
}

/* ---- Site directory ---------------------------------------------------- */

enum { DIR_BITS = 12, CHUNK_BITS = 12 };
#define CHUNK_SIZE (1u << CHUNK_BITS)

static struct ward__site_rec *_Atomic *_Atomic dir[1u << DIR_BITS];
static _Atomic uint32_t nsites;
static pthread_mutex_t dir_lock = PTHREAD_MUTEX_INITIALIZER;

/* Assign the next id to rec. Returns 0 when the directory is full. */
static uint32_t publish(struct ward__site_rec *rec)
{
	ward__mutex_lock(&dir_lock);
	uint32_t id = atomic_load_explicit(&nsites, memory_order_relaxed) + 1;
	uint32_t hi = id >> CHUNK_BITS, lo = id & (CHUNK_SIZE - 1);
	if (hi >= (1u << DIR_BITS)) {
		ward__mutex_unlock(&dir_lock);
		return 0;
	}
	struct ward__site_rec *_Atomic *chunk = atomic_load(&dir[hi]);
	if (!chunk) {
		chunk = arena_alloc(CHUNK_SIZE * sizeof(*chunk));
		if (!chunk) {
			ward__mutex_unlock(&dir_lock);
			return 0;
		}
		atomic_store_explicit(&dir[hi], chunk, memory_order_release);
	}
	atomic_store_explicit(&chunk[lo], rec, memory_order_release);
	atomic_store_explicit(&nsites, id, memory_order_release);
	ward__mutex_unlock(&dir_lock);
	return id;
}

struct ward__site_rec *ward__site_get(uint32_t id)
{
	if (id == 0 || id > atomic_load_explicit(&nsites, memory_order_acquire))
		return NULL;
	struct ward__site_rec *_Atomic *chunk = atomic_load_explicit(
		&dir[id >> CHUNK_BITS], memory_order_acquire);
	return chunk ? atomic_load_explicit(&chunk[id & (CHUNK_SIZE - 1)],
					    memory_order_acquire)
		     : NULL;
}

uint32_t ward__site_count(void)
{
	return atomic_load_explicit(&nsites, memory_order_acquire);
}

/* ---- Interning --------------------------------------------------------- */

enum { STRIPES = 256 };

/* A slot: the site id in the low half, 0 when empty; in the high half the
 * bits of the stack's hash the slot is found by, so that probing past
 * other sites, and moving them when the table grows, reads no record (one
 * cache miss each, at a million sites). */
static struct stripe {
	pthread_mutex_t lock;
	uint64_t *slots; /* open addressing */
	uint32_t cap, count;
} stripes[STRIPES];

static inline uint32_t slot_key(uint64_t h)
{
	return (uint32_t)(h >> 8);
}

static pthread_once_t stripes_once = PTHREAD_ONCE_INIT;

static void stripes_init(void)
{
	for (int i = 0; i < STRIPES; i++)
		pthread_mutex_init(&stripes[i].lock, NULL);
}

/* Two independent lanes, so the multiplies of consecutive frames overlap. */
static uint64_t hash_stack(uint32_t kind, const uintptr_t *pcs, int n)
{
	uint64_t a = 0x9e3779b97f4a7c15ull ^ kind, b = 0xc2b2ae3d27d4eb4full;
	int i = 0;
	for (; i + 1 < n; i += 2) {
		a = (a ^ pcs[i]) * 0xff51afd7ed558ccdull;
		b = (b ^ pcs[i + 1]) * 0xc4ceb9fe1a85ec53ull;
		a ^= a >> 29;
		b ^= b >> 31;
	}
	if (i < n)
		a = (a ^ pcs[i]) * 0xff51afd7ed558ccdull;
	uint64_t h = (a ^ (b >> 17) ^ (uint64_t)n) * 0x9e3779b97f4a7c15ull;
	return h ^ (h >> 32);
}

static uint32_t site_intern_locked(uint32_t kind, const uintptr_t *pcs, int n,
				   uint64_t h);

static bool same(const struct ward__site_rec *r, uint64_t h, uint32_t kind,
		 const uintptr_t *pcs, int n)
{
	return r->hash == h && r->kind == kind && r->depth == (uint32_t)n &&
	       memcmp(r->pcs, pcs, (size_t)n * sizeof(*pcs)) == 0;
}

static int stripe_grow(struct stripe *s)
{
	uint32_t ncap = s->cap ? s->cap * 2 : 64;
	uint64_t *slots = arena_alloc(ncap * sizeof(*slots)); /* old ones */
	if (!slots)                               /* leak: tables only grow */
		return -ENOMEM;
	memset(slots, 0, ncap * sizeof(*slots));
	for (uint32_t i = 0; i < s->cap; i++) {
		uint64_t v = s->slots[i];
		if (!(uint32_t)v)
			continue;
		uint32_t k = (uint32_t)(v >> 32) & (ncap - 1);
		while ((uint32_t)slots[k])
			k = (k + 1) & (ncap - 1);
		slots[k] = v;
	}
	s->slots = slots;
	s->cap = ncap;
	return 0;
}

/*
 * Each thread remembers the sites it interned last, by hash: a stack seen
 * again (the common case: the same call site acquiring in a loop) finds its
 * site with no lock. Sites never change once published, so comparing
 * against one needs no lock either.
 */
enum { RECENT = 256 };
static __thread uint32_t recent[RECENT]
	__attribute__((tls_model("initial-exec")));

uint32_t ward__site_intern(uint32_t kind, const uintptr_t *pcs, int n)
{
	uint64_t h = hash_stack(kind, pcs, n);
	uint32_t *slot = &recent[(h >> 40) & (RECENT - 1)];
	if (*slot) {
		struct ward__site_rec *r = ward__site_get(*slot);
		if (r && same(r, h, kind, pcs, n))
			return *slot;
	}
	uint32_t id = site_intern_locked(kind, pcs, n, h);
	if (id)
		*slot = id;
	return id;
}

static uint32_t site_intern_locked(uint32_t kind, const uintptr_t *pcs, int n,
				   uint64_t h)
{
	struct stripe *s = &stripes[h & (STRIPES - 1)];
	uint32_t id = 0;

	pthread_once(&stripes_once, stripes_init);
	ward__mutex_lock(&s->lock);
	uint32_t key = slot_key(h);
	if (s->cap) {
		uint32_t k = key & (s->cap - 1);
		for (; (uint32_t)s->slots[k]; k = (k + 1) & (s->cap - 1)) {
			if ((uint32_t)(s->slots[k] >> 32) != key)
				continue;
			uint32_t found = (uint32_t)s->slots[k];
			if (same(ward__site_get(found), h, kind, pcs, n)) {
				id = found;
				goto out;
			}
		}
	}
	if ((s->count + 1) * 4 > s->cap * 3 && stripe_grow(s) < 0)
		goto out;
	struct ward__site_rec *r =
		arena_alloc(sizeof(*r) + (size_t)n * sizeof(*pcs));
	if (!r)
		goto out;
	r->hash = h;
	r->kind = kind;
	r->depth = (uint32_t)n;
	memcpy(r->pcs, pcs, (size_t)n * sizeof(*pcs));
	id = publish(r);
	if (!id)
		goto out;
	uint32_t k = key & (s->cap - 1);
	while ((uint32_t)s->slots[k])
		k = (k + 1) & (s->cap - 1);
	s->slots[k] = (uint64_t)key << 32 | id;
	s->count++;
out:
	ward__mutex_unlock(&s->lock);
	return id;
}

/* ---- fork() ------------------------------------------------------------ */

void ward__sites_lock_all(void)
{
	pthread_once(&stripes_once, stripes_init);
	for (int i = 0; i < STRIPES; i++)
		ward__mutex_lock(&stripes[i].lock);
	ward__mutex_lock(&dir_lock);
	ward__mutex_lock(&arena_lock);
}

void ward__sites_unlock_all(void)
{
	ward__mutex_unlock(&arena_lock);
	ward__mutex_unlock(&dir_lock);
	for (int i = STRIPES - 1; i >= 0; i--)
		ward__mutex_unlock(&stripes[i].lock);
}
