/*
 * jmap_op_account.c — the op account_create of the state machine, in C:
 *
 *   mailcluster._op_account_create(idx bigint, cmd jsonb) RETURNS jsonb
 *
 * cmd is {name}; the account is 'A' || base32(idx) and gets the six
 * standard mailboxes (Inbox, Drafts, Sent, Trash, Junk, Archive, with
 * their roles), whose ids are those _next_id('M') would give as the
 * command's first six ids, and one Mailbox change row each.  One statement
 * (three data-modifying parts) of one kept plan, applied on every node.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "apply_dispatch.h"
#include "jmap_json.h"
#include "session_state.h"
#include "spi_plans.h"

PG_FUNCTION_INFO_V1(mc_jmap_op_account_create);

#define N_STANDARD_MAILBOXES 6

static SPIPlanPtr create_plan = NULL;

/* $1 account, $2 name, $3 idx, $4 the six mailbox ids in sort order. */
static const char create_sql[] =
"WITH a AS (INSERT INTO mailcluster.accounts (id, name, created_idx) VALUES ($1, $2, $3)), "
"m AS (INSERT INTO mailcluster.mailboxes (account_id, id, name, role, sort_order) "
"      SELECT $1, $4[v.o], v.name, v.role, v.o * 10 "
"        FROM (VALUES (1, 'Inbox', 'inbox'), (2, 'Drafts', 'drafts'), (3, 'Sent', 'sent'), "
"                     (4, 'Trash', 'trash'), (5, 'Junk', 'junk'), (6, 'Archive', 'archive')) "
"             AS v(o, name, role) "
"      RETURNING id) "
"INSERT INTO mailcluster.changes (account_id, type, obj_id, idx, kind) "
"SELECT $1, 'Mailbox', m.id, $3, 'c' FROM m";

/*
 * _op_account_create(idx bigint, cmd jsonb) RETURNS jsonb — {"id": the new
 * account}.  A missing name fails on the table's NOT NULL, the same way on
 * every node.
 */
Datum
mc_jmap_op_account_create(PG_FUNCTION_ARGS)
{
	int64		idx = PG_GETARG_INT64(0);
	Jsonb	   *cmd = PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1);
	JsonbValue *name = mc_jsonb_get(cmd, "name");
	char	   *name_s;
	StringInfoData acct;
	Datum		ids[N_STANDARD_MAILBOXES];
	Oid			types[4] = {TEXTOID, TEXTOID, INT8OID, TEXTARRAYOID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	JsonbParseState *st = NULL;
	JsonbValue	v;
	int			ret;

	initStringInfo(&acct);
	appendStringInfoChar(&acct, 'A');
	mc_append_b32(&acct, idx);
	for (int o = 1; o <= N_STANDARD_MAILBOXES; o++)
	{
		StringInfoData id;

		initStringInfo(&id);
		appendStringInfoChar(&id, 'M');
		mc_append_b32(&id, idx);
		appendStringInfoChar(&id, '-');
		mc_append_b32(&id, o);
		ids[o - 1] = CStringGetTextDatum(id.data);
	}
	values[0] = CStringGetTextDatum(acct.data);
	name_s = mc_jsonb_text(name);
	if (name_s == NULL)
		nulls[1] = 'n';
	else
		values[1] = CStringGetTextDatum(name_s);
	values[2] = Int64GetDatum(idx);
	values[3] = PointerGetDatum(construct_array(ids, N_STANDARD_MAILBOXES, TEXTOID, -1, false,
												TYPALIGN_INT));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "mailcluster: SPI_connect failed");
	ret = SPI_execute_plan(mc_spi_kept_plan(&create_plan, create_sql, 4, types),
						   values, nulls, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "mailcluster: creating an account failed: %s", SPI_result_code_string(ret));
	mc_session_state_note_account(idx);
	SPI_finish();

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	mc_jsonb_push_key(&st, "id");
	v = mc_jsonb_string(acct.data);
	pushJsonbValue(&st, WJB_VALUE, &v);
	PG_RETURN_JSONB_P(JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL)));
}
