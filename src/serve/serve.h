/*
 * The HTTP endpoint (http.c: the server; pages.c: what it answers).
 */
#ifndef WARD_SERVE_H
#define WARD_SERVE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/grow.h"

/* A parsed request line: method, path and query (NUL-terminated copies). */
enum { WARD__HTTP_MAX = 8192 };
struct ward__http_req {
	char method[8];
	char path[256];
	char query[256];
};

/*
 * Parse the request in buf[0..len): 1 when the request line and headers
 * are complete (*out filled), 0 when more bytes are needed, or the HTTP
 * status that refuses it: 400 (malformed), 414 (path or query too long),
 * 431 (headers past WARD__HTTP_MAX), 505 (not HTTP/1.x).
 */
int ward__http_parse(const char *buf, size_t len, struct ward__http_req *out);

/* The value of name in a query ("a=1&b=2"), into val; false when absent. */
int ward__http_query(const char *query, const char *name, char *val,
		     size_t len);

/*
 * Answer a request: the status, the content type and the body into
 * *body. *stop is polled by answers that wait (?seconds=N).
 */
int ward__http_answer(const struct ward__http_req *req, struct ward__buf *body,
		      const char **type, const volatile int *stop);

/* Whether fd is one of the server's own sockets. */
bool ward__http_owns(int fd);

/* In a forked child: the server's thread is the parent's; close the
 * child's copies of its sockets and forget it. */
void ward__http_forked(void);

#endif
