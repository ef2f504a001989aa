/*
 * growing_cache.c — a server whose cache is never pruned: the global-map
 * leak of the seed article. Nothing is lost — every entry is reachable
 * from the cache — so an exit-time leak check finds nothing; the process
 * just grows for as long as it runs. `ward watch` on its live endpoint
 * names the site that climbs at every fetch, and not the ones that stay
 * level (the per-request buffers, freed; the connection table, fixed):
 *
 *     $ ./growing_cache 0 &
 *     ward: serving on port 38883
 *     $ ward watch http://127.0.0.1:38883/debug/pprof/heap --every 1 --window 3
 *     ward watch: fetch 1 of http://127.0.0.1:38883/debug/pprof/heap
 *     ward watch: fetch 2 of http://127.0.0.1:38883/debug/pprof/heap
 *     ward watch: fetch 3 of http://127.0.0.1:38883/debug/pprof/heap
 *       growing: heap +50960 bytes/s, 17680 -> 119600 bytes (34 -> 230 live) over the last 3 fetches
 *     	cache_insert
 *     	handle_request
 *     	serve
 *     	main
 *     	...
 *
 * Usage: growing_cache PORT [SECONDS]   (PORT 0 picks one; default 30 s)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ward.h>

struct entry {
	struct entry *next;
	char key[24];
	char value[488];
};

static struct entry *cache;      /* the bug: nothing ever evicts */
static char *connections[64];    /* fixed: made once */

static __attribute__((noinline)) void cache_insert(int id)
{
	struct entry *e = ward_malloc(sizeof(*e));
	snprintf(e->key, sizeof(e->key), "session-%d", id);
	memset(e->value, 'v', sizeof(e->value));
	e->next = cache;
	cache = e;
}

static __attribute__((noinline)) void handle_request(int id)
{
	char *scratch = ward_malloc(4096); /* freed: level */
	snprintf(scratch, 4096, "request %d", id);
	cache_insert(id);
	ward_free(scratch);
}

static __attribute__((noinline)) void serve(long seconds)
{
	for (int i = 0; i < 64; i++)
		connections[i] = ward_malloc(256);
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	for (long t = 0; t < seconds * 100; t++) {
		handle_request((int)t);
		nanosleep(&tick, NULL);
	}
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: growing_cache PORT [SECONDS]\n");
		return 2;
	}
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%s", argv[1]);
	int port = ward_http_start(addr, 0);
	if (port < 0) {
		fprintf(stderr, "growing_cache: %s: %s\n", addr, ward_strerror(port));
		return 1;
	}
	printf("ward: serving on port %d\n", port);
	fflush(stdout);
	serve(argc > 2 ? atol(argv[2]) : 30);
	ward_http_stop();
	return 0;
}
