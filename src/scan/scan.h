/*
 * The reachability scan (scan.c).
 */
#ifndef WARD_INTERNAL_SCAN_H
#define WARD_INTERNAL_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "registry/registry.h"
#include "ward/profile.h"

/*
 * Who holds a reachable block: the root word holding the first block of a
 * chain, then each block of the chain, the last the one asked about. The
 * block's `off` is where in it the pointer to the next one lies.
 */
enum ward__root_kind {
	WARD__ROOT_LOADER,    /* the dynamic loader's own bookkeeping */
	WARD__ROOT_GLOBAL,    /* a loaded object's data */
	WARD__ROOT_STACK,     /* a thread's stack */
	WARD__ROOT_REGISTER,  /* a thread's register */
	WARD__ROOT_TLS,       /* a thread's thread-local storage */
	WARD__ROOT_MAPPED,    /* memory the program mapped itself */
	WARD__ROOT_INHERITED, /* a block a forked child inherited */
	WARD__ROOT_EARLY,     /* a block allocated before ward started */
	WARD__ROOT_IGNORED,   /* a block the program said is no leak */
	WARD__ROOT_LIBC,      /* the C library's and the loader's own data
			       * (locale tables, stdio, the environment),
			       * read after every other root */
};
enum { WARD__PATH_MAX = 16, WARD__PATHS_MAX = 32 };
struct ward__scan_path {
	int root;        /* enum ward__root_kind */
	uintptr_t word;  /* the root word's address */
	int tid;         /* stack, register: the thread (0: the scanning one) */
	char reg[8];     /* register: its name */
	uintptr_t pc;    /* stack: an address in the function whose frame
			  * holds the word (0: unknown) */
	uintptr_t tp;    /* TLS: the thread pointer */
	int n;           /* blocks in hop[] */
	bool cut;        /* the chain was longer than hop[] */
	struct {
		uintptr_t start, off;
		uint64_t size;
		uint32_t site;
	} hop[WARD__PATH_MAX];
};

/* Every live heap block: its site, size and class (WARD_LEAK_*). */
struct ward__scan_result {
	struct ward__scan_path *paths; /* for the blocks asked about */
	size_t npaths;
	int held; /* threads not stopped (their registers unread): the
		   * classes are partial, see ward__stopped */
	uint64_t unread; /* bytes of memory not read: no page of it could be
			  * told touched or not (a block only it held shows
			  * as lost) */
	size_t blocks;
	uint32_t *site;
	uint64_t *size;
	uint8_t *state;
	uint8_t *root;     /* reachable: the kind of root (ward__root_kind)
			    * its chain starts at */
	uintptr_t *handle; /* the block's address */
	void *mapped;      /* the arrays' one mapping (ward's own) */
	size_t mapped_len;
	/* Where each thread the scan stopped was (ward__stopped's stack),
	 * taken before any was let go: one that the stop signal woke from
	 * a sleep can end right after. */
	struct ward__stopped_stack *stacks;
	int nstacks;
};

/*
 * The calling thread's roots: the program's part of its stack (ward's own
 * frames below it hold stale copies of pointers in buffers never
 * written), and its callee-saved registers as the program left them.
 */
enum { WARD__SELF_REGS = 6 };
struct ward__scan_self {
	uintptr_t stack_lo, stack_hi;
	/* When stack_lo is 0, the thread's own stack is read whole (where
	 * it left it is not known). other: the stack it runs on when not
	 * its own — an alternate signal stack, a coroutine's — from its
	 * frame up (else 0). */
	uintptr_t other_lo, other_hi;
	uintptr_t pc, sp, bp; /* the caller's context: its stack is walked
			       * from there, wherever the scan runs */
	uintptr_t regs[WARD__SELF_REGS];
};

/* Fill *self at the entry to ward's report: call it first thing, from the
 * function ward's frames start at. */
#define WARD__SCAN_SELF(self)                                                 \
	do {                                                                   \
		ward__callee_saved((self)->regs);                              \
		uintptr_t *fp_ = __builtin_frame_address(0);                   \
		(self)->stack_lo = (uintptr_t)(fp_ + 2);                       \
		(self)->stack_hi = ward__stack_top();                          \
		(self)->other_lo = (self)->other_hi = 0;                       \
		(self)->pc = fp_[1];                                           \
		(self)->sp = (uintptr_t)(fp_ + 2);                             \
		(self)->bp = fp_[0];                                           \
	} while (0)

