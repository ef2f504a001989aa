/*
 * preload.c — libward_preload.so: interposers only. Each one makes the
 * libc call and reports what it acquired or released to src/intercept.c,
 * which decides what to record.
 *
 * The malloc family is interposed together (malloc, calloc, realloc,
 * reallocarray, free, aligned_alloc, posix_memalign, memalign, valloc,
 * pvalloc) and forwards to the next allocator in the process (below);
 * malloc_usable_size is not interposed, so the program's calls reach that
 * same allocator. Everything else finds the next definition with
 * dlsym(RTLD_NEXT) on first use.
 *
 * A program that defines malloc itself keeps its own: the executable's
 * symbols come before LD_PRELOAD's, and ward then sees no heap events.
 *
 * Every interposer that reaches ward's bookkeeping or the allocator runs
 * between WARD__ENTER() and WARD__LEAVE(), so a fatal signal that arrives
 * meanwhile writes its profile once the call is done (intercept.c).
 */
#include <dirent.h>
#include <linux/seccomp.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <linux/nsfs.h>
#include <malloc.h>
#include <mntent.h>
#include <mqueue.h>
#include <pty.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/fanotify.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/pidfd.h>
#include <sys/timerfd.h>
#include <threads.h>
#include <unistd.h>
#include <wchar.h>

#include "trace/intercept.h"
#include "lifetime/threads.h"
#include "capture/capture.h"
#include "core/map.h"
#include "registry/registry.h"
#include "snapshot/symbolize.h"
#include "ward/track.h"

#define EXPORT __attribute__((visibility("default")))

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);

/* Stand-ins for the two glibc functions that have no __libc_ name, used
 * only if dlsym() cannot find the real ones. */
static int posix_memalign_glibc(void **out, size_t align, size_t n)
{
	if (align < sizeof(void *) || (align & (align - 1)))
		return EINVAL;
	void *p = __libc_memalign(align, n);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

/* The static thread-local storage this library takes in every thread. */
static size_t own_tls;
/* This library's code: a call from there is ward's own. */
static uintptr_t own_code_lo, own_code_hi;

/* The executable segment holding this file's interposers, and the size of
 * the library's thread-local storage. */
static int find_self(struct dl_phdr_info *info, size_t size, void *arg)
{
	uintptr_t me = (uintptr_t)arg;
	bool mine = false;
	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && me >= lo &&
		    me < lo + ph->p_memsz) {
			ward__stack_hide(lo, lo + ph->p_memsz);
			own_code_lo = lo;
			own_code_hi = lo + ph->p_memsz;
			mine = true;
		}
	}
	for (int i = 0; mine && i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_TLS)
			own_tls = info->dlpi_phdr[i].p_memsz;
	return mine;
}

