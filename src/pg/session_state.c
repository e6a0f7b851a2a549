/*
 * session_state.c — the JMAP session state (the creation index of the
 * newest account, RFC 8620 §2 sessionState) in shared memory.
 *
 * Every jmap() response carries it, and reading it with a statement cost a
 * request's backend about a tenth of its CPU (executor start-up, locks).
 * Accounts are created only by applying account_create, so the transaction
 * that applies one publishes the newer of the published value and its
 * account's creation index (the table's newest, read once, when nothing
 * is published) from its commit callback, tagged with the database and
 * the accounts table it describes; a snapshot install, which replaces the
 * accounts, withdraws it when it commits.  A reader uses the
 * value only for the same database and table (a dropped and recreated
 * extension has a new table), else reads the table as before.  The value
 * is at least as new as any snapshot that sees the accounts it counts.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/spin.h"
#include "utils/lsyscache.h"

#include "raft_shmem.h"
#include "session_state.h"
#include "spi_plans.h"

static SPIPlanPtr newest_plan = NULL;

/* This transaction's business with the shared value. */
static bool callback_registered = false;
static bool publish_pending = false;
static bool forget_pending = false;
static Oid	pending_rel = InvalidOid;
static int64 pending_state = 0;

/* mailcluster.accounts in this database, or InvalidOid. */
static Oid
accounts_relid(void)
{
	Oid			nsp = get_namespace_oid("mailcluster", true);

	return OidIsValid(nsp) ? get_relname_relid("accounts", nsp) : InvalidOid;
}

static void
session_xact_cb(XactEvent event, void *arg)
{
	if (McRaft == NULL)
		return;
	if (event == XACT_EVENT_COMMIT && (publish_pending || forget_pending))
	{
		SpinLockAcquire(&McRaft->session_mutex);
		if (forget_pending)
			McRaft->session_rel = InvalidOid;
		else
		{
			McRaft->session_db = MyDatabaseId;
			McRaft->session_rel = pending_rel;
			McRaft->session_state = pending_state;
		}
		SpinLockRelease(&McRaft->session_mutex);
	}
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PREPARE)
	{
		publish_pending = false;
		forget_pending = false;
	}
}

static void
register_callback(void)
{
	if (!callback_registered)
	{
		RegisterXactCallback(session_xact_cb, NULL);
		callback_registered = true;
	}
}

/*
 * The published value, when it describes this database's accounts table
 * rel (InvalidOid: none), into *out.
 */
static bool
published(Oid rel, int64 *out)
{
	bool		found;

	if (McRaft == NULL || !OidIsValid(rel))
		return false;
	SpinLockAcquire(&McRaft->session_mutex);
	found = McRaft->session_db == MyDatabaseId && McRaft->session_rel == rel;
	if (found)
		*out = McRaft->session_state;
	SpinLockRelease(&McRaft->session_mutex);
	return found;
}

/* The newest account's creation index, read from the table (SPI connected). */
static bool
newest_from_table(int64 *out)
{
	bool		isnull;
	Datum		d;
	int			ret;

	ret = SPI_execute_plan(mc_spi_kept_plan(&newest_plan,
											"SELECT a.created_idx FROM mailcluster.accounts a "
											"ORDER BY a.created_idx DESC LIMIT 1", 0, NULL),
						   NULL, NULL, false, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "mailcluster: reading the newest account failed: %s", SPI_result_code_string(ret));
	if (SPI_processed != 1)
		return false;
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		return false;
	*out = DatumGetInt64(d);
	return true;
}

/* See session_state.h. */
void
mc_session_state_note_account(int64 created_idx)
{
	Oid			rel = accounts_relid();
	int64		newest;

	register_callback();
	if (!OidIsValid(rel))
		return;
	if (publish_pending && pending_rel == rel)
	{
		/* an earlier account of this transaction: the newer of the two */
		pending_state = Max(pending_state, created_idx);
		return;
	}
	/* the published value, if it describes this table, else the table */
	if (published(rel, &newest))
		newest = Max(newest, created_idx);
	else if (!newest_from_table(&newest))
		return;
	pending_rel = rel;
	pending_state = newest;
	publish_pending = true;
}

/* See session_state.h. */
void
mc_session_state_forget_at_commit(void)
{
	register_callback();
	forget_pending = true;
}

/* See session_state.h. */
int64
mc_session_state_current(void)
{
	int64		v;
	bool		found;

	if (published(accounts_relid(), &v))
		return v;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "mailcluster: SPI_connect failed");
	found = newest_from_table(&v);
	SPI_finish();
	return found ? v : 0;
}
