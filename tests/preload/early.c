/*
 * early.c — a program whose blocks hang off blocks its library allocated
 * before ward started (earlylib.c): three still reachable through the
 * head the library keeps, one lost when the other head is freed.
 */
#include "earlylib.h"

int main(void)
{
	early_hang(3);
	early_hang_dropped();
	return 0;
}
