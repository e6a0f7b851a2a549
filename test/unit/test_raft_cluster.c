/*
 * test_raft_cluster.c — unit tests of snapshots (R28), membership and
 * learners (R25-R27), ReadIndex (R23, R24), leadership transfer (R29),
 * client request ids (R31).
 */
#include "test_raft_harness.h"

static uint32_t
leader_of(tc_cluster *c)
{
	for (uint32_t id = 1; id <= (uint32_t) c->n; id++)
		if (c->nodes[id - 1].up && tc_role(c, id) == MC_RAFT_LEADER)
			return id;
	return 0;
}

/* Leader node takes a snapshot at its applied index. */
static void
take_snapshot(tc_cluster *c, uint32_t id)
{
	tc_node    *nd = tc_node_of(c, id);
	uint64_t	at = nd->sm_index;

	tc_fill_snapshot(nd);
	CHECK_EQ_INT(mc_raft_snapshot_taken(nd->r, at), MC_RAFT_OK);
	mc_raft_get_snapshot_meta(nd->r, &nd->snap);
	/* the host drops its stored log up to the snapshot */
	{
		size_t		k = 0;

		while (k < nd->n_log && nd->log[k].index <= at)
			free(nd->log[k++].data);
		memmove(nd->log, nd->log + k, (nd->n_log - k) * sizeof(*nd->log));
		nd->n_log -= k;
	}
}

/* R28: a follower behind the compaction point gets the snapshot in chunks
 * and catches up; a failed transfer is retried. */
static void
test_snapshot_catch_up(void)
{
	tc_cluster	c;
	uint32_t	l;
	mc_raft_status st;

	tc_init(&c, 3);
	CHECK(tc_elect(&c, 1));
	tc_isolate(&c, 3, true);
	for (int i = 0; i < 20; i++)
		tc_propose(&c, 1, (uint64_t) (100 + i), NULL);
	tc_tick_all(&c, 2);
	take_snapshot(&c, 1);
	st = tc_status(&c, 1);
	CHECK_EQ_INT(st.snapshot_index, 21);
	CHECK(mc_raft_get_entry(tc_r(&c, 1), 5) == NULL);	/* compacted */
	/* two more entries after the snapshot */
	tc_propose(&c, 1, 200, NULL);
	tc_propose(&c, 1, 201, NULL);
	tc_flush(&c);

	/* first transfer fails: the leader's snapshot chunks are lost */
	c.nodes[0].answer_snap_requests = true;
	tc_heal(&c);
	c.cut[1][3] = false;
	{
		int			dropped = 0;

		for (int t = 0; t < 40; t++)
		{
			for (int i = 1; i <= 3; i++)
				tc_tick(&c, (uint32_t) i);
			for (int rounds = 0; rounds < 10000; rounds++)
			{
				tc_settle(&c);
				if (c.nq == 0)
					break;
				if (c.q[0].type == MC_RAFT_MSG_SNAPSHOT_REQ && dropped < 2)
				{
					free(c.q[0].buf);
					memmove(&c.q[0], &c.q[1], (c.nq - 1) * sizeof(*c.q));
					c.nq--;
					dropped++;
					continue;
				}
				tc_deliver_at(&c, 0);
			}
		}
		CHECK(dropped == 2);
	}
	tc_tick_all(&c, 40);		/* retry after ET */
	st = tc_status(&c, 3);
	CHECK_EQ_INT(c.nodes[2].installs, 1);
	CHECK_EQ_INT(st.snapshot_index, 21);
	CHECK_EQ_INT(st.last_index, tc_status(&c, 1).last_index);
	CHECK_EQ_INT(st.commit, tc_status(&c, 1).commit);
	/* the state machines agree (snapshot carried the state) */
	CHECK_EQ_INT(c.nodes[2].sm_hash, c.nodes[0].sm_hash);
	CHECK_EQ_INT(c.nodes[2].sm_count, c.nodes[0].sm_count);
	CHECK(c.nodes[0].snap_requests_seen >= 4);	/* 3 chunks + retries */
	l = leader_of(&c);
	CHECK_EQ_INT(l, 1);
	tc_free(&c);
}

