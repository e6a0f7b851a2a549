/*
 * rsim_sm.h — the Raft simulator's replicated state machine and its
 * snapshot format.
 *
 * The state is a running prefix hash of every applied entry (`chain`, the
 * same hash as the log checker's), an application hash over NORMAL entries
 * with duplicates dropped by (client_id, request_id) (R31), the last request
 * id applied per client, and the membership configuration as applied.  A
 * snapshot is this state serialised, padded with deterministic filler so it
 * spans several transfer chunks.
 */
#ifndef RSIM_SM_H
#define RSIM_SM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft.h"

#define RSIM_MAX_CLIENTS 8

typedef struct rsim_sm
{
	uint64_t	applied;
	uint64_t	applied_term;
	uint64_t	chain;			/* prefix hash through `applied` */
	uint64_t	app;			/* hash of NORMAL entries applied once */
	uint64_t	n_applied_normal;
	uint64_t	last_req[RSIM_MAX_CLIENTS];
	mc_raft_conf conf;
} rsim_sm;

/* Empty state (index 0) with the given configuration (NULL = no members). */
void		rsim_sm_init(rsim_sm *sm, const mc_raft_conf *conf);

/*
 * Apply one committed entry.  Returns false (state untouched) if e->index
 * is not applied + 1.  *fresh is set when a NORMAL entry was applied for the
 * first time for its (client, request), false for a duplicate or non-NORMAL.
 */
bool		rsim_sm_apply(rsim_sm *sm, const mc_raft_entry *e, bool *fresh);

/*
 * Serialise into a malloc'd buffer (*out, *len).  filler bytes of padding
 * derived from the state are appended.
 */
void		rsim_sm_encode(const rsim_sm *sm, size_t filler, uint8_t **out, size_t *len);

/* Decode a serialised state; false if malformed (bad length, bad filler). */
bool		rsim_sm_decode(const uint8_t *buf, size_t len, rsim_sm *sm);

/* Payload of a NORMAL entry carries (client, request) redundantly: build it. */
uint32_t	rsim_sm_payload(uint64_t client, uint64_t req, uint64_t salt,
							uint8_t *buf, uint32_t cap);

#endif
