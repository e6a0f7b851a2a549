/*
 * maint_worker.c — the "mailcluster maintenance" background worker.
 *
 * It connects to mailcluster.database, waits until the extension exists
 * there, then every maintenance_interval (60 s) runs one purge round in
 * its own transaction: SELECT mailcluster.purge_run().  purge_run()
 * itself checks the roles (mailcluster.has_role): the holder of
 * purge.accounts proposes purge_changes, the holder of purge.stores
 * proposes purge_blobs; on other nodes it proposes nothing.  Both are
 * ordinary log entries, applied on every node.
 *
 * Before it calls purge_run(), a round looks whether this node holds a
 * purge role with something to purge (no change row written since the last
 * horizon below the cut, no stored response past the cut; no destroyed
 * email, upload grant or blob part past the cut: skipped), so an idle
 * cluster does not grow its log with empty purges and only the role
 * holders read the tables.
 *
 * Errors never stop the worker: MC001 / MC003 (no majority, leader unknown
 * — expected on a minority side) are logged at DEBUG1, anything else as a
 * WARNING, and the next round comes an interval later.
 *
 * Settings (SIGHUP): mailcluster.maintenance_interval (seconds between
 * rounds, default 60, 0 = no rounds), mailcluster.purge_keep_entries and
 * mailcluster.purge_blob_grace (purge_run()'s defaults, read by the check
 * too, so both use the same values).  A reload takes effect at the next
 * round, timed from the last one with the new interval.
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "maint_worker.h"
#include "mc_guc.h"
#include "worker_session.h"

#define MAINT_EXT_POLL_MS			1000	/* while the extension is missing */

/*
 * The round's check, for the settings it was built with
 * (maint_configure, at start and after a reload).
 */
static char maint_check_sql[4096];

/* See maint_worker.h. */
void
mc_maint_init(void)
{
	BackgroundWorker bgw;

	if (!process_shared_preload_libraries_in_progress)
		return;
	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = 10;
	strlcpy(bgw.bgw_library_name, "mailcluster", BGW_MAXLEN);
	strlcpy(bgw.bgw_function_name, "mc_maint_worker_main", BGW_MAXLEN);
	strlcpy(bgw.bgw_name, "mailcluster maintenance", BGW_MAXLEN);
	strlcpy(bgw.bgw_type, "mailcluster maintenance", BGW_MAXLEN);
	RegisterBackgroundWorker(&bgw);
}

