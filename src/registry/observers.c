/*
 * observers.c — who is told when a record leaves the live set, who holds
 * records (owners), for the snapshots that label them, and whose objects
 * keep figures a snapshot copies (pools, the finalizer queue).
 *
 * The list only grows: an observer is added once and stays (its storage
 * is static), so a release walks it without a lock while another thread
 * adds one.
 */
#include <stdatomic.h>
#include <stddef.h>

#include "registry/registry.h"

_Atomic int ward__observers_wanted;
_Atomic uint16_t ward__held[1 << WARD__HELD_BITS];
static struct ward__release_observer *_Atomic observers;

void ward__observer_add(struct ward__release_observer *o)
{
	if (atomic_exchange(&o->added, true))
		return;
	struct ward__release_observer *head = atomic_load(&observers);
	do
		atomic_store_explicit(&o->next, head, memory_order_relaxed);
	while (!atomic_compare_exchange_weak(&observers, &head, o));
}

void ward__observers_want(int delta)
{
	atomic_fetch_add(&ward__observers_wanted, 2 * delta);
}

void ward__observers_want_held(void)
{
	atomic_fetch_or(&ward__observers_wanted, 1);
}

void ward__observers_notify(int kind, uintptr_t handle, uint32_t site)
{
	for (struct ward__release_observer *o = atomic_load(&observers); o;
	     o = atomic_load_explicit(&o->next, memory_order_acquire))
		o->released(kind, handle, site);
}

static const struct ward__holders *_Atomic holders;

void ward__holders_set(const struct ward__holders *h)
{
	atomic_store(&holders, h);
}

const struct ward__holders *ward__holders_get(void)
{
	return atomic_load(&holders);
}

static struct ward__figure_source *_Atomic figure_sources;

void ward__figure_source_add(struct ward__figure_source *s)
{
	if (atomic_exchange(&s->added, true))
		return;
	struct ward__figure_source *head = atomic_load(&figure_sources);
	do
		atomic_store_explicit(&s->next, head, memory_order_relaxed);
	while (!atomic_compare_exchange_weak(&figure_sources, &head, s));
}

void ward__figures_each(ward__figure_fn fn, void *opaque)
{
	for (struct ward__figure_source *s = atomic_load(&figure_sources); s;
	     s = atomic_load_explicit(&s->next, memory_order_acquire))
		s->each(fn, opaque);
}
