/*
 * pool.c — pools of reusable objects (include/ward/pool.h; docs/pools.md).
 *
 * The fast path is the calling thread's cache: a small stack of objects per
 * pool, in TLS, touched by no one else, so a get or a put is a few loads
 * and stores. A full cache moves half of itself to the pool's shared list,
 * an empty one takes from it (under the pool's lock). Counts are kept in
 * the cache and added to the pool's when objects move, so figures lag by
 * what the threads' caches hold.
 *
 * A trim bumps the pool's generation: each thread's cache, at its next use
 * of the pool, gives its objects back to the shared list, so what a thread
 * stopped using ages too. A freed pool's struct is kept (it is small) so a
 * thread that still caches its objects can give them back safely.
 *
 * Checking mode goes around the caches: every get and put takes the pool's
 * lock and looks the object up in the pool's table of objects, which
 * holds its state, a checksum of its bytes when it was cached, and where it
 * was last got and put.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "capture/capture.h"
#include "core/env.h"
#include "core/clock.h"
#include "core/grow.h"
#include "core/lock.h"
#include "core/log.h"
#include "core/thread.h"
#include "registry/registry.h"
#include "scan/scan.h"
#include "ward/pool.h"
#include "ward/track.h"

#if defined(__SANITIZE_ADDRESS__)
#define WARD_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WARD_ASAN 1
#endif
#endif
#ifdef WARD_ASAN
void __asan_poison_memory_region(void const volatile *addr, size_t size);
void __asan_unpoison_memory_region(void const volatile *addr, size_t size);
#define POISON(p, n) __asan_poison_memory_region((p), (n))
#define UNPOISON(p, n) __asan_unpoison_memory_region((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

enum { TCACHE = WARD__POOL_CACHE, TSLOTS = WARD__POOL_SLOTS };
#define TRIM (1ull << 48) /* a trim's step in a pool's tag (pool.h) */

/* An object's record in checking mode. */
enum { OUT = 1, CACHED = 2 };
struct meta {
	void *obj;
	int state;
	uint64_t sum;             /* of its bytes when cached */
	const char *get_file, *put_file;
	int get_line, put_line;
};

struct ward_pool {
	struct ward__pool_head h; /* what the inline fast paths read */
	char name[48];
	size_t size;
	void (*init)(void *, void *);
	void (*destroy)(void *, void *);
	_Atomic bool dead;   /* freed by the program; kept for the caches */
	size_t max_cached;   /* buffer pools: bigger ones are not kept */
	pthread_mutex_t lock;
	void **shared, **victims;
	size_t nshared, capshared, nvictims, capvictims;
	struct meta *metas;  /* checking mode: open addressing by obj */
	size_t nmetas, capmetas;
	void *template_obj;  /* checking mode: a new object, for reset */
	size_t span;         /* guarded (below): the pages an object spans */
	uint32_t trim_ms;
	uint64_t next_trim_ns;
	struct ward_pool *next_timed;
	struct ward_pool *next_dead;
	struct ward_pool *next_made; /* every pool ever made */
	_Atomic uint64_t gets, puts, victim_hits, misses, victims_freed,
		dropped, misuses;
};

#define tcache ward__pool_cache
WARD_API __thread struct tcache ward__pool_caches[TSLOTS]
	__attribute__((tls_model("initial-exec")));
#define tcaches ward__pool_caches
static __thread bool tcache_exit_hooked;
static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;
static _Atomic unsigned next_slot;
static int pool_kind = -1;
static pthread_mutex_t timed_lock = PTHREAD_MUTEX_INITIALIZER;
/* Every pool ever made, newest first (pool_make, under made_lock). */
static struct ward_pool *made;
/* Freed pools, kept (a few hundred bytes each) for the threads' caches. */
static struct ward_pool *_Atomic dead_pools;

/* ---- Objects made and freed --------------------------------------------- */

/*
 * Guarded objects: in checking mode, an object of a page or more (and not
 * under AddressSanitizer, whose poisoning catches the write itself) gets
 * pages of its own, made read-only while it is cached, so a write after
 * put faults at the writing instruction; the fault handler names the
 * pool, the put and the writer's stack, and ends the program, as
 * AddressSanitizer would. Read-only, not inaccessible: the reachability
 * scan takes a mapping right above an inaccessible one for a thread's
 * stack (above its guard page), and would pass over an object in use
 * next to a cached one.
 */
enum { PAGE = 4096 };

