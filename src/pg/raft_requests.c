/*
 * raft_requests.c — the raft worker's side of the backend request queue:
 * takes PENDING slots into the core (proposals, read-index requests,
 * membership changes, transfers) and completes slots with their outcome.
 * The backend side is raft_submit.c / raft_wait.c.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/dsm.h"

#include "raft_shmem.h"
#include "raft_worker.h"

/* Complete slot s (lock held exclusively by the caller). */
static void
slot_done(McRaftSlot *s, int err, uint64 index)
{
	s->err = err;
	s->index = index;
	mc_raft_slot_finish(s);
}

/*
 * Hand one proposal to the core.  The command bytes are inline or in the
 * backend's DSM segment (attached just long enough to let the core copy
 * them).  Returns the core's error code; *index is the log index on the
 * leader, 0 when forwarded.
 */
static int
propose_slot(McRaftWorker *w, McRaftSlot *s, uint64 *index)
{
	int			rc;
	uint64		client = w->id;

	/*
	 * Appended here, by this leader: never proposed again (only forwarded
	 * proposals are, after a leader change), so with a generated request id
	 * nobody can ask for its response again (MC_CLIENT_NO_RETRY).
	 */
	if ((s->arg_op & MC_PROPOSE_NO_RETRY) && mc_raft_is_leader(w->core))
		client |= MC_CLIENT_NO_RETRY;
	*index = 0;
	if (s->dsm == DSM_HANDLE_INVALID)
		return mc_raft_propose(w->core, MC_RAFT_ENTRY_NORMAL, client, s->request_id,
							   s->data, s->len, index);
	else
	{
		dsm_segment *seg = dsm_attach(s->dsm);

		if (seg == NULL)
			return MC_RAFT_ERR_INVALID;
		rc = mc_raft_propose(w->core, MC_RAFT_ENTRY_NORMAL, client, s->request_id,
							 dsm_segment_address(seg), s->len, index);
		dsm_detach(seg);
		return rc;
	}
}

/*
 * Take every PENDING slot.  Proposals and conf changes become ACCEPTED
 * (the apply worker completes them once applied, raft_ready completes
 * reads); immediate failures and transfers are DONE at once.
 *
 * Group commit: while the leader has a replication round in flight
 * (entries appended, not committed), new proposals stay PENDING in their
 * slots.  When the round commits, the next pass takes them all, and they
 * go out as one batch: one persist and one append per follower (one
 * follower persist each) for the lot, instead of a round per arrival.
 * Under load this trades nothing (the held writes would have waited on the
 * disk and the CPU the extra rounds take) for fewer fsyncs and wake-ups;
 * with a single writer no round is open when it proposes.  A held write
 * that reaches raft_commit_timeout was never proposed; its backend frees
 * the slot (raft_call.c) and gets MC001 like any write not committed in
 * time.  Conf changes, transfers and read indexes are never held.
 *
 * Also tells the core whether a backend of this node waits for a commit
 * (mc_raft_set_commit_wanted): a proposal or read index not answered yet,
 * or wait_for_index()'s index not applied (McRaft->apply_wanted).  A
 * follower then asks the leader for every commit index at once; otherwise
 * it learns them with the next append or within a tick.
 */
