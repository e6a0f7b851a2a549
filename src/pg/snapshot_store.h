/*
 * snapshot_store.h — snapshots of the replicated state, kept in
 * mailcluster._raft_snapshot: taking one (apply worker), reading chunks of
 * it (leader's raft worker), staging received chunks and installing a
 * staged snapshot (follower's raft worker).  All run inside a transaction
 * the caller started, with SPI connected.
 */
#ifndef MC_SNAPSHOT_STORE_H
#define MC_SNAPSHOT_STORE_H

#include "postgres.h"

#include "raft.h"

/*
 * Capture every replicated table at the applied index into
 * _raft_snapshot (kept only if newer than the stored one).  Returns the
 * snapshot's index, or 0 when the stored one is already as new.
 */
extern uint64 mc_snapshot_take(void);

/*
 * Copy up to max bytes of the stored snapshot from offset into buf.
 * Returns false when the stored snapshot is not `index` (stale request).
 * *len gets the bytes copied, *last whether they end the snapshot.
 */
extern bool mc_snapshot_read_chunk(uint64 index, uint64 offset, uint8 *buf,
								   uint32 max, uint32 *len, bool *last);

/* Store a received chunk (offset 0 discards older staging first). */
extern void mc_snapshot_stage_chunk(const mc_raft_snap_chunk *c);

/*
 * Replace the replicated tables with the staged snapshot, set
 * applied_index to meta->index, keep the snapshot as our own latest one.
 */
extern void mc_snapshot_install_staged(const mc_raft_snapshot_meta *meta);

#endif