/* R28: a snapshot arriving at a follower that already holds its last entry
 * installs nothing and keeps the log after it (only the commit moves). */
static void
test_snapshot_matching_log_kept(void)
{
	tc_cluster	c;
	uint64_t	fl[] = {1, 1, 2, 2, 2};
	mc_raft_msg m;
	mc_raft_batch rd;
	uint8_t		chunk[4] = {1, 2, 3, 4};

	tc_init(&c, 3);
	tc_preload(&c.nodes[1], fl, 5, 2);
	tc_reboot_all(&c);
	memset(&m, 0, sizeof(m));
	m.type = MC_RAFT_MSG_SNAPSHOT_REQ;
	m.from = 1;
	m.to = 2;
	m.term = 2;
	m.snap.index = 3;
	m.snap.term = 2;
	m.snap.conf = c.nodes[0].snap.conf;
	m.data = chunk;
	m.len = 4;
	mc_raft_step(tc_r(&c, 2), &m);
	mc_raft_ready(tc_r(&c, 2), &rd);
	CHECK(rd.install == NULL);
	CHECK_EQ_INT(rd.n_snap_chunks, 0);
	CHECK_EQ_INT(rd.hs.commit, 3);
	CHECK_EQ_INT(rd.n_committed, 3);
	CHECK_EQ_INT(rd.n_msgs, 1);
	CHECK(rd.msgs[0].flags & MC_RAFT_FLAG_LAST_CHUNK);
	mc_raft_advance(tc_r(&c, 2), &rd);
	CHECK_EQ_INT(tc_status(&c, 2).last_index, 5);
	/* a mismatching one is installed and replaces the log */
	m.snap.index = 4;
	m.snap.term = 3;
	m.flags = MC_RAFT_FLAG_LAST_CHUNK;
	mc_raft_step(tc_r(&c, 2), &m);
	mc_raft_ready(tc_r(&c, 2), &rd);
	CHECK(rd.install != NULL);
	CHECK_EQ_INT(rd.n_snap_chunks, 1);
	mc_raft_advance(tc_r(&c, 2), &rd);
	CHECK_EQ_INT(tc_status(&c, 2).last_index, 4);
	CHECK_EQ_INT(tc_status(&c, 2).last_term, 3);
	CHECK_EQ_INT(tc_status(&c, 2).snapshot_index, 4);
	tc_free(&c);
}

/* A restarted node reloads snapshot + log and applies only what follows. */
static void
test_restart_after_snapshot(void)
{
	tc_cluster	c;

	tc_init(&c, 3);
	CHECK(tc_elect(&c, 1));
	for (int i = 0; i < 5; i++)
		tc_propose(&c, 1, (uint64_t) i, NULL);
	tc_tick_all(&c, 2);
	take_snapshot(&c, 2);
	tc_propose(&c, 1, 50, NULL);
	tc_tick_all(&c, 2);
	tc_crash(&c, 2);
	tc_restart(&c, 2);
	CHECK_EQ_INT(tc_status(&c, 2).snapshot_index, 6);
	tc_tick_all(&c, 3);
	CHECK_EQ_INT(c.nodes[1].sm_hash, c.nodes[0].sm_hash);
	CHECK_EQ_INT(c.nodes[1].n_applied, 1);	/* only index 7 replayed */
	tc_free(&c);
}

/* R25: learners receive entries and snapshots, never campaign, never
 * count toward a quorum; once promoted they can be elected. */
