/*
 * test_raft_replication.c — unit tests of log replication: overwriting a
 * stale leader's entries, the commit rule and Figure 8, the consistency
 * check with hints and Figure 7, deposed leaders, forwarding, flow control,
 * batching, the uncommitted bound, reordered acks (R10-R18, R30, R32).
 */
#include "test_raft_harness.h"

static void
classic(mc_raft_config *cfg)
{
	cfg->pre_vote = false;
	cfg->check_quorum = false;
}

/* Decode queued message k (caller frees with mc_raft_msg_free_decoded). */
static void
peek(tc_cluster *c, size_t k, mc_raft_msg *m)
{
	if (mc_raft_msg_decode(c->q[k].buf, c->q[k].len, m) != 0)
		abort();
}

/* R10: a new leader overwrites a stale leader's uncommitted entries. */
static void
test_stale_leader_overwritten(void)
{
	tc_cluster	c;

	tc_init(&c, 3);
	CHECK(tc_elect(&c, 1));
	tc_propose(&c, 1, 1, NULL);
	tc_flush(&c);
	tc_isolate(&c, 1, true);
	/* the old leader takes entries it can never commit */
	tc_propose(&c, 1, 91, NULL);
	tc_propose(&c, 1, 92, NULL);
	tc_flush(&c);
	CHECK_EQ_INT(tc_log_last(&c, 1), 4);
	/* the majority elects a new leader and commits other entries */
	tc_tick_all(&c, 30);
	CHECK(tc_role(&c, 2) == MC_RAFT_LEADER || tc_role(&c, 3) == MC_RAFT_LEADER);
	{
		uint32_t	l = tc_role(&c, 2) == MC_RAFT_LEADER ? 2 : 3;

		tc_propose(&c, l, 21, NULL);
		tc_flush(&c);
	}
	tc_heal(&c);
	tc_tick_all(&c, 10);
	CHECK_EQ_INT(tc_leaders(&c, NULL), 1);
	/* all logs identical; the stale entries are gone everywhere */
	for (uint32_t id = 1; id <= 3; id++)
	{
		CHECK_EQ_INT(tc_log_last(&c, id), tc_log_last(&c, 2));
		for (uint64_t i = 1; i <= tc_log_last(&c, 2); i++)
			CHECK_EQ_INT(tc_log_term(&c, id, i), tc_log_term(&c, 2, i));
	}
	for (size_t i = 0; i < c.nodes[0].n_applied; i++)
		CHECK(c.nodes[0].applied[i].request_id != 91 && c.nodes[0].applied[i].request_id != 92);
	CHECK(tc_applied_agree(&c));
	tc_free(&c);
}

/* R11: an entry commits once a majority holds it (one node down). */
static void
test_commit_with_majority(void)
{
	tc_cluster	c;
	uint64_t	idx;

	tc_init(&c, 3);
	CHECK(tc_elect(&c, 1));
	tc_crash(&c, 3);
	CHECK_EQ_INT(tc_propose(&c, 1, 5, &idx), MC_RAFT_OK);
	tc_flush(&c);
	CHECK_EQ_INT(tc_status(&c, 1).commit, idx);
	CHECK_EQ_INT(c.nodes[0].sm_count, 1);
	tc_crash(&c, 2);
	CHECK_EQ_INT(tc_propose(&c, 1, 6, &idx), MC_RAFT_OK);
	tc_flush(&c);
	CHECK(tc_status(&c, 1).commit < idx);	/* no majority: not committed */
	tc_free(&c);
}

/*
 * mc_raft_leader_round_open (the host's group commit): true on the leader
 * from a proposal until its commit, never on a follower, and still true
 * while no majority can commit.
 */
static void
test_leader_round_open(void)
{
	tc_cluster	c;
	uint64_t	idx;

	tc_init(&c, 3);
	CHECK(tc_elect(&c, 1));
	tc_flush(&c);
	CHECK(!mc_raft_leader_round_open(tc_r(&c, 1)));	/* the no-op committed */
	CHECK_EQ_INT(tc_propose(&c, 1, 5, &idx), MC_RAFT_OK);
	CHECK(mc_raft_leader_round_open(tc_r(&c, 1)));
	CHECK(!mc_raft_leader_round_open(tc_r(&c, 2)));
	tc_flush(&c);
	CHECK_EQ_INT(tc_status(&c, 1).commit, idx);
	CHECK(!mc_raft_leader_round_open(tc_r(&c, 1)));
	CHECK(!mc_raft_leader_round_open(tc_r(&c, 2)));
	tc_crash(&c, 2);
	tc_crash(&c, 3);
	CHECK_EQ_INT(tc_propose(&c, 1, 6, &idx), MC_RAFT_OK);
	tc_flush(&c);
	CHECK(mc_raft_leader_round_open(tc_r(&c, 1)));	/* no majority */
	tc_free(&c);
}

