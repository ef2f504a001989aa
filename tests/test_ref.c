/*
 * test_ref.c — references (include/ward/ref.h): finalizers run exactly
 * once, weak gets never revive a finalizing object (also racing the last
 * release from 8 threads), finalizers on their own thread with the
 * monitor's figures, objects still alive reported with the stack that
 * made them, and in checking mode the reference never given back named
 * with the stack that took it.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runner.h"
#include "ward.h"

static atomic_int finalized;
static _Atomic(pthread_t) finalized_on;

static void count_finalize(void *obj, void *arg)
{
	(void)obj;
	atomic_fetch_add(&finalized, 1);
	atomic_store(&finalized_on, pthread_self());
	if (arg)
		*(int *)obj = -1; /* what a finalizer may still touch */
}

TEST(the_last_release_finalizes_once)
{
	atomic_store(&finalized, 0);
	int *o = ward_ref_new(sizeof(int), count_finalize, NULL);
	ASSERT_NOT_NULL(o);
	ASSERT_EQ(*o, 0);
	ASSERT_EQ(ward_ref_count(o), 1);
	ASSERT_TRUE(ward_ref_retain(o) == o);
	ASSERT_EQ(ward_ref_count(o), 2);
	ward_ref_release(o);
	ASSERT_EQ(atomic_load(&finalized), 0);
	ward_ref_release(o);
	ASSERT_EQ(atomic_load(&finalized), 1);
	ward_ref_release(NULL);
	ASSERT_TRUE(ward_ref_retain(NULL) == NULL);
	errno = 0; /* a size no object can have: out of memory, said so */
	ASSERT_TRUE(ward_ref_new(SIZE_MAX, count_finalize, NULL) == NULL);
	ASSERT_EQ(errno, ENOMEM);
}

TEST(a_weak_reference_never_revives_a_finalized_object)
{
	ward_test_capture_log();
	atomic_store(&finalized, 0);
	int *o = ward_ref_new(sizeof(int), count_finalize, NULL);
	*o = 7;
	ward_weak_t *w = ward_weak_new(o);
	int *again = ward_weak_get(w);
	ASSERT_TRUE(again == o);
	ASSERT_EQ(*again, 7);
	ward_ref_release(again);
	ward_ref_release(o); /* the last strong reference */
	ASSERT_EQ(atomic_load(&finalized), 1);
	ASSERT_TRUE(ward_weak_get(w) == NULL);
	ASSERT_TRUE(ward_weak_get(w) == NULL);
	/* Released once too often: the header is still there (the weak
	 * reference holds it), so it is told, not done. */
	ward_ref_release(o);
	ASSERT_CONTAINS(ward_test_logged, "released once too often");
	ASSERT_EQ(atomic_load(&finalized), 1);
	ward_weak_free(w); /* the memory goes now (ASan, valgrind: no leak) */
	ward_weak_free(NULL);
	ASSERT_TRUE(ward_weak_get(NULL) == NULL);
}

/* 8 threads take strong references through a weak one while the owner
 * drops the last: each gets the object or NULL, the finalizer runs once,
 * after every reference a thread got is released. */
struct race {
	ward_weak_t *w;
	atomic_int got;
	atomic_bool go;
};

static atomic_int use_after_finalize;

static void check_finalize(void *obj, void *arg)
{
	(void)arg;
	atomic_fetch_add(&finalized, 1);
	*(volatile int *)obj = -1;
}

static void *racer(void *arg)
{
	struct race *r = arg;
	while (!atomic_load(&r->go))
		sched_yield();
	for (int i = 0; i < 50; i++) {
		int *o = ward_weak_get(r->w);
		if (!o)
			break;
		if (*(volatile int *)o == -1)
			atomic_fetch_add(&use_after_finalize, 1);
		atomic_fetch_add(&r->got, 1);
		ward_ref_release(o);
	}
	return NULL;
}

