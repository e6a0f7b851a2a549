/*
 * raft_replication.c — the leader's side of log replication: per-follower
 * progress (probe / replicate / snapshot, in-flight window), batched and
 * pipelined appends, heartbeats, handling of append and heartbeat answers
 * with fast back-off, the commit rule and the leader's own appends.
 */
#include "raft_int.h"

#include <stdlib.h>
#include <string.h>

mc_raft_progress *
mc_raft_progress_get(mc_raft *r, uint32_t id)
{
	for (int i = 0; i < r->n_prs; i++)
		if (r->prs[i].id == id)
			return &r->prs[i];
	return NULL;
}

static void
progress_init(mc_raft *r, mc_raft_progress *pr, uint32_t id)
{
	memset(pr, 0, sizeof(*pr));
	pr->id = id;
	pr->learner = mc_raft_conf_is_learner(&r->conf, id);
	pr->next = mc_raft_log_last_index(&r->log) + 1;
	pr->state = MC_RAFT_PROBE;
	pr->recent_active = true;	/* grace period for check-quorum */
	pr->last_ack_tick = r->now;
}

static void
progress_become(mc_raft_progress *pr, uint8_t state)
{
	pr->state = state;
	pr->progress_tick = pr->last_ack_tick;
	pr->probe_sent = false;
	pr->in_start = pr->in_count = 0;
	if (state != MC_RAFT_SNAPSHOT)
		pr->next = pr->match + 1;
}

/* A new leader: every other member starts in probe at last index + 1. */
void
mc_raft_progress_reset_all(mc_raft *r)
{
	r->n_prs = 0;
	for (uint32_t i = 0; i < r->conf.n_voters + r->conf.n_learners; i++)
	{
		uint32_t	id = i < r->conf.n_voters ? r->conf.voters[i] :
			r->conf.learners[i - r->conf.n_voters];

		if (id != r->id)
			progress_init(r, &r->prs[r->n_prs++], id);
	}
}

/* The configuration changed: keep progress of members that stay, add new
 * ones, drop removed ones. */
void
mc_raft_progress_sync_conf(mc_raft *r)
{
	mc_raft_progress old[MC_RAFT_MAX_MEMBERS];
	int			n_old = r->n_prs;

	if (r->role != MC_RAFT_LEADER)
		return;
	memcpy(old, r->prs, sizeof(mc_raft_progress) * (size_t) n_old);
	r->n_prs = 0;
	for (uint32_t i = 0; i < r->conf.n_voters + r->conf.n_learners; i++)
	{
		uint32_t	id = i < r->conf.n_voters ? r->conf.voters[i] :
			r->conf.learners[i - r->conf.n_voters];
		mc_raft_progress *pr;
		int			j;

		if (id == r->id)
			continue;
		pr = &r->prs[r->n_prs++];
		for (j = 0; j < n_old; j++)
			if (old[j].id == id)
				break;
		if (j < n_old)
			*pr = old[j];
		else
			progress_init(r, pr, id);
		pr->learner = mc_raft_conf_is_learner(&r->conf, id);
	}
}

static size_t
entry_bytes(const mc_raft_entry *e)
{
	return (size_t) e->len;
}

/*
 * Send the follower what it lacks from pr->next on: one batch of at most
 * max_batch_bytes of payload (an oversized entry goes alone).  Paused
 * followers (probe outstanding, window full, snapshot) get nothing (R17).
 * if_empty: send even with no entries (carries the commit index).
 * A follower behind the snapshot gets the snapshot instead (R28).
 * Returns true if a message was produced.
 */