/* R12: the thesis' Figure 8.  Entries of an earlier term are never
 * committed by counting replicas; only through a current-term entry. */
static void
test_figure8(void)
{
	tc_cluster	c;
	uint64_t	s12[] = {1, 2};
	uint64_t	s1[] = {1};
	uint64_t	s5[] = {1, 3};
	mc_raft_msg m;
	mc_raft_entry e2;
	uint64_t	term;

	tc_init_cfg(&c, 5, 5, classic);
	tc_preload(&c.nodes[0], s12, 2, 3);
	tc_preload(&c.nodes[1], s12, 2, 3);
	tc_preload(&c.nodes[2], s1, 1, 3);
	tc_preload(&c.nodes[3], s1, 1, 3);
	tc_preload(&c.nodes[4], s5, 2, 3);
	tc_reboot_all(&c);
	/* (c) S1 is elected for term 4 by S2, S3, S4 */
	for (int t = 0; t < 40 && tc_role(&c, 1) != MC_RAFT_CANDIDATE; t++)
		mc_raft_tick(tc_r(&c, 1));
	c.cut[1][5] = true;
	tc_settle(&c);
	/* deliver only the vote traffic */
	while (c.nq > 0)
	{
		size_t		k = 0;

		while (k < c.nq && c.q[k].type != MC_RAFT_MSG_VOTE_REQ && c.q[k].type != MC_RAFT_MSG_VOTE_RESP)
			k++;
		if (k == c.nq)
			break;
		tc_deliver_at(&c, k);
		tc_settle(&c);
	}
	CHECK_EQ_INT(tc_role(&c, 1), MC_RAFT_LEADER);
	term = tc_status(&c, 1).term;
	CHECK_EQ_INT(term, 4);
	tc_drop_all(&c);
	/* S1 replicates index 2 (term 2) to S3 only: now on S1, S2, S3 */
	memset(&m, 0, sizeof(m));
	m.type = MC_RAFT_MSG_APPEND_REQ;
	m.from = 1;
	m.to = 3;
	m.term = 4;
	m.index = 1;
	m.log_term = 1;
	e2 = *mc_raft_get_entry(tc_r(&c, 1), 2);
	m.entries = &e2;
	m.n_entries = 1;
	mc_raft_step(tc_r(&c, 3), &m);
	tc_settle(&c);
	CHECK_EQ_INT(tc_log_term(&c, 3, 2), 2);
	/* acks from S2 (it has 1..2) and S3 reach S1 */
	memset(&m, 0, sizeof(m));
	m.type = MC_RAFT_MSG_APPEND_RESP;
	m.to = 1;
	m.term = 4;
	m.index = 2;
	m.from = 2;
	mc_raft_step(tc_r(&c, 1), &m);
	m.from = 3;
	mc_raft_step(tc_r(&c, 1), &m);
	tc_settle(&c);
	/* majority holds index 2, but it is from term 2: NOT committed */
	CHECK_EQ_INT(tc_status(&c, 1).commit, 0);
	tc_drop_all(&c);

	/* (d) S1 crashes; S5 (last term 3) wins and overwrites index 2 */
	tc_crash(&c, 1);
	tc_heal(&c);
	for (int round = 0; round < 5 && tc_role(&c, 5) != MC_RAFT_LEADER; round++)
	{
		for (int t = 0; t < 40 && tc_role(&c, 5) == MC_RAFT_FOLLOWER; t++)
			mc_raft_tick(tc_r(&c, 5));
		tc_flush(&c);
	}
	CHECK_EQ_INT(tc_role(&c, 5), MC_RAFT_LEADER);
	tc_tick_all(&c, 1);
	CHECK_EQ_INT(tc_log_term(&c, 2, 2), 3);
	CHECK_EQ_INT(tc_log_term(&c, 3, 2), 3);
	/* nobody ever applied the term-2 entry at index 2 */
	for (int i = 0; i < 5; i++)
		for (size_t j = 0; j < c.nodes[i].n_applied; j++)
			CHECK(!(c.nodes[i].applied[j].index == 2 && c.nodes[i].applied[j].term == 2));
	CHECK(tc_applied_agree(&c));
	tc_free(&c);

	/* (e) if S1 had got its term-4 entry to a majority, 2 commits with it */
	tc_init_cfg(&c, 3, 3, classic);
	tc_preload(&c.nodes[0], s12, 2, 3);
	tc_preload(&c.nodes[1], s1, 1, 3);
	tc_preload(&c.nodes[2], s1, 1, 3);
	tc_reboot_all(&c);
	CHECK(tc_elect(&c, 1));
	tc_flush(&c);
	CHECK_EQ_INT(tc_status(&c, 1).commit, 3);
	CHECK_EQ_INT(tc_log_term(&c, 2, 2), 2);
	tc_free(&c);
}