TEST(weak_gets_racing_the_last_release_finalize_exactly_once)
{
	atomic_store(&use_after_finalize, 0);
	for (int round = 0; round < 60; round++) {
		atomic_store(&finalized, 0);
		int *o = ward_ref_new(sizeof(int), check_finalize, NULL);
		*o = 1;
		struct race r;
		r.w = ward_weak_new(o);
		atomic_init(&r.got, 0);
		atomic_init(&r.go, false);
		pthread_t th[8];
		for (int i = 0; i < 8; i++)
			ASSERT_EQ(pthread_create(&th[i], NULL, racer, &r), 0);
		atomic_store(&r.go, true);
		ward_ref_release(o); /* the owner's last reference */
		for (int i = 0; i < 8; i++)
			pthread_join(th[i], NULL);
		ASSERT_EQ(atomic_load(&finalized), 1);
		ASSERT_TRUE(ward_weak_get(r.w) == NULL);
		ward_weak_free(r.w);
	}
	ASSERT_EQ(atomic_load(&use_after_finalize), 0);
}

TEST(finalizers_on_their_own_thread)
{
	atomic_store(&finalized, 0);
	ASSERT_EQ(ward_ref_finalizer_thread(true), 0);
	struct ward_ref_stats st;
	ward_ref_stats(&st);
	uint64_t before = st.finalized;
	for (int i = 0; i < 100; i++) {
		int *o = ward_ref_new(sizeof(int), count_finalize, NULL);
		ward_ref_release(o);
	}
	ward_ref_drain();
	ward_ref_stats(&st);
	ASSERT_EQ(st.finalized, before + 100);
	ASSERT_EQ(st.pending, 0);
	ASSERT_EQ(atomic_load(&finalized), 100);
	ASSERT_TRUE(!pthread_equal(atomic_load(&finalized_on), pthread_self()));
	ASSERT_EQ(ward_ref_finalizer_thread(false), 0);
	int *o = ward_ref_new(sizeof(int), count_finalize, NULL);
	ward_ref_release(o); /* inline again */
	ASSERT_TRUE(pthread_equal(atomic_load(&finalized_on), pthread_self()));
}

/* A finalizer that waits: the monitor sees it pending, and how long. */
static atomic_bool release_slow;

static void slow_finalize(void *obj, void *arg)
{
	(void)obj;
	(void)arg;
	while (!atomic_load(&release_slow))
		usleep(1000);
}

TEST(the_monitor_sees_finalizers_waiting)
{
	ASSERT_EQ(ward_ref_finalizer_thread(true), 0);
	atomic_store(&release_slow, false);
	int *a = ward_ref_new(sizeof(int), slow_finalize, NULL);
	int *b = ward_ref_new(sizeof(int), count_finalize, NULL);
	ward_ref_release(a);
	ward_ref_release(b);
	usleep(60 * 1000);
	struct ward_ref_stats st;
	ward_ref_stats(&st);
	ASSERT_EQ(st.pending, 2); /* one running, one queued behind it */
	ASSERT_GE(st.oldest_pending_ms, 50);
	atomic_store(&release_slow, true);
	ward_ref_drain();
	ward_ref_stats(&st);
	ASSERT_EQ(st.pending, 0);
	ward_ref_finalizer_thread(false);
}

static __attribute__((noinline)) void *make_and_forget(void)
{
	void *o = ward_ref_new(32, NULL, NULL);
	__asm__ volatile("" ::: "memory");
	return o;
}

TEST(an_object_still_referenced_is_reported_with_its_creation_stack)
{
	ward_leakcheck_t *lc = ward_leakcheck_begin();
	void *o = make_and_forget();
	ward_profile_t *leaks = NULL;
	ASSERT_EQ(ward_leakcheck_end(lc, &leaks), 1);
	struct ward_test_buf b = { 0 };
	ward_profile_write(leaks, WARD_FORMAT_TEXT, ward_test_to_buf, &b);
	ASSERT_CONTAINS(b.p, "ref");
	ASSERT_CONTAINS(b.p, "make_and_forget");
	free(b.p);
	ward_profile_free(leaks);
	struct ward_ref_stats st;
	ward_ref_stats(&st);
	ASSERT_GE(st.alive, 1);
	ward_ref_release(o);
}

