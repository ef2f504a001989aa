/*
 * RUNNING_ON_VALGRIND: whether the process runs under valgrind (its client
 * request, from valgrind's header), or 0 where the header is missing.
 * Under valgrind, what the kernel shows of a thread is valgrind's own.
 */
#ifndef WARD_CORE_VALGRIND_H
#define WARD_CORE_VALGRIND_H

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#endif
