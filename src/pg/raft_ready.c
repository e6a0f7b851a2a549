/*
 * raft_ready.c — carrying out the Raft core's ready batches in the order
 * raft.h prescribes: persist (truncate, append, hard state) in ONE
 * transaction committed with synchronous_commit = on whenever entries, term
 * or vote changed; only then send the messages; then hand committed entries
 * to the apply worker, answer reads, and advance.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/timestamp.h"

#include "logstore_sql.h"
#include "raft_shmem.h"
#include "raft_worker.h"
#include "rpc_net.h"

/* In a transaction: steps 1-4 of the ready contract. */
static void
persist_tx(void *arg)
{
	mc_raft_batch *rd = arg;
	bool		sync = rd->must_sync || rd->n_entries > 0 || rd->truncate_from != 0;

	if (rd->truncate_from != 0)
		mc_logstore_truncate(rd->truncate_from);
	mc_logstore_append(rd->entries, rd->n_entries);
	if (rd->has_hard_state)
		mc_logstore_save_hard_state(&rd->hs);
	/* commit-index-only changes may be lost in a crash: it is recomputed */
	mc_logstore_set_sync(sync);
}

/* Does this batch need anything written? */
static bool
needs_persist(const mc_raft_batch *rd)
{
	return rd->truncate_from != 0 || rd->n_entries > 0 || rd->has_hard_state;
}

/* Hand the highest committed index to the apply worker and wake it. */
static void
hand_off_committed(const mc_raft_batch *rd)
{
	uint64		last = rd->committed[rd->n_committed - 1].index;
	Latch	   *apply_latch;

	LWLockAcquire(McRaft->lock, LW_EXCLUSIVE);
	if (last > McRaft->commit_for_apply)
		McRaft->commit_for_apply = last;
	McRaft->n_commits += rd->n_committed;
	apply_latch = McRaft->apply_latch;
	LWLockRelease(McRaft->lock);
	if (apply_latch)
		SetLatch(apply_latch);
}

/* Note role and leader changes for the log and the metrics. */
static void
note_soft_state(McRaftWorker *w, const mc_raft_soft_state *soft)
{
	if (soft->role == MC_RAFT_CANDIDATE && w->last_role != MC_RAFT_CANDIDATE)
	{
		LWLockAcquire(McRaft->lock, LW_EXCLUSIVE);
		McRaft->n_elections++;
		LWLockRelease(McRaft->lock);
	}
	if (soft->leader != w->last_leader)
	{
		LWLockAcquire(McRaft->lock, LW_EXCLUSIVE);
		McRaft->n_leader_changes++;
		LWLockRelease(McRaft->lock);
		if (soft->leader == w->id)
			ereport(LOG, (errmsg("mailcluster: node %u is now the Raft leader", w->id)));
		else if (soft->leader != 0)
			ereport(DEBUG1, (errmsg("mailcluster: Raft leader is node %u", soft->leader)));
		if (w->rpc)
			mc_rpc_leader_changed(w, w->last_leader, soft->leader);
	}
	w->last_role = soft->role;
	w->last_leader = soft->leader;
}

/*
 * Run ready batches until the core has no more work.  Snapshot transfer
 * (snap_chunks, install, snap_requests) is not supported yet: such batches
 * are logged and skipped, and the log is never compacted, so no snapshot
 * is ever needed.
 */
void
mc_raft_process_ready(McRaftWorker *w)
{
	int			rounds = 0;

	while (w->core && mc_raft_has_ready(w->core) && rounds++ < 64)
	{
		mc_raft_batch rd;
		size_t		i;

		mc_raft_ready(w->core, &rd);

		if (rd.install != NULL || rd.n_snap_chunks > 0)
			ereport(WARNING,
					(errmsg("mailcluster: received a Raft snapshot, which this build cannot install yet")));

		if (needs_persist(&rd))
		{
			mc_raft_in_transaction(persist_tx, &rd);
			LWLockAcquire(McRaft->lock, LW_EXCLUSIVE);
			McRaft->n_persist++;
			LWLockRelease(McRaft->lock);
		}

		for (i = 0; i < rd.n_msgs; i++)
			mc_rpc_send_msg(w, &rd.msgs[i]);

		if (rd.n_committed > 0)
			hand_off_committed(&rd);

		mc_raft_complete_reads(rd.reads, rd.n_reads);

		if (rd.soft_changed)
			note_soft_state(w, &rd.soft);

		mc_raft_advance(w->core, &rd);
	}
	if (w->rpc)
		mc_rpc_flush_all(w, 0);
}
