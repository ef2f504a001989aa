/*
 * test_owner.c — owner trees (include/ward/owner.h): release order,
 * exactly-once under release functions that change the tree, resources
 * released elsewhere, move/detach/reparent, every misuse error, the frame's
 * owner, owners as a tracked kind, and the owner path on samples through
 * text, JSON, pprof and the real go tool pprof.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runner.h"
#include "ward.h"

/* ---- What happened, in order ------------------------------------------- */

static char trace[8192];

static void mark(void *word)
{
	strncat(trace, (const char *)word, sizeof(trace) - strlen(trace) - 2);
	strcat(trace, " ");
}

static void start(void)
{
	trace[0] = '\0';
	ward_test_capture_log();
}

/* ---- Release order ------------------------------------------------------ */

TEST(release_runs_children_newest_first_then_resources_newest_first)
{
	start();
	ward_owner_t *top = ward_owner_new(NULL, "top");
	ASSERT_NOT_NULL(top);
	ward_owner_attach(top, mark, "top-r1");
	ward_owner_t *a = ward_owner_new(top, "a");
	ward_owner_attach(a, mark, "a-r1");
	ward_owner_attach(a, mark, "a-r2");
	ward_owner_attach(top, mark, "top-r2");
	ward_owner_t *b = ward_owner_new(top, "b");
	ward_owner_attach(b, mark, "b-r1");
	ward_owner_t *b1 = ward_owner_new(b, "b1");
	ward_owner_attach(b1, mark, "b1-r1");
	ASSERT_EQ(ward_owner_release(top), 0);
	ASSERT_STREQ(trace, "b1-r1 b-r1 a-r2 a-r1 top-r2 top-r1 ");
	ASSERT_EQ(ward_owner_release(NULL), 0);
}

/* ---- Exactly once, whatever the release functions do -------------------- */

static ward_owner_t *reentrant_owner;

static void attach_more(void *word)
{
	mark(word);
	/* Attaching to the owner being released: released too, once. */
	ward_owner_attach(reentrant_owner, mark, "late");
}

static void release_sibling(void *owner)
{
	mark("release-sibling");
	ASSERT_EQ(ward_owner_release((ward_owner_t *)owner), 0);
}

static void detach_other(void *word)
{
	mark(word);
	ASSERT_EQ(ward_owner_detach(reentrant_owner, mark, "detached"), 0);
}

TEST(release_functions_may_attach_and_release_without_double_release)
{
	start();
	ward_owner_t *o = ward_owner_new(NULL, "o");
	reentrant_owner = o;
	ward_owner_t *sib = ward_owner_new(o, "sib");
	ward_owner_attach(sib, mark, "sib-r");
	ward_owner_attach(o, mark, "first");
	ward_owner_attach(o, mark, "detached");
	ward_owner_attach(o, detach_other, "detacher");
	ward_owner_attach(o, attach_more, "attacher");
	ward_owner_t *c = ward_owner_new(o, "c");
	/* c's release function releases its sibling before the walk gets
	 * there: the walk must not release it again. */
	ward_owner_attach(c, release_sibling, sib);
	ASSERT_EQ(ward_owner_release(o), 0);
	ASSERT_STREQ(trace, "release-sibling sib-r attacher late detacher "
			    "first ");
	ASSERT_EQ(ward_test_logged[0], '\0');
}

/* A release function that releases its own owner: refused, no loop. */
static ward_owner_t *self_releasing;

static void release_own_owner(void *unused)
{
	ASSERT_EQ(ward_owner_release(self_releasing), -EALREADY);
	mark("tried");
}

TEST(a_release_function_releasing_its_own_owner_is_refused)
{
	start();
	self_releasing = ward_owner_new(NULL, "self");
	ward_owner_attach(self_releasing, release_own_owner, NULL);
	ASSERT_EQ(ward_owner_release(self_releasing), 0);
	ASSERT_STREQ(trace, "tried ");
	ASSERT_CONTAINS(ward_test_logged, "is being released now");
}

/* ---- Tracked resources released elsewhere -------------------------------- */

