/*
 * jmap_email_patch.c — the update of one email by Email/set (RFC 8621
 * §4.6), on the apply path of every node, in C:
 *
 *   mailcluster._email_patch(account, eid, patch, cids) RETURNS jsonb
 *                  NULL on success, else the SetError
 *   mailcluster._mailbox_ids(account, m, cids) RETURNS text[]
 *                  a mailboxIds value resolved and checked
 *
 * Marking a message read or unread is the commonest small mail write; as
 * PL/pgSQL this patch was the largest part of its apply.  Patches are
 * keywords, keywords/<k>, mailboxIds and mailboxIds/<id> (RFC 8620 §5.3
 * patch paths); anything else is an invalidProperties error.  Mailbox ids
 * are kept as sets in byte order, so the outcome depends on no locale.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"

#include "jmap_changes.h"
#include "jmap_email_patch.h"
#include "jmap_json.h"
#include "spi_plans.h"

PG_FUNCTION_INFO_V1(mc_jmap_email_patch);
PG_FUNCTION_INFO_V1(mc_jmap_mailbox_ids);

static SPIPlanPtr email_plan = NULL;
static SPIPlanPtr count_boxes_plan = NULL;
static SPIPlanPtr set_keywords_plan = NULL;
static SPIPlanPtr unfile_plan = NULL;
static SPIPlanPtr file_plan = NULL;

/* A set of mailbox ids: sorted by strcmp, no duplicates. */
typedef struct IdSet
{
	int			n;
	int			cap;
	char	  **ids;
} IdSet;

static int
cmp_ids(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

static void
set_init(IdSet *s, int cap)
{
	s->n = 0;
	s->cap = Max(cap, 4);
	s->ids = palloc(sizeof(char *) * s->cap);
}

static bool
set_contains(const IdSet *s, const char *id)
{
	return bsearch(&id, s->ids, s->n, sizeof(char *), cmp_ids) != NULL;
}

static void
set_add(IdSet *s, char *id)
{
	if (set_contains(s, id))
		return;
	if (s->n == s->cap)
	{
		s->cap *= 2;
		s->ids = repalloc(s->ids, sizeof(char *) * s->cap);
	}
	s->ids[s->n++] = id;
	qsort(s->ids, s->n, sizeof(char *), cmp_ids);
}

static void
set_remove(IdSet *s, const char *id)
{
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->ids[i], id) == 0)
		{
			memmove(&s->ids[i], &s->ids[i + 1], sizeof(char *) * (s->n - i - 1));
			s->n--;
			return;
		}
}

static void
set_copy(IdSet *dst, const IdSet *src)
{
	set_init(dst, src->n);
	memcpy(dst->ids, src->ids, sizeof(char *) * src->n);
	dst->n = src->n;
}

static bool
set_equal(const IdSet *a, const IdSet *b)
{
	if (a->n != b->n)
		return false;
	for (int i = 0; i < a->n; i++)
		if (strcmp(a->ids[i], b->ids[i]) != 0)
			return false;
	return true;
}

/* The set as a text[] datum. */
static Datum
set_to_array(const IdSet *s)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(s->n, 1));

	for (int i = 0; i < s->n; i++)
		d[i] = CStringGetTextDatum(s->ids[i]);
	return PointerGetDatum(construct_array(d, s->n, TEXTOID, -1, false, TYPALIGN_INT));
}

/* A text[] datum as a set. */
static void
set_from_array(IdSet *s, Datum arr)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	deconstruct_array(DatumGetArrayTypeP(arr), TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &nulls, &n);
	set_init(s, n);
	for (int i = 0; i < n; i++)
		if (!nulls[i])
			set_add(s, TextDatumGetCString(elems[i]));
}

/* The string value of key (len bytes) in object o, or NULL. */
static char *
get_string(Jsonb *o, const char *key, int len)
{
	JsonbValue	k;
	JsonbValue *v;

	if (o == NULL || !JB_ROOT_IS_OBJECT(o))
		return NULL;
	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = len;
	v = findJsonbValueFromContainer(&o->root, JB_FOBJECT, &k);
	return mc_jsonb_text(v);
}

/* See jmap_email_patch.h. */
char *
mc_jmap_resolve_id(const char *id, int len, Jsonb *cids)
{
	if (len > 0 && id[0] == '#')
		return get_string(cids, id + 1, len - 1);
	return pnstrdup(id, len);
}

/*
 * How many of the ids in s are mailboxes of account (SPI connected).
 * read_only: with the caller's snapshot (a STABLE caller); else after this
 * command's earlier writes, as a VOLATILE function's statement sees them.
 */