void
mc_raft_take_requests(McRaftWorker *w)
{
	int			i;
	bool		waiting;
	bool		hold_proposals = mc_raft_leader_round_open(w->core);

	LWLockAcquire(McRaft->lock, LW_EXCLUSIVE);
	waiting = McRaft->apply_wanted > McRaft->applied_index;
	for (i = 0; i < McRaft->nslots; i++)
	{
		McRaftSlot *s = &McRaft->slots[i];
		uint64		index = 0;
		int			rc;

		if (s->state == MC_SLOT_ACCEPTED)
			waiting = true;		/* a proposal or a read index */
		if (s->state != MC_SLOT_PENDING)
			continue;
		switch (s->kind)
		{
			case MC_REQ_PROPOSE:
				if (hold_proposals)
				{
					s->held = true;
					waiting = true; /* taken when the open round commits */
					continue;
				}
				rc = propose_slot(w, s, &index);
				if (rc == MC_RAFT_ERR_NOT_LEADER && s->held)
				{
					/*
					 * Held here while this node led, which it no longer
					 * does, and no leader is known: it waits for one (and
					 * is forwarded to it) or for its commit timeout (MC001),
					 * as it would have had it been appended at once.
					 */
					waiting = true;
					continue;
				}
				if (rc == MC_RAFT_OK)
				{
					s->index = index;
					s->state = MC_SLOT_ACCEPTED;
					McRaft->n_proposals++;
				}
				else
				{
					slot_done(s, rc, 0);
					McRaft->n_proposals_failed++;
				}
				break;
			case MC_REQ_CONF_CHANGE:
				rc = mc_raft_propose_conf_change(w->core, s->arg_op, s->arg_node, &index);
				slot_done(s, rc, index);
				break;
			case MC_REQ_TRANSFER:
				rc = mc_raft_transfer_leader(w->core, s->arg_node);
				slot_done(s, rc, 0);
				break;
			case MC_REQ_READ_INDEX:
				McRaft->n_read_index++;
				rc = mc_raft_read_index(w->core, s->request_id);
				if (rc == MC_RAFT_OK)
					s->state = MC_SLOT_ACCEPTED;
				else
					slot_done(s, rc, 0);
				break;
			default:
				slot_done(s, MC_RAFT_ERR_INVALID, 0);
				break;
		}
		if (s->state == MC_SLOT_ACCEPTED)
			waiting = true;
	}
	LWLockRelease(McRaft->lock);
	mc_raft_set_commit_wanted(w->core, waiting);
}

/* Answer read-index results from a ready batch. */
void
mc_raft_complete_reads(const mc_raft_read_state *reads, size_t n)
{
	size_t		k;
	int			i;

	if (n == 0)
		return;
	LWLockAcquire(McRaft->lock, LW_EXCLUSIVE);
	for (k = 0; k < n; k++)
	{
		for (i = 0; i < McRaft->nslots; i++)
		{
			McRaftSlot *s = &McRaft->slots[i];

			if (s->state == MC_SLOT_ACCEPTED && s->kind == MC_REQ_READ_INDEX &&
				s->request_id == reads[k].context)
			{
				slot_done(s, reads[k].failed ? MC_RAFT_ERR_NOT_LEADER : MC_RAFT_OK,
						  reads[k].index);
				break;
			}
		}
	}
	LWLockRelease(McRaft->lock);
}

/*
 * Fail every request that is waiting for the raft worker (not those the
 * apply worker will still complete: their entries may commit).  Used when
 * the core is absent or the worker exits.
 */
void
mc_raft_fail_all_requests(int err)
{
	int			i;

	if (McRaft == NULL)
		return;
	LWLockAcquire(McRaft->lock, LW_EXCLUSIVE);
	for (i = 0; i < McRaft->nslots; i++)
	{
		McRaftSlot *s = &McRaft->slots[i];

		if (s->state == MC_SLOT_PENDING ||
			(s->state == MC_SLOT_ACCEPTED && s->kind == MC_REQ_READ_INDEX))
			slot_done(s, err, 0);
	}
	LWLockRelease(McRaft->lock);
}

/* See raft_worker.h. */
void
mc_raft_repropose_forwarded(void)
{
	int			i;
	bool		any = false;

	LWLockAcquire(McRaft->lock, LW_EXCLUSIVE);
	for (i = 0; i < McRaft->nslots; i++)
	{
		McRaftSlot *s = &McRaft->slots[i];

		if (s->state == MC_SLOT_ACCEPTED && s->kind == MC_REQ_PROPOSE && s->index == 0)
		{
			s->state = MC_SLOT_PENDING;
			/*
			 * Its first copy may still commit: this copy must find that
			 * one's response, so neither may be MC_CLIENT_NO_RETRY (the
			 * first was forwarded, hence unmarked; this one might be
			 * appended here if this node leads now).
			 */
			s->arg_op &= ~MC_PROPOSE_NO_RETRY;
			any = true;
		}
	}
	LWLockRelease(McRaft->lock);
	if (any)
		SetLatch(MyLatch);
}
