/*
 * grow.c — growable arrays and byte buffers.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/grow.h"

void *ward__grow(void *v, size_t *cap, size_t need, size_t elem,
		 size_t first)
{
	if (need <= *cap)
		return v;
	size_t ncap = *cap ? *cap : (first ? first : 1);
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			return NULL;
		ncap *= 2;
	}
	if (elem && ncap > SIZE_MAX / elem)
		return NULL;
	char *nv = realloc(v, ncap * elem);
	if (!nv)
		return NULL;
	memset(nv + *cap * elem, 0, (ncap - *cap) * elem);
	*cap = ncap;
	return nv;
}

void ward__buf_add(struct ward__buf *b, const void *data, size_t n)
{
	if (b->oom || n == 0)
		return; /* nothing to add (data may be NULL then) */
	if (b->len + n < b->len) {
		b->oom = true;
		return;
	}
	char *np = ward__grow(b->p, &b->cap, b->len + n, 1, 256);
	if (!np) {
		b->oom = true;
		return;
	}
	b->p = np;
	memcpy(b->p + b->len, data, n);
	b->len += n;
}