/* The next definition of a symbol, looked up once. */
#define NEXT(type, name)                                                      \
	static __typeof__(type) real_##name;                                   \
	if (!real_##name)                                                      \
		real_##name = (type)dlsym(RTLD_NEXT, #name)

/* ---- The malloc family ------------------------------------------------- */

/*
 * Whatever allocator the process would use without ward — glibc's, or
 * jemalloc or mimalloc preloaded after ward or linked into the program —
 * is the one that serves every call: the interposers forward to the next
 * definition of each function (dlsym(RTLD_NEXT)), all of them together,
 * so a block always goes back to the allocator that made it.
 *
 * The pointers start at resolve_*(), which looks every function up on the
 * first call (the dynamic loader may allocate through these interposers
 * before any constructor has run). dlsym() may itself allocate: what it
 * asks for while this thread resolves comes from a small static arena,
 * whose blocks are never given to the next allocator's free().
 */
struct next_heap {
	void *(*malloc)(size_t);
	void *(*calloc)(size_t, size_t);
	void *(*realloc)(void *, size_t);
	void (*free)(void *);
	void *(*memalign)(size_t, size_t);
	void *(*aligned_alloc)(size_t, size_t);
	int (*posix_memalign)(void **, size_t, size_t);
	void *(*valloc)(size_t);
	void *(*pvalloc)(size_t);
};

static void *resolve_malloc(size_t n);
static void *resolve_calloc(size_t n, size_t size);
static void *resolve_realloc(void *old, size_t n);
static void resolve_free(void *p);
static void *resolve_memalign(size_t align, size_t n);
static void *resolve_aligned_alloc(size_t align, size_t n);
static int resolve_posix_memalign(void **out, size_t align, size_t n);
static void *resolve_valloc(size_t n);
static void *resolve_pvalloc(size_t n);

static struct next_heap next = {
	resolve_malloc,	       resolve_calloc,	  resolve_realloc,
	resolve_free,	       resolve_memalign,  resolve_aligned_alloc,
	resolve_posix_memalign, resolve_valloc,	   resolve_pvalloc,
};

/* The arena for what dlsym() allocates while the functions are looked up:
 * 16-byte aligned bump allocation, never freed. Its pages count as holding
 * sampled blocks (start()), so free() and realloc() meet its blocks on
 * their slow paths only; the two leaves hold those counts when no other
 * does (the arena may meet two 128 MiB regions). */
static _Alignas(16) unsigned char boot_arena[64 * 1024];
static _Atomic uint8_t boot_leaves[2][1 << WARD__LEAF_BITS];
static size_t boot_used;
static __thread int resolving __attribute__((tls_model("initial-exec")));

static bool in_boot_arena(const void *p)
{
	/* One compare: below the arena, the difference wraps round. */
	return (uintptr_t)p - (uintptr_t)boot_arena < sizeof(boot_arena);
}

static void *boot_alloc(size_t n)
{
	size_t at = __atomic_fetch_add(&boot_used, (n + 15) & ~(size_t)15,
				       __ATOMIC_RELAXED);
	if (at + n > sizeof(boot_arena) || at + n < at)
		return NULL;
	return boot_arena + at;
}

static void *lookup(const char *name, void *fallback)
{
	void *f = dlsym(RTLD_NEXT, name);
	return f ? f : fallback;
}

/* Looks every function up, once per process (threads racing here store
 * the same values). Returns false while this thread is already inside
 * the lookup: the caller then serves the call from the arena. */
static bool resolve_heap(void)
{
	if (resolving)
		return false;
	resolving = 1;
	struct next_heap n;
	n.malloc = lookup("malloc", (void *)__libc_malloc);
	n.calloc = lookup("calloc", (void *)__libc_calloc);
	n.realloc = lookup("realloc", (void *)__libc_realloc);
	n.free = lookup("free", (void *)__libc_free);
	n.memalign = lookup("memalign", (void *)__libc_memalign);
	n.aligned_alloc = lookup("aligned_alloc", (void *)__libc_memalign);
	n.posix_memalign = lookup("posix_memalign", (void *)posix_memalign_glibc);
	n.valloc = lookup("valloc", (void *)__libc_valloc);
	n.pvalloc = lookup("pvalloc", (void *)__libc_pvalloc);
	/* Pointer by pointer: another thread may be calling through them. */
	void **to = (void **)&next, **from = (void **)&n;
	for (size_t k = 0; k < sizeof(n) / sizeof(void *); k++)
		__atomic_store_n(&to[k], from[k], __ATOMIC_RELEASE);
	resolving = 0;
	return true;
}

static void *resolve_malloc(size_t n)
{
	return resolve_heap() ? next.malloc(n) : boot_alloc(n);
}

static void *resolve_calloc(size_t n, size_t size)
{
	size_t total;
	if (__builtin_mul_overflow(n, size, &total))
		return NULL;
	return resolve_heap() ? next.calloc(n, size) : boot_alloc(total);
}

static void *resolve_realloc(void *old, size_t n)
{
	return resolve_heap() ? next.realloc(old, n) : NULL;
}

static void resolve_free(void *p)
{
	if (resolve_heap())
		next.free(p);
}

static void *resolve_memalign(size_t align, size_t n)
{
	return resolve_heap() ? next.memalign(align, n) : NULL;
}

static void *resolve_aligned_alloc(size_t align, size_t n)
{
	return resolve_heap() ? next.aligned_alloc(align, n) : NULL;
}

static int resolve_posix_memalign(void **out, size_t align, size_t n)
{
	return resolve_heap() ? next.posix_memalign(out, align, n) : ENOMEM;
}

static void *resolve_valloc(size_t n)
{
	return resolve_heap() ? next.valloc(n) : NULL;
}

static void *resolve_pvalloc(size_t n)
{
	return resolve_heap() ? next.pvalloc(n) : NULL;
}

/*
 * ward's own allocations once the exit report has begun come from an
 * arena of their own: reserved address space, bump-allocated, never
 * given back (the process is ending). From the program's allocator, the
 * report's first large request made glibc consolidate every small block
 * the program had freed (5% of a perl run, in the sampled mode that is
 * meant to cost nothing), and the report would leave the program's heap
 * changed for the destructors that run after it. When the reservation
 * fails or fills, requests go to the next allocator as before.
 */
enum { EXIT_ARENA = 1 << 30 };
static char *exit_lo, *exit_hi;
static size_t exit_used;
static bool exit_on;

static void exit_arena_begin(void)
{
	/* glibc's malloc only, whose consolidation is the cost: another
	 * allocator keeps serving ward too, as it always did (under
	 * jemalloc, what its metadata points to at exit — and so which lost
	 * blocks look reachable, docs/cli.md — moves with what ward
	 * allocates there). */
	if (next.malloc != __libc_malloc)
		return;
	/* Nor where the address space or the data is limited (RLIMIT_AS,
	 * RLIMIT_DATA): the arena would count against the program's limit,
	 * and take what the snapshot and the scan need of what is left, and
	 * what the program's exit handlers allocate after the report. */
	struct rlimit as, data;
	if (getrlimit(RLIMIT_AS, &as) != 0 || as.rlim_cur != RLIM_INFINITY ||
	    getrlimit(RLIMIT_DATA, &data) != 0 ||
	    data.rlim_cur != RLIM_INFINITY)
		return;
	/* ward's own mapping: the exit scan does not read it as the
	 * program's memory. */
	char *m = ward__map_reserve(EXIT_ARENA);
	if (!m)
		return;
	exit_lo = m;
	exit_hi = exit_lo + EXIT_ARENA;
	__atomic_store_n(&exit_on, true, __ATOMIC_RELEASE);
}

/* Its end first: NULL until the arena is made, so while the program runs
 * every free() answers with one compare. */
static bool in_exit_arena(const void *p)
{
	return (const char *)p < exit_hi && (const char *)p >= exit_lo;
}

/* Whether this call is ward's own, during the exit report. */
static inline bool exit_own(void)
{
	return __builtin_expect(__atomic_load_n(&exit_on, __ATOMIC_ACQUIRE),
				0) &&
	       ward__in_registry;
}

/* What a block of n bytes takes of the exit arena, with its size; less
 * than n when n is too large. */
static size_t exit_span(size_t n)
{
	return (n + 16 + 15) & ~(size_t)15;
}

/* n bytes from the exit arena, 16-byte aligned and zeroed (pages never
 * used before), their size in the 16 bytes below; NULL when full. */
static void *exit_alloc(size_t n)
{
	size_t total = exit_span(n);
	if (total < n)
		return NULL;
	size_t at = __atomic_fetch_add(&exit_used, total, __ATOMIC_RELAXED);
	if (at > EXIT_ARENA - total || total > EXIT_ARENA)
		return NULL;
	char *p = exit_lo + at + 16;
	*(size_t *)(void *)(p - 16) = n;
	return p;
}

static void tell_own_malloc(void);
static void find_allocator_code(void);

__attribute__((constructor)) static void start(void)
{
	/* Stacks show the program's frames, not the interposers'. */
	dl_iterate_phdr(find_self, (void *)(uintptr_t)find_self);
	if (next.malloc == resolve_malloc)
		resolve_heap();
	ward__exit_heap = exit_arena_begin;
	ward__sample_pages_look((uintptr_t)boot_arena,
				(uintptr_t)boot_arena + sizeof(boot_arena),
				boot_leaves);
	ward__intercept_init();
	tell_own_malloc();
	/* Known here, not first in an mmap() a signal handler makes. */
	find_allocator_code();
}

/*
 * The sampled mode's common call — the program's, its countdown not yet
 * crossed — is the allocator's call between WARD__ENTER() and
 * WARD__LEAVE() and nothing else: the rest of each interposer (the exit
 * arena, the full mode, a sample) is out of line, so that the common call
 * saves no registers for it. The fast paths count the bytes down before
 * the allocator's call; the rest call ward__intercept_alloc(), which tells
 * the cases apart.
 */
static inline bool program_unsampled(size_t n)
{
	return __builtin_expect(ward__rate() && !ward__in_registry &&
					(ward__countdown -= (int64_t)n) > 0,
				1);
}

static __attribute__((noinline)) void *malloc_recorded(size_t n)
{
	void *own;
	if (exit_own() && (own = exit_alloc(n)))
		return own;
	WARD__ENTER();
	void *p = next.malloc(n);
	ward__intercept_alloc(p, n);
	WARD__LEAVE();
	return p;
}

EXPORT void *malloc(size_t n)
{
	if (!program_unsampled(n))
		return malloc_recorded(n);
	WARD__ENTER();
	void *p = next.malloc(n);
	WARD__LEAVE();
	return p;
}

/* A program that defines malloc itself keeps it (see the top), and ward
 * sees none of its blocks: the report says so rather than show an empty
 * heap as if nothing were live. The malloc the process calls is known by
 * the object that defines it: this one, or another. An executable built
 * without PIE that takes malloc's address (python3) has "malloc" name its
 * PLT entry, which calls ours: that symbol is undefined (SHN_UNDEF), no
 * definition. */
static void tell_own_malloc(void)
{
	void *first = dlsym(RTLD_DEFAULT, "malloc");
	Dl_info where, self;
	const ElfW(Sym) *sym = NULL;
	if (!first || !dladdr1(first, &where, (void **)&sym, RTLD_DL_SYMENT) ||
	    !dladdr((void *)tell_own_malloc, &self) ||
	    where.dli_fbase == self.dli_fbase || where.dli_saddr != first ||
	    !sym || sym->st_shndx == SHN_UNDEF)
		return;
	ward__intercept_heap_untraced(where.dli_fname && where.dli_fname[0]
					      ? where.dli_fname
					      : "the program");
}

static __attribute__((noinline)) void *calloc_recorded(size_t n, size_t size)
{
	void *own;
	size_t total;
	if (exit_own() && !__builtin_mul_overflow(n, size, &total) &&
	    (own = exit_alloc(total)))
		return own;
	WARD__ENTER();
	void *p = next.calloc(n, size);
	ward__intercept_alloc(p, n * size);
	WARD__LEAVE();
	return p;
}

EXPORT void *calloc(size_t n, size_t size)
{
	if (!program_unsampled(n * size))
		return calloc_recorded(n, size);
	WARD__ENTER();
	void *p = next.calloc(n, size);
	WARD__LEAVE();
	return p;
}

/* realloc() of a block in one of ward's own arenas. */
static __attribute__((noinline)) void *realloc_own(void *old, size_t n)
{
	if (in_boot_arena(old)) {
		/* A block dlsym() took from the arena: move it out. */
		void *p = malloc(n);
		if (p)
			memcpy(p, old, n);
		return p;
	}
	/* One of the exit report's: the arena's last block grows where it
	 * lies (a buffer doubling as the profile is written: no copy, and no
	 * pages taken twice, each new page costing a fault); another, a new
	 * block, the old left. */
	size_t had = *(const size_t *)(const void *)((const char *)old - 16);
	if (n <= had)
		return old; /* it fits: its room stays taken */
	size_t at = (size_t)((const char *)old - 16 - exit_lo);
	size_t end = at + exit_span(had), total = exit_span(n);
	if (total >= n && total <= EXIT_ARENA - at &&
	    __atomic_compare_exchange_n(&exit_used, &end, at + total, false,
					__ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
		*(size_t *)(void *)((char *)old - 16) = n;
		return old;
	}
	void *p = malloc(n);
	if (p)
		memcpy(p, old, had < n ? had : n);
	return p;
}

/* counted: program_unsampled(n) was asked already (and counted n down
 * where n counts): ward__intercept_alloc() alone decides. */
static __attribute__((noinline)) void *realloc_recorded(void *old, size_t n,
							bool counted)
{
	void *own;
	if (!old && exit_own() && (own = exit_alloc(n)))
		return own;
	WARD__ENTER();
	void *p;
	if (!old) {
		p = next.realloc(NULL, n);
		if (counted || !ward__alloc_unsampled(n))
			ward__intercept_alloc(p, n);
		WARD__LEAVE();
		return p;
	}
	/* The old record out first: once the old block is freed its address
	 * may be handed to another thread. On failure the old block is still
	 * the program's, and its record goes back as it was. */
	uint64_t old_size = 0;
	uint32_t old_site = 0;
	if (!ward__free_unsampled(old))
		old_site = ward__intercept_realloc_take(old, &old_size);
	p = next.realloc(old, n);
	ward__intercept_realloc_settle(old, old_site, old_size, !p && n);
	if (p && (counted || !ward__alloc_unsampled(n)))
		ward__intercept_alloc(p, n);
	WARD__LEAVE();
	return p;
}

EXPORT void *realloc(void *old, size_t n)
{
	if (__builtin_expect(in_exit_arena(old), 0))
		return realloc_own(old, n);
	/* The old block's page first: counted down, n is counted once. A
	 * block of the boot arena is on a page that looks. */
	if (!ward__free_unsampled(old))
		return in_boot_arena(old) ? realloc_own(old, n)
					  : realloc_recorded(old, n, false);
	if (!program_unsampled(n))
		return realloc_recorded(old, n, true);
	WARD__ENTER();
	void *p = next.realloc(old, n);
	WARD__LEAVE();
	return p;
}

EXPORT void *reallocarray(void *old, size_t n, size_t size)
{
	size_t total;
	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	void *p = realloc(old, total);
	__asm__ volatile("" ::: "memory");
	return p;
}

static __attribute__((noinline)) void free_recorded(void *p)
{
	if (in_boot_arena(p))
		return;
	WARD__ENTER();
	ward__intercept_free(p);
	next.free(p);
	WARD__LEAVE();
}

EXPORT void free(void *p)
{
	/* A block of the boot arena is on a page that looks. */
	if (__builtin_expect(in_exit_arena(p), 0))
		return;
	if (!__builtin_expect(ward__free_unsampled(p), 1))
		return free_recorded(p);
	WARD__ENTER();
	next.free(p);
	WARD__LEAVE();
}

/* One aligned allocation through the next allocator's function `call`. */
#define ALIGNED_CALL(name, call)                                              \
	EXPORT void *name(size_t align, size_t n)                              \
	{                                                                      \
		WARD__ENTER();                                                 \
		void *p = call;                                                \
		if (!ward__alloc_unsampled(n))                                 \
			ward__intercept_alloc(p, n);                           \
		WARD__LEAVE();                                                 \
		return p;                                                      \
	}

ALIGNED_CALL(memalign, next.memalign(align, n))
ALIGNED_CALL(aligned_alloc, next.aligned_alloc(align, n))

EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
	WARD__ENTER();
	int rc = next.posix_memalign(out, align, n);
	if (rc == 0 && !ward__alloc_unsampled(n))
		ward__intercept_alloc(*out, n);
	WARD__LEAVE();
	return rc;
}

EXPORT void *valloc(size_t n)
{
	WARD__ENTER();
	void *p = next.valloc(n);
	if (!ward__alloc_unsampled(n))
		ward__intercept_alloc(p, n);
	WARD__LEAVE();
	return p;
}

/* pvalloc() rounds the size up to whole pages (one page for 0), and the
 * program may use all of them: the block is recorded at that size, as
 * LeakSanitizer counts it. */
EXPORT void *pvalloc(size_t n)
{
	WARD__ENTER();
	void *p = next.pvalloc(n);
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t size = n ? (n + page - 1) / page * page : page;
	if (size < n) /* past SIZE_MAX: p is NULL */
		size = n;
	if (!ward__alloc_unsampled(size))
		ward__intercept_alloc(p, size);
	WARD__LEAVE();
	return p;
}

/* ---- The allocator's own mappings --------------------------------------- */

/*
 * An allocator ward forwards to other than the C library's (jemalloc,
 * mimalloc, preloaded after ward) maps the memory for its blocks and its
 * bookkeeping through mmap(). Such a mapping is told apart by where the
 * call comes from: inside the allocator's call (ward's interposer is busy
 * around it), or from the allocator's own code (its setup, which may run
 * from its constructor, before any call). The scan reads such memory
 * outside the allocator's blocks as no root: jemalloc's record of a slab
 * points at the slab's first block, which would read as held (scan.h).
 * glibc's malloc maps through its own internal calls, which pass no
 * interposer; ward's own mappings are its own.
 */
static uintptr_t alloc_code_lo, alloc_code_hi;
static _Atomic int alloc_code_known; /* 0: not yet; 1: looking; 2: known */

struct code_at {
	uintptr_t at, lo, hi;
};

static int code_segment(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct code_at *c = arg;
	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) &&
		    c->at >= lo && c->at < lo + ph->p_memsz) {
			c->lo = lo;
			c->hi = lo + ph->p_memsz;
			return 1;
		}
	}
	return 0;
}

