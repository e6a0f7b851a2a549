/*
 * test_raft_send_first.c — the ready batch's send_first flag (raft.h; Raft
 * thesis 10.2.1: the leader writes its log in parallel with replicating it).
 * Which batches get it (a leader's appends, heartbeats and refusals with term
 * and vote unchanged), which never do (candidates, followers' acks and vote
 * grants, term changes, truncations, installs, a leader stepping down), that
 * the leader still counts itself only after advance, and that a leader dying
 * between the send and the persist loses nothing committed.
 *
 * The harness (test_raft_harness.h) sends a flagged batch's messages before
 * it stores anything, and CHECKs the flag's promises on every batch of every
 * test that uses it.
 */
#pragma GCC diagnostic ignored "-Wunused-function"	/* harness helpers */
#include "test_raft_harness.h"

/* Every batch of every node: a flagged batch is a leader's, changes neither
 * term nor vote, truncates nothing, and carries no grant or ack. */
static void
check_notes(tc_cluster *c)
{
	for (int i = 0; i < c->n; i++)
	{
		tc_node    *nd = &c->nodes[i];
		uint64_t	n = nd->n_notes < TC_NOTES ? nd->n_notes : TC_NOTES;

		for (uint64_t k = 0; k < n; k++)
		{
			struct tc_note *nt = &nd->notes[k];

			if (!nt->send_first)
				continue;
			CHECK(nt->role == MC_RAFT_LEADER);
			CHECK(!nt->term_or_vote_changed);
			CHECK(!nt->truncates);
			CHECK(!nt->grant_or_ack);
			CHECK((nt->msg_types & (1u << MC_RAFT_MSG_VOTE_REQ)) == 0);
			CHECK((nt->msg_types & (1u << MC_RAFT_MSG_PREVOTE_REQ)) == 0);
		}
	}
}

static struct tc_note *
last_note(tc_cluster *c, uint32_t id)
{
	tc_node    *nd = tc_node_of(c, id);

	return &nd->notes[(nd->n_notes - 1) % TC_NOTES];
}

/* The leader's batch with a new entry and its appends is flagged; the
 * followers' batches (entries + acks) never are. */
static void
test_leader_appends_flagged(void)
{
	tc_cluster	c;
	uint64_t	idx;
	uint64_t	before;

	tc_init(&c, 3);
	CHECK(tc_elect(&c, 1));
	tc_tick_all(&c, 2);
	before = c.send_first_batches;
	CHECK_EQ_INT(tc_propose(&c, 1, 11, &idx), MC_RAFT_OK);
	CHECK(tc_ready_one(&c, 1));
	{
		struct tc_note *nt = last_note(&c, 1);

		CHECK(nt->send_first);
		CHECK_EQ_INT(nt->n_entries, 1);
		CHECK(nt->msg_types & (1u << MC_RAFT_MSG_APPEND_REQ));
	}
	CHECK(c.send_first_batches == before + 1);
	tc_flush(&c);
	CHECK_EQ_INT(tc_status(&c, 1).commit, idx);
	for (uint32_t id = 2; id <= 3; id++)
	{
		tc_node    *nd = tc_node_of(&c, id);

		for (uint64_t k = 0; k < nd->n_notes && k < TC_NOTES; k++)
			CHECK(!nd->notes[k].send_first);
	}
	/* a heartbeat-only batch of the leader is flagged too */
	tc_tick(&c, 1);
	CHECK(tc_ready_one(&c, 1));
	CHECK(last_note(&c, 1)->send_first);
	CHECK(last_note(&c, 1)->msg_types & (1u << MC_RAFT_MSG_HEARTBEAT_REQ));
	tc_flush(&c);
	check_notes(&c);
	tc_free(&c);
}

/*
 * Elections: the pre-candidate's and the candidate's batches (term and
 * self-vote, vote requests) and the voters' grants are never flagged; the
 * new leader's first batch (no-op + appends) is, as its term and vote were
 * stored by the candidate batch.  A single voter that becomes leader in the
 * batch that also changes its term is not.
 */
