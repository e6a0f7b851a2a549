/*
 * raft_pg.h — the Raft side of mailcluster inside PostgreSQL: the one entry
 * point _PG_init calls, and the read-only accessors other parts of the
 * extension (members view, leader(), is_leader(), roles) use to see the
 * Raft state this node's "mailcluster raft" worker publishes.
 */
#ifndef MC_RAFT_PG_H
#define MC_RAFT_PG_H

#include <stdbool.h>
#include <stdint.h>

#include "datatype/timestamp.h"

/*
 * Called once at the END of _PG_init (shared_preload_libraries only):
 * chains shmem_request_hook / shmem_startup_hook for the Raft shared state
 * and registers the "mailcluster raft" and "mailcluster apply" background
 * workers.  Does nothing when not loaded at postmaster start.
 */
extern void mc_raft_pg_init(void);

/*
 * Called by the raft and apply workers at start: glibc malloc keeps freed
 * memory instead of trimming the heap after every batch (a process-local
 * setting).
 */
extern void mc_worker_tune_malloc(void);

/*
 * Table statistics of a worker: flushes them when due (at most once a
 * second while it commits, forced a second after they became pending when
 * it goes idle; autovacuum depends on them).  *due is the caller's state,
 * 0 at start.  Returns the milliseconds until a flush is due, to cap the
 * caller's next wait, or -1 when nothing is pending.
 */
extern long mc_worker_flush_stats(TimestampTz *due);

/* Node id of the known leader, 0 when none is known (or shmem not ready). */
extern uint32_t mc_raft_shared_leader(void);

/* True when this node is the Raft leader right now. */
extern bool mc_raft_shared_is_leader(void);

/*
 * Raft role of node `node_id` as this node sees it, for the members view:
 * "leader", "follower", "candidate", "learner" or "none" (static string).
 */
extern const char *mc_raft_shared_role_of(uint32_t node_id);

/* True when node_id is a voter of the configuration this node knows. */
extern bool mc_raft_shared_is_voter(uint32_t node_id);

/* Current term and cluster id (0 = no cluster yet), for gossip metadata. */
extern uint64_t mc_raft_shared_term(void);
extern uint64_t mc_raft_shared_cluster_id(void);

#endif
