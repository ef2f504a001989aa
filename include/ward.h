/*
 * ward.h — the whole ward API. Each module also has its own header under
 * ward/; include this one when in doubt.
 */
#ifndef WARD_H
#define WARD_H

#include "ward/core.h"
#include "ward/ctx.h"
#include "ward/defer.h"
#include "ward/http.h"
#include "ward/leakcheck.h"
#include "ward/owner.h"
#include "ward/pool.h"
#include "ward/profile.h"
#include "ward/ref.h"
#include "ward/trace.h"
#include "ward/track.h"

#endif
