/*
 * leaky_logger.c — the "defer close in a loop" bug, in C.
 *
 * rotate_leaky() opens one log file per shard in a loop and defers each
 * close to the function's frame, as Go code does with `defer f.Close()`
 * inside a for loop: every descriptor stays open until the function
 * returns. With enough shards the process runs out of descriptors. ward's
 * accumulation guard names the registration site the first time a frame
 * holds more than the limit of pending defers.
 *
 * rotate_fixed() opens a frame in the loop body, so each iteration closes
 * what it opened.
 *
 * Usage: leaky_logger [SHARDS]   (default 1500; the guard limit is 1024,
 * or WARD_DEFER_LIMIT)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <ward.h>

static int open_fds(void)
{
	int n = 0;
	for (int fd = 0; fd < 65536; fd++)
		if (fcntl(fd, F_GETFD) != -1)
			n++;
	return n;
}

/* The bug: every close waits for the function to return. */
static int rotate_leaky(const char *dir, int shards, int *peak)
{
	WARD_FRAME;
	for (int i = 0; i < shards; i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/shard-%d.log", dir, i);
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0)
			return -errno;
		ward_defer_close(fd);
		dprintf(fd, "rotated shard %d\n", i);
	}
	*peak = open_fds();
	return 0;
}

/* The fix: a frame per iteration. */
static int rotate_fixed(const char *dir, int shards, int *peak)
{
	for (int i = 0; i < shards; i++) {
		WARD_FRAME;
		char path[4096];
		snprintf(path, sizeof(path), "%s/shard-%d.log", dir, i);
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0)
			return -errno;
		ward_defer_close(fd);
		dprintf(fd, "rotated shard %d\n", i);
		if (i == shards - 1)
			*peak = open_fds();
	}
	return 0;
}

static void remove_dir(void *dir)
{
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", (char *)dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", (char *)dir);
}

int main(int argc, char **argv)
{
	int shards = argc > 1 ? atoi(argv[1]) : 1500;
	char dir[] = "/tmp/ward-logger-XXXXXX";
	struct rlimit rl;

	WARD_FRAME;
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	ward_defer(remove_dir, dir);
	/* Enough descriptors for the leaky version to finish. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096 &&
	    rl.rlim_max >= 4096) {
		rl.rlim_cur = 4096;
		setrlimit(RLIMIT_NOFILE, &rl);
	}

	int peak = 0, err;
	printf("== leaky: defer close() in a loop, %d shards\n", shards);
	fflush(stdout);
	if ((err = rotate_leaky(dir, shards, &peak)) < 0) {
		fprintf(stderr, "leaky: %s\n", ward_strerror(err));
		return 1;
	}
	printf("   descriptors open at the end of the loop: %d\n", peak);
	printf("== fixed: a frame in the loop body\n");
	fflush(stdout);
	if ((err = rotate_fixed(dir, shards, &peak)) < 0) {
		fprintf(stderr, "fixed: %s\n", ward_strerror(err));
		return 1;
	}
	printf("   descriptors open at the last iteration: %d\n", peak);
	return 0;
}
