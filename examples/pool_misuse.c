/*
 * pool_misuse.c — the two sync.Pool bugs of the seed article, in C, caught
 * by a pool's checking mode.
 *
 * A request handler takes a buffer from a pool, and (1) keeps writing to it
 * after putting it back — another request now owns that memory — and (2)
 * relies on a reset hook that forgets a field, so one request's data leaks
 * into the next. Run with checking mode on (WARD_POOL_CHECK=1, or
 * `.check = true` as here), each is reported with both places:
 *
 *     $ ./pool_misuse
 *     ward: pool "requests": the reset hook left state behind: after the put
 *     at examples/pool_misuse.c:61, byte 4 differs from a new object's
 *     leaked user data into the next request: "alice's token"
 *     ward: pool "requests": an object was written after it was put back:
 *     put at examples/pool_misuse.c:61, found at the get at
 *     examples/pool_misuse.c:56 (its previous get: examples/pool_misuse.c:56)
 *     ...
 *
 * (Byte 4 is the token: the reset clears the status and the body only.)
 * (Built with AddressSanitizer, the write after put stops at the write
 * itself: the cached object is poisoned.) Without checking mode the same
 * program runs silently, and the next request sees the previous user's
 * token — the bug the article found in production.
 *
 * Usage: pool_misuse
 */
#include <stdio.h>
#include <string.h>

#include <ward.h>

struct request {
	int status;
	char token[24];
	char body[32];
};

/* The bug: the reset forgets the token. */
static void request_reset(void *obj, void *arg)
{
	struct request *r = obj;
	r->status = 0;
	memset(r->body, 0, sizeof(r->body));
}

static void request_init(void *obj, void *arg)
{
	memset(obj, 0, sizeof(struct request));
}

static struct request *late_writer; /* the other bug: kept after put */

static void handle(ward_pool_t *pool, const char *user)
{
	struct request *r = ward_pool_get(pool);
	if (r->token[0])
		printf("leaked user data into the next request: \"%s\"\n",
		       r->token);
	snprintf(r->token, sizeof(r->token), "%s's token", user);
	ward_pool_put(pool, r);
	late_writer = r;
}

int main(void)
{
	ward_pool_t *pool = ward_pool_new(&(struct ward_pool_config){
		.name = "requests", .size = sizeof(struct request),
		.init = request_init, .reset = request_reset, .check = true });
	handle(pool, "alice");
	late_writer->status = 500; /* a write after the put */
	handle(pool, "bob");
	struct ward_pool_stats st;
	ward_pool_stats(pool, &st);
	ward_pool_free(pool);
	return st.misuses ? 1 : 0;
}
