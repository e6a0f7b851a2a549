/*
 * raft_read.c — ReadIndex linearizable reads (thesis 6.4, R23, R24).
 *
 * The leader answers a read with its commit index once (1) it has committed
 * an entry of its own term and (2) a majority of voters answered a heartbeat
 * sent after the read arrived, which proves no newer leader existed then.
 * Followers ask the leader and get the index back.  Rounds are numbered
 * (read_seq); a heartbeat carries the round, an answer acknowledges every
 * round up to it.  The heartbeat of a round leaves at the next ready, so
 * every read taken before it (proposals and requests of one host loop)
 * shares one round: it was sent after each of them arrived.
 */
#include "raft_int.h"

/* Has the leader committed an entry of its current term? */
bool
mc_raft_committed_in_term(const mc_raft *r)
{
	uint64_t	t;

	return mc_raft_log_term(&r->log, r->log.committed, &t) && t == r->term;
}

static void
answer(mc_raft *r, const mc_raft_pending_read *rd, bool failed)
{
	if (rd->from == r->id)
	{
		mc_raft_read_state *s = MC_RAFT_PUSH(r->out_reads);

		if (s)
		{
			s->context = rd->context;
			s->index = failed ? 0 : rd->index;
			s->failed = failed;
		}
	}
	else
	{
		mc_raft_msg *m = mc_raft_send(r, MC_RAFT_MSG_READINDEX_RESP, rd->from);

		if (m)
		{
			m->term = r->term;
			m->context = rd->context;
			m->index = failed ? 0 : rd->index;
			m->reject = failed;
		}
	}
}

static bool
self_only_quorum(const mc_raft *r)
{
	return mc_raft_conf_is_voter(&r->conf, r->id) && mc_raft_conf_quorum(&r->conf) == 1;
}

/* Accept a read on the leader (caller checked role). */
static void
submit(mc_raft *r, uint64_t context, uint32_t from)
{
	mc_raft_pending_read rd = {context, from, r->log.committed, 0};
	mc_raft_pending_read *p;

	if (!mc_raft_committed_in_term(r))
	{
		p = MC_RAFT_PUSH(r->reads_wait);
		if (p)
			*p = rd;
		else
			answer(r, &rd, true);
		return;
	}
	if (self_only_quorum(r))
	{
		answer(r, &rd, false);
		return;
	}
	rd.seq = ++r->read_seq;
	p = MC_RAFT_PUSH(r->reads_pending);
	if (p == NULL)
	{
		answer(r, &rd, true);
		return;
	}
	*p = rd;
	r->read_round_pending = true;	/* mc_raft_ready starts the round */
}

int
mc_raft_read_index(mc_raft *r, uint64_t context)
{
	mc_raft_msg *m;

	if (r->in_ready)
		return MC_RAFT_ERR_INVALID;
	if (r->role == MC_RAFT_LEADER)
	{
		submit(r, context, r->id);
		return MC_RAFT_OK;
	}
	if (r->leader == MC_RAFT_NONE)
		return MC_RAFT_ERR_NOT_LEADER;
	m = mc_raft_send(r, MC_RAFT_MSG_READINDEX_REQ, r->leader);
	if (m == NULL)
		return MC_RAFT_ERR_NOMEM;
	m->term = r->term;
	m->context = context;
	return MC_RAFT_OK;
}

/* The first commit of the term: the held reads may now start their round. */
void
mc_raft_read_on_commit(mc_raft *r)
{
	size_t		n = r->reads_wait.n;

	if (n == 0 || !mc_raft_committed_in_term(r))
		return;
	r->reads_wait.n = 0;
	for (size_t i = 0; i < n; i++)
	{
		mc_raft_pending_read rd = r->reads_wait.v[i];

		submit(r, rd.context, rd.from);
	}
}

/* A heartbeat answer arrived: release every read whose round a majority
 * has acknowledged, oldest first. */
void
mc_raft_read_on_ack(mc_raft *r)
{
	size_t		done = 0;

	while (done < r->reads_pending.n)
	{
		mc_raft_pending_read *rd = &r->reads_pending.v[done];
		int			acks = mc_raft_conf_is_voter(&r->conf, r->id) ? 1 : 0;

		for (int i = 0; i < r->n_prs; i++)
			if (!r->prs[i].learner && r->prs[i].read_ack >= rd->seq)
				acks++;
		if (acks < mc_raft_conf_quorum(&r->conf))
			break;
		answer(r, rd, false);
		done++;
	}
	if (done > 0)
	{
		for (size_t i = done; i < r->reads_pending.n; i++)
			r->reads_pending.v[i - done] = r->reads_pending.v[i];
		r->reads_pending.n -= done;
	}
}

/* Leadership lost: every held read fails (the host retries). */
void
mc_raft_read_fail_all(mc_raft *r)
{
	for (size_t i = 0; i < r->reads_wait.n; i++)
		answer(r, &r->reads_wait.v[i], true);
	for (size_t i = 0; i < r->reads_pending.n; i++)
		answer(r, &r->reads_pending.v[i], true);
	r->reads_wait.n = 0;
	r->reads_pending.n = 0;
}

void
mc_raft_handle_readindex_req(mc_raft *r, const mc_raft_msg *m)
{
	if (r->role != MC_RAFT_LEADER)
	{
		mc_raft_pending_read rd = {m->context, m->from, 0, 0};

		answer(r, &rd, true);
		return;
	}
	submit(r, m->context, m->from);
}

void
mc_raft_handle_readindex_resp(mc_raft *r, const mc_raft_msg *m)
{
	mc_raft_read_state *s = MC_RAFT_PUSH(r->out_reads);

	if (s == NULL)
		return;
	s->context = m->context;
	s->index = m->reject ? 0 : m->index;
	s->failed = m->reject;
}
