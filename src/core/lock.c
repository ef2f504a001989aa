/*
 * lock.c — the lock-order check of debug builds (core/lock.h).
 *
 * Classes are interned by name in a fixed table; reach[a] holds a bit for
 * each class taken while a was held, directly or through others (the
 * transitive closure, kept as edges are added). It takes no lock and
 * allocates nothing — it runs inside malloc's interposer and in signal
 * handlers — so two threads adding edges at once may each miss the
 * other's closure for a moment: the check can then miss an inversion
 * once, never report one that is not there.
 */
#include "core/lock.h"

#ifdef WARD_LOCK_CHECK

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "core/log.h"

enum { CLASSES = 256, WORDS = CLASSES / 64, HELD = 48 };

static const char *_Atomic names[CLASSES];
static _Atomic uint64_t reach[CLASSES][WORDS];
static _Atomic int full; /* the table ran out: checking stops */

struct held {
	const void *lock;
	int cls;
};
static __thread struct held held[HELD];
static __thread int nheld;

static int class_of(const char *name)
{
	uint64_t h = 1469598103934665603ull;
	for (const char *c = name; *c; c++)
		h = (h ^ (unsigned char)*c) * 1099511628211ull;
	for (int probe = 0; probe < CLASSES; probe++) {
		int i = (int)((h + (uint64_t)probe) % CLASSES);
		const char *n = atomic_load_explicit(&names[i],
						     memory_order_acquire);
		if (!n) {
			const char *none = NULL;
			if (atomic_compare_exchange_strong(&names[i], &none,
							   name))
				return i;
			n = none;
		}
		if (n == name || strcmp(n, name) == 0)
			return i;
	}
	atomic_store(&full, 1);
	return -1;
}

static bool reaches(int a, int b)
{
	return atomic_load_explicit(&reach[a][b / 64], memory_order_relaxed) &
	       (1ull << (b % 64));
}

/* Record a before b: every class that reaches a now reaches b and all b
 * reaches. */
static void add_edge(int a, int b)
{
	uint64_t to[WORDS];
	for (int w = 0; w < WORDS; w++)
		to[w] = atomic_load_explicit(&reach[b][w], memory_order_relaxed);
	to[b / 64] |= 1ull << (b % 64);
	for (int x = 0; x < CLASSES; x++) {
		if (x != a && !reaches(x, a))
			continue;
		for (int w = 0; w < WORDS; w++)
			if (to[w])
				atomic_fetch_or_explicit(&reach[x][w], to[w],
							 memory_order_relaxed);
	}
}

void ward__lock_check(const void *lock, const char *cls)
{
	(void)lock;
	if (atomic_load_explicit(&full, memory_order_relaxed))
		return;
	int b = class_of(cls);
	if (b < 0)
		return;
	for (int i = 0; i < nheld && i < HELD; i++) {
		int a = held[i].cls;
		if (a < 0 || a == b || reaches(a, b))
			continue;
		if (reaches(b, a))
			ward__fatal("ward: lock order: %s taken while holding "
				    "%s, but %s was taken while holding %s "
				    "before: two threads doing both deadlock\n",
				    cls, names[a], names[a], cls);
		add_edge(a, b);
	}
}

void ward__lock_held(const void *lock, const char *cls)
{
	if (nheld < HELD)
		held[nheld] = (struct held){
			lock, atomic_load_explicit(&full, memory_order_relaxed)
				      ? -1 : class_of(cls) };
	nheld++;
}

void ward__lock_dropped(const void *lock)
{
	/* Locks are mostly dropped newest first; find it from the top. */
	int top = nheld < HELD ? nheld : HELD;
	for (int i = top; i-- > 0;)
		if (held[i].lock == lock) {
			memmove(&held[i], &held[i + 1],
				(size_t)(top - i - 1) * sizeof(held[0]));
			nheld--;
			return;
		}
	if (nheld > HELD)
		nheld--; /* one of those past the table */
}

#else

/* Without the check, nothing here (ISO C wants a declaration). */
typedef int ward__lock_check_off;

#endif
