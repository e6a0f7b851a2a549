/*
 * raft_publish.c — the raft worker copies the core's status and progress
 * into McRaftShared, read by raft_status / raft_progress and, through the
 * raft_pg.h accessors, by the foundation's members view and gossip meta.
 */
#include "postgres.h"

#include "utils/timestamp.h"

#include "mc_metrics.h"
#include "raft_shmem.h"
#include "raft_worker.h"

/* Publish status + progress (called once per loop iteration). */
void
mc_raft_publish_status(McRaftWorker *w)
{
	mc_raft_status st;
	mc_raft_progress_info prs[MC_RAFT_MAX_MEMBERS];
	int			n;
	int			i;
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz contact;

	if (w->core == NULL)
		return;
	mc_raft_get_status(w->core, &st);
	n = mc_raft_get_progress(w->core, prs, MC_RAFT_MAX_MEMBERS);
	n = Min(n, MC_RAFT_MAX_MEMBERS);
	contact = st.leader == 0 ? 0 :
		now - (TimestampTz) st.ticks_since_leader * w->tick_ms * 1000;

	LWLockAcquire(McRaft->lock, LW_EXCLUSIVE);
	McRaft->status = st;
	McRaft->cluster_id = w->cluster_id;
	if (st.leader != 0)
		McRaft->last_leader_contact = contact;
	McRaft->n_progress = n;
	for (i = 0; i < n; i++)
	{
		McRaftProgressRow *row = &McRaft->progress[i];

		row->id = prs[i].id;
		row->learner = prs[i].learner;
		row->match = prs[i].match;
		row->next = prs[i].next;
		row->state = prs[i].state;
		row->last_ack = now - (TimestampTz) prs[i].ticks_since_ack * w->tick_ms * 1000;
	}
	McRaft->raft_ready = true;
	/* the foundation's metrics view: gauges and our monotonic counters */
	mc_metric_set(MC_METRIC_RAFT_TERM, st.term);
	mc_metric_set(MC_METRIC_RAFT_COMMIT_INDEX, st.commit);
	mc_metric_set(MC_METRIC_RAFT_APPLIED_INDEX, McRaft->applied_index);
	mc_metric_set(MC_METRIC_RAFT_APPLY_LAG, McRaft->commit_for_apply > McRaft->applied_index ?
				  McRaft->commit_for_apply - McRaft->applied_index : 0);
	mc_metric_set(MC_METRIC_RAFT_ELECTIONS, McRaft->n_elections);
	mc_metric_set(MC_METRIC_RAFT_LEADER_CHANGES, McRaft->n_leader_changes);
	mc_metric_set(MC_METRIC_RAFT_PROPOSALS, McRaft->n_proposals);
	mc_metric_set(MC_METRIC_RAFT_PROPOSALS_FAILED, McRaft->n_proposals_failed);
	mc_metric_set(MC_METRIC_RAFT_COMMITS, McRaft->n_commits);
	mc_metric_set(MC_METRIC_RAFT_APPLIED_AHEAD, McRaft->n_applied_ahead);
	mc_metric_set(MC_METRIC_RAFT_APPLY_AHEAD_ABANDONED, McRaft->n_ahead_abandoned);
	mc_metric_set(MC_METRIC_RAFT_READ_INDEX, McRaft->n_read_index);
	mc_metric_set(MC_METRIC_RAFT_SNAPSHOTS, McRaft->n_snapshots_taken + McRaft->n_snapshots_installed);
	LWLockRelease(McRaft->lock);

}