bool
mc_raft_send_append(mc_raft *r, mc_raft_progress *pr, bool if_empty)
{
	uint64_t	prev = pr->next - 1;
	uint64_t	prev_term;
	uint64_t	last = mc_raft_log_last_index(&r->log);
	uint64_t	budget = r->cfg.max_batch_bytes;
	uint32_t	n = 0;
	size_t		bytes = 0;
	mc_raft_msg *m;

	if (pr->state == MC_RAFT_SNAPSHOT)
		return false;
	if (pr->state == MC_RAFT_PROBE && pr->probe_sent)
		return false;
	if (pr->state == MC_RAFT_REPLICATE && pr->in_count >= r->cfg.max_inflight)
		return false;
	if (!mc_raft_log_term(&r->log, prev, &prev_term))
	{
		mc_raft_snapshot_start(r, pr);
		return false;
	}
	while (pr->next + n <= last)
	{
		const mc_raft_entry *e = mc_raft_log_at(&r->log, pr->next + n);

		if (n > 0 && bytes + entry_bytes(e) > budget)
			break;
		bytes += entry_bytes(e);
		n++;
		if (bytes >= budget)
			break;
	}
	if (n == 0 && !if_empty)
		return false;

	m = mc_raft_send(r, MC_RAFT_MSG_APPEND_REQ, pr->id);
	if (m == NULL)
		return false;
	m->index = prev;
	m->log_term = prev_term;
	m->commit = r->log.committed;
	pr->commit_sent = r->log.committed;
	if (n > 0)
	{
		m->entries = calloc(n, sizeof(mc_raft_entry));
		if (m->entries == NULL)
		{
			r->out_msgs.n--;	/* drop the half-built message */
			return false;
		}
		for (uint32_t i = 0; i < n; i++)
		{
			if (mc_raft_entry_copy(&m->entries[i], mc_raft_log_at(&r->log, pr->next + i)) != 0)
				break;
			m->n_entries++;
		}
		if (m->n_entries == 0)
		{
			/* out of memory: drop the message, retry later */
			free(m->entries);
			r->out_msgs.n--;
			return false;
		}
		n = m->n_entries;
	}
	if (pr->state == MC_RAFT_REPLICATE && n > 0)
	{
		/* optimistic: pipeline the next batch right behind this one */
		pr->next += n;
		pr->inflight[(pr->in_start + pr->in_count) % MC_RAFT_MAX_INFLIGHT] = pr->next - 1;
		pr->in_count++;
	}
	else if (pr->state == MC_RAFT_PROBE)
		pr->probe_sent = true;
	return true;
}

/* Send to every follower what it lacks (and the commit index). */
void
mc_raft_bcast_append(mc_raft *r)
{
	for (int i = 0; i < r->n_prs; i++)
		mc_raft_send_append(r, &r->prs[i], true);
}

/*
 * The deferred broadcast (r->bcast_pending, run by mc_raft_ready): every
 * follower gets the commit index and, pipelined up to its in-flight
 * window, all the entries it lacks — proposals taken together share
 * messages instead of one message each.
 */
void
mc_raft_bcast_fill(mc_raft *r)
{
	for (int i = 0; i < r->n_prs; i++)
	{
		mc_raft_progress *pr = &r->prs[i];

		if (!mc_raft_send_append(r, pr, true))
			continue;
		while (pr->state == MC_RAFT_REPLICATE && mc_raft_send_append(r, pr, false))
			;
	}
}

/*
 * The deferred commit notice (r->commit_notify_pending, run by
 * mc_raft_ready): a follower that asked for every commit (WANT_COMMIT: a
 * backend there waits) gets the new commit index now, in an empty append
 * if nothing else goes to it.  The others learn it with their next append,
 * or at the next tick (mc_raft_tick_leader).
 */
void
mc_raft_notify_commit(mc_raft *r)
{
	for (int i = 0; i < r->n_prs; i++)
	{
		mc_raft_progress *pr = &r->prs[i];

		if (pr->wants_commit && pr->commit_sent < r->log.committed)
			mc_raft_send_append(r, pr, true);
	}
}

/* Note a follower's WANT_COMMIT flag; owe it the commit index if it wants
 * one it has not been sent. */
static void
note_wants_commit(mc_raft *r, mc_raft_progress *pr, const mc_raft_msg *m)
{
	pr->wants_commit = (m->flags & MC_RAFT_FLAG_WANT_COMMIT) != 0;
	if (pr->wants_commit && pr->commit_sent < r->log.committed)
		r->commit_notify_pending = true;
}