TEST(a_block_freed_by_the_program_leaves_its_owner)
{
	start();
	ward_owner_t *o = ward_owner_new(NULL, "blocks");
	char *kept = ward_owner_malloc(o, 100);
	char *freed = ward_owner_malloc(o, 200);
	char *dup = ward_owner_strdup(o, "text");
	ASSERT_NOT_NULL(kept);
	ASSERT_NOT_NULL(freed);
	ASSERT_STREQ(dup, "text");
	int fd = ward_owner_open(o, "/dev/null", O_RDONLY);
	ASSERT_GE(fd, 0);
	FILE *f = ward_owner_fopen(o, "/dev/null", "r");
	ASSERT_NOT_NULL(f);
	ward_free(freed);   /* never freed again by the owner */
	ASSERT_EQ(ward_close(fd), 0);
	struct ward_kind_stats st;
	ward_kind_stats(WARD_KIND_HEAP, &st);
	uint64_t live_before = st.live_count;
	ASSERT_EQ(ward_owner_release(o), 0);
	ward_kind_stats(WARD_KIND_HEAP, &st);
	ASSERT_EQ(st.live_count, live_before - 2); /* kept and dup */
	ward_kind_stats(WARD_KIND_FILE, &st);
	ASSERT_EQ(st.live_count, 0);
	ASSERT_EQ(fcntl(fd, F_GETFD), -1);
}

/* A held record the program releases itself (untracked elsewhere) leaves
 * its owner: the owner's release does not release it again. Where no leak
 * check listens, as in a program: owners alone hear only the releases of
 * what an owner holds. */
TEST(a_record_released_elsewhere_is_not_released_again)
{
	ward_test_end_leak_check();
	start();
	ward_owner_t *o = ward_owner_new(NULL, "holds");
	int kind = ward_kind_register("released_elsewhere");
	ASSERT_EQ(ward_track(kind, 7, 0), 0);
	ASSERT_EQ(ward_track(kind, 8, 0), 0);
	ASSERT_EQ(ward_owner_hold(o, kind, 7, mark, "seven"), 0);
	ASSERT_EQ(ward_owner_hold(o, kind, 8, mark, "eight"), 0);
	ASSERT_EQ(ward_untrack(kind, 7), 0);
	ASSERT_EQ(ward_owner_release(o), 0);
	ASSERT_STREQ(trace, "eight ");
	ASSERT_EQ(ward_untrack(kind, 8), 0);
}

/* A tracked resource has one owner: a second owner holding it is
 * refused, the first's first entry and another entry alike, and only the
 * first releases it. */
TEST(a_resource_held_by_one_owner_is_refused_to_another)
{
	start();
	ward_owner_t *a = ward_owner_new(NULL, "a");
	ward_owner_t *b = ward_owner_new(NULL, "b");
	int kind = ward_kind_register("held_once");
	ASSERT_GE(kind, WARD_KIND_USER);
	ASSERT_EQ(ward_track(kind, 1, 0), 0);
	ASSERT_EQ(ward_track(kind, 2, 0), 0);
	ASSERT_EQ(ward_owner_hold(a, kind, 1, mark, "a1"), 0);
	ASSERT_EQ(ward_owner_hold(a, kind, 2, mark, "a2"), 0);
	ASSERT_EQ(ward_owner_hold(b, kind, 1, mark, "b1"), -EEXIST);
	ASSERT_EQ(ward_owner_hold(b, kind, 2, mark, "b2"), -EEXIST);
	ASSERT_EQ(ward_owner_hold(a, kind, 2, mark, "a2 again"), -EEXIST);
	ASSERT_EQ(ward_owner_hold(b, kind, 3, mark, "b3"), 0);
	ASSERT_EQ(ward_owner_release(b), 0);
	ASSERT_STREQ(trace, "b3 ");
	ASSERT_EQ(ward_owner_release(a), 0);
	ASSERT_STREQ(trace, "b3 a2 a1 ");
	ward_untrack(kind, 1);
	ward_untrack(kind, 2);
}