static void
test_learner(void)
{
	tc_cluster	c;
	uint64_t	idx;

	tc_init_cfg(&c, 3, 2, NULL);	/* voters 1,2; node 3 outside */
	CHECK(tc_elect(&c, 1));
	CHECK_EQ_INT(mc_raft_propose_conf_change(tc_r(&c, 1), MC_RAFT_CC_ADD_LEARNER, 3, &idx), MC_RAFT_OK);
	tc_flush(&c);
	tc_tick_all(&c, 3);
	CHECK(tc_status(&c, 3).is_learner);
	CHECK_EQ_INT(tc_status(&c, 3).commit, tc_status(&c, 1).commit);
	/* learner does not count: with voter 2 down nothing commits */
	tc_crash(&c, 2);
	CHECK_EQ_INT(tc_propose(&c, 1, 9, &idx), MC_RAFT_OK);
	tc_tick_all(&c, 3);
	CHECK(tc_status(&c, 1).commit < idx);
	/* learner never campaigns even with no leader around */
	tc_crash(&c, 1);
	tc_tick_all(&c, 100);
	CHECK_EQ_INT(tc_role(&c, 3), MC_RAFT_FOLLOWER);
	tc_free(&c);

	/* promotion: the learner becomes a voter and can be elected */
	tc_init_cfg(&c, 3, 2, NULL);
	CHECK(tc_elect(&c, 1));
	CHECK_EQ_INT(mc_raft_propose_conf_change(tc_r(&c, 1), MC_RAFT_CC_ADD_LEARNER, 3, NULL), MC_RAFT_OK);
	tc_tick_all(&c, 3);
	CHECK_EQ_INT(mc_raft_propose_conf_change(tc_r(&c, 1), MC_RAFT_CC_PROMOTE, 3, NULL), MC_RAFT_OK);
	tc_tick_all(&c, 3);
	CHECK(tc_status(&c, 3).is_voter);
	CHECK_EQ_INT(tc_status(&c, 1).conf.n_voters, 3);
	CHECK_EQ_INT(mc_raft_transfer_leader(tc_r(&c, 1), 3), MC_RAFT_OK);
	tc_flush(&c);
	CHECK_EQ_INT(tc_role(&c, 3), MC_RAFT_LEADER);
	tc_free(&c);
}

/* A learner far behind gets a snapshot too (R25 + R28). */
static void
test_learner_snapshot(void)
{
	tc_cluster	c;

	tc_init_cfg(&c, 3, 2, NULL);
	CHECK(tc_elect(&c, 1));
	for (int i = 0; i < 10; i++)
		tc_propose(&c, 1, (uint64_t) i, NULL);
	tc_tick_all(&c, 2);
	take_snapshot(&c, 1);
	CHECK_EQ_INT(mc_raft_propose_conf_change(tc_r(&c, 1), MC_RAFT_CC_ADD_LEARNER, 3, NULL), MC_RAFT_OK);
	tc_tick_all(&c, 10);
	CHECK_EQ_INT(c.nodes[2].installs, 1);
	CHECK_EQ_INT(tc_status(&c, 3).last_index, tc_status(&c, 1).last_index);
	CHECK(tc_status(&c, 3).is_learner);
	CHECK_EQ_INT(c.nodes[2].sm_hash, c.nodes[0].sm_hash);
	tc_free(&c);
}

/* R26: a second membership change while one is not applied is refused;
 * bad changes are refused too. */
static void
test_one_change_at_a_time(void)
{
	tc_cluster	c;

	tc_init_cfg(&c, 4, 3, NULL);
	CHECK(tc_elect(&c, 1));
	tc_tick_all(&c, 1);
	c.cut[1][2] = c.cut[1][3] = true;	/* the change cannot commit */
	CHECK_EQ_INT(mc_raft_propose_conf_change(tc_r(&c, 1), MC_RAFT_CC_ADD_LEARNER, 4, NULL), MC_RAFT_OK);
	CHECK_EQ_INT(mc_raft_propose_conf_change(tc_r(&c, 1), MC_RAFT_CC_REMOVE, 3, NULL), MC_RAFT_ERR_CONF_PENDING);
	tc_heal(&c);
	tc_tick_all(&c, 3);
	CHECK_EQ_INT(mc_raft_propose_conf_change(tc_r(&c, 1), MC_RAFT_CC_ADD_LEARNER, 4, NULL), MC_RAFT_ERR_INVALID);
	CHECK_EQ_INT(mc_raft_propose_conf_change(tc_r(&c, 1), MC_RAFT_CC_PROMOTE, 2, NULL), MC_RAFT_ERR_INVALID);
	CHECK_EQ_INT(mc_raft_propose_conf_change(tc_r(&c, 1), MC_RAFT_CC_REMOVE, 9, NULL), MC_RAFT_ERR_INVALID);
	CHECK_EQ_INT(mc_raft_propose_conf_change(tc_r(&c, 1), 77, 4, NULL), MC_RAFT_ERR_INVALID);
	/* forwarded from a follower */
	CHECK_EQ_INT(mc_raft_propose_conf_change(tc_r(&c, 2), MC_RAFT_CC_PROMOTE, 4, NULL), MC_RAFT_OK);
	tc_tick_all(&c, 3);
	CHECK_EQ_INT(tc_status(&c, 1).conf.n_voters, 4);
	CHECK(tc_status(&c, 4).is_voter);
	tc_free(&c);
}

