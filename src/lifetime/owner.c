/*
 * owner.c — owner trees (include/ward/owner.h; the model in docs/owners.md).
 *
 * One lock guards every tree. Release functions run without it, so they
 * may call back into owners; the release walk takes the newest child or
 * resource, unlinks it under the lock, releases it unlocked, and looks
 * again — whatever a release function changed is seen on the next look.
 *
 * Every live owner and every held tracked resource is in one hash table
 * keyed by (kind, handle): an owner pointer is checked there before it is
 * read, so a released owner passed again is an error with both sites, not
 * a use after free; a tracked resource released elsewhere is found there
 * by the release observer and leaves its owner. The same table answers
 * for the owners' own records (the "owner" kind): the registry counts
 * them and leaves them here (ward__kind_kept), one index, not two.
 * Released owners are remembered (a ring of the last RECENT) for those
 * messages.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/grow.h"
#include "core/lock.h"
#include "core/log.h"
#include "lifetime/lifetime.h"
#include "registry/registry.h"
#include "ward/defer.h"
#include "ward/owner.h"
#include "ward/track.h"

enum { KEY_OWNER = -1, KEY_PLAIN = -2, RECENT = 1024, PATH_MAX_LEN = 1024 };

struct node { /* in the table, by (kind, handle) */
	struct node *next;
	int kind;
	uintptr_t handle;
};

struct entry { /* one held resource */
	struct node node; /* kind KEY_PLAIN: not in the table */
	void (*fn)(void *);
	void *arg;
	struct ward_owner *owner; /* NULL: a leftover (below) */
	struct entry *newer, *older;
	uint32_t note;    /* a second stack's site, or 0 */
	bool inline_;     /* the owner's own first entry, not allocated */
	char *label;      /* a leftover's label */
};

struct ward_owner {
	struct node node; /* (KEY_OWNER, address) */
	char *name;                        /* name_inline when it fits */
	char name_inline[32];
	struct entry first;                /* one resource without malloc */
	bool first_used;
	struct ward_owner *parent;
	struct ward_owner *children;       /* newest first */
	struct ward_owner *newer, *older;  /* siblings */
	struct entry *res;                 /* newest first */
	const char *file;                  /* created at */
	int line;
	uint32_t site;                     /* its record's, 0: none */
	bool releasing;
	pthread_t releaser;
};

/* A spinlock: its sections are short (a table probe, a link), and in a
 * program with one thread it costs nothing. Nothing under it starts a
 * thread (a program that never had one does not take it at all). */
static ward__spin_t lock;
static struct node **table;
static size_t table_cap, table_n;
static int owner_kind = -1;

static struct recent {
	uintptr_t owner;
	char name[48];
	const char *file, *made_file;
	int line, made_line;
} recent[RECENT];
static size_t recent_next;
_Static_assert(sizeof(((struct ward_owner *)0)->name_inline) <=
		       sizeof(recent[0].name),
	       "an inline name is copied whole into the ring");

/* ---- The table ---------------------------------------------------------- */

static size_t slot(int kind, uintptr_t handle, size_t cap)
{
	uint64_t h = (uint64_t)handle * 0x9e3779b97f4a7c15ull ^ (uint64_t)kind;
	return (size_t)(h >> 17) & (cap - 1);
}

/* The registry's count of held records (ward__held: a release of a
 * record no owner holds finds 0 there without the lock). Lock held: every
 * writer holds it, so a load and a store, not a locked add; readers load
 * it without the lock. */
static void filter_add(const struct node *n, int delta)
{
	if (n->kind < 0)
		return;
	_Atomic uint16_t *f = ward__held_slot(n->kind, n->handle);
	atomic_store_explicit(f,
			      (uint16_t)(atomic_load_explicit(
						 f, memory_order_relaxed) +
					 delta),
			      memory_order_relaxed);
}

static inline struct node *find(int kind, uintptr_t handle)
{
	if (!table_cap)
		return NULL;
	for (struct node *n = table[slot(kind, handle, table_cap)]; n;
	     n = n->next)
		if (n->kind == kind && n->handle == handle)
			return n;
	return NULL;
}

static int grow(void)
{
	size_t ncap = table_cap ? table_cap * 2 : 256;
	struct node **nt = calloc(ncap, sizeof(*nt));
	if (!nt)
		return -ENOMEM;
	for (size_t i = 0; i < table_cap; i++)
		for (struct node *m = table[i], *next; m; m = next) {
			next = m->next;
			size_t k = slot(m->kind, m->handle, ncap);
			m->next = nt[k];
			nt[k] = m;
		}
	free(table);
	table = nt;
	table_cap = ncap;
	return 0;
}

