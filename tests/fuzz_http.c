/*
 * fuzz_http.c — libFuzzer harness for the endpoint's request parser
 * (src/serve/http.c): any bytes give a complete request, a need for more,
 * or a refusal with a status, never a crash or a read past the input; a
 * complete request's path and query are NUL-terminated and fit.
 *
 *     make fuzz-http SECONDS=600
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "serve/serve.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy, so ASan sees a read past the end. */
	char *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	struct ward__http_req req;
	int rc = ward__http_parse(buf, size, &req);
	if (rc == 1) {
		if (strlen(req.path) >= sizeof(req.path) ||
		    strlen(req.query) >= sizeof(req.query) || req.path[0] != '/')
			abort();
		char v[16];
		ward__http_query(req.query, "seconds", v, sizeof(v));
		ward__http_query(req.query, "debug", v, sizeof(v));
	} else if (rc != 0 && rc != 400 && rc != 414 && rc != 431 && rc != 505) {
		abort();
	}
	free(buf);
	return 0;
}
