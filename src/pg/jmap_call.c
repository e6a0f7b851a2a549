/*
 * jmap_call.c — one JMAP method call of a request (RFC 8620 §3.6), in C:
 *
 *   mailcluster._jmap_call(method, args, ctx, responses) RETURNS jsonb
 *
 * Finds the method's handler in mailcluster._jmap_methods (loaded once per
 * process, dropped on any pg_proc change), checks its capability against
 * the request's "using", resolves back-references (_jmap_backrefs), calls
 * the handler through fmgr inside a subtransaction, and turns an error into
 * the method-level error response, as the PL/pgSQL version's exception
 * block did.  It ran for every method call of every request; its lookup
 * and to_regprocedure() parse cost about as much as a small method.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "fn_table_cache.h"
#include "jmap_json.h"
#include "jmap_request.h"
#include "raft_call.h"
#include "spi_plans.h"

PG_FUNCTION_INFO_V1(mc_jmap_call);

/* One method: name -> handler, ready to call, and its capability. */
typedef struct MethodEntry
{
	McFnEntry	head;			/* method name -> handler */
	char	   *capability;
	bool		writes;			/* _jmap_methods.writes */
} MethodEntry;

static bool method_accept(const char *name, Oid fn);
static void method_fill(McFnEntry *entry, HeapTuple tup, TupleDesc desc, MemoryContext cxt);

/* mailcluster._jmap_methods; every handler is (jsonb, jsonb) RETURNS jsonb */
static McFnTableCache methods = {
	.label = "mailcluster._jmap_methods",
	.sql = "SELECT name, to_regprocedure(fn || '(jsonb,jsonb)')::oid, capability, writes "
		   "FROM mailcluster._jmap_methods",
	.entry_size = sizeof(MethodEntry),
	.accept = method_accept,
	.fill = method_fill,
};
static SPIPlanPtr backrefs_plan = NULL;

/* A row without a handler (jsonb, jsonb) -> jsonb is left out: unknownMethod. */
static bool
method_accept(const char *name, Oid fn)
{
	return OidIsValid(fn) && get_func_rettype(fn) == JSONBOID;
}

/* capability and writes of the row. */
static void
method_fill(McFnEntry *entry, HeapTuple tup, TupleDesc desc, MemoryContext cxt)
{
	MethodEntry *e = (MethodEntry *) entry;
	char	   *cap = SPI_getvalue(tup, desc, 3);
	bool		isnull;

	e->capability = MemoryContextStrdup(cxt, cap ? cap : "");	/* NOT NULL in the table */
	e->writes = DatumGetBool(SPI_getbinval(tup, desc, 4, &isnull)) && !isnull;
}

/* {"name": name, "args": args} */
static Jsonb *
name_args(const char *name, JsonbValue *args)
{
	JsonbParseState *st = NULL;
	JsonbValue	v = mc_jsonb_string(name);

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	mc_jsonb_push_key(&st, "name");
	pushJsonbValue(&st, WJB_VALUE, &v);
	mc_jsonb_push_key(&st, "args");
	pushJsonbValue(&st, WJB_VALUE, args);
	return JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL));
}

/* A method-level error response {"name": "error", "args": {type, description?}}. */
static Jsonb *
error_response(const char *type, const char *description)
{
	JsonbParseState *st = NULL;
	JsonbValue	v = mc_jsonb_string(type);
	Jsonb	   *args;
	JsonbValue	av;

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	mc_jsonb_push_key(&st, "type");
	pushJsonbValue(&st, WJB_VALUE, &v);
	if (description != NULL)
	{
		v = mc_jsonb_string(description);
		mc_jsonb_push_key(&st, "description");
		pushJsonbValue(&st, WJB_VALUE, &v);
	}
	args = JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL));
	av.type = jbvBinary;
	av.val.binary.data = &args->root;
	av.val.binary.len = VARSIZE(args) - VARHDRSZ;
	return name_args("error", &av);
}

/* Does the request's "using" (ctx->'using') list capability? (jsonb ?) */
static bool
uses(Jsonb *ctx, const char *capability)
{
	JsonbValue	k;
	JsonbValue *using;

	using = mc_jsonb_get(ctx, "using");
	if (using == NULL || using->type != jbvBinary)
		return false;
	k = mc_jsonb_string(capability);
	return findJsonbValueFromContainer(using->val.binary.data, JB_FOBJECT | JB_FARRAY, &k) != NULL;
}

/* args with its back-references resolved (PL/pgSQL _jmap_backrefs). */
static Jsonb *
resolve_backrefs(Jsonb *args, Jsonb *responses)
{
	Oid			types[2] = {JSONBOID, JSONBOID};
	Datum		values[2] = {JsonbPGetDatum(args), JsonbPGetDatum(responses)};
	char		nulls[2] = {' ', responses == NULL ? 'n' : ' '};
	MemoryContext callerctx = CurrentMemoryContext;
	Jsonb	   *result = NULL;
	bool		isnull;
	Datum		d;
	int			ret;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "mailcluster: SPI_connect failed");
	ret = SPI_execute_plan(mc_spi_kept_plan(&backrefs_plan,
											"SELECT mailcluster._jmap_backrefs($1, $2)", 2, types),
						   values, nulls, false, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "mailcluster: resolving back-references failed: %s", SPI_result_code_string(ret));
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
	{
		MemoryContext old = MemoryContextSwitchTo(callerctx);

		result = DatumGetJsonbPCopy(d);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	return result;
}

