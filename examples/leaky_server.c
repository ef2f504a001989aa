/*
 * leaky_server.c — a small "server" that leaks one of each kind ward
 * tracks, the way real ones do after hours in production:
 *   - a request cache that grows and is never trimmed      (heap)
 *   - an error path that returns before closing a socket   (fd)
 *   - a log file reopened on every rotation, never closed  (FILE)
 *   - a worker thread started for each batch, never joined (thread)
 * It was written with no knowledge of ward: `make demo` runs it under
 * `ward run`, which names each leak with the stack that made it.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct entry {
	char key[32];
	struct entry *next;
};

static struct entry *cache;

/* Caches every request; nothing ever evicts. */
static __attribute__((noinline)) void remember_request(int id)
{
	struct entry *e = malloc(sizeof(*e));
	snprintf(e->key, sizeof(e->key), "req-%d", id);
	e->next = cache;
	cache = e;
}

/* Opens a socket per upstream call; the error path forgets to close it. */
static __attribute__((noinline)) int call_upstream(int id)
{
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	if (s < 0)
		return -1;
	if (id % 10 == 0)
		return -1; /* "upstream busy": the leak */
	close(s);
	return 0;
}

/* Rotates the log by reopening it; the old FILE is dropped, not closed. */
static FILE *logf;
static __attribute__((noinline)) void rotate_log(void)
{
	logf = fopen("/dev/null", "a");
}

static void *worker(void *arg)
{
	return arg;
}

/* Starts a worker per batch and forgets it. */
static __attribute__((noinline)) void start_batch(void)
{
	pthread_t t;
	pthread_create(&t, NULL, worker, NULL);
}

int main(void)
{
	int errors = 0;
	for (int id = 1; id <= 200; id++) {
		remember_request(id);
		if (call_upstream(id) < 0)
			errors++;
		if (id % 50 == 0) {
			rotate_log();
			start_batch();
		}
	}
	usleep(10000);
	printf("served 200 requests, %d upstream errors\n", errors);
	return 0;
}