/* R26: a new leader takes no membership change before it has committed an
 * entry of its own term (single-server change safety). */
static void
test_change_waits_for_term_commit(void)
{
	tc_cluster	c;

	tc_init_cfg(&c, 4, 3, NULL);
	for (int t = 0; t < 40 && tc_role(&c, 1) != MC_RAFT_LEADER; t++)
	{
		mc_raft_tick(tc_r(&c, 1));
		tc_settle(&c);
		for (size_t k = 0; k < c.nq;)
			if (c.q[k].type != MC_RAFT_MSG_APPEND_REQ)
			{
				tc_deliver_at(&c, k);
				tc_settle(&c);
				k = 0;
			}
			else
				k++;
	}
	CHECK_EQ_INT(tc_role(&c, 1), MC_RAFT_LEADER);
	tc_drop_all(&c);
	CHECK_EQ_INT(tc_status(&c, 1).commit, 0);
	CHECK_EQ_INT(mc_raft_propose_conf_change(tc_r(&c, 1), MC_RAFT_CC_ADD_LEARNER, 4, NULL),
				 MC_RAFT_ERR_CONF_PENDING);
	tc_tick_all(&c, 2);			/* the no-op commits */
	CHECK_EQ_INT(tc_status(&c, 1).commit, 1);
	CHECK_EQ_INT(mc_raft_propose_conf_change(tc_r(&c, 1), MC_RAFT_CC_ADD_LEARNER, 4, NULL),
				 MC_RAFT_OK);
	tc_free(&c);
}

/* R27: removing a node lets pending entries commit with the smaller
 * quorum; a leader that removes itself steps down after the commit. */
static void
test_removal(void)
{
	tc_cluster	c;
	uint64_t	idx,
				cidx;
	uint32_t	l;

	tc_init(&c, 4);				/* quorum 3 */
	CHECK(tc_elect(&c, 1));
	tc_tick_all(&c, 1);
	tc_crash(&c, 3);
	tc_crash(&c, 4);
	CHECK_EQ_INT(tc_propose(&c, 1, 5, &idx), MC_RAFT_OK);
	tc_flush(&c);
	CHECK(tc_status(&c, 1).commit < idx);	/* 2 of 4: stuck */
	/* remove 4, then 3: {1,2,3} still needs 2 of 3 -> commits idx */
	CHECK_EQ_INT(mc_raft_propose_conf_change(tc_r(&c, 1), MC_RAFT_CC_REMOVE, 4, &cidx), MC_RAFT_OK);
	tc_flush(&c);
	CHECK(tc_status(&c, 1).commit >= cidx);
	CHECK(tc_status(&c, 1).commit >= idx);
	tc_free(&c);

	/* the leader removes itself */
	tc_init(&c, 3);
	CHECK(tc_elect(&c, 1));
	tc_tick_all(&c, 1);
	CHECK_EQ_INT(mc_raft_propose_conf_change(tc_r(&c, 1), MC_RAFT_CC_REMOVE, 1, &cidx), MC_RAFT_OK);
	CHECK_EQ_INT(tc_role(&c, 1), MC_RAFT_LEADER);	/* until it commits */
	tc_flush(&c);
	CHECK(tc_role(&c, 1) != MC_RAFT_LEADER);
	tc_tick_all(&c, 30);
	l = leader_of(&c);
	CHECK(l == 2 || l == 3);
	CHECK(!tc_status(&c, 1).is_voter);
	{
		uint64_t	term = tc_status(&c, l).term;

		tc_tick_all(&c, 60);	/* the removed node never disrupts */
		CHECK_EQ_INT(leader_of(&c), l);
		CHECK_EQ_INT(tc_status(&c, l).term, term);
		CHECK(tc_role(&c, 1) == MC_RAFT_FOLLOWER);
	}
	tc_free(&c);
}