/* Who holds a ref a global keeps, and a cycle of three nothing reaches. */
void *held_by_global[2];

void *ref_made_for_the_global(void);
void *ref_made_for_a_cycle(void);

/* Not a tail call: the function stays in the stack ward records. */
__attribute__((noinline)) void *ref_made_for_the_global(void)
{
	void *r = ward_ref_new(40, NULL, NULL);
	__asm__ volatile("" ::: "memory");
	return r;
}

struct link {
	void *pad;
	struct link *next; /* at +0x8 */
};

static void unlink_next(void *obj, void *arg)
{
	(void)arg;
	ward_ref_release(((struct link *)obj)->next);
}

__attribute__((noinline)) void *ref_made_for_a_cycle(void)
{
	void *r = ward_ref_new(sizeof(struct link), unlink_next, NULL);
	__asm__ volatile("" ::: "memory");
	return r;
}

/* The cycle's first member, hidden from the scan (no word holds it). */
enum { HIDE = 0x5a5a5a5a };

static __attribute__((noinline)) uintptr_t make_cycle_and_drop_it(void)
{
	struct link *a = ref_made_for_a_cycle(), *b = ref_made_for_a_cycle(),
		    *c = ref_made_for_a_cycle();
	a->next = b;
	b->next = c;
	c->next = a;
	/* One reference each, held by the one before: nothing else. */
	return (uintptr_t)a ^ HIDE;
}

/* Break it: each is finalized, releasing the next. */
static void break_cycle(uintptr_t hidden)
{
	struct link *a = (struct link *)(hidden ^ HIDE), *b = a->next;
	a->next = NULL;
	ward_ref_release(b);
}

TEST(who_holds_names_the_global_and_cycles_are_found)
{
	held_by_global[1] = ref_made_for_the_global();
	struct ward_test_buf out = { 0 };
	int n = ward_who_holds("ref_made_for_the_global", ward_test_to_buf, &out);
	ASSERT_EQ(n, 1);
	ASSERT_CONTAINS(out.p, "who holds ref 0x");
	ASSERT_CONTAINS(out.p, "acquired at ref_made_for_the_global+");
	ASSERT_CONTAINS(out.p, "): global held_by_global+0x8 (");
	ASSERT_CONTAINS(out.p, ") → the block\n");
	free(out.p);
	ASSERT_EQ(ward_who_holds(NULL, ward_test_to_buf, &out), -EINVAL);

	volatile uintptr_t hidden = make_cycle_and_drop_it();
	out = (struct ward_test_buf){ 0 };
	ASSERT_EQ(ward_ref_cycles(ward_test_to_buf, &out), 1);
	ASSERT_CONTAINS(out.p, "a cycle of 3 refs that nothing reaches");
	ASSERT_CONTAINS(out.p, "→ +0x8 → back to ref 0x");
	int members = 0;
	for (const char *p = out.p; (p = strstr(p, "acquired at ref_made_for_a_cycle+")); p++)
		members++;
	ASSERT_EQ(members, 3);
	free(out.p);
	break_cycle(hidden);
	ward_ref_release(held_by_global[1]);
	held_by_global[1] = NULL;
}

/* Checking mode: which reference keeps an object alive. */
static void *kept[1];

static __attribute__((noinline)) void *make_checked(void)
{
	void *o = ward_ref_new(24, NULL, NULL);
	__asm__ volatile("" ::: "memory");
	return o;
}

static __attribute__((noinline)) void cache_keep(void *o)
{
	kept[0] = ward_ref_retain(o);
	__asm__ volatile("" ::: "memory");
}

