/*
 * raft_sql.c — SQL functions over the Raft state: raft_status,
 * raft_progress, Raft metrics, add_node, remove_node, transfer_leadership,
 * snapshot, read_barrier, wait_for_index.  A change proposed on a follower
 * is forwarded; its index is then read back once this node sees it.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "pgstat.h"
#include "storage/condition_variable.h"
#include "utils/timestamp.h"

#include "mc_guc.h"
#include "raft_call.h"
#include "raft_pg.h"
#include "raft_shmem.h"

PG_FUNCTION_INFO_V1(mc_raft_status_sql);
PG_FUNCTION_INFO_V1(mc_raft_progress_sql);
PG_FUNCTION_INFO_V1(mc_raft_metrics_sql);
PG_FUNCTION_INFO_V1(mc_raft_add_node);
PG_FUNCTION_INFO_V1(mc_raft_remove_node);
PG_FUNCTION_INFO_V1(mc_raft_transfer_leadership);
PG_FUNCTION_INFO_V1(mc_raft_snapshot_sql);
PG_FUNCTION_INFO_V1(mc_raft_read_barrier);
PG_FUNCTION_INFO_V1(mc_raft_wait_for_index);

/* ERROR unless the library was preloaded. */
static void
require_shmem(void)
{
	if (McRaft == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("mailcluster is not loaded through shared_preload_libraries"),
				 errhint("Add 'mailcluster' to shared_preload_libraries and restart the server.")));
}

/* int[] of n ids. */
static Datum
id_array(const uint32 *ids, uint32 n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));
	uint32		i;

	for (i = 0; i < n; i++)
		d[i] = Int32GetDatum((int32) ids[i]);
	return PointerGetDatum(construct_array(d, n, INT4OID, 4, true, TYPALIGN_INT));
}

/* Role name for raft_status.role. */
static const char *
role_name(const mc_raft_status *st)
{
	if (st->role == MC_RAFT_LEADER)
		return "leader";
	if (st->role == MC_RAFT_CANDIDATE || st->role == MC_RAFT_PRE_CANDIDATE)
		return "candidate";
	if (st->is_learner)
		return "learner";
	if (st->is_voter)
		return "follower";
	return "none";
}

/* The one row of mailcluster.raft_status. */
Datum
mc_raft_status_sql(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[14];
	bool		nulls[14] = {0};
	mc_raft_status st;
	uint64		cluster_id;
	uint64		applied;
	uint32		node_id;
	bool		ready;
	TimestampTz contact;

	require_shmem();
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "mailcluster: _raft_status must return a record");
	LWLockAcquire(McRaft->lock, LW_SHARED);
	st = McRaft->status;
	cluster_id = McRaft->cluster_id;
	applied = McRaft->applied_index;
	node_id = McRaft->node_id;
	ready = McRaft->raft_ready;
	contact = McRaft->last_leader_contact;
	LWLockRelease(McRaft->lock);

	values[0] = Int32GetDatum((int32) node_id);
	if (cluster_id != 0)
		values[1] = CStringGetTextDatum(psprintf("%016llx", (unsigned long long) cluster_id));
	else
		nulls[1] = true;
	values[2] = CStringGetTextDatum(ready ? role_name(&st) : "none");
	values[3] = Int64GetDatum((int64) st.term);
	values[4] = Int32GetDatum((int32) st.leader);
	nulls[4] = (st.leader == 0);
	values[5] = Int32GetDatum((int32) st.vote);
	nulls[5] = (st.vote == 0);
	values[6] = Int64GetDatum((int64) st.commit);
	values[7] = Int64GetDatum((int64) applied);
	values[8] = Int64GetDatum((int64) st.last_index);
	values[9] = Int64GetDatum((int64) st.last_term);
	values[10] = Int64GetDatum((int64) st.snapshot_index);
	values[11] = id_array(st.conf.voters, st.conf.n_voters);
	values[12] = id_array(st.conf.learners, st.conf.n_learners);
	values[13] = TimestampTzGetDatum(contact);
	nulls[13] = (contact == 0);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * Rows of mailcluster.raft_progress: only on the leader, one per known node
 * including the leader itself (SPEC §3: views have a row for this node
 * unless said otherwise), whose row is its own log: match = its last index,
 * state replicate, last_ack now, lag 0.
 */
