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

/*
 * The response stored under rid in mailcluster._responses, as a jsonb Datum
 * copied into the caller's context; false when there is none.  Read with
 * the latest snapshot, not the transaction's: it sees a response committed
 * by the apply worker after a REPEATABLE READ or SERIALIZABLE transaction
 * began.  Connects and finishes SPI itself.
 */
extern bool mc_lookup_response(const char *rid, Datum *result);

/*
 * Longest request id a caller may give (bytes).  Every applied request id
 * becomes a key of _responses' primary key, whose btree refuses keys over
 * about 2.7 KB with program_limit_exceeded; ids of any length used to reach
 * the apply and stop it there (see error_is_deterministic, apply_worker.c).
 * Internal ids add a prefix and a suffix (jmap:<id>:<n>), within
 * MC_REQUEST_ID_MAX + MC_REQUEST_ID_AFFIXES.
 */
#define MC_REQUEST_ID_MAX		256
#define MC_REQUEST_ID_AFFIXES	64

/*
 * Refuse (invalid_parameter_value) an empty request id or one longer than
 * max bytes.
 */
extern void mc_check_request_id(const char *rid, int max);

#endif