static void *make(struct ward_pool *p)
{
	void *o;
	if (p->span) {
		o = mmap(NULL, p->span, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (o == MAP_FAILED)
			o = NULL;
	} else {
		ward__guard_raise();
		o = malloc(p->size);
		ward__guard_lower();
	}
	if (o && p->init)
		p->init(o, p->h.arg);
	return o;
}

/* A cached object's pages: inaccessible, or usable again. */
static void guard(struct ward_pool *p, void *o, bool on)
{
	if (p->span)
		mprotect(o, p->span, on ? PROT_READ : PROT_READ | PROT_WRITE);
}

static void destroy(struct ward_pool *p, void *o)
{
	UNPOISON(o, p->size);
	guard(p, o, false);
	if (p->destroy)
		p->destroy(o, p->h.arg);
	if (p->span) {
		munmap(o, p->span);
		return;
	}
	ward__guard_raise();
	free(o);
	ward__guard_lower();
}

static bool push(void ***v, size_t *n, size_t *cap, void *o)
{
	ward__guard_raise();
	void **nv = ward__grow(*v, cap, *n + 1, sizeof(*nv), 64);
	ward__guard_lower();
	if (!nv)
		return false;
	*v = nv;
	(*v)[(*n)++] = o;
	return true;
}

/* ---- The threads' caches ------------------------------------------------- */

/*
 * A thread's counts wait in its caches until they are added to the pool's
 * (a cache refilling or spilling, a flush), so the figures of a pool also
 * read every thread's caches: each thread that used a pool is on this
 * list from its first use to its exit. Counts move from a cache to its
 * pool under the pool's lock, and a reader holds that lock: it sees a
 * batch either in the cache or in the pool, never in both nor in neither,
 * so a counter never goes back. Between slow paths a cache's word alone
 * changes, and its every value gives consistent counts.
 */
struct cache_set {
	struct tcache *caches;
	struct cache_set *prev, *next;
};
static pthread_mutex_t sets_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cache_set *sets;
static __thread struct cache_set my_set;

static unsigned cached(const struct tcache *c)
{
	return (unsigned)c->word & WARD__POOL_NMASK;
}

/* The gets and puts a cache's word and base count (see pool.h). */
static uint64_t word_gets(uint64_t word)
{
	return word >> WARD__POOL_NBITS;
}

static uint64_t word_puts(uint64_t word, uint64_t base)
{
	return word_gets(word) + (word & WARD__POOL_NMASK) - base;
}

/* Move c's counts to its pool p, and leave it holding n objects (p's lock
 * held: what the slow paths change they change together). */
static void publish(struct ward_pool *p, struct tcache *c, unsigned n)
{
	atomic_fetch_add_explicit(&p->gets, word_gets(c->word),
				  memory_order_relaxed);
	atomic_fetch_add_explicit(&p->puts, word_puts(c->word, c->base),
				  memory_order_relaxed);
	WARD__POOL_STORE(c->word, n);
	WARD__POOL_STORE(c->base, n);
}

static void sets_add(void)
{
	my_set.caches = tcaches;
	ward__mutex_lock(&sets_lock);
	my_set.prev = NULL;
	my_set.next = sets;
	if (sets)
		sets->prev = &my_set;
	sets = &my_set;
	ward__mutex_unlock(&sets_lock);
}

static void sets_remove(void)
{
	if (!my_set.caches)
		return;
	ward__mutex_lock(&sets_lock);
	if (my_set.prev)
		my_set.prev->next = my_set.next;
	else
		sets = my_set.next;
	if (my_set.next)
		my_set.next->prev = my_set.prev;
	ward__mutex_unlock(&sets_lock);
	my_set.caches = NULL;
}

/* The counts p's thread caches hold, added to *gets and *puts (sets_lock
 * and p's lock held). */
static void sets_read(struct ward_pool *p, uint64_t *gets, uint64_t *puts)
{
	for (struct cache_set *s = sets; s; s = s->next) {
		struct tcache *c = &s->caches[p->h.slot];
		if (__atomic_load_n(&c->pool, __ATOMIC_ACQUIRE) != p)
			continue;
		uint64_t word = __atomic_load_n(&c->word, __ATOMIC_RELAXED);
		*gets += word_gets(word);
		*puts += word_puts(word,
				   __atomic_load_n(&c->base, __ATOMIC_RELAXED));
	}
}

/* Give c's objects and counts back to its pool. */
static void flush(struct tcache *c)
{
	struct ward_pool *p = (struct ward_pool *)c->pool;
	if (!p)
		return;
	ward__mutex_lock(&p->lock);
	unsigned n = cached(c);
	publish(p, c, 0);
	for (unsigned i = 0; i < n; i++)
		if (p->dead || !push(&p->shared, &p->nshared, &p->capshared,
				     c->obj[i])) {
			ward__mutex_unlock(&p->lock);
			destroy(p, c->obj[i]);
			ward__mutex_lock(&p->lock);
		}
	ward__mutex_unlock(&p->lock);
	c->tag = 0;
	__atomic_store_n(&c->pool, NULL, __ATOMIC_RELAXED);
}

static void thread_exit(void *unused)
{
	(void)unused;
	for (int i = 0; i < TSLOTS; i++)
		flush(&tcaches[i]);
	sets_remove();
}

static void exit_key_make(void)
{
	pthread_key_create(&exit_key, thread_exit);
}

/* Made when the library loads, so among the program's first 32 keys (see
 * registry/counters.c). */
__attribute__((constructor(101))) static void key_early(void)
{
	pthread_once(&exit_once, exit_key_make);
}

/* The calling thread's cache for p, flushed of another pool or of an
 * older generation. */
static struct tcache *cache_for(struct ward_pool *p)
{
	struct tcache *c = &tcaches[p->h.slot];
	uint64_t tag = __atomic_load_n(&p->h.tag, __ATOMIC_ACQUIRE);
	if (__builtin_expect(c->tag == tag, 1))
		return c;
	flush(c);
	if (!tcache_exit_hooked) {
		pthread_once(&exit_once, exit_key_make);
		pthread_setspecific(exit_key, (void *)1);
		tcache_exit_hooked = true;
		sets_add();
	}
	c->tag = tag;
	/* Its word and base are 0 (flushed): a snapshot may count it now. */
	__atomic_store_n(&c->pool, p, __ATOMIC_RELEASE);
	return c;
}

/* ---- Checking mode ------------------------------------------------------- */

static uint64_t checksum(const void *o, size_t n)
{
	const unsigned char *b = o;
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h;
}

static struct meta *meta_find(struct ward_pool *p, const void *o, bool add)
{
	if (add && p->nmetas + 1 > p->capmetas / 2) {
		size_t ncap = p->capmetas ? p->capmetas * 2 : 256;
		ward__guard_raise();
		struct meta *nm = calloc(ncap, sizeof(*nm));
		ward__guard_lower();
		if (!nm)
			return NULL;
		for (size_t i = 0; i < p->capmetas; i++)
			if (p->metas[i].obj) {
				size_t k = ((uintptr_t)p->metas[i].obj >> 4) *
					   0x9e3779b97f4a7c15ull >> 20 & (ncap - 1);
				while (nm[k].obj)
					k = (k + 1) & (ncap - 1);
				nm[k] = p->metas[i];
			}
		free(p->metas);
		p->metas = nm;
		p->capmetas = ncap;
	}
	if (!p->capmetas)
		return NULL;
	size_t k = ((uintptr_t)o >> 4) * 0x9e3779b97f4a7c15ull >> 20 &
		   (p->capmetas - 1);
	for (; p->metas[k].obj; k = (k + 1) & (p->capmetas - 1))
		if (p->metas[k].obj == o)
			return &p->metas[k];
	if (!add)
		return NULL;
	p->metas[k] = (struct meta){ .obj = (void *)o };
	p->nmetas++;
	return &p->metas[k];
}

static void misuse(struct ward_pool *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void misuse(struct ward_pool *p, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	atomic_fetch_add(&p->misuses, 1);
	ward__log(WARD_LOG_WARN, "ward: pool \"%s\": %s\n", p->name, msg);
}

/* ---- Writes to guarded objects -------------------------------------------- */

#ifndef WARD_ASAN /* there, AddressSanitizer's poisoning catches them */

static struct sigaction fault_prev;
static pthread_once_t fault_once = PTHREAD_ONCE_INIT;

/* The cached object of guarded pool p whose pages hold addr, or NULL
 * (p's lock held). */
static struct meta *guarded_meta(struct ward_pool *p, uintptr_t addr)
{
	uintptr_t page = addr & ~(uintptr_t)(PAGE - 1);
	for (size_t k = 0; k < p->span / PAGE && page >= k * PAGE; k++) {
		struct meta *m = meta_find(p, (void *)(page - k * PAGE), false);
		if (m && m->state == CACHED)
			return m;
	}
	return NULL;
}

/* Not ours: what the program (or the default) does with the fault. */
static void fault_chain(int sig, siginfo_t *si, void *uc)
{
	if (fault_prev.sa_flags & SA_SIGINFO) {
		if (fault_prev.sa_sigaction) {
			fault_prev.sa_sigaction(sig, si, uc);
			return;
		}
	} else if (fault_prev.sa_handler != SIG_DFL &&
		   fault_prev.sa_handler != SIG_IGN) {
		fault_prev.sa_handler(sig);
		return;
	}
	/* The default: the faulting instruction runs again and the fault
	 * ends the process as it would have. */
	signal(sig, SIG_DFL);
}

/* The writer's stack, one frame a line, named by the dynamic symbols. */
static void writer_stack(void *ucv, char *out, size_t len)
{
	size_t at = 0;
	out[0] = '\0';
#if defined(__x86_64__)
	ucontext_t *uc = ucv;
	uintptr_t pcs[24];
	int n = ward__capture_context((uintptr_t)uc->uc_mcontext.gregs[REG_RIP],
				      (uintptr_t)uc->uc_mcontext.gregs[REG_RSP],
				      (uintptr_t)uc->uc_mcontext.gregs[REG_RBP],
				      pcs, 24);
	for (int i = 0; i < n && at + 1 < len; i++) {
		Dl_info di;
		uintptr_t pc = i ? pcs[i] - 1 : pcs[i];
		int w;
		if (dladdr((void *)pc, &di) && di.dli_sname) {
			const char *base = strrchr(di.dli_fname, '/');
			w = snprintf(out + at, len - at, "\t%s+0x%lx (%s)\n",
				     di.dli_sname,
				     (unsigned long)(pc - (uintptr_t)di.dli_saddr),
				     base ? base + 1 : di.dli_fname);
		} else {
			w = snprintf(out + at, len - at, "\t0x%lx\n",
				     (unsigned long)pc);
		}
		if (w < 0)
			break;
		at += (size_t)w;
	}
#else
	(void)ucv;
	snprintf(out, len, "\t(no stack on this architecture)\n");
#endif
}

static void guard_fault(int sig, siginfo_t *si, void *uc)
{
	uintptr_t addr = (uintptr_t)si->si_addr;
	for (struct ward_pool *p = __atomic_load_n(&made, __ATOMIC_ACQUIRE); p;
	     p = p->next_made) {
		if (!p->span || pthread_mutex_trylock(&p->lock) != 0)
			continue;
		struct meta *m = guarded_meta(p, addr);
		struct meta seen = m ? *m : (struct meta){ 0 };
		pthread_mutex_unlock(&p->lock);
		if (!m)
			continue;
		static char stack[4096];
		writer_stack(uc, stack, sizeof(stack));
		atomic_fetch_add(&p->misuses, 1);
		ward__fatal("ward: pool \"%s\": an object was written after it "
			    "was put back at %s:%d (its last get: %s:%d), by:\n%s",
			    p->name, seen.put_file ? seen.put_file : "?",
			    seen.put_line, seen.get_file ? seen.get_file : "?",
			    seen.get_line, stack);
	}
	fault_chain(sig, si, uc);
}

/* The handler, once a pool guards its objects: only then, and chained to
 * whatever handled SIGSEGV before. */
static void fault_install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = guard_fault;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &fault_prev);
}
#endif