TEST(sampled_blocks_freed_by_the_program_leave_their_owner_too)
{
	start();
	uint64_t old = ward_track_set_sampling(1 << 20);
	ward_owner_t *o = ward_owner_new(NULL, "sampled");
	void *p[64];
	for (int i = 0; i < 64; i++)
		p[i] = ward_owner_malloc(o, 32);
	for (int i = 0; i < 64; i += 2)
		ward_free(p[i]); /* most were not sampled: still told */
	ASSERT_EQ(ward_owner_release(o), 0); /* ASan/valgrind: no double free */
	ward_track_set_sampling(old);
}

TEST(owner_realloc_keeps_the_block_held)
{
	start();
	ward_owner_t *o = ward_owner_new(NULL, "grow");
	char *p = ward_owner_malloc(o, 16);
	strcpy(p, "abc");
	p = ward_owner_realloc(o, p, 1 << 16);
	ASSERT_NOT_NULL(p);
	ASSERT_STREQ(p, "abc");
	struct ward_kind_stats st;
	ward_kind_stats(WARD_KIND_HEAP, &st);
	uint64_t live = st.live_count;
	ASSERT_EQ(ward_owner_release(o), 0);
	ward_kind_stats(WARD_KIND_HEAP, &st);
	ASSERT_EQ(st.live_count, live - 1);
}

/* ---- Move, detach, reparent ---------------------------------------------- */

TEST(move_detach_and_reparent)
{
	start();
	ward_owner_t *x = ward_owner_new(NULL, "x");
	ward_owner_t *y = ward_owner_new(NULL, "y");
	ward_owner_attach(x, mark, "moved");
	ward_owner_attach(x, mark, "let-go");
	ward_owner_attach(x, mark, "stays");
	ASSERT_EQ(ward_owner_move(x, y, mark, "moved"), 0);
	ASSERT_EQ(ward_owner_move(x, y, mark, "nothing"), -ENOENT);
	ASSERT_EQ(ward_owner_detach(x, NULL, "let-go"), 0);
	ASSERT_EQ(ward_owner_detach(x, NULL, "let-go"), -ENOENT);
	ward_owner_attach(x, mark, "early");
	ASSERT_EQ(ward_owner_release_one(x, mark, "early"), 0);
	ASSERT_STREQ(trace, "early ");
	ASSERT_EQ(ward_owner_release_one(x, mark, "early"), -ENOENT);
	trace[0] = '\0';
	ward_owner_t *c = ward_owner_new(x, "child");
	ward_owner_attach(c, mark, "child-r");
	ASSERT_EQ(ward_owner_reparent(c, y), 0);
	char path[64];
	ASSERT_EQ(ward_owner_path(c, path, sizeof(path)), 7);
	ASSERT_STREQ(path, "y/child");
	ASSERT_EQ(ward_owner_path(c, NULL, sizeof(path)), -EINVAL);
	ASSERT_EQ(ward_owner_release(x), 0);
	ASSERT_STREQ(trace, "stays ");
	trace[0] = '\0';
	ASSERT_EQ(ward_owner_release(y), 0);
	ASSERT_STREQ(trace, "child-r moved ");
}

TEST(moving_an_owner_under_its_descendant_is_refused_naming_both)
{
	start();
	ward_owner_t *a = ward_owner_new(NULL, "a");
	ward_owner_t *b = ward_owner_new(a, "b");
	ward_owner_t *c = ward_owner_new(b, "c");
	ASSERT_EQ(ward_owner_reparent(a, c), -ELOOP);
	ASSERT_EQ(ward_owner_reparent(a, a), -ELOOP);
	ASSERT_CONTAINS(ward_test_logged, "owner \"a\" (created at ");
	ASSERT_CONTAINS(ward_test_logged, "under its own descendant \"a/b/c\"");
	ASSERT_CONTAINS(ward_test_logged, "test_owner.c:");
	ASSERT_EQ(ward_owner_reparent(c, NULL), 0); /* to the top: fine */
	ward_owner_release(a);
	ward_owner_release(c);
}

