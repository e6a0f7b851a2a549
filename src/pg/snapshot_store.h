/*
 * snapshot_store.h — snapshots of the replicated state, streamed: taking
 * one (apply worker) as rows of mailcluster._raft_snap_chunk, reading a
 * chunk of it at a byte offset (leader's raft worker), staging received
 * chunks and installing a staged snapshot (follower's raft worker).  No
 * step holds the whole snapshot in memory or in one value.  All run inside
 * a transaction the caller started, with SPI connected and an active
 * snapshot pushed (mc_raft_in_transaction).  Format and tables:
 * snapshot_store.c, src/sql/42_raft_snapshot.sql, doc/raft-in-postgres.md.
 */
#ifndef MC_SNAPSHOT_STORE_H
#define MC_SNAPSHOT_STORE_H

#include "postgres.h"

#include "raft.h"

/*
 * Capture every replicated table at the applied index, as seen by the
 * caller's active snapshot, into chunks of at most ~256 KB (and at most
 * raft_batch_max) kept for serving; older kept snapshots are dropped.
 * Returns the snapshot's index, or 0 when a kept one is already as new.
 */
extern uint64 mc_snapshot_take(void);

/*
 * Copy up to max bytes of the kept snapshot `index` from byte offset into
 * buf.  Returns false when no complete snapshot `index` is kept (stale
 * request).  *len gets the bytes copied, *last whether they end it.
 */
extern bool mc_snapshot_read_chunk(uint64 index, uint64 offset, uint8 *buf,
								   uint32 max, uint32 *len, bool *last);

/* Store a received chunk (offset 0 discards older staging first). */
extern void mc_snapshot_stage_chunk(const mc_raft_snap_chunk *c);

/*
 * Replace the replicated tables with the staged snapshot meta->index,
 * streaming through its chunks in order, set applied_index to
 * meta->index, and keep the staged chunks as our own latest snapshot.
 * ERROR (the caller's transaction rolls back) on a gap, a truncated or
 * malformed stream, or a table or column this node does not have.
 */
extern void mc_snapshot_install_staged(const mc_raft_snapshot_meta *meta);

#endif