/* The first byte where a reset object differs from a new one, or -1. */
static long not_reset_at(struct ward_pool *p, const void *o)
{
	if (!p->template_obj)
		return -1;
	const unsigned char *a = o, *b = p->template_obj;
	for (size_t i = 0; i < p->size; i++)
		if (a[i] != b[i])
			return (long)i;
	return -1;
}

static __attribute__((noinline)) void *checked_get(struct ward_pool *p,
						   const char *file, int line)
{
	ward__mutex_lock(&p->lock);
	void *o = NULL;
	bool victim = false;
	if (p->nshared)
		o = p->shared[--p->nshared];
	else if (p->nvictims) {
		o = p->victims[--p->nvictims];
		victim = true;
	}
	struct meta *m = o ? meta_find(p, o, false) : NULL;
	if (o && m) {
		UNPOISON(o, p->size);
		guard(p, o, false);
		if (checksum(o, p->size) != m->sum)
			misuse(p, "an object was written after it was put back: "
				  "put at %s:%d, found at the get at %s:%d "
				  "(its previous get: %s:%d)",
			       m->put_file, m->put_line, file, line,
			       m->get_file ? m->get_file : "?", m->get_line);
		if (victim)
			atomic_fetch_add(&p->victim_hits, 1);
	}
	ward__mutex_unlock(&p->lock);
	if (!o) {
		o = make(p);
		if (!o)
			return NULL;
		atomic_fetch_add(&p->misses, 1);
	}
	ward__mutex_lock(&p->lock);
	m = meta_find(p, o, true);
	if (m) {
		m->state = OUT;
		m->get_file = file;
		m->get_line = line;
	}
	ward__mutex_unlock(&p->lock);
	atomic_fetch_add(&p->gets, 1);
	if (pool_kind >= 0)
		ward__track_at(pool_kind, (uintptr_t)o, p->size, 2);
	return o;
}

