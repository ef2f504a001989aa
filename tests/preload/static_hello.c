/* static_hello.c — a statically linked program: LD_PRELOAD cannot reach
 * it, and `ward run` must say so instead of passing in silence. Built with
 * AddressSanitizer too (asan_hello), whose runtime will not load after
 * ward's library: `ward run` says that. */
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
	char *p = malloc(100);
	printf("hello %p\n", (void *)p);
	return 0;
}