/* Put n in the table; -EEXIST when its (kind, handle) is there. */
static int put(struct node *n)
{
	if (table_n + 1 > table_cap / 2 && grow() < 0)
		return -ENOMEM;
	struct node **head = &table[slot(n->kind, n->handle, table_cap)];
	for (const struct node *m = *head; m; m = m->next)
		if (m->kind == n->kind && m->handle == n->handle)
			return -EEXIST;
	n->next = *head;
	*head = n;
	table_n++;
	filter_add(n, 1);
	return 0;
}

static void take(struct node *n)
{
	for (struct node **pp = &table[slot(n->kind, n->handle, table_cap)];
	     *pp; pp = &(*pp)->next)
		if (*pp == n) {
			*pp = n->next;
			table_n--;
			filter_add(n, -1);
			return;
		}
}

/* Released owners' memory, kept for the next owners (lock held): making
 * and releasing an owner then costs no malloc and free. Only an owner's
 * memory comes back here, once its record is gone; a released owner's
 * address is still refused by live() until it is an owner again, as
 * malloc reusing it would have made it. */
enum { SPARE = 64 };
static struct ward_owner *spare;
static unsigned nspare;

static struct ward_owner *take_spare(void)
{
	ward__spin_take(&lock);
	struct ward_owner *o = spare;
	if (o) {
		spare = o->older;
		nspare--;
	}
	ward__spin_drop(&lock);
	return o;
}

static void give_back(struct ward_owner *o)
{
	ward__guard_raise();
	if (o->name != o->name_inline)
		free(o->name);
	ward__spin_take(&lock);
	bool kept = nspare < SPARE;
	if (kept) {
		o->older = spare;
		spare = o;
		nspare++;
	}
	ward__spin_drop(&lock);
	if (!kept)
		free(o);
	ward__guard_lower();
}

/* The owner last found live (lock held to read or write it): the next
 * call is most often for the same owner, and then costs one compare, not
 * a probe of the table. Cleared when that owner is released, before its
 * memory can go back. */
static struct ward_owner *live_last;

static __attribute__((noinline)) struct ward_owner *
live_lookup(const ward_owner_t *o)
{
	struct node *n = o ? find(KEY_OWNER, (uintptr_t)o) : NULL;
	if (n)
		live_last = (struct ward_owner *)n;
	return n ? (struct ward_owner *)n : NULL;
}

/* o if it is a live owner, else NULL (lock held). The check of the last
 * one found is inline: most calls end there. */
static inline struct ward_owner *live(const ward_owner_t *o)
{
	if (__builtin_expect(o && o == live_last, 1))
		return live_last;
	return live_lookup(o);
}

static const struct recent *recently_released(const void *o)
{
	for (size_t i = 0; i < RECENT; i++) {
		const struct recent *r = &recent[(recent_next - 1 - i) % RECENT];
		if (r->owner == (uintptr_t)o)
			return r;
	}
	return NULL;
}

/* "owner "NAME" (created at F:L) was released at F:L" or why not. */
static void describe_dead(const void *o, char *buf, size_t len)
{
	const struct recent *r = recently_released(o);
	if (r)
		snprintf(buf, len, "owner \"%s\" (created at %s:%d) was "
				   "released at %s:%d",
			 r->name, r->made_file, r->made_line, r->file, r->line);
	else
		snprintf(buf, len, "%p is not a live owner", o);
}

/* ---- Observers: resources released elsewhere leave their owner ---------- */

static void unlink_entry(struct entry *e)
{
	struct ward_owner *o = e->owner;
	if (e->newer)
		e->newer->older = e->older;
	else
		o->res = e->older;
	if (e->older)
		e->older->newer = e->newer;
	e->newer = e->older = NULL;
	if (e->node.kind != KEY_PLAIN)
		take(&e->node);
}

/* e left its owner (lock held): whether it is to be freed once its
 * release ran; the owner's own first entry is given back instead. */
static bool retire(struct entry *e)
{
	if (!e->inline_)
		return true;
	e->owner->first_used = false;
	return false;
}

static void free_entry(struct entry *e)
{
	ward__guard_raise();
	free(e->label);
	free(e);
	ward__guard_lower();
}

