/*
 * test_raft_election.c — unit tests of Raft elections: terms, votes, the
 * up-to-date check, randomised timeouts, pre-vote, check-quorum leases, the
 * leader-lost hint, persistence of votes (R1-R9, R19-R22, R32).
 */
#include "test_raft_harness.h"

/* R4: a 1-node cluster elects itself and commits its no-op. */
static void
test_single_node(void)
{
	tc_cluster	c;
	uint64_t	idx = 0;

	tc_init(&c, 1);
	CHECK(tc_elect(&c, 1));
	CHECK_EQ_INT(tc_status(&c, 1).term, 1);
	tc_flush(&c);
	CHECK_EQ_INT(tc_status(&c, 1).commit, 1);	/* the no-op */
	CHECK_EQ_INT(tc_propose(&c, 1, 5, &idx), MC_RAFT_OK);
	CHECK_EQ_INT(idx, 2);
	tc_flush(&c);
	CHECK_EQ_INT(tc_status(&c, 1).commit, 2);
	CHECK_EQ_INT(c.nodes[0].sm_count, 1);
	tc_free(&c);
}

/* R2, R4, R11: 3 nodes; the first to time out wins with 2 votes; the
 * others learn it and the no-op commits everywhere. */
static void
test_three_node_election(void)
{
	tc_cluster	c;

	tc_init(&c, 3);
	CHECK(tc_elect(&c, 2));
	CHECK_EQ_INT(tc_role(&c, 1), MC_RAFT_FOLLOWER);
	CHECK_EQ_INT(tc_status(&c, 1).leader, 2);
	CHECK_EQ_INT(tc_status(&c, 3).leader, 2);
	CHECK_EQ_INT(tc_status(&c, 2).term, 1);
	CHECK_EQ_INT(tc_status(&c, 2).commit, 1);
	/* R11: followers learn the commit index on the next append/heartbeat */
	tc_tick_all(&c, 1);
	CHECK_EQ_INT(tc_status(&c, 1).commit, 1);
	CHECK_EQ_INT(tc_status(&c, 3).commit, 1);
	CHECK_EQ_INT(c.nodes[0].hs.vote, 2);	/* vote persisted */
	tc_free(&c);
}

/*
 * A fresh node 1 of a 3-voter configuration, never hearing from the others
 * (ET 10 ticks, no pre-vote), its PRNG seeded from seed.
 */
static mc_raft *
lone_follower(uint64_t seed)
{
	mc_raft_config cfg = tc_default_cfg(1);
	mc_raft_snapshot_meta snap;

	memset(&snap, 0, sizeof(snap));
	snap.conf.n_voters = 3;
	snap.conf.voters[0] = 1;
	snap.conf.voters[1] = 2;
	snap.conf.voters[2] = 3;
	cfg.seed = seed * 7919;
	cfg.pre_vote = false;
	return mc_raft_create(&cfg, NULL, &snap, NULL, 0, NULL, 0);
}

/* A follower's first candidacy comes after this many ticks (0: none in 100). */
static int
ticks_to_candidacy(mc_raft *r)
{
	for (int t = 1; t <= 100; t++)
	{
		mc_raft_status st;

		mc_raft_tick(r);
		mc_raft_get_status(r, &st);
		if (st.role == MC_RAFT_CANDIDATE)
			return t;
	}
	return 0;
}

/* R3: election timeouts spread over [ET, 2ET). */
static void
test_timeout_spread(void)
{
	int			seen[20] = {0};
	int			lo = 1000,
				hi = 0;

	for (uint64_t seed = 0; seed < 400; seed++)
	{
		mc_raft    *r = lone_follower(seed);
		int			t = ticks_to_candidacy(r);

		if (t < lo)
			lo = t;
		if (t > hi)
			hi = t;
		if (t > 0 && t < 20)
			seen[t]++;
		mc_raft_destroy(r);
	}
	CHECK_EQ_INT(lo, 10);
	CHECK_EQ_INT(hi, 19);
	for (int t = 10; t < 20; t++)
		CHECK(seen[t] > 10);
}

