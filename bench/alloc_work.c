/*
 * alloc_work.c — an allocation-heavy workload for the preload benchmarks:
 * PAIRS malloc/free pairs of mixed small sizes, each from a call chain ten
 * frames deep, with a working set of 1024 live blocks. Prints nothing but
 * a checksum, so every tool runs the same program.
 */
#include <stdio.h>
#include <stdlib.h>

#define NOINLINE __attribute__((noinline))

static void *slots[1024];
static unsigned long sum;

static NOINLINE void churn(unsigned i)
{
	unsigned k = (i * 2654435761u) >> 22; /* 0..1023 */
	free(slots[k]);
	size_t n = 16 + (i * 7919u) % 240;
	char *p = malloc(n);
	p[0] = (char)i;
	sum += (unsigned char)p[0];
	slots[k] = p;
}

static NOINLINE void chain(int depth, unsigned i)
{
	if (depth == 0)
		churn(i);
	else
		chain(depth - 1, i);
	__asm__ volatile("" ::: "memory");
}

int main(int argc, char **argv)
{
	unsigned pairs = argc > 1 ? (unsigned)atol(argv[1]) : 2000000;
	for (unsigned i = 0; i < pairs; i++)
		chain(9, i);
	for (int k = 0; k < 1024; k++)
		free(slots[k]);
	printf("%lu\n", sum);
	return 0;
}
