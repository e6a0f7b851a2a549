/*
 * jmap_m_email_set.c — the method Email/set (RFC 8621 §4.6) on the
 * proposing side, in C:
 *
 *   mailcluster._m_email_set(args jsonb, ctx jsonb) RETURNS jsonb
 *
 * Checks the arguments, has _email_set_creates (PL/pgSQL,
 * 68_jmap_email_set.sql) build and parse the drafts of "create" when there
 * are any, proposes one email_set command and returns {"name": "Email/set",
 * "args": response, "createdIds": ids}.  Method-level errors are raised
 * with SQLSTATE MJ000, the JMAP error type as message and its description
 * as detail, as _jerr does.  Marking messages read is the commonest small
 * mail write: as PL/pgSQL this method cost its backend about 60 us.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "jmap_json.h"
#include "jmap_request.h"
#include "raft_submit.h"
#include "spi_plans.h"

PG_FUNCTION_INFO_V1(mc_jmap_m_email_set);

static SPIPlanPtr account_plan = NULL;
static SPIPlanPtr creates_plan = NULL;

/* Raise a JMAP method error (as _jerr: type as message, detail ''). */
static void
jmap_error(const char *type, const char *description)
{
	ereport(ERROR,
			(errcode(ERRCODE_MC_JMAP_ERROR),
			 errmsg("%s", type),
			 errdetail("%s", description ? description : "")));
}

/* jsonb_typeof of a value. */
static const char *
type_of(JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return "null";
		case jbvString:
			return "string";
		case jbvNumeric:
			return "number";
		case jbvBool:
			return "boolean";
		case jbvBinary:
			return JsonContainerIsObject(v->val.binary.data) ? "object" : "array";
		default:
			return "unknown";
	}
}

/*
 * An optional argument that must be absent, null or of JSON type typ (as
 * _arg_type): NULL when absent or null, else its value.
 */
static JsonbValue *
arg_of_type(Jsonb *args, const char *name, const char *typ)
{
	JsonbValue *v = mc_jsonb_get(args, name);

	if (v == NULL || v->type == jbvNull)
		return NULL;
	if (strcmp(type_of(v), typ) != 0)
		jmap_error("invalidArguments", psprintf("%s must be of type %s", name, typ));
	return v;
}

/* accountId, checked as _arg_account does (SPI connected). */
static char *
arg_account(Jsonb *args)
{
	JsonbValue *v = mc_jsonb_get(args, "accountId");
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	char	   *account;
	int			ret;

	if (v == NULL || v->type != jbvString)
		jmap_error("invalidArguments", "accountId must be a string");
	account = pnstrdup(v->val.string.val, v->val.string.len);
	values[0] = CStringGetTextDatum(account);
	ret = SPI_execute_plan(mc_spi_kept_plan(&account_plan,
											"SELECT 1 FROM mailcluster.accounts WHERE id = $1",
											1, types),
						   values, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "mailcluster: looking up an account failed: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
		jmap_error("accountNotFound", NULL);
	return account;
}

/* _email_set_creates(account, create): {"create": items, "errors": errors}. */
static Jsonb *
build_creates(const char *account, JsonbValue *create)
{
	Oid			types[2] = {TEXTOID, JSONBOID};
	Datum		values[2];
	int			ret;
	bool		isnull;

	values[0] = CStringGetTextDatum(account);
	values[1] = JsonbPGetDatum(JsonbValueToJsonb(create));
	ret = SPI_execute_plan(mc_spi_kept_plan(&creates_plan,
											"SELECT mailcluster._email_set_creates($1, $2)",
											2, types),
						   values, NULL, false, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "mailcluster: building drafts failed: %s", SPI_result_code_string(ret));
	return DatumGetJsonbPCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/* key: v, unless v is absent or JSON null (as _compact drops them). */
static void
push_unless_null(JsonbParseState **st, const char *key, JsonbValue *v)
{
	if (v == NULL || v->type == jbvNull)
		return;
	mc_jsonb_push_key(st, key);
	pushJsonbValue(st, WJB_VALUE, v);
}

/* An empty object value. */
static JsonbValue *
empty_object_value(void)
{
	JsonbParseState *st = NULL;
	Jsonb	   *j;
	JsonbValue *v = palloc(sizeof(JsonbValue));

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	j = JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL));
	v->type = jbvBinary;
	v->val.binary.data = &j->root;
	v->val.binary.len = VARSIZE(j) - VARHDRSZ;
	return v;
}