static __attribute__((noinline)) void checked_put(struct ward_pool *p, void *o,
						  const char *file, int line)
{
	ward__mutex_lock(&p->lock);
	struct meta *m = meta_find(p, o, false);
	if (!m) {
		ward__mutex_unlock(&p->lock);
		misuse(p, "ward_pool_put at %s:%d of %p, which this pool never "
			  "gave out (a foreign object)", file, line, o);
		return;
	}
	if (m->state == CACHED) {
		const char *pf = m->put_file;
		int pl = m->put_line;
		ward__mutex_unlock(&p->lock);
		misuse(p, "ward_pool_put at %s:%d of an object already put "
			  "back at %s:%d (a double put)", file, line, pf, pl);
		return;
	}
	m->state = CACHED;
	m->put_file = file;
	m->put_line = line;
	ward__mutex_unlock(&p->lock);
	if (pool_kind >= 0)
		ward__untrack(pool_kind, (uintptr_t)o);
	p->h.reset(o, p->h.arg);
	long at = not_reset_at(p, o);
	if (at >= 0)
		misuse(p, "the reset hook left state behind: after the put at "
			  "%s:%d, byte %ld differs from a new object's", file,
		       line, at);
	ward__mutex_lock(&p->lock);
	m = meta_find(p, o, false);
	if (m)
		m->sum = checksum(o, p->size);
	if (!push(&p->shared, &p->nshared, &p->capshared, o)) {
		ward__mutex_unlock(&p->lock);
		destroy(p, o);
		return;
	}
	POISON(o, p->size);
	guard(p, o, true);
	ward__mutex_unlock(&p->lock);
	atomic_fetch_add(&p->puts, 1);
}