/* The code of the malloc ward forwards to, unless it is the C
 * library's, once. */
static void find_allocator_code(void)
{
	int was = 0;
	if (!atomic_compare_exchange_strong(&alloc_code_known, &was, 1))
		return; /* known, or this or another thread looking */
	struct code_at c = { (uintptr_t)dlsym(RTLD_NEXT, "malloc"), 0, 0 };
	Dl_info where;
	if (c.at && dladdr((void *)c.at, &where) && where.dli_fname &&
	    !strstr(where.dli_fname, "/libc.so") &&
	    dl_iterate_phdr(code_segment, &c)) {
		alloc_code_lo = c.lo;
		alloc_code_hi = c.hi;
	}
	atomic_store(&alloc_code_known, 2);
}

/* Whether a mapping made from `from` is the allocator's (see above). */
static bool by_allocator(uintptr_t from)
{
	if (atomic_load_explicit(&alloc_code_known, memory_order_acquire) != 2)
		find_allocator_code();
	return ward__trace.busy > 0 ||
	       (from >= alloc_code_lo && from < alloc_code_hi);
}

static bool from_ward(uintptr_t from)
{
	return from >= own_code_lo && from < own_code_hi;
}

/* Whether a call from `from` is the program's own: neither ward's nor
 * the allocator's. */
static bool by_program(uintptr_t from)
{
	return !from_ward(from) && !by_allocator(from);
}

/* p, which a call from `from` mapped with flags, told of. */
static void *tell_mapped(void *p, size_t len, int flags, uintptr_t from)
{
	if (p != MAP_FAILED && !from_ward(from))
		ward__intercept_mapped(p, len,
				       (flags & MAP_ANONYMOUS) && by_allocator(from));
	return p;
}

EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd,
		  off_t off)
{
	NEXT(void *(*)(void *, size_t, int, int, int, off_t), mmap);
	return tell_mapped(real_mmap(addr, len, prot, flags, fd, off), len,
			   flags, (uintptr_t)__builtin_return_address(0));
}

EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd,
		    off_t off)
{
	NEXT(void *(*)(void *, size_t, int, int, int, off_t), mmap64);
	return tell_mapped(real_mmap64(addr, len, prot, flags, fd, off), len,
			   flags, (uintptr_t)__builtin_return_address(0));
}

EXPORT int munmap(void *addr, size_t len)
{
	NEXT(int (*)(void *, size_t), munmap);
	uintptr_t from = (uintptr_t)__builtin_return_address(0);
	int rc = real_munmap(addr, len);
	if (rc == 0 && !from_ward(from))
		ward__intercept_unmapped(addr, len);
	return rc;
}

EXPORT void *mremap(void *old, size_t old_len, size_t len, int flags, ...)
{
	NEXT(void *(*)(void *, size_t, size_t, int, ...), mremap);
	uintptr_t from = (uintptr_t)__builtin_return_address(0);
	void *to = NULL;
	if (flags & MREMAP_FIXED) {
		va_list ap;
		va_start(ap, flags);
		to = va_arg(ap, void *);
		va_end(ap);
	}
	void *p = real_mremap(old, old_len, len, flags, to);
	if (p != MAP_FAILED && !from_ward(from)) {
		bool mine = by_allocator(from);
		if (p != old || !(flags & MREMAP_DONTUNMAP))
			ward__intercept_unmapped(old, old_len);
		ward__intercept_mapped(p, len, mine);
	}
	return p;
}

/*
 * The program break the program moves itself (a bump allocator of its
 * own over sbrk()): the scan reads what it took as the program's memory.
 * The C library's malloc moves it through its own calls, which never come
 * here; another allocator's calls (jemalloc's dss) are left out as its
 * mappings are.
 */
EXPORT void *sbrk(intptr_t incr)
{
	NEXT(void *(*)(intptr_t), sbrk);
	uintptr_t from = (uintptr_t)__builtin_return_address(0);
	void *p = real_sbrk(incr);
	if (p != (void *)-1 && incr > 0 && by_program(from))
		ward__intercept_break_grew(p, (size_t)incr);
	return p;
}

EXPORT int brk(void *addr)
{
	NEXT(int (*)(void *), brk);
	uintptr_t from = (uintptr_t)__builtin_return_address(0);
	uintptr_t was = (uintptr_t)syscall(SYS_brk, 0);
	int rc = real_brk(addr);
	if (rc == 0 && (uintptr_t)addr > was && by_program(from))
		ward__intercept_break_grew((void *)was, (uintptr_t)addr - was);
	return rc;
}

/* ---- Descriptors ------------------------------------------------------- */

/*
 * Descriptors 0, 1 and 2 are the standard streams whoever opens them: a
 * daemon that points them at /dev/null (close, open, dup2) has not leaked
 * three descriptors, and valgrind's --track-fds does not count them
 * either. A close of one still leaves the books, as any close does.
 */
enum { STD_FDS = 3 };

static inline __attribute__((always_inline)) int fd_result(int fd)
{
	if (fd >= STD_FDS)
		ward__intercept_acquire(WARD_KIND_FD, (uintptr_t)fd);
	return fd;
}

