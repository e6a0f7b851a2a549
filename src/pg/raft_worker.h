/*
 * raft_worker.h — state of the "mailcluster raft" background worker shared
 * by its files: raft_worker.c (main loop), raft_ready.c (carrying out a
 * ready batch), raft_requests.c (the backend request queue), raft_boot.c
 * (loading state, forming the cluster), rpc_net.c (peer connections).
 */
#ifndef MC_RAFT_WORKER_H
#define MC_RAFT_WORKER_H

#include "postgres.h"

#include "utils/timestamp.h"

#include "raft.h"
#include "raft_settings.h"

struct McRpc;

typedef struct McRaftWorker
{
	McRaftSettings set;
	bool		standalone;
	uint32		id;				/* Raft node id */
	uint64		cluster_id;		/* 0 while not in a cluster */
	mc_raft    *core;			/* NULL until the cluster exists */
	int			tick_ms;
	TimestampTz next_tick;
	uint8		last_role;
	uint32		last_leader;
	struct McRpc *rpc;			/* NULL when standalone */
	MemoryContext mcxt;			/* long-lived worker memory */
	uint32		chunk_max;		/* snapshot chunk bytes (core's max batch) */
	uint64		stored_term;	/* term and vote last persisted */
	uint32		stored_vote;
} McRaftWorker;

/* Entry point registered for the "mailcluster raft" worker. */
extern PGDLLEXPORT void mc_raft_worker_main(Datum arg);

/* Entry point registered for the "mailcluster apply" worker. */
extern PGDLLEXPORT void mc_apply_worker_main(Datum arg);

/*
 * Load the stored state; create the core when this node belongs to a
 * cluster (bootstrapping a standalone one-voter cluster when standalone).
 * Returns true when w->core exists afterwards.
 */
extern bool mc_raft_boot_load(McRaftWorker *w);

/*
 * Form a brand-new cluster with voters conf (this node must be in it):
 * persist identity + initial configuration, create the core.
 */
extern void mc_raft_boot_create(McRaftWorker *w, uint64 cluster_id,
								const mc_raft_conf *conf);

/* Run every pending ready batch of the core (persist, send, hand off). */
extern void mc_raft_process_ready(McRaftWorker *w);

/* Take newly PENDING backend requests into the core. */
extern void mc_raft_take_requests(McRaftWorker *w);

/* Complete read-index requests from a ready batch's reads. */
extern void mc_raft_complete_reads(const mc_raft_read_state *reads, size_t n);

/* Fail every waiting request with err (shutdown, lost leadership, ...). */
extern void mc_raft_fail_all_requests(int err);

/*
 * A new leader became known: proposals this node forwarded to the old one
 * and still waits for go back to PENDING, to be proposed again
 * to the new leader by the next mc_raft_take_requests().  Safe because
 * every command carries its request_id and the state machine applies a
 * request_id once (a copy the old leader did replicate is answered from
 * mailcluster._responses); without it such a write, lost with the old
 * leader, waited out raft_commit_timeout.
 */
extern void mc_raft_repropose_forwarded(void);

/* Compact the log when the apply worker has taken a newer snapshot. */
extern void mc_raft_maybe_compact(McRaftWorker *w);

/* Copy the core's status into shared memory for the views. */
extern void mc_raft_publish_status(McRaftWorker *w);

/* Run fn inside a transaction with SPI connected and a snapshot. */
extern void mc_raft_in_transaction(void (*fn) (void *arg), void *arg);

#endif
