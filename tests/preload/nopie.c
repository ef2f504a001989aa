/*
 * nopie.c — built without PIE and stripped, as distributions ship some
 * programs (gcc's driver): taking strcmp's address gives the executable
 * an undefined symbol with a value, strcmp's PLT entry. The block
 * leak_unnamed() leaks must not be named after it.
 */
#include <stdlib.h>
#include <string.h>

int (*volatile compare)(const char *, const char *);

__attribute__((noinline)) static void leak_unnamed(void)
{
	void *p = malloc(100);
	__asm__ volatile("" : : "r"(p) : "memory");
}

int main(int argc, char **argv)
{
	(void)argc;
	compare = strcmp;
	leak_unnamed();
	return compare(argv[0], "") == 0;
}
