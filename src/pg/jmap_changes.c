/*
 * jmap_changes.c — the change log of the JMAP state machine, in C:
 *
 *   mailcluster._change(account, typ, obj, kind)  record that obj changed at
 *                  the index being applied (every write op calls it, on
 *                  every node, once per object touched)
 *   mailcluster._state(account, typ)  the JMAP state string of a type: the
 *                  index of its last change (every /get and /set answer)
 *
 * As PL/pgSQL each was a function call around one or two statements and
 * cost more than the statements; here each is one kept plan.  The results
 * are those of the PL/pgSQL versions they replace (pg_regress jmap_*).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "apply_dispatch.h"
#include "jmap_changes.h"
#include "spi_plans.h"

PG_FUNCTION_INFO_V1(mc_jmap_change);
PG_FUNCTION_INFO_V1(mc_jmap_state);

static SPIPlanPtr change_plan = NULL;
static SPIPlanPtr state_plan = NULL;
static SPIPlanPtr created_plan = NULL;

/*
 * Within one index a create stays a create and a destroy wins: an object
 * created and updated by one command is reported created, one created and
 * destroyed is reported destroyed.
 */
#define CHANGE_CONFLICT_RULE \
"ON CONFLICT (account_id, type, idx, obj_id) DO UPDATE " \
"SET kind = CASE WHEN excluded.kind = 'd' THEN 'd' " \
"                WHEN changes.kind = 'c' THEN 'c' ELSE excluded.kind END"

static const char change_sql[] =
"INSERT INTO mailcluster.changes (account_id, type, obj_id, idx, kind) "
"VALUES ($1, $2, $3, $4, $5) " CHANGE_CONFLICT_RULE;

/*
 * A state is the greater of the type's newest change and the account's
 * creation index.  Every change row of an account comes at or after its
 * creation (the account's id is made from its creation index, and purges
 * keep each type's newest row), so the newest change, when there is one,
 * is the state, and the account row is read only for a type that never
 * changed.  Two plain lookups instead of one statement with two sub-selects
 * and greatest(): this runs twice in every Email/set apply, on every node.
 * ORDER BY ... LIMIT 1 keeps the lookup one step down the changes key,
 * whatever the statistics say.
 */
static const char state_sql[] =
"SELECT c.idx FROM mailcluster.changes c "
" WHERE c.account_id = $1 AND c.type = $2 ORDER BY c.idx DESC LIMIT 1";
static const char created_sql[] =
"SELECT a.created_idx FROM mailcluster.accounts a WHERE a.id = $1";

/* Email change rows recorded by this process (mc_jmap_email_changes_recorded) */
static uint64 email_changes_recorded = 0;

/* Is the change type typ (len bytes, not terminated) "Email"? */
static inline bool
is_email_type(const char *typ, size_t len)
{
	return len == 5 && memcmp(typ, "Email", 5) == 0;
}

/*
 * Run the change INSERT (SPI connected); isnull[] flags account, typ, obj
 * and kind, and a NULL reaches the table's NOT NULL checks.
 */
static void
record_change(Datum account, Datum typ, Datum obj, Datum kind, const bool *isnull)
{
	Oid			types[5] = {TEXTOID, TEXTOID, TEXTOID, INT8OID, BPCHAROID};
	Datum		values[5];
	char		nulls[5];
	int			ret;

	values[0] = account;
	values[1] = typ;
	values[2] = obj;
	values[3] = Int64GetDatum(mc_apply_current_index());
	values[4] = kind;
	nulls[0] = isnull[0] ? 'n' : ' ';
	nulls[1] = isnull[1] ? 'n' : ' ';
	nulls[2] = isnull[2] ? 'n' : ' ';
	nulls[3] = ' ';
	nulls[4] = isnull[3] ? 'n' : ' ';
	ret = SPI_execute_plan(mc_spi_kept_plan(&change_plan, change_sql, 5, types),
						   values, nulls, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "mailcluster: recording a change failed: %s",
			 SPI_result_code_string(ret));
	if (!isnull[1] && is_email_type(VARDATA_ANY(DatumGetPointer(typ)),
									VARSIZE_ANY_EXHDR(DatumGetPointer(typ))))
		email_changes_recorded++;
}

/*
 * One INSERT for several changes of one kind at the index being applied.
 * The (type, object) pairs must be distinct: one statement cannot update a
 * row twice.
 */
static const char changes_sql[] =
"INSERT INTO mailcluster.changes (account_id, type, obj_id, idx, kind) "
"SELECT $1, u.t, u.o, $2, $3 FROM unnest($4::text[], $5::text[]) AS u(t, o) "
CHANGE_CONFLICT_RULE;