/* ---- Misuse: both sites named -------------------------------------------- */

TEST(releasing_twice_names_where_it_was_made_and_released)
{
	start();
	ward_owner_t *o = ward_owner_new(NULL, "twice");
	int made = __LINE__ - 1;
	ASSERT_EQ(ward_owner_release(o), 0);
	int first = __LINE__ - 1;
	ASSERT_EQ(ward_owner_release(o), -EALREADY);
	int second = __LINE__ - 1;
	char want[256];
	snprintf(want, sizeof(want), "ward_owner_release at %s:%d released "
		 "an owner twice: owner \"twice\" (created at %s:%d) was "
		 "released at %s:%d", __FILE__, second, __FILE__, made,
		 __FILE__, first);
	ASSERT_CONTAINS(ward_test_logged, want);
	/* Not an owner at all. */
	int x;
	ASSERT_EQ(ward_owner_release((ward_owner_t *)&x), -EINVAL);
	ASSERT_CONTAINS(ward_test_logged, "is not a live owner");
}

TEST(attaching_to_a_released_owner_names_both_sites)
{
	start();
	ward_owner_t *o = ward_owner_new(NULL, "gone");
	ward_owner_release(o);
	int released = __LINE__ - 1;
	ASSERT_EQ(ward_owner_attach(o, mark, "never"), -EINVAL);
	int attached = __LINE__ - 1;
	char want[256];
	snprintf(want, sizeof(want), "ward_owner_attach at %s:%d to an owner "
		 "that cannot take it: owner \"gone\"", __FILE__, attached);
	ASSERT_CONTAINS(ward_test_logged, want);
	snprintf(want, sizeof(want), "was released at %s:%d", __FILE__,
		 released);
	ASSERT_CONTAINS(ward_test_logged, want);
	errno = 0;
	ASSERT_TRUE(ward_owner_new(o, "orphan") == NULL);
	ASSERT_EQ(errno, EINVAL);
	ASSERT_TRUE(ward_owner_malloc(o, 10) == NULL);
	ASSERT_EQ(errno, EINVAL);
	ASSERT_EQ(ward_owner_open(o, "/dev/null", O_RDONLY), -1);
	ASSERT_EQ(ward_owner_attach(NULL, mark, "x"), -EINVAL);
	ASSERT_EQ(ward_owner_move(o, NULL, mark, "x"), -EINVAL);
	ASSERT_STREQ(trace, "");
}

/* ---- The frame is an owner ----------------------------------------------- */

static ward_owner_t *seen_inner, *seen_outer;

static void frame_user(void)
{
	WARD_FRAME;
	ward_owner_t *o = ward_owner_frame();
	ASSERT_NOT_NULL(o);
	ASSERT_TRUE(ward_owner_frame() == o); /* the same, in the same frame */
	ward_owner_attach(o, mark, "frame-r");
	{
		WARD_FRAME;
		seen_inner = ward_owner_frame();
		ASSERT_TRUE(seen_inner != o);
		ward_owner_attach(seen_inner, mark, "inner-r");
	}
	mark("after-inner");
	seen_outer = o;
	ASSERT_STREQ(ward_owner_name(o), "frame frame_user");
}

static void frame_panics(void *unused)
{
	WARD_FRAME;
	ward_owner_attach(ward_owner_frame(), mark, "unwound");
	ward_owner_malloc(ward_owner_frame(), 64);
	ward_panic(0, "boom");
}

TEST(the_frame_is_an_owner_released_at_its_end_and_by_a_panic)
{
	start();
	ASSERT_TRUE(ward_owner_frame() == NULL); /* no frame here */
	frame_user();
	ASSERT_STREQ(trace, "inner-r after-inner frame-r ");
	ASSERT_EQ(ward_owner_release(seen_outer), -EALREADY); /* gone */
	trace[0] = '\0';
	struct ward_kind_stats st;
	ward_kind_stats(WARD_KIND_HEAP, &st);
	uint64_t live = st.live_count;
	const ward_panic_t *p = ward_pcall(frame_panics, NULL);
	ASSERT_NOT_NULL(p);
	ASSERT_STREQ(trace, "unwound ");
	ward_kind_stats(WARD_KIND_HEAP, &st);
	ASSERT_EQ(st.live_count, live);
}