static int64
count_mailboxes(Datum account, const IdSet *s, bool read_only)
{
	Oid			types[2] = {TEXTOID, TEXTARRAYOID};
	Datum		values[2] = {account, set_to_array(s)};
	bool		isnull;
	int			ret;

	ret = SPI_execute_plan(mc_spi_kept_plan(&count_boxes_plan,
											"SELECT count(*) FROM mailcluster.mailboxes "
											"WHERE account_id = $1 AND id = ANY ($2)",
											2, types),
						   values, NULL, read_only, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "mailcluster: counting mailboxes failed: %s", SPI_result_code_string(ret));
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * A mailboxIds value ({id: true}, ids possibly "#creationId") resolved into
 * *out; false when it is not an object, a value is not true, an id does not
 * resolve, it is empty, or an id is not a mailbox of account.  SPI
 * connected; read_only as for count_mailboxes.
 */
static bool
mailbox_ids(Datum account, Jsonb *m, Jsonb *cids, IdSet *out, bool read_only)
{
	JsonbIterator *it;
	JsonbValue	k,
				v;

	set_init(out, 4);
	if (m == NULL || !JB_ROOT_IS_OBJECT(m))
		return false;
	it = JsonbIteratorInit(&m->root);
	(void) JsonbIteratorNext(&it, &k, true);	/* WJB_BEGIN_OBJECT */
	while (JsonbIteratorNext(&it, &k, true) == WJB_KEY)
	{
		char	   *id;

		(void) JsonbIteratorNext(&it, &v, true);
		if (v.type != jbvBool || !v.val.boolean)
			return false;
		id = mc_jmap_resolve_id(k.val.string.val, k.val.string.len, cids);
		if (id == NULL)
			return false;
		set_add(out, id);
	}
	return out->n > 0 && count_mailboxes(account, out, read_only) == out->n;
}

/* See jmap_email_patch.h. */
Jsonb *
mc_jmap_set_error(const char *type, const char *description, char **props, int n_props)
{
	JsonbParseState *state = NULL;
	JsonbValue	k,
				v;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
#define PUSH_STR(key, str) \
	do { \
		k.type = jbvString; k.val.string.val = (char *) (key); k.val.string.len = strlen(key); \
		pushJsonbValue(&state, WJB_KEY, &k); \
		v.type = jbvString; v.val.string.val = (char *) (str); v.val.string.len = strlen(str); \
		pushJsonbValue(&state, WJB_VALUE, &v); \
	} while (0)
	PUSH_STR("type", type);
	if (description != NULL)
		PUSH_STR("description", description);
	if (props != NULL)
	{
		k.type = jbvString;
		k.val.string.val = "properties";
		k.val.string.len = strlen("properties");
		pushJsonbValue(&state, WJB_KEY, &k);
		pushJsonbValue(&state, WJB_BEGIN_ARRAY, NULL);
		for (int i = 0; i < n_props; i++)
		{
			v.type = jbvString;
			v.val.string.val = props[i];
			v.val.string.len = strlen(props[i]);
			pushJsonbValue(&state, WJB_ELEM, &v);
		}
		pushJsonbValue(&state, WJB_END_ARRAY, NULL);
	}
#undef PUSH_STR
	return JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));
}

/* A one-key object {key: true}, for jsonb_concat. */
static Jsonb *
true_object(const char *key)
{
	JsonbParseState *state = NULL;
	JsonbValue	k,
				v;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	pushJsonbValue(&state, WJB_KEY, &k);
	v.type = jbvBool;
	v.val.boolean = true;
	pushJsonbValue(&state, WJB_VALUE, &v);
	return JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));
}

/* Does object o hold key (whatever its value)? */
static bool
has_key(Jsonb *o, const char *key)
{
	return mc_jsonb_get(o, key) != NULL;
}

/* Does the path key (klen bytes) start with prefix? */
static bool
starts_with(const char *key, int klen, const char *prefix)
{
	int			plen = strlen(prefix);

	return klen >= plen && memcmp(key, prefix, plen) == 0;
}

