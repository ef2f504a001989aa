/*
 * text.c — text that is safe to print.
 */
#include <stdbool.h>
#include <string.h>

#include "core/text.h"

size_t ward__utf8_seq(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;
	if (u[0] < 0x80)
		return 1;
	if (u[0] >= 0xc2 && u[0] <= 0xdf) {
		n = 2;
	} else if (u[0] >= 0xe0 && u[0] <= 0xef) {
		n = 3; /* no overlong form, no surrogate */
		lo = u[0] == 0xe0 ? 0xa0 : lo;
		hi = u[0] == 0xed ? 0x9f : hi;
	} else if (u[0] >= 0xf0 && u[0] <= 0xf4) {
		n = 4; /* no overlong form, nothing past U+10FFFF */
		lo = u[0] == 0xf0 ? 0x90 : lo;
		hi = u[0] == 0xf4 ? 0x8f : hi;
	} else {
		return 0;
	}
	/* A NUL fails each test before the next byte is read. */
	if (u[1] < lo || u[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if ((u[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* How long the character s starts with is (at least 1), and whether it
 * must not be printed raw. */
static size_t next_char(const char *s, bool *control)
{
	size_t n = ward__utf8_seq(s);
	const unsigned char *u = (const unsigned char *)s;
	*control = n == 0 || (n == 1 && (u[0] < 0x20 || u[0] == 0x7f)) ||
		   (n == 2 && u[0] == 0xc2 && u[1] < 0xa0);
	return n ? n : 1;
}

void ward__printable(char *s)
{
	bool control;
	for (size_t n; *s; s += n)
		if ((n = next_char(s, &control)) && control)
			memset(s, '?', n);
}

bool ward__is_printable(const char *s)
{
	bool control;
	for (size_t n; *s; s += n)
		if ((n = next_char(s, &control)) && control)
			return false;
	return true;
}
