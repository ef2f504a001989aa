/*
 * Internals shared by the registry (track.c), stack capture (stack.c),
 * snapshots and exporters (profile.c, pprof.c) and leak checks.
 */
#ifndef WARD_INTERNAL_REGISTRY_H
#define WARD_INTERNAL_REGISTRY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A site: a kind and the stack that acquired it, deduplicated. Sites are
 * never freed or moved; an id names one for the life of the process. The
 * counters are updated with relaxed atomics by every thread that acquires
 * or releases at this site.
 */
struct ward__site_rec {
	uint64_t hash;
	uint32_t kind;
	uint32_t depth;
	_Atomic uint64_t acq_count, acq_bytes;
	_Atomic uint64_t rel_count, rel_bytes;
	uintptr_t pcs[]; /* return addresses, innermost first */
};

/* Capture the calling stack into pcs (at most max), skipping `skip`
 * innermost frames. Returns the number captured. */
int ward__stack_capture(uintptr_t *pcs, int max, int skip);

/* The configured stack depth (WARD_STACK_DEPTH, default 64). */
int ward__stack_depth(void);

/* Intern (kind, pcs[0..n)) and return its site id (>= 1), or 0 on ENOMEM. */
uint32_t ward__site_intern(uint32_t kind, const uintptr_t *pcs, int n);

/* The site of an id, or NULL. Safe from any thread. */
struct ward__site_rec *ward__site_get(uint32_t id);

/* Number of sites so far (ids are 1..count). */
uint32_t ward__site_count(void);

/* Per-thread re-entry guard: while set, ward's own allocations and calls
 * are not tracked. */
extern __thread int ward__in_registry __attribute__((tls_model("initial-exec")));

/* Visit every live record of a kind: fn(handle, site id, size, opaque). */
typedef void (*ward__record_fn)(uintptr_t handle, uint32_t site, uint64_t size,
				void *opaque);
void ward__registry_each(int kind, ward__record_fn fn, void *opaque);

/* Whether a record is live, and its site. */
bool ward__registry_lookup(int kind, uintptr_t handle, uint32_t *site);

#endif