static void link_entry(struct ward_owner *o, struct entry *e)
{
	e->owner = o;
	e->newer = NULL;
	e->older = o->res;
	if (o->res)
		o->res->newer = e;
	o->res = e;
}

static void drop_leftover(struct entry *e);

static void released_elsewhere(int kind, uintptr_t handle, uint32_t site)
{
	(void)site;
	if (!ward__held_maybe(kind, handle))
		return; /* no owner holds it (a leak check asked for all) */
	ward__spin_take(&lock);
	struct node *n = find(kind, handle);
	struct entry *e = n ? (struct entry *)n : NULL;
	bool to_free = false;
	if (e && e->owner) {
		unlink_entry(e);
		to_free = retire(e);
	} else if (e) {
		drop_leftover(e);
		to_free = true;
	}
	ward__spin_drop(&lock);
	if (to_free)
		free_entry(e);
}

static struct ward__release_observer observer = {
	.released = released_elsewhere
};

/* ---- Paths, for messages and the snapshot's labels ---------------------- */

static size_t path_of(const struct ward_owner *o, char *buf, size_t len)
{
	size_t n = 0;
	if (o->parent)
		n = path_of(o->parent, buf, len);
	if (n && n + 1 < len)
		buf[n] = '/';
	n += n ? 1 : 0;
	size_t k = strlen(o->name);
	if (n < len)
		memcpy(buf + n, o->name, n + k < len ? k : len - n - 1);
	n += k;
	if (len)
		buf[n < len ? n : len - 1] = '\0';
	return n;
}

static void each_held(ward__held_fn fn, void *opaque)
{
	char path[PATH_MAX_LEN];
	ward__spin_take(&lock);
	for (size_t i = 0; i < table_cap; i++)
		for (struct node *n = table[i]; n; n = n->next) {
			if (n->kind == KEY_OWNER) {
				/* An owner is held by its parent. */
				struct ward_owner *o = (struct ward_owner *)n;
				if (!o->parent || !o->site)
					continue; /* no record */
				path_of(o->parent, path, sizeof(path));
				fn(owner_kind, n->handle, path, 0, o->site,
				   opaque);
			} else {
				struct entry *e = (struct entry *)n;
				if (e->owner)
					path_of(e->owner, path, sizeof(path));
				fn(n->kind, n->handle,
				   e->owner ? path : e->label, e->note, 0,
				   opaque);
			}
		}
	ward__spin_drop(&lock);
}

static const struct ward__holders holders = { .each = each_held };

/* ---- The owners' records (ward__kind_kept) ------------------------------ */

static void each_owner(ward__record_fn fn, void *opaque)
{
	ward__spin_take(&lock);
	for (size_t i = 0; i < table_cap; i++)
		for (struct node *n = table[i]; n; n = n->next) {
			const struct ward_owner *o = (struct ward_owner *)n;
			if (n->kind == KEY_OWNER && o->site)
				fn(n->handle, o->site, 0, opaque);
		}
	ward__spin_drop(&lock);
}

static bool find_owner(uintptr_t handle, uint32_t *site, uint64_t *size)
{
	ward__spin_take(&lock);
	const struct node *n = find(KEY_OWNER, handle);
	uint32_t s = n ? ((const struct ward_owner *)n)->site : 0;
	ward__spin_drop(&lock);
	if (!s)
		return false;
	*site = s;
	*size = 0;
	return true;
}

/* In a forked child whose books start empty: the owners it inherited
 * stay owners, with no record (the lock is the forking thread's, this
 * one's, until the fork handlers drop it). */
static void forget_owners(void)
{
	for (size_t i = 0; i < table_cap; i++)
		for (struct node *n = table[i]; n; n = n->next)
			if (n->kind == KEY_OWNER)
				((struct ward_owner *)n)->site = 0;
}

static const struct ward__kept_books owner_books = {
	.each = each_owner,
	.find = find_owner,
	.forget = forget_owners,
};

/* ---- Owners ------------------------------------------------------------- */

static void link_child(struct ward_owner *parent, struct ward_owner *c)
{
	c->parent = parent;
	c->newer = NULL;
	c->older = parent ? parent->children : NULL;
	if (parent) {
		if (parent->children)
			parent->children->newer = c;
		parent->children = c;
	}
}

static void unlink_child(struct ward_owner *c)
{
	if (c->newer)
		c->newer->older = c->older;
	else if (c->parent)
		c->parent->children = c->older;
	if (c->older)
		c->older->newer = c->newer;
	c->parent = c->newer = c->older = NULL;
}

