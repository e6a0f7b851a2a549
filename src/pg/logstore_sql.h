/*
 * logstore_sql.h — the durable Raft log and hard state in the tables of
 * src/sql/40_raft.sql, read and written through SPI by the raft worker.
 *
 * Every function here runs inside a transaction the caller started and
 * commits (with SPI connected by the caller); durability comes from
 * committing that transaction with synchronous_commit = on.
 */
#ifndef MC_LOGSTORE_SQL_H
#define MC_LOGSTORE_SQL_H

#include "postgres.h"

#include "raft.h"

/* What the raft worker needs from storage at start-up. */
typedef struct McLogLoaded
{
	uint64		cluster_id;
	uint32		node_id;		/* Raft id the stored state belongs to (0: none) */
	mc_raft_hard_state hs;
	bool		has_snap;		/* snapshot meta stored (a cluster exists) */
	mc_raft_snapshot_meta snap;
	uint64		applied;
	mc_raft_entry *entries;		/* palloc'd, data palloc'd */
	size_t		n_entries;
} McLogLoaded;

/* Load everything; entries and their data are allocated in mcxt. */
extern void mc_logstore_load(McLogLoaded *out, MemoryContext mcxt);

/* Delete entries with index >= from. */
extern void mc_logstore_truncate(uint64 from);

/* Append entries (consecutive, after the stored ones or the truncation). */
extern void mc_logstore_append(const mc_raft_entry *entries, size_t n);

/* Persist term, vote and commit. */
extern void mc_logstore_save_hard_state(const mc_raft_hard_state *hs);

/*
 * Persist snapshot meta and drop the log entries it covers (all of them
 * when `discard_all`, as on snapshot install; else those <= meta->index).
 */
extern void mc_logstore_save_snapshot(const mc_raft_snapshot_meta *meta, bool discard_all);

/* Persist the cluster identity (cluster id, own Raft id). */
extern void mc_logstore_save_identity(uint64 cluster_id, uint32 node_id);

/*
 * Set synchronous_commit for the current transaction: on = WAL flushed at
 * commit (needed whenever entries, term or vote changed).
 */
extern void mc_logstore_set_sync(bool sync);

#endif