/* R23: ReadIndex on the leader and on a follower answers with the
 * leader's commit index only after a majority answered a heartbeat. */
static void
test_read_index(void)
{
	tc_cluster	c;
	uint64_t	commit;

	tc_init(&c, 3);
	CHECK(tc_elect(&c, 1));
	tc_tick_all(&c, 1);
	tc_propose(&c, 1, 1, NULL);
	tc_flush(&c);
	commit = tc_status(&c, 1).commit;
	/* followers unreachable: no answer */
	tc_isolate(&c, 1, true);
	CHECK_EQ_INT(mc_raft_read_index(tc_r(&c, 1), 42), MC_RAFT_OK);
	tc_flush(&c);
	CHECK_EQ_INT(c.nodes[0].n_reads, 0);
	tc_heal(&c);
	tc_tick_all(&c, 1);			/* next heartbeat round confirms */
	CHECK_EQ_INT(c.nodes[0].n_reads, 1);
	CHECK_EQ_INT(c.nodes[0].reads[0].context, 42);
	CHECK_EQ_INT(c.nodes[0].reads[0].index, commit);
	CHECK(!c.nodes[0].reads[0].failed);

	/* on a follower */
	CHECK_EQ_INT(mc_raft_read_index(tc_r(&c, 2), 43), MC_RAFT_OK);
	tc_flush(&c);
	CHECK_EQ_INT(c.nodes[1].n_reads, 1);
	CHECK_EQ_INT(c.nodes[1].reads[0].context, 43);
	CHECK_EQ_INT(c.nodes[1].reads[0].index, commit);
	/* no leader known: refused at once */
	tc_free(&c);
	tc_init(&c, 3);
	CHECK_EQ_INT(mc_raft_read_index(tc_r(&c, 2), 1), MC_RAFT_ERR_NOT_LEADER);
	tc_free(&c);

	/* 5 voters, one follower answering: 2 of 5 is no majority */
	tc_init(&c, 5);
	CHECK(tc_elect(&c, 1));
	tc_tick_all(&c, 1);
	for (uint32_t id = 3; id <= 5; id++)
		tc_isolate(&c, id, true);
	CHECK_EQ_INT(mc_raft_read_index(tc_r(&c, 1), 9), MC_RAFT_OK);
	tc_tick_all(&c, 3);
	CHECK_EQ_INT(c.nodes[0].n_reads, 0);
	tc_heal(&c);
	tc_tick_all(&c, 1);
	CHECK_EQ_INT(c.nodes[0].n_reads, 1);
	tc_free(&c);

	/* a deposed leader fails its pending reads */
	tc_init(&c, 3);
	CHECK(tc_elect(&c, 1));
	tc_tick_all(&c, 1);
	tc_isolate(&c, 1, true);
	mc_raft_read_index(tc_r(&c, 1), 7);
	tc_tick_all(&c, 25);
	CHECK_EQ_INT(c.nodes[0].n_reads, 1);
	CHECK(c.nodes[0].reads[0].failed);
	tc_free(&c);
}

/* Three nodes, node 1 leading with an entry of its term committed, no
 * message queued: ready for reads. */
static void
leader_ready_for_reads(tc_cluster *c)
{
	tc_init(c, 3);
	CHECK(tc_elect(c, 1));
	tc_tick_all(c, 1);
	tc_propose(c, 1, 1, NULL);
	tc_flush(c);
	tc_drop_all(c);
}