/* R13: mismatching prev is refused with a hint; a conflicting suffix is
 * truncated; commit = min(leader commit, last new index). */
static void
test_consistency_check(void)
{
	tc_cluster	c;
	uint64_t	fl[] = {1, 1, 2, 2, 2};
	mc_raft_msg m;
	mc_raft_entry ents[2];
	mc_raft_batch rd;

	tc_init_cfg(&c, 3, 3, classic);
	tc_preload(&c.nodes[1], fl, 5, 3);
	tc_reboot_all(&c);
	memset(&m, 0, sizeof(m));
	m.type = MC_RAFT_MSG_APPEND_REQ;
	m.from = 1;
	m.to = 2;
	m.term = 4;
	m.index = 6;				/* beyond its log */
	m.log_term = 3;
	m.commit = 0;
	mc_raft_step(tc_r(&c, 2), &m);
	mc_raft_ready(tc_r(&c, 2), &rd);
	CHECK_EQ_INT(rd.n_msgs, 1);
	CHECK(rd.msgs[0].reject);
	CHECK_EQ_INT(rd.msgs[0].hint_index, 5);	/* its last entry */
	CHECK_EQ_INT(rd.msgs[0].hint_term, 2);
	c.nodes[1].hs = rd.hs;
	mc_raft_advance(tc_r(&c, 2), &rd);

	/* prev (4, term 3) mismatches term 2 there: hint = last index with
	 * term <= 3 at or below 4, i.e. 4 (term 2) */
	m.index = 4;
	m.log_term = 3;
	mc_raft_step(tc_r(&c, 2), &m);
	mc_raft_ready(tc_r(&c, 2), &rd);
	CHECK(rd.msgs[0].reject);
	CHECK_EQ_INT(rd.msgs[0].hint_index, 4);
	CHECK_EQ_INT(rd.msgs[0].hint_term, 2);
	mc_raft_advance(tc_r(&c, 2), &rd);

	/* matching prev (2, term 1), entries 3..4 of term 4: 3..5 replaced */
	memset(ents, 0, sizeof(ents));
	ents[0].index = 3;
	ents[0].term = 4;
	ents[1].index = 4;
	ents[1].term = 4;
	m.index = 2;
	m.log_term = 1;
	m.entries = ents;
	m.n_entries = 2;
	m.commit = 10;
	mc_raft_step(tc_r(&c, 2), &m);
	mc_raft_ready(tc_r(&c, 2), &rd);
	CHECK_EQ_INT(rd.truncate_from, 3);
	CHECK_EQ_INT(rd.n_entries, 2);
	CHECK(rd.has_hard_state && rd.must_sync);
	CHECK_EQ_INT(rd.hs.commit, 4);	/* min(10, last new = 4) */
	CHECK(!rd.msgs[0].reject);
	CHECK_EQ_INT(rd.msgs[0].index, 4);
	mc_raft_advance(tc_r(&c, 2), &rd);
	CHECK_EQ_INT(tc_status(&c, 2).last_index, 4);
	CHECK_EQ_INT(tc_status(&c, 2).last_term, 4);
	tc_free(&c);
}

/* R14: every divergent follower log of the thesis' Figure 7 is repaired;
 * with the hint, about one round trip per conflicting term. */
