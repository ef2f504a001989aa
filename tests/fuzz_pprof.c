/*
 * fuzz_pprof.c — libFuzzer harness for the profile reader, which reads
 * outside input. Built with clang (-fsanitize=fuzzer,address,undefined);
 * `make test` runs it for a short, fixed time from a seed corpus of real
 * profiles; `make fuzz-pprof SECONDS=600` runs longer.
 */
#include <stddef.h>
#include <stdint.h>

#include "ward.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ward_profile_t *p = NULL;
	char err[256];

	if (ward_profile_read(data, size, &p, err, sizeof(err)) == 0) {
		/* Whatever it accepted must be walkable. */
		for (size_t i = 0; i < ward_profile_count(p); i++) {
			const struct ward_sample *s = ward_profile_sample(p, i);
			volatile uintptr_t sum = 0;
			for (int k = 0; k < s->depth; k++)
				sum += s->pcs[k];
		}
		ward_profile_free(p);
	}
	return 0;
}