/* Owners listen only to releases of what they hold; a leak check begun
 * meanwhile still hears every release: a handle released and acquired
 * again during the check is a new acquisition, a leak. */
TEST(a_leak_check_hears_every_release_where_owners_listen_too)
{
	start();
	ASSERT_EQ(ward_owner_release(ward_owner_new(NULL, "listening")), 0);
	int kind = ward_kind_register("heard");
	ASSERT_EQ(ward_track(kind, 42, 1), 0);
	ward_leakcheck_t *lc = ward_leakcheck_begin();
	ASSERT_EQ(ward_untrack(kind, 42), 0);
	ASSERT_EQ(ward_track(kind, 42, 1), 0);
	ASSERT_EQ(ward_leakcheck_end(lc, NULL), 1);
	lc = ward_leakcheck_begin();
	ASSERT_EQ(ward_leakcheck_end(lc, NULL), 0);
	ASSERT_EQ(ward_untrack(kind, 42), 0);
}

/* ---- Owners are tracked: a forgotten one is a leak ------------------------ */

static __attribute__((noinline)) ward_owner_t *forget_an_owner(void)
{
	ward_owner_t *o = ward_owner_new(NULL, "forgotten");
	__asm__ volatile("" ::: "memory");
	return o;
}

TEST(a_forgotten_owner_is_a_leak_with_its_creation_stack)
{
	start();
	ward_leakcheck_t *lc = ward_leakcheck_begin();
	ward_owner_t *o = forget_an_owner();
	ward_profile_t *leaks = NULL;
	ASSERT_EQ(ward_leakcheck_end(lc, &leaks), 1);
	struct ward_test_buf b = { 0 };
	ward_profile_write(leaks, WARD_FORMAT_TEXT, ward_test_to_buf, &b);
	ASSERT_CONTAINS(b.p, "owner");
	ASSERT_CONTAINS(b.p, "forget_an_owner+0x");
	free(b.p);
	ward_profile_free(leaks);
	ward_owner_release(o);
}

/* ---- Samples carry the owner's path -------------------------------------- */

static __attribute__((noinline)) void *request_buffer(ward_owner_t *o)
{
	void *p = ward_owner_malloc(o, 4096);
	__asm__ volatile("" ::: "memory");
	return p;
}

static const struct ward_sample *held_sample(const ward_profile_t *p,
					     const char *owner)
{
	for (size_t i = 0; i < ward_profile_count(p); i++) {
		const struct ward_sample *s = ward_profile_sample(p, i);
		if (s->owner && strcmp(s->owner, owner) == 0 &&
		    s->kind == WARD_KIND_HEAP)
			return s;
	}
	return NULL;
}

/* p written as pprof and read back. */
static ward_profile_t *through_pprof(const ward_profile_t *p)
{
	struct ward_test_buf b = { 0 };
	ASSERT_EQ(ward_profile_write(p, WARD_FORMAT_PPROF, ward_test_to_buf, &b), 0);
	ward_profile_t *back = NULL;
	char err[128];
	ASSERT_EQ(ward_profile_read(b.p, b.len, &back, err, sizeof(err)), 0);
	free(b.p);
	return back;
}

