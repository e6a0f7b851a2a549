/*
 * raft_ready.c — carrying out the Raft core's ready batches in the order
 * raft.h prescribes: persist (truncate, append, hard state) in ONE
 * transaction committed with synchronous_commit = on whenever entries, term
 * or vote changed; only then send the messages; then hand committed entries
 * to the apply worker, answer reads, and advance.
 *
 * Except when the core flags the batch send_first (a leader's appends and
 * heartbeats, nothing in them resting on this batch being durable; thesis
 * 10.2.1): then the messages are sent and flushed to the sockets FIRST, so
 * the followers write the entries while the leader's own commit waits for
 * its WAL flush.  The leader counts its own copy only after advance, i.e.
 * after that flush.  Committed entries that earlier batches stored are
 * handed to the apply worker before this batch's persist, not after it.
 * If the persist fails (ERROR) the worker exits and is restarted from the
 * tables: the same as a crash between send and persist, which the core
 * allows for such batches.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/timestamp.h"

#include "logstore_sql.h"
#include "raft_shmem.h"
#include "raft_worker.h"
#include "rpc_net.h"
#include "snapshot_store.h"

/* What persist_tx writes: the batch, and whether term or vote changed. */
typedef struct PersistArgs
{
	mc_raft_batch *rd;
	bool		hs_changed;
} PersistArgs;

/*
 * In a transaction: steps 1-4 of the ready contract.  The hard state row is
 * written only when term or vote changed: the commit index alone is not
 * worth an UPDATE per batch (Raft may lose it; at start-up it is at least
 * the applied index, raft_boot.c, and the leader tells it again).
 */
static void
persist_tx(void *arg)
{
	PersistArgs *pa = arg;
	mc_raft_batch *rd = pa->rd;
	bool		sync = rd->must_sync || rd->n_entries > 0 || rd->truncate_from != 0 ||
		rd->n_snap_chunks > 0;

	size_t		i;

	for (i = 0; i < rd->n_snap_chunks; i++)
		mc_snapshot_stage_chunk(&rd->snap_chunks[i]);
	if (rd->install != NULL)
	{
		/* kept and durable here; the apply worker loads it (note_received) */
		mc_snapshot_keep_received(rd->install);
		mc_logstore_save_snapshot(rd->install, true);
		sync = true;
	}
	if (rd->truncate_from != 0)
		mc_logstore_truncate(rd->truncate_from);
	mc_logstore_append(rd->entries, rd->n_entries);
	if (rd->has_hard_state && pa->hs_changed)
		mc_logstore_save_hard_state(&rd->hs);
	/* commit-index-only changes may be lost in a crash: it is recomputed */
	mc_logstore_set_sync(sync);
}

/* Does the batch change term or vote from what we last stored? */
static bool
hs_changed(const McRaftWorker *w, const mc_raft_batch *rd)
{
	return rd->has_hard_state &&
		(rd->hs.term != w->stored_term || rd->hs.vote != w->stored_vote);
}

/*
 * Does this batch need anything written?  A hard state whose term and vote
 * are what we last stored changed only the commit index, which Raft may
 * lose (the leader tells it again; at start-up it is at least the applied
 * index): it is never written for that alone.
 */
static bool
needs_persist(const McRaftWorker *w, const mc_raft_batch *rd)
{
	return rd->truncate_from != 0 || rd->n_entries > 0 || hs_changed(w, rd) ||
		rd->n_snap_chunks > 0 || rd->install != NULL;
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

/*
 * Were all of the batch's committed entries stored by earlier batches?
 * Then the apply worker may start on them before this batch's own write
 * and its WAL flush, instead of waiting for entries it does not need.
 * Always so on the leader, whose own copy counts toward a commit only once
 * stored; on a follower the commit often covers the entries of this very
 * append, which the apply worker could not read yet.
 */
static bool
committed_stored_before(const mc_raft_batch *rd)
{
	return rd->n_committed > 0 && rd->install == NULL &&
		(rd->n_entries == 0 ||
		 rd->committed[rd->n_committed - 1].index < rd->entries[0].index);
}

/*
 * Apply ahead (raft_shmem.h): before a batch that truncates the log,
 * installs a snapshot or writes entries again at or below stored_ahead,
 * withdraw stored_ahead and move ahead_epoch on, and wake the apply
 * worker so an apply transaction running ahead gives up.  Only such a
 * batch changes entries already in the log (Raft never truncates a
 * committed one): with the epoch unchanged, what the apply worker read
 * is what commits.  Done before the persist, so before any rewrite can
 * commit.
 */
static void
withdraw_ahead_if_needed(const mc_raft_batch *rd)
{
	Latch	   *apply_latch = NULL;

	LWLockAcquire(McRaft->lock, LW_EXCLUSIVE);
	if (McRaft->stored_ahead != 0 &&
		(rd->truncate_from != 0 || rd->install != NULL ||
		 (rd->n_entries > 0 && rd->entries[0].index <= McRaft->stored_ahead)))
		apply_latch = mc_raft_withdraw_ahead();
	LWLockRelease(McRaft->lock);
	if (apply_latch)
		SetLatch(apply_latch);
}

/*
 * After a persist of entries: the apply worker may run them ahead of
 * their commit (raft_shmem.h).  It is woken for it only when it asks for
 * apply ahead (ahead_wanted) and somebody waits: on the leader its
 * writers, on a follower a backend whose write was forwarded (otherwise
 * a follower gathers committed entries, apply_worker.c).
 */
static void
publish_ahead(const McRaftWorker *w, const mc_raft_batch *rd)
{
	uint64		last = rd->entries[rd->n_entries - 1].index;
	bool		leader = rd->soft_changed ? rd->soft.role == MC_RAFT_LEADER :
		w->last_role == MC_RAFT_LEADER;
	Latch	   *apply_latch = NULL;

	if (rd->truncate_from != 0 || rd->install != NULL)
		return;
	LWLockAcquire(McRaft->lock, LW_EXCLUSIVE);
	if (last > McRaft->stored_ahead)
	{
		McRaft->stored_ahead = last;
		if (last > McRaft->commit_for_apply && McRaft->ahead_wanted &&
			(leader || mc_raft_local_proposal_open()))
			apply_latch = McRaft->apply_latch;
	}
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
		if (soft->leader != 0)
			mc_raft_repropose_forwarded();
	}
	w->last_role = soft->role;
	w->last_leader = soft->leader;
}