/* A reload's new timeouts: later waits are drawn from the new base; bad
 * values are refused and change nothing. */
static void
test_set_timeouts(void)
{
	int			lo = 1000,
				hi = 0,
				kept_lo = 1000;

	for (uint64_t seed = 0; seed < 200; seed++)
	{
		mc_raft    *r = lone_follower(seed);
		int			t;

		if (seed % 2 == 0)
		{
			CHECK_EQ_INT(mc_raft_set_timeouts(r, 4, 1), MC_RAFT_OK);
			t = ticks_to_candidacy(r);
			lo = t < lo ? t : lo;
			hi = t > hi ? t : hi;
		}
		else
		{
			CHECK_EQ_INT(mc_raft_set_timeouts(r, 1, 1), MC_RAFT_ERR_INVALID);
			CHECK_EQ_INT(mc_raft_set_timeouts(r, 10, 10), MC_RAFT_ERR_INVALID);
			CHECK_EQ_INT(mc_raft_set_timeouts(r, 10, 0), MC_RAFT_ERR_INVALID);
			t = ticks_to_candidacy(r);
			kept_lo = t < kept_lo ? t : kept_lo;
		}
		mc_raft_destroy(r);
	}
	/* ET = 4: waits in [4, 8) instead of [10, 20) */
	CHECK_EQ_INT(lo, 4);
	CHECK_EQ_INT(hi, 7);
	CHECK_EQ_INT(kept_lo, 10);
}

/* R1: a higher term makes a leader a follower; a lower-term message
 * changes nothing. */
static void
test_term_rules(void)
{
	tc_cluster	c;
	mc_raft_msg m;
	mc_raft_status st;

	tc_init(&c, 3);
	CHECK(tc_elect(&c, 1));
	memset(&m, 0, sizeof(m));
	m.type = MC_RAFT_MSG_APPEND_RESP;
	m.from = 2;
	m.to = 1;
	m.term = 7;
	mc_raft_step(tc_r(&c, 1), &m);
	st = tc_status(&c, 1);
	CHECK_EQ_INT(st.role, MC_RAFT_FOLLOWER);
	CHECK_EQ_INT(st.term, 7);
	CHECK_EQ_INT(st.vote, 0);
	/* lower term: ignored */
	m.type = MC_RAFT_MSG_VOTE_REQ;
	m.term = 3;
	m.index = 100;
	m.log_term = 100;
	mc_raft_step(tc_r(&c, 1), &m);
	st = tc_status(&c, 1);
	CHECK_EQ_INT(st.term, 7);
	CHECK_EQ_INT(st.vote, 0);
	tc_free(&c);
}

static void
no_prevote(mc_raft_config *cfg)
{
	cfg->pre_vote = false;
	cfg->check_quorum = false;
}

/* R5: one vote per term (a repeat of the same grant is fine); the vote
 * survives a restart.  R32: it is persisted before the grant leaves. */
static void
test_one_vote_per_term(void)
{
	tc_cluster	c;
	mc_raft_msg m;
	mc_raft_batch rd;
	bool		granted_seen = false;

	tc_init_cfg(&c, 3, 3, no_prevote);
	memset(&m, 0, sizeof(m));
	m.type = MC_RAFT_MSG_VOTE_REQ;
	m.from = 2;
	m.to = 1;
	m.term = 5;
	mc_raft_step(tc_r(&c, 1), &m);
	mc_raft_ready(tc_r(&c, 1), &rd);
	CHECK(rd.has_hard_state && rd.must_sync);
	CHECK_EQ_INT(rd.hs.term, 5);
	CHECK_EQ_INT(rd.hs.vote, 2);
	for (size_t i = 0; i < rd.n_msgs; i++)
		if (rd.msgs[i].type == MC_RAFT_MSG_VOTE_RESP && !rd.msgs[i].reject)
			granted_seen = true;
	CHECK(granted_seen);
	c.nodes[0].hs = rd.hs;		/* host persists */
	mc_raft_advance(tc_r(&c, 1), &rd);

	/* crash and restart: the vote is still there */
	tc_crash(&c, 1);
	tc_restart(&c, 1);
	CHECK_EQ_INT(tc_status(&c, 1).vote, 2);
	/* node 3 asks in the same term: refused */
	m.from = 3;
	mc_raft_step(tc_r(&c, 1), &m);
	mc_raft_ready(tc_r(&c, 1), &rd);
	CHECK_EQ_INT(rd.n_msgs, 1);
	CHECK(rd.msgs[0].reject);
	mc_raft_advance(tc_r(&c, 1), &rd);
	/* node 2 asks again: granted again */
	m.from = 2;
	mc_raft_step(tc_r(&c, 1), &m);
	mc_raft_ready(tc_r(&c, 1), &rd);
	CHECK_EQ_INT(rd.n_msgs, 1);
	CHECK(!rd.msgs[0].reject);
	mc_raft_advance(tc_r(&c, 1), &rd);
	tc_free(&c);
}