/*
 * _m_email_set(args jsonb, ctx jsonb) RETURNS jsonb — Email/set: errors
 * invalidArguments (accountId not a string, an argument of the wrong
 * type), accountNotFound, and the command's own (stateMismatch); MC001 /
 * MC002 / MC003 from the proposal pass through.
 */
Datum
mc_jmap_m_email_set(PG_FUNCTION_ARGS)
{
	Jsonb	   *args = PG_ARGISNULL(0) ? NULL : PG_GETARG_JSONB_P(0);
	Jsonb	   *ctx = PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1);
	MemoryContext callerctx = CurrentMemoryContext;
	char	   *account;
	JsonbValue *if_in_state,
			   *create,
			   *update,
			   *destroy;
	JsonbValue *create_items;
	JsonbValue *errors;
	JsonbValue	opv,
				accv;
	JsonbParseState *st = NULL;
	Jsonb	   *cmd;
	char	   *rid = NULL;
	JsonbValue *ridv;
	Jsonb	   *res;
	JsonbValue *err;
	JsonbValue *cids;
	Jsonb	   *out;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "mailcluster: SPI_connect failed");
	account = arg_account(args);
	if_in_state = arg_of_type(args, "ifInState", "string");
	create = arg_of_type(args, "create", "object");
	update = arg_of_type(args, "update", "object");
	destroy = arg_of_type(args, "destroy", "array");

	if (create != NULL && JsonContainerSize(create->val.binary.data) > 0)
	{
		Jsonb	   *built = build_creates(account, create);

		create_items = mc_jsonb_get(built, "create");
		errors = mc_jsonb_get(built, "errors");
	}
	else
	{
		create_items = empty_object_value();
		errors = empty_object_value();
	}

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	opv = mc_jsonb_string("email_set");
	push_unless_null(&st, "op", &opv);
	accv = mc_jsonb_string(account);
	push_unless_null(&st, "account_id", &accv);
	push_unless_null(&st, "if_in_state", if_in_state);
	push_unless_null(&st, "create", create_items);
	push_unless_null(&st, "errors", errors);
	push_unless_null(&st, "update", update);
	push_unless_null(&st, "destroy", destroy);
	push_unless_null(&st, "cids", mc_jsonb_get(ctx, "createdIds"));
	cmd = JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL));

	ridv = mc_jsonb_get(ctx, "request_id");
	if (ridv != NULL && ridv->type == jbvString)
		rid = pnstrdup(ridv->val.string.val, ridv->val.string.len);
	res = DatumGetJsonbP(mc_submit_command(cmd, rid));

	err = mc_jsonb_get(res, "error");
	if (err != NULL)
	{
		Jsonb	   *e = JsonbValueToJsonb(err);
		JsonbValue *t = mc_jsonb_get(e, "type");
		JsonbValue *d = mc_jsonb_get(e, "description");

		jmap_error(t && t->type == jbvString ? pnstrdup(t->val.string.val, t->val.string.len) : "serverFail",
				   d && d->type == jbvString ? pnstrdup(d->val.string.val, d->val.string.len) : NULL);
	}

	/* {"name": "Email/set", "args": res - 'cids', "createdIds": res->'cids'} */
	cids = mc_jsonb_get(res, "cids");
	{
		Jsonb	   *without_cids = DatumGetJsonbP(DirectFunctionCall2(jsonb_delete, JsonbPGetDatum(res),
																	 CStringGetTextDatum("cids")));
		JsonbValue	argsv,
					namev,
					nullv;

		st = NULL;
		pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
		mc_jsonb_push_key(&st, "name");
		namev = mc_jsonb_string("Email/set");
		pushJsonbValue(&st, WJB_VALUE, &namev);
		mc_jsonb_push_key(&st, "args");
		argsv.type = jbvBinary;
		argsv.val.binary.data = &without_cids->root;
		argsv.val.binary.len = VARSIZE(without_cids) - VARHDRSZ;
		pushJsonbValue(&st, WJB_VALUE, &argsv);
		mc_jsonb_push_key(&st, "createdIds");
		nullv.type = jbvNull;
		pushJsonbValue(&st, WJB_VALUE, cids != NULL ? cids : &nullv);
		out = JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL));

		MemoryContextSwitchTo(callerctx);
		out = DatumGetJsonbPCopy(JsonbPGetDatum(out));
	}
	SPI_finish();
	PG_RETURN_JSONB_P(out);
}
