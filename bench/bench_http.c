/*
 * bench_http.c — the live endpoint's costs: serving /debug/pprof/heap
 * (named) for 100k live records at 1k sites, and a program's slowdown
 * while /metrics is scraped once a second, against the same work
 * unscraped in the same run.
 *
 * Output: "ANCHOR http_heap_ms <ms>", "ANCHOR work_unscraped_ns <ns>",
 * "ANCHOR work_scraped_ns <ns>" (best of several).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ward.h>

#define NOINLINE __attribute__((noinline))

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* 1000 call paths: three levels of ten functions. */
static void **blocks;
static size_t nblocks;

#define LEAF(n)                                                               \
	static NOINLINE void leaf##n(int k)                                   \
	{                                                                     \
		for (int i = 0; i < k; i++)                                   \
			blocks[nblocks++] = ward_malloc(64);                  \
		__asm__ volatile("" ::: "memory");                            \
	}
LEAF(0) LEAF(1) LEAF(2) LEAF(3) LEAF(4) LEAF(5) LEAF(6) LEAF(7) LEAF(8) LEAF(9)
static void (*const leaves[10])(int) = { leaf0, leaf1, leaf2, leaf3, leaf4,
					  leaf5, leaf6, leaf7, leaf8, leaf9 };
#define MID(n)                                                                \
	static NOINLINE void mid##n(int a, int k)                             \
	{                                                                     \
		leaves[a](k);                                                 \
		__asm__ volatile("" ::: "memory");                            \
	}
MID(0) MID(1) MID(2) MID(3) MID(4) MID(5) MID(6) MID(7) MID(8) MID(9)
static void (*const mids[10])(int, int) = { mid0, mid1, mid2, mid3, mid4,
					     mid5, mid6, mid7, mid8, mid9 };
#define TOP(n)                                                                \
	static NOINLINE void top##n(int b, int a, int k)                      \
	{                                                                     \
		mids[b](a, k);                                                \
		__asm__ volatile("" ::: "memory");                            \
	}
TOP(0) TOP(1) TOP(2) TOP(3) TOP(4) TOP(5) TOP(6) TOP(7) TOP(8) TOP(9)
static void (*const tops[10])(int, int, int) = { top0, top1, top2, top3, top4,
						  top5, top6, top7, top8, top9 };

static size_t fetch(int port, const char *path)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("bench_http: connect");
		exit(1);
	}
	char req[256];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\n\r\n", path);
	if (write(fd, req, (size_t)n) != n)
		exit(1);
	char buf[65536];
	size_t total = 0;
	ssize_t r;
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		total += (size_t)r;
	close(fd);
	return total;
}

/* The program's work: malloc/free churn through ward. */
static NOINLINE double work(void)
{
	double t0 = now_ns();
	for (int i = 0; i < 20000000; i++) {
		void *p = ward_malloc(48);
		ward_free(p);
	}
	return now_ns() - t0;
}

static int scrape_port;
static atomic_bool scraping, running_bench;

static void *scraper(void *unused)
{
	(void)unused;
	while (atomic_load(&running_bench)) {
		if (atomic_load(&scraping))
			fetch(scrape_port, "/metrics");
		for (int i = 0; i < 10 && atomic_load(&running_bench); i++)
			usleep(100 * 1000); /* once a second */
	}
	return NULL;
}

int main(void)
{
	blocks = malloc(200000 * sizeof(*blocks));
	for (int c = 0; c < 10; c++)
		for (int b = 0; b < 10; b++)
			for (int a = 0; a < 10; a++)
				tops[c](b, a, 100); /* 1000 sites x 100 */
	int port = ward_http_start("127.0.0.1:0", 0);
	if (port < 0)
		return 1;
	double best = 1e30;
	for (int i = 0; i < 5; i++) {
		double t0 = now_ns();
		size_t got = fetch(port, "/debug/pprof/heap");
		double t = now_ns() - t0;
		if (got < 1000) {
			fprintf(stderr, "bench_http: a short answer (%zu bytes)\n", got);
			return 1;
		}
		if (t < best)
			best = t;
	}
	printf("ANCHOR http_heap_ms %.3f\n", best / 1e6);
	scrape_port = port;
	double plain = 1e30, scraped = 1e30;
	/* The scraper thread lives through both kinds of run (a thread
	 * starting is not the cost measured); it scrapes only in the
	 * scraped ones. Runs alternate, so drift hits both alike. */
	pthread_t th;
	atomic_store(&running_bench, true);
	pthread_create(&th, NULL, scraper, NULL);
	for (int round = 0; round < 6; round++) {
		bool scrape = round % 2 == (round / 2) % 2;
		atomic_store(&scraping, scrape);
		double t = work();
		atomic_store(&scraping, false);
		if (scrape && t < scraped)
			scraped = t;
		if (!scrape && t < plain)
			plain = t;
	}
	atomic_store(&running_bench, false);
	pthread_join(th, NULL);
	printf("ANCHOR work_unscraped_ns %.0f\nANCHOR work_scraped_ns %.0f\n",
	       plain, scraped);
	ward_http_stop();
	for (size_t i = 0; i < nblocks; i++)
		ward_free(blocks[i]);
	free(blocks);
	return 0;
}
