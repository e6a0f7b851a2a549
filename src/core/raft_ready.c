/*
 * raft_ready.c — the batch of work handed to the host (mc_raft_ready) and
 * its acknowledgement (mc_raft_advance), plus the read-only status views
 * (raft_status / raft_progress in SPEC.md).
 */
#include "raft_int.h"

#include <string.h>

static bool
hs_equal(const mc_raft_hard_state *a, const mc_raft_hard_state *b)
{
	return a->term == b->term && a->vote == b->vote && a->commit == b->commit;
}

static void
hard_state(const mc_raft *r, mc_raft_hard_state *hs)
{
	memset(hs, 0, sizeof(*hs));
	hs->term = r->term;
	hs->vote = r->vote;
	hs->commit = r->log.committed;
}

bool
mc_raft_has_ready(const mc_raft *r)
{
	mc_raft_hard_state hs;

	if (r->in_ready)
		return false;
	if (r->bcast_pending || r->read_round_pending || r->commit_notify_pending)
		return true;			/* leader only: cleared on stepping down */
	hard_state(r, &hs);
	return r->out_msgs.n || r->out_reads.n || r->out_snapreq.n || r->out_chunks.n ||
		r->install_pending || r->truncate_from || r->hs_sync ||
		r->log.stable < mc_raft_log_last_index(&r->log) ||
		r->log.applied < r->log.committed ||
		!hs_equal(&hs, &r->prev_hs) ||
		r->role != r->prev_soft.role || r->leader != r->prev_soft.leader;
}

/*
 * May this batch's messages leave before the batch is persisted (raft.h,
 * send_first)?  Only a leader's, only when term and vote are those already
 * handed out (and so durable), with nothing truncated, installed or staged,
 * and only if every message is one whose truth does not rest on this batch
 * being durable: appends and heartbeats (the leader counts itself only
 * after advance, log.stable), snapshot chunks (the host's stored snapshot),
 * TimeoutNow (the target holds the leader's whole log), ReadIndex answers
 * (the commit index), pre-vote answers (binding nothing), and refusals
 * (they promise nothing).  A vote grant, a vote request, or an append or
 * snapshot answer that is not a refusal keeps the batch in the plain order:
 * a leader with an unchanged term sends none that promises anything, but
 * its answer to a deposed leader's append (our term, index 0) is such a
 * non-refusal; keeping the plain order for it costs nothing and keeps the
 * rule simple.
 */
static bool
send_first_ok(const mc_raft *r, const mc_raft_batch *rd)
{
	if (r->role != MC_RAFT_LEADER)
		return false;
	if (rd->hs.term != r->prev_hs.term || rd->hs.vote != r->prev_hs.vote)
		return false;
	if (rd->truncate_from != 0 || rd->install != NULL || rd->n_snap_chunks > 0)
		return false;
	for (size_t i = 0; i < rd->n_msgs; i++)
	{
		const mc_raft_msg *m = &rd->msgs[i];

		switch (m->type)
		{
			case MC_RAFT_MSG_APPEND_REQ:
			case MC_RAFT_MSG_HEARTBEAT_REQ:
			case MC_RAFT_MSG_SNAPSHOT_REQ:
			case MC_RAFT_MSG_TIMEOUT_NOW:
			case MC_RAFT_MSG_READINDEX_RESP:
			case MC_RAFT_MSG_PREVOTE_RESP:
				break;
			case MC_RAFT_MSG_VOTE_RESP:
			case MC_RAFT_MSG_APPEND_RESP:
			case MC_RAFT_MSG_SNAPSHOT_RESP:
				if (!m->reject)
					return false;
				break;
			default:
				return false;
		}
	}
	return true;
}