TEST(snapshots_label_what_an_owner_holds_with_its_path)
{
	start();
	ward_owner_t *server = ward_owner_new(NULL, "server");
	ward_owner_t *c1 = ward_owner_new(server, "conn 1");
	ward_owner_t *c2 = ward_owner_new(server, "conn 2");
	for (volatile int i = 0; i < 3; i++) /* one call site */
		request_buffer(c1);
	request_buffer(c2);
	void *loose = ward_malloc(77); /* no owner */
	ward_profile_t *p = ward_profile_snapshot();
	const struct ward_sample *s1 = held_sample(p, "server/conn 1");
	const struct ward_sample *s2 = held_sample(p, "server/conn 2");
	ASSERT_NOT_NULL(s1);
	ASSERT_NOT_NULL(s2);
	ASSERT_EQ(s1->live_count, 3);
	ASSERT_EQ(s1->live_bytes, 3 * 4096);
	ASSERT_EQ(s2->live_count, 1);
	/* The conns themselves are held by server. */
	int64_t owners_held = 0;
	for (size_t i = 0; i < ward_profile_count(p); i++) {
		const struct ward_sample *s = ward_profile_sample(p, i);
		const char *k = ward_profile_kind_name(p, s->kind);
		if (k && strcmp(k, "owner") == 0 && s->owner &&
		    strcmp(s->owner, "server") == 0)
			owners_held += s->live_count;
	}
	ASSERT_EQ(owners_held, 2);

	struct ward_test_buf b = { 0 };
	ward_profile_write(p, WARD_FORMAT_TEXT, ward_test_to_buf, &b);
	ASSERT_CONTAINS(b.p, "[held by server/conn 1]");
	ASSERT_CONTAINS(b.p, "request_buffer");
	free(b.p);
	b = (struct ward_test_buf){ 0 };
	ward_profile_write(p, WARD_FORMAT_JSON, ward_test_to_buf, &b);
	ASSERT_CONTAINS(b.p, "\"owner\":\"server/conn 2\"");
	free(b.p);

	/* Through pprof and back, and the diff keeps owners apart. */
	ward_profile_t *back = through_pprof(p);
	s1 = held_sample(back, "server/conn 1");
	ASSERT_NOT_NULL(s1);
	ASSERT_EQ(s1->live_bytes, 3 * 4096);
	ward_profile_free(back);

	request_buffer(c2);
	ward_profile_t *now = ward_profile_snapshot();
	ward_profile_t *d = ward_profile_diff(p, now);
	s2 = held_sample(d, "server/conn 2");
	ASSERT_NOT_NULL(s2);
	ASSERT_EQ(s2->live_count, 1);
	ASSERT_TRUE(held_sample(d, "server/conn 1") == NULL);
	ward_profile_free(d);
	ward_profile_free(now);
	ward_profile_free(p);

	ward_owner_release(server);
	p = ward_profile_snapshot();
	ASSERT_TRUE(held_sample(p, "server/conn 1") == NULL);
	ward_profile_free(p);
	ward_free(loose);
}

/* Whether buf[0..len) is UTF-8 with no control character but newline
 * and tab (C1 included). */
static bool printable_utf8(const char *buf, size_t len)
{
	const unsigned char *u = (const unsigned char *)buf;
	for (size_t i = 0; i < len;) {
		size_t n = u[i] < 0x80 ? 1 : (u[i] & 0xe0) == 0xc0 ? 2
				     : (u[i] & 0xf0) == 0xe0 ? 3
				     : (u[i] & 0xf8) == 0xf0 ? 4 : 0;
		if (n == 0 || i + n > len || (n == 2 && u[i] < 0xc2))
			return false;
		for (size_t k = 1; k < n; k++)
			if ((u[i + k] & 0xc0) != 0x80)
				return false;
		if (n == 1 && ((u[i] < 0x20 && u[i] != '\n' && u[i] != '\t') ||
			       u[i] == 0x7f))
			return false;
		if (n == 2 && u[i] == 0xc2 && u[i + 1] < 0xa0) /* C1 */
			return false;
		i += n;
	}
	return true;
}

/* An owner's name is the program's: whatever bytes it holds (an escape
 * that would recolour a terminal, a C1 control, bytes that are not
 * UTF-8, a newline that would forge a row), the JSON is UTF-8 and the
 * report read back from the profile prints none of them raw. */