static pthread_once_t setup_once = PTHREAD_ONCE_INIT;

static void fork_prepare(void)
{
	ward__spin_take(&lock);
}

static void fork_done(void)
{
	ward__spin_drop(&lock);
}

static void setup(void)
{
	/* The tree's lock is held across fork(): a child never inherits it
	 * held by a thread that did not come along. */
	ward__registry_fork_handlers();
	pthread_atfork(fork_prepare, fork_done, fork_done);
	owner_kind = ward_kind_register("owner");
	ward__kind_kept(owner_kind, &owner_books);
	ward__observer_add(&observer);
	/* Wanted from now on, for the records an owner holds: a release of
	 * one no owner holds costs a load in ward__held. */
	ward__observers_want_held();
	ward__holders_set(&holders);
}

WARD_API __attribute__((noinline)) ward_owner_t *
ward__owner_new(ward_owner_t *parent, const char *name, const char *file,
		int line)
{
	pthread_once(&setup_once, setup);
	if (!name)
		name = "owner";
	size_t nlen = strlen(name);
	struct ward_owner *o = take_spare();
	ward__guard_raise();
	if (!o)
		o = malloc(sizeof(*o));
	char *copy = nlen < sizeof(o->name_inline) ? NULL : strdup(name);
	ward__guard_lower();
	if (!o || (nlen >= sizeof(o->name_inline) && !copy)) {
		free(o);
		free(copy);
		errno = ENOMEM;
		return NULL;
	}
	/* Field by field, not a memset: a 216-byte memset is a `rep stos`,
	 * whose start-up cost was the largest part of making an owner. */
	o->node = (struct node){ .kind = KEY_OWNER, .handle = (uintptr_t)o };
	o->first = (struct entry){ .inline_ = true };
	o->first_used = false;
	o->parent = o->children = o->newer = o->older = NULL;
	o->res = NULL;
	o->releasing = false;
	o->releaser = 0;
	if (copy) {
		o->name = copy;
	} else {
		memcpy(o->name_inline, name, nlen + 1);
		o->name = o->name_inline;
	}
	o->file = file;
	o->line = line;
	/* Counted before anyone can see it: a parent released meanwhile
	 * finds a record to take away. */
	o->site = owner_kind >= 0 ? ward__track_kept(owner_kind, 1) : 0;

	ward__spin_take(&lock);
	struct ward_owner *p = parent ? live(parent) : NULL;
	int err = 0;
	char why[256];
	why[0] = '\0';
	if (parent && (!p || p->releasing)) {
		if (p)
			snprintf(why, sizeof(why), "owner \"%s\" (created at "
				 "%s:%d) is being released", p->name, p->file,
				 p->line);
		else
			describe_dead(parent, why, sizeof(why));
		err = EINVAL;
	} else {
		ward__guard_raise();
		err = put(&o->node) < 0 ? ENOMEM : 0;
		ward__guard_lower();
	}
	if (!err) {
		link_child(p, o);
		live_last = o; /* its first attach is next, most often */
	}
	ward__spin_drop(&lock);
	if (err) {
		if (why[0])
			ward__log(WARD_LOG_WARN, "ward: ward_owner_new(\"%s\") "
				  "at %s:%d under a parent that cannot take "
				  "it: %s\n", o->name, file, line, why);
		ward__untrack_kept(owner_kind, (uintptr_t)o, o->site);
		free(copy);
		free(o);
		errno = err;
		return NULL;
	}
	__asm__ volatile("" ::: "memory");
	return o;
}

/* While another thread releases a child: yield, then sleep up to 1 ms at a
 * time (its release functions may take long: a thread joined). */
static void wait_a_little(unsigned *waits)
{
	if (++*waits < 100) {
		sched_yield();
		return;
	}
	unsigned us = *waits < 1100 ? *waits - 99 : 1000;
	nanosleep(&(struct timespec){ 0, (long)us * 1000 }, NULL);
}

/* Release o, whose `releasing` the caller set under the lock (held now);
 * returns with the lock released. file:line is where the release began. */
