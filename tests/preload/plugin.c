/* plugin.c — a library that leaks, loaded and unloaded by leaks.c. */
#include <stdlib.h>

void plugin_leak(void);

__attribute__((noinline)) void plugin_leak(void)
{
	for (int i = 0; i < 3; i++) {
		void *p = malloc(1000);
		__asm__ volatile("" : : "r"(p) : "memory");
	}
}