static void
test_elections_never_flagged(void)
{
	tc_cluster	c;
	bool		leader_flagged = false;

	tc_init(&c, 3);
	CHECK(tc_elect(&c, 1));
	for (int i = 0; i < c.n; i++)
	{
		tc_node    *nd = &c.nodes[i];

		for (uint64_t k = 0; k < nd->n_notes && k < TC_NOTES; k++)
		{
			struct tc_note *nt = &nd->notes[k];

			if (nt->role != MC_RAFT_LEADER || nt->msg_types & (1u << MC_RAFT_MSG_VOTE_REQ) ||
				nt->msg_types & (1u << MC_RAFT_MSG_PREVOTE_REQ) || nt->grant_or_ack)
				CHECK(!nt->send_first);
			if (nt->role == MC_RAFT_LEADER && nt->n_entries == 1)
				leader_flagged = nt->send_first;
		}
	}
	CHECK(leader_flagged);		/* the no-op batch */
	check_notes(&c);
	tc_free(&c);

	/* one voter: candidate and leader within one batch (term changed) */
	tc_init(&c, 1);
	for (int t = 0; t < 100 && tc_role(&c, 1) != MC_RAFT_LEADER; t++)
	{
		tc_tick(&c, 1);
		tc_settle(&c);
	}
	CHECK(tc_role(&c, 1) == MC_RAFT_LEADER);
	{
		tc_node    *nd = tc_node_of(&c, 1);
		bool		seen = false;

		for (uint64_t k = 0; k < nd->n_notes && k < TC_NOTES; k++)
			if (nd->notes[k].role == MC_RAFT_LEADER && nd->notes[k].term_or_vote_changed)
			{
				seen = true;
				CHECK(!nd->notes[k].send_first);
			}
		CHECK(seen);
	}
	tc_free(&c);
}

/* The leader still counts itself toward the commit only after advance:
 * a lone voter's flagged batch does not yet carry its entry as committed. */
static void
test_commit_waits_for_advance(void)
{
	tc_cluster	c;
	tc_node    *nd;
	uint64_t	idx;
	mc_raft_batch rd;

	tc_init(&c, 1);
	for (int t = 0; t < 100 && tc_role(&c, 1) != MC_RAFT_LEADER; t++)
	{
		tc_tick(&c, 1);
		tc_settle(&c);
	}
	tc_settle(&c);
	CHECK_EQ_INT(tc_propose(&c, 1, 21, &idx), MC_RAFT_OK);
	mc_raft_ready(tc_r(&c, 1), &rd);
	CHECK(rd.send_first);
	CHECK_EQ_INT(rd.n_entries, 1);
	CHECK(rd.hs.commit < idx);
	CHECK(tc_status(&c, 1).commit < idx);
	/* the host stores the batch, then advances */
	nd = tc_node_of(&c, 1);
	for (size_t i = 0; i < rd.n_entries; i++)
		tc_store_entry(nd, &rd.entries[i]);
	if (rd.has_hard_state)
		nd->hs = rd.hs;
	mc_raft_advance(tc_r(&c, 1), &rd);
	CHECK_EQ_INT(tc_status(&c, 1).commit, idx);
	tc_settle(&c);
	CHECK_EQ_INT(nd->sm_index, idx);
	tc_free(&c);
}

/*
 * The leader sends a flagged batch and dies before storing it: the entry
 * lives on the followers only.  It restarts without it, cannot win (its log
 * is behind), and a follower's leadership commits the entry; every node,
 * the old leader included, applies the same history.
 */