/* Build the round's check for the current purge settings. */
static void
maint_configure(void)
{
	char		keep[32];
	char		grace[32];
	int			len;

	/* the same values purge_run() takes by default */
	snprintf(keep, sizeof(keep), "%d", mc_purge_keep_entries);
	snprintf(grace, sizeof(grace), "%d", mc_purge_blob_grace_s);

	/*
	 * Is there anything for this node to propose?  Only the holder of a
	 * role looks (purge_run proposes nothing elsewhere), so one node, not
	 * every node, pays for the look.  The AND / OR of a target list stop at
	 * the first false / true operand, and an uncorrelated EXISTS is run only
	 * when reached, so a node holding neither role reads no table.
	 *
	 * purge.accounts: change rows written between the last horizon
	 * (_purge_state) and the cut, found through changes_idx, or stored
	 * responses below the cut.  The change test does not ask whether a
	 * newer row outdates one of them: answering that probed the primary key
	 * once per row since the horizon, 1.6 s on all three nodes at once with
	 * 250k rows, and stalled every write behind it.  So a round may propose
	 * a purge that removes nothing, at most once per interval and only after
	 * writes; and an old row outdated only by writes newer than the cut
	 * waits for a round whose window holds a write, which an idle cluster
	 * never has: it stays, as it would have if the purge came later.
	 *
	 * The cut must also have moved by more than one index since the last
	 * horizon: a purge is itself a log entry, so on an idle cluster each
	 * round's purge moves the next round's cut by exactly one.  Without
	 * this, rounds went on proposing a purge apiece until the cut had
	 * crept past the last keep_entries writes (TAP 032 saw it).
	 *
	 * purge.stores: what _op_purge_blobs (src/sql/55_jmap_apply.sql) would
	 * look at: emails destroyed since its last round whose grant is past
	 * the cut or gone (_blob_candidates; a younger grant is looked at when
	 * it passes the cut), grants that passed the cut since then or were
	 * made since with a time already past it, and blob parts past the cut.
	 * Again without asking whether an email still uses them, so that the
	 * horizon moves on: while mail comes in, a round an hour later
	 * proposes a purge.
	 */
	len = snprintf(maint_check_sql, sizeof(maint_check_sql),
			 "WITH cut AS (SELECT a.applied_index - %s AS idx, now() - make_interval(secs => %s) AS t "
			 "               FROM mailcluster._raft_applied a) "
			 "SELECT (mailcluster._holds_role('purge.accounts') "
			 "        AND (SELECT idx FROM cut) > (SELECT p.changes_before FROM mailcluster._purge_state p) + 1 AND ("
			 "          EXISTS (SELECT 1 FROM mailcluster.changes m "
			 "                   WHERE m.idx >= (SELECT p.changes_before FROM mailcluster._purge_state p) "
			 "                     AND m.idx < (SELECT idx FROM cut)) "
			 "       OR EXISTS (SELECT 1 FROM mailcluster._responses r WHERE r.idx < (SELECT idx FROM cut)))) "
			 "    OR (mailcluster._holds_role('purge.stores') AND ("
			 "          EXISTS (SELECT 1 FROM mailcluster._blob_candidates c "
			 "                   WHERE NOT EXISTS (SELECT 1 FROM mailcluster.account_blobs ab "
			 "                                      WHERE ab.account_id = c.account_id AND ab.blob_id = c.blob_id "
			 "                                        AND (ab.granted_at >= (SELECT t FROM cut) OR ab.granted_at IS NULL))) "
			 "       OR EXISTS (SELECT 1 FROM mailcluster.account_blobs ab "
			 "                   WHERE ab.granted_at >= (SELECT p.blobs_time FROM mailcluster._purge_state p) "
			 "                     AND ab.granted_at < (SELECT t FROM cut)) "
			 "       OR EXISTS (SELECT 1 FROM mailcluster.account_blobs ab "
			 "                   WHERE ab.idx > (SELECT p.blobs_time_idx FROM mailcluster._purge_state p) "
			 "                     AND ab.granted_at < (SELECT t FROM cut)) "
			 "       OR EXISTS (SELECT 1 FROM mailcluster._blob_parts p WHERE p.at < (SELECT t FROM cut))))",
			 keep, grace);
	if (len < 0 || len >= (int) sizeof(maint_check_sql))
		elog(ERROR, "mailcluster maintenance: the round's check does not fit its buffer");
}

typedef enum
{
	ROUND_NO_EXTENSION,
	ROUND_NOTHING,
	ROUND_DONE,
	ROUND_FAILED
} RoundResult;

/*
 * One round in its own transaction (with probe_only, just look for the
 * extension).  Errors are caught, logged and the
 * transaction rolled back; the worker goes on.
 */
