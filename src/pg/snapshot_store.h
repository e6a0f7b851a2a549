/*
 * snapshot_store.h — snapshots of the replicated state, streamed: taking
 * one (apply worker) as rows of mailcluster._raft_snap_chunk, reading a
 * chunk of it at a byte offset (leader's raft worker), staging received
 * chunks and keeping a completely received snapshot (follower's raft
 * worker), loading a kept snapshot into the replicated tables (apply
 * worker).  No step holds the whole snapshot in memory or in one value.
 * All run inside a transaction the caller started, with SPI connected and
 * an active snapshot pushed (mc_raft_in_transaction).  Code:
 * snapshot_store.c (format, taking, serving), snapshot_load.c (receiving,
 * loading); tables: src/sql/42_raft_snapshot.sql; doc/raft-in-postgres.md.
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
 * The core said install meta->index: turn its staged chunks into our kept
 * snapshot (dropping the older kept ones and any other staging) and record
 * its header; the replicated tables are not touched (the apply worker
 * loads it, mc_snapshot_install_kept).  Cheap: flags and offsets only, no
 * chunk bytes read.  ERROR on a gap in the staged offsets or no chunk.
 */
extern void mc_snapshot_keep_received(const mc_raft_snapshot_meta *meta);

/*
 * Replace the replicated tables with the kept snapshot `index`, streaming
 * through its chunks in order, and set applied_index to index.  True when
 * done, or when applied_index was already at least index; false, with
 * nothing changed, when no snapshot `index` is kept (a newer one replaced
 * it meanwhile).  ERROR (the caller's transaction rolls back) on a gap, a
 * truncated or malformed stream, or a table or column this node does not
 * have.
 */
extern bool mc_snapshot_install_kept(uint64 index);

#endif
