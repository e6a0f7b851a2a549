/*
 * jmap_driver.c — mailcluster.jmap(request, request_id): RFC 8620 §3
 * request processing, in C.
 *
 * Answers a retried request_id from _responses; checks the Request object
 * (jmap_request.c); takes the read barrier of read_consistency =
 * linearizable unless every call only writes (_jmap_fence); runs the
 * method calls in order through the call driver (jmap_call.c), carrying
 * creation ids across calls; and stores the whole response under the
 * request_id when a call wrote and none may have failed half-way.  As
 * PL/pgSQL this loop cost a one-call write about as much as the method.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "jmap_json.h"
#include "jmap_request.h"
#include "mc_guc.h"
#include "raft_call.h"
#include "raft_submit.h"
#include "session_state.h"
#include "spi_plans.h"

PG_FUNCTION_INFO_V1(mc_jmap);


static SPIPlanPtr fence_plan = NULL;

static JsonbValue
jsonb_value(Jsonb *j)
{
	JsonbValue	v;

	if (j == NULL)
	{
		v.type = jbvNull;
		return v;
	}
	v.type = jbvBinary;
	v.val.binary.data = &j->root;
	v.val.binary.len = VARSIZE(j) - VARHDRSZ;
	return v;
}

static void
push_pair(JsonbParseState **st, const char *key, JsonbValue v)
{
	JsonbValue	k = mc_jsonb_string(key);

	pushJsonbValue(st, WJB_KEY, &k);
	pushJsonbValue(st, WJB_VALUE, &v);
}

/*
 * One query of a kept plan with text arguments, answering one jsonb or
 * text column: the value copied into the caller's context, NULL when no
 * row or SQL NULL.  SPI is connected and finished here.
 */
static Datum
query_one(SPIPlanPtr *slot, const char *sql, int nargs, Oid *types, Datum *values,
		  bool read_only, bool *found)
{
	MemoryContext callerctx = CurrentMemoryContext;
	Datum		result = (Datum) 0;
	int			ret;

	*found = false;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "mailcluster: SPI_connect failed");
	ret = SPI_execute_plan(mc_spi_kept_plan(slot, sql, nargs, types), values, NULL, read_only, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "mailcluster: \"%s\" failed: %s", sql, SPI_result_code_string(ret));
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
		{
			Form_pg_attribute att = TupleDescAttr(SPI_tuptable->tupdesc, 0);
			MemoryContext old = MemoryContextSwitchTo(callerctx);

			result = datumCopy(d, att->attbyval, att->attlen);
			MemoryContextSwitchTo(old);
			*found = true;
		}
	}
	SPI_finish();
	return result;
}

/*
 * The read barrier (_jmap_fence, PL/pgSQL): NULL once a read index
 * confirmed by the leader is applied here, else the message of the MC001 /
 * MC003 that prevented it.
 */
static char *
fence(void)
{
	bool		found;
	Datum		d = query_one(&fence_plan, "SELECT mailcluster._jmap_fence()", 0, NULL, NULL,
							  false, &found);

	return found ? TextDatumGetCString(d) : NULL;
}

/* An error response {"name": "error", "args": {"type", "description"}}. */
static Jsonb *
error_call(const char *type, const char *description)
{
	JsonbParseState *st = NULL;
	Jsonb	   *args;

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	push_pair(&st, "type", mc_jsonb_string(type));
	push_pair(&st, "description", mc_jsonb_string(description));
	args = JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL));
	st = NULL;
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	push_pair(&st, "name", mc_jsonb_string("error"));
	push_pair(&st, "args", jsonb_value(args));
	return JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL));
}

/* res->>'name' = 'error' and res->'args'->>'type' is one of types? */
static bool
is_error_of(Jsonb *res, const char *const *types, int n)
{
	JsonbValue *name = mc_jsonb_get(res, "name");
	JsonbValue *args = mc_jsonb_get(res, "args");
	JsonbValue *type;
	Jsonb	   *a;

	if (name == NULL || name->type != jbvString || name->val.string.len != 5 ||
		memcmp(name->val.string.val, "error", 5) != 0 || args == NULL || args->type != jbvBinary)
		return false;
	a = JsonbValueToJsonb(args);
	type = mc_jsonb_get(a, "type");
	if (type == NULL || type->type != jbvString)
		return false;
	for (int i = 0; i < n; i++)
		if (type->val.string.len == (int) strlen(types[i]) &&
			memcmp(type->val.string.val, types[i], type->val.string.len) == 0)
			return true;
	return false;
}

