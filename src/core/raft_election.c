/*
 * raft_election.c — elections: campaigning (pre-vote and real vote),
 * answering vote requests (up-to-date check, one vote per term, the leader
 * lease of check-quorum, the leader-lost tie-break) and counting answers.
 */
#include "raft_int.h"

/*
 * Check-quorum lease (R20): a node that heard from a live leader less than
 * ET ticks ago refuses to help anyone else get elected.
 */
bool
mc_raft_in_lease(const mc_raft *r)
{
	return r->cfg.check_quorum && r->leader != MC_RAFT_NONE &&
		r->elapsed < r->cfg.election_ticks;
}

static bool
already(const uint32_t *ids, int n, uint32_t id)
{
	for (int i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

static void
send_vote_req(mc_raft *r, uint32_t to, bool pre, uint8_t flags)
{
	mc_raft_msg *m = mc_raft_send(r, pre ? MC_RAFT_MSG_PREVOTE_REQ : MC_RAFT_MSG_VOTE_REQ, to);

	if (m == NULL)
		return;
	m->term = pre ? r->term + 1 : r->term;
	m->index = mc_raft_log_last_index(&r->log);
	m->log_term = mc_raft_log_last_term(&r->log);
	m->flags = flags;
}

/*
 * Count one answer (granted or not) from a voter; decides the round once a
 * majority of the configuration agrees either way (R4).
 */
static void
tally(mc_raft *r, uint32_t from, bool granted, uint8_t flags)
{
	int			q = mc_raft_conf_quorum(&r->elect_conf);

	if (!mc_raft_conf_is_voter(&r->elect_conf, from))
		return;
	if (already(r->granted, r->n_granted, from) || already(r->refused, r->n_refused, from))
		return;
	if (granted)
		r->granted[r->n_granted++] = from;
	else
		r->refused[r->n_refused++] = from;

	if (r->n_granted >= q)
	{
		if (r->role == MC_RAFT_PRE_CANDIDATE)
			mc_raft_campaign(r, false, flags);
		else
			mc_raft_become_leader(r);
	}
	else if (r->n_refused >= q)
		mc_raft_become_follower(r, r->term, MC_RAFT_NONE);
}

/*
 * Start an election.  pre = a pre-vote round first (thesis 9.6): it asks
 * whether the others would vote, without raising anybody's term.  flags go
 * on the requests (LEADER_LOST, TRANSFER).  Non-voters never campaign.
 */
void
mc_raft_campaign(mc_raft *r, bool pre, uint8_t flags)
{
	mc_raft_conf ec;

	if (!mc_raft_election_conf(r, &ec))
		return;
	if (pre)
		mc_raft_become_pre_candidate(r);
	else
		mc_raft_become_candidate(r);
	r->campaign_flags = flags;
	r->elect_conf = ec;
	tally(r, r->id, true, flags);
	if (r->role == MC_RAFT_LEADER || (pre && r->role != MC_RAFT_PRE_CANDIDATE))
		return;					/* single voter: decided already */
	for (uint32_t i = 0; i < ec.n_voters; i++)
		if (ec.voters[i] != r->id)
			send_vote_req(r, ec.voters[i], pre, flags);
}

/*
 * A (pre-)vote request whose term is >= ours (lower terms and leases were
 * handled by the dispatcher).  Grants when we have no other vote this term
 * and the candidate's log is at least as up-to-date as ours (R5, R6).
 */
void
mc_raft_handle_vote_req(mc_raft *r, const mc_raft_msg *m)
{
	bool		pre = m->type == MC_RAFT_MSG_PREVOTE_REQ;
	bool		can;
	bool		ok;
	mc_raft_msg *resp;

	can = r->vote == m->from ||
		(r->vote == MC_RAFT_NONE && r->leader == MC_RAFT_NONE) ||
		(pre && m->term > r->term);
	ok = can && mc_raft_log_up_to_date(&r->log, m->index, m->log_term);

	/*
	 * Leader-lost race: two nodes saw the leader die at the same moment
	 * and both pre-campaign.  Both winning would split the real vote, so
	 * a pre-candidate that saw the loss itself grants only a strictly
	 * better log, or an equal log from a lower node id, and then stands
	 * down; otherwise it refuses and re-sends its own request to that
	 * peer, which saw the loss too and so may now grant it.
	 */
	if (pre && r->role == MC_RAFT_PRE_CANDIDATE && r->leader_lost)
	{
		uint64_t	li = mc_raft_log_last_index(&r->log);
		uint64_t	lt = mc_raft_log_last_term(&r->log);
		bool		better = m->log_term > lt || (m->log_term == lt && m->index > li);
		bool		equal = m->log_term == lt && m->index == li;

		if (ok && (better || (equal && m->from < r->id)))
			mc_raft_become_follower(r, r->term, MC_RAFT_NONE);
		else
		{
			ok = false;
			if (m->flags & MC_RAFT_FLAG_LEADER_LOST)
				send_vote_req(r, m->from, true, r->campaign_flags);
		}
	}

	resp = mc_raft_send(r, pre ? MC_RAFT_MSG_PREVOTE_RESP : MC_RAFT_MSG_VOTE_RESP, m->from);
	if (resp == NULL)
		return;
	resp->reject = !ok;
	resp->term = (ok && pre) ? m->term : r->term;
	if (ok && !pre)
	{
		/* persisted (hs_sync) before this response leaves (R5, R32) */
		r->vote = m->from;
		r->hs_sync = true;
		r->elapsed = 0;
	}
}

/* An answer to our (pre-)vote request. */
void
mc_raft_handle_vote_resp(mc_raft *r, const mc_raft_msg *m)
{
	if (m->type == MC_RAFT_MSG_PREVOTE_RESP)
	{
		if (r->role != MC_RAFT_PRE_CANDIDATE)
			return;
		/* a grant is for the term we would campaign in */
		if (!m->reject && m->term != r->term + 1)
			return;
	}
	else
	{
		if (r->role != MC_RAFT_CANDIDATE || m->term != r->term)
			return;
	}
	tally(r, m->from, !m->reject, r->campaign_flags);
}

/* Election timer of followers and candidates (R2, R3). */
void
mc_raft_tick_election(mc_raft *r)
{
	r->elapsed++;
	if (mc_raft_promotable(r) && r->elapsed >= r->timeout)
		mc_raft_campaign(r, r->cfg.pre_vote,
						 r->leader_lost ? MC_RAFT_FLAG_LEADER_LOST : 0);
}

void
mc_raft_leader_lost(mc_raft *r)
{
	if (r->role == MC_RAFT_LEADER)
		return;
	r->leader = MC_RAFT_NONE;
	if (!mc_raft_promotable(r))
		return;
	r->leader_lost = true;
	mc_raft_campaign(r, true, MC_RAFT_FLAG_LEADER_LOST);
}
