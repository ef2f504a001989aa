/*
 * nofp_chain.c — a call chain built without frame pointers (see
 * CMakeLists.txt), as Debian builds its libraries: the DWARF walker's
 * benchmark goes through it.
 */
long nofp_chain(int depth, long (*fn)(long), long arg);

__attribute__((noinline)) long nofp_chain(int depth, long (*fn)(long), long arg)
{
	long r;
	if (depth == 0)
		r = fn(arg);
	else
		r = nofp_chain(depth - 1, fn, arg) + 1;
	__asm__ volatile("" ::: "memory");
	return r;
}