/* created || res->'createdIds' when that is an object. */
static Jsonb *
merge_created(Jsonb *created, Jsonb *res)
{
	JsonbValue *c = mc_jsonb_get(res, "createdIds");

	if (c == NULL || c->type != jbvBinary || !JsonContainerIsObject(c->val.binary.data))
		return created;
	return DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(created),
											  JsonbPGetDatum(JsonbValueToJsonb(c))));
}

/* The responses so far as one array of [name, args, call id]. */
static Jsonb *
responses_array(List *items)
{
	JsonbParseState *st = NULL;
	ListCell   *lc;

	pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
	foreach(lc, items)
	{
		JsonbValue	v = jsonb_value((Jsonb *) lfirst(lc));

		pushJsonbValue(&st, WJB_ELEM, &v);
	}
	return JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_ARRAY, NULL));
}

/* [res->>'name', res->'args', id] */
static Jsonb *
response_item(Jsonb *res, JsonbValue *id)
{
	JsonbParseState *st = NULL;
	JsonbValue *name = mc_jsonb_get(res, "name");
	JsonbValue *args = mc_jsonb_get(res, "args");
	JsonbValue	nullv;

	nullv.type = jbvNull;
	pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
	pushJsonbValue(&st, WJB_ELEM, name != NULL ? name : &nullv);
	pushJsonbValue(&st, WJB_ELEM, args != NULL ? args : &nullv);
	pushJsonbValue(&st, WJB_ELEM, id != NULL ? id : &nullv);
	return JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_ARRAY, NULL));
}

/*
 * One method call (jmap_call.c) with a snapshot taken now, as a statement
 * of a VOLATILE PL/pgSQL function gets: a call reads what the calls before
 * it wrote (their commands were applied and committed by the apply
 * worker), even when its handler is STABLE and reads with the snapshot it
 * is given.  Under REPEATABLE READ and SERIALIZABLE the transaction's
 * snapshot never moves, so the call gets the latest one instead (as
 * PostgreSQL's own foreign-key checks do there): the replicated tables it
 * reads are written only by the apply worker, never by this transaction
 * (TAP 033, a node with serializable transactions by default).
 */
static Jsonb *
run_call(const char *method, Jsonb *args, Jsonb *ctx, List *items)
{
	Jsonb	   *res;

	CommandCounterIncrement();
	PushActiveSnapshot(IsolationUsesXactSnapshot() ? GetLatestSnapshot() : GetTransactionSnapshot());
	res = mc_jmap_run_call(method, args, ctx, responses_array(items));
	PopActiveSnapshot();
	return res;
}

/* The context a method call gets: {using, createdIds, request_id}. */
static Jsonb *
call_context(JsonbValue *using, Jsonb *created, const char *rid, int n)
{
	JsonbParseState *st = NULL;
	JsonbValue	nullv;

	nullv.type = jbvNull;
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	push_pair(&st, "using", using != NULL ? *using : nullv);
	push_pair(&st, "createdIds", jsonb_value(created));
	push_pair(&st, "request_id", rid != NULL ? mc_jsonb_string(psprintf("jmap:%s:%d", rid, n)) : nullv);
	return JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL));
}

/* A record_response proposal, for mc_jmap_try. */
typedef struct Record
{
	Jsonb	   *cmd;
	char	   *rid;
} Record;

static void
record_run(void *arg)
{
	Record	   *r = (Record *) arg;

	(void) mc_submit_command(r->cmd, r->rid);
}

/*
 * Store out under 'jmap:' || rid with a record_response command, so a
 * retry returns it verbatim.  MC001 / MC003 are swallowed: the writes
 * themselves are stored per call, so a retry gives the same answers.
 */
static void
record_response(Jsonb *out, const char *rid)
{
	JsonbParseState *st = NULL;
	Record		r;
	ErrorData  *edata;

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	push_pair(&st, "op", mc_jsonb_string("record_response"));
	push_pair(&st, "response", jsonb_value(out));
	r.cmd = JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL));
	r.rid = psprintf("jmap:%s", rid);
	edata = mc_jmap_try(record_run, &r);
	if (edata == NULL)
		return;
	if (edata->sqlerrcode != ERRCODE_MC_COMMIT_TIMEOUT &&
		edata->sqlerrcode != ERRCODE_MC_NO_LEADER)
		ReThrowError(edata);
	FreeErrorData(edata);
}