static void
test_crash_between_send_and_persist(void)
{
	tc_cluster	c;
	uint64_t	idx;
	mc_raft_batch rd;
	uint32_t	l = 0;

	tc_init(&c, 3);
	CHECK(tc_elect(&c, 1));
	CHECK_EQ_INT(tc_propose(&c, 1, 31, NULL), MC_RAFT_OK);
	tc_flush(&c);
	CHECK_EQ_INT(tc_propose(&c, 1, 32, &idx), MC_RAFT_OK);
	mc_raft_ready(tc_r(&c, 1), &rd);
	CHECK(rd.send_first);
	CHECK_EQ_INT(rd.n_entries, 1);
	for (size_t i = 0; i < rd.n_msgs; i++)
		tc_enqueue(&c, &rd.msgs[i]);
	/* crash: nothing of the batch was stored, no advance */
	tc_crash(&c, 1);
	CHECK_EQ_INT(tc_log_last(&c, 1), idx - 1);
	tc_flush(&c);				/* the followers store entry idx and ack */
	CHECK_EQ_INT(tc_log_last(&c, 2), idx);
	CHECK_EQ_INT(tc_log_last(&c, 3), idx);
	tc_restart(&c, 1);
	CHECK_EQ_INT(tc_status(&c, 1).last_index, idx - 1);
	tc_tick_all(&c, 60);
	for (uint32_t id = 1; id <= 3; id++)
		if (tc_role(&c, id) == MC_RAFT_LEADER)
			l = id;
	CHECK(l == 2 || l == 3);
	CHECK(tc_status(&c, l).commit > idx);	/* entry idx and the new no-op */
	tc_tick_all(&c, 5);
	for (uint32_t id = 1; id <= 3; id++)
	{
		bool		found = false;

		CHECK_EQ_INT(tc_log_term(&c, id, idx), tc_log_term(&c, l, idx));
		for (size_t i = 0; i < c.nodes[id - 1].n_applied; i++)
			if (c.nodes[id - 1].applied[i].request_id == 32)
				found = true;
		CHECK(found);
	}
	CHECK(tc_applied_agree(&c));
	check_notes(&c);
	tc_free(&c);
}

/*
 * A leader's refusal of a lower-term vote request promises nothing: such a
 * batch stays flagged.  Its answer to a deposed leader's append is not a
 * refusal on the wire, so that batch is not flagged.  A leader that hears a
 * higher term becomes a follower, and that batch is not flagged.
 */
static void
test_refusals_and_step_down(void)
{
	tc_cluster	c;
	mc_raft_msg m;
	uint64_t	term;

	uint32_t	l = 0,
				other;

	/* a second leader, in term 2 or later (the first crashed) */
	tc_init(&c, 3);
	CHECK(tc_elect(&c, 1));
	tc_crash(&c, 1);
	tc_tick_all(&c, 40);
	for (uint32_t id = 2; id <= 3; id++)
		if (tc_role(&c, id) == MC_RAFT_LEADER)
			l = id;
	CHECK(l != 0);
	if (l == 0)
	{
		tc_free(&c);
		return;
	}
	tc_restart(&c, 1);
	tc_tick_all(&c, 3);
	CHECK(tc_role(&c, l) == MC_RAFT_LEADER);
	other = l == 2 ? 3 : 2;
	term = tc_status(&c, l).term;
	CHECK(term >= 2);

	memset(&m, 0, sizeof(m));
	m.type = MC_RAFT_MSG_VOTE_REQ;
	m.from = 1;
	m.to = l;
	m.term = term - 1;
	CHECK_EQ_INT(tc_propose(&c, l, 41, NULL), MC_RAFT_OK);
	mc_raft_step(tc_r(&c, l), &m);
	CHECK(tc_ready_one(&c, l));
	CHECK(last_note(&c, l)->msg_types & (1u << MC_RAFT_MSG_VOTE_RESP));
	CHECK(!last_note(&c, l)->grant_or_ack);
	CHECK_EQ_INT(last_note(&c, l)->n_entries, 1);
	CHECK(last_note(&c, l)->send_first);
	tc_flush(&c);

	memset(&m, 0, sizeof(m));
	m.type = MC_RAFT_MSG_APPEND_REQ;
	m.from = 1;
	m.to = l;
	m.term = term - 1;
	mc_raft_step(tc_r(&c, l), &m);
	CHECK(tc_ready_one(&c, l));
	/*
	 * The answer to a deposed leader's append is an append answer with our
	 * term and index 0, not flagged as a refusal: the flag treats it as an
	 * acknowledgement and stays off (conservative; the batch is stored
	 * before it leaves).
	 */
	CHECK(last_note(&c, l)->msg_types & (1u << MC_RAFT_MSG_APPEND_RESP));
	CHECK(!last_note(&c, l)->send_first);
	tc_flush(&c);
	/* the next batch with an entry is flagged again */
	CHECK_EQ_INT(tc_propose(&c, l, 42, NULL), MC_RAFT_OK);
	CHECK(tc_ready_one(&c, l));
	CHECK(last_note(&c, l)->send_first);
	tc_flush(&c);

	/* a higher-term heartbeat deposes it: follower batch, not flagged */
	memset(&m, 0, sizeof(m));
	m.type = MC_RAFT_MSG_HEARTBEAT_REQ;
	m.from = other;
	m.to = l;
	m.term = term + 1;
	mc_raft_step(tc_r(&c, l), &m);
	CHECK(tc_role(&c, l) == MC_RAFT_FOLLOWER);
	CHECK(tc_ready_one(&c, l));
	CHECK(last_note(&c, l)->term_or_vote_changed);
	CHECK(!last_note(&c, l)->send_first);
	tc_drop_all(&c);
	check_notes(&c);
	tc_free(&c);
}