static mode_t mode_arg(int flags, va_list ap)
{
	return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

/* The open family: a mode argument follows only with O_CREAT or
 * O_TMPFILE. */
#define OPEN_CALL(name, params, args)                                         \
	EXPORT int name params                                                 \
	{                                                                      \
		NEXT(int(*) params, name);                                     \
		va_list ap;                                                    \
		va_start(ap, flags);                                           \
		mode_t mode = mode_arg(flags, ap);                             \
		va_end(ap);                                                    \
		int ret_ = fd_result(real_##name args);                        \
		__asm__ volatile("" ::: "memory");                             \
		return ret_;                                                   \
	}

OPEN_CALL(open, (const char *path, int flags, ...), (path, flags, mode))
OPEN_CALL(open64, (const char *path, int flags, ...), (path, flags, mode))
OPEN_CALL(openat, (int dir, const char *path, int flags, ...),
	  (dir, path, flags, mode))
OPEN_CALL(openat64, (int dir, const char *path, int flags, ...),
	  (dir, path, flags, mode))

/* fd-returning calls with fixed arguments: one macro each. */
#define FD_CALL(name, params, args)                                           \
	EXPORT int name params                                                 \
	{                                                                      \
		NEXT(int(*) params, name);                                     \
		int ret_ = fd_result(real_##name args);                        \
		__asm__ volatile("" ::: "memory");                             \
		return ret_;                                                   \
	}

FD_CALL(creat, (const char *path, mode_t mode), (path, mode))
FD_CALL(creat64, (const char *path, mode_t mode), (path, mode))
FD_CALL(socket, (int d, int t, int p), (d, t, p))
FD_CALL(accept, (int s, struct sockaddr *a, socklen_t *l), (s, a, l))
FD_CALL(accept4, (int s, struct sockaddr *a, socklen_t *l, int f), (s, a, l, f))
FD_CALL(dup, (int old), (old))
FD_CALL(eventfd, (unsigned int v, int f), (v, f))
FD_CALL(timerfd_create, (int c, int f), (c, f))
FD_CALL(signalfd, (int sfd, const sigset_t *m, int f), (sfd, m, f))
FD_CALL(epoll_create, (int n), (n))
FD_CALL(epoll_create1, (int f), (f))
FD_CALL(inotify_init, (void), ())
FD_CALL(inotify_init1, (int f), (f))
FD_CALL(memfd_create, (const char *n, unsigned int f), (n, f))
FD_CALL(mkstemp, (char *t), (t))
FD_CALL(mkstemp64, (char *t), (t))
FD_CALL(mkostemp, (char *t, int f), (t, f))
FD_CALL(mkostemp64, (char *t, int f), (t, f))
FD_CALL(mkstemps, (char *t, int n), (t, n))
FD_CALL(mkostemps, (char *t, int n, int f), (t, n, f))
FD_CALL(posix_openpt, (int f), (f))
FD_CALL(pidfd_open, (pid_t p, unsigned int f), (p, f))
FD_CALL(shm_open, (const char *n, int f, mode_t m), (n, f, m))
/* Those the C library opens for its own calls, out of the interposers'
 * sight (openpty() opens the pair itself), and those of newer system
 * calls it wraps. */
FD_CALL(getpt, (void), ())
FD_CALL(fanotify_init, (unsigned int f, unsigned int ef), (f, ef))
FD_CALL(pidfd_getfd, (int pidfd, int target, unsigned int f),
	(pidfd, target, f))
FD_CALL(open_by_handle_at, (int dir, struct file_handle *h, int f),
	(dir, h, f))
FD_CALL(fsopen, (const char *fs, unsigned int f), (fs, f))
FD_CALL(fsmount, (int fs, unsigned int f, unsigned int a), (fs, f, a))
FD_CALL(open_tree, (int dir, const char *path, unsigned int f),
	(dir, path, f))
FD_CALL(fspick, (int dir, const char *path, unsigned int f), (dir, path, f))

/* A message queue is a descriptor on Linux: mq_close() is its close(). */
EXPORT mqd_t mq_open(const char *name, int flags, ...)
{
	NEXT(mqd_t (*)(const char *, int, ...), mq_open);
	va_list ap;
	va_start(ap, flags);
	mode_t mode = mode_arg(flags, ap);
	struct mq_attr *attr = flags & O_CREAT ? va_arg(ap, struct mq_attr *)
					       : NULL;
	va_end(ap);
	mqd_t q = real_mq_open(name, flags, mode, attr);
	if (q != (mqd_t)-1)
		fd_result(q);
	__asm__ volatile("" ::: "memory");
	return q;
}

EXPORT int mq_close(mqd_t q)
{
	NEXT(int (*)(mqd_t), mq_close);
	ward__intercept_release(WARD_KIND_FD, (uintptr_t)q);
	return real_mq_close(q);
}

/* A terminal's two ends; forkpty()'s parent keeps the first (the child
 * has the other as its standard descriptors, its books its own). */
EXPORT int openpty(int *master, int *slave, char *name,
		   const struct termios *t, const struct winsize *w)
{
	NEXT(int (*)(int *, int *, char *, const struct termios *,
		     const struct winsize *),
	     openpty);
	int rc = real_openpty(master, slave, name, t, w);
	if (rc == 0) {
		fd_result(*master);
		fd_result(*slave);
	}
	__asm__ volatile("" ::: "memory");
	return rc;
}

EXPORT pid_t forkpty(int *master, char *name, const struct termios *t,
		     const struct winsize *w)
{
	NEXT(pid_t (*)(int *, char *, const struct termios *,
		       const struct winsize *),
	     forkpty);
	pid_t pid = real_forkpty(master, name, t, w);
	if (pid > 0)
		fd_result(*master);
	__asm__ volatile("" ::: "memory");
	return pid;
}
/* What a program built with _FORTIFY_SOURCE calls for open() whose flags
 * are not known when it is compiled (git and python3 as Debian builds
 * them); glibc declares them only to such programs. */
int __open_2(const char *path, int f);
int __open64_2(const char *path, int f);
int __openat_2(int dir, const char *path, int f);
int __openat64_2(int dir, const char *path, int f);
FD_CALL(__open_2, (const char *path, int f), (path, f))
FD_CALL(__open64_2, (const char *path, int f), (path, f))
FD_CALL(__openat_2, (int dir, const char *path, int f), (dir, path, f))
FD_CALL(__openat64_2, (int dir, const char *path, int f), (dir, path, f))

/* Descriptors passed over a socket (SCM_RIGHTS) are the receiver's. */
static inline __attribute__((always_inline)) void
received_fds(const struct msghdr *m)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR((struct msghdr *)m); c;
	     c = CMSG_NXTHDR((struct msghdr *)m, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		const unsigned char *data = CMSG_DATA(c);
		for (size_t k = 0; k < n; k++) {
			int fd;
			memcpy(&fd, data + k * sizeof(int), sizeof(fd));
			fd_result(fd);
		}
	}
}

EXPORT ssize_t recvmsg(int s, struct msghdr *m, int flags)
{
	NEXT(ssize_t(*)(int, struct msghdr *, int), recvmsg);
	ssize_t r = real_recvmsg(s, m, flags);
	if (r >= 0 && m->msg_controllen > 0)
		received_fds(m);
	__asm__ volatile("" ::: "memory");
	return r;
}

EXPORT int recvmmsg(int s, struct mmsghdr *v, unsigned int n, int flags,
		    struct timespec *timeout)
{
	NEXT(int (*)(int, struct mmsghdr *, unsigned int, int,
		     struct timespec *),
	     recvmmsg);
	int r = real_recvmmsg(s, v, n, flags, timeout);
	for (int k = 0; k < r; k++)
		if (v[k].msg_hdr.msg_controllen > 0)
			received_fds(&v[k].msg_hdr);
	__asm__ volatile("" ::: "memory");
	return r;
}

/* A descriptor made a copy of another in place: what it was is closed. */
static inline __attribute__((always_inline)) void dup_result(int fd, int r)
{
	ward__intercept_release(WARD_KIND_FD, (uintptr_t)fd);
	fd_result(r);
}

EXPORT int dup2(int old, int fd)
{
	NEXT(int (*)(int, int), dup2);
	int r = real_dup2(old, fd);
	if (r >= 0 && old != fd)
		dup_result(fd, r);
	__asm__ volatile("" ::: "memory");
	return r;
}

EXPORT int dup3(int old, int fd, int flags)
{
	NEXT(int (*)(int, int, int), dup3);
	int r = real_dup3(old, fd, flags);
	if (r >= 0)
		dup_result(fd, r);
	__asm__ volatile("" ::: "memory");
	return r;
}

static inline __attribute__((always_inline)) int
pair_result(int rc, int fds[2])
{
	if (rc == 0) {
		fd_result(fds[0]);
		fd_result(fds[1]);
	}
	return rc;
}

EXPORT int pipe(int fds[2])
{
	NEXT(int (*)(int *), pipe);
	int rc = pair_result(real_pipe(fds), fds);
	__asm__ volatile("" ::: "memory");
	return rc;
}

EXPORT int pipe2(int fds[2], int flags)
{
	NEXT(int (*)(int *, int), pipe2);
	int rc = pair_result(real_pipe2(fds, flags), fds);
	__asm__ volatile("" ::: "memory");
	return rc;
}

EXPORT int socketpair(int d, int t, int p, int fds[2])
{
	NEXT(int (*)(int, int, int, int *), socketpair);
	int rc = pair_result(real_socketpair(d, t, p, fds), fds);
	__asm__ volatile("" ::: "memory");
	return rc;
}

EXPORT int fcntl(int fd, int cmd, ...)
{
	NEXT(int (*)(int, int, ...), fcntl);
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	int r = real_fcntl(fd, cmd, arg);
	if ((cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) && r >= 0)
		fd_result(r);
	__asm__ volatile("" ::: "memory");
	return r;
}

EXPORT int close(int fd)
{
	NEXT(int (*)(int), close);
	ward__intercept_release(WARD_KIND_FD, (uintptr_t)fd);
	return real_close(fd);
}

static void close_range_result(unsigned int first, unsigned int last,
			       int flags)
{
	if (flags & 4 /* CLOSE_RANGE_CLOEXEC */)
		return;
	unsigned int top = last > 65535 ? 65535 : last;
	for (unsigned int fd = first; fd <= top; fd++)
		ward__intercept_release(WARD_KIND_FD, fd);
}

EXPORT int close_range(unsigned int first, unsigned int last, int flags)
{
	NEXT(int (*)(unsigned int, unsigned int, int), close_range);
	int rc = real_close_range(first, last, flags);
	if (rc == 0)
		close_range_result(first, last, flags);
	return rc;
}

/* ---- FILE and DIR ------------------------------------------------------ */

/* The descriptor behind a stream (none for a memory stream) is the
 * stream's, whether or not streams are recorded (fds.c). */
static inline void stream_fd(FILE *f, bool open)
{
	if (f)
		ward__intercept_stream_fd(fileno(f), open);
}

static inline void dir_fd(DIR *d, bool open)
{
	if (d)
		ward__intercept_stream_fd(dirfd(d), open);
}

static inline __attribute__((always_inline)) FILE *file_result(FILE *f)
{
	if (f) {
		stream_fd(f, true);
		ward__intercept_acquire(WARD_KIND_FILE, (uintptr_t)f);
	}
	return f;
}

EXPORT FILE *fopen(const char *path, const char *mode)
{
	NEXT(FILE * (*)(const char *, const char *), fopen);
	FILE *f = file_result(real_fopen(path, mode));
	__asm__ volatile("" ::: "memory");
	return f;
}

EXPORT FILE *fopen64(const char *path, const char *mode)
{
	NEXT(FILE * (*)(const char *, const char *), fopen64);
	FILE *f = file_result(real_fopen64(path, mode));
	__asm__ volatile("" ::: "memory");
	return f;
}

/* Streams with no path, or a process behind them. */
#define STREAM_CALL(name, params, args)                                       \
	EXPORT FILE *name params                                               \
	{                                                                      \
		NEXT(FILE * (*) params, name);                                 \
		FILE *f = file_result(real_##name args);                       \
		__asm__ volatile("" ::: "memory");                             \
		return f;                                                      \
	}

STREAM_CALL(tmpfile, (void), ())
STREAM_CALL(tmpfile64, (void), ())
STREAM_CALL(popen, (const char *cmd, const char *mode), (cmd, mode))
STREAM_CALL(open_memstream, (char **buf, size_t *len), (buf, len))
STREAM_CALL(open_wmemstream, (wchar_t **buf, size_t *len), (buf, len))
STREAM_CALL(fmemopen, (void *buf, size_t len, const char *mode),
	    (buf, len, mode))
STREAM_CALL(fopencookie,
	    (void *cookie, const char *mode, cookie_io_functions_t io),
	    (cookie, mode, io))

EXPORT int pclose(FILE *f)
{
	NEXT(int (*)(FILE *), pclose);
	stream_fd(f, false);
	ward__intercept_release(WARD_KIND_FILE, (uintptr_t)f);
	return real_pclose(f);
}

EXPORT FILE *fdopen(int fd, const char *mode)
{
	NEXT(FILE * (*)(int, const char *), fdopen);
	FILE *f = real_fdopen(fd, mode);
	if (f) /* the FILE now owns the descriptor */
		ward__intercept_release(WARD_KIND_FD, (uintptr_t)fd);
	file_result(f);
	__asm__ volatile("" ::: "memory");
	return f;
}

/* freopen and freopen64: a standard stream reopened (a log file as
 * stderr) is still one, as its descriptor is (above). */
#define REOPEN_CALL(name)                                                     \
	EXPORT FILE *name(const char *path, const char *mode, FILE *old)       \
	{                                                                      \
		NEXT(FILE * (*)(const char *, const char *, FILE *), name);    \
		bool standard = old == stdin || old == stdout || old == stderr; \
		stream_fd(old, false);                                         \
		ward__intercept_release(WARD_KIND_FILE, (uintptr_t)old);       \
		FILE *f = real_##name(path, mode, old);                        \
		if (!standard)                                                 \
			file_result(f);                                        \
		else                                                           \
			stream_fd(f, true);                                    \
		__asm__ volatile("" ::: "memory");                             \
		return f;                                                      \
	}

REOPEN_CALL(freopen)
REOPEN_CALL(freopen64)

EXPORT int fclose(FILE *f)
{
	NEXT(int (*)(FILE *), fclose);
	stream_fd(f, false);
	ward__intercept_release(WARD_KIND_FILE, (uintptr_t)f);
	return real_fclose(f);
}

/* The mount table's stream: opened and closed by the C library's own
 * fopen() and fclose(), which no interposer sees. */
STREAM_CALL(setmntent, (const char *file, const char *mode), (file, mode))

EXPORT int endmntent(FILE *f)
{
	NEXT(int (*)(FILE *), endmntent);
	stream_fd(f, false);
	ward__intercept_release(WARD_KIND_FILE, (uintptr_t)f);
	return real_endmntent(f);
}

EXPORT DIR *opendir(const char *path)
{
	NEXT(DIR * (*)(const char *), opendir);
	DIR *d = real_opendir(path);
	if (d) {
		dir_fd(d, true);
		ward__intercept_acquire(WARD_KIND_FILE, (uintptr_t)d);
	}
	__asm__ volatile("" ::: "memory");
	return d;
}

EXPORT DIR *fdopendir(int fd)
{
	NEXT(DIR * (*)(int), fdopendir);
	DIR *d = real_fdopendir(fd);
	if (d) {
		dir_fd(d, true);
		ward__intercept_release(WARD_KIND_FD, (uintptr_t)fd);
		ward__intercept_acquire(WARD_KIND_FILE, (uintptr_t)d);
	}
	__asm__ volatile("" ::: "memory");
	return d;
}

EXPORT int closedir(DIR *d)
{
	NEXT(int (*)(DIR *), closedir);
	dir_fd(d, false);
	ward__intercept_release(WARD_KIND_FILE, (uintptr_t)d);
	return real_closedir(d);
}

/* ---- Threads ----------------------------------------------------------- */

/*
 * glibc carves a thread's static thread-local storage, this library's
 * included (~9 KiB), out of the stack the program asked for, and the
 * interposers' own frames (a stack walk's buffer) go on it too: a thread
 * made with a small stack (PTHREAD_STACK_MIN is 16 KiB) would be left a
 * few KiB, and overflow where it ran fine without ward. A stack of a
 * megabyte or less is asked for that much larger, so the program's code
 * keeps what it asked for. A stack the program supplies
 * (pthread_attr_setstack) is left as it is. Returns the attributes to
 * create with: attr, or *copy enlarged (never destroyed: it shares
 * attr's extensions, a CPU set among them).
 */
static const pthread_attr_t *room_for_ward(const pthread_attr_t *attr,
					   pthread_attr_t *copy)
{
	enum { FRAMES = 8192, SMALL = 1 << 20 };
	void *addr;
	size_t set, size; /* set: 0 when never set; size: what it will be */
	if (!attr || pthread_attr_getstack(attr, &addr, &set) != 0 ||
	    (uintptr_t)addr + set != 0 || /* the program's own stack */
	    pthread_attr_getstacksize(attr, &size) != 0 || size > SMALL)
		return attr;
	*copy = *attr;
	size_t more = (own_tls + 15) / 16 * 16 + FRAMES;
	return pthread_attr_setstacksize(copy, size + more) == 0 ? copy : attr;
}

/* A thread the program created, on the books (threads.c). Inlined: the
 * record's stack starts at the interposer's caller. */
static inline __attribute__((always_inline)) void
thread_started(uintptr_t h, bool detached, void *arg, void *start_arg)
{
	uintptr_t as = ward__thread_record_as(h, detached, arg, start_arg);
	ward__intercept_acquire(WARD_KIND_THREAD, as);
	ward__thread_created(h, as, detached, arg, start_arg);
}

EXPORT int pthread_create(pthread_t *th, const pthread_attr_t *attr,
			  void *(*fn)(void *), void *arg)
{
	NEXT(int (*)(pthread_t *, const pthread_attr_t *, void *(*)(void *),
		     void *),
	     pthread_create);
	pthread_attr_t copy;
	void *start_arg = ward__thread_wrap(&fn, NULL, arg);
	int rc = real_pthread_create(th, room_for_ward(attr, &copy), fn,
				     start_arg);
	if (rc != 0) {
		ward__thread_unwrap(arg, start_arg);
	} else {
		int state = PTHREAD_CREATE_JOINABLE;
		if (attr)
			pthread_attr_getdetachstate(attr, &state);
		thread_started((uintptr_t)*th,
			       state == PTHREAD_CREATE_DETACHED, arg,
			       start_arg);
	}
	__asm__ volatile("" ::: "memory");
	return rc;
}

/*
 * glibc's pthread_getattr_np() takes the thread's lock and allocates under
 * it; a thread's first recorded allocation asks for the thread's stack
 * bounds — through pthread_getattr_np(), under the same lock, which would
 * wait for itself forever (a thread whose first allocation is there: a
 * runtime checking its stack guard at thread start). They are asked for
 * first, here, before the lock is taken.
 */
EXPORT int pthread_getattr_np(pthread_t th, pthread_attr_t *attr)
{
	NEXT(int (*)(pthread_t, pthread_attr_t *), pthread_getattr_np);
	if (!ward__in_registry) /* not ward's own asking */
		ward__stack_top();
	return real_pthread_getattr_np(th, attr);
}

/* A thread leaves the books when it is joined, by whichever call, or
 * when it ends after it was detached (threads.c). The parameter th names
 * the thread; settle is ward__thread_joined or ward__thread_detached. */
#define THREAD_END_CALL(name, settle, params, args)                            \
	EXPORT int name params                                                 \
	{                                                                      \
		NEXT(int(*) params, name);                                     \
		int rc = real_##name args;                                     \
		if (rc == 0)                                                   \
			settle((uintptr_t)th);                                 \
		return rc;                                                     \
	}

THREAD_END_CALL(pthread_join, ward__thread_joined, (pthread_t th, void **ret),
		(th, ret))
THREAD_END_CALL(pthread_tryjoin_np, ward__thread_joined,
		(pthread_t th, void **ret), (th, ret))
THREAD_END_CALL(pthread_timedjoin_np, ward__thread_joined,
		(pthread_t th, void **ret, const struct timespec *t),
		(th, ret, t))
THREAD_END_CALL(pthread_clockjoin_np, ward__thread_joined,
		(pthread_t th, void **ret, clockid_t c, const struct timespec *t),
		(th, ret, c, t))
THREAD_END_CALL(pthread_detach, ward__thread_detached, (pthread_t th), (th))

/* C11's threads: glibc's thrd_create, thrd_join and thrd_detach call its
 * pthread code directly, past the interposers above (thrd_success is 0). */
EXPORT int thrd_create(thrd_t *th, thrd_start_t fn, void *arg)
{
	NEXT(int (*)(thrd_t *, thrd_start_t, void *), thrd_create);
	void *start_arg = ward__thread_wrap(NULL, &fn, arg);
	int rc = real_thrd_create(th, fn, start_arg);
	if (rc != thrd_success)
		ward__thread_unwrap(arg, start_arg);
	else
		thread_started((uintptr_t)*th, false, arg, start_arg);
	__asm__ volatile("" ::: "memory");
	return rc;
}

THREAD_END_CALL(thrd_join, ward__thread_joined, (thrd_t th, int *res),
		(th, res))
THREAD_END_CALL(thrd_detach, ward__thread_detached, (thrd_t th), (th))

/* ---- Sandboxes ---------------------------------------------------------- */

/* A seccomp filter, installed through prctl() or syscall(SYS_seccomp)
 * (libseccomp's way): ward is told first (intercept.c). The arguments are
 * read as the C library's own wrappers read them, six words whatever the
 * call takes. */
EXPORT int prctl(int option, ...)
{
	va_list ap;
	va_start(ap, option);
	unsigned long a = va_arg(ap, unsigned long),
		      b = va_arg(ap, unsigned long),
		      c = va_arg(ap, unsigned long),
		      d = va_arg(ap, unsigned long);
	va_end(ap);
	NEXT(int (*)(int, ...), prctl);
	if (option != PR_SET_SECCOMP)
		return real_prctl(option, a, b, c, d);
	ward__intercept_sandbox("prctl(PR_SET_SECCOMP)");
	int rc = real_prctl(option, a, b, c, d);
	ward__intercept_sandbox_done(rc != 0);
	return rc;
}

/* A new process through syscall(): fork, or clone or clone3 without
 * CLONE_VM, whose child returns here (rc 0) with a copy of the memory,
 * forked without the fork handlers. clone3's flags are read only then,
 * once the kernel has read them. */
static bool makes_process(long nr)
{
	return nr == SYS_fork || nr == SYS_clone || nr == SYS_clone3;
}

/* A system call after which the profile's path may be out of reach (a
 * changed root, a mount namespace of the program's own, a Landlock
 * domain, which only syscall() reaches), or that runs another program in
 * this one's place: ward run is told first, as by the C library's
 * wrappers below; true when it was. */
static bool to_mount_ns(int fd, int nstype);

static bool tell_before(long nr, long a, long b, long c, long d)
{
	if (nr == SYS_execve)
		ward__intercept_exec((const char *)a, (char *const *)c);
	else if (nr == SYS_execveat)
		ward__intercept_exec(*(const char *)b ? (const char *)b
						      : *(char *const *)c,
				     (char *const *)d);
	else if (nr == SYS_chroot)
		ward__intercept_chroot((const char *)a);
	else if (nr == SYS_unshare && (a & CLONE_NEWNS))
		ward__intercept_mount_ns("unshare");
	else if (nr == SYS_setns && to_mount_ns((int)a, (int)b))
		ward__intercept_mount_ns("setns");
#ifdef SYS_landlock_restrict_self
	else if (nr == SYS_landlock_restrict_self)
		ward__intercept_landlock();
#endif
	else
		return false;
	return true;
}

static bool forked_raw(long nr, long a)
{
	uint64_t flags = nr == SYS_clone3 ? *(const uint64_t *)a
			 : nr == SYS_clone ? (uint64_t)a
					   : 0;
	return !(flags & CLONE_VM);
}

/*
 * Descriptors made or closed through syscall(): a program or library that
 * calls the kernel by number (a call its C library does not wrap yet, or
 * one it bypasses) has them recorded as the C library's wrappers have
 * them. The calls ward makes itself through syscall() are its own.
 */
static bool makes_fd(long nr, long c)
{
	switch (nr) {
#ifdef SYS_open
	case SYS_open:
	case SYS_creat:
	case SYS_eventfd:
	case SYS_signalfd:
	case SYS_epoll_create:
	case SYS_inotify_init:
#endif
	case SYS_openat:
	case SYS_socket:
	case SYS_accept:
	case SYS_accept4:
	case SYS_dup:
	case SYS_eventfd2:
	case SYS_timerfd_create:
	case SYS_signalfd4:
	case SYS_epoll_create1:
	case SYS_inotify_init1:
	case SYS_memfd_create:
	case SYS_perf_event_open:
	case SYS_userfaultfd:
	case SYS_fanotify_init:
	case SYS_open_by_handle_at:
	case SYS_mq_open:
	case SYS_io_uring_setup:
	case SYS_pidfd_open:
	case SYS_pidfd_getfd:
	case SYS_openat2:
	case SYS_fsopen:
	case SYS_fsmount:
	case SYS_open_tree:
	case SYS_fspick:
#ifdef SYS_memfd_secret
	case SYS_memfd_secret:
#endif
		return true;
	case SYS_fcntl:
		return c == F_DUPFD || c == F_DUPFD_CLOEXEC;
#ifdef SYS_landlock_create_ruleset
	case SYS_landlock_create_ruleset:
		return c == 0; /* else it answers a version */
#endif
	default:
		return false;
	}
}

static void fd_syscall_before(long nr, long a)
{
	if (nr == SYS_close)
		ward__intercept_release(WARD_KIND_FD, (uintptr_t)a);
}

static void fd_syscall_after(long nr, long rc, long a, long b, long c,
			     long d)
{
	if (rc < 0)
		return;
	if (makes_fd(nr, nr == SYS_fcntl ? b : c)) {
		fd_result((int)rc);
		return;
	}
	switch (nr) {
#ifdef SYS_pipe
	case SYS_pipe:
#endif
	case SYS_pipe2:
		pair_result(0, (int *)a);
		break;
	case SYS_socketpair:
		pair_result(0, (int *)d);
		break;
#ifdef SYS_dup2
	case SYS_dup2:
		if (a != b)
			dup_result((int)b, (int)rc);
		break;
#endif
	case SYS_dup3:
		dup_result((int)b, (int)rc);
		break;
	case SYS_close_range:
		close_range_result(a, b, c);
		break;
	case SYS_recvmsg:
		if (((struct msghdr *)b)->msg_controllen > 0)
			received_fds((struct msghdr *)b);
		break;
	case SYS_recvmmsg:
		for (long k = 0; k < rc; k++)
			if (((struct mmsghdr *)b)[k].msg_hdr.msg_controllen > 0)
				received_fds(&((struct mmsghdr *)b)[k].msg_hdr);
		break;
	default:
		break;
	}
}

EXPORT long syscall(long nr, ...)
{
	va_list ap;
	va_start(ap, nr);
	long a = va_arg(ap, long), b = va_arg(ap, long), c = va_arg(ap, long),
	     d = va_arg(ap, long), e = va_arg(ap, long), f = va_arg(ap, long);
	va_end(ap);
	NEXT(long (*)(long, ...), syscall);
	if (makes_process(nr)) {
		long rc = real_syscall(nr, a, b, c, d, e, f);
		if (rc == 0 && forked_raw(nr, a))
			ward__intercept_forked_raw();
		return rc;
	}
	if (tell_before(nr, a, b, c, d)) {
		long rc = real_syscall(nr, a, b, c, d, e, f);
		if (rc != 0)
			ward__intercept_take_back();
		return rc;
	}
	uintptr_t from = (uintptr_t)__builtin_return_address(0);
	if (from >= own_code_lo && from < own_code_hi)
		return real_syscall(nr, a, b, c, d, e, f);
	/* The process ending by number, as through _exit(). In a seccomp
	 * sandbox ward makes no call (its filter may end the process). */
	if (nr == SYS_exit_group ||
	    (nr == SYS_exit && !ward__intercept_sandboxed() &&
	     ward__intercept_only_thread()))
		ward__intercept_report();
	if (nr != SYS_seccomp || (a != SECCOMP_SET_MODE_STRICT &&
				  a != SECCOMP_SET_MODE_FILTER)) {
		fd_syscall_before(nr, a);
		long rc = real_syscall(nr, a, b, c, d, e, f);
		fd_syscall_after(nr, rc, a, b, c, d);
		__asm__ volatile("" ::: "memory");
		return rc;
	}
	ward__intercept_sandbox("seccomp()");
	long rc = real_syscall(nr, a, b, c, d, e, f);
	ward__intercept_sandbox_done(rc != 0);
	return rc;
}

/* ---- LeakSanitizer's annotations -------------------------------------- */

/*
 * A program annotated for LeakSanitizer (sanitizer/lsan_interface.h) gets
 * the same answers from ward: an ignored object and what it points to
 * are no leak, nor is what a thread allocates between __lsan_disable()
 * and __lsan_enable(); __lsan_do_leak_check() writes the report now,
 * once, and none at exit (LeakSanitizer then ends the program when it
 * found leaks; ward leaves that to `ward run --fail-on-leak`);
 * __lsan_do_recoverable_leak_check() checks now, as often as asked, and
 * says whether anything is lost (intercept.c).
 */
void __lsan_ignore_object(const void *p);
void __lsan_disable(void);
void __lsan_enable(void);
void __lsan_do_leak_check(void);
int __lsan_do_recoverable_leak_check(void);

EXPORT void __lsan_ignore_object(const void *p)
{
	ward__intercept_ignore(p);
}

EXPORT void __lsan_disable(void)
{
	ward__trace.lsan_disabled++;
}

EXPORT void __lsan_enable(void)
{
	if (ward__trace.lsan_disabled > 0)
		ward__trace.lsan_disabled--;
}

EXPORT void __lsan_do_leak_check(void)
{
	ward__intercept_report();
}

EXPORT int __lsan_do_recoverable_leak_check(void)
{
	return ward__intercept_check();
}

/* ---- Root directory ----------------------------------------------------- */

/* ward run is told first, while its note is still in reach (intercept.c);
 * a chroot that fails takes it back. */
EXPORT int chroot(const char *path)
{
	NEXT(int (*)(const char *), chroot);
	ward__intercept_chroot(path);
	int rc = real_chroot(path);
	if (rc != 0)
		ward__intercept_take_back();
	return rc;
}

/* ---- Mount namespace ----------------------------------------------------- */

/* A mount namespace of the program's own (unshare, setns), where what it
 * mounts can cover the profile's path: ward run is told first, as for a
 * chroot; a call that fails takes it back, and a profile written where
 * ward run finds it makes the line moot. */
static bool to_mount_ns(int fd, int nstype)
{
	if (nstype == 0) /* whatever fd is: ask it */
		nstype = ioctl(fd, NS_GET_NSTYPE);
	return nstype == CLONE_NEWNS;
}

EXPORT int unshare(int flags)
{
	NEXT(int (*)(int), unshare);
	bool told = flags & CLONE_NEWNS;
	if (told)
		ward__intercept_mount_ns("unshare");
	int rc = real_unshare(flags);
	if (told && rc != 0)
		ward__intercept_take_back();
	return rc;
}

EXPORT int setns(int fd, int nstype)
{
	NEXT(int (*)(int, int), setns);
	bool told = to_mount_ns(fd, nstype);
	if (told)
		ward__intercept_mount_ns("setns");
	int rc = real_setns(fd, nstype);
	if (told && rc != 0)
		ward__intercept_take_back();
	return rc;
}

/* ---- Descriptor limit ---------------------------------------------------- */

/* A limit of no descriptors at all (RLIMIT_NOFILE's hard limit set to 0,
 * as a sandbox does): nothing can be opened from then on, not even by
 * ward's helper, so ward run is told first (intercept.c); a call that
 * fails takes it back. The C library declares some of these arguments
 * never NULL; the pointer is passed through an empty asm, so the compiler
 * keeps the NULL check (setrlimit(r, NULL) is a query, not a crash). */
static bool to_no_descriptors(int resource, const void *rl, bool wide)
{
	__asm__("" : "+r"(rl));
	if (resource != RLIMIT_NOFILE || !rl)
		return false;
	bool none = wide ? ((const struct rlimit64 *)rl)->rlim_max == 0
			 : ((const struct rlimit *)rl)->rlim_max == 0;
	if (none)
		ward__intercept_no_descriptors();
	return none;
}

static int limit_set(bool told, int rc)
{
	if (told && rc != 0)
		ward__intercept_take_back();
	return rc;
}

EXPORT int setrlimit(__rlimit_resource_t resource, const struct rlimit *rl)
{
	NEXT(int (*)(__rlimit_resource_t, const struct rlimit *), setrlimit);
	bool told = to_no_descriptors((int)resource, rl, false);
	return limit_set(told, real_setrlimit(resource, rl));
}

EXPORT int prlimit(pid_t pid, __rlimit_resource_t resource,
		   const struct rlimit *rl, struct rlimit *old)
{
	NEXT(int (*)(pid_t, __rlimit_resource_t, const struct rlimit *,
		     struct rlimit *),
	     prlimit);
	bool told = (pid == 0 || pid == getpid()) &&
		    to_no_descriptors((int)resource, rl, false);
	return limit_set(told, real_prlimit(pid, resource, rl, old));
}

/* The same under their 64-bit names, which a program built with
 * _FILE_OFFSET_BITS=64 calls. */
EXPORT int setrlimit64(__rlimit_resource_t resource,
		       const struct rlimit64 *rl)
{
	NEXT(int (*)(__rlimit_resource_t, const struct rlimit64 *),
	     setrlimit64);
	bool told = to_no_descriptors((int)resource, rl, true);
	return limit_set(told, real_setrlimit64(resource, rl));
}

EXPORT int prlimit64(pid_t pid, __rlimit_resource_t resource,
		     const struct rlimit64 *rl, struct rlimit64 *old)
{
	NEXT(int (*)(pid_t, __rlimit_resource_t, const struct rlimit64 *,
		     struct rlimit64 *),
	     prlimit64);
	bool told = (pid == 0 || pid == getpid()) &&
		    to_no_descriptors((int)resource, rl, true);
	return limit_set(told, real_prlimit64(pid, resource, rl, old));
}

/* ---- Locked memory ------------------------------------------------------ */

/* mlockall(MCL_FUTURE): ward's mappings from then on are kept out of the
 * lock, and after MCL_CURRENT those it has are unlocked (core.c). Marked
 * for the call, so that what another thread of ward's maps meanwhile is
 * kept out too; a call that fails leaves the mark as it was. */
EXPORT int mlockall(int flags)
{
	NEXT(int (*)(int), mlockall);
	bool was = ward__map_locks_future(true);
	int rc = real_mlockall(flags);
	if (rc != 0 && errno == ENOMEM && (flags & MCL_CURRENT)) {
		int done = ward__map_lock_all_but_own(flags);
		if (done == 0)
			rc = 0;
		else
			errno = -done;
	}
	ward__map_locks_future(rc == 0 ? (flags & MCL_FUTURE) != 0 : was);
	if (rc == 0 && (flags & MCL_CURRENT))
		ward__map_unlock_own();
	return rc;
}

EXPORT int munlockall(void)
{
	NEXT(int (*)(void), munlockall);
	int rc = real_munlockall();
	if (rc == 0)
		ward__map_locks_future(false);
	return rc;
}

/* ---- Children that share this process's memory ------------------------- */

/*
 * A vfork() child runs on its parent's stack and memory, with the
 * parent's thread-local storage, until it execs or exits; the parent
 * waits. Its descriptor table is a copy of the parent's, so what it opens,
 * duplicates and closes must stay off the parent's books (intercept.c):
 * ward__vfork_child says so to every interposer the child reaches.
 *
 * vfork() cannot be wrapped by a C function: the child returns first and
 * goes on calling, over the wrapper's frame, the parent's return address
 * among it. As the C library does, the return address waits in a register
 * (each process has its own) through the system call; the child then
 * jumps back to its caller, the parent returns. The parent lowers the
 * mark it raised; a nested vfork() from the child keeps the child's.
 * x86-64 only: elsewhere the C library's vfork() runs, and a child's
 * descriptor calls reach the parent's books.
 */
#if defined(__x86_64__)
#define VFORK_STR_(x) #x
#define VFORK_STR(x) VFORK_STR_(x)

static __attribute__((used)) int vfork_failed(long rc)
{
	errno = (int)-rc;
	return -1;
}

__asm__(".text\n"
	".globl vfork\n"
	".type vfork, @function\n"
	"vfork:\n"
	"	.cfi_startproc\n"
	"	movq ward__vfork_child@gottpoff(%rip), %rcx\n"
	"	incl %fs:(%rcx)\n"
	"	popq %rdi\n"
	"	.cfi_adjust_cfa_offset -8\n"
	"	.cfi_register %rip, %rdi\n"
	"	movl $" VFORK_STR(SYS_vfork) ", %eax\n"
	"	syscall\n"
	"	testq %rax, %rax\n"
	"	jnz 1f\n"
	"	jmp *%rdi\n" /* the child, marked; the stack as after a ret */
	"1:	pushq %rdi\n"
	"	.cfi_adjust_cfa_offset 8\n"
	"	.cfi_rel_offset %rip, 0\n"
	"	movq ward__vfork_child@gottpoff(%rip), %rcx\n"
	"	decl %fs:(%rcx)\n"
	"	cmpq $-4095, %rax\n"
	"	jae 2f\n"
	"	ret\n"
	"2:	movq %rax, %rdi\n"
	"	jmp vfork_failed\n"
	"	.cfi_endproc\n"
	".size vfork, .-vfork\n");
#endif

/* clone() with CLONE_VM and CLONE_VFORK and neither CLONE_SETTLS nor
 * CLONE_FILES: a vfork() child on a stack of the program's (a spawn
 * library's own). The child runs fn with this thread's storage while this
 * call waits, so the mark raised here is the child's. The arguments past
 * arg are read as the C library's clone() reads them, whatever flags ask. */
EXPORT int clone(int (*fn)(void *), void *stack, int flags, void *arg, ...)
{
	va_list ap;
	va_start(ap, arg);
	pid_t *parent_tid = va_arg(ap, pid_t *);
	void *tls = va_arg(ap, void *);
	pid_t *child_tid = va_arg(ap, pid_t *);
	va_end(ap);
	NEXT(int (*)(int (*)(void *), void *, int, void *, ...), clone);
	int shares = CLONE_VM | CLONE_VFORK,
	    own = shares | CLONE_SETTLS | CLONE_FILES;
	bool mark = (flags & own) == shares;
	if (mark)
		ward__vfork_child++;
	int rc = real_clone(fn, stack, flags, arg, parent_tid, tls, child_tid);
	if (mark)
		ward__vfork_child--;
	return rc;
}

/* _Fork(): fork() without the fork handlers (async-signal-safe), whose
 * child ward stands aside in (intercept.c). */
EXPORT pid_t _Fork(void)
{
	NEXT(pid_t (*)(void), _Fork);
	pid_t pid = real__Fork();
	if (pid == 0)
		ward__intercept_forked_raw();
	return pid;
}

/* ---- Exec --------------------------------------------------------------- */

/* Another program in this one's place: ward is told first, in case that
 * one will not load ward (intercept.c); a failed exec takes it back.
 * glibc's execv, execvp and execl* call its execve past this one: each is
 * interposed. */
static inline __attribute__((always_inline)) int exec_failed(int rc)
{
	ward__intercept_take_back();
	return rc;
}

EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	NEXT(int (*)(const char *, char *const[], char *const[]), execve);
	ward__intercept_exec(path, envp);
	return exec_failed(real_execve(path, argv, envp));
}

EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	NEXT(int (*)(const char *, char *const[], char *const[]), execvpe);
	ward__intercept_exec(file, envp);
	return exec_failed(real_execvpe(file, argv, envp));
}

EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	NEXT(int (*)(int, char *const[], char *const[]), fexecve);
	ward__intercept_exec(argv[0], envp);
	return exec_failed(real_fexecve(fd, argv, envp));
}

