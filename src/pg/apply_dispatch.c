/*
 * apply_dispatch.c — the state machine's dispatcher, in C: applies one
 * committed command at a Raft index.  It answers a repeated request_id
 * from mailcluster._responses, finds the op's function through
 * mailcluster._ops (cached per process, dropped on any pg_proc change),
 * calls it directly through fmgr (no dynamic SQL to plan), stores the
 * response, and keeps the "command being applied" state that
 * _cur_idx() and _next_id() read.  jmap_guard.c calls it with the write
 * guard on; nothing else may.
 *
 * Batch mode (the apply worker's first, optimistic pass over a batch):
 * responses are kept in memory and stored by one INSERT at the end of the
 * batch, and a request_id is not looked up first.  A request_id applied
 * before then fails that INSERT on the primary key, an error every node
 * meets, so the worker aborts the batch and applies it again entry by
 * entry without batch mode, where the lookup answers the stored response
 * and the op does not run again.  The outcome is that of the careful pass
 * on every node, whatever its batch boundaries.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "apply_dispatch.h"
#include "fn_table_cache.h"
#include "jmap_guard.h"
#include "raft_shmem.h"
#include "spi_plans.h"

PG_FUNCTION_INFO_V1(mc_apply_cur_idx);
PG_FUNCTION_INFO_V1(mc_apply_b32);
PG_FUNCTION_INFO_V1(mc_apply_next_id);

/*
 * One entry of the op cache: op name -> its function, ready to call, and
 * whether it neither reads nor writes mailcluster._responses (_ops.blind):
 * in batch mode its response may wait for the end of the batch.  Any other
 * op (the purges delete old responses) sees every earlier response stored
 * first, as in the careful pass.
 */
typedef struct OpEntry
{
	McFnEntry	head;			/* op name -> function */
	bool		blind;			/* blind to responses */
} OpEntry;

static bool op_accept(const char *op, Oid fn);
static void op_fill(McFnEntry *entry, HeapTuple tup, TupleDesc desc, MemoryContext cxt);

/* mailcluster._ops; every op function is (idx bigint, cmd jsonb) RETURNS jsonb */
static McFnTableCache op_cache = {
	.label = "mailcluster._ops",
	.sql = "SELECT op, to_regprocedure(fn || '(bigint,jsonb)')::oid, blind FROM mailcluster._ops",
	.entry_size = sizeof(OpEntry),
	.accept = op_accept,
	.fill = op_fill,
};

static SPIPlanPtr response_get_plan = NULL;
static SPIPlanPtr response_put_plan = NULL;
static SPIPlanPtr response_put_many_plan = NULL;

/* A response of the batch, not stored yet (batch mode). */
typedef struct PendingResponse
{
	char	   *rid;
	int64		idx;
	Jsonb	   *res;			/* NULL: JSON null */
} PendingResponse;

/* The entry being applied cannot be asked for again (mc_apply_set_no_retry). */
static bool entry_no_retry = false;

/* Batch mode: on between mc_apply_batch_begin and _end (one transaction). */
static bool batch_mode = false;
static PendingResponse *pending = NULL;	/* in TopTransactionContext */
static int	n_pending = 0;
static int	max_pending = 0;

/* The command being applied: its index (-1 when none) and id counter. */
static int64 apply_idx = -1;
static int64 apply_ctr = 0;

/* An _ops row whose function does not exist is an installation error. */
static bool
op_accept(const char *op, Oid fn)
{
	if (!OidIsValid(fn))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("the function of state machine command \"%s\" does not exist", op),
				 errhint("Recreate the extension: mailcluster._ops is static.")));
	return true;
}

/* _ops.blind of the row. */
static void
op_fill(McFnEntry *entry, HeapTuple tup, TupleDesc desc, MemoryContext cxt)
{
	bool		isnull;

	((OpEntry *) entry)->blind = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull)) && !isnull;
}

/* The cached op entry for `op`, or NULL when there is no such op. */
static OpEntry *
op_lookup(const char *op)
{
	return (OpEntry *) mc_fn_table_lookup(&op_cache, op);
}