static void
test_figure7(void)
{
	static const uint64_t leader[] = {1, 1, 1, 4, 4, 5, 5, 6, 6, 6};
	static const uint64_t fa[] = {1, 1, 1, 4, 4, 5, 5, 6, 6};
	static const uint64_t fb[] = {1, 1, 1, 4};
	static const uint64_t fc[] = {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6};
	static const uint64_t fd[] = {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7};
	static const uint64_t fe[] = {1, 1, 1, 4, 4, 4, 4};
	static const uint64_t ff[] = {1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3};
	const uint64_t *fol[] = {fa, fb, fc, fd, fe, ff};
	int			nfol[] = {9, 4, 11, 12, 7, 11};
	/* thesis bound: one refusal per conflicting term (plus one for a
	 * missing tail); the leader probes from its log end before its no-op */
	int			max_rejects[] = {1, 1, 0, 0, 2, 3};

	for (int k = 0; k < 6; k++)
	{
		tc_cluster	c;
		int			rejects = 0;

		tc_init(&c, 3);
		tc_preload(&c.nodes[0], leader, 10, 7);
		tc_preload(&c.nodes[1], fol[k], nfol[k], 7);
		tc_preload(&c.nodes[2], leader, 10, 7);
		tc_reboot_all(&c);
		for (int t = 0; t < 100 && tc_role(&c, 1) == MC_RAFT_FOLLOWER; t++)
			mc_raft_tick(tc_r(&c, 1));
		/* election and repair, counting the divergent follower's refusals */
		for (int rounds = 0; rounds < 1000; rounds++)
		{
			tc_settle(&c);
			if (c.nq == 0)
				break;
			if (c.q[0].type == MC_RAFT_MSG_APPEND_RESP && c.q[0].from == 2)
			{
				mc_raft_msg m;

				peek(&c, 0, &m);
				if (m.reject)
					rejects++;
				mc_raft_msg_free_decoded(&m);
			}
			tc_deliver_at(&c, 0);
		}
		CHECK_EQ_INT(tc_role(&c, 1), MC_RAFT_LEADER);
		CHECK_EQ_INT(tc_status(&c, 1).term, 8);
		tc_tick_all(&c, 2);
		CHECK_EQ_INT(tc_log_last(&c, 2), 11);
		for (uint64_t i = 1; i <= 11; i++)
			CHECK_EQ_INT(tc_log_term(&c, 2, i), tc_log_term(&c, 1, i));
		CHECK(rejects <= max_rejects[k]);
		if (rejects > max_rejects[k])
			fprintf(stderr, "figure 7 (%c): %d refusals\n", 'a' + k, rejects);
		CHECK_EQ_INT(tc_status(&c, 2).commit, 11);
		tc_free(&c);
	}
}

/* R15: an append from a deposed leader never changes a log. */
static void
test_deposed_leader_append(void)
{
	tc_cluster	c;
	uint64_t	fl[] = {1, 2, 3};
	mc_raft_msg m;
	mc_raft_entry e;
	mc_raft_batch rd;

	tc_init(&c, 3);
	tc_preload(&c.nodes[1], fl, 3, 5);
	tc_reboot_all(&c);
	memset(&m, 0, sizeof(m));
	memset(&e, 0, sizeof(e));
	e.index = 2;
	e.term = 4;
	m.type = MC_RAFT_MSG_APPEND_REQ;
	m.from = 1;
	m.to = 2;
	m.term = 4;
	m.index = 1;
	m.log_term = 1;
	m.entries = &e;
	m.n_entries = 1;
	m.commit = 2;
	mc_raft_step(tc_r(&c, 2), &m);
	mc_raft_ready(tc_r(&c, 2), &rd);
	CHECK_EQ_INT(rd.n_entries, 0);
	CHECK_EQ_INT(rd.truncate_from, 0);
	CHECK_EQ_INT(rd.n_msgs, 1);
	CHECK_EQ_INT(rd.msgs[0].term, 5);	/* tells it the newer term */
	mc_raft_advance(tc_r(&c, 2), &rd);
	CHECK_EQ_INT(tc_status(&c, 2).last_term, 3);
	CHECK_EQ_INT(tc_status(&c, 2).commit, 0);
	tc_free(&c);
}

/* R16: a proposal on a follower is forwarded and committed; with no
 * leader known it fails at once. */