EXPORT int execveat(int dir, const char *path, char *const argv[],
		     char *const envp[], int flags)
{
	NEXT(int (*)(int, const char *, char *const[], char *const[], int),
	     execveat);
	/* With AT_EMPTY_PATH the program is dir itself: named by argv[0]. */
	ward__intercept_exec(*path ? path : argv[0], envp);
	return exec_failed(real_execveat(dir, path, argv, envp, flags));
}

EXPORT int execv(const char *path, char *const argv[])
{
	return execve(path, argv, environ);
}

EXPORT int execvp(const char *file, char *const argv[])
{
	return execvpe(file, argv, environ);
}

/* execl, execlp, execle: the arguments from arg to the NULL after them
 * into an array (with the NULL), then execve, or execvpe to search PATH;
 * the environment is execle's argument after the NULL, else environ. */
enum list_exec { LIST_PATH, LIST_SEARCH, LIST_ENV };

static int list_exec(enum list_exec how, const char *file, const char *arg,
		     va_list *ap)
{
	va_list count;
	va_copy(count, *ap);
	size_t n = 1;
	while (va_arg(count, char *))
		n++;
	va_end(count);
	char *argv[n + 1];
	argv[0] = (char *)arg;
	for (size_t k = 1; k <= n; k++)
		argv[k] = va_arg(*ap, char *);
	char **envp = how == LIST_ENV ? va_arg(*ap, char **) : environ;
	return how == LIST_SEARCH ? execvpe(file, argv, envp)
				  : execve(file, argv, envp);
}

