/*
 * raft_call.c — backend side of the Raft request queue (see raft_call.h):
 * one slot per backend in McRaftShared, the raft worker woken through its
 * latch, replies awaited on the backend's own latch (set by whoever
 * completes the slot), applied indexes on a condition variable.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "pgstat.h"
#include "storage/condition_variable.h"
#include "storage/dsm.h"
#include "utils/timestamp.h"

#include "mc_shmem.h"
#include "mc_guc.h"
#include "raft_call.h"
#include "raft_settings.h"
#include "raft_shmem.h"

/* raft_commit_timeout in ms, at least 1. */
int
mc_raft_commit_timeout(void)
{
	return Max(1, mc_raft_commit_timeout_ms);	/* the GUC's variable: no lookup per write */
}

/* ERROR unless the Raft shared state exists and its worker runs. */
static void
require_worker(void)
{
	bool		running;

	if (McRaft == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("mailcluster is not loaded through shared_preload_libraries"),
				 errhint("Add 'mailcluster' to shared_preload_libraries and restart the server.")));
	LWLockAcquire(McRaft->lock, LW_SHARED);
	running = McRaft->raft_latch != NULL && McRaft->raft_ready;
	LWLockRelease(McRaft->lock);
	if (!running)
		ereport(ERROR,
				(errcode(ERRCODE_MC_NO_LEADER),
				 errmsg("mailcluster: the Raft node is not running yet"),
				 errdetail("The \"mailcluster raft\" worker has not loaded its state or this node is not part of a cluster yet."),
				 errhint("Retry in a moment; check the server log and mailcluster.raft_status.")));
}

/* Milliseconds left until deadline (0 when past). */
static long
ms_left(TimestampTz deadline)
{
	TimestampTz now = GetCurrentTimestamp();

	return now >= deadline ? 0 : (long) ((deadline - now + 999) / 1000);
}

/*
 * Put the request in this backend's slot, wake the worker, wait for DONE.
 * Big commands go through a DSM segment this function creates and detaches.
 */
bool
mc_raft_call(int kind, const char *data, uint32 len, uint32 arg_node, uint8 arg_op,
			 int timeout_ms, McRaftCallResult *out)
{
	McRaftSlot *s;
	dsm_segment *seg = NULL;
	Latch	   *worker;
	TimestampTz deadline;
	bool		done = false;

	require_worker();
	s = mc_raft_my_slot();
	if (s == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("mailcluster: this process cannot submit Raft requests")));
	memset(out, 0, sizeof(*out));

	if (len > MC_RAFT_INLINE_BYTES)
	{
		seg = dsm_create(len, 0);
		memcpy(dsm_segment_address(seg), data, len);
	}

	LWLockAcquire(McRaft->lock, LW_EXCLUSIVE);
	s->kind = kind;
	s->request_id = McRaft->next_request_seq++;
	s->arg_node = arg_node;
	s->arg_op = arg_op;
	s->held = false;
	s->len = len;
	s->dsm = seg ? dsm_segment_handle(seg) : DSM_HANDLE_INVALID;
	if (seg == NULL && len > 0)
		memcpy(s->data, data, len);
	s->err = 0;
	s->index = 0;
	s->applied = false;
	s->reply_valid = false;
	s->reply_len = 0;
	s->owner = MyLatch;
	s->state = MC_SLOT_PENDING;
	worker = McRaft->raft_latch;
	LWLockRelease(McRaft->lock);
	if (worker)
		SetLatch(worker);

	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
	PG_TRY();
	{
		for (;;)
		{
			long		left;

			ResetLatch(MyLatch);
			LWLockAcquire(McRaft->lock, LW_SHARED);
			done = (s->state == MC_SLOT_DONE);
			LWLockRelease(McRaft->lock);
			if (done)
				break;
			left = ms_left(deadline);
			if (left <= 0)
				break;
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 left, PG_WAIT_EXTENSION);
			CHECK_FOR_INTERRUPTS();
		}
	}
	PG_CATCH();
	{
		/* cancelled: a request the worker has not taken yet is withdrawn */
		LWLockAcquire(McRaft->lock, LW_EXCLUSIVE);
		s->state = MC_SLOT_FREE;
		s->dsm = DSM_HANDLE_INVALID;
		s->owner = NULL;
		LWLockRelease(McRaft->lock);
		PG_RE_THROW();
	}
	PG_END_TRY();

	LWLockAcquire(McRaft->lock, LW_EXCLUSIVE);
	done = (s->state == MC_SLOT_DONE);
	s->owner = NULL;
	if (done)
	{
		out->err = s->err;
		out->index = s->index;
		out->reply_valid = s->reply_valid;
		if (s->reply_valid)
			out->reply = pnstrdup(s->reply, s->reply_len);
	}
	s->state = MC_SLOT_FREE;
	s->dsm = DSM_HANDLE_INVALID;
	LWLockRelease(McRaft->lock);
	if (seg)
		dsm_detach(seg);
	return done;
}