static void
test_forwarding(void)
{
	tc_cluster	c;
	uint64_t	idx = 99;
	bool		found = false;

	tc_init(&c, 3);
	CHECK_EQ_INT(tc_propose(&c, 2, 1, &idx), MC_RAFT_ERR_NOT_LEADER);
	CHECK(tc_elect(&c, 1));
	CHECK_EQ_INT(tc_propose(&c, 2, 77, &idx), MC_RAFT_OK);
	CHECK_EQ_INT(idx, 0);
	tc_flush(&c);
	tc_tick_all(&c, 1);
	for (size_t i = 0; i < c.nodes[1].n_applied; i++)
		if (c.nodes[1].applied[i].request_id == 77 && c.nodes[1].applied[i].client_id == 7)
			found = true;
	CHECK(found);
	tc_free(&c);
}

/* R16: a proposal forwarded to a stale leader is passed on once to the
 * leader that node knows. */
static void
test_forward_stale_leader(void)
{
	tc_cluster	c;
	bool		found = false;

	tc_init(&c, 3);
	CHECK(tc_elect(&c, 1));
	tc_tick_all(&c, 1);
	tc_isolate(&c, 3, true);
	CHECK_EQ_INT(mc_raft_transfer_leader(tc_r(&c, 1), 2), MC_RAFT_OK);
	tc_flush(&c);
	CHECK_EQ_INT(tc_role(&c, 2), MC_RAFT_LEADER);
	CHECK_EQ_INT(tc_status(&c, 3).leader, 1);	/* stale */
	c.cut[3][1] = c.cut[1][3] = false;	/* 3 reaches only 1 */
	CHECK_EQ_INT(tc_propose(&c, 3, 4242, NULL), MC_RAFT_OK);
	tc_flush(&c);
	tc_tick_all(&c, 1);
	for (size_t i = 0; i < c.nodes[1].n_applied; i++)
		if (c.nodes[1].applied[i].request_id == 4242)
			found = true;
	CHECK(found);
	tc_free(&c);
}

static void
small_window(mc_raft_config *cfg)
{
	cfg->max_inflight = 2;
	cfg->max_batch_bytes = 8;
}

/*
 * Proposals taken together share messages: the leader sends at its next
 * ready, one append per follower carrying all of them and the commit
 * index; and a commit that moves while entries are proposed goes out in
 * the same message as those entries.
 */
static void
test_proposals_batched(void)
{
	tc_cluster	c;
	size_t		appends[4] = {0};
	size_t		entries[4] = {0};

	tc_init(&c, 3);
	CHECK(tc_elect(&c, 1));
	tc_flush(&c);
	for (int i = 0; i < 5; i++)
		CHECK_EQ_INT(tc_propose(&c, 1, (uint64_t) (20 + i), NULL), MC_RAFT_OK);
	tc_settle(&c);
	for (size_t k = 0; k < c.nq; k++)
		if (c.q[k].type == MC_RAFT_MSG_APPEND_REQ)
		{
			mc_raft_msg m;

			peek(&c, k, &m);
			appends[c.q[k].to]++;
			entries[c.q[k].to] += m.n_entries;
			mc_raft_msg_free_decoded(&m);
		}
	CHECK_EQ_INT(appends[2], 1);
	CHECK_EQ_INT(appends[3], 1);
	CHECK_EQ_INT(entries[2], 5);
	CHECK_EQ_INT(entries[3], 5);
	tc_flush(&c);
	tc_tick_all(&c, 1);			/* R11: the commit reaches them by the next tick */
	tc_flush(&c);
	CHECK(tc_applied_agree(&c));
	CHECK_EQ_INT(tc_status(&c, 2).commit, tc_log_last(&c, 1));
	tc_free(&c);
}

/*
 * The appends queued for node `to`, checking that each carries at most one
 * entry (8-byte entries under an 8-byte batch bound).
 */
static size_t
appends_of_one_entry(tc_cluster *c, uint32_t to)
{
	size_t		n = 0;

	for (size_t k = 0; k < c->nq; k++)
		if (c->q[k].type == MC_RAFT_MSG_APPEND_REQ && c->q[k].to == to)
		{
			mc_raft_msg m;

			peek(c, k, &m);
			CHECK(m.n_entries <= 1);
			n++;
			mc_raft_msg_free_decoded(&m);
		}
	return n;
}