static void release_locked(struct ward_owner *o, const char *file, int line)
{
	unsigned waits = 0;
	for (;;) {
		struct ward_owner *c = o->children;
		if (c) {
			if (c->releasing) {
				if (pthread_equal(c->releaser, pthread_self())) {
					/* Its release function released o:
					 * it finishes on its own. */
					unlink_child(c);
					continue;
				}
				/* Another thread releases it: wait for it. */
				ward__spin_drop(&lock);
				wait_a_little(&waits);
				ward__spin_take(&lock);
				continue;
			}
			c->releasing = true;
			c->releaser = pthread_self();
			release_locked(c, file, line);
			ward__spin_take(&lock);
			continue;
		}
		struct entry *e = o->res;
		if (!e)
			break;
		unlink_entry(e);
		void (*fn)(void *) = e->fn;
		void *arg = e->arg;
		bool to_free = retire(e);
		ward__spin_drop(&lock);
		fn(arg);
		if (to_free)
			free_entry(e);
		ward__spin_take(&lock);
	}
	unlink_child(o);
	take(&o->node);
	if (live_last == o)
		live_last = NULL;
	struct recent *r = &recent[recent_next++ % RECENT];
	r->owner = (uintptr_t)o;
	if (o->name == o->name_inline) { /* shorter than r->name */
		memcpy(r->name, o->name_inline, sizeof(o->name_inline));
	} else {
		size_t nl = strnlen(o->name, sizeof(r->name) - 1);
		memcpy(r->name, o->name, nl);
		r->name[nl] = '\0';
	}
	r->made_file = o->file;
	r->made_line = o->line;
	r->file = file;
	r->line = line;
	uint32_t site = o->site;
	ward__spin_drop(&lock);
	ward__untrack_kept(owner_kind, (uintptr_t)o, site);
	give_back(o);
}

WARD_API int ward__owner_release(ward_owner_t *owner, const char *file,
				 int line)
{
	if (!owner)
		return 0;
	ward__spin_take(&lock);
	struct ward_owner *o = live(owner);
	if (!o || o->releasing) {
		char why[256];
		if (o)
			snprintf(why, sizeof(why), "owner \"%s\" (created at "
				 "%s:%d) is being released now", o->name,
				 o->file, o->line);
		else
			describe_dead(owner, why, sizeof(why));
		bool known = o || recently_released(owner);
		ward__spin_drop(&lock);
		ward__log(WARD_LOG_WARN, "ward: ward_owner_release at %s:%d "
			  "released an owner twice: %s\n", file, line, why);
		return known ? -EALREADY : -EINVAL;
	}
	o->releasing = true;
	o->releaser = pthread_self();
	release_locked(o, file, line);
	return 0;
}

/* An attach to what is not a live owner (lock held; dropped). */
static __attribute__((noinline, cold)) int
refuse_dead(ward_owner_t *owner, const char *what, const char *file, int line)
{
	char why[256];
	describe_dead(owner, why, sizeof(why));
	ward__spin_drop(&lock);
	ward__log(WARD_LOG_WARN, "ward: %s at %s:%d to an owner that cannot "
		  "take it: %s\n", what, file, line, why);
	return -EINVAL;
}

static inline void fill_entry(struct entry *e, int kind, uintptr_t handle,
			      void (*fn)(void *), void *arg)
{
	e->fn = fn;
	e->arg = arg;
	e->note = 0;
	e->node.kind = kind;
	e->node.handle = handle;
}

static int add_entry(ward_owner_t *owner, int kind, uintptr_t handle,
		     void (*fn)(void *), void *arg, const char *what,
		     const char *file, int line)
{
	if (!fn)
		return -EINVAL;
	ward__spin_take(&lock);
	struct ward_owner *o = live(owner);
	if (!o)
		return refuse_dead(owner, what, file, line);
	struct entry *e = &o->first;
	if (o->first_used) {
		ward__guard_raise();
		e = calloc(1, sizeof(*e));
		ward__guard_lower();
		if (!e) {
			ward__spin_drop(&lock);
			return -ENOMEM;
		}
	} else {
		o->first_used = true;
	}
	fill_entry(e, kind, handle, fn, arg);
	int rc = 0;
	if (kind != KEY_PLAIN) { /* -EEXIST when another holds it */
		ward__guard_raise();
		rc = put(&e->node);
		ward__guard_lower();
	}
	if (rc == 0)
		link_entry(o, e);
	else if (e == &o->first) { /* never linked: given back as it is */
		o->first_used = false;
		e = NULL;
	}
	ward__spin_drop(&lock);
	if (rc < 0 && e)
		free_entry(e);
	return rc;
}

