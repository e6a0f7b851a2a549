/*
 * mc_sql_cluster.c — SQL entry points describing the cluster as this node
 * sees it: node_id(), leader(), is_leader() and the rows behind the
 * mailcluster.members view.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "postmaster/postmaster.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "mc_guc.h"
#include "mc_raft_link.h"
#include "mc_roles.h"
#include "mc_shmem.h"

PG_FUNCTION_INFO_V1(mc_sql_node_id);
PG_FUNCTION_INFO_V1(mc_sql_leader);
PG_FUNCTION_INFO_V1(mc_sql_is_leader);
PG_FUNCTION_INFO_V1(mc_sql_members);

#define MEMBERS_COLS 14

static const char *const state_names[] = {"alive", "suspect", "dead", "left"};

/*
 * node_id() — this node's id: mailcluster.node_id, or 1 for a standalone
 * node left at 0 (the id of its one-node cluster).
 */
Datum
mc_sql_node_id(PG_FUNCTION_ARGS)
{
	mc_require_shmem();
	PG_RETURN_INT32(mc_self_id());
}

/* leader() — the leader's node id, NULL while no leader is known. */
Datum
mc_sql_leader(PG_FUNCTION_ARGS)
{
	int			leader;

	mc_require_shmem();
	leader = mc_current_leader();
	if (leader == 0)
		PG_RETURN_NULL();
	PG_RETURN_INT32(leader);
}

/* is_leader() — true when this node is the leader it knows of. */
Datum
mc_sql_is_leader(PG_FUNCTION_ARGS)
{
	int			leader;

	mc_require_shmem();
	leader = mc_current_leader();
	PG_RETURN_BOOL(leader != 0 && leader == mc_self_id());
}

/* A text[] of the role names whose bits are set in mask. */
static Datum
roles_array(uint32 mask)
{
	Datum		elems[MC_NUM_ROLES];
	int			n = 0;

	for (int r = 0; r < MC_NUM_ROLES; r++)
		if (mask & ((uint32) 1 << r))
			elems[n++] = CStringGetTextDatum(mc_role_names[r]);
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * The row for this node when the gossip worker has published nothing yet
 * (always the case standalone).
 */
static void
self_slot(McMemberSlot *m)
{
	const char *addr = mc_effective_advertise_addr();

	memset(m, 0, sizeof(*m));
	m->node_id = (uint16) mc_self_id();
	m->is_self = true;
	m->replica = mc_replica;
	m->state = MC_MEMBER_ALIVE;
	strlcpy(m->addr, addr, sizeof(m->addr));
	m->gossip_port = (uint16) mc_bind_port;
	m->rpc_port = (uint16) mc_rpc_port;
	m->sql_port = (uint16) PostPortNumber;
	m->roles = mc_roles_configured_for(mc_self_id());
	m->last_seen = GetCurrentTimestamp();
}

/*
 * members() — one row per known member (self included): the worker's last
 * published view, copied under the lock, then turned into tuples.
 */
Datum
mc_sql_members(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	McMemberSlot *rows;
	int			n;

	mc_require_shmem();
	InitMaterializedSRF(fcinfo, 0);

	rows = palloc(sizeof(McMemberSlot) * MC_MAX_MEMBERS);
	LWLockAcquire(mc_shared->lock, LW_SHARED);
	n = mc_shared->n_members;
	memcpy(rows, mc_shared->members, sizeof(McMemberSlot) * n);
	LWLockRelease(mc_shared->lock);

	if (n == 0)
	{
		self_slot(&rows[0]);
		n = 1;
	}

	for (int i = 0; i < n; i++)
	{
		McMemberSlot *m = &rows[i];
		Datum		values[MEMBERS_COLS];
		bool		nulls[MEMBERS_COLS];

		memset(nulls, 0, sizeof(nulls));
		/* our own settings are fresher than gossip's copy */
		if (m->is_self)
			m->roles = mc_roles_configured_for(mc_self_id());

		values[0] = Int32GetDatum(m->node_id);
		values[1] = BoolGetDatum(m->is_self);
		if (m->addr[0])
			values[2] = CStringGetTextDatum(m->addr);
		else
			nulls[2] = true;
		values[3] = Int32GetDatum(m->gossip_port);
		values[4] = Int32GetDatum(m->rpc_port);
		if (m->sql_port)
			values[5] = Int32GetDatum(m->sql_port);
		else
			nulls[5] = true;
		values[6] = CStringGetTextDatum(state_names[m->state <= MC_MEMBER_LEFT ? m->state : MC_MEMBER_DEAD]);
		values[7] = Int64GetDatum((int64) m->incarnation);
		values[8] = Float8GetDatum(m->phi);
		if (m->last_seen != 0)
			values[9] = TimestampTzGetDatum(m->last_seen);
		else
			nulls[9] = true;
		/* Raft's own view of roles and voters (none/false without Raft) */
		values[10] = CStringGetTextDatum(mc_raft_link_role_of(m->node_id));
		values[11] = BoolGetDatum(mc_raft_link_is_voter(m->node_id));
		values[12] = BoolGetDatum(m->replica);
		values[13] = roles_array(m->roles);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	pfree(rows);
	return (Datum) 0;
}