#define LIST_EXEC_CALL(name, how)                                              \
	EXPORT int name(const char *file, const char *arg, ...)                \
	{                                                                      \
		va_list ap;                                                    \
		va_start(ap, arg);                                             \
		int rc = list_exec(how, file, arg, &ap);                       \
		va_end(ap);                                                    \
		return rc;                                                     \
	}

LIST_EXEC_CALL(execl, LIST_PATH)
LIST_EXEC_CALL(execlp, LIST_SEARCH)
LIST_EXEC_CALL(execle, LIST_ENV)

/* ---- Libraries --------------------------------------------------------- */

EXPORT int dlclose(void *handle)
{
	NEXT(int (*)(void *), dlclose);
	struct link_map *lm = NULL;
	WARD__ENTER();
	if (dlinfo(handle, RTLD_DI_LINKMAP, &lm) == 0 && lm)
		ward__symbolize_remember((uintptr_t)lm->l_addr);
	int rc = real_dlclose(handle);
	ward__unwind_code_unmapped();
	WARD__LEAVE();
	return rc;
}

/* ---- Signals ----------------------------------------------------------- */

EXPORT int sigaction(int sig, const struct sigaction *act,
		     struct sigaction *old)
{
	return ward__intercept_sigaction(sig, act, old);
}