/* R6: a candidate whose log is behind is refused (by term, then by index
 * within the same last term). */
static void
test_up_to_date_check(void)
{
	tc_cluster	c;
	uint64_t	t1[] = {1, 1, 2};
	uint64_t	t2[] = {1, 1};
	uint64_t	t3[] = {1, 1, 2, 2};

	tc_init_cfg(&c, 3, 3, no_prevote);
	tc_preload(&c.nodes[0], t1, 3, 2);
	tc_preload(&c.nodes[1], t2, 2, 2);
	tc_preload(&c.nodes[2], t3, 4, 2);
	tc_reboot_all(&c);
	/* node 2 (shorter log, older last term) cannot win */
	tc_elect(&c, 2);
	CHECK(tc_role(&c, 2) != MC_RAFT_LEADER);
	CHECK_EQ_INT(tc_status(&c, 1).vote, 0);
	CHECK_EQ_INT(tc_status(&c, 3).vote, 0);
	/* node 1 (same last term, shorter than node 3) wins with node 2's vote */
	tc_elect(&c, 1);
	CHECK_EQ_INT(tc_status(&c, 2).vote, 1);
	CHECK_EQ_INT(tc_status(&c, 3).vote, 0);
	tc_free(&c);
}

/* R4: a majority of refusals makes the candidate a follower at once. */
static void
test_refusals_end_candidacy(void)
{
	tc_cluster	c;
	uint64_t	big[] = {1, 2, 3};

	tc_init_cfg(&c, 3, 3, no_prevote);
	tc_preload(&c.nodes[0], big, 0, 3);
	tc_preload(&c.nodes[1], big, 3, 3);
	tc_preload(&c.nodes[2], big, 3, 3);
	tc_reboot_all(&c);
	for (int t = 0; t < 30 && tc_role(&c, 1) == MC_RAFT_FOLLOWER; t++)
		mc_raft_tick(tc_r(&c, 1));
	CHECK_EQ_INT(tc_role(&c, 1), MC_RAFT_CANDIDATE);
	tc_flush(&c);
	CHECK_EQ_INT(tc_role(&c, 1), MC_RAFT_FOLLOWER);
	tc_free(&c);
}

/* R4: votes granted in an older term are not counted. */
static void
test_old_term_votes_ignored(void)
{
	tc_cluster	c;
	mc_raft_msg m;

	tc_init_cfg(&c, 3, 3, no_prevote);
	for (int round = 0; round < 2; round++)
		for (int t = 0; t < 40; t++)
		{
			uint64_t	before = tc_status(&c, 1).term;

			mc_raft_tick(tc_r(&c, 1));
			if (tc_status(&c, 1).term != before)
				break;
		}
	tc_settle(&c);
	tc_drop_all(&c);
	CHECK_EQ_INT(tc_role(&c, 1), MC_RAFT_CANDIDATE);
	CHECK_EQ_INT(tc_status(&c, 1).term, 2);
	memset(&m, 0, sizeof(m));
	m.type = MC_RAFT_MSG_VOTE_RESP;
	m.to = 1;
	m.term = 1;					/* grants from the first campaign */
	m.from = 2;
	mc_raft_step(tc_r(&c, 1), &m);
	m.from = 3;
	mc_raft_step(tc_r(&c, 1), &m);
	CHECK_EQ_INT(tc_role(&c, 1), MC_RAFT_CANDIDATE);
	/* a pre-vote grant is no vote either */
	m.type = MC_RAFT_MSG_PREVOTE_RESP;
	m.term = 2;
	mc_raft_step(tc_r(&c, 1), &m);
	CHECK_EQ_INT(tc_role(&c, 1), MC_RAFT_CANDIDATE);
	/* a grant of this term wins */
	m.type = MC_RAFT_MSG_VOTE_RESP;
	m.term = 2;
	mc_raft_step(tc_r(&c, 1), &m);
	CHECK_EQ_INT(tc_role(&c, 1), MC_RAFT_LEADER);
	tc_free(&c);
}

