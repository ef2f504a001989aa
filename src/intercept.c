/*
 * intercept.c — the logic behind the LD_PRELOAD interposers in preload/:
 * which acquisitions to record (kinds, sampling), what happens around
 * fork() and exec, and the report written when the program ends.
 *
 * Configuration comes from the environment, which `ward run` sets:
 *   WARD_OUTPUT        profile path; "%p" becomes the pid (none: no file)
 *   WARD_SUMMARY       text report path, "%p" likewise (unset: stderr;
 *                      "none": no report, only the profile — ward run
 *                      prints the report itself, from the profile)
 *   WARD_SAMPLE        mean bytes between heap samples; 0 = every block
 *   WARD_KINDS         comma list of heap,fd,file,thread (default all)
 *   WARD_FOLLOW_FORKS  0: a forked child records nothing
 *   WARD_FOLLOW_EXEC   0: programs this one executes run without ward
 *   WARD_SNAPSHOT_SIGNAL  a signal (USR2, or a number) that writes a
 *                      snapshot, OUTPUT.snapN, without stopping the program
 *
 * Sampling (WARD_SAMPLE > 0), as jemalloc and Go do it: each thread counts
 * down the bytes it allocates; when the count crosses zero the block is
 * recorded with its stack and a new distance is drawn from an exponential
 * distribution with the configured mean. Exported values are scaled back
 * the way Go scales its heap profile. free() must tell sampled blocks from
 * the rest without a table lookup per call: a two-level table counts the
 * sampled blocks live on each 4 KiB page, and only frees on pages with a
 * count look in the registry.
 *
 * Re-entry: ward__in_registry is raised while ward does its own work, so
 * its own allocations go straight to libc.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal/intercept.h"
#include "internal/profile.h"
#include "internal/registry.h"
#include "internal/scan.h"
#include "ward/profile.h"
#include "ward/track.h"

static struct {
	bool kinds[WARD_KIND_USER];
	uint64_t rate;
	bool follow_forks;
	char output[1024];
	char summary[1024];
} cfg;

/* Tracking happens only between init and the exit report. */
static _Atomic bool active;


/* ---- Events ------------------------------------------------------------ */

__attribute__((noinline)) void ward__intercept_alloc(void *p, size_t size)
{
	if (!p || ward__in_registry || !atomic_load_explicit(&active,
							     memory_order_relaxed) ||
	    !cfg.kinds[WARD_KIND_HEAP])
		return;
	if (cfg.rate) {
		/* The interposer has counted size down already (see
		 * ward__alloc_unsampled()); here the count crossed zero. */
		if (ward__countdown > 0)
			return;
		ward__in_registry++;
		ward__sample_take((uintptr_t)p);
		ward__in_registry--;
	}
	ward__in_registry++;
	ward__track_at(WARD_KIND_HEAP, (uintptr_t)p, size, 2);
	ward__in_registry--;
}

__attribute__((noinline)) void ward__intercept_free(void *p)
{
	if (!p || ward__in_registry || !atomic_load_explicit(&active,
							     memory_order_relaxed) ||
	    !cfg.kinds[WARD_KIND_HEAP])
		return;
	if (cfg.rate && !ward__page_has_sampled((uintptr_t)p))
		return;
	ward__in_registry++;
	if (ward_untrack(WARD_KIND_HEAP, (uintptr_t)p) == 0 && cfg.rate)
		ward__sample_drop((uintptr_t)p);
	ward__in_registry--;
}

__attribute__((noinline)) void ward__intercept_acquire(int kind,
							uintptr_t handle)
{
	if (ward__in_registry || !atomic_load_explicit(&active,
						       memory_order_relaxed) ||
	    !cfg.kinds[kind])
		return;
	ward__in_registry++;
	/* A handle the program got back (an fd number reused after a close
	 * ward did not see) replaces the old record. */
	if (ward__track_at(kind, handle, 1, 2) == -EEXIST) {
		ward_untrack(kind, handle);
		ward__track_at(kind, handle, 1, 2);
	}
	ward__in_registry--;
}

void ward__intercept_release(int kind, uintptr_t handle)
{
	if (ward__in_registry || !atomic_load_explicit(&active,
						       memory_order_relaxed) ||
	    !cfg.kinds[kind])
		return;
	ward__in_registry++;
	ward_untrack(kind, handle);
	ward__in_registry--;
}