/*
 * After the persist of an install: the snapshot m->index is kept and our
 * log starts after it.  The apply worker loads it into the tables
 * (install_index, raft_shmem.h) before it applies anything after it; this
 * worker goes on answering the leader meanwhile.
 */
static void
note_received(const mc_raft_snapshot_meta *m)
{
	Latch	   *apply_latch;

	LWLockAcquire(McRaft->lock, LW_EXCLUSIVE);
	if (m->index > McRaft->install_index)
		McRaft->install_index = m->index;
	if (m->index > McRaft->commit_for_apply)
		McRaft->commit_for_apply = m->index;
	McRaft->snapshot_index = m->index;
	apply_latch = McRaft->apply_latch;
	LWLockRelease(McRaft->lock);
	if (apply_latch)
		SetLatch(apply_latch);
	ereport(LOG, (errmsg("mailcluster: received a snapshot at index %llu; the apply worker loads it",
						 (unsigned long long) m->index)));
}

typedef struct ChunkArgs
{
	McRaftWorker *w;
	mc_raft_snap_request *reqs;
	size_t		n;
} ChunkArgs;

/* In a transaction: answer the leader's snapshot chunk requests. */
static void
answer_chunks_tx(void *arg)
{
	ChunkArgs  *a = arg;
	uint32		max = Min(a->w->chunk_max, 1024 * 1024);
	uint8	   *buf = palloc(max);
	size_t		i;

	for (i = 0; i < a->n; i++)
	{
		mc_raft_snap_request *q = &a->reqs[i];
		uint32		len;
		bool		last;

		if (!mc_snapshot_read_chunk(q->meta.index, q->offset, buf, max, &len, &last))
			continue;			/* replaced meanwhile: the core retries */
		if (mc_raft_snapshot_chunk(a->w->core, q->to, q->meta.index, q->offset,
								   buf, len, last) == MC_RAFT_OK)
		{
			LWLockAcquire(McRaft->lock, LW_EXCLUSIVE);
			McRaft->n_snapshot_chunks_sent++;
			LWLockRelease(McRaft->lock);
		}
	}
	pfree(buf);
}

/*
 * Run ready batches until the core has no more work (at most 64 rounds per
 * call, so the loop returns to its sockets and latch).
 */
void
mc_raft_process_ready(McRaftWorker *w)
{
	int			rounds = 0;

	while (w->core && mc_raft_has_ready(w->core) && rounds++ < 64)
	{
		mc_raft_batch rd;
		size_t		i;
		mc_raft_snapshot_meta installed;
		bool		did_install;
		bool		handed_off;
		ChunkArgs	chunks;

		mc_raft_ready(w->core, &rd);
		did_install = rd.install != NULL;
		if (did_install)
			installed = *rd.install;
		if (rd.send_first && rd.n_msgs > 0)
		{
			/* raft.h step 0: replicate while we persist */
			for (i = 0; i < rd.n_msgs; i++)
				mc_rpc_send_msg(w, &rd.msgs[i]);
			if (w->rpc)
				mc_rpc_flush_all(w, 0);
		}
		/* the apply need not wait for this batch's flush (see above) */
		handed_off = committed_stored_before(&rd);
		if (handed_off)
			hand_off_committed(&rd);
		withdraw_ahead_if_needed(&rd);
		if (needs_persist(w, &rd))
		{
			PersistArgs pa;

			pa.rd = &rd;
			pa.hs_changed = hs_changed(w, &rd);
			mc_raft_in_transaction(persist_tx, &pa);
			if (rd.n_entries > 0)
				publish_ahead(w, &rd);
			if (rd.has_hard_state)
			{
				w->stored_term = rd.hs.term;
				w->stored_vote = rd.hs.vote;
			}
			LWLockAcquire(McRaft->lock, LW_EXCLUSIVE);
			McRaft->n_persist++;
			LWLockRelease(McRaft->lock);
		}

		/* step 5: only now, unless they already left (send_first) */
		if (!rd.send_first)
			for (i = 0; i < rd.n_msgs; i++)
				mc_rpc_send_msg(w, &rd.msgs[i]);

		if (rd.n_committed > 0 && !handed_off)
			hand_off_committed(&rd);

		mc_raft_complete_reads(rd.reads, rd.n_reads);

		if (did_install)
			note_received(&installed);

		if (rd.soft_changed)
			note_soft_state(w, &rd.soft);

		/* copy the snapshot requests: they are answered after advance */
		chunks.w = w;
		chunks.n = rd.n_snap_requests;
		chunks.reqs = NULL;
		if (chunks.n > 0)
		{
			chunks.reqs = palloc(sizeof(mc_raft_snap_request) * chunks.n);
			memcpy(chunks.reqs, rd.snap_requests, sizeof(mc_raft_snap_request) * chunks.n);
		}

		mc_raft_advance(w->core, &rd);

		if (chunks.n > 0)
		{
			mc_raft_in_transaction(answer_chunks_tx, &chunks);
			pfree(chunks.reqs);
		}
	}
	if (w->rpc)
		mc_rpc_flush_all(w, 0);
}