TEST(an_owner_name_of_any_bytes_is_never_raw_in_a_report)
{
	start();
	ward_owner_t *o = ward_owner_new(
		NULL, "evil\n    9999 fake row\033[31mred\xc2\x9b" "2J\xff\xfe");
	void *held = ward_owner_malloc(o, 64);
	ASSERT_NOT_NULL(held);
	ward_profile_t *p = ward_profile_snapshot();

	/* The live snapshot's own reports (the endpoint's pages too). */
	struct ward_test_buf b = { 0 };
	ward_profile_write(p, WARD_FORMAT_TEXT, ward_test_to_buf, &b);
	ASSERT_TRUE(printable_utf8(b.p, b.len));
	ASSERT_CONTAINS(b.p, "[held by evil?    9999 fake row?[31mred??2J??]");
	free(b.p);
	b = (struct ward_test_buf){ 0 };
	ward_profile_write(p, WARD_FORMAT_JSON, ward_test_to_buf, &b);
	ASSERT_TRUE(printable_utf8(b.p, b.len));
	ASSERT_CONTAINS(b.p, "\"owner\":\"evil?    9999 fake row?[31mred??2J??\"");
	free(b.p);

	ward_profile_t *back = through_pprof(p);
	b = (struct ward_test_buf){ 0 };
	ward_profile_write(back, WARD_FORMAT_TEXT, ward_test_to_buf, &b);
	ASSERT_TRUE(printable_utf8(b.p, b.len));
	ASSERT_CONTAINS(b.p, "[held by evil?    9999 fake row?[31mred??2J??]");
	free(b.p);
	ward_profile_free(back);
	ward_profile_free(p);
	ward_owner_release(o);
}

/* go tool pprof's -tagfocus selects samples by the owner label. */
TEST(go_tool_pprof_focuses_on_an_owner)
{
	if (system("go version >/dev/null 2>&1") != 0)
		ward_test__fail(__FILE__, __LINE__,
				"go is missing: sudo apt-get install -y golang-go");
	start();
	ward_owner_t *server = ward_owner_new(NULL, "server");
	ward_owner_t *c7 = ward_owner_new(server, "conn 7");
	ward_owner_t *c8 = ward_owner_new(server, "conn 8");
	for (volatile int i = 0; i < 2; i++) /* one call site */
		request_buffer(c7);
	request_buffer(c8);
	char path[] = "/tmp/ward_owner_XXXXXX";
	int fd = mkstemp(path);
	ASSERT_GE(fd, 0);
	close(fd);
	ward_profile_t *p = ward_profile_snapshot();
	ASSERT_EQ(ward_profile_save(p, path, WARD_FORMAT_PPROF), 0);
	ward_profile_free(p);
	char cmd[512];
	snprintf(cmd, sizeof(cmd),
		 "HOME=${HOME:-/tmp} go tool pprof -raw -tagfocus='owner=server/conn 7' "
		 "%s 2>&1", path);
	int st;
	char *out = ward_test_run(cmd, &st);
	ASSERT_EQ(st, 0);
	struct ward_test_buf b = { out, strlen(out), strlen(out) + 1 };
	ASSERT_NOT_NULL(b.p);
	/* -raw prints each sample's values (alloc_objects, alloc_space,
	 * inuse_objects, inuse_space) and labels: conn 7's two buffers of
	 * 4096 bytes — its call site's acquisitions too, all of its live
	 * buffers being conn 7's — and nothing of conn 8's. */
	ASSERT_CONTAINS(b.p, "2       8192          2       8192");
	ASSERT_CONTAINS(b.p, "owner:[server/conn 7]");
	ASSERT_TRUE(!strstr(b.p, "conn 8"));
	free(b.p);
	unlink(path);
	ward_owner_release(server);
}

/* ---- Many, and from many threads ------------------------------------------ */

static atomic_int released_count;

static void count_release(void *unused)
{
	atomic_fetch_add(&released_count, 1);
}

TEST(ten_thousand_children_are_released_once_each)
{
	start();
	atomic_store(&released_count, 0);
	ward_owner_t *top = ward_owner_new(NULL, "top");
	for (int i = 0; i < 10000; i++) {
		ward_owner_t *c = ward_owner_new(top, "child");
		ASSERT_NOT_NULL(c);
		ward_owner_attach(c, count_release, NULL);
	}
	ASSERT_EQ(ward_owner_release(top), 0);
	ASSERT_EQ(atomic_load(&released_count), 10000);
}