/* ---- Set-up, fork, exit ------------------------------------------------ */

static void expand_pid(char *out, size_t len, const char *tmpl)
{
	size_t k = 0;
	for (const char *s = tmpl; *s && k + 1 < len; s++) {
		if (s[0] == '%' && s[1] == 'p') {
			k += (size_t)snprintf(out + k, len - k, "%d", (int)getpid());
			s++;
		} else {
			out[k++] = *s;
		}
		if (k >= len)
			k = len - 1;
	}
	out[k] = '\0';
}

static void before_fork(void)
{
	if (atomic_load(&active))
		ward__registry_lock_all();
}

static void after_fork_parent(void)
{
	if (atomic_load(&active))
		ward__registry_unlock_all();
}

static void after_fork_child(void)
{
	if (!atomic_load(&active))
		return;
	ward__registry_unlock_all();
	if (!cfg.follow_forks) {
		atomic_store(&active, false);
		cfg.output[0] = cfg.summary[0] = '\0';
		return;
	}
	ward__registry_reset();
}

static void report_at_exit(void);

/* ---- Snapshots on a signal --------------------------------------------- */

/*
 * The handler only writes a byte to a pipe; a thread of ward's reads it and
 * writes the snapshot from an ordinary context, so nothing unsafe runs in
 * the handler and the program never stops. Only the process that set it up
 * serves it (not forked children).
 */
static int snap_pipe[2] = { -1, -1 };
static unsigned snap_count;

static void snap_handler(int sig)
{
	int saved = errno;
	char b = (char)sig;
	if (write(snap_pipe[1], &b, 1) < 0) {
		/* full pipe: a snapshot is already on its way */
	}
	errno = saved;
}

static void *snap_thread(void *arg)
{
	char b;
	(void)arg;
	ward__in_registry++; /* this thread's own work is not the program's */
	for (;;) {
		ssize_t r = read(snap_pipe[0], &b, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return NULL;
		if (!atomic_load(&active) || !cfg.output[0])
			continue;
		char path[1100], snap[1200];
		expand_pid(path, sizeof(path), cfg.output);
		snprintf(snap, sizeof(snap), "%s.snap%u", path, ++snap_count);
		ward_profile_t *p = ward_profile_snapshot();
		if (p) {
			int rc = ward_profile_save(p, snap, WARD_FORMAT_PPROF);
			if (rc < 0)
				fprintf(stderr, "ward: cannot write %s: %s\n",
					snap, strerror(-rc));
			ward_profile_free(p);
		}
	}
}

static int signal_number(const char *s)
{
	static const struct {
		const char *name;
		int sig;
	} names[] = { { "USR1", SIGUSR1 }, { "USR2", SIGUSR2 },
		      { "HUP", SIGHUP },   { "PROF", SIGPROF },
		      { "WINCH", SIGWINCH } };
	if (strncmp(s, "SIG", 3) == 0)
		s += 3;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i].name) == 0)
			return names[i].sig;
	char *end;
	long v = strtol(s, &end, 10);
	return *end == '\0' && v > 0 && v < NSIG ? (int)v : -1;
}

static void setup_snapshots(const char *name)
{
	int sig = signal_number(name);
	if (sig < 0) {
		fprintf(stderr, "ward: WARD_SNAPSHOT_SIGNAL=%s is not a signal "
				"(try USR2)\n",
			name);
		return;
	}
	if (pipe2(snap_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return;
	/* The reading end blocks; the handler's end must not. */
	fcntl(snap_pipe[0], F_SETFL, 0);
	pthread_t th;
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &a, snap_thread, NULL) == 0) {
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = snap_handler;
		sa.sa_flags = SA_RESTART;
		sigemptyset(&sa.sa_mask);
		sigaction(sig, &sa, NULL);
	}
	pthread_attr_destroy(&a);
}