/* cmd->key, or NULL when absent (a JSON null is a jbvNull value). */
static JsonbValue *
cmd_value(Jsonb *cmd, const char *key)
{
	JsonbValue	k;

	if (!JB_ROOT_IS_OBJECT(cmd))
		return NULL;
	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	return findJsonbValueFromContainer(&cmd->root, JB_FOBJECT, &k);
}

/* cmd->>key as a C string, or NULL when absent or JSON null. */
static char *
cmd_text(Jsonb *cmd, const char *key)
{
	JsonbValue *v = cmd_value(cmd, key);

	if (v == NULL || v->type == jbvNull)
		return NULL;
	if (v->type == jbvString)
		return pnstrdup(v->val.string.val, v->val.string.len);
	/* ->> of a non-string renders it as JSON text */
	return JsonbToCString(NULL, &JsonbValueToJsonb(v)->root, 0);
}

/* The stored response of request rid, copied into `into`, or NULL. */
static Jsonb *
stored_response(const char *rid, MemoryContext into)
{
	Oid			types[1] = {TEXTOID};
	Datum		args[1];
	bool		isnull;
	Datum		d;
	int			ret;

	args[0] = CStringGetTextDatum(rid);
	/* not read_only: a copy earlier in this transaction must be seen */
	ret = SPI_execute_plan(mc_spi_kept_plan(&response_get_plan,
									 "SELECT response FROM mailcluster._responses WHERE request_id = $1",
									 1, types),
						   args, NULL, false, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "mailcluster: reading a stored response failed: %s",
			 SPI_result_code_string(ret));
	if (SPI_processed == 0)
		return NULL;
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		return NULL;
	{
		MemoryContext old = MemoryContextSwitchTo(into);
		Jsonb	   *copy = DatumGetJsonbPCopy(d);

		MemoryContextSwitchTo(old);
		return copy;
	}
}

/* Store res under request rid (applied at idx). */
static void
store_response(const char *rid, int64 idx, Jsonb *res)
{
	Oid			types[3] = {TEXTOID, INT8OID, JSONBOID};
	Datum		args[3];
	char		nulls[3] = {' ', ' ', ' '};
	int			ret;

	args[0] = CStringGetTextDatum(rid);
	args[1] = Int64GetDatum(idx);
	args[2] = PointerGetDatum(res);
	if (res == NULL)
		nulls[2] = 'n';
	ret = SPI_execute_plan(mc_spi_kept_plan(&response_put_plan,
									 "INSERT INTO mailcluster._responses (request_id, idx, response)"
									 " VALUES ($1, $2, $3)",
									 3, types),
						   args, nulls, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "mailcluster: storing a response failed: %s",
			 SPI_result_code_string(ret));
}

/* Store the batch's pending responses in one INSERT (SPI connected). */
static void
flush_pending(void)
{
	Oid			types[3] = {TEXTARRAYOID, INT8ARRAYOID, JSONBARRAYOID};
	Datum	   *rids,
			   *idxs,
			   *ress;
	bool	   *res_null;
	Datum		args[3];
	int			dims[1];
	int			lbs[1] = {1};
	int			i,
				ret;

	if (n_pending == 0)
		return;
	rids = palloc(sizeof(Datum) * n_pending);
	idxs = palloc(sizeof(Datum) * n_pending);
	ress = palloc(sizeof(Datum) * n_pending);
	res_null = palloc(sizeof(bool) * n_pending);
	for (i = 0; i < n_pending; i++)
	{
		rids[i] = CStringGetTextDatum(pending[i].rid);
		idxs[i] = Int64GetDatum(pending[i].idx);
		ress[i] = PointerGetDatum(pending[i].res);
		res_null[i] = pending[i].res == NULL;
	}
	dims[0] = n_pending;
	args[0] = PointerGetDatum(construct_array(rids, n_pending, TEXTOID, -1, false, TYPALIGN_INT));
	args[1] = PointerGetDatum(construct_array(idxs, n_pending, INT8OID, 8, FLOAT8PASSBYVAL,
											  TYPALIGN_DOUBLE));
	args[2] = PointerGetDatum(construct_md_array(ress, res_null, 1, dims, lbs,
												 JSONBOID, -1, false, TYPALIGN_INT));
	ret = SPI_execute_plan(mc_spi_kept_plan(&response_put_many_plan,
									 "INSERT INTO mailcluster._responses (request_id, idx, response)"
									 " SELECT * FROM unnest($1::text[], $2::int8[], $3::jsonb[])",
									 3, types),
						   args, NULL, false, 0);
	if (ret != SPI_OK_INSERT || SPI_processed != (uint64) n_pending)
		elog(ERROR, "mailcluster: storing %d responses failed: %s",
			 n_pending, SPI_result_code_string(ret));
	n_pending = 0;
}

