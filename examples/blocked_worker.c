/*
 * blocked_worker.c — a worker blocked forever on a pipe nobody closes, and
 * the same worker fixed with a context.
 *
 * The Go version of this bug is a goroutine blocked on a channel read after
 * the request that started it went away: it never ends, and each request
 * leaks one. Here a connection starts a worker that reads its pipe. In
 * `leaky` mode the worker only reads: when the connection is released, ward
 * cancels its context and waits the grace period, the worker never looks,
 * and ward reports the leaked thread — where it was started and where it is
 * blocked now, as Go's goroutine dump shows a stuck goroutine:
 *
 *     $ ./blocked_worker leaky
 *     leaked: 1 thread
 *     ...
 *     thread: 1 live (acquired 0)
 *     	[held by leaked from server/conn 1]
 *     	[blocked now in:]
 *     	  __read+0x4a (libc.so.6)
 *     	  worker_leaky+0x2f (blocked_worker) blocked_worker.c:49
 *     	  go_main+0x5c (blocked_worker) ctx.c:371
 *     	  ...
 *     	[started at:]
 *     	serve+0x60 (blocked_worker) blocked_worker.c:74
 *     	main+0xae (blocked_worker) blocked_worker.c:89
 *     	...
 *     ward: a thread started by ward_go at examples/blocked_worker.c:74 did
 *     not end within 200 ms after its owner "server/conn 1" was released;
 *     it is leaked, blocked at:
 *     	#0 read+0x4a
 *     	...
 *
 * In `fixed` mode the worker polls its pipe and the context's done
 * descriptor together, and returns when the context is cancelled: the
 * release joins it at once, and nothing leaks ("leaked: 0 threads").
 *
 * Usage: blocked_worker leaky|fixed
 */
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <ward.h>

static int pipe_fds[2];

/* The bug: a read that nothing will ever satisfy or interrupt. */
static void worker_leaky(ward_ctx_t *ctx, void *arg)
{
	char buf[64];
	while (read(pipe_fds[0], buf, sizeof(buf)) > 0)
		;
}

/* The fix: wait for input or for the context, whichever comes first. */
static void worker_fixed(ward_ctx_t *ctx, void *arg)
{
	char buf[64];
	struct pollfd p[2] = { { pipe_fds[0], POLLIN, 0 },
			       { ward_ctx_done_fd(ctx), POLLIN, 0 } };
	while (poll(p, 2, -1) > 0 && !ward_ctx_err(ctx))
		if ((p[0].revents & POLLIN) &&
		    read(pipe_fds[0], buf, sizeof(buf)) <= 0)
			break;
}

static void to_stdout(void *opaque, const void *buf, size_t len)
{
	fwrite(buf, 1, len, stdout);
}

static __attribute__((noinline)) void serve(ward_owner_t *server, bool fixed)
{
	ward_owner_t *conn = ward_owner_new(server, "conn 1");
	ward_ctx_t *ctx = ward_ctx_new(conn, NULL);
	ward_go(ctx, fixed ? worker_fixed : worker_leaky, NULL);
	usleep(20 * 1000);
	ward_owner_release(conn); /* the connection is done */
}

int main(int argc, char **argv)
{
	if (argc != 2 || (strcmp(argv[1], "leaky") && strcmp(argv[1], "fixed"))) {
		fprintf(stderr, "usage: blocked_worker leaky|fixed\n");
		return 2;
	}
	if (pipe(pipe_fds) < 0)
		return 1;
	ward_go_set_grace(200);
	ward_owner_t *server = ward_owner_new(NULL, "server");
	serve(server, strcmp(argv[1], "fixed") == 0);

	struct ward_kind_stats st;
	ward_kind_stats(WARD_KIND_THREAD, &st);
	printf("leaked: %llu thread%s\n", (unsigned long long)st.live_count,
	       st.live_count == 1 ? "" : "s");
	ward_profile_t *p = ward_profile_snapshot();
	for (size_t i = 0; i < ward_profile_count(p); i++) {
		const struct ward_sample *s = ward_profile_sample(p, i);
		if (s->kind == WARD_KIND_THREAD && s->live_count > 0 && s->owner) {
			/* The report of the leaked thread alone. */
			ward_profile_write(p, WARD_FORMAT_TEXT, to_stdout, NULL);
			break;
		}
	}
	ward_profile_free(p);
	ward_owner_release(server);
	return st.live_count == 0 ? 0 : 1;
}
