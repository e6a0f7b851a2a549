/*
 * jmap_guard.c — the write guard of the replicated JMAP tables (SPEC §4):
 * mailcluster._apply(), the state machine's entry point, which turns a
 * backend-local flag on around the PL/pgSQL dispatcher, and the trigger
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
#include "utils/regproc.h"
#include "utils/rel.h"

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

/*
 * _apply(idx bigint, cmd jsonb) RETURNS jsonb — THE entry point of the
 * state machine (called by the apply path only; EXECUTE revoked from
 * PUBLIC).  Turns the write guard on, runs the PL/pgSQL dispatcher
 * mailcluster._apply_inner(idx, cmd) and turns the guard off again, also
 * when it fails.  No SQL-callable function sets the flag otherwise, so
 * calling _apply_inner (or any op) directly cannot write.
 */
Datum
mc_jmap_apply(PG_FUNCTION_ARGS)
{
	Oid			inner;
	Datum		res = (Datum) 0;
	bool		isnull = false;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("_apply needs a log index and a command")));
	inner = DatumGetObjectId(DirectFunctionCall1(regprocedurein,
												 CStringGetDatum("mailcluster._apply_inner(bigint,jsonb)")));
	guard_enter();
	PG_TRY();
	{
		LOCAL_FCINFO(call, 2);

		InitFunctionCallInfoData(*call, NULL, 2, InvalidOid, NULL, NULL);
		call->args[0].value = PG_GETARG_DATUM(0);
		call->args[0].isnull = false;
		call->args[1].value = PG_GETARG_DATUM(1);
		call->args[1].isnull = false;
		{
			FmgrInfo	flinfo;

			fmgr_info(inner, &flinfo);
			call->flinfo = &flinfo;
			res = FunctionCallInvoke(call);
			isnull = call->isnull;
		}
	}
	PG_FINALLY();
	{
		guard_leave();
	}
	PG_END_TRY();
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(res);
}

/* _guard_active() RETURNS bool — is the apply path writing right now? */
Datum
mc_jmap_guard_active(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(guard_depth > 0);
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