/* R7: a candidate receiving an append of its own term becomes follower. */
static void
test_candidate_hears_leader(void)
{
	tc_cluster	c;
	mc_raft_msg m;

	tc_init_cfg(&c, 3, 3, no_prevote);
	for (int t = 0; t < 30 && tc_role(&c, 1) == MC_RAFT_FOLLOWER; t++)
		mc_raft_tick(tc_r(&c, 1));
	CHECK_EQ_INT(tc_role(&c, 1), MC_RAFT_CANDIDATE);
	memset(&m, 0, sizeof(m));
	m.type = MC_RAFT_MSG_APPEND_REQ;
	m.from = 3;
	m.to = 1;
	m.term = tc_status(&c, 1).term;
	mc_raft_step(tc_r(&c, 1), &m);
	CHECK_EQ_INT(tc_role(&c, 1), MC_RAFT_FOLLOWER);
	CHECK_EQ_INT(tc_status(&c, 1).leader, 3);
	tc_free(&c);
}

/* R8: 3 nodes with 2 down elect nobody; 5 with 2 down elect a leader. */
static void
test_quorum_sizes(void)
{
	tc_cluster	c;

	tc_init(&c, 3);
	tc_crash(&c, 2);
	tc_crash(&c, 3);
	tc_tick_all(&c, 200);
	CHECK(tc_role(&c, 1) != MC_RAFT_LEADER);
	CHECK_EQ_INT(tc_status(&c, 1).term, 0);	/* pre-vote: no term inflation */
	tc_free(&c);

	tc_init(&c, 5);
	tc_crash(&c, 4);
	tc_crash(&c, 5);
	tc_tick_all(&c, 60);
	CHECK_EQ_INT(tc_leaders(&c, NULL), 1);
	tc_free(&c);
}

/* R9: dueling candidates with one link cut: the longer log wins. */
static void
test_dueling_candidates(void)
{
	tc_cluster	c;
	uint64_t	longer[] = {1, 1};
	uint64_t	shorter[] = {1};
	uint64_t	term;

	tc_init_cfg(&c, 3, 3, no_prevote);
	tc_preload(&c.nodes[0], longer, 2, 1);
	tc_preload(&c.nodes[1], longer, 2, 1);
	tc_preload(&c.nodes[2], shorter, 1, 1);
	tc_reboot_all(&c);
	c.cut[1][3] = c.cut[3][1] = true;
	/* both campaign */
	for (int t = 0; t < 30 && tc_role(&c, 1) == MC_RAFT_FOLLOWER; t++)
		mc_raft_tick(tc_r(&c, 1));
	for (int t = 0; t < 30 && tc_role(&c, 3) == MC_RAFT_FOLLOWER; t++)
		mc_raft_tick(tc_r(&c, 3));
	tc_flush(&c);
	CHECK_EQ_INT(tc_role(&c, 1), MC_RAFT_LEADER);
	CHECK(tc_role(&c, 3) != MC_RAFT_LEADER);
	/* node 3 keeps trying; it never wins and the leader stays in charge */
	tc_tick_all(&c, 100);
	CHECK_EQ_INT(tc_leaders(&c, &term), 1);
	CHECK(tc_role(&c, 3) != MC_RAFT_LEADER);
	tc_heal(&c);
	tc_tick_all(&c, 50);
	CHECK_EQ_INT(tc_leaders(&c, NULL), 1);
	CHECK(tc_role(&c, 3) != MC_RAFT_LEADER);
	CHECK_EQ_INT(tc_log_last(&c, 3), tc_log_last(&c, 1));
	tc_free(&c);
}