/* R17: at the in-flight limit sending stops until acks arrive; a heartbeat
 * response resumes a paused follower.  Also: batches hold at most
 * max_batch_bytes of payload. */
static void
test_flow_control(void)
{
	tc_cluster	c;
	mc_raft_progress_info pi[4];
	int			n;
	size_t		appends_to_2 = 0;

	tc_init_cfg(&c, 3, 3, small_window);
	CHECK(tc_elect(&c, 1));
	tc_tick_all(&c, 1);
	/* follower 2's acks are lost */
	c.cut[2][1] = true;
	for (int i = 0; i < 6; i++)
		CHECK_EQ_INT(tc_propose(&c, 1, (uint64_t) (10 + i), NULL), MC_RAFT_OK);
	tc_settle(&c);
	appends_to_2 = appends_of_one_entry(&c, 2);	/* 8-byte entries, 8-byte bound */
	CHECK_EQ_INT(appends_to_2, 2);	/* window of 2 */
	tc_flush(&c);
	n = mc_raft_get_progress(tc_r(&c, 1), pi, 4);
	CHECK_EQ_INT(n, 2);
	for (int i = 0; i < n; i++)
		if (pi[i].id == 2)
		{
			CHECK_EQ_INT(pi[i].state, MC_RAFT_REPLICATE);
			CHECK_EQ_INT(pi[i].inflight, 2);
		}
	/* acks come back; heartbeat answers resume it and it catches up */
	tc_heal(&c);
	tc_tick_all(&c, 6);
	CHECK_EQ_INT(tc_log_last(&c, 2), tc_log_last(&c, 1));
	CHECK_EQ_INT(tc_status(&c, 2).commit, tc_status(&c, 1).commit);
	tc_free(&c);
}

/* A reload's batch bound (mc_raft_set_max_batch) holds for the appends
 * built after it; 0 is refused and changes nothing. */
static void
test_set_max_batch(void)
{
	tc_cluster	c;
	size_t		appends_to_2 = 0;

	tc_init(&c, 3);
	CHECK(tc_elect(&c, 1));
	tc_tick_all(&c, 1);
	tc_flush(&c);
	CHECK_EQ_INT(mc_raft_set_max_batch(tc_r(&c, 1), 0), MC_RAFT_ERR_INVALID);
	CHECK_EQ_INT(mc_raft_set_max_batch(tc_r(&c, 1), 8), MC_RAFT_OK);
	c.cut[2][1] = true;			/* follower 2's acks are lost */
	for (int i = 0; i < 4; i++)
		CHECK_EQ_INT(tc_propose(&c, 1, (uint64_t) (30 + i), NULL), MC_RAFT_OK);
	tc_settle(&c);
	appends_to_2 = appends_of_one_entry(&c, 2);	/* 8-byte entries, 8-byte bound */
	CHECK(appends_to_2 >= 2);	/* the four did not travel together */
	tc_heal(&c);
	tc_tick_all(&c, 6);
	tc_flush(&c);
	CHECK_EQ_INT(tc_log_last(&c, 2), tc_log_last(&c, 1));
	tc_free(&c);
}

static void
batch20(mc_raft_config *cfg)
{
	cfg->max_batch_bytes = 20;
}

/* Batching: a batch never exceeds the byte bound; an oversized entry
 * travels alone. */
static void
test_batching(void)
{
	tc_cluster	c;
	uint8_t		big[100];
	int			singles = 0;

	memset(big, 'x', sizeof(big));
	tc_init_cfg(&c, 2, 2, batch20);
	CHECK(tc_elect(&c, 1));
	tc_tick_all(&c, 1);
	c.cut[1][2] = true;			/* let the log build up */
	for (int i = 0; i < 5; i++)
		tc_propose(&c, 1, (uint64_t) i, NULL);
	mc_raft_propose(tc_r(&c, 1), MC_RAFT_ENTRY_NORMAL, 1, 50, big, sizeof(big), NULL);
	for (int i = 0; i < 3; i++)
		tc_propose(&c, 1, (uint64_t) (60 + i), NULL);
	tc_flush(&c);
	c.cut[1][2] = false;
	/* follower restarts probing: drive and inspect every append */
	for (int t = 0; t < 30; t++)
	{
		mc_raft_tick(tc_r(&c, 1));
		mc_raft_tick(tc_r(&c, 2));
		for (int rounds = 0; rounds < 10000; rounds++)
		{
			tc_settle(&c);
			if (c.nq == 0)
				break;
			if (c.q[0].type == MC_RAFT_MSG_APPEND_REQ)
			{
				mc_raft_msg m;
				size_t		bytes = 0;

				peek(&c, 0, &m);
				for (uint32_t i = 0; i < m.n_entries; i++)
					bytes += m.entries[i].len;
				if (m.n_entries == 1 && m.entries[0].len == 100)
					singles++;
				CHECK(bytes <= 20 || m.n_entries == 1);
				mc_raft_msg_free_decoded(&m);
			}
			tc_deliver_at(&c, 0);
		}
	}
	CHECK(singles >= 1);
	CHECK_EQ_INT(tc_log_last(&c, 2), tc_log_last(&c, 1));
	tc_free(&c);
}