/*
 * A follower's apply worker may be gathering entries into a batch
 * (apply_worker.c): ask it to apply up to idx now.
 */
static void
ask_apply(uint64 idx)
{
	Latch	   *apply_latch;

	LWLockAcquire(McRaft->lock, LW_EXCLUSIVE);
	if (McRaft->apply_wanted < idx)
		McRaft->apply_wanted = idx;
	apply_latch = McRaft->apply_latch;
	LWLockRelease(McRaft->lock);
	if (apply_latch)
		SetLatch(apply_latch);
}

/* Wait on applied_cv until applied_index >= idx. */
bool
mc_raft_wait_applied(uint64 idx, int timeout_ms)
{
	TimestampTz deadline = timeout_ms >= 0 ?
		TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms) : 0;
	bool		ok = false;
	bool		asked = false;

	if (McRaft == NULL)
		return false;
	ConditionVariablePrepareToSleep(&McRaft->applied_cv);
	for (;;)
	{
		long		left = 60000;

		LWLockAcquire(McRaft->lock, LW_SHARED);
		ok = McRaft->applied_index >= idx;
		LWLockRelease(McRaft->lock);
		if (ok)
			break;
		if (!asked)
		{
			ask_apply(idx);
			asked = true;
		}
		if (timeout_ms >= 0)
		{
			left = ms_left(deadline);
			if (left <= 0)
				break;
		}
		(void) ConditionVariableTimedSleep(&McRaft->applied_cv, left, PG_WAIT_EXTENSION);
		CHECK_FOR_INTERRUPTS();
	}
	ConditionVariableCancelSleep();
	return ok;
}

/* See raft_call.h. */
void
mc_raft_raise_for(int err, const char *what, const char *rid)
{
	switch (err)
	{
		case MC_RAFT_ERR_NOT_LEADER:
		case MC_RAFT_ERR_DROPPED:
			ereport(ERROR,
					(errcode(ERRCODE_MC_NO_LEADER),
					 errmsg("mailcluster: no Raft leader is reachable for %s", what),
					 errdetail(err == MC_RAFT_ERR_DROPPED ?
							   "A leadership transfer is under way or this node was removed." :
							   "An election is under way, or this node is on the minority side of a partition."),
					 rid != NULL ?
					 errhint("Retry with the same request_id (%s) once mailcluster.leader() is not NULL.", rid) :
					 errhint("Retry once mailcluster.leader() is not NULL.")));
			break;
		case MC_RAFT_ERR_TOO_MUCH:
			ereport(ERROR,
					(errcode(ERRCODE_MC_COMMIT_TIMEOUT),
					 errmsg("mailcluster: too many uncommitted writes for %s", what),
					 errdetail("The leader cannot reach a majority; the write was not accepted."),
					 rid != NULL ?
					 errhint("Retry with the same request_id (%s).", rid) :
					 errhint("Retry once the leader reaches a majority again.")));
			break;
		case MC_RAFT_ERR_CONF_PENDING:
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_IN_USE),
					 errmsg("mailcluster: another membership change is still in progress"),
					 errhint("Retry once the previous change has been applied.")));
			break;
		case MC_RAFT_ERR_INVALID:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("mailcluster: the Raft node refused %s as invalid", what)));
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("mailcluster: %s failed (Raft error %d)", what, err)));
	}
	pg_unreachable();
}

/* MC002 / MC003 for write_mode = redirect on a non-leader. */
void
mc_raft_check_redirect(void)
{
	uint32		leader;
	uint32		self;
	char		host[MC_ADDR_LEN] = "";
	int			port = 0;
	int			i;

	if (McRaft == NULL || !mc_raft_setting_write_redirect())
		return;
	LWLockAcquire(McRaft->lock, LW_SHARED);
	leader = McRaft->raft_ready ? McRaft->status.leader : 0;
	self = McRaft->node_id;
	LWLockRelease(McRaft->lock);
	if (leader == self && leader != 0)
		return;
	if (leader == 0)
		mc_raft_raise(MC_RAFT_ERR_NOT_LEADER, "this write");
	if (mc_shared != NULL)
	{
		LWLockAcquire(mc_shared->lock, LW_SHARED);
		for (i = 0; i < mc_shared->n_members; i++)
			if (mc_shared->members[i].node_id == leader)
			{
				strlcpy(host, mc_shared->members[i].addr, sizeof(host));
				port = mc_shared->members[i].sql_port;
				break;
			}
		LWLockRelease(mc_shared->lock);
	}
	ereport(ERROR,
			(errcode(ERRCODE_MC_NOT_LEADER),
			 errmsg("mailcluster: this node is not the leader; write on node %u", leader),
			 errdetail("leader node_id=%u host=%s port=%d", leader,
					   host[0] ? host : "unknown", port),
			 errhint("mailcluster.write_mode = redirect: reconnect to the leader and retry.")));
}