WARD_API int ward__owner_attach(ward_owner_t *owner, void (*fn)(void *),
				void *arg, const char *file, int line)
{
	/* The common case first, with nothing to save around a call: a
	 * live owner whose own entry is free. */
	ward__spin_take(&lock);
	struct ward_owner *o = live(owner);
	if (fn && o && !o->first_used) {
		o->first_used = true;
		fill_entry(&o->first, KEY_PLAIN, 0, fn, arg);
		link_entry(o, &o->first);
		ward__spin_drop(&lock);
		return 0;
	}
	ward__spin_drop(&lock);
	return add_entry(owner, KEY_PLAIN, 0, fn, arg, "ward_owner_attach",
			 file, line);
}

WARD_API int ward__owner_hold(ward_owner_t *o, int kind, uintptr_t handle,
			      void (*fn)(void *), void *arg, const char *file,
			      int line)
{
	if (kind < 0 || kind >= WARD_KIND_MAX)
		return -EINVAL;
	pthread_once(&setup_once, setup);
	return add_entry(o, kind, handle, fn, arg, "ward_owner_hold", file,
			 line);
}

static struct entry *find_entry(struct ward_owner *o, void (*fn)(void *),
				void *arg)
{
	for (struct entry *e = o->res; e; e = e->older)
		if (e->arg == arg && (!fn || e->fn == fn))
			return e;
	return NULL;
}

/* Take o's newest entry for (fn, arg) out of o: its release function in
 * *release (an owner's inline entry is reused once the lock is dropped),
 * and in *to_free the entry to free after, if any. 0, -EINVAL or
 * -ENOENT. */
static int take_entry(ward_owner_t *owner, void (*fn)(void *), void *arg,
		      void (**release)(void *), struct entry **to_free)
{
	ward__spin_take(&lock);
	struct ward_owner *o = live(owner);
	struct entry *e = o ? find_entry(o, fn, arg) : NULL;
	if (e) {
		unlink_entry(e);
		*release = e->fn;
		*to_free = retire(e) ? e : NULL;
	}
	ward__spin_drop(&lock);
	return !o ? -EINVAL : !e ? -ENOENT : 0;
}

WARD_API int ward_owner_detach(ward_owner_t *owner, void (*fn)(void *),
			       void *arg)
{
	void (*release)(void *);
	struct entry *to_free;
	int rc = take_entry(owner, fn, arg, &release, &to_free);
	if (rc == 0 && to_free)
		free_entry(to_free);
	return rc;
}

WARD_API int ward_owner_release_one(ward_owner_t *owner, void (*fn)(void *),
				    void *arg)
{
	void (*release)(void *);
	struct entry *to_free;
	int rc = take_entry(owner, fn, arg, &release, &to_free);
	if (rc < 0)
		return rc;
	release(arg);
	if (to_free)
		free_entry(to_free);
	return 0;
}

WARD_API int ward_owner_move(ward_owner_t *from, ward_owner_t *to,
			     void (*fn)(void *), void *arg)
{
	ward__spin_take(&lock);
	struct ward_owner *f = live(from), *t = live(to);
	int rc = 0;
	if (!f || !t || t->releasing) {
		rc = -EINVAL;
	} else {
		struct entry *e = find_entry(f, fn, arg);
		struct entry *moved = e;
		if (e && e->inline_) {
			/* It lives in from: to gets a copy of its own. */
			ward__guard_raise();
			moved = calloc(1, sizeof(*moved));
			ward__guard_lower();
		}
		if (!e) {
			rc = -ENOENT;
		} else if (!moved) {
			rc = -ENOMEM;
		} else {
			unlink_entry(e);
			if (moved != e) {
				moved->fn = e->fn;
				moved->arg = e->arg;
				moved->note = e->note;
				moved->node.kind = e->node.kind;
				moved->node.handle = e->node.handle;
				retire(e);
				if (moved->node.kind != KEY_PLAIN) {
					ward__guard_raise();
					rc = put(&moved->node);
					ward__guard_lower();
				}
			}
			if (rc == 0)
				link_entry(t, moved);
			else
				free_entry(moved);
		}
	}
	ward__spin_drop(&lock);
	return rc;
}

