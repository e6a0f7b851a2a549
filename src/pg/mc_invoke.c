/*
 * mc_invoke.c — mailcluster._invoke(fn, a, b): calls a JMAP method handler
 * (any function (jsonb, jsonb) RETURNS jsonb) by its OID through fmgr, so
 * jmap() dispatches its method calls without planning a dynamic
 * "SELECT fn($1, $2)" for every call.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"

PG_FUNCTION_INFO_V1(mc_invoke);

/* The callee's FmgrInfo, kept across calls of one calling expression. */
typedef struct InvokeCache
{
	Oid			fn;
	FmgrInfo	flinfo;
} InvokeCache;

/*
 * _invoke(fn regprocedure, a jsonb, b jsonb) RETURNS jsonb — fn(a, b).
 * Contract: fn must take (jsonb, jsonb) and return jsonb, and the caller
 * must hold EXECUTE on it (checked: _invoke never widens privileges);
 * errors raised by fn propagate unchanged.  NULL fn -> NULL.
 */
Datum
mc_invoke(PG_FUNCTION_ARGS)
{
	InvokeCache *cache = (InvokeCache *) fcinfo->flinfo->fn_extra;
	Oid			fn;
	Datum		res;
	bool		isnull;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	fn = PG_GETARG_OID(0);
	if (cache == NULL || cache->fn != fn)
	{
		Oid		   *argtypes;
		int			nargs;
		Oid			rettype = get_func_signature(fn, &argtypes, &nargs);

		if (rettype != JSONBOID || nargs != 2 || argtypes[0] != JSONBOID ||
			argtypes[1] != JSONBOID)
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("function %s is not a JMAP method handler", format_procedure(fn)),
					 errdetail("A handler takes (jsonb, jsonb) and returns jsonb.")));
		if (pg_proc_aclcheck(fn, GetUserId(), ACL_EXECUTE) != ACLCHECK_OK)
			aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_FUNCTION, get_func_name(fn));
		if (cache == NULL)
			cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(InvokeCache));
		fmgr_info_cxt(fn, &cache->flinfo, fcinfo->flinfo->fn_mcxt);
		cache->fn = fn;
		fcinfo->flinfo->fn_extra = cache;
	}
	{
		LOCAL_FCINFO(call, 2);

		InitFunctionCallInfoData(*call, &cache->flinfo, 2, PG_GET_COLLATION(), NULL, NULL);
		call->args[0].value = PG_GETARG_DATUM(1);
		call->args[0].isnull = PG_ARGISNULL(1);
		call->args[1].value = PG_GETARG_DATUM(2);
		call->args[1].isnull = PG_ARGISNULL(2);
		if (cache->flinfo.fn_strict && (call->args[0].isnull || call->args[1].isnull))
			PG_RETURN_NULL();
		res = FunctionCallInvoke(call);
		isnull = call->isnull;
	}
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(res);
}
