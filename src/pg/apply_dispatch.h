/*
 * apply_dispatch.h — the state machine's dispatcher (apply_dispatch.c).
 */
#ifndef MC_APPLY_DISPATCH_H
#define MC_APPLY_DISPATCH_H

#include "utils/jsonb.h"

/*
 * Apply command cmd at Raft index idx: the stored response if its
 * request_id was applied before (changing nothing), else the result of its
 * op's function, stored under the request_id.  The result (NULL for a JSON
 * NULL result) is allocated in the caller's memory context.  Raises
 * invalid_parameter_value for an unknown op, and whatever the op raises.
 * Only with the write guard on (jmap_guard.c); connects SPI itself.
 */
extern Jsonb *mc_apply_dispatch(int64 idx, Jsonb *cmd);

#endif
