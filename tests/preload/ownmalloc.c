/*
 * ownmalloc.c — a program that defines the malloc family itself (a bump
 * allocator over a static arena). Under the tracer it must run exactly as
 * alone: its own malloc serves every block, the C library's included.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

static _Alignas(16) unsigned char arena[64 << 20];
static size_t used;

void *malloc(size_t n)
{
	size_t at = __atomic_fetch_add(&used, (n + 31) & ~(size_t)15,
				       __ATOMIC_RELAXED);
	if (at + n + 16 > sizeof(arena)) {
		errno = ENOMEM;
		return NULL;
	}
	memcpy(arena + at, &n, sizeof(n)); /* the size, for realloc */
	return arena + at + 16;
}

void free(void *p)
{
	(void)p;
}

void *calloc(size_t n, size_t size)
{
	size_t total;
	if (__builtin_mul_overflow(n, size, &total))
		return NULL;
	void *p = malloc(total);
	if (p)
		memset(p, 0, total);
	return p;
}

void *realloc(void *old, size_t n)
{
	void *p = malloc(n);
	if (p && old) {
		size_t had;
		memcpy(&had, (unsigned char *)old - 16, sizeof(had));
		memcpy(p, old, had < n ? had : n);
	}
	return p;
}

int main(void)
{
	int blocks = 0;
	for (int i = 0; i < 1000; i++) {
		char *p = malloc(40);
		if (p) {
			snprintf(p, 40, "%d", i);
			blocks++;
		}
	}
	char *s = strdup("the C library allocates through it too");
	printf("own malloc: %d blocks, %s\n", blocks, s);
	return 0;
}