/* R19: a partitioned leader steps down after ET; the majority elects. */
static void
test_check_quorum_step_down(void)
{
	tc_cluster	c;

	tc_init(&c, 3);
	CHECK(tc_elect(&c, 1));
	tc_isolate(&c, 1, true);
	tc_tick_all(&c, 25);
	CHECK(tc_role(&c, 1) != MC_RAFT_LEADER);
	CHECK(tc_role(&c, 2) == MC_RAFT_LEADER || tc_role(&c, 3) == MC_RAFT_LEADER);
	tc_heal(&c);
	tc_tick_all(&c, 5);
	CHECK_EQ_INT(tc_leaders(&c, NULL), 1);
	tc_free(&c);
}

/* R20: a follower that heard from the leader within ET refuses votes;
 * after ET without a leader it grants them. */
static void
test_lease_refuses_votes(void)
{
	tc_cluster	c;
	mc_raft_msg m;
	mc_raft_status st;

	tc_init(&c, 3);
	CHECK(tc_elect(&c, 1));
	memset(&m, 0, sizeof(m));
	m.type = MC_RAFT_MSG_VOTE_REQ;
	m.from = 3;
	m.to = 2;
	m.term = 9;
	m.index = 50;
	m.log_term = 9;
	mc_raft_step(tc_r(&c, 2), &m);
	st = tc_status(&c, 2);
	CHECK_EQ_INT(st.term, 1);
	CHECK_EQ_INT(st.vote, 1);
	CHECK_EQ_INT(st.leader, 1);
	/* ET ticks without hearing the leader: the lease is over */
	tc_isolate(&c, 1, true);
	for (int t = 0; t < 10; t++)
		mc_raft_tick(tc_r(&c, 2));
	tc_drop_all(&c);
	mc_raft_step(tc_r(&c, 2), &m);
	st = tc_status(&c, 2);
	CHECK_EQ_INT(st.term, 9);
	CHECK_EQ_INT(st.vote, 3);
	tc_free(&c);
}

/* R21: a partitioned node neither raises terms nor deposes the leader when
 * it returns; a node with a lagging log gets no pre-votes. */
static void
test_prevote_rejoin(void)
{
	tc_cluster	c;
	uint64_t	term;

	tc_init(&c, 3);
	CHECK(tc_elect(&c, 1));
	term = tc_status(&c, 1).term;
	tc_isolate(&c, 3, true);
	for (int i = 0; i < 5; i++)
		tc_propose(&c, 1, (uint64_t) i + 1, NULL);
	tc_tick_all(&c, 100);
	CHECK_EQ_INT(tc_status(&c, 3).term, term);	/* no inflation */
	CHECK(tc_role(&c, 3) != MC_RAFT_LEADER);
	tc_heal(&c);
	tc_tick_all(&c, 30);
	CHECK_EQ_INT(tc_role(&c, 1), MC_RAFT_LEADER);
	CHECK_EQ_INT(tc_status(&c, 1).term, term);
	CHECK_EQ_INT(tc_status(&c, 3).commit, tc_status(&c, 1).commit);
	tc_free(&c);

	/* lagging log: refused pre-votes even without a lease */
	tc_init(&c, 3);
	CHECK(tc_elect(&c, 1));
	tc_isolate(&c, 3, true);
	tc_propose(&c, 1, 1, NULL);
	tc_flush(&c);
	tc_crash(&c, 1);
	tc_heal(&c);
	/* node 3 times out first, but its log is behind node 2's */
	for (int t = 0; t < 40 && tc_role(&c, 3) == MC_RAFT_FOLLOWER; t++)
		mc_raft_tick(tc_r(&c, 3));
	CHECK_EQ_INT(tc_role(&c, 3), MC_RAFT_PRE_CANDIDATE);
	for (int t = 0; t < 10; t++)
		mc_raft_tick(tc_r(&c, 2));	/* node 2's lease expires */
	tc_drop_all(&c);
	tc_settle(&c);
	tc_drop_all(&c);
	/* re-run node 3's pre-vote now that node 2 is out of lease */
	for (int t = 0; t < 40 && tc_role(&c, 3) == MC_RAFT_PRE_CANDIDATE; t++)
	{
		mc_raft_tick(tc_r(&c, 3));
		tc_flush(&c);
	}
	CHECK(tc_role(&c, 3) != MC_RAFT_LEADER);
	CHECK_EQ_INT(tc_status(&c, 2).vote, 1);	/* node 2 gave no vote to 3 */
	tc_free(&c);
}