static SPIPlanPtr changes_plan = NULL;

/* See jmap_changes.h. */
void
mc_jmap_record_changes(const char *account, int n, const char *const *typs,
					   const char *const *objs, char kind)
{
	Oid			types[5] = {TEXTOID, INT8OID, BPCHAROID, TEXTARRAYOID, TEXTARRAYOID};
	Datum		values[5];
	Datum	   *t;
	Datum	   *o;
	char		k[2] = {kind, '\0'};
	int			emails = 0;
	int			ret;

	if (n == 0)
		return;
	t = palloc(sizeof(Datum) * n);
	o = palloc(sizeof(Datum) * n);
	for (int i = 0; i < n; i++)
	{
		t[i] = CStringGetTextDatum(typs[i]);
		o[i] = CStringGetTextDatum(objs[i]);
		if (is_email_type(typs[i], strlen(typs[i])))
			emails++;
	}
	values[0] = CStringGetTextDatum(account);
	values[1] = Int64GetDatum(mc_apply_current_index());
	values[2] = DirectFunctionCall3(bpcharin, CStringGetDatum(k),
									ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
	values[3] = PointerGetDatum(construct_array(t, n, TEXTOID, -1, false, TYPALIGN_INT));
	values[4] = PointerGetDatum(construct_array(o, n, TEXTOID, -1, false, TYPALIGN_INT));
	ret = SPI_execute_plan(mc_spi_kept_plan(&changes_plan, changes_sql, 5, types),
						   values, NULL, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "mailcluster: recording changes failed: %s",
			 SPI_result_code_string(ret));
	email_changes_recorded += emails;
}

/* See jmap_changes.h. */
uint64
mc_jmap_email_changes_recorded(void)
{
	return email_changes_recorded;
}

/*
 * _change(account text, typ text, obj text, kind char) RETURNS void —
 * record that obj of type typ in account changed (kind c/u/d) at the index
 * being applied.  Only inside _apply (raises elsewhere).
 */
Datum
mc_jmap_change(PG_FUNCTION_ARGS)
{
	bool		isnull[4];

	for (int i = 0; i < 4; i++)
		isnull[i] = PG_ARGISNULL(i);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "mailcluster: SPI_connect failed");
	record_change(PG_GETARG_DATUM(0), PG_GETARG_DATUM(1), PG_GETARG_DATUM(2),
				  PG_GETARG_DATUM(3), isnull);
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * The state query (SPI connected): the state index, or false when NULL.
 * read_only: with the caller's snapshot; else after this command's writes.
 */
static bool
state_index(Datum account, bool account_null, Datum typ, bool typ_null, bool read_only,
			int64 *idx)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2] = {account, typ};
	char		nulls[2] = {account_null ? 'n' : ' ', typ_null ? 'n' : ' '};
	int			ret;
	bool		isnull;
	Datum		d;

	ret = SPI_execute_plan(mc_spi_kept_plan(&state_plan, state_sql, 2, types),
						   values, nulls, read_only, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "mailcluster: reading a state failed: %s",
			 SPI_result_code_string(ret));
	if (SPI_processed == 0)
	{
		/* the type never changed: the account's creation index, if any */
		ret = SPI_execute_plan(mc_spi_kept_plan(&created_plan, created_sql, 1, types),
							   values, nulls, read_only, 1);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "mailcluster: reading a state failed: %s",
				 SPI_result_code_string(ret));
		if (SPI_processed == 0)
			return false;
	}
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
		*idx = DatumGetInt64(d);
	return !isnull;
}

/* See jmap_changes.h. */
char *
mc_jmap_state_of(Datum account, const char *typ)
{
	int64		idx;

	if (!state_index(account, false, CStringGetTextDatum(typ), false, false, &idx))
		return NULL;
	return psprintf(INT64_FORMAT, idx);
}

/*
 * _state(account text, typ text) RETURNS text — the JMAP state string of
 * typ in account: the Raft index of its last change there, or the
 * account's creation index when it never changed (the greater of the two).
 * NULL for an unknown account without changes.  Reads with the caller's
 * snapshot (STABLE).
 */
Datum
mc_jmap_state(PG_FUNCTION_ARGS)
{
	bool		found;
	int64		idx = 0;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "mailcluster: SPI_connect failed");
	found = state_index(PG_GETARG_DATUM(0), PG_ARGISNULL(0), PG_GETARG_DATUM(1), PG_ARGISNULL(1),
						true, &idx);
	SPI_finish();
	if (!found)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(psprintf(INT64_FORMAT, idx)));
}