/* Heartbeats: commit (bounded by what each follower is known to hold) and
 * the read round ctx. */
void
mc_raft_bcast_heartbeat(mc_raft *r, uint64_t ctx)
{
	for (int i = 0; i < r->n_prs; i++)
	{
		mc_raft_progress *pr = &r->prs[i];
		mc_raft_msg *m = mc_raft_send(r, MC_RAFT_MSG_HEARTBEAT_REQ, pr->id);

		if (m == NULL)
			return;
		m->commit = pr->match < r->log.committed ? pr->match : r->log.committed;
		m->context = ctx;
		if (m->commit > pr->commit_sent)
			pr->commit_sent = m->commit;
	}
}

static int
cmp_desc(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *) a,
				y = *(const uint64_t *) b;

	return x < y ? 1 : (x > y ? -1 : 0);
}

/*
 * The commit rule (R11, R12): the highest index held by a majority of the
 * voters commits, but only if it belongs to the current term; earlier
 * entries commit with it.  The leader counts its own entries only once they
 * are persisted (log.stable).  Returns true if the commit index moved.
 */
bool
mc_raft_maybe_commit(mc_raft *r)
{
	uint64_t	m[MC_RAFT_MAX_MEMBERS];
	int			n = 0;
	int			q = mc_raft_conf_quorum(&r->conf);
	uint64_t	idx;
	uint64_t	t;

	if (r->role != MC_RAFT_LEADER || r->conf.n_voters == 0)
		return false;
	for (uint32_t i = 0; i < r->conf.n_voters; i++)
	{
		uint32_t	id = r->conf.voters[i];

		if (id == r->id)
			m[n++] = r->log.stable;
		else
		{
			mc_raft_progress *pr = mc_raft_progress_get(r, id);

			m[n++] = pr ? pr->match : 0;
		}
	}
	qsort(m, (size_t) n, sizeof(uint64_t), cmp_desc);
	idx = m[q - 1];
	if (idx <= r->log.committed)
		return false;
	if (!mc_raft_log_term(&r->log, idx, &t) || t != r->term)
		return false;
	for (uint64_t i = r->log.committed + 1; i <= idx; i++)
	{
		const mc_raft_entry *e = mc_raft_log_at(&r->log, i);
		uint64_t	b = e ? e->len : 0;

		r->uncommitted = r->uncommitted > b ? r->uncommitted - b : 0;
	}
	r->log.committed = idx;
	return true;
}

/*
 * The leader's commit index moved: serve waiting reads, step down if this
 * leader was removed by a now-committed configuration (R27), and tell the
 * followers that wait for it (the others learn it with their next append
 * or at the next tick).
 */
void
mc_raft_after_commit(mc_raft *r)
{
	mc_raft_read_on_commit(r);
	if (r->conf_index <= r->log.committed && !mc_raft_conf_is_voter(&r->conf, r->id))
	{
		mc_raft_progress *best = NULL;

		mc_raft_bcast_append(r);	/* let them learn the commit */
		/* hand over at once to an up-to-date voter, if there is one */
		for (int i = 0; i < r->n_prs; i++)
			if (!r->prs[i].learner &&
				r->prs[i].match == mc_raft_log_last_index(&r->log))
				best = &r->prs[i];
		if (best)
		{
			mc_raft_msg *m = mc_raft_send(r, MC_RAFT_MSG_TIMEOUT_NOW, best->id);

			(void) m;
		}
		mc_raft_become_follower(r, r->term, MC_RAFT_NONE);
		return;
	}
	r->commit_notify_pending = true;	/* at the next ready */
}

/* Leader: was a rejection stale?  If not, pick the next index to probe using
 * the follower's hint (R13, R14: one round trip per conflicting term). */
