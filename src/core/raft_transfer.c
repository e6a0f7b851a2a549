/*
 * raft_transfer.c — leadership transfer (thesis 3.10, R29): the leader
 * stops taking proposals, brings the target up to date, then sends it
 * TimeoutNow so it campaigns at once (bypassing pre-vote and leases); the
 * transfer is abandoned after ET ticks.
 */
#include "raft_int.h"

int
mc_raft_transfer_leader(mc_raft *r, uint32_t target)
{
	mc_raft_progress *pr;

	if (r->in_ready)
		return MC_RAFT_ERR_INVALID;
	if (r->role != MC_RAFT_LEADER)
		return MC_RAFT_ERR_NOT_LEADER;
	if (target == MC_RAFT_NONE)
	{
		/* the most up-to-date other voter */
		uint64_t	best = 0;

		for (int i = 0; i < r->n_prs; i++)
			if (!r->prs[i].learner && (target == MC_RAFT_NONE || r->prs[i].match > best))
			{
				target = r->prs[i].id;
				best = r->prs[i].match;
			}
	}
	if (target == r->id || !mc_raft_conf_is_voter(&r->conf, target))
		return MC_RAFT_ERR_INVALID;
	pr = mc_raft_progress_get(r, target);
	if (pr == NULL)
		return MC_RAFT_ERR_INVALID;
	if (r->transfer_to == target)
		return MC_RAFT_OK;
	r->transfer_to = target;
	r->transfer_elapsed = 0;
	if (pr->match == mc_raft_log_last_index(&r->log))
		mc_raft_transfer_check(r, pr);
	else
		mc_raft_send_append(r, pr, true);
	return MC_RAFT_OK;
}

/* pr just caught up (or may have): if it is the transfer target and holds
 * our whole log, tell it to campaign now. */
void
mc_raft_transfer_check(mc_raft *r, mc_raft_progress *pr)
{
	mc_raft_msg *m;

	if (r->transfer_to != pr->id || pr->match != mc_raft_log_last_index(&r->log))
		return;
	m = mc_raft_send(r, MC_RAFT_MSG_TIMEOUT_NOW, pr->id);
	if (m)
		m->term = r->term;
}

void
mc_raft_transfer_abort(mc_raft *r)
{
	r->transfer_to = MC_RAFT_NONE;
	r->transfer_elapsed = 0;
}

/* Follower: the leader hands over; campaign at once in a real election. */
void
mc_raft_handle_timeout_now(mc_raft *r, const mc_raft_msg *m)
{
	if (!mc_raft_promotable(r))
		return;
	mc_raft_campaign(r, false, MC_RAFT_FLAG_TRANSFER);
}