static ward_owner_t *shared_parent;

static void *churn(void *unused)
{
	for (int i = 0; i < 2000; i++) {
		ward_owner_t *c = ward_owner_new(shared_parent, "worker");
		if (!c)
			break; /* the parent is being released */
		ward_owner_attach(c, count_release, NULL);
		void *p = ward_owner_malloc(c, 24);
		if (i % 3 == 0)
			ward_free(p);
		if (i % 2 == 0)
			ward_owner_release(c);
	}
	return NULL;
}

TEST(owners_from_many_threads_release_each_resource_once)
{
	start();
	atomic_store(&released_count, 0);
	shared_parent = ward_owner_new(NULL, "shared");
	pthread_t th[4];
	for (int i = 0; i < 4; i++)
		ASSERT_EQ(pthread_create(&th[i], NULL, churn, NULL), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	ASSERT_EQ(ward_owner_release(shared_parent), 0);
	ASSERT_EQ(atomic_load(&released_count), 4 * 2000);
	struct ward_kind_stats st;
	ASSERT_EQ(ward_kind_stats(ward_kind_register("owner"), &st), 0);
	ASSERT_EQ(st.live_count, 0);
}

static atomic_int created_count;

static void *add_children(void *unused)
{
	for (int i = 0; i < 20000; i++) {
		ward_owner_t *c = ward_owner_new(shared_parent, "late");
		if (!c)
			break; /* the parent is being released, or gone */
		atomic_fetch_add(&created_count, 1);
		if (ward_owner_attach(c, count_release, NULL) < 0) {
			/* Released under us between new and attach. */
			atomic_fetch_add(&released_count, 1);
		}
		ward_owner_malloc(c, 16);
	}
	return NULL;
}

static void *release_while_others_create(void *unused)
{
	usleep(2000);
	ward_owner_release(shared_parent);
	return NULL;
}

TEST(releasing_a_parent_while_threads_add_children_is_sound)
{
	start();
	atomic_store(&released_count, 0);
	atomic_store(&created_count, 0);
	shared_parent = ward_owner_new(NULL, "racing");
	pthread_t th[4], killer;
	for (int i = 0; i < 4; i++)
		ASSERT_EQ(pthread_create(&th[i], NULL, add_children, NULL), 0);
	ASSERT_EQ(pthread_create(&killer, NULL, release_while_others_create,
				 NULL), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	pthread_join(killer, NULL);
	/* Every child made was released with the parent, exactly once. */
	ASSERT_EQ(atomic_load(&released_count), atomic_load(&created_count));
	struct ward_kind_stats st;
	ASSERT_EQ(ward_kind_stats(ward_kind_register("owner"), &st), 0);
	ASSERT_EQ(st.live_count, 0);
	ASSERT_EQ(ward_owner_release(shared_parent), -EALREADY);
}

/* fork() while other threads track and use owners: the child must never
 * inherit a lock a thread that did not come along held (library mode). */
static atomic_bool churning;

static void *track_and_own(void *unused)
{
	ward_owner_t *o = ward_owner_new(NULL, "churn");
	while (atomic_load(&churning)) {
		void *p = ward_owner_malloc(o, 32);
		ward_free(p);
		void *q = ward_malloc(48);
		ward_free(q);
		sched_yield(); /* the forking thread gets its turn under valgrind */
	}
	ward_owner_release(o);
	return NULL;
}

/* Would hang on a lock copied held. */
static void own_in_child(void)
{
	ward_owner_t *o = ward_owner_new(NULL, "child");
	ward_owner_malloc(o, 16);
	ward_owner_release(o);
	void *q = ward_malloc(16);
	ward_free(q);
}

TEST_FORK_UNDER_LOAD(fork_while_threads_track_and_own_never_deadlocks_the_child)
{
	start();
	atomic_store(&churning, true);
	pthread_t th[3];
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(pthread_create(&th[i], NULL, track_and_own, NULL), 0);
	ward_test_fork_rounds(60, own_in_child);
	atomic_store(&churning, false);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
}
