/*
 * ward/trace.h — settings of the LD_PRELOAD tracer (libward_preload.so)
 * that programs and tools check before they start one.
 */
#ifndef WARD_TRACE_H
#define WARD_TRACE_H

#include "ward/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * ward_trace_signal_number - the signal a WARD_SNAPSHOT_SIGNAL value (or
 * `ward run --snapshot-signal`) names: "USR2", "SIGUSR1", "RTMIN+3", "12".
 * Returns the number; -EINVAL when the text names no signal; -ERANGE when
 * it names one a snapshot may not use (only USR1, USR2 and the real-time
 * signals ward does not use itself: a fault signal would loop, and others
 * have meanings of their own).
 */
WARD_API int ward_trace_signal_number(const char *name);

#ifdef __cplusplus
}
#endif

#endif
