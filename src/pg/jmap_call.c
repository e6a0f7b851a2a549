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
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/syscache.h"

#include "jmap_json.h"
#include "jmap_request.h"
#include "raft_call.h"
#include "spi_plans.h"

PG_FUNCTION_INFO_V1(mc_jmap_call);

#define METHOD_NAME_MAX 64

/* One method: name -> handler, ready to call, and its capability. */
typedef struct MethodEntry
{
	char		name[METHOD_NAME_MAX];	/* hash key */
	Oid			fn;
	FmgrInfo	flinfo;
	char	   *capability;
	bool		writes;			/* _jmap_methods.writes */
} MethodEntry;

static HTAB *methods = NULL;
static MemoryContext methods_cxt = NULL;
static bool callback_registered = false;
static SPIPlanPtr backrefs_plan = NULL;

/* Any pg_proc change (e.g. ALTER EXTENSION UPDATE) drops the cache. */
static void
methods_invalidate(Datum arg, int cacheid, uint32 hashvalue)
{
	if (methods_cxt != NULL)
		MemoryContextReset(methods_cxt);
	methods = NULL;
}

/* Load mailcluster._jmap_methods (every handler takes (jsonb, jsonb)). */
static void
methods_load(void)
{
	HASHCTL		ctl;
	int			ret;

	if (!callback_registered)
	{
		CacheRegisterSyscacheCallback(PROCOID, methods_invalidate, (Datum) 0);
		callback_registered = true;
	}
	if (methods_cxt == NULL)
		methods_cxt = AllocSetContextCreate(TopMemoryContext, "mailcluster JMAP methods",
											ALLOCSET_SMALL_SIZES);
	MemoryContextReset(methods_cxt);
	methods = NULL;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "mailcluster: SPI_connect failed");
	ret = SPI_execute("SELECT name, to_regprocedure(fn || '(jsonb,jsonb)')::oid, capability, writes "
					  "FROM mailcluster._jmap_methods", true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "mailcluster: reading _jmap_methods failed: %s", SPI_result_code_string(ret));

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = METHOD_NAME_MAX;
	ctl.entrysize = sizeof(MethodEntry);
	ctl.hcxt = methods_cxt;
	methods = hash_create("mailcluster JMAP methods", 32, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *name = SPI_getvalue(tup, desc, 1);
		bool		isnull;
		Datum		fn = SPI_getbinval(tup, desc, 2, &isnull);
		MethodEntry *e;

		if (isnull || name == NULL || strlen(name) >= METHOD_NAME_MAX ||
			get_func_rettype(DatumGetObjectId(fn)) != JSONBOID)
			continue;			/* no such handler (jsonb, jsonb) -> jsonb: unknownMethod */
		e = hash_search(methods, name, HASH_ENTER, NULL);
		e->fn = DatumGetObjectId(fn);
		fmgr_info_cxt(e->fn, &e->flinfo, methods_cxt);
		e->capability = MemoryContextStrdup(methods_cxt, SPI_getvalue(tup, desc, 3));
		e->writes = DatumGetBool(SPI_getbinval(tup, desc, 4, &isnull)) && !isnull;
	}
	SPI_finish();
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
	if (pg_proc_aclcheck(m->fn, GetUserId(), ACL_EXECUTE) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_FUNCTION, get_func_name(m->fn));
	InitFunctionCallInfoData(*call, &m->flinfo, 2, InvalidOid, NULL, NULL);
	call->args[0].value = JsonbPGetDatum(args);
	call->args[0].isnull = args == NULL;
	call->args[1].value = JsonbPGetDatum(ctx);
	call->args[1].isnull = ctx == NULL;
	if (m->flinfo.fn_strict && (call->args[0].isnull || call->args[1].isnull))
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
 * 22) -> invalidArguments; anything else -> serverFail "SQLSTATE: message".
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
	if (methods == NULL)
		methods_load();
	if (method == NULL || strlen(method) >= METHOD_NAME_MAX)
		return NULL;
	return hash_search(methods, method, HASH_FIND, NULL);
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
	else
		failed = error_response("serverFail",
								psprintf("%s: %s", unpack_sql_state(code), edata->message));
	FreeErrorData(edata);
	return failed;
}
