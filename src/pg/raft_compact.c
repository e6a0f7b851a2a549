/*
 * raft_compact.c — log compaction in the raft worker: when the apply worker
 * has stored a snapshot newer than the core's, tell the core
 * (mc_raft_snapshot_taken), persist the snapshot meta and delete the log
 * entries it covers.
 */
#include "postgres.h"

#include "logstore_sql.h"
#include "raft_shmem.h"
#include "raft_worker.h"

/* In a transaction: persist the core's new snapshot meta, drop covered entries. */
static void
compact_tx(void *arg)
{
	mc_raft_snapshot_meta *meta = arg;

	mc_logstore_set_sync(false);	/* losing it only keeps more log */
	mc_logstore_save_snapshot(meta, false);
}

/* See raft_worker.h. */
void
mc_raft_maybe_compact(McRaftWorker *w)
{
	uint64		ready;
	mc_raft_snapshot_meta meta;

	LWLockAcquire(McRaft->lock, LW_SHARED);
	ready = McRaft->snapshot_ready_index;
	LWLockRelease(McRaft->lock);

	mc_raft_get_snapshot_meta(w->core, &meta);
	if (ready <= meta.index)
		return;
	if (mc_raft_snapshot_taken(w->core, ready) != MC_RAFT_OK)
		return;					/* not yet handed out by the core: retry later */
	mc_raft_get_snapshot_meta(w->core, &meta);
	mc_raft_in_transaction(compact_tx, &meta);

	LWLockAcquire(McRaft->lock, LW_EXCLUSIVE);
	McRaft->snapshot_index = meta.index;
	LWLockRelease(McRaft->lock);
	ConditionVariableBroadcast(&McRaft->snapshot_cv);
	ereport(DEBUG1, (errmsg("mailcluster: log compacted up to index %llu",
							(unsigned long long) meta.index)));
}
