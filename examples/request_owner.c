/*
 * request_owner.c — a per-request owner tree, and the buffer one branch
 * forgot to attach.
 *
 * A server owns its connections; each connection owns its requests; each
 * request allocates its buffers and opens its files through its owner, so
 * ending a request releases all of it. One code path (the "slow" reply)
 * allocates its scratch buffer with plain ward_malloc and never frees it:
 * nothing owns it, and it outlives the request. At the end the program
 * keeps one connection open, writes a profile, and `ward report --by
 * owner` shows what each owner still holds — and, last, what no owner
 * holds, with the stack that made it:
 *
 *     $ ./request_owner owners.pb.gz && ward report --by owner owners.pb.gz
 *     server: owner 1
 *                0 bytes      1  owner    open_conn+0x41 (request_owner) request_owner.c:67
 *     server/conn 2: owner 1
 *                0 bytes      1  owner    handle_request+0x46 (request_owner) request_owner.c:52
 *     server/conn 2/request 9: heap 1 (2048 bytes), fd 1
 *             2048 bytes      1  heap     handle_request+0x56 (request_owner) request_owner.c:53
 *                - bytes      1  fd       handle_request+0x6c (request_owner) request_owner.c:54
 *     (no owner): heap 5 (20480 bytes), owner 1
 *            20480 bytes      5  heap     slow_reply+0x14 (request_owner) request_owner.c:42
 *                0 bytes      1  owner    main+0x41 (request_owner) request_owner.c:76
 *
 * (Offsets differ from build to build.) The five 4 KiB scratch buffers of
 * slow_reply — one per slow request of the released connections — are the
 * leak; everything the owners held was released with them.
 *
 * Usage: request_owner PROFILE
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <ward.h>

/* The bug: scratch memory from plain ward_malloc, owned by nobody. */
static __attribute__((noinline)) void slow_reply(ward_owner_t *req)
{
	char *scratch = ward_malloc(4096);
	snprintf(scratch, 4096, "slow reply for %s", ward_owner_name(req));
	/* ... should have been ward_owner_malloc(req, 4096) ... */
}

static __attribute__((noinline)) ward_owner_t *
handle_request(ward_owner_t *conn, int id)
{
	char name[32];
	snprintf(name, sizeof(name), "request %d", id);
	ward_owner_t *req = ward_owner_new(conn, name);
	char *body = ward_owner_malloc(req, 2048);
	int fd = ward_owner_open(req, "/dev/null", O_RDONLY);
	if (!body || fd < 0)
		exit(2);
	if (id % 2 == 0)
		slow_reply(req);
	return req;
}

static __attribute__((noinline)) ward_owner_t *open_conn(ward_owner_t *server,
							 int id)
{
	char name[32];
	snprintf(name, sizeof(name), "conn %d", id);
	return ward_owner_new(server, name);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: request_owner PROFILE\n");
		return 2;
	}
	ward_owner_t *server = ward_owner_new(NULL, "server");
	int id = 0;
	for (int c = 0; c < 2; c++) {
		ward_owner_t *conn = open_conn(server, c + 1);
		for (int r = 0; r < 5; r++) {
			ward_owner_t *req = handle_request(conn, id++);
			if (c == 0 || r < 4)
				ward_owner_release(req); /* request done */
		}
		if (c == 0)
			ward_owner_release(conn); /* connection closed */
	}
	ward_profile_t *p = ward_profile_snapshot();
	int rc = ward_profile_save(p, argv[1], WARD_FORMAT_PPROF);
	ward_profile_free(p);
	if (rc < 0) {
		fprintf(stderr, "request_owner: cannot write %s: %s\n", argv[1],
			ward_strerror(rc));
		return 1;
	}
	ward_owner_release(server);
	return 0;
}