Datum
mc_raft_progress_sql(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	McRaftProgressRow rows[MC_RAFT_MAX_MEMBERS + 1];
	int			n;
	int			i;
	uint64		last;
	bool		leader;
	static const char *const names[] = {"probe", "replicate", "snapshot"};

	require_shmem();
	InitMaterializedSRF(fcinfo, 0);
	LWLockAcquire(McRaft->lock, LW_SHARED);
	leader = McRaft->raft_ready && McRaft->status.role == MC_RAFT_LEADER;
	n = leader ? McRaft->n_progress : 0;
	memcpy(rows, McRaft->progress, sizeof(McRaftProgressRow) * n);
	last = McRaft->status.last_index;
	if (leader)
	{
		McRaftProgressRow *self = &rows[n++];

		memset(self, 0, sizeof(*self));
		self->id = McRaft->node_id;
		self->match = last;
		self->next = last + 1;
		self->state = MC_RAFT_REPLICATE;
		self->last_ack = GetCurrentTimestamp();
	}
	LWLockRelease(McRaft->lock);

	for (i = 0; i < n; i++)
	{
		Datum		values[6];
		bool		nulls[6] = {0};

		values[0] = Int32GetDatum((int32) rows[i].id);
		values[1] = Int64GetDatum((int64) rows[i].match);
		values[2] = Int64GetDatum((int64) rows[i].next);
		values[3] = CStringGetTextDatum(rows[i].state < 3 ? names[rows[i].state] : "probe");
		values[4] = TimestampTzGetDatum(rows[i].last_ack);
		values[5] = Int64GetDatum(last > rows[i].match ? (int64) (last - rows[i].match) : 0);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* Raft counters and gauges as (name, value). */
Datum
mc_raft_metrics_sql(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	struct
	{
		const char *name;
		double		v;
	}			m[24];
	int			n = 0;
	int			i;

	require_shmem();
	InitMaterializedSRF(fcinfo, 0);
	LWLockAcquire(McRaft->lock, LW_SHARED);
	m[n].name = "raft_term"; m[n++].v = (double) McRaft->status.term;
	m[n].name = "raft_is_leader"; m[n++].v = McRaft->status.role == MC_RAFT_LEADER ? 1 : 0;
	m[n].name = "raft_commit_index"; m[n++].v = (double) McRaft->status.commit;
	m[n].name = "raft_applied_index"; m[n++].v = (double) McRaft->applied_index;
	m[n].name = "raft_apply_lag"; m[n++].v = McRaft->commit_for_apply > McRaft->applied_index ?
		(double) (McRaft->commit_for_apply - McRaft->applied_index) : 0;
	m[n].name = "raft_last_log_index"; m[n++].v = (double) McRaft->status.last_index;
	m[n].name = "raft_proposals_total"; m[n++].v = (double) McRaft->n_proposals;
	m[n].name = "raft_read_index_total"; m[n++].v = (double) McRaft->n_read_index;
	m[n].name = "raft_commits_total"; m[n++].v = (double) McRaft->n_commits;
	m[n].name = "raft_applied_total"; m[n++].v = (double) McRaft->n_applied;
	m[n].name = "raft_applied_ahead_total"; m[n++].v = (double) McRaft->n_applied_ahead;
	m[n].name = "raft_apply_ahead_abandoned_total"; m[n++].v = (double) McRaft->n_ahead_abandoned;
	m[n].name = "raft_elections_total"; m[n++].v = (double) McRaft->n_elections;
	m[n].name = "raft_leader_changes_total"; m[n++].v = (double) McRaft->n_leader_changes;
	m[n].name = "raft_messages_sent_total"; m[n++].v = (double) McRaft->n_msgs_sent;
	m[n].name = "raft_messages_received_total"; m[n++].v = (double) McRaft->n_msgs_recv;
	m[n].name = "raft_messages_dropped_total"; m[n++].v = (double) McRaft->n_msgs_dropped;
	m[n].name = "raft_log_persists_total"; m[n++].v = (double) McRaft->n_persist;
	m[n].name = "raft_snapshot_index"; m[n++].v = (double) McRaft->snapshot_index;
	m[n].name = "raft_snapshots_taken_total"; m[n++].v = (double) McRaft->n_snapshots_taken;
	m[n].name = "raft_snapshots_installed_total"; m[n++].v = (double) McRaft->n_snapshots_installed;
	m[n].name = "raft_snapshot_chunks_sent_total"; m[n++].v = (double) McRaft->n_snapshot_chunks_sent;
	LWLockRelease(McRaft->lock);
	for (i = 0; i < n; i++)
	{
		Datum		values[2];
		bool		nulls[2] = {0};

		values[0] = CStringGetTextDatum(m[i].name);
		values[1] = Float8GetDatum(m[i].v);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* ERROR unless node_id is a valid Raft id. */
static uint32
check_node_id(int32 id)
{
	if (id < 1 || id > 65535)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("mailcluster: node_id must be between 1 and 65535, not %d", id)));
	return (uint32) id;
}

/* Does this node's configuration show the change op(node) as done? */
static bool
change_visible(uint8 op, uint32 node)
{
	mc_raft_conf c;

	LWLockAcquire(McRaft->lock, LW_SHARED);
	c = McRaft->status.conf;
	LWLockRelease(McRaft->lock);
	switch (op)
	{
		case MC_RAFT_CC_ADD_VOTER:
		case MC_RAFT_CC_PROMOTE:
			return mc_raft_conf_is_voter(&c, node);
		case MC_RAFT_CC_ADD_LEARNER:
			return mc_raft_conf_is_learner(&c, node);
		default:
			return !mc_raft_conf_is_voter(&c, node) && !mc_raft_conf_is_learner(&c, node);
	}
}

/*
 * A change proposed on a follower was forwarded: its index is not known
 * here.  Wait until this node's configuration shows it, then return the
 * index of the newest configuration entry in the log (changes go one at a
 * time, so that is this one or a later one).
 */
static uint64
wait_forwarded_change(uint8 op, uint32 node, int timeout_ms, const char *what)
{
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
	uint64		idx = 0;
	bool		isnull;

	while (!change_visible(op, node))
	{
		if (GetCurrentTimestamp() >= deadline)
			ereport(ERROR,
					(errcode(ERRCODE_MC_COMMIT_TIMEOUT),
					 errmsg("mailcluster: %s was forwarded to the leader but not seen committed within mailcluster.raft_commit_timeout", what),
					 errdetail("Its outcome is unknown; check mailcluster.raft_status.")));
		pg_usleep(10000L);
		CHECK_FOR_INTERRUPTS();
	}
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "mailcluster: SPI_connect failed");
	if (SPI_execute("SELECT greatest((SELECT max(idx) FROM mailcluster._raft_log WHERE type = 2),"
					" (SELECT snap_index FROM mailcluster._raft_state))", false, 1) == SPI_OK_SELECT &&
		SPI_processed == 1)
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			idx = (uint64) DatumGetInt64(d);
	}
	SPI_finish();
	return idx;
}

