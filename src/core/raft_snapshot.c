/*
 * raft_snapshot.c — snapshots: compaction when the host has captured its
 * state (mc_raft_snapshot_taken), chunked transfer to a follower behind the
 * compaction point (leader side, with retry), and reception and install on
 * the follower (R28).  Snapshot bytes are opaque and live with the host.
 */
#include "raft_int.h"

#include <stdlib.h>
#include <string.h>

static void
current_meta(const mc_raft *r, mc_raft_snapshot_meta *meta)
{
	meta->index = r->log.snap_index;
	meta->term = r->log.snap_term;
	meta->conf = r->snap_conf;
}

static void
request_chunk(mc_raft *r, mc_raft_progress *pr)
{
	mc_raft_snap_request *q = MC_RAFT_PUSH(r->out_snapreq);

	if (q == NULL)
		return;
	q->to = pr->id;
	current_meta(r, &q->meta);
	q->offset = pr->snap_offset;
	pr->snap_wait = 0;
	pr->snap_chunk_out = true;
}

/* Leader: pr is behind the first kept entry; send it the snapshot. */
void
mc_raft_snapshot_start(mc_raft *r, mc_raft_progress *pr)
{
	pr->state = MC_RAFT_SNAPSHOT;
	pr->probe_sent = false;
	pr->in_start = pr->in_count = 0;
	pr->snap_index = r->log.snap_index;
	pr->snap_offset = 0;
	request_chunk(r, pr);
}

/* Leader tick: a transfer without progress for ET ticks restarts from
 * offset 0 (a lost chunk or a restarted follower). */
void
mc_raft_snapshot_tick(mc_raft *r, mc_raft_progress *pr)
{
	if (pr->state != MC_RAFT_SNAPSHOT)
		return;
	if (++pr->snap_wait >= r->cfg.election_ticks)
	{
		pr->snap_index = r->log.snap_index;
		pr->snap_offset = 0;
		request_chunk(r, pr);
	}
}

int
mc_raft_snapshot_taken(mc_raft *r, uint64_t index)
{
	uint64_t	term;
	mc_raft_conf c;

	if (r->in_ready)
		return MC_RAFT_ERR_INVALID;
	if (index == r->log.snap_index)
		return MC_RAFT_OK;
	if (index < r->log.snap_index || index > r->log.applied ||
		!mc_raft_log_term(&r->log, index, &term))
		return MC_RAFT_ERR_INVALID;
	mc_raft_conf_at(r, index, &c);
	r->snap_conf = c;
	mc_raft_log_compact(&r->log, index, term);
	/* transfers of the old snapshot restart with the new one */
	if (r->role == MC_RAFT_LEADER)
		for (int i = 0; i < r->n_prs; i++)
			if (r->prs[i].state == MC_RAFT_SNAPSHOT)
				mc_raft_snapshot_start(r, &r->prs[i]);
	return MC_RAFT_OK;
}

void
mc_raft_get_snapshot_meta(const mc_raft *r, mc_raft_snapshot_meta *meta)
{
	current_meta(r, meta);
}

int
mc_raft_snapshot_chunk(mc_raft *r, uint32_t to, uint64_t meta_index,
					   uint64_t offset, const void *data, uint32_t len, bool last)
{
	mc_raft_progress *pr;
	mc_raft_msg *m;
	uint8_t    *copy = NULL;

	if (r->in_ready)
		return MC_RAFT_ERR_INVALID;
	if (r->role != MC_RAFT_LEADER)
		return MC_RAFT_OK;		/* stale */
	pr = mc_raft_progress_get(r, to);
	if (pr == NULL || pr->state != MC_RAFT_SNAPSHOT || pr->snap_index != meta_index ||
		meta_index != r->log.snap_index || offset != pr->snap_offset)
		return MC_RAFT_OK;		/* stale */
	if (len > r->cfg.max_batch_bytes || (len > 0 && data == NULL))
		return MC_RAFT_ERR_INVALID;
	if (len > 0)
	{
		copy = malloc(len);
		if (copy == NULL)
			return MC_RAFT_ERR_NOMEM;
		memcpy(copy, data, len);
	}
	m = mc_raft_send(r, MC_RAFT_MSG_SNAPSHOT_REQ, to);
	if (m == NULL)
	{
		free(copy);
		return MC_RAFT_ERR_NOMEM;
	}
	current_meta(r, &m->snap);
	m->offset = offset;
	m->data = copy;
	m->len = len;
	m->commit = r->log.committed;
	if (last)
		m->flags |= MC_RAFT_FLAG_LAST_CHUNK;
	pr->snap_wait = 0;
	return MC_RAFT_OK;
}