/* Call the handler (back-references resolved first); NULL for a NULL result. */
static Datum
run_method(MethodEntry *m, Jsonb *args, Jsonb *ctx, Jsonb *responses, bool *isnull)
{
	LOCAL_FCINFO(call, 2);
	Datum		res;

	if (args != NULL && mc_jmap_args_have_backrefs(args))
		args = resolve_backrefs(args, responses);
	if (pg_proc_aclcheck(m->head.fn, GetUserId(), ACL_EXECUTE) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_FUNCTION, get_func_name(m->head.fn));
	InitFunctionCallInfoData(*call, &m->head.flinfo, 2, InvalidOid, NULL, NULL);
	call->args[0].value = JsonbPGetDatum(args);
	call->args[0].isnull = args == NULL;
	call->args[1].value = JsonbPGetDatum(ctx);
	call->args[1].isnull = ctx == NULL;
	if (m->head.flinfo.fn_strict && (call->args[0].isnull || call->args[1].isnull))
	{
		*isnull = true;
		return (Datum) 0;
	}
	res = FunctionCallInvoke(call);
	*isnull = call->isnull;
	return res;
}

/*
 * _jmap_call(method text, args jsonb, ctx jsonb, responses jsonb) RETURNS
 * jsonb — run one method call: the handler's {"name", "args",
 * "createdIds"?}, or an ["error", ...] response for method-level errors,
 * never raised: unknownMethod (no such method, or its capability not in
 * ctx->'using'); MJ000 (_jerr) -> its type and description; MC001 ->
 * serverPartialFail; MC003 -> serverUnavailable; a data exception (class
 * 22) -> invalidArguments; program_limit_exceeded (a write too large for
 * one log entry, a key too large for an index) -> requestTooLarge
 * (RFC 8620 5.3); anything else -> serverFail "SQLSTATE: message".
 * MC002 (redirect), cancels and assertion failures propagate.
 */
Datum
mc_jmap_call(PG_FUNCTION_ARGS)
{
	Jsonb	   *res = mc_jmap_run_call(PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0)),
									   PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1),
									   PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2),
									   PG_ARGISNULL(3) ? NULL : PG_GETARG_JSONB_P(3));

	if (res == NULL)
		PG_RETURN_NULL();
	PG_RETURN_JSONB_P(res);
}

/* The method's entry, or NULL. */
static MethodEntry *
find_method(const char *method)
{
	if (method == NULL)
		return NULL;
	return (MethodEntry *) mc_fn_table_lookup(&methods, method);
}

/* See jmap_request.h. */
bool
mc_jmap_method_writes(const char *method)
{
	MethodEntry *m = find_method(method);

	return m != NULL && m->writes;
}

/* See jmap_request.h. */
ErrorData *
mc_jmap_try(void (*fn) (void *arg), void *arg)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	ErrorData  *edata = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcontext);
	PG_TRY();
	{
		fn(arg);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(oldcontext);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
		/* what PL/pgSQL's WHEN OTHERS does not catch either */
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED ||
			edata->sqlerrcode == ERRCODE_ASSERT_FAILURE)
			ReThrowError(edata);
	}
	PG_END_TRY();
	return edata;
}

/* One method call, for mc_jmap_try. */
typedef struct MethodRun
{
	MethodEntry *m;
	Jsonb	   *args;
	Jsonb	   *ctx;
	Jsonb	   *responses;
	Datum		res;
	bool		isnull;
} MethodRun;

static void
method_run(void *arg)
{
	MethodRun  *r = (MethodRun *) arg;

	r->res = run_method(r->m, r->args, r->ctx, r->responses, &r->isnull);
}

/* See jmap_request.h. */
Jsonb *
mc_jmap_run_call(const char *method, Jsonb *args, Jsonb *ctx, Jsonb *responses)
{
	MethodEntry *m = find_method(method);
	MethodRun	r = {m, args, ctx, responses, (Datum) 0, false};
	ErrorData  *edata;
	Jsonb	   *failed;
	int			code;

	if (m == NULL || !uses(ctx, m->capability))
		return error_response("unknownMethod", NULL);

	edata = mc_jmap_try(method_run, &r);
	if (edata == NULL)
		return r.isnull ? NULL : DatumGetJsonbP(r.res);

	code = edata->sqlerrcode;
	if (code == ERRCODE_MC_NOT_LEADER)
		ReThrowError(edata);
	if (code == ERRCODE_MC_JMAP_ERROR)
		failed = error_response(edata->message,
								edata->detail && edata->detail[0] ? edata->detail : NULL);
	else if (code == ERRCODE_MC_COMMIT_TIMEOUT)
		failed = error_response("serverPartialFail", edata->message);
	else if (code == ERRCODE_MC_NO_LEADER)
		failed = error_response("serverUnavailable", edata->message);
	else if (ERRCODE_TO_CATEGORY(code) == ERRCODE_DATA_EXCEPTION)
		failed = error_response("invalidArguments", edata->message);
	else if (code == ERRCODE_PROGRAM_LIMIT_EXCEEDED)
		failed = error_response("requestTooLarge", edata->message);
	else
		failed = error_response("serverFail",
								psprintf("%s: %s", unpack_sql_state(code), edata->message));
	FreeErrorData(edata);
	return failed;
}