/* Propose a membership change and wait until it is applied locally. */
static int64
conf_change(uint8 op, uint32 node, const char *what)
{
	McRaftCallResult res;
	int			timeout_ms = mc_raft_commit_timeout();

	if (!mc_raft_call(MC_REQ_CONF_CHANGE, NULL, 0, node, op, timeout_ms, &res))
		ereport(ERROR,
				(errcode(ERRCODE_MC_COMMIT_TIMEOUT),
				 errmsg("mailcluster: %s was not accepted within mailcluster.raft_commit_timeout", what)));
	if (res.err != MC_RAFT_OK)
		mc_raft_raise(res.err, what);
	if (res.index == 0)
	{
		/*
		 * A node removing itself may never receive the entry that removes
		 * it (the leader stops replicating to it): the change was handed to
		 * the leader, its index is unknown here.
		 */
		if (op == MC_RAFT_CC_REMOVE && node == McRaft->node_id)
			return 0;
		res.index = wait_forwarded_change(op, node, timeout_ms, what);
	}
	if (!mc_raft_wait_applied(res.index, timeout_ms))
		ereport(ERROR,
				(errcode(ERRCODE_MC_COMMIT_TIMEOUT),
				 errmsg("mailcluster: %s (entry %llu) was not committed within mailcluster.raft_commit_timeout",
						what, (unsigned long long) res.index),
				 errdetail("Its outcome is unknown; check mailcluster.raft_status.")));
	return (int64) res.index;
}

