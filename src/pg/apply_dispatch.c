/*
 * apply_dispatch.c — the state machine's dispatcher, in C: applies one
 * committed command at a Raft index.  It answers a repeated request_id
 * from mailcluster._responses, finds the op's function through
 * mailcluster._ops (cached per process, dropped on any pg_proc change),
 * calls it directly through fmgr (no dynamic SQL to plan), stores the
 * response, and keeps the "command being applied" state that
 * _cur_idx() and _next_id() read.  jmap_guard.c calls it with the write
 * guard on; nothing else may.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "apply_dispatch.h"
#include "jmap_guard.h"
#include "spi_plans.h"

PG_FUNCTION_INFO_V1(mc_apply_cur_idx);
PG_FUNCTION_INFO_V1(mc_apply_next_id);

#define OP_NAME_MAX 64

/* One entry of the op cache: op name -> its function, ready to call. */
typedef struct OpEntry
{
	char		op[OP_NAME_MAX];	/* hash key */
	Oid			fn;
	FmgrInfo	flinfo;
} OpEntry;

static HTAB *op_cache = NULL;
static MemoryContext op_cxt = NULL;
static bool op_callback_registered = false;

static SPIPlanPtr response_get_plan = NULL;
static SPIPlanPtr response_put_plan = NULL;

/* The command being applied: its index (-1 when none) and id counter. */
static int64 apply_idx = -1;
static int64 apply_ctr = 0;

/* Any pg_proc change (e.g. ALTER EXTENSION UPDATE) drops the op cache. */
static void
op_cache_invalidate(Datum arg, int cacheid, uint32 hashvalue)
{
	if (op_cxt != NULL)
		MemoryContextReset(op_cxt);
	op_cache = NULL;
}

/*
 * Load mailcluster._ops into the cache (SPI connected).  Every op function
 * has the signature (idx bigint, cmd jsonb) RETURNS jsonb.
 */
static void
op_cache_load(void)
{
	HASHCTL		ctl;
	int			ret;
	uint64		i;

	if (!op_callback_registered)
	{
		CacheRegisterSyscacheCallback(PROCOID, op_cache_invalidate, (Datum) 0);
		op_callback_registered = true;
	}
	if (op_cxt == NULL)
		op_cxt = AllocSetContextCreate(TopMemoryContext, "mailcluster op cache",
									   ALLOCSET_SMALL_SIZES);
	MemoryContextReset(op_cxt);
	op_cache = NULL;

	ret = SPI_execute("SELECT op, to_regprocedure(fn || '(bigint,jsonb)')::oid"
					  " FROM mailcluster._ops", true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "mailcluster: reading mailcluster._ops failed: %s",
			 SPI_result_code_string(ret));

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = OP_NAME_MAX;
	ctl.entrysize = sizeof(OpEntry);
	ctl.hcxt = op_cxt;
	op_cache = hash_create("mailcluster ops", 32, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);

	for (i = 0; i < SPI_processed; i++)
	{
		char	   *op = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		bool		isnull;
		Datum		fn = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull);
		OpEntry    *e;
		bool		found;

		if (op == NULL || strlen(op) >= OP_NAME_MAX)
			continue;
		if (isnull)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FUNCTION),
					 errmsg("the function of state machine command \"%s\" does not exist", op),
					 errhint("Recreate the extension: mailcluster._ops is static.")));
		e = hash_search(op_cache, op, HASH_ENTER, &found);
		e->fn = DatumGetObjectId(fn);
		fmgr_info_cxt(e->fn, &e->flinfo, op_cxt);
	}
}

/* The cached op entry for `op`, or NULL when there is no such op. */
static OpEntry *
op_lookup(const char *op)
{
	if (strlen(op) >= OP_NAME_MAX)
		return NULL;
	if (op_cache == NULL)
		op_cache_load();
	return hash_search(op_cache, op, HASH_FIND, NULL);
}

/* cmd->>key as a C string, or NULL when absent or JSON null. */
static char *
cmd_text(Jsonb *cmd, const char *key)
{
	JsonbValue	k;
	JsonbValue *v;

	if (!JB_ROOT_IS_OBJECT(cmd))
		return NULL;
	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	v = findJsonbValueFromContainer(&cmd->root, JB_FOBJECT, &k);
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
	ret = SPI_execute_plan(mc_spi_kept_plan(&response_get_plan,
									 "SELECT response FROM mailcluster._responses WHERE request_id = $1",
									 1, types),
						   args, NULL, true, 1);
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

/* See apply_dispatch.h. */
Jsonb *
mc_apply_dispatch(int64 idx, Jsonb *cmd)
{
	MemoryContext callerctx = CurrentMemoryContext;
	Jsonb	   *result = NULL;
	char	   *rid;
	char	   *op;

	if (!mc_jmap_guard_is_active())
		elog(ERROR, "mailcluster: mc_apply_dispatch called without the write guard");

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "mailcluster: SPI_connect failed");

	rid = cmd_text(cmd, "request_id");
	if (rid != NULL)
		result = stored_response(rid, callerctx);
	if (result == NULL)
	{
		OpEntry    *e;
		Datum		res;
		bool		isnull;

		op = cmd_text(cmd, "op");
		e = op ? op_lookup(op) : NULL;
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

			InitFunctionCallInfoData(*call, &e->flinfo, 2, InvalidOid, NULL, NULL);
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

		if (rid != NULL)
			store_response(rid, idx, isnull ? NULL : DatumGetJsonbP(res));
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
	if (apply_idx < 0 || !mc_jmap_guard_is_active())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("no command is being applied"),
				 errhint("Replicated state changes only through mailcluster._apply().")));
	return apply_idx;
}

/* Lower-case RFC 4648 base32 (no padding) of n >= 0, appended to buf. */
static void
append_b32(StringInfo buf, int64 n)
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
	append_b32(&buf, idx);
	appendStringInfoChar(&buf, '-');
	append_b32(&buf, ++apply_ctr);
	PG_RETURN_TEXT_P(cstring_to_text_with_len(buf.data, buf.len));
}