EXPORT int sigaltstack(const stack_t *ss, stack_t *old)
{
	return ward__intercept_sigaltstack(ss, old);
}

/* glibc's signal(): BSD semantics, through sigaction() here so that a
 * signal ward holds is handed over the same way. */
EXPORT sighandler_t signal(int sig, sighandler_t handler)
{
	struct sigaction sa, old;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sig > 0 && sig < NSIG)
		sigaddset(&sa.sa_mask, sig);
	if (ward__intercept_sigaction(sig, &sa, &old) < 0)
		return SIG_ERR;
	return old.sa_handler;
}

/* ---- Exit -------------------------------------------------------------- */

/*
 * The thread in exit(), as (pid << 32 | tid): 0 while none is. glibc
 * before 2.41 lets a second thread that calls exit() run the exit
 * handlers left and end the process while the first is still in ward's,
 * writing the profile: a second caller waits instead for the first to end
 * the process, as glibc does from 2.41. The first caller's own calls (an
 * exit handler calling exit()) go on, as they always did. The pid keeps a
 * forked child, or a vfork() child sharing this memory, out of it.
 */
static _Atomic uint64_t exiting;

static void one_exit_at_a_time(void)
{
	if (ward__intercept_sandboxed())
		return; /* no report to wait for, no call to make */
	uint64_t pid = (uint64_t)getpid();
	uint64_t me = pid << 32 | (uint32_t)syscall(SYS_gettid);
	uint64_t was = atomic_load(&exiting);
	for (;;) {
		if (was == me)
			return;
		if (was && was >> 32 == pid) /* another thread of this one */
			for (;;)
				pause();
		/* None, or another process's: this thread's turn. */
		if (atomic_compare_exchange_weak(&exiting, &was, me))
			return;
	}
}