/* Heartbeats node `from` has queued. */
static size_t
queued_heartbeats(tc_cluster *c, uint32_t from)
{
	size_t		hb = 0;

	for (size_t k = 0; k < c->nq; k++)
		if (c->q[k].from == from && c->q[k].type == MC_RAFT_MSG_HEARTBEAT_REQ)
			hb++;
	return hb;
}

/* Reads taken together share one heartbeat round: one heartbeat per
 * follower, sent after all of them arrived, answers every one of them. */
static void
test_reads_share_a_round(void)
{
	tc_cluster	c;

	leader_ready_for_reads(&c);
	for (uint64_t ctx = 100; ctx < 105; ctx++)
		CHECK_EQ_INT(mc_raft_read_index(tc_r(&c, 1), ctx), MC_RAFT_OK);
	tc_settle(&c);
	CHECK_EQ_INT(queued_heartbeats(&c, 1), 2);
	tc_flush(&c);
	CHECK_EQ_INT(c.nodes[0].n_reads, 5);
	for (int i = 0; i < c.nodes[0].n_reads && i < 5; i++)
	{
		CHECK_EQ_INT(c.nodes[0].reads[i].context, 100 + i);
		CHECK(!c.nodes[0].reads[i].failed);
	}
	tc_free(&c);
}

/* A leader that steps down before its next ready sends no heartbeat for
 * the read round it had pending, and fails the read. */
static void
test_read_round_dropped_on_step_down(void)
{
	tc_cluster	c;
	mc_raft_msg m;

	leader_ready_for_reads(&c);
	CHECK_EQ_INT(mc_raft_read_index(tc_r(&c, 1), 77), MC_RAFT_OK);
	memset(&m, 0, sizeof(m));
	m.type = MC_RAFT_MSG_HEARTBEAT_REQ;
	m.from = 2;
	m.to = 1;
	m.term = tc_status(&c, 1).term + 1;
	CHECK_EQ_INT(mc_raft_step(tc_r(&c, 1), &m), MC_RAFT_OK);
	CHECK(tc_role(&c, 1) == MC_RAFT_FOLLOWER);
	tc_settle(&c);
	CHECK_EQ_INT(queued_heartbeats(&c, 1), 0);
	CHECK_EQ_INT(c.nodes[0].n_reads, 1);
	CHECK(c.nodes[0].n_reads == 1 && c.nodes[0].reads[0].failed);
	tc_free(&c);
}

/* R24: a new leader holds reads until it has committed an entry of its
 * own term. */
static void
test_read_waits_for_term_commit(void)
{
	tc_cluster	c;

	tc_init(&c, 3);
	for (int t = 0; t < 40 && tc_role(&c, 1) != MC_RAFT_LEADER; t++)
	{
		mc_raft_tick(tc_r(&c, 1));
		tc_settle(&c);
		/* deliver votes only: appends (the no-op) are held back */
		for (size_t k = 0; k < c.nq;)
			if (c.q[k].type != MC_RAFT_MSG_APPEND_REQ && c.q[k].type != MC_RAFT_MSG_APPEND_RESP)
			{
				tc_deliver_at(&c, k);
				tc_settle(&c);
				k = 0;
			}
			else
				k++;
	}
	CHECK_EQ_INT(tc_role(&c, 1), MC_RAFT_LEADER);
	tc_drop_all(&c);
	CHECK_EQ_INT(tc_status(&c, 1).commit, 0);
	CHECK_EQ_INT(mc_raft_read_index(tc_r(&c, 1), 5), MC_RAFT_OK);
	/* heartbeats are answered, but the no-op is not committed yet */
	for (int i = 0; i < 3; i++)
	{
		mc_raft_tick(tc_r(&c, 1));
		tc_settle(&c);
		tc_drop_type(&c, MC_RAFT_MSG_APPEND_REQ);
		tc_drop_type(&c, MC_RAFT_MSG_APPEND_RESP);
		for (size_t k = 0; k < c.nq;)
			if (c.q[k].type != MC_RAFT_MSG_APPEND_REQ)
			{
				tc_deliver_at(&c, k);
				tc_settle(&c);
				tc_drop_type(&c, MC_RAFT_MSG_APPEND_REQ);
				tc_drop_type(&c, MC_RAFT_MSG_APPEND_RESP);
				k = 0;
			}
			else
				k++;
	}
	CHECK_EQ_INT(c.nodes[0].n_reads, 0);
	/* let the no-op commit: now the read is served at its index */
	tc_tick_all(&c, 3);
	CHECK_EQ_INT(c.nodes[0].n_reads, 1);
	CHECK_EQ_INT(c.nodes[0].reads[0].index, 1);
	CHECK(!c.nodes[0].reads[0].failed);
	tc_free(&c);
}

