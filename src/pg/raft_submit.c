/*
 * raft_submit.c — the write path:
 *
 *   mailcluster._raft_submit(cmd jsonb, request_id text)  the command (with
 *              its request_id added as "request_id") replicated as one
 *              NORMAL log entry; returns the response the local apply of
 *              that entry produced (mailcluster._apply's result)
 *   mailcluster._submit(cmd jsonb, request_id text)  the JMAP layer's one
 *              way in: answers a request_id applied before from
 *              _responses, honours the tests' fault injection, then
 *              _raft_submit
 */
#include "postgres.h"

#include "common/pg_prng.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "mc_guc.h"
#include "raft_call.h"
#include "raft_shmem.h"
#include "raft_submit.h"
#include "spi_plans.h"

PG_FUNCTION_INFO_V1(mc_raft_submit);
PG_FUNCTION_INFO_V1(mc_jmap_submit);

static SPIPlanPtr response_plan = NULL;

/*
 * A fresh request id: "r-", 16 hex digits of the current time in
 * microseconds and 16 from this process's PRNG (seeded from
 * pg_strong_random at process start, so ids differ across processes,
 * nodes and restarts).  The id need not be secret, only unique.  Leading
 * with the time makes ids grow, so the apply workers' inserts into
 * _responses' primary key land on its rightmost leaf instead of a random
 * page each (that index insert was the largest cost of applying a small
 * write); calling OpenSSL's generator per write also cost more than
 * building the entry.
 */
static char *
generate_request_id(void)
{
	uint64		now = (uint64) GetCurrentTimestamp();
	uint64		salt = pg_prng_uint64(&pg_global_prng_state);

	return psprintf("r-%016llx%016llx", (unsigned long long) now, (unsigned long long) salt);
}

/*
 * The entry's bytes: the text of cmd || {"request_id": rid}.  JSON text
 * keeps the entry format readable and makes the apply side a dispatch on
 * cmd->>'op'.
 */
static char *
build_entry(Jsonb *cmd, const char *rid, uint32 *len)
{
	Datum		ridj;
	Datum		merged;
	char	   *txt;

	/* {"request_id": "<rid>"}, built as a jsonb value (no quoting issues) */
	{
		JsonbValue	k,
					v;
		JsonbParseState *state = NULL;
		JsonbValue *res;

		pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
		k.type = jbvString;
		k.val.string.val = "request_id";
		k.val.string.len = strlen("request_id");
		pushJsonbValue(&state, WJB_KEY, &k);
		v.type = jbvString;
		v.val.string.val = (char *) rid;
		v.val.string.len = strlen(rid);
		pushJsonbValue(&state, WJB_VALUE, &v);
		res = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
		ridj = JsonbPGetDatum(JsonbValueToJsonb(res));
	}
	merged = DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(cmd), ridj);
	txt = JsonbToCString(NULL, &DatumGetJsonbP(merged)->root, VARSIZE(DatumGetJsonbP(merged)));
	*len = strlen(txt);
	return txt;
}

/*
 * Re-raise an error the apply produced for this command: the reply holds
 * "SQLSTATE: message" (apply_worker.c).
 */
static void
raise_apply_error(const char *reply)
{
	int			code = ERRCODE_INTERNAL_ERROR;
	const char *msg = reply;

	if (reply && strlen(reply) > 7 && reply[5] == ':')
	{
		code = MAKE_SQLSTATE(reply[0], reply[1], reply[2], reply[3], reply[4]);
		msg = reply + 7;
	}
	ereport(ERROR,
			(errcode(code),
			 errmsg("%s", msg ? msg : "the command failed to apply"),
			 errdetail("The command was committed to the Raft log and failed the same way on every node.")));
}

/*
 * The response stored under rid in mailcluster._responses, copied into the
 * caller's context; false when there is none.  Read with the latest
 * snapshot, not the caller's: under REPEATABLE READ or SERIALIZABLE the
 * transaction's snapshot predates the apply that stored the response of
 * the write just made (TAP 033), and a retry must see a response committed
 * since its transaction began.
 */
bool
mc_lookup_response(const char *rid, Datum *result)
{
	Oid			types[1] = {TEXTOID};
	Datum		args[1];
	bool		found = false;
	int			ret;

	args[0] = CStringGetTextDatum(rid);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "mailcluster: SPI_connect failed");
	ret = SPI_execute_snapshot(mc_spi_kept_plan(&response_plan,
												"SELECT response FROM mailcluster._responses WHERE request_id = $1",
												1, types),
							   args, NULL, GetLatestSnapshot(), InvalidSnapshot, true, false, 1);
	if (ret == SPI_OK_SELECT && SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
		{
			*result = SPI_datumTransfer(d, false, -1);
			found = true;
		}
	}
	SPI_finish();
	return found;
}

