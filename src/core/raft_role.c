/*
 * raft_role.c — every role change of a node happens here, and only here:
 * follower, pre-candidate, candidate, leader; plus the randomised election
 * timeout and the "may this node campaign" rule.
 */
#include "raft_int.h"

#include <string.h>

const char *
mc_raft_role_name(int role)
{
	switch (role)
	{
		case MC_RAFT_FOLLOWER:
			return "follower";
		case MC_RAFT_PRE_CANDIDATE:
			return "pre-candidate";
		case MC_RAFT_CANDIDATE:
			return "candidate";
		case MC_RAFT_LEADER:
			return "leader";
	}
	return "unknown";
}

/* Draw a fresh election timeout uniformly in [ET, 2ET) (R3). */
void
mc_raft_reset_timeout(mc_raft *r)
{
	int			et = r->cfg.election_ticks;

	r->elapsed = 0;
	r->timeout = et + (int) (mc_raft_rand(r) % (uint64_t) et);
}

/*
 * The configuration this node would stand in, into *out; false when it may
 * not stand at all.  Normally the latest configuration, if we are a voter
 * of it (learners and removed or not-yet-added nodes never campaign).  One
 * exception: a node that appended its own removal which is not yet
 * committed stands under the previous configuration, else a cluster whose
 * only up-to-date log is on that node could never elect a leader (see
 * doc/raft.md).  Majorities of the two overlap, so election safety holds.
 */
bool
mc_raft_election_conf(const mc_raft *r, mc_raft_conf *out)
{
	if (mc_raft_conf_is_voter(&r->conf, r->id))
	{
		*out = r->conf;
		return true;
	}
	if (r->conf_index > r->log.committed && r->conf_index > r->log.snap_index)
	{
		mc_raft_conf_at(r, r->conf_index - 1, out);
		return mc_raft_conf_is_voter(out, r->id);
	}
	return false;
}

bool
mc_raft_promotable(const mc_raft *r)
{
	mc_raft_conf c;

	return mc_raft_election_conf(r, &c);
}

/* Leave the leader role: fail its reads, forget transfer, progress and
 * the broadcasts it meant to send at the next ready. */
static void
leave_leadership(mc_raft *r)
{
	if (r->role != MC_RAFT_LEADER)
		return;
	mc_raft_read_fail_all(r);
	r->transfer_to = MC_RAFT_NONE;
	r->n_prs = 0;
	r->uncommitted = 0;
	r->bcast_pending = false;
	r->commit_notify_pending = false;
	r->read_round_pending = false;
}

/*
 * Become a follower of `leader` (MC_RAFT_NONE if unknown) in `term`.  A
 * higher term clears the vote (R1).  Hearing of a leader clears the
 * leader-lost hint.
 */
void
mc_raft_become_follower(mc_raft *r, uint64_t term, uint32_t leader)
{
	leave_leadership(r);
	if (term > r->term)
	{
		r->term = term;
		r->vote = MC_RAFT_NONE;
		r->hs_sync = true;
	}
	r->role = MC_RAFT_FOLLOWER;
	r->leader = leader;
	r->n_granted = r->n_refused = 0;
	mc_raft_reset_timeout(r);
	if (leader != MC_RAFT_NONE)
	{
		r->leader_lost = false;
		r->leader_tick = r->now;
	}
}

/* Start a pre-vote round: no term change, no vote recorded. */
void
mc_raft_become_pre_candidate(mc_raft *r)
{
	leave_leadership(r);
	r->role = MC_RAFT_PRE_CANDIDATE;
	r->leader = MC_RAFT_NONE;
	r->n_granted = r->n_refused = 0;
	mc_raft_reset_timeout(r);
}

/* Start a real election: new term, vote for self (persisted before the
 * vote requests leave: hs_sync). */
void
mc_raft_become_candidate(mc_raft *r)
{
	leave_leadership(r);
	r->term++;
	r->vote = r->id;
	r->hs_sync = true;
	r->role = MC_RAFT_CANDIDATE;
	r->leader = MC_RAFT_NONE;
	r->n_granted = r->n_refused = 0;
	mc_raft_reset_timeout(r);
}

/* Won the election: take over replication and append this term's no-op
 * (R11), which is also what lets earlier entries commit (R12). */
void
mc_raft_become_leader(mc_raft *r)
{
	r->role = MC_RAFT_LEADER;
	r->leader = r->id;
	r->leader_lost = false;
	r->elapsed = 0;
	r->hb_elapsed = 0;
	r->transfer_to = MC_RAFT_NONE;
	r->uncommitted = 0;
	r->leader_tick = r->now;
	mc_raft_progress_reset_all(r);
	mc_raft_leader_append(r, MC_RAFT_ENTRY_NOOP, 0, 0, NULL, 0, NULL);
}