/* Keep a response for flush_pending (copies into the transaction). */
static void
add_pending(const char *rid, int64 idx, Jsonb *res)
{
	MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);

	if (n_pending == max_pending)
	{
		max_pending = Max(16, max_pending * 2);
		pending = pending == NULL ? palloc(sizeof(PendingResponse) * max_pending)
			: repalloc(pending, sizeof(PendingResponse) * max_pending);
	}
	pending[n_pending].rid = pstrdup(rid);
	pending[n_pending].idx = idx;
	pending[n_pending].res = res ? DatumGetJsonbPCopy(JsonbPGetDatum(res)) : NULL;
	n_pending++;
	MemoryContextSwitchTo(old);
}

/* Batch mode ends with its transaction, whichever way. */
static void
batch_xact_cb(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PREPARE)
	{
		batch_mode = false;
		pending = NULL;			/* freed with TopTransactionContext */
		n_pending = 0;
		max_pending = 0;
	}
}

/* See apply_dispatch.h. */
void
mc_apply_batch_begin(void)
{
	static bool registered = false;

	if (!registered)
	{
		RegisterXactCallback(batch_xact_cb, NULL);
		registered = true;
	}
	batch_mode = true;
	pending = NULL;
	n_pending = 0;
	max_pending = 0;
}

/* See apply_dispatch.h. */
void
mc_apply_batch_end(void)
{
	if (!mc_jmap_guard_is_active())
		elog(ERROR, "mailcluster: mc_apply_batch_end called without the write guard");
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "mailcluster: SPI_connect failed");
	flush_pending();
	SPI_finish();
	batch_mode = false;
}

/* See apply_dispatch.h. */
void
mc_apply_set_no_retry(bool no_retry)
{
	entry_no_retry = no_retry;
}

/*
 * Must the response of this entry be kept in _responses?  Yes, unless
 * nobody can ask for it again and it fits a slot's reply (the same test
 * the apply worker makes when it answers the proposing backend).
 */
static bool
response_kept(bool no_retry, Jsonb *res)
{
	if (!no_retry)
		return true;
	if (res == NULL)
		return false;
	return strlen(JsonbToCString(NULL, &res->root, VARSIZE(res))) >= MC_RAFT_REPLY_BYTES;
}

