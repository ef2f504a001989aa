/*
 * The calls the LD_PRELOAD interposers (preload/preload.c) make into ward
 * (src/intercept.c). Each interposer does the libc call, then reports it.
 */
#ifndef WARD_INTERNAL_INTERCEPT_H
#define WARD_INTERNAL_INTERCEPT_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Read the configuration from the environment; start recording. */
void ward__intercept_init(void);

/* The malloc the process calls is not ward's but the one `by` (a path)
 * defines: the report says the heap is not traced. */
void ward__intercept_heap_untraced(const char *by);

/* A heap block of `size` bytes was allocated / freed. */
void ward__intercept_alloc(void *p, size_t size);
void ward__intercept_free(void *p);

/* realloc(old, ...): old's record taken out before the call (its site,
 * 0 when it had none), then settled once the call answered — released,
 * or put back as it was when the call failed (registry.h). */
uint32_t ward__intercept_realloc_take(void *old, uint64_t *size);
void ward__intercept_realloc_settle(void *old, uint32_t site, uint64_t size,
				    bool failed);

/* sigaltstack() as the program sees it (intercept.c). */
int ward__intercept_sigaltstack(const stack_t *ss, stack_t *old);

/* Calls after which this process may not reach ward run again, told
 * first: the program runs path in its place, with environment envp
 * (exec); changes its root directory to path (chroot); moves to a mount
 * namespace of its own (how: "unshare" or "setns"); allows itself no
 * descriptors at all (its RLIMIT_NOFILE hard limit set to 0). When the
 * call fails, ward__intercept_take_back(), errno kept. */
void ward__intercept_exec(const char *path, char *const envp[]);
void ward__intercept_chroot(const char *path);
void ward__intercept_mount_ns(const char *how);
void ward__intercept_landlock(void);
void ward__intercept_no_descriptors(void);
void ward__intercept_take_back(void);

/* The program is about to install a seccomp filter (how: the call); then,
 * if the call returned, refused says whether the kernel refused it. */
void ward__intercept_sandbox(const char *how);
void ward__intercept_sandbox_done(bool refused);
/* Whether the program is in a seccomp sandbox: ward makes no calls. */
bool ward__intercept_sandboxed(void);

/* __lsan_ignore_object(): the heap block at p is no leak, and a root of
 * the exit scan (what it points to is reachable), as LeakSanitizer has
 * it. A block with no record (another's, or passed over by sampling) is
 * left as it is. */
void ward__intercept_ignore(const void *p);

/* Memory was mapped at [p, p + len): by the allocator ward's malloc
 * forwards to, for itself (its blocks, its bookkeeping), or by the
 * program; or unmapped. The scan reads the allocator's memory outside
 * its blocks as no root (scan.h). */
void ward__intercept_mapped(const void *p, size_t len, bool by_allocator);
void ward__intercept_unmapped(const void *p, size_t len);
/* The program moved the break itself (sbrk, brk), taking [p, p + len):
 * the scan reads it as the program's own memory. */
void ward__intercept_break_grew(const void *p, size_t len);

/* __lsan_do_recoverable_leak_check(): the exit's leak check, now (a
 * profile OUTPUT.checkN and one line); whether anything was found lost. */
int ward__intercept_check(void);

/* A descriptor, FILE or thread (by kind) was acquired / released. */
void ward__intercept_acquire(int kind, uintptr_t handle);
void ward__intercept_release(int kind, uintptr_t handle);
/* Whether this thread's acquisitions of kind are recorded now. */
bool ward__intercept_recording(int kind);

/*
 * Nonzero while a child shares this process's memory and the parent waits
 * for it (vfork(), clone(CLONE_VM | CLONE_VFORK)): the interposers raise it
 * in the calling thread's storage, which the child runs on, and lower it
 * when the parent resumes (preload.c). The child's heap blocks are the
 * parent's (the same memory), but its descriptor table is a copy: what it
 * opens, duplicates or closes is not the parent's to record.
 */
extern __thread int ward__vfork_child __attribute__((tls_model("initial-exec")));

/* The stack pointer of exit()'s caller, set by the preload's exit(). */
extern uintptr_t ward__exit_sp;

/* In a child forked without the fork handlers (_Fork(), a raw fork or
 * clone): stop recording, write nothing (intercept.c). */
void ward__intercept_forked_raw(void);

/* Stop recording and write the report (at exit, or before _exit). Does
 * nothing in a process whose books these are not (a vfork() child). */
void ward__intercept_report(void);
/* The descriptors open now are the process's before ward (at start, or
 * a forked child's at the fork); those later found open that ward did not
 * see opened are added to the books before a snapshot (fds.c). */
void ward__intercept_fds_note(void);
void ward__intercept_fds_unseen(void);
/* fd is now behind a stream or directory (open), or no longer is. */
void ward__intercept_stream_fd(int fd, bool open);

/* Whether the calling thread is the process's only one: its exit ends
 * the process. */
bool ward__intercept_only_thread(void);

/* Set by the preload library: from the exit report on, ward's own
 * allocations come from an arena of its own (preload.c). */
extern void (*ward__exit_heap)(void);

/*
 * The interposers that reach the allocator or ward's bookkeeping run
 * between these two: a signal that would end the program and arrives
 * meanwhile is acted on (profile written, program ended by it) when the
 * call is done, not while it holds their locks.
 */
struct ward__trace_tls {
	int busy;           /* how deep in the interposers */
	int fatal_pending;  /* a fatal signal held until the call ends */
	int signal_waiting; /* how many of the program's handlers wait
			     * for the end of the call (handlers.c) */
	uintptr_t interrupted_sp; /* where the program's handler running
				   * now interrupted the thread (0: none) */
	int lsan_disabled;  /* __lsan_disable() calls not yet enabled */
};
/* One thread-local: the interposers reach all of it through one address. */
extern __thread struct ward__trace_tls ward__trace
	__attribute__((tls_model("initial-exec")));
void ward__intercept_fatal_resume(void);
void ward__intercept_run_waiting(void);
/* What waited for the call to end: the program's handlers, then a fatal
 * signal ward holds. */
void ward__intercept_after(void);
#define WARD__ENTER() (ward__trace.busy++)
#define WARD__LEAVE()                                                         \
	do {                                                                   \
		if (__builtin_expect(--ward__trace.busy == 0 &&                \
					     (ward__trace.fatal_pending |      \
					      ward__trace.signal_waiting),     \
				     0))                                       \
			ward__intercept_after();                               \
	} while (0)

/* sigaction() as the program sees it: the signals ward holds to write the
 * profile before they end the program look as if at their default. */
struct sigaction;
int ward__intercept_sigaction(int sig, const struct sigaction *act,
			      struct sigaction *old);

/* Whether sig was raised by the instruction that faulted (SIGSEGV and
 * the like, si_code > 0): it cannot wait. */
bool ward__raised_by_fault(int sig, const siginfo_t *si);

/* sigaction() for the program's own handlers, which run through ward's
 * trampoline (handlers.c); old is what the program set. */
int ward__handlers_sigaction(int sig, const struct sigaction *act,
			     struct sigaction *old);


#include "registry/sample.h"

#endif