/* R29: transfer to an up-to-date node is immediate; a lagging target is
 * caught up first; an unreachable target aborts after ET. */
static void
test_transfer(void)
{
	tc_cluster	c;

	tc_init(&c, 3);
	CHECK(tc_elect(&c, 1));
	tc_tick_all(&c, 1);
	CHECK_EQ_INT(mc_raft_transfer_leader(tc_r(&c, 1), 2), MC_RAFT_OK);
	tc_flush(&c);
	CHECK_EQ_INT(tc_role(&c, 2), MC_RAFT_LEADER);
	CHECK_EQ_INT(tc_status(&c, 1).leader, 2);
	CHECK_EQ_INT(tc_status(&c, 2).term, 2);

	/* lagging target: caught up first */
	c.cut[2][3] = true;
	for (int i = 0; i < 5; i++)
		tc_propose(&c, 2, (uint64_t) i, NULL);
	tc_flush(&c);
	CHECK(tc_status(&c, 3).last_index < tc_status(&c, 2).last_index);
	c.cut[2][3] = false;
	CHECK_EQ_INT(mc_raft_transfer_leader(tc_r(&c, 2), 3), MC_RAFT_OK);
	CHECK_EQ_INT(tc_propose(&c, 2, 99, NULL), MC_RAFT_ERR_DROPPED);
	tc_flush(&c);
	CHECK_EQ_INT(tc_role(&c, 3), MC_RAFT_LEADER);
	CHECK_EQ_INT(tc_status(&c, 3).last_index, tc_status(&c, 2).last_index);

	/* unreachable target: aborted after ET, leader keeps serving */
	tc_isolate(&c, 1, true);
	CHECK_EQ_INT(mc_raft_transfer_leader(tc_r(&c, 3), 1), MC_RAFT_OK);
	tc_tick_all(&c, 5);
	CHECK_EQ_INT(tc_propose(&c, 3, 100, NULL), MC_RAFT_ERR_DROPPED);
	tc_tick_all(&c, 6);
	CHECK_EQ_INT(tc_role(&c, 3), MC_RAFT_LEADER);
	CHECK_EQ_INT(tc_propose(&c, 3, 101, NULL), MC_RAFT_OK);
	CHECK_EQ_INT(mc_raft_transfer_leader(tc_r(&c, 2), 1), MC_RAFT_ERR_NOT_LEADER);
	CHECK_EQ_INT(mc_raft_transfer_leader(tc_r(&c, 3), 3), MC_RAFT_ERR_INVALID);
	tc_free(&c);
}

/* R31: client and request ids travel with entries, so a host drops a
 * resubmitted request and returns the first result. */
