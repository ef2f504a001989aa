/*
 * earlylib.c — a library whose constructor allocates before the preloaded
 * tracer starts (a program's libraries initialise first): two list heads
 * the program's blocks hang off later (early.c). Each head holds its
 * pointer past the 16 bytes a freed block's allocator may write over.
 */
#include <stdlib.h>

#include "earlylib.h"

struct early_node {
	char pad[40];
	struct early_node *next;
};

static struct early_node *kept, *dropped;

__attribute__((constructor)) static void make_heads(void)
{
	kept = calloc(1, sizeof(*kept));
	dropped = calloc(1, sizeof(*dropped));
	/* Heap blocks, not globals an optimiser made of them. */
	__asm__ volatile("" : : "r"(kept), "r"(dropped) : "memory");
	/* A block made and freed, and one moved, before ward starts. */
	free(malloc(64));
	char *moved = malloc(16);
	moved = realloc(moved, 4000);
	free(moved);
}

__attribute__((noinline)) void early_hang(int n)
{
	for (int i = 0; i < n; i++) {
		struct early_node *node = calloc(1, sizeof(*node));
		node->next = kept->next;
		kept->next = node;
	}
}

__attribute__((noinline)) void early_hang_dropped(void)
{
	dropped->next = calloc(1, sizeof(*dropped));
	/* The store is kept, though the block is freed next. */
	__asm__ volatile("" : : "r"(dropped) : "memory");
	free(dropped);
	dropped = NULL;
}