/* ---- Get and put ---------------------------------------------------------- */

/* One of c's objects (it has one), counted as a get. */
static void *take_cached(struct tcache *c)
{
	return ward__pool_take(c, c->word, cached(c));
}

/* o into c (it has room), counted as a put. */
static void put_cached(struct tcache *c, void *o)
{
	ward__pool_keep(c, c->word, cached(c), o);
}

static __attribute__((noinline)) void *get_slow(struct ward_pool *p,
						struct tcache *c)
{
	ward__mutex_lock(&p->lock);
	/* Refill half the cache from the shared list, then the victims. */
	unsigned n = cached(c);
	while (n < TCACHE / 2 && p->nshared)
		c->obj[n++] = p->shared[--p->nshared];
	bool victim = false;
	while (n < TCACHE / 2 && p->nvictims) {
		c->obj[n++] = p->victims[--p->nvictims];
		victim = true;
	}
	publish(p, c, n);
	ward__mutex_unlock(&p->lock);
	if (n) {
		if (victim)
			atomic_fetch_add_explicit(&p->victim_hits, 1,
						  memory_order_relaxed);
		return take_cached(c);
	}
	atomic_fetch_add_explicit(&p->gets, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&p->misses, 1, memory_order_relaxed);
	return make(p);
}

WARD_API void *ward__pool_get(ward_pool_t *p, const char *file, int line)
{
	if (__builtin_expect(!p, 0))
		return NULL;
	if (__builtin_expect(p->h.check, 0)) {
		void *o = checked_get(p, file, line);
		__asm__ volatile("" ::: "memory"); /* a frame of its own */
		return o;
	}
	struct tcache *c = cache_for(p);
	if (__builtin_expect(cached(c) > 0, 1))
		return take_cached(c);
	return get_slow(p, c);
}

static __attribute__((noinline)) void put_slow(struct ward_pool *p,
					       struct tcache *c, void *o)
{
	/* Half the cache to the shared list. */
	ward__mutex_lock(&p->lock);
	unsigned n = cached(c);
	while (n > TCACHE / 2 &&
	       push(&p->shared, &p->nshared, &p->capshared, c->obj[n - 1]))
		n--;
	publish(p, c, n);
	ward__mutex_unlock(&p->lock);
	if (n < TCACHE) {
		put_cached(c, o);
	} else {
		atomic_fetch_add_explicit(&p->puts, 1, memory_order_relaxed);
		destroy(p, o);
	}
}

WARD_API void ward__pool_put(ward_pool_t *p, void *o, const char *file,
			     int line)
{
	if (__builtin_expect(!p || !o, 0))
		return;
	if (__builtin_expect(p->h.check, 0)) {
		checked_put(p, o, file, line);
		return;
	}
	p->h.reset(o, p->h.arg);
	ward__pool_put_reset(p, o);
}

WARD_API void ward__pool_put_reset(ward_pool_t *p, void *o)
{
	struct tcache *c = cache_for(p);
	if (__builtin_expect(cached(c) < TCACHE, 1))
		put_cached(c, o);
	else
		put_slow(p, c, o);
}

/* ---- Trim ---------------------------------------------------------------- */

static void trim(struct ward_pool *p)
{
	/* Threads give their caches back at their next use. */
	__atomic_fetch_add(&p->h.tag, TRIM, __ATOMIC_RELEASE);
	ward__mutex_lock(&p->lock);
	void **old = p->victims;
	size_t nold = p->nvictims;
	p->victims = p->shared;
	p->nvictims = p->nshared;
	p->capvictims = p->capshared;
	p->shared = NULL;
	p->nshared = p->capshared = 0;
	ward__mutex_unlock(&p->lock);
	for (size_t i = 0; i < nold; i++) {
		if (p->h.check) {
			ward__mutex_lock(&p->lock);
			struct meta *m = meta_find(p, old[i], false);
			if (m)
				m->state = 0; /* gone */
			ward__mutex_unlock(&p->lock);
		}
		destroy(p, old[i]);
	}
	atomic_fetch_add(&p->victims_freed, nold);
	ward__guard_raise();
	free(old);
	ward__guard_lower();
}

WARD_API void ward_pool_trim(ward_pool_t *p)
{
	if (p) {
		/* The calling thread's own cache is given back now. */
		struct tcache *c = &tcaches[p->h.slot];
		if (c->pool == p)
			flush(c);
		trim(p);
	}
}

/* Pools that trim themselves, and the one thread that does it. */
static pthread_cond_t timed_cond = PTHREAD_COND_INITIALIZER;
static struct ward_pool *timed;
static bool trimmer_running;

