/*
 * env.c — ward's environment variables, checked (see env.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/env.h"
#include "core/log.h"

int ward__env_number(const char *name, unsigned long long lo,
		     unsigned long long hi, unsigned long long *out,
		     const char *otherwise)
{
	const char *s = getenv(name);
	if (!s || !*s)
		return 0;
	/* Digits only: strtoull() would take "-5" for a huge number and
	 * "12abc" for 12. */
	char *end;
	int saved = errno; /* read where the program may look at it */
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	bool number = s[0] >= '0' && s[0] <= '9' && !*end && errno == 0;
	errno = saved;
	if (number && v >= lo && v <= hi) {
		*out = v;
		return 1;
	}
	ward__log(WARD_LOG_WARN,
		  "ward: %s=%s is not a number from %llu to %llu; %s\n", name,
		  s, lo, hi, otherwise);
	return -EINVAL;
}

int ward__env_choice(const char *name, const char *const *choices,
		     const char *otherwise)
{
	const char *s = getenv(name);
	if (!s || !*s)
		return -1;
	char list[128] = "";
	size_t used = 0;
	for (int i = 0; choices[i]; i++) {
		if (strcmp(s, choices[i]) == 0)
			return i;
		size_t n = strlen(choices[i]);
		if (used + n + 3 < sizeof(list)) {
			if (used) {
				memcpy(list + used, ", ", 2);
				used += 2;
			}
			memcpy(list + used, choices[i], n + 1);
			used += n;
		}
	}
	ward__log(WARD_LOG_WARN, "ward: %s=%s is not one of %s; %s\n", name, s,
		  list, otherwise);
	return -EINVAL;
}

bool ward__env_flag(const char *name, bool unset, const char *otherwise)
{
	static const char *const off_on[] = { "0", "1", NULL };
	int v = ward__env_choice(name, off_on, otherwise);
	return v < 0 ? unset : v == 1;
}