/* exit() notes where its caller's frame ends: the scan at exit starts
 * there, above exit's own frames, which lie where main's dead frames were
 * and may hold stale copies of pointers main dropped. */
EXPORT void exit(int status)
{
	NEXT(void (*)(int), exit);
	one_exit_at_a_time();
	ward__exit_sp = (uintptr_t)__builtin_frame_address(0) + 16;
	real_exit(status);
	__builtin_unreachable();
}

/* When main returns, the C library calls its own exit() directly, not
 * through the interposer: main runs under this wrapper, which calls
 * exit() itself, so the same rule holds. */
typedef int (*main_fn)(int, char **, char **);
static main_fn program_main;

static int main_then_exit(int argc, char **argv, char **envp)
{
	exit(program_main(argc, argv, envp));
}

int __libc_start_main(main_fn main, int argc, char **argv,
		      void (*init)(void), void (*fini)(void),
		      void (*rtld_fini)(void), void *stack_end);

EXPORT int __libc_start_main(main_fn main, int argc, char **argv,
			     void (*init)(void), void (*fini)(void),
			     void (*rtld_fini)(void), void *stack_end)
{
	NEXT(int (*)(main_fn, int, char **, void (*)(void), void (*)(void),
		     void (*)(void), void *),
	     __libc_start_main);
	program_main = main;
	return real___libc_start_main(main_then_exit, argc, argv, init, fini,
				      rtld_fini, stack_end);
}

EXPORT void _exit(int status)
{
	NEXT(void (*)(int), _exit);
	ward__intercept_report();
	real__exit(status);
	__builtin_unreachable();
}

/*
 * daemon(): the C library's ends the parent with an exit of its own that
 * no interposer sees, so the parent's profile (what it allocated before,
 * which valgrind reports at that exit) was never written, and ward run
 * said the program ended without running its exit handlers. The same
 * steps here, the parent ending through _exit() above: a child in a
 * session of its own, in "/" unless nochdir, its standard streams on
 * /dev/null unless noclose (which must be that character device:
 * ENODEV otherwise, as the C library says).
 */
EXPORT int daemon(int nochdir, int noclose)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		return -1;
	if (!nochdir && chdir("/") < 0) {
		/* ignored, as the C library ignores it */
	}
	if (noclose)
		return 0;
	int fd = open("/dev/null", O_RDWR);
	if (fd < 0)
		return -1;
	struct stat st;
	int err = fstat(fd, &st) != 0 ? errno
		  : !S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3) ? ENODEV
									 : 0;
	if (err) {
		close(fd);
		errno = err;
		return -1;
	}
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
	return 0;
}

/* C99's name for it, a symbol of its own in the C library. */
EXPORT void _Exit(int status)
{
	NEXT(void (*)(int), _Exit);
	ward__intercept_report();
	real__Exit(status);
	__builtin_unreachable();
}