static void *trimmer(void *unused)
{
	(void)unused;
	ward__guard_raise(); /* its work is ward's, not the program's */
	ward__mutex_lock(&timed_lock);
	for (;;) {
		uint64_t now = ward__now_ns(), next = UINT64_MAX;
		for (struct ward_pool *p = timed; p; p = p->next_timed) {
			if (now >= p->next_trim_ns) {
				ward__mutex_unlock(&timed_lock);
				trim(p);
				ward__mutex_lock(&timed_lock);
				p->next_trim_ns = now + p->trim_ms * 1000000ull;
			}
			if (p->next_trim_ns < next)
				next = p->next_trim_ns;
		}
		uint64_t wait = next == UINT64_MAX ? 1000000000ull
						   : next > now ? next - now : 0;
		/* Monotonic: a wall clock set back would hold the trims. */
		struct timespec until = ward__deadline(CLOCK_MONOTONIC, wait);
		pthread_cond_clockwait(&timed_cond, &timed_lock, CLOCK_MONOTONIC,
				       &until);
	}
	return NULL;
}

/* ---- Pools ---------------------------------------------------------------- */

/* Every pool's lock (and the trimmer's) is held across fork(): a child
 * never inherits one held by a thread that did not come along. Pools are
 * never freed, so the list only grows. */
static pthread_mutex_t made_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void fork_prepare(void)
{
	ward__mutex_lock(&made_lock); /* then sets_lock, as pool_figures */
	ward__mutex_lock(&sets_lock);
	ward__mutex_lock(&timed_lock);
	for (struct ward_pool *p = made; p; p = p->next_made)
		ward__mutex_lock(&p->lock);
}

static void fork_done(void)
{
	for (struct ward_pool *p = made; p; p = p->next_made)
		ward__mutex_unlock(&p->lock);
	ward__mutex_unlock(&timed_lock);
	ward__mutex_unlock(&sets_lock);
	ward__mutex_unlock(&made_lock);
}

/* The child has one thread: the others' caches count no more. */
static void fork_child(void)
{
	sets = my_set.caches ? &my_set : NULL;
	my_set.prev = my_set.next = NULL;
	fork_done();
}

static void pool_stats(struct ward_pool *p, struct ward_pool_stats *out);

