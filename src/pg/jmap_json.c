/*
 * jmap_json.c — small jsonb helpers of the JMAP layer that every write
 * calls, in C because their SQL forms cost more than the work they do:
 *
 *   mailcluster._compact(o jsonb)   the command builder of every /set call
 *                                   (a SQL function re-planned per call:
 *                                   ~80 us, as much as the method itself)
 *   mailcluster._keywords(kw jsonb) keyword validation in the apply of
 *                                   every keyword change, on every node
 *
 * and the jsonb helpers the C parts of the JMAP layer share (jmap_json.h).
 *
 * Both are pure functions of their argument (IMMUTABLE) and keep the
 * results of the SQL versions they replace (pg_regress jmap_* checks them).
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "jmap_json.h"

PG_FUNCTION_INFO_V1(mc_jmap_compact);
PG_FUNCTION_INFO_V1(mc_jmap_keywords);

/* An empty jsonb object. */
static Jsonb *
empty_object(void)
{
	JsonbParseState *state = NULL;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	return JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));
}

/*
 * _compact(o jsonb) RETURNS jsonb — o without its top-level keys whose value
 * is JSON null (nested nulls, such as "keywords/$seen": null in a patch, are
 * kept).  NULL -> '{}'; a non-object raises invalid_parameter_value.
 */
Datum
mc_jmap_compact(PG_FUNCTION_ARGS)
{
	Jsonb	   *o;
	JsonbParseState *state = NULL;
	JsonbIterator *it;
	JsonbValue	k,
				v;
	JsonbIteratorToken tok;

	if (PG_ARGISNULL(0))
		PG_RETURN_JSONB_P(empty_object());
	o = PG_GETARG_JSONB_P(0);
	if (!JB_ROOT_IS_OBJECT(o))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot call %s on a non-object", "_compact")));

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	it = JsonbIteratorInit(&o->root);
	(void) JsonbIteratorNext(&it, &k, true);	/* WJB_BEGIN_OBJECT */
	while ((tok = JsonbIteratorNext(&it, &k, true)) == WJB_KEY)
	{
		tok = JsonbIteratorNext(&it, &v, true);
		Assert(tok == WJB_VALUE);
		if (v.type == jbvNull)
			continue;
		pushJsonbValue(&state, WJB_KEY, &k);
		pushJsonbValue(&state, WJB_VALUE, &v);
	}
	PG_RETURN_JSONB_P(JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL)));
}

/* See jmap_json.h. */
bool
mc_jmap_valid_keyword(const char *s, int len)
{
	if (len < 1 || len > 255)
		return false;
	for (int i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c < 0x21 || c > 0x7e || strchr("(){]%*\"\\", c) != NULL)
			return false;
	}
	return true;
}

/* See jmap_json.h. */
Jsonb *
mc_jmap_keywords_normalize(Jsonb *kw)
{
	JsonbParseState *state = NULL;
	JsonbIterator *it;
	JsonbValue	k,
				v;

	if (kw == NULL)
		return empty_object();
	if (JB_ROOT_IS_SCALAR(kw))
	{
		JsonbValue	sv;

		if (JsonbExtractScalar(&kw->root, &sv) && sv.type == jbvNull)
			return empty_object();
		return NULL;
	}
	if (!JB_ROOT_IS_OBJECT(kw))
		return NULL;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	it = JsonbIteratorInit(&kw->root);
	(void) JsonbIteratorNext(&it, &k, true);	/* WJB_BEGIN_OBJECT */
	while (JsonbIteratorNext(&it, &k, true) == WJB_KEY)
	{
		JsonbValue	lk,
					t;

		(void) JsonbIteratorNext(&it, &v, true);
		if (v.type != jbvBool || !v.val.boolean ||
			!mc_jmap_valid_keyword(k.val.string.val, k.val.string.len))
			return NULL;
		lk.type = jbvString;
		lk.val.string.val = mc_jmap_keyword_lower(k.val.string.val, k.val.string.len);
		lk.val.string.len = k.val.string.len;
		t.type = jbvBool;
		t.val.boolean = true;
		pushJsonbValue(&state, WJB_KEY, &lk);
		pushJsonbValue(&state, WJB_VALUE, &t);
	}
	return JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));
}

/* See jmap_json.h. */
char *
mc_jmap_keyword_lower(const char *s, int len)
{
	char	   *low = pnstrdup(s, len);

	for (char *p = low; *p; p++)
		*p = pg_ascii_tolower((unsigned char) *p);
	return low;
}

/*
 * _keywords(kw jsonb) RETURNS jsonb — a keywords value normalised:
 * {keyword (lower case): true}.  NULL or JSON null -> '{}'; NULL when kw is
 * not an object, a value is not true, or a key is not a valid keyword.
 */
Datum
mc_jmap_keywords(PG_FUNCTION_ARGS)
{
	Jsonb	   *r = mc_jmap_keywords_normalize(PG_ARGISNULL(0) ? NULL : PG_GETARG_JSONB_P(0));

	if (r == NULL)
		PG_RETURN_NULL();
	PG_RETURN_JSONB_P(r);
}

/* See jmap_json.h. */
JsonbValue *
mc_jsonb_get(Jsonb *o, const char *key)
{
	JsonbValue	k;

	if (o == NULL || !JB_ROOT_IS_OBJECT(o))
		return NULL;
	k = mc_jsonb_string(key);
	return findJsonbValueFromContainer(&o->root, JB_FOBJECT, &k);
}

/* See jmap_json.h. */
JsonbValue
mc_jsonb_string(const char *s)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) s;
	v.val.string.len = strlen(s);
	return v;
}

/* See jmap_json.h. */
void
mc_jsonb_push_key(JsonbParseState **st, const char *key)
{
	JsonbValue	k = mc_jsonb_string(key);

	pushJsonbValue(st, WJB_KEY, &k);
}

/* See jmap_json.h. */
char *
mc_jsonb_text(JsonbValue *v)
{
	if (v == NULL || v->type == jbvNull)
		return NULL;
	if (v->type == jbvString)
		return pnstrdup(v->val.string.val, v->val.string.len);
	return JsonbToCString(NULL, &JsonbValueToJsonb(v)->root, 0);
}