/* See jmap_email_patch.h. */
Jsonb *
mc_jmap_email_patch_apply(Datum account, Datum eid, Jsonb *patch, Jsonb *cids)
{
	Oid			types2[2] = {TEXTOID, TEXTOID};
	Datum		values[3] = {account, eid, (Datum) 0};
	bool		isnull;
	int			ret;
	Jsonb	   *old_kw,
			   *kw;
	IdSet		old_mb,
				mb;
	char	  **bad;
	int			n_bad = 0;
	JsonbIterator *it;
	JsonbValue	k,
				v;
	bool		kw_changed,
				mb_changed;
	IdSet		touched;		/* mailboxes whose counts change */
	char	   *account_s = TextDatumGetCString(account);
	char	   *eid_s = TextDatumGetCString(eid);

	ret = SPI_execute_plan(mc_spi_kept_plan(&email_plan,
											"SELECT e.keywords, ARRAY(SELECT m.mailbox_id "
											"  FROM mailcluster.email_mailboxes m "
											" WHERE m.account_id = $1 AND m.email_id = $2) "
											"FROM mailcluster.emails e WHERE e.account_id = $1 AND e.id = $2",
											2, types2),
						   values, NULL, false, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "mailcluster: reading an email failed: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
		return mc_jmap_set_error("notFound", NULL, NULL, 0);
	old_kw = DatumGetJsonbPCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	set_from_array(&old_mb, SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	if (patch == NULL || !JB_ROOT_IS_OBJECT(patch))
		return mc_jmap_set_error("invalidPatch", "the patch must be an object", NULL, 0);

	kw = old_kw;
	set_copy(&mb, &old_mb);
	bad = palloc(sizeof(char *) * (JsonContainerSize(&patch->root) + 1));
	it = JsonbIteratorInit(&patch->root);
	(void) JsonbIteratorNext(&it, &k, true);	/* WJB_BEGIN_OBJECT */
	while (JsonbIteratorNext(&it, &k, true) == WJB_KEY)
	{
		const char *key = k.val.string.val;
		int			klen = k.val.string.len;
		bool		ok = true;

		(void) JsonbIteratorNext(&it, &v, true);
		if (klen == 8 && memcmp(key, "keywords", 8) == 0)
		{
			Jsonb	   *val = JsonbValueToJsonb(&v);
			Jsonb	   *nkw = mc_jmap_keywords_normalize(val);

			if (nkw == NULL)
				ok = false, kw = old_kw;
			else
				kw = nkw;
		}
		else if (starts_with(key, klen, "keywords/"))
		{
			const char *name = key + 9;
			int			nlen = klen - 9;

			if (v.type == jbvBool && v.val.boolean && mc_jmap_valid_keyword(name, nlen))
				kw = DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(kw),
														JsonbPGetDatum(true_object(mc_jmap_keyword_lower(name, nlen)))));
			else if (v.type == jbvNull)
				kw = DatumGetJsonbP(DirectFunctionCall2(jsonb_delete, JsonbPGetDatum(kw),
														CStringGetTextDatum(mc_jmap_keyword_lower(name, nlen))));
			else
				ok = false;
		}
		else if (klen == 10 && memcmp(key, "mailboxIds", 10) == 0)
		{
			IdSet		nmb;

			if (v.type == jbvBinary && mailbox_ids(account, JsonbValueToJsonb(&v), cids, &nmb, false))
				mb = nmb;
			else
				ok = false, set_copy(&mb, &old_mb);
		}
		else if (starts_with(key, klen, "mailboxIds/"))
		{
			char	   *mid = mc_jmap_resolve_id(key + 11, klen - 11, cids);

			if (v.type == jbvBool && v.val.boolean && mid != NULL)
			{
				IdSet		one;

				set_init(&one, 1);
				set_add(&one, mid);
				if (count_mailboxes(account, &one, false) == 1)
					set_add(&mb, mid);
				else
					ok = false;
			}
			else if (v.type == jbvNull && mid != NULL)
				set_remove(&mb, mid);
			else
				ok = false;
		}
		else
			ok = false;
		if (!ok)
			bad[n_bad++] = pnstrdup(key, klen);
	}
	if (n_bad > 0)
		return mc_jmap_set_error("invalidProperties", NULL, bad, n_bad);
	if (mb.n == 0)
	{
		char	   *prop = "mailboxIds";

		return mc_jmap_set_error("invalidProperties", "an email must be in at least one mailbox", &prop, 1);
	}

	set_init(&touched, old_mb.n + mb.n);
	kw_changed = !DatumGetBool(DirectFunctionCall2(jsonb_eq, JsonbPGetDatum(kw), JsonbPGetDatum(old_kw)));
	mb_changed = !set_equal(&mb, &old_mb);
	if (kw_changed)
	{
		Oid			types[3] = {TEXTOID, TEXTOID, JSONBOID};

		values[2] = JsonbPGetDatum(kw);
		ret = SPI_execute_plan(mc_spi_kept_plan(&set_keywords_plan,
												"UPDATE mailcluster.emails SET keywords = $3 "
												"WHERE account_id = $1 AND id = $2",
												3, types),
							   values, NULL, false, 0);
		if (ret != SPI_OK_UPDATE)
			elog(ERROR, "mailcluster: updating keywords failed: %s", SPI_result_code_string(ret));
		/* read or unread: the unread counts of its mailboxes change */
		if (has_key(kw, "$seen") != has_key(old_kw, "$seen"))
			for (int i = 0; i < old_mb.n; i++)
				set_add(&touched, old_mb.ids[i]);
	}
	if (mb_changed)
	{
		Oid			types[3] = {TEXTOID, TEXTOID, TEXTARRAYOID};

		values[2] = set_to_array(&mb);
		ret = SPI_execute_plan(mc_spi_kept_plan(&unfile_plan,
												"DELETE FROM mailcluster.email_mailboxes "
												"WHERE account_id = $1 AND email_id = $2 AND mailbox_id <> ALL ($3)",
												3, types),
							   values, NULL, false, 0);
		if (ret != SPI_OK_DELETE)
			elog(ERROR, "mailcluster: unfiling an email failed: %s", SPI_result_code_string(ret));
		ret = SPI_execute_plan(mc_spi_kept_plan(&file_plan,
												"INSERT INTO mailcluster.email_mailboxes (account_id, email_id, mailbox_id) "
												"SELECT $1, $2, x FROM unnest($3::text[]) x ON CONFLICT DO NOTHING",
												3, types),
							   values, NULL, false, 0);
		if (ret != SPI_OK_INSERT)
			elog(ERROR, "mailcluster: filing an email failed: %s", SPI_result_code_string(ret));
		/* both sides of the move: the mailboxes entered and those left */
		for (int i = 0; i < mb.n; i++)
			if (!set_contains(&old_mb, mb.ids[i]))
				set_add(&touched, mb.ids[i]);
		for (int i = 0; i < old_mb.n; i++)
			if (!set_contains(&mb, old_mb.ids[i]))
				set_add(&touched, old_mb.ids[i]);
	}
	if (kw_changed || mb_changed)
	{
		/* the mailboxes touched (distinct: a set) and the email, one INSERT */
		const char **typs = palloc(sizeof(char *) * (touched.n + 1));
		const char **objs = palloc(sizeof(char *) * (touched.n + 1));

		for (int i = 0; i < touched.n; i++)
		{
			typs[i] = "Mailbox";
			objs[i] = touched.ids[i];
		}
		typs[touched.n] = "Email";
		objs[touched.n] = eid_s;
		mc_jmap_record_changes(account_s, touched.n + 1, typs, objs, 'u');
	}
	return NULL;
}