static RoundResult
maint_round(MemoryContext keepcxt, bool probe_only)
{
	RoundResult result = ROUND_NOTHING;
	char	   *answer = NULL;
	volatile bool in_xact = false;

	SetCurrentStatementStartTimestamp();
	PG_TRY();
	{
		bool		isnull;
		int			ret;

		StartTransactionCommand();
		in_xact = true;
		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, "mailcluster purge round");

		ret = SPI_execute("SELECT 1 FROM pg_extension WHERE extname = 'mailcluster'", true, 0);
		if (ret != SPI_OK_SELECT || SPI_processed != 1)
			result = ROUND_NO_EXTENSION;
		else if (!probe_only)
		{
			ret = SPI_execute(maint_check_sql, true, 0);
			if (ret == SPI_OK_SELECT && SPI_processed == 1 &&
				DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)) &&
				!isnull)
			{
				ret = SPI_execute("SELECT mailcluster.purge_run()::text", false, 0);
				if (ret == SPI_OK_SELECT && SPI_processed == 1)
				{
					char	   *v = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

					answer = MemoryContextStrdup(keepcxt, v ? v : "null");
				}
				result = ROUND_DONE;
			}
		}
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		in_xact = false;
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		int			elevel;

		MemoryContextSwitchTo(keepcxt);
		edata = CopyErrorData();
		FlushErrorState();
		if (in_xact)
			AbortCurrentTransaction();
		elevel = (edata->sqlerrcode == MAKE_SQLSTATE('M', 'C', '0', '0', '1') ||
				  edata->sqlerrcode == MAKE_SQLSTATE('M', 'C', '0', '0', '3')) ? DEBUG1 : WARNING;
		ereport(elevel,
				(errcode(edata->sqlerrcode),
				 errmsg("mailcluster maintenance: purge round failed: %s", edata->message),
				 edata->detail ? errdetail("%s", edata->detail) : 0));
		FreeErrorData(edata);
		result = ROUND_FAILED;
	}
	PG_END_TRY();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);

	if (answer != NULL)
	{
		ereport(DEBUG1, (errmsg("mailcluster maintenance: purge round: %s", answer)));
		pfree(answer);
	}
	return result;
}

/*
 * When the next round is due: an interval after the last one (or after the
 * extension appeared); never with maintenance_interval = 0.
 */
static TimestampTz
maint_next_round(TimestampTz since)
{
	if (mc_maintenance_interval_s <= 0)
		return DT_NOEND;
	return TimestampTzPlusMilliseconds(since, (int64) mc_maintenance_interval_s * 1000);
}

/* The worker's main function (bgw_function_name "mc_maint_worker_main"). */
void
mc_maint_worker_main(Datum arg)
{
	MemoryContext cxt;
	bool		have_extension = false;
	TimestampTz last_round = 0;	/* or when the extension appeared */

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(mc_database, NULL, 0);
	mc_worker_session_pin();
	pgstat_report_appname("mailcluster maintenance");
	SetConfigOption("application_name", "mailcluster maintenance", PGC_USERSET, PGC_S_SESSION);
	maint_configure();
	cxt = AllocSetContextCreate(TopMemoryContext, "mailcluster maintenance",
								ALLOCSET_DEFAULT_SIZES);
	ereport(DEBUG1,
			(errmsg("mailcluster maintenance: a purge round every %d s", mc_maintenance_interval_s)));

	for (;;)
	{
		TimestampTz now;
		TimestampTz next_round;
		long		wait_ms;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			maint_configure();
		}

		now = GetCurrentTimestamp();
		if (!have_extension)
		{
			/* looked for every second; once there, the first round is an interval away */
			if (maint_round(cxt, true) != ROUND_NO_EXTENSION)
			{
				have_extension = true;
				last_round = now;
			}
		}
		else if (now >= maint_next_round(last_round))
		{
			if (maint_round(cxt, false) == ROUND_NO_EXTENSION)
				have_extension = false;	/* dropped: wait for it again */
			last_round = GetCurrentTimestamp();
		}
		MemoryContextReset(cxt);

		if (!have_extension)
			wait_ms = MAINT_EXT_POLL_MS;
		else
		{
			next_round = maint_next_round(last_round);
			now = GetCurrentTimestamp();
			if (next_round == DT_NOEND)
				wait_ms = -1;	/* rounds off: only a reload or a signal wakes us */
			else if (next_round > now)
				wait_ms = (long) ((next_round - now + 999) / 1000);
			else
				continue;
		}
		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_EXIT_ON_PM_DEATH | (wait_ms >= 0 ? WL_TIMEOUT : 0),
						 wait_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