void ward__intercept_init(void)
{
	static bool done;
	const char *s;

	if (done)
		return;
	done = true;
	ward__in_registry++;
	for (int k = 0; k < WARD_KIND_USER; k++)
		cfg.kinds[k] = true;
	if ((s = getenv("WARD_KINDS")) && *s) {
		for (int k = 0; k < WARD_KIND_USER; k++)
			cfg.kinds[k] = false;
		char buf[256];
		snprintf(buf, sizeof(buf), "%s", s);
		for (char *save, *t = strtok_r(buf, ",", &save); t;
		     t = strtok_r(NULL, ",", &save)) {
			int k = ward_kind_register(t);
			if (k >= 0 && k < WARD_KIND_USER)
				cfg.kinds[k] = true;
		}
	}
	if ((s = getenv("WARD_SAMPLE")) && *s)
		cfg.rate = strtoull(s, NULL, 10);
	ward__sample_rate = cfg.rate;
	cfg.follow_forks = !((s = getenv("WARD_FOLLOW_FORKS")) && strcmp(s, "0") == 0);
	if ((s = getenv("WARD_FOLLOW_EXEC")) && strcmp(s, "0") == 0)
		unsetenv("LD_PRELOAD");
	if ((s = getenv("WARD_OUTPUT")))
		snprintf(cfg.output, sizeof(cfg.output), "%s", s);
	if ((s = getenv("WARD_SUMMARY")))
		snprintf(cfg.summary, sizeof(cfg.summary), "%s", s);
	pthread_atfork(before_fork, after_fork_parent, after_fork_child);
	atexit(report_at_exit);
	if ((s = getenv("WARD_SNAPSHOT_SIGNAL")) && *s)
		setup_snapshots(s);
	ward__in_registry--;
	atomic_store(&active, true);
}

struct fd_out {
	FILE *f;
};

static void to_file(void *opaque, const void *buf, size_t len)
{
	fwrite(buf, 1, len, ((struct fd_out *)opaque)->f);
}

static void write_summary(const ward_profile_t *p, FILE *f)
{
	struct fd_out o = { f };
	char head[160];
	snprintf(head, sizeof(head), "live at exit (pid %d)%s", (int)getpid(),
		 cfg.rate ? ", estimated from samples" : "");
	ward__write_summary(p, head, cfg.kinds, to_file, &o);
}

__attribute__((noinline)) void ward__intercept_report(void)
{
	struct ward__scan_self self;
	WARD__SCAN_SELF(&self);
	const char *s_env;
	if (!atomic_exchange(&active, false))
		return;
	ward__in_registry++;
	ward_profile_t *p = ward_profile_snapshot();
	/* Every heap block is known in full mode: tell the lost from the
	 * still reachable. The scan stops the program's other threads while
	 * it reads; when it cannot, nothing is classified. */
	if (p && !cfg.rate && cfg.kinds[WARD_KIND_HEAP] &&
	    !((s_env = getenv("WARD_SCAN")) && strcmp(s_env, "0") == 0)) {
		struct ward__scan_result r;
		if (ward__scan_heap(&self, &r) == 0) {
			ward_profile_t *c = ward__profile_classify(p, &r);
			if (c) {
				ward_profile_free(p);
				p = c;
			}
			ward__scan_free(&r);
		}
	}
	if (p) {
		char path[1100];
		if (cfg.output[0]) {
			expand_pid(path, sizeof(path), cfg.output);
			int rc = ward_profile_save(p, path, WARD_FORMAT_PPROF);
			if (rc < 0)
				fprintf(stderr, "ward: cannot write %s: %s\n",
					path, strerror(-rc));
		}
		FILE *f = stderr;
		if (strcmp(cfg.summary, "none") == 0) {
			ward_profile_free(p);
			ward__in_registry--;
			return;
		}
		if (cfg.summary[0]) {
			expand_pid(path, sizeof(path), cfg.summary);
			f = fopen(path, "w");
			if (!f) {
				fprintf(stderr, "ward: cannot write %s: %s\n",
					path, strerror(errno));
				f = stderr;
			}
		}
		const char *fmt = getenv("WARD_SUMMARY_FORMAT");
		if (fmt && strcmp(fmt, "json") == 0) {
			struct fd_out o = { f };
			ward_profile_write(p, WARD_FORMAT_JSON, to_file, &o);
		} else {
			write_summary(p, f);
		}
		if (f != stderr)
			fclose(f);
		else
			fflush(stderr);
		ward_profile_free(p);
	}
	ward__in_registry--;
}

static void report_at_exit(void)
{
	ward__intercept_report();
}
