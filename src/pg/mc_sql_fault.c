/*
 * mc_sql_fault.c — fault injection for tests: fault_isolate(int[]) adds
 * node ids to the blocked set in shared memory, fault_clear() empties it.
 * The gossip worker (and later the Raft worker) drop all traffic with
 * blocked nodes.  Both need mailcluster.enable_fault_injection and a
 * superuser.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"

#include "mc_guc.h"
#include "mc_shmem.h"

PG_FUNCTION_INFO_V1(mc_sql_fault_isolate);
PG_FUNCTION_INFO_V1(mc_sql_fault_clear);

/* ERROR unless fault injection is enabled and the caller is superuser. */
static void
require_fault_injection(const char *fn)
{
	mc_require_shmem();
	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be superuser to use %s", fn)));
	if (!mc_enable_fault_injection)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s requires mailcluster.enable_fault_injection", fn),
				 errhint("Fault injection is for tests: set mailcluster.enable_fault_injection = on and reload.")));
}

/* Wake the gossip worker so a change takes effect at once.  Lock held. */
static void
wake_gossip_locked(void)
{
	mc_shared->fault_generation++;
	mc_metric_set(MC_METRIC_FAULT_ISOLATED_NODES, (uint64) mc_shared->n_blocked);
	if (mc_shared->gossip_latch != NULL)
		SetLatch(mc_shared->gossip_latch);
}

/*
 * fault_isolate(node_ids int[]) — add every id (1..65535, not this node's)
 * to the blocked set.  All ids are checked before any is added.
 */
Datum
mc_sql_fault_isolate(PG_FUNCTION_ARGS)
{
	ArrayType  *arr;
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	require_fault_injection("fault_isolate()");
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("node_ids must not be NULL")));
	arr = PG_GETARG_ARRAYTYPE_P(0);
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("node_ids must be a one-dimensional array")));
	deconstruct_array(arr, INT4OID, sizeof(int32), true, TYPALIGN_INT, &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
	{
		int32		id;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("node_ids must not contain NULL")));
		id = DatumGetInt32(elems[i]);
		if (id < 1 || id > 65535)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("node id %d is out of range", id),
					 errdetail("Node ids are between 1 and 65535.")));
		if (id == mc_self_id())
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("cannot isolate node %d from itself", id)));
	}

	LWLockAcquire(mc_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < n; i++)
	{
		int32		id = DatumGetInt32(elems[i]);

		if (!mc_fault_is_blocked_locked(mc_shared, id))
		{
			mc_shared->fault_blocked[id >> 3] |= (uint8) (1 << (id & 7));
			mc_shared->n_blocked++;
		}
	}
	wake_gossip_locked();
	LWLockRelease(mc_shared->lock);
	PG_RETURN_VOID();
}

/* fault_clear() — empty the blocked set. */
Datum
mc_sql_fault_clear(PG_FUNCTION_ARGS)
{
	require_fault_injection("fault_clear()");
	LWLockAcquire(mc_shared->lock, LW_EXCLUSIVE);
	memset(mc_shared->fault_blocked, 0, sizeof(mc_shared->fault_blocked));
	mc_shared->n_blocked = 0;
	wake_gossip_locked();
	LWLockRelease(mc_shared->lock);
	PG_RETURN_VOID();
}
