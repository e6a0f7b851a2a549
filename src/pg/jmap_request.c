/*
 * jmap_request.c — the request-level checks of jmap() (RFC 8620 §3.3,
 * §3.6.1) and the back-reference test of each method call, in C: as SQL
 * they were three queries per request and one per call, a third of
 * jmap()'s own time on a small write.
 *
 *   mailcluster._jmap_request_problem(request jsonb) RETURNS jsonb
 *   mailcluster._jmap_has_backrefs(args jsonb) RETURNS boolean
 *   mailcluster._jmap_write_only(calls jsonb) RETURNS boolean
 *                  may jmap() skip its up-front read barrier for these calls?
 */
#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "jmap_request.h"

PG_FUNCTION_INFO_V1(mc_jmap_request_problem);
PG_FUNCTION_INFO_V1(mc_jmap_has_backrefs);
PG_FUNCTION_INFO_V1(mc_jmap_write_only);

/* The capabilities jmap() implements. */
static const char *const known_capabilities[] = {
	"urn:ietf:params:jmap:core",
	"urn:ietf:params:jmap:mail",
};

/* The value of key in object o, or NULL. */
static JsonbValue *
get_key(JsonbContainer *o, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	return findJsonbValueFromContainer(o, JB_FOBJECT, &k);
}

static bool
is_array(const JsonbValue *v)
{
	return v != NULL && v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data);
}

static bool
is_object(const JsonbValue *v)
{
	return v != NULL && v->type == jbvBinary && JsonContainerIsObject(v->val.binary.data);
}

/* Is every element of array container a a string? */
static bool
all_strings(JsonbContainer *a)
{
	uint32		n = JsonContainerSize(a);

	for (uint32 i = 0; i < n; i++)
	{
		JsonbValue *e = getIthJsonbValueFromContainer(a, i);

		if (e == NULL || e->type != jbvString)
			return false;
	}
	return true;
}

/* Is every element of array container a a [string, object, string] triple? */
static bool
all_calls(JsonbContainer *a)
{
	uint32		n = JsonContainerSize(a);

	for (uint32 i = 0; i < n; i++)
	{
		JsonbValue *c = getIthJsonbValueFromContainer(a, i);
		JsonbValue *name,
				   *args,
				   *id;

		if (!is_array(c) || JsonContainerSize(c->val.binary.data) != 3)
			return false;
		name = getIthJsonbValueFromContainer(c->val.binary.data, 0);
		args = getIthJsonbValueFromContainer(c->val.binary.data, 1);
		id = getIthJsonbValueFromContainer(c->val.binary.data, 2);
		if (name == NULL || name->type != jbvString || !is_object(args) ||
			id == NULL || id->type != jbvString)
			return false;
	}
	return true;
}

/* A request-level problem object (RFC 8620 §3.6.1): type, status 400, detail. */
static Jsonb *
problem(const char *type, const char *detail)
{
	JsonbParseState *state = NULL;
	JsonbValue	k,
				v;
	char	   *t = psprintf("urn:ietf:params:jmap:error:%s", type);

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	k.type = jbvString;
	v.type = jbvString;
	k.val.string.val = "type";
	k.val.string.len = 4;
	v.val.string.val = t;
	v.val.string.len = strlen(t);
	pushJsonbValue(&state, WJB_KEY, &k);
	pushJsonbValue(&state, WJB_VALUE, &v);
	k.val.string.val = "status";
	k.val.string.len = 6;
	v.type = jbvNumeric;
	v.val.numeric = int64_to_numeric(400);
	pushJsonbValue(&state, WJB_KEY, &k);
	pushJsonbValue(&state, WJB_VALUE, &v);
	k.val.string.val = "detail";
	k.val.string.len = 6;
	v.type = jbvString;
	v.val.string.val = (char *) detail;
	v.val.string.len = strlen(detail);
	pushJsonbValue(&state, WJB_KEY, &k);
	pushJsonbValue(&state, WJB_VALUE, &v);
	return JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));
}

/*
 * _jmap_request_problem(request jsonb) RETURNS jsonb — NULL when request is
 * a Request object jmap() can run, else its problem object: notRequest
 * unless it is an object with "using" (strings), "methodCalls" ([name,
 * arguments, call id] triples) and, if present, "createdIds" (an object);
 * then unknownCapability for the first capability of "using" not
 * implemented here.
 */