/* ERROR when argument i (named name) is NULL: every argument is required. */
static void
require_arg(FunctionCallInfo fcinfo, int i, const char *name)
{
	if (PG_ARGISNULL(i))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", name)));
}

/*
 * Refuse to make node a voter when the voters alive in this node's gossip
 * view, node included if it is alive there, would be fewer than a majority
 * of the voters it would make: the configuration entry itself could never
 * commit, and the cluster would take no write until that node answers.
 * Seen: add_node(2) on a standalone node (no node 2 can ever come) left
 * it a candidate of {1, 2} for good, restarts included.  (As etcd's
 * strict reconfiguration check.)  A node already a voter passes.
 */
static void
check_voter_add_keeps_majority(uint32 node)
{
	Oid			types[1] = {INT4OID};
	Datum		values[1] = {Int32GetDatum((int32) node)};
	bool		isnull;
	int64		voters = 0,
				live = 0;
	bool		already = false,
				alive = false;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "mailcluster: SPI_connect failed");
	if (SPI_execute_with_args(
			"SELECT cardinality(s.voters), $1 = ANY (s.voters),"
			"       (SELECT count(*) FROM mailcluster.members m"
			"         WHERE m.node_id = ANY (s.voters) AND (m.is_self OR m.state = 'alive')),"
			"       EXISTS (SELECT 1 FROM mailcluster.members m WHERE m.node_id = $1 AND m.state = 'alive')"
			"  FROM mailcluster.raft_status s",
			1, types, values, NULL, true, 1) == SPI_OK_SELECT && SPI_processed == 1)
	{
		HeapTuple	t = SPI_tuptable->vals[0];
		TupleDesc	d = SPI_tuptable->tupdesc;
		Datum		v;

		v = SPI_getbinval(t, d, 1, &isnull);
		voters = isnull ? 0 : DatumGetInt32(v);
		v = SPI_getbinval(t, d, 2, &isnull);
		already = !isnull && DatumGetBool(v);
		v = SPI_getbinval(t, d, 3, &isnull);
		live = isnull ? 0 : DatumGetInt64(v);
		v = SPI_getbinval(t, d, 4, &isnull);
		alive = !isnull && DatumGetBool(v);
	}
	SPI_finish();
	if (already || voters == 0)
		return;					/* no configuration known here: the core decides */
	if (live + (alive ? 1 : 0) < (voters + 1) / 2 + 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("mailcluster: adding node %u as a voter would leave the cluster without a majority", node),
				 errdetail("%lld of the %lld voters it would have are alive in gossip here; a majority is %lld.",
						   (long long) (live + (alive ? 1 : 0)), (long long) (voters + 1),
						   (long long) ((voters + 1) / 2 + 1)),
				 errhint(mc_clustered() ?
						 "Start node %u first (a node gossip finds joins as a learner by itself), or add it with voter => false." :
						 "This node runs standalone (mailcluster.bind_addr or the key unset): no other node can reach it.",
						 node)));
}

/* add_node(node_id int, voter bool) RETURNS bigint */
Datum
mc_raft_add_node(PG_FUNCTION_ARGS)
{
	uint32		node;
	bool		voter;

	require_arg(fcinfo, 0, "node_id");
	require_arg(fcinfo, 1, "voter");
	node = check_node_id(PG_GETARG_INT32(0));
	voter = PG_GETARG_BOOL(1);
	if (voter)
		check_voter_add_keeps_majority(node);

	PG_RETURN_INT64(conf_change(voter ? MC_RAFT_CC_ADD_VOTER : MC_RAFT_CC_ADD_LEARNER,
								node, "adding the node"));
}

/* remove_node(node_id int) RETURNS bigint */
Datum
mc_raft_remove_node(PG_FUNCTION_ARGS)
{
	uint32		node;

	require_arg(fcinfo, 0, "node_id");
	node = check_node_id(PG_GETARG_INT32(0));

	PG_RETURN_INT64(conf_change(MC_RAFT_CC_REMOVE, node, "removing the node"));
}