/* See apply_dispatch.h. */
Jsonb *
mc_apply_dispatch(int64 idx, Jsonb *cmd)
{
	MemoryContext callerctx = CurrentMemoryContext;
	Jsonb	   *result = NULL;
	char	   *rid;
	char	   *op;
	bool		builtin;		/* record_response: no _ops row */
	OpEntry    *e;
	bool		no_retry = entry_no_retry;

	entry_no_retry = false;

	if (!mc_jmap_guard_is_active())
		elog(ERROR, "mailcluster: mc_apply_dispatch called without the write guard");

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "mailcluster: SPI_connect failed");

	rid = cmd_text(cmd, "request_id");
	op = cmd_text(cmd, "op");
	builtin = op != NULL && strcmp(op, "record_response") == 0;
	e = (op != NULL && !builtin) ? op_lookup(op) : NULL;
	/*
	 * batch mode: earlier responses stored first unless op cannot see them
	 * (record_response only stores its own; the others say so in _ops)
	 */
	if (batch_mode && !builtin && (e == NULL || !e->blind))
		flush_pending();
	/* batch mode: no lookup (a repeated request_id fails at the flush) */
	if (rid != NULL && !batch_mode)
		result = stored_response(rid, callerctx);
	if (result == NULL)
	{
		Datum		res;
		bool		isnull;

		if (builtin)
		{
			/* built in (no _ops row): the result is cmd->'response' */
			JsonbValue *v = cmd_value(cmd, "response");

			isnull = v == NULL; /* as cmd->'response': JSON null stays 'null' */
			res = isnull ? (Datum) 0 : JsonbPGetDatum(JsonbValueToJsonb(v));
		}
		else
		{
			if (e == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("unknown state machine command \"%s\"", op ? op : ""),
						 errdetail("Raft index %lld.", (long long) idx)));

			apply_idx = idx;
			apply_ctr = 0;
			PG_TRY();
			{
				LOCAL_FCINFO(call, 2);

				InitFunctionCallInfoData(*call, &e->head.flinfo, 2, InvalidOid, NULL, NULL);
				call->args[0].value = Int64GetDatum(idx);
				call->args[0].isnull = false;
				call->args[1].value = JsonbPGetDatum(cmd);
				call->args[1].isnull = false;
				res = FunctionCallInvoke(call);
				isnull = call->isnull;
			}
			PG_FINALLY();
			{
				apply_idx = -1;
			}
			PG_END_TRY();
		}

		if (rid != NULL && response_kept(no_retry, isnull ? NULL : DatumGetJsonbP(res)))
		{
			if (batch_mode)
				add_pending(rid, idx, isnull ? NULL : DatumGetJsonbP(res));
			else
				store_response(rid, idx, isnull ? NULL : DatumGetJsonbP(res));
		}
		if (!isnull)
		{
			MemoryContext old = MemoryContextSwitchTo(callerctx);

			result = DatumGetJsonbPCopy(res);
			MemoryContextSwitchTo(old);
		}
	}
	SPI_finish();
	return result;
}

/* The index being applied; raises outside the apply path. */
static int64
current_index(void)
{
	return mc_apply_current_index();
}

/* See apply_dispatch.h. */
int64
mc_apply_current_index(void)
{
	if (apply_idx < 0 || !mc_jmap_guard_is_active())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("no command is being applied"),
				 errhint("Replicated state changes only through mailcluster._apply().")));
	return apply_idx;
}

/* See apply_dispatch.h. */
void
mc_append_b32(StringInfo buf, int64 n)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
	char		tmp[16];
	int			len = 0;

	Assert(n >= 0);
	do
	{
		tmp[len++] = alphabet[n % 32];
		n /= 32;
	} while (n > 0);
	while (len > 0)
		appendStringInfoChar(buf, tmp[--len]);
}

/*
 * _b32(n bigint) RETURNS text — n >= 0 in lower-case base32, the form of
 * the index in object ids.  numeric_value_out_of_range for n < 0.  In C:
 * account_create calls it thirteen times per command on every node.
 */
Datum
mc_apply_b32(PG_FUNCTION_ARGS)
{
	int64		n = PG_GETARG_INT64(0);
	StringInfoData buf;

	if (n < 0)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("negative value " INT64_FORMAT " has no base32 form", n)));
	initStringInfo(&buf);
	mc_append_b32(&buf, n);
	PG_RETURN_TEXT_P(cstring_to_text_with_len(buf.data, buf.len));
}

/* _cur_idx() RETURNS bigint — the Raft index of the command being applied. */
Datum
mc_apply_cur_idx(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(current_index());
}

/*
 * _next_id(prefix text) RETURNS text — the next object id of the command
 * being applied: prefix, base32 of the index, '-', base32 of a counter
 * that starts at 1 for every command.  Equal on every node because
 * commands apply in the same order with the same counters.
 */
Datum
mc_apply_next_id(PG_FUNCTION_ARGS)
{
	int64		idx = current_index();
	StringInfoData buf;

	initStringInfo(&buf);
	if (!PG_ARGISNULL(0))
		appendStringInfoString(&buf, text_to_cstring(PG_GETARG_TEXT_PP(0)));
	mc_append_b32(&buf, idx);
	appendStringInfoChar(&buf, '-');
	mc_append_b32(&buf, ++apply_ctr);
	PG_RETURN_TEXT_P(cstring_to_text_with_len(buf.data, buf.len));
}