/* A leader that commits its own removal steps down (TimeoutNow to an
 * up-to-date voter): that batch is a follower's, never flagged. */
static void
test_removed_leader_not_flagged(void)
{
	tc_cluster	c;
	tc_node    *nd;
	bool		seen = false;

	tc_init(&c, 3);
	CHECK(tc_elect(&c, 1));
	tc_tick_all(&c, 2);
	CHECK_EQ_INT(mc_raft_propose_conf_change(tc_r(&c, 1), MC_RAFT_CC_REMOVE, 1, NULL), MC_RAFT_OK);
	tc_flush(&c);
	CHECK(tc_role(&c, 1) != MC_RAFT_LEADER);
	nd = tc_node_of(&c, 1);
	for (uint64_t k = 0; k < nd->n_notes && k < TC_NOTES; k++)
		if (nd->notes[k].msg_types & (1u << MC_RAFT_MSG_TIMEOUT_NOW))
		{
			seen = true;
			CHECK(nd->notes[k].role != MC_RAFT_LEADER);
			CHECK(!nd->notes[k].send_first);
		}
	CHECK(seen);
	check_notes(&c);
	tc_free(&c);
}

/* Snapshot chunks sent by a leader ride in flagged batches; the follower's
 * chunk staging and install batches never are. */
static void
test_snapshot_transfer(void)
{
	tc_cluster	c;
	uint64_t	chunks_flagged = 0;
	tc_node    *nd;

	tc_init(&c, 3);
	CHECK(tc_elect(&c, 1));
	tc_crash(&c, 3);
	for (uint64_t r = 0; r < 6; r++)
	{
		CHECK_EQ_INT(tc_propose(&c, 1, 50 + r, NULL), MC_RAFT_OK);
		tc_flush(&c);
	}
	tc_fill_snapshot(tc_node_of(&c, 1));
	CHECK_EQ_INT(mc_raft_snapshot_taken(tc_r(&c, 1), tc_node_of(&c, 1)->sm_index), MC_RAFT_OK);
	tc_node_of(&c, 1)->snap.index = tc_node_of(&c, 1)->sm_index;
	tc_restart(&c, 3);
	tc_tick_all(&c, 30);
	CHECK(tc_node_of(&c, 3)->installs >= 1);
	nd = tc_node_of(&c, 1);
	for (uint64_t k = 0; k < nd->n_notes && k < TC_NOTES; k++)
		if (nd->notes[k].msg_types & (1u << MC_RAFT_MSG_SNAPSHOT_REQ) && nd->notes[k].send_first)
			chunks_flagged++;
	CHECK(chunks_flagged > 0);
	nd = tc_node_of(&c, 3);
	for (uint64_t k = 0; k < nd->n_notes && k < TC_NOTES; k++)
		CHECK(!nd->notes[k].send_first);
	check_notes(&c);
	tc_free(&c);
}

int
main(void)
{
	RUN(test_leader_appends_flagged);
	RUN(test_elections_never_flagged);
	RUN(test_commit_waits_for_advance);
	RUN(test_crash_between_send_and_persist);
	RUN(test_refusals_and_step_down);
	RUN(test_removed_leader_not_flagged);
	RUN(test_snapshot_transfer);
	return tu_finish("test_raft_send_first");
}
