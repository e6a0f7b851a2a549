/*
 * apply_dispatch.h — the state machine's dispatcher (apply_dispatch.c).
 */
#ifndef MC_APPLY_DISPATCH_H
#define MC_APPLY_DISPATCH_H

#include "lib/stringinfo.h"
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

/*
 * The apply worker: is the entry about to be applied one nobody can ask
 * again for its response (client_id has MC_CLIENT_NO_RETRY)?  Then
 * mc_apply_dispatch stores its response only if it is too big for a
 * request slot (the proposing backend reads it from _responses then).
 * Decided from the entry alone, so every node stores the same rows.  Reset
 * to false by every mc_apply_dispatch.
 */
extern void mc_apply_set_no_retry(bool no_retry);

/*
 * Batch mode for the rest of the current transaction (apply_dispatch.c's
 * header comment): responses are kept until mc_apply_batch_end and a
 * request_id is not looked up.  Only for a pass whose failure aborts the
 * whole transaction and is followed by a pass without batch mode.
 */
extern void mc_apply_batch_begin(void);

/*
 * Store the batch's responses (one INSERT; a request_id stored before
 * raises unique_violation) and leave batch mode.  With the write guard on
 * (jmap_guard.c's mc_jmap_apply_batch_end).
 */
extern void mc_apply_batch_end(void);

/*
 * The Raft index of the command being applied (what _cur_idx() returns).
 * Raises object_not_in_prerequisite_state outside _apply.
 */
extern int64 mc_apply_current_index(void);

/*
 * n >= 0 in lower-case RFC 4648 base32 (no padding), appended to buf: the
 * form of the index and counter in object ids (_b32, _next_id).
 */
extern void mc_append_b32(StringInfo buf, int64 n);

#endif
