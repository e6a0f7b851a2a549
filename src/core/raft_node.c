/*
 * raft_node.c — a Raft node's lifecycle and entry points: create/destroy,
 * the tick, the message dispatcher (term rules common to every message, then
 * one handler per message type), client proposals, and small shared helpers
 * (PRNG, output vectors, building outgoing messages).
 */
#include "raft_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *
mc_raft_vec_push(void **v, size_t *n, size_t *cap, size_t elem)
{
	uint8_t    *p;

	if (*n == *cap)
	{
		size_t		ncap = *cap ? *cap * 2 : 16;
		void	   *nv = realloc(*v, ncap * elem);

		if (nv == NULL)
			return NULL;
		*v = nv;
		*cap = ncap;
	}
	p = (uint8_t *) *v + (*n) * elem;
	memset(p, 0, elem);
	(*n)++;
	return p;
}

/* splitmix64: deterministic from the seed. */
uint64_t
mc_raft_rand(mc_raft *r)
{
	uint64_t	z = (r->rng += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* Queue an outgoing message (zeroed; from/to/term filled). NULL on OOM. */
mc_raft_msg *
mc_raft_send(mc_raft *r, uint8_t type, uint32_t to)
{
	mc_raft_msg *m = MC_RAFT_PUSH(r->out_msgs);

	if (m == NULL)
		return NULL;
	m->type = type;
	m->from = r->id;
	m->to = to;
	m->term = r->term;
	return m;
}

static void
set_err(char *err, size_t errlen, const char *msg)
{
	if (err && errlen > 0)
		snprintf(err, errlen, "%s", msg);
}

mc_raft *
mc_raft_create(const mc_raft_config *cfg, const mc_raft_hard_state *hs,
			   const mc_raft_snapshot_meta *snap,
			   const mc_raft_entry *entries, size_t n_entries,
			   char *err, size_t errlen)
{
	mc_raft    *r;
	uint64_t	last;

	if (cfg == NULL || cfg->id == MC_RAFT_NONE || cfg->id > 65535)
	{
		set_err(err, errlen, "node id must be in 1..65535");
		return NULL;
	}
	if (cfg->election_ticks < 2 || cfg->heartbeat_ticks < 1 ||
		cfg->heartbeat_ticks >= cfg->election_ticks)
	{
		set_err(err, errlen, "need election_ticks >= 2 and 1 <= heartbeat_ticks < election_ticks");
		return NULL;
	}
	if (cfg->max_inflight < 0 || cfg->max_inflight > MC_RAFT_MAX_INFLIGHT)
	{
		set_err(err, errlen, "max_inflight out of range (0..256)");
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL)
	{
		set_err(err, errlen, "out of memory");
		return NULL;
	}
	r->prs = calloc(MC_RAFT_MAX_MEMBERS, sizeof(mc_raft_progress));
	if (r->prs == NULL)
	{
		free(r);
		set_err(err, errlen, "out of memory");
		return NULL;
	}
	r->cfg = *cfg;
	if (r->cfg.max_batch_bytes == 0)
		r->cfg.max_batch_bytes = MC_RAFT_DEFAULT_BATCH;
	if (r->cfg.max_inflight == 0)
		r->cfg.max_inflight = 64;
	r->id = cfg->id;
	r->rng = cfg->seed ^ ((uint64_t) cfg->id * 0xD1B54A32D192ED03ULL);

	if (snap)
	{
		r->log.snap_index = snap->index;
		r->log.snap_term = snap->term;
		r->snap_conf = snap->conf;
	}
	for (size_t i = 0; i < n_entries; i++)
	{
		if (entries[i].index != mc_raft_log_last_index(&r->log) + 1 ||
			entries[i].term < mc_raft_log_last_term(&r->log) ||
			mc_raft_log_append(&r->log, &entries[i]) != 0)
		{
			set_err(err, errlen, "stored log entries are not consecutive after the snapshot");
			mc_raft_destroy(r);
			return NULL;
		}
	}
	last = mc_raft_log_last_index(&r->log);
	r->log.stable = last;
	if (hs)
	{
		r->term = hs->term;
		r->vote = hs->vote;
		r->log.committed = hs->commit;
	}
	if (r->term < mc_raft_log_last_term(&r->log))
	{
		set_err(err, errlen, "hard state term is below the last log term");
		mc_raft_destroy(r);
		return NULL;
	}
	if (r->log.committed < r->log.snap_index)
		r->log.committed = r->log.snap_index;
	if (r->log.committed > last)
		r->log.committed = last;
	/*
	 * The host's state machine may be ahead of the persisted commit index
	 * (it applied, then crashed before the hard state reached disk): what
	 * it applied was committed, so the commit index follows it.
	 */
	r->log.applied = cfg->applied;
	if (r->log.applied < r->log.snap_index)
		r->log.applied = r->log.snap_index;
	if (r->log.applied > last)
		r->log.applied = last;
	if (r->log.applied > r->log.committed)
		r->log.committed = r->log.applied;
	mc_raft_conf_recompute(r);

	mc_raft_become_follower(r, r->term, MC_RAFT_NONE);
	r->hs_sync = false;
	r->prev_hs.term = r->term;
	r->prev_hs.vote = r->vote;
	r->prev_hs.commit = r->log.committed;
	r->prev_soft.role = r->role;
	r->prev_soft.leader = r->leader;
	return r;
}

static void
free_outputs(mc_raft *r)
{
	for (size_t i = 0; i < r->out_msgs.n; i++)
	{
		mc_raft_msg *m = &r->out_msgs.v[i];

		for (uint32_t j = 0; j < m->n_entries; j++)
			mc_raft_entry_free(&m->entries[j]);
		free(m->entries);
		if (m->type == MC_RAFT_MSG_SNAPSHOT_REQ)
			free((void *) m->data);
	}
	r->out_msgs.n = 0;
	for (size_t i = 0; i < r->out_chunks.n; i++)
		free((void *) r->out_chunks.v[i].data);
	r->out_chunks.n = 0;
	r->out_reads.n = 0;
	r->out_snapreq.n = 0;
}

/* Exported for raft_ready.c. */
void
mc_raft_free_outputs(mc_raft *r)
{
	free_outputs(r);
}

void
mc_raft_destroy(mc_raft *r)
{
	if (r == NULL)
		return;
	free_outputs(r);
	free(r->out_msgs.v);
	free(r->out_chunks.v);
	free(r->out_reads.v);
	free(r->out_snapreq.v);
	free(r->reads_wait.v);
	free(r->reads_pending.v);
	mc_raft_log_free(&r->log);
	free(r->prs);
	free(r);
}

void
mc_raft_tick(mc_raft *r)
{
	if (r->in_ready)
		return;
	r->now++;
	if (r->role == MC_RAFT_LEADER)
		mc_raft_tick_leader(r);
	else
		mc_raft_tick_election(r);
}

/* See raft.h. */
int
mc_raft_set_max_batch(mc_raft *r, uint32_t bytes)
{
	if (bytes == 0)
		return MC_RAFT_ERR_INVALID;
	r->cfg.max_batch_bytes = bytes;
	return MC_RAFT_OK;
}

/* See raft.h. */
int
mc_raft_set_timeouts(mc_raft *r, int election_ticks, int heartbeat_ticks)
{
	int			elapsed;

	if (election_ticks < 2 || heartbeat_ticks < 1 || heartbeat_ticks >= election_ticks)
		return MC_RAFT_ERR_INVALID;
	r->cfg.election_ticks = election_ticks;
	r->cfg.heartbeat_ticks = heartbeat_ticks;
	/* redraw the wait under way from the new base, keeping what elapsed */
	elapsed = r->elapsed;
	mc_raft_reset_timeout(r);
	r->elapsed = elapsed;
	return MC_RAFT_OK;
}

static bool
from_leader(int type)
{
	return type == MC_RAFT_MSG_APPEND_REQ || type == MC_RAFT_MSG_HEARTBEAT_REQ ||
		type == MC_RAFT_MSG_SNAPSHOT_REQ;
}

/* Forwarded proposals, read-index traffic: not bound to terms. */
static void
step_termless(mc_raft *r, const mc_raft_msg *m)
{
	switch (m->type)
	{
		case MC_RAFT_MSG_PROPOSE:
			if (r->role != MC_RAFT_LEADER)
			{
				/*
				 * The sender's idea of the leader was stale: pass it on once
				 * to the leader we know (one hop only, so no loops); else
				 * drop it and let the host's request time out.
				 */
				if (r->leader != MC_RAFT_NONE && r->leader != m->from &&
					!(m->flags & MC_RAFT_FLAG_FORWARDED))
				{
					mc_raft_msg *f = mc_raft_send(r, MC_RAFT_MSG_PROPOSE, r->leader);

					if (f == NULL)
						return;
					f->flags = MC_RAFT_FLAG_FORWARDED;
					f->entries = calloc(m->n_entries ? m->n_entries : 1, sizeof(mc_raft_entry));
					if (f->entries == NULL)
						return;
					for (uint32_t i = 0; i < m->n_entries; i++)
					{
						if (mc_raft_entry_copy(&f->entries[i], &m->entries[i]) != 0)
							break;
						f->n_entries++;
					}
				}
				return;
			}
			for (uint32_t i = 0; i < m->n_entries; i++)
			{
				const mc_raft_entry *e = &m->entries[i];

				if (e->type == MC_RAFT_ENTRY_NORMAL)
					(void) mc_raft_leader_append(r, MC_RAFT_ENTRY_NORMAL, e->client_id,
												 e->request_id, e->data, e->len, NULL);
				else if (e->type == MC_RAFT_ENTRY_CONFIG)
					mc_raft_forwarded_change(r, e);
				if (r->role != MC_RAFT_LEADER)
					return;
			}
			break;
		case MC_RAFT_MSG_READINDEX_REQ:
			mc_raft_handle_readindex_req(r, m);
			break;
		case MC_RAFT_MSG_READINDEX_RESP:
			mc_raft_handle_readindex_resp(r, m);
			break;
	}
}

int
mc_raft_step(mc_raft *r, const mc_raft_msg *m)
{
	if (r->in_ready || m->to != r->id || m->from == MC_RAFT_NONE || m->from == r->id)
		return MC_RAFT_OK;
	if (m->type == MC_RAFT_MSG_PROPOSE || m->type == MC_RAFT_MSG_READINDEX_REQ ||
		m->type == MC_RAFT_MSG_READINDEX_RESP)
	{
		step_termless(r, m);
		return MC_RAFT_OK;
	}
	if (m->term == 0)
		return MC_RAFT_OK;

	/* term rules shared by every message (R1) */
	if (m->term > r->term)
	{
		if (m->type == MC_RAFT_MSG_VOTE_REQ || m->type == MC_RAFT_MSG_PREVOTE_REQ)
		{
			/* R20: a live leader's follower does not help depose it */
			if (!(m->flags & MC_RAFT_FLAG_TRANSFER) && mc_raft_in_lease(r))
				return MC_RAFT_OK;
		}
		if (m->type == MC_RAFT_MSG_PREVOTE_REQ)
		{
			/* a pre-vote never changes our term */
		}
		else if (m->type == MC_RAFT_MSG_PREVOTE_RESP && !m->reject)
		{
			/* a grant for the term we would campaign in */
		}
		else
			mc_raft_become_follower(r, m->term,
									from_leader(m->type) ? m->from : MC_RAFT_NONE);
	}
	else if (m->term < r->term)
	{
		if (from_leader(m->type) && (r->cfg.check_quorum || r->cfg.pre_vote))
		{
			/* tell a deposed leader (R15) about the newer term */
			mc_raft_msg *resp = mc_raft_send(r, MC_RAFT_MSG_APPEND_RESP, m->from);

			(void) resp;
		}
		else if (m->type == MC_RAFT_MSG_PREVOTE_REQ || m->type == MC_RAFT_MSG_VOTE_REQ)
		{
			/* refuse with our term so the candidate catches up (thesis) */
			mc_raft_msg *resp = mc_raft_send(r, m->type == MC_RAFT_MSG_VOTE_REQ ?
											 MC_RAFT_MSG_VOTE_RESP : MC_RAFT_MSG_PREVOTE_RESP,
											 m->from);

			if (resp)
				resp->reject = true;
		}
		return MC_RAFT_OK;
	}

	switch (m->type)
	{
		case MC_RAFT_MSG_PREVOTE_REQ:
		case MC_RAFT_MSG_VOTE_REQ:
			mc_raft_handle_vote_req(r, m);
			break;
		case MC_RAFT_MSG_PREVOTE_RESP:
		case MC_RAFT_MSG_VOTE_RESP:
			mc_raft_handle_vote_resp(r, m);
			break;
		case MC_RAFT_MSG_APPEND_REQ:
		case MC_RAFT_MSG_HEARTBEAT_REQ:
		case MC_RAFT_MSG_SNAPSHOT_REQ:
			if (r->role == MC_RAFT_LEADER)
				return MC_RAFT_OK;	/* cannot happen: one leader per term */
			/* R7: a candidate hearing its term's leader steps back */
			if (r->role != MC_RAFT_FOLLOWER || r->leader != m->from)
				mc_raft_become_follower(r, r->term, m->from);
			r->elapsed = 0;
			r->leader_tick = r->now;
			r->leader_lost = false;
			if (m->type == MC_RAFT_MSG_APPEND_REQ)
				mc_raft_handle_append(r, m);
			else if (m->type == MC_RAFT_MSG_HEARTBEAT_REQ)
				mc_raft_handle_heartbeat(r, m);
			else
				mc_raft_handle_snapshot(r, m);
			break;
		case MC_RAFT_MSG_APPEND_RESP:
			if (r->role == MC_RAFT_LEADER)
				mc_raft_handle_append_resp(r, m);
			break;
		case MC_RAFT_MSG_HEARTBEAT_RESP:
			if (r->role == MC_RAFT_LEADER)
				mc_raft_handle_heartbeat_resp(r, m);
			break;
		case MC_RAFT_MSG_SNAPSHOT_RESP:
			if (r->role == MC_RAFT_LEADER)
				mc_raft_handle_snapshot_resp(r, m);
			break;
		case MC_RAFT_MSG_TIMEOUT_NOW:
			mc_raft_handle_timeout_now(r, m);
			break;
	}
	return MC_RAFT_OK;
}

int
mc_raft_propose(mc_raft *r, uint8_t type, uint64_t client_id,
				uint64_t request_id, const void *data, uint32_t len,
				uint64_t *index)
{
	mc_raft_msg *m;
	mc_raft_entry e = {0};

	if (index)
		*index = 0;
	if (r->in_ready || type != MC_RAFT_ENTRY_NORMAL || (len > 0 && data == NULL))
		return MC_RAFT_ERR_INVALID;
	if (r->role == MC_RAFT_LEADER)
		return mc_raft_leader_append(r, type, client_id, request_id, data, len, index);
	if (r->leader == MC_RAFT_NONE)
		return MC_RAFT_ERR_NOT_LEADER;
	m = mc_raft_send(r, MC_RAFT_MSG_PROPOSE, r->leader);
	if (m == NULL)
		return MC_RAFT_ERR_NOMEM;
	m->entries = calloc(1, sizeof(mc_raft_entry));
	e.type = type;
	e.client_id = client_id;
	e.request_id = request_id;
	e.data = (uint8_t *) data;
	e.len = len;
	if (m->entries == NULL || mc_raft_entry_copy(&m->entries[0], &e) != 0)
		return MC_RAFT_ERR_NOMEM;
	m->n_entries = 1;
	return MC_RAFT_OK;
}

/* See raft.h. */
void
mc_raft_set_commit_wanted(mc_raft *r, bool wanted)
{
	r->commit_wanted = wanted;
}

/* See raft.h. */
bool
mc_raft_is_leader(const mc_raft *r)
{
	return r->role == MC_RAFT_LEADER;
}

/* See raft.h. */
bool
mc_raft_leader_round_open(const mc_raft *r)
{
	return r->role == MC_RAFT_LEADER &&
		mc_raft_log_last_index(&r->log) > r->log.committed;
}
