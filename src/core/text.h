/*
 * Text that is safe to print (text.c): names come from profiles and
 * debug information anyone may have written, and reach terminals and
 * JSON readers.
 */
#ifndef WARD_CORE_TEXT_H
#define WARD_CORE_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* The length of the well-formed UTF-8 sequence s starts with (1 to 4;
 * an ASCII byte is one), else 0. s is NUL-terminated. */
size_t ward__utf8_seq(const char *s);

/*
 * s made printable in place: control characters (C0, DEL, and C1
 * encoded in UTF-8, which some terminals obey as escapes) and each byte
 * of what is not UTF-8 become '?'. Never raw to a terminal.
 */
void ward__printable(char *s);

/* Whether ward__printable() would leave s as it is. */
bool ward__is_printable(const char *s);

#endif