static __attribute__((noinline)) void use_briefly(void *o)
{
	void *r = ward_ref_retain(o);
	__asm__ volatile("" ::: "memory");
	ward_ref_release(r);
	__asm__ volatile("" ::: "memory");
}

static __attribute__((noinline)) void peek_through(ward_weak_t *w)
{
	void *r = ward_weak_get(w);
	__asm__ volatile("" ::: "memory");
	ward_ref_release(r);
	__asm__ volatile("" ::: "memory");
}

static int kind_named(const char *name)
{
	for (int k = 0; k < WARD_KIND_MAX; k++) {
		const char *n = ward_kind_name(k);
		if (n && strcmp(n, name) == 0)
			return k;
	}
	return -1;
}

/* The live "retain" records' text report, and how many there are. */
static char *live_retains(ward_profile_t *p, int64_t *count)
{
	struct ward_test_buf b = { 0 };
	*count = 0;
	for (size_t i = 0; i < ward_profile_count(p); i++) {
		const struct ward_sample *s = ward_profile_sample(p, i);
		const char *kind = ward_profile_kind_name(p, s->kind);
		if (kind && strcmp(kind, "retain") == 0)
			*count += s->live_count;
	}
	ward_profile_write(p, WARD_FORMAT_TEXT, ward_test_to_buf, &b);
	return b.p;
}

TEST(checking_mode_names_the_reference_never_released)
{
	ward_ref_check(true);
	ward_leakcheck_t *lc = ward_leakcheck_begin();
	void *o = make_checked();
	ward_weak_t *w = ward_weak_new(o);
	use_briefly(o);
	cache_keep(o);      /* the extra one: never released */
	use_briefly(o);
	peek_through(w);
	ward_ref_release(o); /* the maker's own reference */
	ward_ref_check(false);
	ASSERT_EQ(ward_ref_count(o), 1);

	ward_profile_t *leaks = NULL;
	ASSERT_EQ(ward_leakcheck_end(lc, &leaks), 2); /* the object, its retain */
	int64_t n;
	char *text = live_retains(leaks, &n);
	ASSERT_EQ(n, 1);
	ASSERT_CONTAINS(text, "retain");
	ASSERT_CONTAINS(text, "cache_keep");
	ASSERT_CONTAINS(text, "make_checked"); /* the object's own record */
	ASSERT_TRUE(strstr(text, "use_briefly") == NULL);
	ASSERT_TRUE(strstr(text, "peek_through") == NULL);
	free(text);
	ward_profile_free(leaks);

	ward_ref_release(kept[0]); /* the last: the book ends with it */
	struct ward_kind_stats st;
	ASSERT_EQ(ward_kind_stats(kind_named("retain"), &st), 0);
	ASSERT_EQ(st.live_count, 0);
	ward_weak_free(w);
}

static void *retain_release_many(void *obj)
{
	for (int i = 0; i < 2000; i++) {
		void *r = ward_ref_retain(obj);
		if (i % 3 == 0)
			sched_yield();
		ward_ref_release(r);
	}
	return NULL;
}

TEST(checking_mode_counts_every_reference_under_threads)
{
	ward_ref_check(true);
	void *o = ward_ref_new(8, NULL, NULL);
	ward_ref_check(false);
	int retain = kind_named("retain");
	pthread_t th[4];
	for (int i = 0; i < 4; i++)
		ASSERT_EQ(pthread_create(&th[i], NULL, retain_release_many, o), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	struct ward_kind_stats st;
	ASSERT_EQ(ward_kind_stats(retain, &st), 0);
	ASSERT_EQ(st.live_count, 1); /* the maker's */
	ASSERT_EQ(st.acquired_count, st.released_count + 1);
	ward_ref_release(o);
	ASSERT_EQ(ward_kind_stats(retain, &st), 0);
	ASSERT_EQ(st.live_count, 0);
}