/* Follower: one chunk of the leader's snapshot. */
void
mc_raft_handle_snapshot(mc_raft *r, const mc_raft_msg *m)
{
	mc_raft_msg *resp = mc_raft_send(r, MC_RAFT_MSG_SNAPSHOT_RESP, m->from);
	mc_raft_snap_chunk *c;

	if (resp == NULL)
		return;
	resp->term = r->term;
	resp->snap = m->snap;

	{
		uint64_t	t;

		/*
		 * Our log already holds the snapshot's last entry: by log matching
		 * everything up to it is the leader's, so just learn the commit and
		 * keep our log (its suffix may be the only durable copy an earlier
		 * leader counted toward a commit).
		 */
		if (m->snap.index > r->log.committed &&
			mc_raft_log_term(&r->log, m->snap.index, &t) && t == m->snap.term)
			r->log.committed = m->snap.index;
	}
	if (m->snap.index <= r->log.committed)
	{
		/* we already hold everything it covers */
		r->recv_active = false;
		resp->flags = MC_RAFT_FLAG_LAST_CHUNK;
		resp->index = r->log.committed;
		return;
	}
	if (m->offset == 0)
	{
		r->recv_active = true;
		r->recv_meta = m->snap;
		r->recv_offset = 0;
	}
	if (!r->recv_active || r->recv_meta.index != m->snap.index ||
		r->recv_meta.term != m->snap.term || m->offset != r->recv_offset)
	{
		if (r->recv_active && r->recv_meta.index == m->snap.index &&
			r->recv_meta.term == m->snap.term && m->offset < r->recv_offset)
			resp->offset = r->recv_offset;	/* duplicate: ack progress */
		else
			resp->reject = true;	/* out of order: restart */
		return;
	}

	c = MC_RAFT_PUSH(r->out_chunks);
	if (c == NULL)
	{
		resp->reject = true;
		return;
	}
	c->meta = m->snap;
	c->offset = m->offset;
	c->len = m->len;
	c->last = (m->flags & MC_RAFT_FLAG_LAST_CHUNK) != 0;
	c->data = NULL;
	if (m->len > 0)
	{
		uint8_t    *d = malloc(m->len);

		if (d == NULL)
		{
			r->out_chunks.n--;
			resp->reject = true;
			return;
		}
		memcpy(d, m->data, m->len);
		c->data = d;
	}
	r->recv_offset += m->len;
	resp->offset = r->recv_offset;
	if (!c->last)
		return;

	/* complete: install it, dropping our whole log */
	r->recv_active = false;
	mc_raft_log_reset(&r->log, m->snap.index, m->snap.term);
	r->log.committed = m->snap.index;
	r->log.applied = m->snap.index;
	r->snap_conf = m->snap.conf;
	mc_raft_conf_recompute(r);
	r->install_pending = true;
	r->install = m->snap;
	r->truncate_from = 0;
	r->hs_sync = true;
	resp->flags = MC_RAFT_FLAG_LAST_CHUNK;
	resp->index = m->snap.index;
}

/* Leader: the follower's answer to a chunk. */
void
mc_raft_handle_snapshot_resp(mc_raft *r, const mc_raft_msg *m)
{
	mc_raft_progress *pr = mc_raft_progress_get(r, m->from);

	if (pr == NULL)
		return;
	pr->recent_active = true;
	pr->last_ack_tick = r->now;
	if (pr->state != MC_RAFT_SNAPSHOT || m->snap.index != pr->snap_index)
		return;
	if (m->flags & MC_RAFT_FLAG_LAST_CHUNK)
	{
		uint64_t	upto = m->snap.index;

		if (m->index > upto && m->index <= mc_raft_log_last_index(&r->log))
			upto = m->index;
		if (upto > pr->match)
			pr->match = upto;
		pr->state = MC_RAFT_PROBE;
		pr->probe_sent = false;
		pr->next = pr->match + 1;
		if (mc_raft_maybe_commit(r))
		{
			mc_raft_after_commit(r);
			if (r->role != MC_RAFT_LEADER)
				return;
		}
		mc_raft_send_append(r, pr, true);
		mc_raft_transfer_check(r, pr);
		return;
	}
	if (m->reject)
	{
		pr->snap_offset = 0;
		request_chunk(r, pr);
		return;
	}
	if (m->offset > pr->snap_offset)
	{
		pr->snap_offset = m->offset;
		request_chunk(r, pr);
	}
}
