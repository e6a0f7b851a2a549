/*
 * raft_submit.h — the write path of the JMAP layer, for its C methods
 * (raft_submit.c).
 */
#ifndef MC_RAFT_SUBMIT_H
#define MC_RAFT_SUBMIT_H

#include "postgres.h"

#include "utils/jsonb.h"

/*
 * What mailcluster._submit(cmd, rid) does: the stored response of a
 * request_id applied before, else cmd replicated under rid (generated when
 * NULL) and the response of its local apply (a jsonb Datum in the current
 * context).  Raises invalid_parameter_value when cmd is not an object with
 * an "op", MC001/MC002/MC003 as _raft_submit, and what the apply raised.
 * SPI must not be connected by the caller's frame in a way it needs kept:
 * the lookup connects and finishes SPI itself.
 */
extern Datum mc_submit_command(Jsonb *cmd, char *rid);

#endif