static void
bound32(mc_raft_config *cfg)
{
	cfg->max_uncommitted_bytes = 32;
}

/* R18: proposals beyond the uncommitted-bytes bound are refused while the
 * majority is away; accepted again once entries commit. */
static void
test_uncommitted_bound(void)
{
	tc_cluster	c;
	int			ok = 0,
				refused = 0;

	tc_init_cfg(&c, 3, 3, bound32);
	CHECK(tc_elect(&c, 1));
	tc_tick_all(&c, 1);
	tc_isolate(&c, 1, true);
	for (int i = 0; i < 10; i++)
	{
		int			rc = tc_propose(&c, 1, (uint64_t) i, NULL);

		if (rc == MC_RAFT_OK)
			ok++;
		else if (rc == MC_RAFT_ERR_TOO_MUCH)
			refused++;
	}
	CHECK_EQ_INT(ok, 4);		/* 4 x 8 bytes */
	CHECK_EQ_INT(refused, 6);
	CHECK(tc_status(&c, 1).last_index <= 6);
	tc_heal(&c);
	tc_tick_all(&c, 3);
	CHECK_EQ_INT(tc_propose(&c, 1, 100, NULL), MC_RAFT_OK);
	tc_free(&c);
}

/* R30: reordered or duplicated append responses never lower match. */
static void
test_reordered_acks(void)
{
	tc_cluster	c;
	mc_raft_msg m;
	mc_raft_progress_info pi[4];
	int			n;

	tc_init(&c, 3);
	CHECK(tc_elect(&c, 1));
	for (int i = 0; i < 5; i++)
		tc_propose(&c, 1, (uint64_t) i, NULL);
	tc_flush(&c);
	memset(&m, 0, sizeof(m));
	m.type = MC_RAFT_MSG_APPEND_RESP;
	m.from = 2;
	m.to = 1;
	m.term = tc_status(&c, 1).term;
	m.index = 2;				/* an old ack arriving late */
	mc_raft_step(tc_r(&c, 1), &m);
	mc_raft_step(tc_r(&c, 1), &m);	/* and duplicated */
	m.reject = true;			/* an old refusal */
	m.index = 1;
	mc_raft_step(tc_r(&c, 1), &m);
	n = mc_raft_get_progress(tc_r(&c, 1), pi, 4);
	for (int i = 0; i < n; i++)
		if (pi[i].id == 2)
		{
			CHECK_EQ_INT(pi[i].match, 6);
			CHECK_EQ_INT(pi[i].state, MC_RAFT_REPLICATE);
		}
	tc_flush(&c);
	tc_free(&c);
}

/* R32: an acknowledged entry survives a crash at any point: the leader
 * counts itself only after persisting, followers ack only what the host
 * persisted in the same batch. */