/*
 * jmap(request jsonb, request_id text DEFAULT NULL) RETURNS jsonb — process
 * an RFC 8620 Request; returns the Response, or a request-level problem
 * object (notRequest, unknownCapability).  Each write method is one
 * command.  With a request_id, a retry returns the first response; a
 * response with serverFail / serverPartialFail / serverUnavailable in it
 * is not stored, so its retry completes the calls that did not go through.
 *
 * mailcluster.read_consistency = linearizable (the default): before any
 * method reads, a read index confirmed by the leader is applied here
 * (read_barrier), so a read sees every write acknowledged before the
 * request started, on any node.  A request of updates and destroys only
 * reads nothing before its proposals but whether the account exists: it
 * skips the barrier, and an accountNotFound is answered only after one.
 */
Datum
mc_jmap(PG_FUNCTION_ARGS)
{
	Jsonb	   *request = PG_ARGISNULL(0) ? NULL : PG_GETARG_JSONB_P(0);
	char	   *rid = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	Jsonb	   *problem;
	JsonbValue *calls_v;
	JsonbValue *using;
	JsonbValue *created_v;
	JsonbContainer *calls;
	int			n_calls;
	bool		fence_owed;
	char	   *fence_err = NULL;
	Jsonb	   *created;
	List	   *items = NIL;
	bool		wrote = false;
	bool		incomplete = false;
	static const char *const not_applied[] = {"serverPartialFail", "serverUnavailable", "serverFail"};
	static const char *const account_not_found[] = {"accountNotFound"};
	JsonbParseState *st = NULL;
	Jsonb	   *out;
	Datum		d;

	if (rid != NULL)
	{
		mc_check_request_id(rid, MC_REQUEST_ID_MAX);
		if (mc_lookup_response(psprintf("jmap:%s", rid), &d))
			PG_RETURN_DATUM(d);
	}
	problem = mc_jmap_problem_of(request);
	if (problem != NULL)
		PG_RETURN_JSONB_P(problem);

	calls_v = mc_jsonb_get(request, "methodCalls");
	using = mc_jsonb_get(request, "using");
	calls = calls_v->val.binary.data;
	n_calls = JsonContainerSize(calls);
	fence_owed = n_calls > 0 && mc_read_consistency == MC_READ_LINEARIZABLE;
	if (fence_owed && !mc_jmap_calls_write_only(JsonbValueToJsonb(calls_v)))
	{
		fence_err = fence();
		fence_owed = false;
	}
	created_v = mc_jsonb_get(request, "createdIds");
	created = created_v != NULL ? JsonbValueToJsonb(created_v)
		: DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));

	for (int i = 0; i < n_calls; i++)
	{
		JsonbValue *call = getIthJsonbValueFromContainer(calls, i);
		JsonbValue *name_v = getIthJsonbValueFromContainer(call->val.binary.data, 0);
		JsonbValue *args_v = getIthJsonbValueFromContainer(call->val.binary.data, 1);
		JsonbValue *id_v = getIthJsonbValueFromContainer(call->val.binary.data, 2);
		char	   *method = pnstrdup(name_v->val.string.val, name_v->val.string.len);
		Jsonb	   *args = JsonbValueToJsonb(args_v);
		Jsonb	   *ctx = call_context(using, created, rid, i + 1);
		Jsonb	   *res;

		if (fence_err != NULL)
			res = error_call("serverUnavailable", fence_err);
		else
		{
			res = run_call(method, args, ctx, items);
			if (fence_owed && res != NULL && is_error_of(res, account_not_found, 1))
			{
				/*
				 * the account may exist but not be applied here yet: a
				 * write-only call raises this before proposing anything,
				 * so it is run again after the barrier
				 */
				fence_err = fence();
				fence_owed = false;
				if (fence_err == NULL)
					res = run_call(method, args, ctx, items);
				else
					res = error_call("serverUnavailable", fence_err);
			}
		}
		if (res != NULL)
			created = merge_created(created, res);
		if (rid != NULL && !wrote)
			wrote = mc_jmap_method_writes(method);
		/* a call that may not have completed must be retried, not replayed */
		if (res != NULL && is_error_of(res, not_applied, lengthof(not_applied)))
			incomplete = true;
		items = lappend(items, response_item(res, id_v));
	}

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	push_pair(&st, "methodResponses", jsonb_value(responses_array(items)));
	push_pair(&st, "sessionState",
			  mc_jsonb_string(psprintf(INT64_FORMAT, mc_session_state_current())));
	if (created_v != NULL)
		push_pair(&st, "createdIds", jsonb_value(created));
	out = JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL));

	if (rid != NULL && wrote && !incomplete)
		record_response(out, rid);
	PG_RETURN_JSONB_P(out);
}
