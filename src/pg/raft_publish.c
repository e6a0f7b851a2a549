/*
 * raft_publish.c — the raft worker copies the core's status and progress
 * into McRaftShared, read by raft_status / raft_progress and, through the
 * raft_pg.h accessors, by the foundation's members view and gossip meta.
 */
#include "postgres.h"

#include "utils/timestamp.h"

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
	LWLockRelease(McRaft->lock);

}