/*
 * A response too big for the slot: read what the apply stored under rid in
 * mailcluster._responses (committed before the apply worker answered, so
 * visible to a snapshot taken now).
 */
static Datum
stored_response(const char *rid)
{
	Datum		result = (Datum) 0;

	if (!mc_lookup_response(rid, &result))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("mailcluster: the write was applied but its response was not found"),
				 errhint("Retry with the same request_id (%s).", rid)));
	return result;
}

/*
 * Replicate cmd under rid (generated when NULL) and return its response
 * from the local apply.
 */
static Datum
submit(Jsonb *cmd, char *rid)
{
	char	   *entry;
	uint32		len;
	McRaftCallResult res;
	int			timeout_ms = mc_raft_commit_timeout();
	bool		generated = rid == NULL;

	if (generated)
		rid = generate_request_id();
	mc_check_request_id(rid, MC_REQUEST_ID_MAX + MC_REQUEST_ID_AFFIXES);

	mc_raft_check_redirect();
	entry = build_entry(cmd, rid, &len);
	if (len > MC_RAFT_ENTRY_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("mailcluster: this write is too large for one Raft log entry"),
				 errdetail("The entry has %u bytes; at most %d are allowed.", len, MC_RAFT_ENTRY_MAX)));

	/* MC001 offers a generated id for no retry: its response may not be kept */
	if (!mc_raft_call(MC_REQ_PROPOSE, entry, len, 0, generated ? MC_PROPOSE_NO_RETRY : 0,
					  timeout_ms, &res))
		ereport(ERROR,
				(errcode(ERRCODE_MC_COMMIT_TIMEOUT),
				 errmsg("mailcluster: the write was not committed within mailcluster.raft_commit_timeout (%d ms)",
						timeout_ms),
				 errdetail("Its outcome is unknown: it may still be committed."),
				 generated ?
				 errhint("Check whether it took effect before repeating it; jmap() with a request_id can be retried safely.") :
				 errhint("Retry with the same request_id (%s).", rid)));
	if (res.err == MC_RAFT_ERR_INVALID && res.reply != NULL)
		raise_apply_error(res.reply);
	if (res.err != MC_RAFT_OK)
		mc_raft_raise_for(res.err, "this write", generated ? NULL : rid);
	if (!res.reply_valid)
		return stored_response(rid);
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(res.reply));
}

/* See raft_submit.h. */
void
mc_check_request_id(const char *rid, int max)
{
	size_t		len = strlen(rid);

	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("mailcluster: request_id must not be empty")));
	if (len > (size_t) max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("mailcluster: request_id is too long"),
				 errdetail("It has %zu bytes; at most %d are allowed.", len, max)));
}

/* _raft_submit(cmd jsonb, request_id text DEFAULT NULL) RETURNS jsonb */
Datum
mc_raft_submit(PG_FUNCTION_ARGS)
{
	Jsonb	   *cmd;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("mailcluster: the command must not be NULL")));
	cmd = PG_GETARG_JSONB_P(0);
	if (!JB_ROOT_IS_OBJECT(cmd))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("mailcluster: the command must be a JSON object with an \"op\" key")));
	PG_RETURN_DATUM(submit(cmd, PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1))));
}

/*
 * _submit(cmd jsonb, request_id text DEFAULT NULL) RETURNS jsonb — propose
 * cmd and return its response (89_submit.sql has the contract): a
 * request_id applied before and known here answers its stored response at
 * once.  With mailcluster.enable_fault_injection on, mcjmap.fault_submit =
 * 'MC001' or 'MC003' makes the proposal fail that way (tests only).
 */
Datum
mc_jmap_submit(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(mc_submit_command(PG_ARGISNULL(0) ? NULL : PG_GETARG_JSONB_P(0),
									  PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1))));
}

/* See raft_submit.h. */
Datum
mc_submit_command(Jsonb *cmd, char *rid)
{
	const char *fault;
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = "op";
	k.val.string.len = 2;
	if (cmd == NULL || !JB_ROOT_IS_OBJECT(cmd) ||
		findJsonbValueFromContainer(&cmd->root, JB_FOBJECT, &k) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a command must be a JSON object with an \"op\"")));
	if (rid != NULL)
	{
		Datum		stored;

		if (mc_lookup_response(rid, &stored))
			return stored;
	}
	/* tests only: the placeholder mcjmap.fault_submit, with fault injection on */
	fault = mc_enable_fault_injection ? GetConfigOption("mcjmap.fault_submit", true, false) : NULL;
	if (fault != NULL && (strcmp(fault, "MC001") == 0 || strcmp(fault, "MC003") == 0))
		ereport(ERROR,
				(errcode(MAKE_SQLSTATE(fault[0], fault[1], fault[2], fault[3], fault[4])),
				 errmsg("injected failure %s of a proposal", fault)));
	return submit(cmd, rid);
}
