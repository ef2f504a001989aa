/*
 * ward's environment variables, read one way: a variable set to a value it
 * does not take is refused with one line naming it and what ward does
 * instead ("ward: WARD_SAMPLE=-5 is not a number of bytes from 0 to ...;
 * recording every block"), never read as something else — a negative
 * number is not a huge one, "maybe" is not "off", an unknown kind is not
 * a request to record nothing.
 */
#ifndef WARD_CORE_ENV_H
#define WARD_CORE_ENV_H

#include <stdbool.h>

/*
 * NAME as a decimal number in [lo, hi]: 1 with *out set when it is one, 0
 * when NAME is unset or empty (*out untouched), -EINVAL when it is set to
 * anything else, said in one line ending with `otherwise` (what ward does
 * instead: "keeping 64").
 */
int ward__env_number(const char *name, unsigned long long lo,
		     unsigned long long hi, unsigned long long *out,
		     const char *otherwise);

/*
 * NAME as one of `choices` (a NULL-ended list): its index, -1 when NAME is
 * unset or empty, -EINVAL when it is set to anything else, said in one
 * line that lists the choices and ends with `otherwise`.
 */
int ward__env_choice(const char *name, const char *const *choices,
		     const char *otherwise);

/*
 * NAME as "0" or "1": false or true; `unset` when NAME is unset or empty,
 * and when it is set to anything else (said as ward__env_choice says it).
 */
bool ward__env_flag(const char *name, bool unset, const char *otherwise);

#endif