static void
test_crash_keeps_acked(void)
{
	tc_cluster	c;
	uint64_t	idx;
	mc_raft_batch rd;

	tc_init(&c, 3);
	CHECK(tc_elect(&c, 1));
	tc_tick_all(&c, 1);
	CHECK_EQ_INT(tc_propose(&c, 1, 5, &idx), MC_RAFT_OK);
	/* leader crashes before persisting: the entry was never acknowledged */
	mc_raft_ready(tc_r(&c, 1), &rd);
	CHECK(rd.n_entries == 1 && rd.n_msgs >= 1);
	CHECK(rd.must_sync);
	CHECK_EQ_INT(rd.hs.commit, 1);	/* not committed by the leader alone */
	mc_raft_advance(tc_r(&c, 1), &rd);	/* (lost, host never stored) */
	tc_drop_all(&c);
	tc_crash(&c, 1);
	tc_restart(&c, 1);
	CHECK_EQ_INT(tc_status(&c, 1).last_index, 1);

	/* now a committed entry: crash every node, restart, still there */
	tc_tick_all(&c, 30);
	{
		uint32_t	l = 0;

		for (uint32_t id = 1; id <= 3; id++)
			if (tc_role(&c, id) == MC_RAFT_LEADER)
				l = id;
		CHECK(l != 0);
		CHECK_EQ_INT(tc_propose(&c, l, 6, &idx), MC_RAFT_OK);
		tc_flush(&c);
		CHECK(tc_status(&c, l).commit >= idx);
	}
	for (uint32_t id = 1; id <= 3; id++)
	{
		tc_crash(&c, id);
		tc_restart(&c, id);
	}
	tc_tick_all(&c, 40);
	for (uint32_t id = 1; id <= 3; id++)
	{
		bool		found = false;

		for (size_t i = 0; i < c.nodes[id - 1].n_applied; i++)
			if (c.nodes[id - 1].applied[i].request_id == 6)
				found = true;
		CHECK(found);
	}
	tc_free(&c);
}

/*
 * R11, commit notices: a follower that says someone there waits for commits
 * (mc_raft_set_commit_wanted, WANT_COMMIT in its answers) learns each new
 * commit index at once; one nobody waits on learns it with the next append
 * or at the leader's next tick, not in a message of its own per commit.
 */
static void
test_commit_notice(void)
{
	tc_cluster	c;
	uint64_t	idx;
	uint64_t	c2,
				c3;

	tc_init(&c, 3);
	CHECK(tc_elect(&c, 1));
	tc_tick_all(&c, 1);
	tc_flush(&c);
	mc_raft_set_commit_wanted(tc_r(&c, 2), true);
	/* node 2's next answer carries the flag */
	CHECK_EQ_INT(tc_propose(&c, 1, 30, &idx), MC_RAFT_OK);
	tc_flush(&c);
	CHECK_EQ_INT(tc_propose(&c, 1, 31, &idx), MC_RAFT_OK);
	tc_flush(&c);
	CHECK(tc_status(&c, 1).commit >= idx);
	c2 = tc_status(&c, 2).commit;
	c3 = tc_status(&c, 3).commit;
	CHECK_EQ_INT(c2, idx);		/* told at once */
	CHECK(c3 < idx);			/* waits for the next append or tick */
	tc_tick_all(&c, 1);
	tc_flush(&c);
	CHECK_EQ_INT(tc_status(&c, 3).commit, idx);
	/* nobody waits on 2 any more: after its next answer it is lazy too */
	mc_raft_set_commit_wanted(tc_r(&c, 2), false);
	CHECK_EQ_INT(tc_propose(&c, 1, 32, &idx), MC_RAFT_OK);
	tc_flush(&c);
	CHECK_EQ_INT(tc_propose(&c, 1, 33, &idx), MC_RAFT_OK);
	tc_flush(&c);
	CHECK(tc_status(&c, 1).commit >= idx);
	CHECK(tc_status(&c, 2).commit < idx);
	CHECK(tc_status(&c, 3).commit < idx);
	tc_tick_all(&c, 1);
	tc_flush(&c);
	CHECK_EQ_INT(tc_status(&c, 2).commit, idx);
	CHECK_EQ_INT(tc_status(&c, 3).commit, idx);
	CHECK(tc_applied_agree(&c));
	tc_free(&c);
}

int
main(void)
{
	RUN(test_stale_leader_overwritten);
	RUN(test_commit_with_majority);
	RUN(test_leader_round_open);
	RUN(test_figure8);
	RUN(test_consistency_check);
	RUN(test_figure7);
	RUN(test_deposed_leader_append);
	RUN(test_forwarding);
	RUN(test_forward_stale_leader);
	RUN(test_flow_control);
	RUN(test_set_max_batch);
	RUN(test_proposals_batched);
	RUN(test_commit_notice);
	RUN(test_batching);
	RUN(test_uncommitted_bound);
	RUN(test_reordered_acks);
	RUN(test_crash_keeps_acked);
	return tu_finish("test_raft_replication");
}
