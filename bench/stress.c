/*
 * bench/stress.c — four threads churning the heap, the allocation-heavy
 * row of bench/real.sh: each thread replaces blocks in a window of 4096
 * (sizes 16 to 4 KiB) through call chains that differ by the block's
 * size class, so the tracer sees many distinct stacks. Built without
 * frame pointers, as most distributions build. Prints a checksum that
 * does not depend on the allocator.
 *
 *   stress [ROUNDS]       (default 1500000 per thread)
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { THREADS = 4, WINDOW = 4096 };

struct worker {
	unsigned long rounds;
	uint64_t seed, sum;
	void *slot[WINDOW];
};

static uint64_t next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Three levels, each a different function per size class: the stacks
 * differ as a real program's do. */
#define LEVEL(name, callee)                                             \
	static __attribute__((noinline)) void *name(size_t n, int c)    \
	{                                                               \
		void *p = callee(n, c);                                 \
		__asm__ volatile("" : : "r"(p) : "memory");             \
		return p;                                               \
	}
static __attribute__((noinline)) void *leaf(size_t n, int c)
{
	char *p = malloc(n);
	if (p)
		memset(p, c, n < 64 ? n : 64);
	return p;
}
LEVEL(small_c, leaf)
LEVEL(small_b, small_c)
LEVEL(small_a, small_b)
LEVEL(mid_c, leaf)
LEVEL(mid_b, mid_c)
LEVEL(mid_a, mid_b)
LEVEL(big_c, leaf)
LEVEL(big_b, big_c)
LEVEL(big_a, big_b)

static void *make(uint64_t r)
{
	size_t n = 16 + (size_t)(r >> 40) % 4080;
	int c = (int)(r & 0xff);
	if (n < 128)
		return small_a(n, c);
	if (n < 1024)
		return mid_a(n, c);
	return big_a(n, c);
}

static void *work(void *arg)
{
	struct worker *w = arg;
	for (unsigned long i = 0; i < w->rounds; i++) {
		uint64_t r = next(&w->seed);
		size_t k = (size_t)(r >> 20) % WINDOW;
		if (w->slot[k])
			w->sum += *(unsigned char *)w->slot[k];
		free(w->slot[k]);
		w->slot[k] = make(r);
	}
	for (size_t k = 0; k < WINDOW; k++)
		free(w->slot[k]);
	return NULL;
}

int main(int argc, char **argv)
{
	static struct worker w[THREADS];
	pthread_t t[THREADS];
	unsigned long rounds = argc > 1 ? strtoul(argv[1], NULL, 10) : 1500000;
	for (int i = 0; i < THREADS; i++) {
		w[i].rounds = rounds;
		w[i].seed = 0x9e3779b97f4a7c15u * (uint64_t)(i + 1);
		if (pthread_create(&t[i], NULL, work, &w[i]) != 0) {
			perror("stress: pthread_create");
			return 1;
		}
	}
	uint64_t sum = 0;
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		sum += w[i].sum;
	}
	printf("%llu\n", (unsigned long long)sum);
	return 0;
}