/*
 * _email_patch(account text, eid text, patch jsonb, cids jsonb) RETURNS
 * jsonb — apply an Email/set update patch to email eid of account at the
 * index being applied: NULL on success, else its SetError (notFound,
 * invalidPatch, invalidProperties naming every bad path, or an email left
 * in no mailbox).  Marks the email changed, and its mailboxes when their
 * counts change: all of them when $seen flips, those entered and left on a
 * move.  Only inside _apply.
 */
Datum
mc_jmap_email_patch(PG_FUNCTION_ARGS)
{
	MemoryContext callerctx = CurrentMemoryContext;
	Jsonb	   *err;
	Jsonb	   *result = NULL;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_JSONB_P(mc_jmap_set_error("notFound", NULL, NULL, 0));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "mailcluster: SPI_connect failed");
	err = mc_jmap_email_patch_apply(PG_GETARG_DATUM(0), PG_GETARG_DATUM(1),
					  PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2),
					  PG_ARGISNULL(3) ? NULL : PG_GETARG_JSONB_P(3));
	if (err != NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(callerctx);

		result = DatumGetJsonbPCopy(JsonbPGetDatum(err));
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	if (result == NULL)
		PG_RETURN_NULL();
	PG_RETURN_JSONB_P(result);
}

/*
 * _mailbox_ids(account text, m jsonb, cids jsonb) RETURNS text[] — the
 * mailbox ids of a mailboxIds value ({id: true}, "#creationId" resolved
 * through cids), sorted in byte order; NULL when m is not such an object,
 * is empty, or names an id that is not a mailbox of account.
 */
Datum
mc_jmap_mailbox_ids(PG_FUNCTION_ARGS)
{
	MemoryContext callerctx = CurrentMemoryContext;
	IdSet		s;
	Datum		result = (Datum) 0;
	bool		ok;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "mailcluster: SPI_connect failed");
	ok = mailbox_ids(PG_GETARG_DATUM(0), PG_GETARG_JSONB_P(1),
					 PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2), &s, true);
	if (ok)
	{
		MemoryContext old = MemoryContextSwitchTo(callerctx);

		result = set_to_array(&s);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	if (!ok)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}