/* transfer_leadership(node_id int DEFAULT NULL) RETURNS void */
Datum
mc_raft_transfer_leadership(PG_FUNCTION_ARGS)
{
	uint32		node = PG_ARGISNULL(0) ? 0 : check_node_id(PG_GETARG_INT32(0));
	McRaftCallResult res;

	if (!mc_raft_call(MC_REQ_TRANSFER, NULL, 0, node, 0, mc_raft_commit_timeout(), &res))
		ereport(ERROR,
				(errcode(ERRCODE_MC_COMMIT_TIMEOUT),
				 errmsg("mailcluster: the transfer request was not taken in time")));
	if (res.err == MC_RAFT_ERR_NOT_LEADER)
		ereport(ERROR,
				(errcode(ERRCODE_MC_NOT_LEADER),
				 errmsg("mailcluster: only the leader can transfer leadership"),
				 errhint("Call transfer_leadership() on node %u.", mc_raft_shared_leader())));
	if (res.err != MC_RAFT_OK)
		mc_raft_raise(res.err, "the leadership transfer");
	PG_RETURN_VOID();
}

/*
 * snapshot() RETURNS bigint: ask the apply worker for a snapshot at its
 * applied index and wait (up to 10 x raft_commit_timeout) until the raft
 * worker has compacted the log up to it.
 */
Datum
mc_raft_snapshot_sql(PG_FUNCTION_ARGS)
{
	uint64		target;
	uint64		done = 0;
	Latch	   *apply_latch;
	TimestampTz deadline;

	require_shmem();
	LWLockAcquire(McRaft->lock, LW_EXCLUSIVE);
	target = McRaft->applied_index;
	McRaft->snapshot_requested = true;
	apply_latch = McRaft->apply_latch;
	LWLockRelease(McRaft->lock);
	if (apply_latch == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_MC_NO_LEADER),
				 errmsg("mailcluster: the apply worker is not running")));
	SetLatch(apply_latch);
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 10 * mc_raft_commit_timeout());
	ConditionVariablePrepareToSleep(&McRaft->snapshot_cv);
	for (;;)
	{
		LWLockAcquire(McRaft->lock, LW_SHARED);
		done = McRaft->snapshot_index;
		LWLockRelease(McRaft->lock);
		if (done >= target || GetCurrentTimestamp() >= deadline)
			break;
		(void) ConditionVariableTimedSleep(&McRaft->snapshot_cv, 100, PG_WAIT_EXTENSION);
	}
	ConditionVariableCancelSleep();
	if (done < target)
		ereport(ERROR,
				(errcode(ERRCODE_MC_COMMIT_TIMEOUT),
				 errmsg("mailcluster: no snapshot at index %llu was completed in time",
						(unsigned long long) target)));
	PG_RETURN_INT64((int64) done);
}

/* read_barrier(timeout_ms int) RETURNS bigint */
Datum
mc_raft_read_barrier(PG_FUNCTION_ARGS)
{
	int			timeout_ms = PG_ARGISNULL(0) ? mc_raft_commit_timeout() : PG_GETARG_INT32(0);
	McRaftCallResult res;

	if (timeout_ms < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("mailcluster: timeout_ms must not be negative")));
	if (!mc_raft_call(MC_REQ_READ_INDEX, NULL, 0, 0, 0, timeout_ms, &res))
		ereport(ERROR,
				(errcode(ERRCODE_MC_COMMIT_TIMEOUT),
				 errmsg("mailcluster: no read index was confirmed within %d ms", timeout_ms)));
	if (res.err != MC_RAFT_OK)
		mc_raft_raise(res.err, "the read barrier");
	if (!mc_raft_wait_applied(res.index, timeout_ms))
		ereport(ERROR,
				(errcode(ERRCODE_MC_COMMIT_TIMEOUT),
				 errmsg("mailcluster: read index %llu was not applied locally within %d ms",
						(unsigned long long) res.index, timeout_ms)));
	PG_RETURN_INT64((int64) res.index);
}

/* wait_for_index(idx bigint, timeout_ms int) RETURNS bool */
Datum
mc_raft_wait_for_index(PG_FUNCTION_ARGS)
{
	int64		idx;
	int			timeout_ms = PG_ARGISNULL(1) ? -1 : PG_GETARG_INT32(1);

	require_shmem();
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("mailcluster: idx must not be NULL")));
	idx = PG_GETARG_INT64(0);
	if (idx < 0 || (!PG_ARGISNULL(1) && timeout_ms < 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("mailcluster: idx and timeout_ms must not be negative")));
	PG_RETURN_BOOL(mc_raft_wait_applied((uint64) idx, timeout_ms));
}