WARD_API int ward__owner_reparent(ward_owner_t *owner, ward_owner_t *parent,
				  const char *file, int line)
{
	ward__spin_take(&lock);
	struct ward_owner *o = live(owner), *p = parent ? live(parent) : NULL;
	if (!o || (parent && !p) || o->releasing || (p && p->releasing)) {
		ward__spin_drop(&lock);
		return -EINVAL;
	}
	for (struct ward_owner *a = p; a; a = a->parent)
		if (a == o) {
			char op[PATH_MAX_LEN], pp[PATH_MAX_LEN];
			path_of(o, op, sizeof(op));
			path_of(p, pp, sizeof(pp));
			ward__spin_drop(&lock);
			ward__log(WARD_LOG_WARN, "ward: ward_owner_reparent at "
				  "%s:%d would move owner \"%s\" (created at "
				  "%s:%d) under its own descendant \"%s\" "
				  "(created at %s:%d)\n",
				  file, line, op, o->file, o->line, pp,
				  p->file, p->line);
			return -ELOOP;
		}
	unlink_child(o);
	link_child(p, o);
	ward__spin_drop(&lock);
	return 0;
}

WARD_API const char *ward_owner_name(const ward_owner_t *o)
{
	return o ? o->name : NULL;
}

WARD_API int ward_owner_path(const ward_owner_t *owner, char *buf, size_t len)
{
	if (!buf)
		return -EINVAL;
	ward__spin_take(&lock);
	struct ward_owner *o = live(owner);
	size_t n = o ? path_of(o, buf, len) : 0;
	ward__spin_drop(&lock);
	if (!o)
		return -EINVAL;
	return n > INT32_MAX ? INT32_MAX : (int)n;
}

/* ---- Leftovers: held records whose owner is gone ------------------------ */

/* A leftover is an entry in the table with no owner: it labels a record
 * that outlived its owner (a leaked thread) until the record goes. */
static void drop_leftover(struct entry *e)
{
	take(&e->node);
}

int ward__owner_leftover(int kind, uintptr_t handle, const char *label,
			 uint32_t note)
{
	pthread_once(&setup_once, setup);
	ward__guard_raise();
	struct entry *e = calloc(1, sizeof(*e));
	char *copy = strdup(label);
	ward__guard_lower();
	if (!e || !copy) {
		free(e);
		free(copy);
		return -ENOMEM;
	}
	e->node.kind = kind;
	e->node.handle = handle;
	e->label = copy;
	e->note = note;
	ward__spin_take(&lock);
	int rc = find(kind, handle) ? -EEXIST : 0;
	if (rc == 0) {
		ward__guard_raise();
		rc = put(&e->node);
		ward__guard_lower();
	}
	ward__spin_drop(&lock);
	if (rc < 0) {
		free(copy);
		free(e);
	}
	return rc;
}

/* ---- The frame's owner -------------------------------------------------- */

/* Per thread, the owners of open frames that asked for one, innermost
 * last, each with the frame it belongs to. */
struct frame_owner {
	uint32_t depth;
	uint32_t base;
	uintptr_t var;
	struct ward_owner *o;
};
static __thread struct frame_owner *frame_owners;
static __thread size_t nframe_owners, capframe_owners;

static void frame_owner_end(void *arg)
{
	struct ward_owner *o = arg;
	if (nframe_owners && frame_owners[nframe_owners - 1].o == o)
		nframe_owners--;
	ward__owner_release(o, "(end of frame)", 0);
}

WARD_API ward_owner_t *ward_owner_frame(void)
{
	struct ward__thread *t = &ward__self;
	if (t->depth == 0)
		return NULL;
	const struct ward__frame *f = &t->frames[t->depth - 1];
	/* Owners of frames that ended without running their defers (left
	 * by longjmp) are dropped from the list. */
	while (nframe_owners &&
	       frame_owners[nframe_owners - 1].depth > t->depth)
		nframe_owners--;
	if (nframe_owners) {
		struct frame_owner *fo = &frame_owners[nframe_owners - 1];
		if (fo->depth == t->depth && fo->base == f->base &&
		    fo->var == f->var)
			return fo->o;
		if (fo->depth == t->depth)
			nframe_owners--;
	}
	char name[160];
	snprintf(name, sizeof(name), "frame %s",
		 f->site && f->site->func ? f->site->func : "?");
	ward__guard_raise();
	struct frame_owner *v = ward__grow(frame_owners, &capframe_owners,
					   nframe_owners + 1, sizeof(*v), 8);
	ward__guard_lower();
	if (!v)
		return NULL;
	frame_owners = v;
	struct ward_owner *o = ward__owner_new(
		NULL, name, f->site ? f->site->file : "?",
		f->site ? f->site->line : 0);
	if (!o)
		return NULL;
	ward_defer(frame_owner_end, o);
	frame_owners[nframe_owners++] = (struct frame_owner){
		t->depth, f->base, f->var, o
	};
	return o;
}