static void
test_request_ids(void)
{
	tc_cluster	c;
	uint64_t	i1,
				i2;
	int			applied_once = 0;
	uint64_t	first_index = 0;

	tc_init(&c, 3);
	CHECK(tc_elect(&c, 1));
	CHECK_EQ_INT(tc_propose(&c, 1, 555, &i1), MC_RAFT_OK);
	CHECK_EQ_INT(tc_propose(&c, 1, 555, &i2), MC_RAFT_OK);	/* retry */
	tc_flush(&c);
	tc_tick_all(&c, 1);
	for (int n = 0; n < 3; n++)
	{
		/* a host's dedup table: (client, request) -> first index */
		uint64_t	seen_req = 0,
					seen_idx = 0;
		int			effects = 0;

		for (size_t i = 0; i < c.nodes[n].n_applied; i++)
		{
			tc_applied *a = &c.nodes[n].applied[i];

			if (a->type != MC_RAFT_ENTRY_NORMAL)
				continue;
			CHECK_EQ_INT(a->client_id, 7);
			if (a->request_id == seen_req)
				continue;		/* duplicate: dropped, first result kept */
			seen_req = a->request_id;
			seen_idx = a->index;
			effects++;
		}
		CHECK_EQ_INT(effects, 1);
		CHECK_EQ_INT(seen_idx, i1);
		if (effects == 1)
			applied_once++;
		first_index = seen_idx;
	}
	CHECK_EQ_INT(applied_once, 3);
	CHECK_EQ_INT(first_index, i1);
	CHECK(i2 == i1 + 1);
	tc_free(&c);
}

/* The status views (SPEC raft_status / raft_progress). */
static void
test_status_views(void)
{
	tc_cluster	c;
	mc_raft_status st;
	mc_raft_progress_info pi[4];
	int			n;

	tc_init(&c, 3);
	CHECK(tc_elect(&c, 1));
	tc_propose(&c, 1, 1, NULL);
	tc_tick_all(&c, 2);
	st = tc_status(&c, 1);
	CHECK_EQ_INT(st.id, 1);
	CHECK_EQ_INT(st.role, MC_RAFT_LEADER);
	CHECK(st.is_voter && !st.is_learner);
	CHECK_EQ_INT(st.term, 1);
	CHECK_EQ_INT(st.vote, 1);
	CHECK_EQ_INT(st.leader, 1);
	CHECK_EQ_INT(st.commit, 2);
	CHECK_EQ_INT(st.applied, 2);
	CHECK_EQ_INT(st.last_index, 2);
	CHECK_EQ_INT(st.last_term, 1);
	CHECK_EQ_INT(st.snapshot_index, 0);
	CHECK_EQ_INT(st.conf.n_voters, 3);
	CHECK_EQ_INT(st.ticks_since_leader, 0);
	CHECK(strcmp(mc_raft_role_name(st.role), "leader") == 0);
	n = mc_raft_get_progress(tc_r(&c, 1), pi, 4);
	CHECK_EQ_INT(n, 2);
	for (int i = 0; i < n; i++)
	{
		CHECK(pi[i].id == 2 || pi[i].id == 3);
		CHECK_EQ_INT(pi[i].match, 2);
		CHECK_EQ_INT(pi[i].next, 3);
		CHECK_EQ_INT(pi[i].state, MC_RAFT_REPLICATE);
		CHECK(pi[i].ticks_since_ack <= 1);
	}
	CHECK_EQ_INT(mc_raft_get_progress(tc_r(&c, 2), pi, 4), 0);
	/* a follower cut off from the leader counts the ticks */
	tc_isolate(&c, 2, true);
	for (int t = 0; t < 5; t++)
		mc_raft_tick(tc_r(&c, 2));
	st = tc_status(&c, 2);
	CHECK_EQ_INT(st.ticks_since_leader, 5);
	CHECK_EQ_INT(st.leader, 1);
	tc_free(&c);
}

int
main(void)
{
	RUN(test_snapshot_catch_up);
	RUN(test_snapshot_matching_log_kept);
	RUN(test_restart_after_snapshot);
	RUN(test_learner);
	RUN(test_learner_snapshot);
	RUN(test_one_change_at_a_time);
	RUN(test_change_waits_for_term_commit);
	RUN(test_removal);
	RUN(test_read_index);
	RUN(test_reads_share_a_round);
	RUN(test_read_round_dropped_on_step_down);
	RUN(test_read_waits_for_term_commit);
	RUN(test_transfer);
	RUN(test_request_ids);
	RUN(test_status_views);
	return tu_finish("test_raft_cluster");
}
