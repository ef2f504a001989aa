/*
 * handlers.c — the program's signal handlers, under the tracer.
 *
 * Every handler the program installs with sigaction() or signal() runs
 * through trampoline(). When its signal arrives while the thread is inside
 * ward's bookkeeping (ward__in_registry: ward may hold its own locks and,
 * growing a table, the allocator's), the handler waits until that is done
 * and runs at the end of the interposed call (WARD__LEAVE()), as the fatal
 * signals ward holds do; otherwise it runs at once. So a handler that
 * allocates never meets a lock ward holds (it deadlocked on the
 * allocator's), and what it allocates and frees is recorded like any other
 * block (it was dropped). A fault raised by an instruction (SIGSEGV and the
 * like, si_code > 0) cannot wait: its handler runs at once.
 *
 * A handler run late sees the signal's siginfo as it came, the signal mask
 * the kernel would have set (its sa_mask and, without SA_NODEFER, the
 * signal), and a ucontext of where it runs, not of the interrupted code.
 *
 * The program sees its own actions: sigaction()'s old action is the one it
 * gave (the kernel's, when the kernel's is not the trampoline: reset by
 * SA_RESETHAND, or set by a raw system call).
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <ucontext.h>

#include "core/guard.h"
#include "scan/scan.h"
#include "trace/intercept.h"

extern int __sigaction(int sig, const struct sigaction *act,
		       struct sigaction *old);

/* The program's action for each signal, as it gave it: two copies, the
 * one `cur` names current; a change writes the other (with every signal
 * blocked) and then names it. */
static struct {
	_Atomic int cur;
	struct sigaction act[2];
} actions[NSIG];

static void read_action(int sig, struct sigaction *out)
{
	int i = atomic_load_explicit(&actions[sig].cur, memory_order_acquire);
	memcpy(out, &actions[sig].act[i], sizeof(*out));
}

static void write_action(int sig, const struct sigaction *act)
{
	int next = !atomic_load_explicit(&actions[sig].cur,
					 memory_order_relaxed);
	memcpy(&actions[sig].act[next], act, sizeof(*act));
	atomic_store_explicit(&actions[sig].cur, next, memory_order_release);
}

static void run(const struct sigaction *a, int sig, siginfo_t *si, void *uc)
{
	if (a->sa_flags & SA_SIGINFO) {
		if (a->sa_sigaction)
			a->sa_sigaction(sig, si, uc);
	} else if (a->sa_handler != SIG_DFL && a->sa_handler != SIG_IGN) {
		a->sa_handler(sig);
	}
}

/* Signals that came while the thread was in ward's bookkeeping: each
 * (how many: ward__trace.signal_waiting, which WARD__LEAVE() reads). */
enum { WAITING_MAX = 16 };
static __thread struct {
	int sig;
	siginfo_t si;
} waiting[WAITING_MAX];

bool ward__raised_by_fault(int sig, const siginfo_t *si)
{
	return (sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE ||
		sig == SIGILL || sig == SIGTRAP) &&
	       si && si->si_code > 0;
}

static void trampoline(int sig, siginfo_t *si, void *uc)
{
	if (ward__in_registry && !ward__raised_by_fault(sig, si)) {
		/* Ordinary signals do not queue in the kernel either: one
		 * waiting is enough. Real-time ones queue, up to the room. */
		int n = ward__trace.signal_waiting;
		for (int i = 0; sig < SIGRTMIN && i < n; i++)
			if (waiting[i].sig == sig)
				return;
		if (n < WAITING_MAX) {
			waiting[n].sig = sig;
			if (si)
				waiting[n].si = *si;
			else
				memset(&waiting[n].si, 0, sizeof(siginfo_t));
			ward__trace.signal_waiting = n + 1;
		}
		return;
	}
	struct sigaction a;
	read_action(sig, &a);
	/* Where the handler interrupted the thread: the scan at exit reads
	 * the thread's stack from there when the handler runs on an
	 * alternate stack and calls exit() (intercept.c). */
	uintptr_t outer = ward__trace.interrupted_sp;
#if defined(__x86_64__)
	if (uc)
		ward__trace.interrupted_sp =
			(uintptr_t)((ucontext_t *)uc)->uc_mcontext.gregs[REG_RSP];
#endif
	run(&a, sig, si, uc);
	ward__trace.interrupted_sp = outer;
}

void ward__intercept_run_waiting(void)
{
	sigset_t all, before;
	sigfillset(&all);
	while (!ward__in_registry) {
		/* Take the first off with signals blocked: a handler may
		 * add to the list. */
		pthread_sigmask(SIG_SETMASK, &all, &before);
		int n = ward__trace.signal_waiting;
		if (n == 0) {
			pthread_sigmask(SIG_SETMASK, &before, NULL);
			return;
		}
		int sig = waiting[0].sig;
		siginfo_t si = waiting[0].si;
		memmove(&waiting[0], &waiting[1],
			(size_t)(n - 1) * sizeof(waiting[0]));
		ward__trace.signal_waiting = n - 1;
		struct sigaction a;
		read_action(sig, &a);
		/* The mask the kernel would have set for the handler. */
		sigset_t mask = before;
		for (int s = 1; s < NSIG; s++)
			if (sigismember(&a.sa_mask, s) == 1)
				sigaddset(&mask, s);
		if (!(a.sa_flags & SA_NODEFER))
			sigaddset(&mask, sig);
		pthread_sigmask(SIG_SETMASK, &mask, NULL);
		ucontext_t uc;
		getcontext(&uc);
		run(&a, sig, &si, &uc);
		pthread_sigmask(SIG_SETMASK, &before, NULL);
	}
}

int ward__handlers_sigaction(int sig, const struct sigaction *act,
			     struct sigaction *old)
{
	if (sig <= 0 || sig >= NSIG)
		return __sigaction(sig, act, old);
	struct sigaction kernel;
	if (__sigaction(sig, NULL, &kernel) < 0)
		return -1;
	struct sigaction before = kernel;
	if ((kernel.sa_flags & SA_SIGINFO) &&
	    kernel.sa_sigaction == trampoline)
		read_action(sig, &before);
	if (act && ward__is_stop_handler(act))
		return __sigaction(sig, act, old);
	if (act) {
		bool function = (act->sa_flags & SA_SIGINFO)
					? act->sa_sigaction != NULL
					: (act->sa_handler != SIG_DFL &&
					   act->sa_handler != SIG_IGN);
		int rc;
		if (function) {
			sigset_t all, mask;
			sigfillset(&all);
			pthread_sigmask(SIG_SETMASK, &all, &mask);
			write_action(sig, act);
			struct sigaction wrapped = *act;
			wrapped.sa_sigaction = trampoline;
			wrapped.sa_flags |= SA_SIGINFO;
			rc = __sigaction(sig, &wrapped, NULL);
			pthread_sigmask(SIG_SETMASK, &mask, NULL);
		} else {
			rc = __sigaction(sig, act, NULL);
		}
		if (rc < 0)
			return rc;
	}
	if (old)
		*old = before;
	return 0;
}