Datum
mc_jmap_request_problem(PG_FUNCTION_ARGS)
{
	Jsonb	   *p = mc_jmap_problem_of(PG_ARGISNULL(0) ? NULL : PG_GETARG_JSONB_P(0));

	if (p == NULL)
		PG_RETURN_NULL();
	PG_RETURN_JSONB_P(p);
}

/* See jmap_request.h. */
Jsonb *
mc_jmap_problem_of(Jsonb *req)
{
	JsonbValue *using,
			   *calls,
			   *created;
	uint32		n;

	if (req == NULL || !JB_ROOT_IS_OBJECT(req))
		goto not_request;
	using = get_key(&req->root, "using");
	calls = get_key(&req->root, "methodCalls");
	created = get_key(&req->root, "createdIds");
	if (!is_array(using) || !is_array(calls) || (created != NULL && !is_object(created)) ||
		!all_strings(using->val.binary.data) || !all_calls(calls->val.binary.data))
		goto not_request;

	n = JsonContainerSize(using->val.binary.data);
	for (uint32 i = 0; i < n; i++)
	{
		JsonbValue *cap = getIthJsonbValueFromContainer(using->val.binary.data, i);
		bool		known = false;

		for (int k = 0; k < lengthof(known_capabilities); k++)
			if (cap->val.string.len == (int) strlen(known_capabilities[k]) &&
				memcmp(cap->val.string.val, known_capabilities[k], cap->val.string.len) == 0)
				known = true;
		if (!known)
			return problem("unknownCapability",
						   psprintf("The server does not support the capability \"%.*s\".",
									cap->val.string.len, cap->val.string.val));
	}
	return NULL;

not_request:
	return problem("notRequest",
				   "The request must be an object with \"using\" (strings) and \"methodCalls\" ([name, arguments, call id] triples).");
}

/*
 * _jmap_has_backrefs(args jsonb) RETURNS boolean — does a method call's
 * arguments object have a "#name" key (a ResultReference, RFC 8620 §3.7)?
 * False for a non-object.
 */
Datum
mc_jmap_has_backrefs(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(mc_jmap_args_have_backrefs(PG_GETARG_JSONB_P(0)));
}

/* See jmap_request.h. */
bool
mc_jmap_args_have_backrefs(Jsonb *args)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;

	if (!JB_ROOT_IS_OBJECT(args))
		return false;
	it = JsonbIteratorInit(&args->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		if (tok == WJB_KEY && v.val.string.len > 0 && v.val.string.val[0] == '#')
			return true;
	return false;
}

/*
 * _jmap_write_only(calls jsonb) RETURNS boolean — true when every method
 * call of a request ([name, arguments, call id] triples) is an Email/set or
 * a Mailbox/set without "create".  Their results are computed by the apply
 * of their command, in log order, on this node, after everything committed
 * before the proposal: they need no read barrier first.  The one local read
 * before their proposal is whether the account exists, and jmap() confirms
 * an accountNotFound with a barrier before answering it.  Creates read
 * blobs and mailboxes here (the draft's message is built before the
 * proposal), so a request with one takes the barrier.  False for anything
 * else, including an empty or malformed list.
 */
Datum
mc_jmap_write_only(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(mc_jmap_calls_write_only(PG_GETARG_JSONB_P(0)));
}

/* See jmap_request.h. */
bool
mc_jmap_calls_write_only(Jsonb *calls)
{
	JsonbIterator *it;
	JsonbValue	v;
	int			n = 0;

	if (!JB_ROOT_IS_ARRAY(calls) || JB_ROOT_IS_SCALAR(calls))
		return false;
	it = JsonbIteratorInit(&calls->root);
	(void) JsonbIteratorNext(&it, &v, true);	/* WJB_BEGIN_ARRAY */
	while (JsonbIteratorNext(&it, &v, true) == WJB_ELEM)
	{
		JsonbValue *name,
				   *args;

		if (v.type != jbvBinary || !JsonContainerIsArray(v.val.binary.data))
			return false;
		name = getIthJsonbValueFromContainer(v.val.binary.data, 0);
		args = getIthJsonbValueFromContainer(v.val.binary.data, 1);
		if (name == NULL || name->type != jbvString || args == NULL ||
			args->type != jbvBinary || !JsonContainerIsObject(args->val.binary.data))
			return false;
		if (!((name->val.string.len == 9 && memcmp(name->val.string.val, "Email/set", 9) == 0) ||
			  (name->val.string.len == 11 && memcmp(name->val.string.val, "Mailbox/set", 11) == 0)))
			return false;
		if (get_key(args->val.binary.data, "create") != NULL)
			return false;
		n++;
	}
	return n > 0;
}