/* ---- Tracked acquisitions held by an owner ------------------------------ */

static void free_block(void *p)
{
	ward_free(p);
}

static void close_fd(void *fd)
{
	ward_close((int)(intptr_t)fd);
}

static void close_file(void *f)
{
	ward_fclose(f);
}

/* Hold a block the caller just allocated and recorded; free it when that
 * fails. */
static void *hold_block(ward_owner_t *o, void *p)
{
	int rc = p ? add_entry(o, WARD_KIND_HEAP, (uintptr_t)p, free_block,
			       p, "ward_owner_malloc", "?", 0)
		   : 0;
	if (rc < 0) {
		ward_free(p);
		errno = -rc;
		return NULL;
	}
	return p;
}

static bool usable(ward_owner_t *owner)
{
	ward__spin_take(&lock);
	struct ward_owner *o = live(owner);
	bool ok = o && !o->releasing;
	ward__spin_drop(&lock);
	if (!ok)
		errno = EINVAL;
	return ok;
}

WARD_API __attribute__((noinline)) void *ward_owner_malloc(ward_owner_t *o,
							   size_t size)
{
	if (!usable(o))
		return NULL;
	void *p = malloc(size);
	ward__heap_acquired(p, size, 1);
	p = hold_block(o, p);
	__asm__ volatile("" ::: "memory");
	return p;
}

WARD_API __attribute__((noinline)) void *ward_owner_calloc(ward_owner_t *o,
							   size_t n,
							   size_t size)
{
	if (!usable(o))
		return NULL;
	void *p = calloc(n, size);
	ward__heap_acquired(p, n * size, 1);
	p = hold_block(o, p);
	__asm__ volatile("" ::: "memory");
	return p;
}

WARD_API __attribute__((noinline)) char *ward_owner_strdup(ward_owner_t *o,
							   const char *s)
{
	if (!s) {
		errno = EINVAL;
		return NULL;
	}
	if (!usable(o))
		return NULL;
	size_t n = strlen(s) + 1;
	char *p = malloc(n);
	if (p)
		memcpy(p, s, n);
	ward__heap_acquired(p, n, 1);
	p = hold_block(o, p);
	__asm__ volatile("" ::: "memory");
	return p;
}

WARD_API __attribute__((noinline)) void *ward_owner_realloc(ward_owner_t *o,
							    void *ptr,
							    size_t size)
{
	if (!ptr)
		return ward_owner_malloc(o, size);
	if (!usable(o))
		return NULL;
	/* Let go of the old block, move it, hold the new one. */
	ward_owner_detach(o, free_block, ptr);
	void *p = ward_realloc(ptr, size);
	if (!p) {
		if (size)
			hold_block(o, ptr); /* still the caller's */
		return NULL;
	}
	p = hold_block(o, p);
	__asm__ volatile("" ::: "memory");
	return p;
}

WARD_API __attribute__((noinline)) int ward_owner_open(ward_owner_t *o,
						       const char *path,
						       int flags, ...)
{
	mode_t mode = 0;
	if (flags & (O_CREAT | O_TMPFILE)) {
		va_list ap;
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	if (!usable(o))
		return -1;
	int fd = ward__open_at(path, flags, mode, 1);
	if (fd < 0)
		return -1;
	if (ward__owner_hold(o, WARD_KIND_FD, (uintptr_t)fd, close_fd,
			     (void *)(intptr_t)fd, "ward_owner_open", 0) < 0) {
		ward_close(fd);
		errno = ENOMEM;
		return -1;
	}
	__asm__ volatile("" ::: "memory");
	return fd;
}

WARD_API __attribute__((noinline)) FILE *ward_owner_fopen(ward_owner_t *o,
							  const char *path,
							  const char *mode)
{
	if (!path || !mode) {
		errno = EINVAL;
		return NULL;
	}
	if (!usable(o))
		return NULL;
	FILE *f = fopen(path, mode);
	if (!f)
		return NULL;
	ward__track_at(WARD_KIND_FILE, (uintptr_t)f, 0, 1);
	if (ward__owner_hold(o, WARD_KIND_FILE, (uintptr_t)f, close_file, f,
			     "ward_owner_fopen", 0) < 0) {
		ward_fclose(f);
		errno = ENOMEM;
		return NULL;
	}
	__asm__ volatile("" ::: "memory");
	return f;
}
