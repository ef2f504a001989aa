/*
 * Growable arrays (grow.c): the one way ward's tables and buffers grow.
 */
#ifndef WARD_CORE_GROW_H
#define WARD_CORE_GROW_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Room for `need` elements of `elem` bytes in the array v of capacity
 * *cap: v itself when it has it, else v reallocated to double its
 * capacity (at least `first`, at least need), the new part zeroed, and
 * *cap updated. NULL when out of memory or the size would overflow; v
 * and *cap are then as they were.
 */
void *ward__grow(void *v, size_t *cap, size_t need, size_t elem,
		 size_t first);

/* Bytes appended at the end; once out of memory, appends are dropped and
 * oom stays set. */
struct ward__buf {
	char *p;
	size_t len, cap;
	bool oom;
};

void ward__buf_add(struct ward__buf *b, const void *data, size_t n);

#endif
