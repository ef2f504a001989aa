/*
 * fuzz_pprof.c — libFuzzer harness for the whole path a profile from
 * outside takes: the reader, then everything `ward report`, `diff` and
 * `flame` do with what it accepted — naming frames through the profile's
 * mappings (which may name any file), the text, JSON and summary reports,
 * the top sites, a diff against a second profile, the flame graph, and
 * writing the profile back and reading that again. Built with clang
 * (-fsanitize=fuzzer,address,undefined); `make test` runs it for a short,
 * fixed time from a seed corpus of real profiles (ward's and Go's own
 * heap and CPU profiles); `make fuzz-pprof SECONDS=600` runs longer.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flame.h"
#include "export/export.h"
#include "ward.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct sink {
	size_t bytes;
};

static void to_sink(void *opaque, const void *buf, size_t len)
{
	struct sink *s = opaque;
	volatile const char *c = buf;
	if (len)
		(void)c[len - 1]; /* every byte written must be readable */
	s->bytes += len;
}

struct mem {
	uint8_t *buf;
	size_t len;
	bool oom;
};

static void to_mem(void *opaque, const void *buf, size_t len)
{
	struct mem *m = opaque;
	uint8_t *nb = m->oom ? NULL : realloc(m->buf, m->len + len);
	if (!nb) {
		m->oom = true;
		return;
	}
	memcpy(nb + m->len, buf, len);
	m->buf = nb;
	m->len += len;
}

static char svg[64];

static void remove_svg(void)
{
	unlink(svg);
}

static void render(const ward_profile_t *p)
{
	struct sink s = { 0 };
	ward_profile_write(p, WARD_FORMAT_TEXT, to_sink, &s);
	ward_profile_write(p, WARD_FORMAT_JSON, to_sink, &s);
	ward__write_summary(p, "fuzz", NULL, to_sink, &s);
	ward_profile_t *top = ward__profile_top(p, 3);
	if (top) {
		ward_profile_write(top, WARD_FORMAT_TEXT, to_sink, &s);
		ward_profile_free(top);
	}
	if (!svg[0]) {
		snprintf(svg, sizeof(svg), "/tmp/ward-fuzz-%d.svg", (int)getpid());
		atexit(remove_svg);
	}
	flame_write_svg(p, FLAME_INUSE_SPACE, "fuzz", svg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ward_profile_t *p = NULL, *q = NULL;
	char err[256];

	if (ward_profile_read(data, size, &p, err, sizeof(err)) != 0)
		return 0;
	render(p);
	/* A diff against the input's second half read as a profile too. */
	if (ward_profile_read(data + size / 2, size - size / 2, &q, err,
			      sizeof(err)) == 0) {
		ward_profile_t *d = ward_profile_diff(q, p);
		if (d) {
			render(d);
			ward_profile_free(d);
		}
		ward_profile_free(q);
	}
	/* Written back, it must read again. */
	struct mem m = { NULL, 0, false };
	if (ward_profile_write(p, WARD_FORMAT_PPROF, to_mem, &m) == 0 && !m.oom) {
		ward_profile_t *back = NULL;
		if (ward_profile_read(m.buf, m.len, &back, err, sizeof(err)) != 0)
			abort(); /* what ward writes, ward must read */
		if (ward_profile_count(back) != ward_profile_count(p))
			abort();
		ward_profile_free(back);
	}
	free(m.buf);
	ward_profile_free(p);
	return 0;
}