/* R22: a node that rejoins just as the leader dies does not prevent a new
 * election; a split pre-vote resolves next round. */
static void
test_prevote_leader_dies(void)
{
	tc_cluster	c;

	tc_init(&c, 5);
	CHECK(tc_elect(&c, 1));
	tc_isolate(&c, 5, true);
	tc_propose(&c, 1, 1, NULL);
	tc_tick_all(&c, 30);
	tc_crash(&c, 1);
	tc_heal(&c);
	tc_tick_all(&c, 60);
	CHECK_EQ_INT(tc_leaders(&c, NULL), 1);
	CHECK(tc_role(&c, 5) != MC_RAFT_LEADER);
	tc_free(&c);
}

/* R22: a split vote (two candidates of one term, two votes each) elects
 * nobody; the next round, with fresh random timeouts, elects one leader. */
static void
test_split_vote_resolves(void)
{
	tc_cluster	c;
	uint64_t	term;

	tc_init(&c, 5);
	CHECK(tc_elect(&c, 1));
	tc_tick_all(&c, 2);
	tc_crash(&c, 1);
	/* nodes 2 and 3 see each other's requests never; 4 hears 2 first, 5
	 * hears 3 first */
	c.cut[2][3] = c.cut[3][2] = true;
	c.cut[2][5] = c.cut[3][4] = true;
	for (int t = 0; t < 12; t++)
		for (uint32_t id = 2; id <= 5; id++)
			mc_raft_tick(tc_r(&c, id));	/* every lease has expired */
	tc_drop_all(&c);
	/* both are told to campaign at once (TimeoutNow from the old leader) */
	for (uint32_t id = 2; id <= 3; id++)
	{
		mc_raft_msg m;

		memset(&m, 0, sizeof(m));
		m.type = MC_RAFT_MSG_TIMEOUT_NOW;
		m.from = 1;
		m.to = id;
		m.term = tc_status(&c, id).term;
		mc_raft_step(tc_r(&c, id), &m);
	}
	CHECK_EQ_INT(tc_role(&c, 2), MC_RAFT_CANDIDATE);
	CHECK_EQ_INT(tc_role(&c, 3), MC_RAFT_CANDIDATE);
	tc_flush(&c);
	term = tc_status(&c, 2).term;
	CHECK_EQ_INT(tc_leaders(&c, NULL), 0);
	CHECK_EQ_INT(tc_status(&c, 3).term, term);
	tc_heal(&c);
	tc_tick_all(&c, 60);
	CHECK_EQ_INT(tc_leaders(&c, NULL), 1);
	tc_free(&c);
}

