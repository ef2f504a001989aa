/*
 * ghost_reference.c — a finalizer that never runs, and who keeps it from
 * running.
 *
 * Sessions are reference counted (ward/ref.h); a session's finalizer
 * closes it. The handler releases its reference when the request is done,
 * so every session should be finalized — but a lookup cache, added later
 * "for speed", retains the sessions it remembers and lets one go only when
 * its slot is reused. Go's runtime.SetFinalizer has the same trap (the
 * seed article's "ghost reference"): the finalizer waits for the last
 * reference, and something nobody thinks of still holds one.
 *
 * The finalizer monitor says that sessions are alive; ward_who_holds()
 * says who holds each of them:
 *
 *     $ ./ghost_reference
 *     sessions opened 3, finalized 1
 *     ward: who holds ref 0x5616d9b76db0 (60 bytes, acquired at
 *     open_session+0x1d (ghost_reference) ghost_reference.c:68): global
 *     session_cache+0x10 (ghost_reference) → the block
 *     ward: who holds ref 0x5616d9b77240 (60 bytes, acquired at
 *     open_session+0x1d (ghost_reference) ghost_reference.c:68): global
 *     session_cache+0x8 (ghost_reference) → the block
 *
 * (Each path is one line; addresses differ from run to run.) The session
 * the cache evicted (slot 0, overwritten) was finalized; the two it still
 * holds were not, and the path names the global and the slot.
 *
 * Usage: ghost_reference [fixed]   ("fixed": the cache is cleared first)
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <ward.h>

struct session {
	int fd;
	char user[32];
	char pad[24];
};

static int finalized;

static void close_session(void *obj, void *arg)
{
	(void)arg;
	struct session *s = obj;
	if (s->fd >= 0)
		close(s->fd);
	finalized++;
}

/* The cache: the last sessions looked up, retained, never evicted but
 * by being overwritten. */
static struct session *session_cache[4];

static void cache_put(int slot, struct session *s)
{
	if (session_cache[slot])
		ward_ref_release(session_cache[slot]);
	session_cache[slot] = ward_ref_retain(s);
}

static __attribute__((noinline)) struct session *open_session(const char *user)
{
	struct session *s = ward_ref_new(sizeof(*s), close_session, NULL);
	s->fd = -1;
	snprintf(s->user, sizeof(s->user), "%s", user);
	return s;
}

static void handle(const char *user, int slot)
{
	struct session *s = open_session(user);
	cache_put(slot, s);
	/* ... the request ... */
	ward_ref_release(s); /* done: the handler's reference goes */
}

static void write_stdout(void *opaque, const void *buf, size_t len)
{
	(void)opaque;
	fwrite(buf, 1, len, stdout);
}

int main(int argc, char **argv)
{
	bool fixed = argc > 1 && strcmp(argv[1], "fixed") == 0;
	handle("alice", 1);
	handle("bob", 2);
	handle("carol", 1); /* overwrites alice's slot: alice is finalized */
	if (fixed) /* the cache lets go of what it holds */
		for (int i = 0; i < 4; i++) {
			ward_ref_release(session_cache[i]);
			session_cache[i] = NULL;
		}
	printf("sessions opened 3, finalized %d\n", finalized);
	fflush(stdout);
	int n = ward_who_holds("open_session", write_stdout, NULL);
	if (n < 0)
		printf("who holds: %s\n", ward_strerror(n));
	else if (n == 0)
		printf("no session is held\n");
	return 0;
}