static bool
maybe_decrease(mc_raft *r, mc_raft_progress *pr, const mc_raft_msg *m)
{
	uint64_t	next;

	if (pr->state == MC_RAFT_REPLICATE)
	{
		if (m->index <= pr->match)
			return false;		/* stale */
		pr->next = pr->match + 1;
		return true;
	}
	if (m->index != pr->next - 1)
		return false;			/* not an answer to our last probe */
	next = m->index;			/* plain decrement by one: next = rejected */
	{
		uint64_t	j = mc_raft_log_find_by_term(&r->log, m->hint_index, m->hint_term);

		if (j + 1 < next)
			next = j + 1;
	}
	if (next < pr->match + 1)
		next = pr->match + 1;
	if (next < 1)
		next = 1;
	pr->next = next;
	pr->probe_sent = false;
	return true;
}

void
mc_raft_handle_append_resp(mc_raft *r, const mc_raft_msg *m)
{
	mc_raft_progress *pr = mc_raft_progress_get(r, m->from);

	if (pr == NULL)
		return;
	pr->recent_active = true;
	pr->last_ack_tick = r->now;
	note_wants_commit(r, pr, m);

	if (m->reject)
	{
		if (maybe_decrease(r, pr, m))
		{
			if (pr->state == MC_RAFT_REPLICATE)
				progress_become(pr, MC_RAFT_PROBE);
			mc_raft_send_append(r, pr, true);
		}
		return;
	}

	if (pr->state == MC_RAFT_PROBE)
		pr->probe_sent = false;
	/* never lower match (R30): reordered or duplicated acks are ignored */
	if (m->index > pr->match && m->index <= mc_raft_log_last_index(&r->log))
	{
		pr->match = m->index;
		pr->progress_tick = r->now;
		if (pr->next < m->index + 1)
			pr->next = m->index + 1;
		if (pr->state == MC_RAFT_PROBE)
			progress_become(pr, MC_RAFT_REPLICATE);
		else if (pr->state == MC_RAFT_SNAPSHOT && pr->match >= pr->snap_index)
			progress_become(pr, MC_RAFT_PROBE);
		else if (pr->state == MC_RAFT_REPLICATE)
		{
			while (pr->in_count > 0 && pr->inflight[pr->in_start] <= m->index)
			{
				pr->in_start = (pr->in_start + 1) % MC_RAFT_MAX_INFLIGHT;
				pr->in_count--;
			}
		}
		if (mc_raft_maybe_commit(r))
		{
			mc_raft_after_commit(r);
			if (r->role != MC_RAFT_LEADER)
				return;
		}
		mc_raft_transfer_check(r, pr);
	}
	/* keep the pipe full */
	while (mc_raft_send_append(r, pr, false))
		if (pr->state != MC_RAFT_REPLICATE)
			break;
}

void
mc_raft_handle_heartbeat_resp(mc_raft *r, const mc_raft_msg *m)
{
	mc_raft_progress *pr = mc_raft_progress_get(r, m->from);

	if (pr == NULL)
		return;
	pr->recent_active = true;
	pr->last_ack_tick = r->now;
	note_wants_commit(r, pr, m);
	/* a heartbeat answer resumes a paused follower (R17) */
	if (pr->state == MC_RAFT_PROBE)
		pr->probe_sent = false;
	else if (pr->state == MC_RAFT_REPLICATE && pr->in_count >= r->cfg.max_inflight)
	{
		pr->in_start = (pr->in_start + 1) % MC_RAFT_MAX_INFLIGHT;
		pr->in_count--;
	}
	/*
	 * Appends of the pipeline were lost (the follower's log ends before
	 * what we sent): fall back to probing from the last known match.
	 */
	if (pr->state == MC_RAFT_REPLICATE && m->index < pr->next - 1)
	{
		progress_become(pr, MC_RAFT_PROBE);
	}
	if (m->context > pr->read_ack)
	{
		pr->read_ack = m->context;
		mc_raft_read_on_ack(r);
		if (r->role != MC_RAFT_LEADER)
			return;
	}
	if (pr->match < mc_raft_log_last_index(&r->log))
		mc_raft_send_append(r, pr, false);
}