/* Each pool's figures, for snapshots: the pools the program still has. */
static void pool_figures(ward__figure_fn fn, void *opaque)
{
	static const struct {
		const char *figure, *help;
		bool counter;
		size_t off;
	} f[] = {
#define FIG(name, counter, help) \
	{ #name, help, counter, offsetof(struct ward_pool_stats, name) }
		FIG(gets, true, "Objects taken from the pool."),
		FIG(puts, true, "Objects given back to the pool."),
		FIG(hits, true, "Gets served from a cache."),
		FIG(victim_hits, true, "Gets served from the victims of a trim."),
		FIG(misses, true, "Gets that made a new object."),
		FIG(in_use, false, "Objects taken and not given back."),
		FIG(cached, false, "Objects the pool keeps for reuse."),
		FIG(bytes_retained, false, "Bytes the cached objects hold."),
		FIG(victims_freed, true, "Objects freed by trims, unused for two."),
		FIG(dropped, true, "Buffers over the cap, freed on put."),
		FIG(misuses, true, "Misuses reported in checking mode."),
#undef FIG
	};
	ward__mutex_lock(&made_lock);
	for (struct ward_pool *p = made; p; p = p->next_made) {
		if (atomic_load(&p->dead))
			continue;
		struct ward_pool_stats st;
		pool_stats(p, &st);
		for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
			fn("pool", p->name, f[i].figure, f[i].help, f[i].counter,
			   *(const uint64_t *)((const char *)&st + f[i].off),
			   opaque);
	}
	ward__mutex_unlock(&made_lock);
}

static struct ward__figure_source figures = { .each = pool_figures };

static void fork_register(void)
{
	ward__registry_fork_handlers();
	pthread_atfork(fork_prepare, fork_done, fork_child);
	ward__figure_source_add(&figures);
}

static struct ward_pool *pool_make(const char *name, size_t size)
{
	pthread_once(&fork_once, fork_register);
	ward__guard_raise();
	struct ward_pool *p = calloc(1, sizeof(*p));
	ward__guard_lower();
	if (!p)
		return NULL;
	snprintf(p->name, sizeof(p->name), "%s", name ? name : "pool");
	p->size = size;
	p->h.slot = atomic_fetch_add(&next_slot, 1) % TSLOTS;
	p->h.cache_at = (uint16_t)(p->h.slot * sizeof(struct tcache));
	p->h.tag = (uint64_t)(uintptr_t)p;
	pthread_mutex_init(&p->lock, NULL);
	ward__mutex_lock(&made_lock);
	p->next_made = made;
	__atomic_store_n(&made, p, __ATOMIC_RELEASE); /* guard_fault reads it */
	ward__mutex_unlock(&made_lock);
	return p;
}

/* WARD_POOL_CHECK=1: every pool checks (read once, said once). */
static pthread_once_t env_once = PTHREAD_ONCE_INIT;
static bool check_every_pool;

static void read_env(void)
{
	check_every_pool = ward__env_flag("WARD_POOL_CHECK", false,
					  "checking the pools that ask");
}

WARD_API ward_pool_t *ward_pool_new(const struct ward_pool_config *cfg)
{
	if (!cfg || !cfg->reset || !cfg->size) {
		errno = EINVAL;
		return NULL;
	}
	struct ward_pool *p = pool_make(cfg->name, cfg->size);
	if (!p) {
		errno = ENOMEM;
		return NULL;
	}
	p->init = cfg->init;
	p->h.reset = cfg->reset;
	p->destroy = cfg->destroy;
	p->h.arg = cfg->arg;
	pthread_once(&env_once, read_env);
	p->h.check = cfg->check || check_every_pool;
	if (p->h.check) {
		if (pool_kind < 0)
			pool_kind = ward_kind_register("pool");
#ifndef WARD_ASAN
		if (cfg->size >= PAGE) {
			p->span = (cfg->size + PAGE - 1) & ~(size_t)(PAGE - 1);
			pthread_once(&fault_once, fault_install);
		}
#endif
		/* A new object, reset: what every reset object must equal. */
		p->template_obj = make(p);
		if (p->template_obj)
			p->h.reset(p->template_obj, p->h.arg);
	}
	if (cfg->trim_ms) {
		p->trim_ms = cfg->trim_ms;
		p->next_trim_ns = ward__now_ns() + cfg->trim_ms * 1000000ull;
		ward__mutex_lock(&timed_lock);
		p->next_timed = timed;
		timed = p;
		if (!trimmer_running)
			trimmer_running = ward__thread_start(
				NULL, trimmer, NULL, true, ward__stop_signal()) == 0;
		pthread_cond_broadcast(&timed_cond);
		ward__mutex_unlock(&timed_lock);
	}
	return p;
}

static void pool_stats(struct ward_pool *p, struct ward_pool_stats *out)
{
	memset(out, 0, sizeof(*out));
	/* The pool's and what waits in the threads' caches, under the lock
	 * that moves counts from one to the other. */
	ward__mutex_lock(&sets_lock);
	ward__mutex_lock(&p->lock);
	out->gets = atomic_load_explicit(&p->gets, memory_order_relaxed);
	out->puts = atomic_load_explicit(&p->puts, memory_order_relaxed);
	sets_read(p, &out->gets, &out->puts);
	out->cached = p->nshared + p->nvictims;
	ward__mutex_unlock(&p->lock);
	ward__mutex_unlock(&sets_lock);
	out->victim_hits = atomic_load(&p->victim_hits);
	out->misses = atomic_load(&p->misses);
	/* Every get is a miss, a victim hit, or a hit of a cache. */
	uint64_t other = out->misses + out->victim_hits;
	out->hits = out->gets > other ? out->gets - other : 0;
	out->in_use = out->gets > out->puts ? out->gets - out->puts : 0;
	out->bytes_retained = out->cached * p->size;
	out->victims_freed = atomic_load(&p->victims_freed);
	out->dropped = atomic_load(&p->dropped);
	out->misuses = atomic_load(&p->misuses);
}

WARD_API int ward_pool_stats(ward_pool_t *p, struct ward_pool_stats *out)
{
	if (!p || !out)
		return -EINVAL;
	pool_stats(p, out);
	return 0;
}

WARD_API void ward_pool_free(ward_pool_t *p)
{
	if (!p)
		return;
	struct tcache *c = &tcaches[p->h.slot];
	if (c->pool == p)
		flush(c);
	if (p->trim_ms) { /* no more trims by ward's thread */
		ward__mutex_lock(&timed_lock);
		for (struct ward_pool **pp = &timed; *pp; pp = &(*pp)->next_timed)
			if (*pp == p) {
				*pp = p->next_timed;
				break;
			}
		ward__mutex_unlock(&timed_lock);
	}
	ward__mutex_lock(&p->lock);
	p->dead = true;
	void **s = p->shared, **v = p->victims;
	size_t ns = p->nshared, nv = p->nvictims;
	p->shared = p->victims = NULL;
	p->nshared = p->nvictims = p->capshared = p->capvictims = 0;
	__atomic_fetch_add(&p->h.tag, TRIM, __ATOMIC_RELEASE);
	ward__mutex_unlock(&p->lock);
	for (size_t i = 0; i < ns; i++)
		destroy(p, s[i]);
	for (size_t i = 0; i < nv; i++)
		destroy(p, v[i]);
	ward__guard_raise();
	free(s);
	free(v);
	free(p->metas);
	p->metas = NULL;
	p->nmetas = p->capmetas = 0;
	ward__guard_lower();
	if (p->template_obj)
		destroy(p, p->template_obj);
	p->template_obj = NULL;
	/* The struct stays: other threads' caches may still hold objects
	 * of this pool, and give them back (freed) at their next use. */
	struct ward_pool *head = atomic_load(&dead_pools);
	do
		p->next_dead = head;
	while (!atomic_compare_exchange_weak(&dead_pools, &head, p));
}

/* ---- Byte buffers ----------------------------------------------------------- */

enum { CLASSES = 21, MIN_SHIFT = 6 }; /* 64 B .. 64 MiB */

struct ward_bufpool {
	struct ward_pool *classes[CLASSES];
	size_t max_cached;
	_Atomic uint64_t dropped, big_gets;
};

/* A buffer's header: its class (or the size of one too big to pool). */
struct bufhdr {
	size_t cap;
	size_t pad; /* keeps the buffer 16-byte aligned */
};

static void buf_reset(void *obj, void *arg)
{
	(void)obj;
	(void)arg; /* bytes are the caller's to overwrite */
}

WARD_API ward_bufpool_t *ward_bufpool_new(const char *name, size_t max_cached)
{
	ward__guard_raise();
	struct ward_bufpool *bp = calloc(1, sizeof(*bp));
	ward__guard_lower();
	if (!bp)
		return NULL;
	bp->max_cached = max_cached ? max_cached : (size_t)1 << 20;
	for (int k = 0; k < CLASSES; k++) {
		size_t cap = (size_t)1 << (k + MIN_SHIFT);
		if (cap > bp->max_cached)
			break;
		char cname[48];
		snprintf(cname, sizeof(cname), "%.30s/%zu", name ? name : "buf", cap);
		struct ward_pool *p = pool_make(cname, sizeof(struct bufhdr) + cap);
		if (!p) {
			ward_bufpool_free(bp);
			return NULL;
		}
		p->h.reset = buf_reset;
		bp->classes[k] = p;
	}
	return bp;
}

WARD_API void ward_bufpool_free(ward_bufpool_t *bp)
{
	if (!bp)
		return;
	for (int k = 0; k < CLASSES; k++)
		ward_pool_free(bp->classes[k]);
	ward__guard_raise();
	free(bp);
	ward__guard_lower();
}

static int class_of(size_t size)
{
	int k = 0;
	while (k < CLASSES && ((size_t)1 << (k + MIN_SHIFT)) < size)
		k++;
	return k;
}

WARD_API void *ward_bufpool_get(ward_bufpool_t *bp, size_t size)
{
	if (!bp) {
		errno = EINVAL;
		return NULL;
	}
	if (size > SIZE_MAX - sizeof(struct bufhdr)) {
		errno = ENOMEM; /* no buffer is that big: not a small one */
		return NULL;
	}
	int k = class_of(size ? size : 1);
	struct bufhdr *h;
	if (k < CLASSES && bp->classes[k]) {
		h = ward__pool_get(bp->classes[k], NULL, 0);
		if (!h)
			return NULL;
		h->cap = (size_t)1 << (k + MIN_SHIFT);
	} else {
		h = malloc(sizeof(*h) + size);
		if (!h)
			return NULL;
		h->cap = size;
		atomic_fetch_add(&bp->big_gets, 1);
	}
	return h + 1;
}

WARD_API size_t ward_bufpool_cap(const void *buf)
{
	return buf ? ((const struct bufhdr *)buf - 1)->cap : 0;
}

WARD_API void ward_bufpool_put(ward_bufpool_t *bp, void *buf)
{
	if (!bp || !buf)
		return;
	struct bufhdr *h = (struct bufhdr *)buf - 1;
	int k = class_of(h->cap);
	if (k < CLASSES && bp->classes[k] &&
	    h->cap == (size_t)1 << (k + MIN_SHIFT)) {
		ward__pool_put(bp->classes[k], h, NULL, 0);
		return;
	}
	/* Bigger than what the pool keeps: freed, and counted. */
	atomic_fetch_add(&bp->dropped, 1);
	free(h);
}

WARD_API int ward_bufpool_stats(ward_bufpool_t *bp, struct ward_pool_stats *out)
{
	if (!bp || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	for (int k = 0; k < CLASSES; k++) {
		if (!bp->classes[k])
			continue;
		struct ward_pool_stats s;
		pool_stats(bp->classes[k], &s);
		out->gets += s.gets;
		out->puts += s.puts;
		out->hits += s.hits;
		out->victim_hits += s.victim_hits;
		out->misses += s.misses;
		out->cached += s.cached;
		out->bytes_retained += s.bytes_retained;
		out->victims_freed += s.victims_freed;
		out->misuses += s.misuses;
	}
	uint64_t big = atomic_load(&bp->big_gets), dropped = atomic_load(&bp->dropped);
	out->gets += big;
	out->puts += dropped;
	out->misses += big;
	out->dropped = dropped;
	out->in_use = out->gets > out->puts ? out->gets - out->puts : 0;
	return 0;
}

WARD_API void ward_bufpool_trim(ward_bufpool_t *bp)
{
	if (!bp)
		return;
	for (int k = 0; k < CLASSES; k++)
		ward_pool_trim(bp->classes[k]);
}