void
mc_raft_ready(mc_raft *r, mc_raft_batch *rd)
{
	uint64_t	last = mc_raft_log_last_index(&r->log);

	memset(rd, 0, sizeof(*rd));
	if (r->in_ready)
		return;
	if (r->bcast_pending)
	{
		r->bcast_pending = false;
		if (r->role == MC_RAFT_LEADER)
			mc_raft_bcast_fill(r);
	}
	if (r->commit_notify_pending)
	{
		r->commit_notify_pending = false;
		if (r->role == MC_RAFT_LEADER)
			mc_raft_notify_commit(r);
	}
	if (r->read_round_pending)
	{
		r->read_round_pending = false;
		if (r->role == MC_RAFT_LEADER && r->reads_pending.n > 0)
			mc_raft_bcast_heartbeat(r, r->read_seq);
	}
	hard_state(r, &rd->hs);
	if (r->hs_sync || !hs_equal(&rd->hs, &r->prev_hs))
	{
		rd->has_hard_state = true;
		rd->must_sync = r->hs_sync || rd->hs.term != r->prev_hs.term ||
			rd->hs.vote != r->prev_hs.vote;
	}
	rd->truncate_from = r->truncate_from;
	if (r->log.stable < last)
	{
		rd->entries = mc_raft_log_at(&r->log, r->log.stable + 1);
		rd->n_entries = (size_t) (last - r->log.stable);
	}
	if (r->install_pending)
		rd->install = &r->install;
	rd->snap_chunks = r->out_chunks.v;
	rd->n_snap_chunks = r->out_chunks.n;
	rd->msgs = r->out_msgs.v;
	rd->n_msgs = r->out_msgs.n;
	if (r->log.applied < r->log.committed)
	{
		rd->committed = mc_raft_log_at(&r->log, r->log.applied + 1);
		rd->n_committed = rd->committed ? (size_t) (r->log.committed - r->log.applied) : 0;
	}
	rd->reads = r->out_reads.v;
	rd->n_reads = r->out_reads.n;
	rd->snap_requests = r->out_snapreq.v;
	rd->n_snap_requests = r->out_snapreq.n;
	rd->soft.role = r->role;
	rd->soft.leader = r->leader;
	rd->soft_changed = r->role != r->prev_soft.role || r->leader != r->prev_soft.leader;
	rd->send_first = send_first_ok(r, rd);

	r->in_ready = true;
	r->ready_stable = last;
	r->ready_applied = r->log.applied + rd->n_committed;
}

void
mc_raft_advance(mc_raft *r, mc_raft_batch *rd)
{
	if (!r->in_ready)
		return;
	r->in_ready = false;
	if (rd->n_entries > 0 || rd->install)
		r->log.stable = r->ready_stable;
	if (r->ready_applied > r->log.applied)
		r->log.applied = r->ready_applied;
	r->prev_hs = rd->hs;
	if (!rd->has_hard_state)
		hard_state(r, &r->prev_hs);
	r->hs_sync = false;
	r->prev_soft = rd->soft;
	r->truncate_from = 0;
	r->install_pending = false;
	mc_raft_free_outputs(r);
	memset(rd, 0, sizeof(*rd));

	/* the leader's own entries now count toward the commit (persisted) */
	if (r->role == MC_RAFT_LEADER && mc_raft_maybe_commit(r))
		mc_raft_after_commit(r);
}

void
mc_raft_get_status(const mc_raft *r, mc_raft_status *st)
{
	memset(st, 0, sizeof(*st));
	st->id = r->id;
	st->role = r->role;
	st->is_voter = mc_raft_conf_is_voter(&r->conf, r->id);
	st->is_learner = mc_raft_conf_is_learner(&r->conf, r->id);
	st->term = r->term;
	st->vote = r->vote;
	st->leader = r->leader;
	st->commit = r->log.committed;
	st->applied = r->log.applied;
	st->last_index = mc_raft_log_last_index(&r->log);
	st->last_term = mc_raft_log_last_term(&r->log);
	st->snapshot_index = r->log.snap_index;
	st->snapshot_term = r->log.snap_term;
	st->ticks_since_leader = r->role == MC_RAFT_LEADER ? 0 : r->now - r->leader_tick;
	st->conf = r->conf;
}

int
mc_raft_get_progress(const mc_raft *r, mc_raft_progress_info *out, int max)
{
	if (r->role != MC_RAFT_LEADER)
		return 0;
	for (int i = 0; i < r->n_prs && i < max; i++)
	{
		const mc_raft_progress *pr = &r->prs[i];

		out[i].id = pr->id;
		out[i].learner = pr->learner;
		out[i].match = pr->match;
		out[i].next = pr->next;
		out[i].state = pr->state;
		out[i].ticks_since_ack = r->now - pr->last_ack_tick;
		out[i].inflight = pr->in_count;
	}
	return r->n_prs;
}

const mc_raft_entry *
mc_raft_get_entry(const mc_raft *r, uint64_t index)
{
	return mc_raft_log_at(&r->log, index);
}
