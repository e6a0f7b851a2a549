/*
 * jmap_guard.c — the write guard of the replicated JMAP tables (SPEC §4):
 * mailcluster._apply(), the state machine's entry point, which turns a
 * backend-local flag on around the dispatcher (apply_dispatch.c), and the trigger
 * function that refuses any DML on accounts, mailboxes, emails, ... with
 * SQLSTATE MC004 while it is off.  The flag lives in C and only _apply sets
 * it (no SQL function or GUC can); it is also cleared at the end of every
 * (sub)transaction, so an error inside _apply can never leave it on.
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/rel.h"

#include "apply_dispatch.h"
#include "jmap_guard.h"

PG_FUNCTION_INFO_V1(mc_jmap_apply);
PG_FUNCTION_INFO_V1(mc_jmap_guard_active);
PG_FUNCTION_INFO_V1(mc_jmap_guard_trigger);

#define ERRCODE_MC_DIRECT_DML MAKE_SQLSTATE('M','C','0','0','4')

static int	guard_depth = 0;
static SubTransactionId guard_subxid = InvalidSubTransactionId;
static bool guard_callbacks = false;

/* Clear the flag when the transaction that set it ends either way. */
static void
guard_xact_cb(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PREPARE)
	{
		guard_depth = 0;
		guard_subxid = InvalidSubTransactionId;
	}
}

/* An aborted subtransaction that turned the flag on turns it off again. */
static void
guard_subxact_cb(SubXactEvent event, SubTransactionId mySubid,
				 SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB && guard_depth > 0 && mySubid == guard_subxid)
	{
		guard_depth = 0;
		guard_subxid = InvalidSubTransactionId;
	}
}

/* Turn the flag on for the current (sub)transaction. */
static void
guard_enter(void)
{
	if (!guard_callbacks)
	{
		RegisterXactCallback(guard_xact_cb, NULL);
		RegisterSubXactCallback(guard_subxact_cb, NULL);
		guard_callbacks = true;
	}
	if (guard_depth++ == 0)
		guard_subxid = GetCurrentSubTransactionId();
}

/* Undo one guard_enter(). */
static void
guard_leave(void)
{
	if (guard_depth > 0)
		guard_depth--;
	if (guard_depth == 0)
		guard_subxid = InvalidSubTransactionId;
}

/* See jmap_guard.h. */
bool
mc_jmap_guard_is_active(void)
{
	return guard_depth > 0;
}

/* See jmap_guard.h. */
Jsonb *
mc_jmap_apply_command(int64 idx, Jsonb *cmd)
{
	Jsonb	   *res = NULL;

	guard_enter();
	PG_TRY();
	{
		res = mc_apply_dispatch(idx, cmd);
	}
	PG_FINALLY();
	{
		guard_leave();
	}
	PG_END_TRY();
	return res;
}

/* See jmap_guard.h. */
void
mc_jmap_apply_batch_end(void)
{
	guard_enter();
	PG_TRY();
	{
		mc_apply_batch_end();
	}
	PG_FINALLY();
	{
		guard_leave();
	}
	PG_END_TRY();
}

/*
 * _apply(idx bigint, cmd jsonb) RETURNS jsonb — THE entry point of the
 * state machine from SQL (EXECUTE revoked from PUBLIC; the apply worker
 * calls mc_jmap_apply_command directly).  Turns the write guard on, runs
 * the dispatcher (apply_dispatch.c) and turns the guard off again, also
 * when it fails.  No SQL-callable function sets the flag otherwise, so
 * calling an op function directly cannot write.
 */
Datum
mc_jmap_apply(PG_FUNCTION_ARGS)
{
	Jsonb	   *res;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("_apply needs a log index and a command")));
	res = mc_jmap_apply_command(PG_GETARG_INT64(0), PG_GETARG_JSONB_P(1));
	if (res == NULL)
		PG_RETURN_NULL();
	PG_RETURN_JSONB_P(res);
}

/* _guard_active() RETURNS bool — is the apply path writing right now? */
Datum
mc_jmap_guard_active(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(mc_jmap_guard_is_active());
}

/*
 * _guard_trigger() — BEFORE INSERT/UPDATE/DELETE/TRUNCATE trigger on every
 * replicated table: raises MC004 unless the apply path is writing.
 */
Datum
mc_jmap_guard_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("_guard_trigger() must be called as a trigger")));
	if (guard_depth == 0)
		ereport(ERROR,
				(errcode(ERRCODE_MC_DIRECT_DML),
				 errmsg("table \"%s\" is replicated and cannot be modified directly",
						RelationGetRelationName(td->tg_relation)),
				 errdetail("Replicated mail state is written only by applying committed log entries."),
				 errhint("Use mailcluster.jmap(), deliver(), blob_upload() or account_create().")));
	if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
		return PointerGetDatum(td->tg_newtuple);
	if (TRIGGER_FIRED_FOR_STATEMENT(td->tg_event))
		return PointerGetDatum(NULL);
	return PointerGetDatum(td->tg_trigtuple);
}
