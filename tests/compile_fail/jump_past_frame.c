/*
 * jump_past_frame.c — must not compile: the `case` label jumps past
 * WARD_FRAME into its block, which would run the frame's cleanup without
 * its opening (and close the enclosing frame early). make test checks
 * that gcc and clang both refuse it, naming the jump.
 */
#include <ward.h>

void mark(void *word);

int jumps_past(int x)
{
	switch (x) {
		WARD_FRAME;
	case 1:
		ward_defer(mark, "one");
		return 1;
	}
	return 0;
}
