/*
 * rpc_bootstrap.c — forming and growing the cluster from what gossip sees.
 *
 *  - A node without a cluster that sees bootstrap_expect non-replica nodes
 *    alive (itself included), of which it has the lowest id, waits two
 *    election timeouts without hearing of an existing cluster, then forms
 *    one: a fresh cluster id, the lowest bootstrap_expect ids as voters,
 *    persisted before anything is sent; it then sends BOOTSTRAP to the
 *    other voters, which adopt exactly that configuration.  Only the lowest
 *    id forms a cluster, so simultaneous starts form one cluster.
 *  - A leader sends CLUSTER to alive nodes outside its configuration; a
 *    node without a cluster answers with JOIN and the leader adds it as a
 *    learner.  The leader promotes caught-up non-replica learners while
 *    voters < max_voters.
 */
#include "postgres.h"

#include "utils/timestamp.h"

#include "logstore_sql.h"
#include "mc_shmem.h"
#include "raft_shmem.h"
#include "rpc_net.h"

static TimestampTz enough_since = 0;	/* saw enough candidates since */
static uint32 join_leader = 0;	/* a CLUSTER frame came from this leader */
static uint64 join_cluster = 0;
static TimestampTz last_member_tick = 0;
static TimestampTz formed_at = 0;
static uint32 join_target = 0;	/* leader we asked to join, until we are in */

/* Alive non-replica member ids as gossip sees them (self included). */
static int
candidate_ids(McRaftWorker *w, uint32 *ids, int max)
{
	int			n = 0;
	int			i;
	bool		self_seen = false;

	if (mc_shared == NULL)
		return 0;
	LWLockAcquire(mc_shared->lock, LW_SHARED);
	for (i = 0; i < mc_shared->n_members && n < max; i++)
	{
		McMemberSlot *m = &mc_shared->members[i];

		if (m->replica || !(m->state == MC_MEMBER_ALIVE || m->node_id == w->id))
			continue;
		if (m->node_id == w->id)
			self_seen = true;
		ids[n++] = m->node_id;
	}
	LWLockRelease(mc_shared->lock);
	if (!self_seen && !w->set.replica && n < max)
		ids[n++] = w->id;
	return n;
}

/* qsort comparator for node ids. */
static int
cmp_u32(const void *a, const void *b)
{
	uint32		x = *(const uint32 *) a,
				y = *(const uint32 *) b;

	return x < y ? -1 : x > y ? 1 : 0;
}

/* A fresh random cluster id (positive int64, never 0). */
static uint64
new_cluster_id(void)
{
	uint64		id = 0;

	while (id == 0)
	{
		if (!pg_strong_random(&id, sizeof(id)))
			elog(ERROR, "mailcluster: no random source for the cluster id");
		id &= PG_INT64_MAX;
	}
	return id;
}

/* Send BOOTSTRAP with our configuration to the other voters. */
static void
send_bootstrap(McRaftWorker *w)
{
	mc_raft_status st;
	uint8		buf[MC_RAFT_CONF_MAX_BYTES];
	int			len;
	uint32		i;

	mc_raft_get_status(w->core, &st);
	len = mc_raft_conf_encode(&st.conf, buf, sizeof(buf));
	if (len < 0)
		return;
	for (i = 0; i < st.conf.n_voters; i++)
		if (st.conf.voters[i] != w->id)
			mc_rpc_send_frame(w, st.conf.voters[i], MC_RPC_KIND_BOOTSTRAP, buf, len);
}

/* See rpc_net.h. */
void
mc_rpc_try_bootstrap(McRaftWorker *w)
{
	uint32		ids[MC_RAFT_MAX_MEMBERS * 4];
	int			n;
	TimestampTz now = GetCurrentTimestamp();

	if (w->core != NULL)
		return;
	if (join_leader != 0)
	{
		mc_raft_conf empty;

		/* an existing cluster invited us: become an (empty) member, ask to join */
		memset(&empty, 0, sizeof(empty));
		mc_raft_boot_create(w, join_cluster, &empty);
		ereport(LOG, (errmsg("mailcluster: joining cluster %016llx led by node %u",
							 (unsigned long long) join_cluster, join_leader)));
		{
			uint8		body[1] = {w->set.replica ? 1 : 0};

			mc_rpc_send_frame(w, join_leader, MC_RPC_KIND_JOIN, body, 1);
		}
		join_target = join_leader;
		join_leader = 0;
		return;
	}
	if (w->set.replica)
		return;
	n = candidate_ids(w, ids, lengthof(ids));
	if (n < w->set.bootstrap_expect || n < 1)
	{
		enough_since = 0;
		return;
	}
	qsort(ids, n, sizeof(uint32), cmp_u32);
	if (ids[0] != w->id)
	{
		enough_since = 0;
		return;
	}
	if (enough_since == 0)
	{
		enough_since = now;
		return;
	}
	if (!TimestampDifferenceExceeds(enough_since, now, 2 * w->set.election_timeout_ms))
		return;
	{
		mc_raft_conf conf;
		int			i;

		memset(&conf, 0, sizeof(conf));
		for (i = 0; i < w->set.bootstrap_expect && i < MC_RAFT_MAX_MEMBERS; i++)
			conf.voters[conf.n_voters++] = ids[i];
		mc_raft_boot_create(w, new_cluster_id(), &conf);
		formed_at = now;
		send_bootstrap(w);
	}
}

