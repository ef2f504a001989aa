/*
 * ward/http.h — a live endpoint inside the process: what Go's
 * net/http/pprof serves, for every ward kind, and Prometheus metrics.
 *
 *     ward_http_start("127.0.0.1:6060", 0);
 *     $ go tool pprof -top http://127.0.0.1:6060/debug/pprof/heap
 *     $ curl http://127.0.0.1:6060/metrics
 *
 * Paths (docs/http.md):
 *   /debug/pprof/                 an index
 *   /debug/pprof/heap             live heap blocks, pprof (?debug=1: text)
 *   /debug/pprof/allocs           the same data (Go's allocs profile)
 *   /debug/pprof/fds, /files, /threads, /KIND   one kind each
 *   /debug/pprof/threads?debug=2  every thread's stack now
 *   any profile ?seconds=N        what was acquired and not released in
 *                                 the next N seconds (N <= 60)
 *   /metrics                      Prometheus text format
 * The LD_PRELOAD tracer starts it when WARD_HTTP=ADDR is set (`ward run
 * --http ADDR`).
 *
 * One thread of ward's serves it, with the program's signals blocked and
 * its own work unrecorded; it answers one request at a time, each bounded
 * in size (8 KiB) and time (a client has 5 s to send its request), at most
 * 32 connections open. Only a loopback address is accepted unless flags
 * has WARD_HTTP_ANY_ADDRESS (or WARD_HTTP_REMOTE=1 for the tracer).
 */
#ifndef WARD_HTTP_H
#define WARD_HTTP_H

#include "ward/core.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { WARD_HTTP_ANY_ADDRESS = 1 };

/*
 * ward_http_start - listen on addr ("HOST:PORT", "[v6]:PORT" or ":PORT" for
 * loopback; port 0 picks a free one) and serve. Returns the port, or
 * -EINVAL (a malformed address, or one not loopback without
 * WARD_HTTP_ANY_ADDRESS), -EALREADY (serving already), or the bind's
 * error.
 */
WARD_API int ward_http_start(const char *addr, int flags);

/* ward_http_stop - stop serving and close the socket. */
WARD_API void ward_http_stop(void);

#ifdef __cplusplus
}
#endif

#endif /* WARD_HTTP_H */