static inline __attribute__((always_inline)) void
ward__callee_saved(uintptr_t *r)
{
#if defined(__x86_64__)
	__asm__ volatile("mov %%rbx, 0(%0)\n\t"
			 "mov %%rbp, 8(%0)\n\t"
			 "mov %%r12, 16(%0)\n\t"
			 "mov %%r13, 24(%0)\n\t"
			 "mov %%r14, 32(%0)\n\t"
			 "mov %%r15, 40(%0)"
			 :
			 : "r"(r)
			 : "memory");
#else
	for (int i = 0; i < WARD__SELF_REGS; i++)
		r[i] = 0;
#endif
}

/* The main thread's pthread_self(), set where the tracer starts (its TLS
 * is a root when another thread calls exit()); 0 when unknown. */
extern uintptr_t ward__main_thread;

/* Scan from the roots (globals, this thread's, and every other thread's
 * registers and stack, the other threads stopped meanwhile). Returns 0, or
 * -errno (out is then empty; ward__scan_failure() says it in words):
 * -ENOMEM; the other threads could not be stopped (ward__threads_stop());
 * -EAGAIN, one stayed inside ward's books; the mappings could not be read
 * (-ENODATA: they read empty); -ENOTSUP off x86-64. */
int ward__scan_heap(const struct ward__scan_self *self,
		    struct ward__scan_result *out);

/* The same over the records of kind `also` too (when >= 0: a sized kind
 * whose handles are addresses, refs), and for the reachable blocks of the
 * sites want(site, arg) picks (asked before any thread is stopped; at most
 * WARD__PATHS_MAX, a few a site), the path from a root (out->paths). */
int ward__scan_heap_why(const struct ward__scan_self *self, int also,
			bool (*want)(uint32_t site, void *arg), void *arg,
			struct ward__scan_result *out);
void ward__scan_free(struct ward__scan_result *r);

/* Why a scan returned rc < 0, in words ("the program's other threads
 * could not be stopped: one did not answer ward's signal within a
 * second"). */
const char *ward__scan_failure(int rc, char *buf, size_t len);

/* A thread's stack where ward's stop signal found it, innermost first,
 * and the thread's pthread_self(). */
enum { WARD__STOPPED_PCS = 64 };
struct ward__stopped_stack {
	uintptr_t self;
	int n;
	uintptr_t pcs[WARD__STOPPED_PCS];
};

/* A thread stopped by ward__threads_stop(): its id, stack pointer and
 * general registers when the signal came, and the stack it walked from
 * there (suspend.c). */
enum { WARD__STOPPED_REGS = 23, WARD__STOPPED_VEC = 64 };
struct ward__stopped {
	int tid;
	bool held; /* not stopped: it blocks ward's signal or awaits it
		    * (sigwait); asleep in a system call, sp is from
		    * /proc/self/task/TID/syscall; running, sp is 0 (its
		    * stack read whole); regs are zero, the stack empty */
	uintptr_t sp;
	uintptr_t regs[WARD__STOPPED_REGS];
	/* The words of its vector registers (xmm, and the upper parts of
	 * ymm and zmm, zmm16-31: a copy of a struct goes through them) that
	 * could be addresses, nvec of them; vec_reg[i] names vec[i]'s
	 * register (ward__vector_reg_name). */
	int nvec;
	uintptr_t vec[WARD__STOPPED_VEC];
	uint8_t vec_reg[WARD__STOPPED_VEC];
	struct ward__stopped_stack stack;
};

/* The name of a vector register as ward__stopped.vec_reg gives it
 * ("xmm3", "ymm3" for its upper half, "zmm19"). */
const char *ward__vector_reg_name(uint8_t reg, char *buf, size_t len);

/* Whether act is ward's own stop handler (which the tracer's sigaction()
 * must not wrap). */
struct sigaction;
bool ward__is_stop_handler(const struct sigaction *act);