/* See rpc_net.h. */
void
mc_rpc_handle_control(McRaftWorker *w, uint32 from, uint8 kind, uint64 cid,
					  const uint8 *body, size_t len)
{
	switch (kind)
	{
		case MC_RPC_KIND_BOOTSTRAP:
			if (w->core == NULL && cid != 0)
			{
				mc_raft_conf conf;
				uint32		lowest = UINT32_MAX;
				uint32		i;

				if (mc_raft_conf_decode(body, len, &conf) != 0 ||
					!mc_raft_conf_is_voter(&conf, w->id))
					break;
				for (i = 0; i < conf.n_voters; i++)
					lowest = Min(lowest, conf.voters[i]);
				if (lowest != from)
					break;
				ereport(LOG, (errmsg("mailcluster: node %u formed cluster %016llx; joining as a voter",
									 from, (unsigned long long) cid)));
				mc_raft_boot_create(w, cid, &conf);
			}
			break;
		case MC_RPC_KIND_CLUSTER:
			if (w->core == NULL && cid != 0 && join_leader == 0)
			{
				join_leader = from;
				join_cluster = cid;
			}
			break;
		case MC_RPC_KIND_JOIN:
			if (w->core != NULL && cid == w->cluster_id)
			{
				mc_raft_status st;

				mc_raft_get_status(w->core, &st);
				if (st.role == MC_RAFT_LEADER &&
					!mc_raft_conf_is_voter(&st.conf, from) &&
					!mc_raft_conf_is_learner(&st.conf, from))
				{
					int			rc = mc_raft_propose_conf_change(w->core, MC_RAFT_CC_ADD_LEARNER,
																 from, NULL);

					ereport(LOG, (errmsg("mailcluster: node %u asks to join: adding it as a learner (%d)",
										 from, rc)));
				}
			}
			break;
		default:
			LWLockAcquire(McRaft->lock, LW_EXCLUSIVE);
			McRaft->n_msgs_dropped++;
			LWLockRelease(McRaft->lock);
			break;
	}
}

/* See rpc_net.h (called every loop; acts at most twice a second). */
void
mc_rpc_membership_tick(McRaftWorker *w)
{
	TimestampTz now = GetCurrentTimestamp();
	mc_raft_status st;
	mc_raft_progress_info prs[MC_RAFT_MAX_MEMBERS];
	int			nprs;
	uint32		ids[MC_RAFT_MAX_MEMBERS * 4];
	int			n,
				i;

	if (w->core == NULL || w->rpc == NULL ||
		!TimestampDifferenceExceeds(last_member_tick, now, 500))
		return;
	last_member_tick = now;
	mc_raft_get_status(w->core, &st);

	/* keep a connection to every member open: replies and failover need it */
	for (i = 0; i < (int) st.conf.n_voters; i++)
		mc_rpc_connect(w, st.conf.voters[i]);
	for (i = 0; i < (int) st.conf.n_learners; i++)
		mc_rpc_connect(w, st.conf.learners[i]);

	/* the first half minute after forming: make sure every voter got BOOTSTRAP */
	if (formed_at != 0 && TimestampDifferenceExceeds(formed_at, now, 30000))
		formed_at = 0;
	if (formed_at != 0)
		send_bootstrap(w);

	/* not yet in the configuration: keep asking the leader to add us */
	if (!mc_raft_conf_is_voter(&st.conf, w->id) && !mc_raft_conf_is_learner(&st.conf, w->id))
	{
		uint32		to = st.leader != 0 ? st.leader : join_target;
		uint8		body[1] = {w->set.replica ? 1 : 0};

		if (to != 0 && to != w->id)
			mc_rpc_send_frame(w, to, MC_RPC_KIND_JOIN, body, 1);
		return;
	}
	join_target = 0;

	if (st.role != MC_RAFT_LEADER)
		return;

	/* invite alive nodes outside the configuration */
	n = candidate_ids(w, ids, lengthof(ids));
	for (i = 0; i < n; i++)
		if (ids[i] != w->id && !mc_raft_conf_is_voter(&st.conf, ids[i]) &&
			!mc_raft_conf_is_learner(&st.conf, ids[i]))
			mc_rpc_send_frame(w, ids[i], MC_RPC_KIND_CLUSTER, NULL, 0);
	if (mc_shared != NULL)
	{
		/* replicas are not candidates but are invited too */
		uint32		reps[MC_RAFT_MAX_MEMBERS];
		int			nr = 0;

		LWLockAcquire(mc_shared->lock, LW_SHARED);
		for (i = 0; i < mc_shared->n_members && nr < MC_RAFT_MAX_MEMBERS; i++)
			if (mc_shared->members[i].replica && mc_shared->members[i].state == MC_MEMBER_ALIVE)
				reps[nr++] = mc_shared->members[i].node_id;
		LWLockRelease(mc_shared->lock);
		for (i = 0; i < nr; i++)
			if (!mc_raft_conf_is_learner(&st.conf, reps[i]) && !mc_raft_conf_is_voter(&st.conf, reps[i]))
				mc_rpc_send_frame(w, reps[i], MC_RPC_KIND_CLUSTER, NULL, 0);
	}

	/* promote one caught-up, non-replica learner while voters < max_voters */
	if ((int) st.conf.n_voters >= w->set.max_voters)
		return;
	nprs = Min(mc_raft_get_progress(w->core, prs, MC_RAFT_MAX_MEMBERS), MC_RAFT_MAX_MEMBERS);
	for (i = 0; i < nprs; i++)
	{
		bool		alive = false,
					replica = true;

		if (!prs[i].learner || prs[i].match < st.commit)
			continue;
		if (!mc_rpc_member_info(prs[i].id, NULL, 0, NULL, &alive, &replica) || replica || !alive)
			continue;
		if (mc_raft_propose_conf_change(w->core, MC_RAFT_CC_PROMOTE, prs[i].id, NULL) == MC_RAFT_OK)
			ereport(LOG, (errmsg("mailcluster: promoting learner %u to voter", prs[i].id)));
		break;
	}
}