/*
 * Append one entry to the leader's log and start replicating it.  CONFIG
 * entries take effect at once.  Refused while a transfer is under way
 * (DROPPED) or beyond the uncommitted bound (TOO_MUCH, R18; an entry is
 * always accepted when nothing is uncommitted).
 */
int
mc_raft_leader_append(mc_raft *r, uint8_t type, uint64_t client_id,
					  uint64_t request_id, const void *data, uint32_t len,
					  uint64_t *index)
{
	mc_raft_entry e;

	if (r->transfer_to != MC_RAFT_NONE)
		return MC_RAFT_ERR_DROPPED;
	if (type == MC_RAFT_ENTRY_NORMAL && r->cfg.max_uncommitted_bytes > 0 &&
		r->uncommitted > 0 && r->uncommitted + len > r->cfg.max_uncommitted_bytes)
		return MC_RAFT_ERR_TOO_MUCH;
	memset(&e, 0, sizeof(e));
	e.index = mc_raft_log_last_index(&r->log) + 1;
	e.term = r->term;
	e.type = type;
	e.client_id = client_id;
	e.request_id = request_id;
	e.data = (uint8_t *) data;
	e.len = len;
	if (mc_raft_log_append(&r->log, &e) != 0)
		return MC_RAFT_ERR_NOMEM;
	r->hs_sync = true;
	r->uncommitted += len;
	if (index)
		*index = e.index;
	if (type == MC_RAFT_ENTRY_CONFIG)
	{
		mc_raft_conf_recompute(r);
		mc_raft_progress_sync_conf(r);
		if (mc_raft_maybe_commit(r))
		{
			mc_raft_after_commit(r);
			if (r->role != MC_RAFT_LEADER)
				return MC_RAFT_OK;	/* removed itself: stepped down */
		}
	}
	/* sent at the next ready: proposals taken together share one message */
	r->bcast_pending = true;
	return MC_RAFT_OK;
}

/* Leader's clock: heartbeats, check-quorum (R19), transfer timeout (R29),
 * snapshot transfer retries (R28). */
void
mc_raft_tick_leader(mc_raft *r)
{
	r->hb_elapsed++;
	r->elapsed++;
	if (r->transfer_to != MC_RAFT_NONE && ++r->transfer_elapsed >= r->cfg.election_ticks)
		mc_raft_transfer_abort(r);
	for (int i = 0; i < r->n_prs; i++)
	{
		mc_raft_progress *pr = &r->prs[i];

		mc_raft_snapshot_tick(r, pr);
		/* a commit index nobody carried to it since the last tick */
		if (pr->commit_sent < r->log.committed)
			mc_raft_send_append(r, pr, true);
		/* a pipeline that made no progress for ET ticks is re-probed */
		if (pr->state == MC_RAFT_REPLICATE && pr->match + 1 < pr->next &&
			r->now - pr->progress_tick >= (uint64_t) r->cfg.election_ticks)
		{
			progress_become(pr, MC_RAFT_PROBE);
			mc_raft_send_append(r, pr, true);
		}
	}
	if (r->elapsed >= r->cfg.election_ticks)
	{
		r->elapsed = 0;
		if (r->cfg.check_quorum)
		{
			int			active = mc_raft_conf_is_voter(&r->conf, r->id) ? 1 : 0;

			for (int i = 0; i < r->n_prs; i++)
				if (!r->prs[i].learner && r->prs[i].recent_active)
					active++;
			if (active < mc_raft_conf_quorum(&r->conf))
			{
				mc_raft_become_follower(r, r->term, MC_RAFT_NONE);
				return;
			}
		}
		for (int i = 0; i < r->n_prs; i++)
			r->prs[i].recent_active = false;
	}
	if (r->hb_elapsed >= r->cfg.heartbeat_ticks)
	{
		r->hb_elapsed = 0;
		mc_raft_bcast_heartbeat(r, r->read_seq);
	}
}
