/*
 * bench/scan_heap.c — a heap of 1.6M live blocks at exit, for timing the
 * exit-time reachability scan (bench/real.sh): 1600 lists of 1000 nodes
 * of 32 to 80 bytes, each node also pointing back into its list; the
 * lists hang from a global array, and every tenth list is dropped (lost,
 * with everything it links). Prints how many blocks it made.
 */
#include <stdio.h>
#include <stdlib.h>

enum { LISTS = 1600, NODES = 1000 };

struct node {
	struct node *next, *back;
	char pad[];
};

/* Not static: stores to a static array nobody reads may be dropped. */
struct node *lists[LISTS];

int main(void)
{
	size_t made = 0;
	for (int l = 0; l < LISTS; l++) {
		struct node *head = NULL;
		for (int i = 0; i < NODES; i++) {
			struct node *n = malloc(sizeof(*n) + 16 + (size_t)(i % 4) * 16);
			if (!n)
				return 1;
			n->next = head;
			n->back = head && head->next ? head->next : n;
			head = n;
			made++;
		}
		lists[l] = l % 10 == 9 ? NULL : head;
	}
	printf("%zu\n", made);
	return 0;
}