/* Leader-lost hint: a crashed leader is replaced without waiting ET. */
static void
test_leader_lost_hint(void)
{
	tc_cluster	c;

	tc_init(&c, 3);
	CHECK(tc_elect(&c, 1));
	tc_tick_all(&c, 2);
	tc_crash(&c, 1);
	/* both survivors see the connection close at the same moment */
	mc_raft_leader_lost(tc_r(&c, 2));
	mc_raft_leader_lost(tc_r(&c, 3));
	tc_flush(&c);
	CHECK_EQ_INT(tc_leaders(&c, NULL), 1);
	CHECK_EQ_INT(tc_role(&c, 2), MC_RAFT_LEADER);	/* lower id wins the tie */
	CHECK_EQ_INT(tc_status(&c, 2).term, 2);	/* one election, no split */
	tc_free(&c);

	/* only one survivor noticed so far; the other notices later */
	tc_init(&c, 3);
	CHECK(tc_elect(&c, 1));
	tc_tick_all(&c, 2);
	tc_crash(&c, 1);
	mc_raft_leader_lost(tc_r(&c, 3));
	tc_flush(&c);
	CHECK_EQ_INT(tc_leaders(&c, NULL), 0);	/* 2 still in its lease */
	mc_raft_leader_lost(tc_r(&c, 2));
	tc_flush(&c);
	CHECK_EQ_INT(tc_leaders(&c, NULL), 1);
	tc_free(&c);
}

/* The hint never deposes a live leader: a node whose connection blipped
 * gets no pre-votes from followers still hearing the leader. */
static void
test_leader_lost_live_leader(void)
{
	tc_cluster	c;

	tc_init(&c, 3);
	CHECK(tc_elect(&c, 1));
	tc_tick_all(&c, 2);
	mc_raft_leader_lost(tc_r(&c, 3));
	tc_flush(&c);
	CHECK_EQ_INT(tc_role(&c, 1), MC_RAFT_LEADER);
	CHECK_EQ_INT(tc_status(&c, 1).term, 1);
	tc_tick_all(&c, 3);
	CHECK_EQ_INT(tc_status(&c, 3).leader, 1);
	CHECK_EQ_INT(tc_status(&c, 3).term, 1);
	tc_free(&c);
}

/* R32: a crash after the vote was persisted but before anything else keeps
 * the vote; a candidate's own vote is persisted before its requests. */
static void
test_candidate_persists_before_send(void)
{
	tc_cluster	c;
	mc_raft_batch rd;

	tc_init_cfg(&c, 3, 3, no_prevote);
	for (int t = 0; t < 30 && tc_role(&c, 1) == MC_RAFT_FOLLOWER; t++)
		mc_raft_tick(tc_r(&c, 1));
	mc_raft_ready(tc_r(&c, 1), &rd);
	CHECK(rd.n_msgs == 2);
	CHECK(rd.has_hard_state && rd.must_sync);
	CHECK_EQ_INT(rd.hs.vote, 1);
	CHECK_EQ_INT(rd.hs.term, 1);
	mc_raft_advance(tc_r(&c, 1), &rd);
	tc_free(&c);
}

/* Learners and non-members never campaign. */
static void
test_non_members_never_campaign(void)
{
	tc_cluster	c;

	tc_init_cfg(&c, 3, 2, NULL);	/* node 3 is not in the configuration */
	for (int t = 0; t < 100; t++)
		mc_raft_tick(tc_r(&c, 3));
	tc_flush(&c);
	CHECK_EQ_INT(tc_role(&c, 3), MC_RAFT_FOLLOWER);
	CHECK_EQ_INT(tc_status(&c, 3).term, 0);
	CHECK_EQ_INT(c.sent[MC_RAFT_MSG_PREVOTE_REQ], 0);
	tc_free(&c);
}

int
main(void)
{
	RUN(test_single_node);
	RUN(test_three_node_election);
	RUN(test_timeout_spread);
	RUN(test_set_timeouts);
	RUN(test_term_rules);
	RUN(test_one_vote_per_term);
	RUN(test_up_to_date_check);
	RUN(test_refusals_end_candidacy);
	RUN(test_old_term_votes_ignored);
	RUN(test_candidate_hears_leader);
	RUN(test_quorum_sizes);
	RUN(test_dueling_candidates);
	RUN(test_check_quorum_step_down);
	RUN(test_lease_refuses_votes);
	RUN(test_prevote_rejoin);
	RUN(test_prevote_leader_dies);
	RUN(test_split_vote_resolves);
	RUN(test_leader_lost_hint);
	RUN(test_leader_lost_live_leader);
	RUN(test_candidate_persists_before_send);
	RUN(test_non_members_never_campaign);
	return tu_finish("test_raft_election");
}