/* Stop every other thread of the process until ward__threads_resume().
 * Returns how many (*out lists them, those that could not be stopped
 * last, marked held), or -errno, none stopped: -EBUSY, the program has
 * its own action for ward's signal; -ETIMEDOUT, a thread did not answer
 * it within a second; -E2BIG, too many threads; -EAGAIN, new ones kept
 * starting; -ENOBUFS, the signal could not be queued (the pending
 * signals' limit, RLIMIT_SIGPENDING, reached); -ENOMEM; or why they could
 * not be listed. While they are
 * stopped, allocate nothing and take no lock a stopped thread may hold. */
int ward__threads_stop(const struct ward__stopped **out);
void ward__threads_resume(void);

/*
 * The stack of thread tid of this process where it is now (blocked in a
 * call, or running), innermost first: the thread is sent ward's stop
 * signal and walks itself. Returns how many return addresses (pcs[0] is
 * where it was), -ETIMEDOUT when it did not answer within a second (it
 * blocks signals), -ESRCH when it is gone, -ENOTSUP where unsupported.
 * *self (when not NULL) gets the thread's pthread_self(). With self NULL,
 * a thread asleep where the signal would end its sleep early (sleep(),
 * poll(), epoll_wait(): they fail with EINTR after a handler), or where
 * it would not take it, is not sent it: its stack is walked from where it
 * sleeps, and ends at the first frame found by its frame pointer.
 */
int ward__thread_stack(int tid, uintptr_t *pcs, int max, uintptr_t *self);

/*
 * The stacks of the threads threads[0..nthreads) (pthread_t values) now:
 * fn(self, pcs, n, arg) for each one read (self: which of them), at most
 * budget_ms in all — a thread that blocks signals costs up to a second of
 * it. Each is found by its id in its descriptor, and walked as
 * ward__thread_stack() walks it with self NULL: no other thread is sent
 * anything, and one asleep is not woken. Where glibc's descriptor does not
 * say, every other thread is asked instead.
 */
void ward__each_thread_stack(const uintptr_t *threads, size_t nthreads,
			     void (*fn)(uintptr_t self, const uintptr_t *pcs,
					int n, void *arg),
			     void *arg, int budget_ms);

/* Where glibc's thread descriptor holds the thread's id (an offset from
 * its pthread_t), 0 when it cannot be told. */
size_t ward__tid_offset(void);

/* The id of the thread whose pthread_t is thread: 0 when it has ended
 * (glibc clears it), -1 when it cannot be read. */
int ward__tid_of(uintptr_t thread);

/* The other threads of this process (not the caller, nor a main thread
 * that has ended): up to max ids into tids, how many, or -errno (-E2BIG:
 * more than max). Allocates nothing (safe in a signal handler). */
int ward__list_threads(int *tids, int max);

/* The signal that stops threads (SIGRTMAX-1): ward's own threads never
 * block it, and it is never a snapshot signal. */
int ward__stop_signal(void);

/*
 * The memory the allocator behind ward's interposers mapped for itself
 * (allocator.c): the tracer tells of each mapping the allocator makes
 * and of each range unmapped (or mapped anew by the program) since; the
 * scan reads the blocks there as blocks and the rest as no root.
 * ward__scan_allocator_ranges: the ranges (for the scan, the other
 * threads stopped), or 0 when they cannot be told exactly (or are not
 * to be trusted).
 */
struct ward__range {
	uintptr_t lo, hi;
};
void ward__scan_allocator_mapped(uintptr_t lo, uintptr_t hi);
void ward__scan_unmapped(uintptr_t lo, uintptr_t hi);
void ward__scan_allocator_forked(void);
size_t ward__scan_allocator_ranges(struct ward__range *out, size_t max);
/*
 * The program break the program moved itself, with sbrk() or brk() (a
 * bump allocator of its own; allocator.c): that memory lies in [heap],
 * which the scan leaves out as malloc's, and is the program's, read as
 * memory it mapped itself. malloc's own moves never come here (the C
 * library's calls are its own), nor another allocator's.
 * ward__scan_break_ranges: what it took, up to WARD__BREAK_RANGES ranges
 * (for the scan, the other threads stopped).
 */
enum { WARD__BREAK_RANGES = 32 };
void ward__scan_break_grew(uintptr_t lo, uintptr_t hi);
size_t ward__scan_break_ranges(struct ward__range *out, size_t max);

/* Whether any such range is known; read them as roots from now on (the
 * program takes memory from the allocator through calls ward does not
 * see). */
bool ward__scan_allocator_any(void);
void ward__scan_allocator_distrust(void);

#endif
