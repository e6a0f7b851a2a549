/*
 * apply_worker.c — the "mailcluster apply" background worker: applies
 * committed log entries in index order by calling mailcluster._apply(idx,
 * cmd) through SPI, each batch in one transaction that also advances
 * mailcluster._raft_applied, so a crash re-applies nothing twice.  Then it
 * publishes the applied index and hands each local proposer its response.
 * It also loads the snapshots the raft worker received and kept
 * (install_index, raft_shmem.h) before any entry after them.  It runs apart
 * from the raft worker so a slow apply or load never delays heartbeats.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"

#include "apply_dispatch.h"
#include "jmap_guard.h"
#include "mc_guc.h"
#include "raft_settings.h"
#include "raft_pg.h"
#include "raft_shmem.h"
#include "raft_worker.h"
#include "snapshot_store.h"
#include "spi_plans.h"
#include "worker_session.h"

#define APPLY_BATCH 256			/* entries per transaction */

/*
 * A follower's apply worker waits up to APPLY_GATHER_MS for committed
 * entries to gather into one transaction, unless a backend of this node is
 * waiting for them (its forwarded write, a read fence, wait_for_index), a
 * snapshot is asked for, or a full batch is there.  Nobody waits for the
 * other entries; fewer, larger batches cost less per entry.  The leader
 * applies at once: its writers wait for the apply.
 */
#define APPLY_GATHER_MS 10

/*
 * Apply ahead.  Entries this node has stored (stored_ahead, raft_shmem.h)
 * are applied while their commit is still awaited, when somebody here
 * waits for them (ahead_worth_it): the transaction runs them, then waits
 * for commit_for_apply to reach the last of them before it commits, so
 * the commands' work overlaps the replication round trip (on the leader)
 * or the leader's commit notice (on a follower, for a forwarded write)
 * instead of following it.  If ahead_epoch moves meanwhile (a truncation,
 * a snapshot install or a rewrite of stored entries is coming), or the
 * commit takes longer than mailcluster.apply_ahead_wait (200 ms by
 * default; TAP 034 raises it so only the withdrawal can end the wait),
 * the transaction is rolled back and the entries are applied again once
 * committed.  Nothing of an entry is visible, to readers or to the applied
 * index, before its commit.
 */

/*
 * Running ahead costs the apply worker a second wake-up per round (about
 * 7 us of CPU per raw write at 8 clients, doc/benchmarks.md run 11); it
 * pays only when the entries' own work is larger.  The worker keeps a
 * moving average of the time a batch's entries take to run (1/8 weight
 * per batch that ran a command; it starts at the threshold) and asks for
 * apply ahead (ahead_wanted) only while that is at least
 * APPLY_AHEAD_MIN_US: the raw write's record_response runs in less,
 * account_create's thirteen inserts in more.
 */
#define APPLY_AHEAD_MIN_US 100

/* A response for a local proposer, collected during the batch. */
typedef struct ApplyReply
{
	uint64		request_id;
	char	   *text;			/* jsonb as text; NULL = error text below */
	bool		is_error;
} ApplyReply;

typedef struct ApplyBatch
{
	uint32		self;
	uint64		from;			/* first index to apply */
	uint64		upto;			/* last committed index */
	uint64		last;			/* last index applied in this batch */
	bool		careful;		/* one subtransaction per entry (after a failure) */
	bool		ahead;			/* entries not committed yet: wait before commit */
	uint64		epoch;			/* ahead_epoch when they were read */
	bool		abandoned;		/* ahead, and given up: roll back */
	int64		run_us;			/* time the entries took to run */
	int			n_normal;		/* entries carrying a command */
	int			n_replies;
	ApplyReply	replies[APPLY_BATCH];
	MemoryContext replyctx;
} ApplyBatch;

/* install_tx's argument and result. */
typedef struct InstallArgs
{
	uint64		index;
	bool		done;
} InstallArgs;

static SPIPlanPtr read_plan = NULL;
static SPIPlanPtr advance_plan = NULL;

/*
 * Can this error happen the same way on every node applying the same entry
 * (a bad command, a constraint, a JMAP op's RAISE)?  Resource shortage,
 * cancels, lock and serialization failures, I/O and internal errors depend
 * on the node: such an entry must be retried, never answered with the
 * error, or the nodes' states would differ.
 *
 * Program limits (class 54) are the entry's own but for statement_too_complex
 * (the stack depth, max_stack_depth is the node's): a key too big for an
 * index, an array or a string over PostgreSQL's fixed maximum fail alike on
 * every node running the same build.  Taken for node faults, they made the
 * worker restart and meet the entry again, and the log stopped there on
 * every node (a jmap() request_id of 9.6 KB: "index row requires 9624
 * bytes, maximum size is 8191", every second).  A read-only transaction is
 * the node's setting, not the entry's (worker_session.c pins it off).
 */
static bool
error_is_deterministic(int sqlerrcode)
{
	if (sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE ||
		sqlerrcode == ERRCODE_READ_ONLY_SQL_TRANSACTION ||
		sqlerrcode == ERRCODE_OUT_OF_MEMORY ||
		sqlerrcode == ERRCODE_STATEMENT_TOO_COMPLEX)
		return false;
	switch (ERRCODE_TO_CATEGORY(sqlerrcode))
	{
		case ERRCODE_CONNECTION_EXCEPTION:
		case ERRCODE_TRANSACTION_ROLLBACK:
		case ERRCODE_INSUFFICIENT_RESOURCES:
		case ERRCODE_OPERATOR_INTERVENTION:
		case ERRCODE_SYSTEM_ERROR:
		case ERRCODE_CONFIG_FILE_ERROR:
		case ERRCODE_INTERNAL_ERROR:
			return false;
		default:
			return true;
	}
}

/*
 * Apply one NORMAL entry (its data is the command's JSON text) through the
 * state machine's C entry point; its response as JSON text in replyctx
 * (NULL unless want_reply).
 */
static char *
run_entry(int64 idx, bytea *data, MemoryContext replyctx, bool want_reply)
{
	char	   *json = pnstrdup(VARDATA_ANY(data), VARSIZE_ANY_EXHDR(data));
	Jsonb	   *cmd = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(json)));
	Jsonb	   *res;
	char	   *text;

	res = mc_jmap_apply_command(idx, cmd);

	if (!want_reply)			/* proposed by another node: nobody here waits */
		return NULL;
	text = res ? JsonbToCString(NULL, &res->root, VARSIZE(res)) : "null";
	return MemoryContextStrdup(replyctx, text);
}

/*
 * Apply one NORMAL entry inside a subtransaction (the careful pass, after
 * a batch failed): a deterministic error (bad command) fails the same way
 * on every node and must not stop the log; it becomes the entry's response
 * "SQLSTATE: message".  Any other error is re-thrown: the worker exits and
 * retries the entry after its restart.
 */
static char *
apply_one_careful(int64 idx, bytea *data, bool *is_error, MemoryContext replyctx,
				  bool want_reply)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	char	   *result = NULL;

	*is_error = false;
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		result = run_entry(idx, data, replyctx, want_reply);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(replyctx);
		edata = CopyErrorData();
		if (!error_is_deterministic(edata->sqlerrcode))
			PG_RE_THROW();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		ereport(LOG,
				(errmsg("mailcluster: log entry %lld failed to apply: %s",
						(long long) idx, edata->message)));
		result = psprintf("%s: %s", unpack_sql_state(edata->sqlerrcode), edata->message);
		result = MemoryContextStrdup(replyctx, result);
		*is_error = true;
		FreeErrorData(edata);
	}
	PG_END_TRY();
	return result;
}

/*
 * An apply ahead (b->ahead) before its commit: wait until the raft worker
 * has handed entries up to b->last over as committed, with ahead_epoch
 * still b->epoch (then the committed entries are the ones run).  False:
 * give up (epoch moved, too long, shutdown); the caller rolls back.
 */
static bool
wait_ahead_committed(ApplyBatch *b)
{
	TimestampTz start = GetCurrentTimestamp();

	for (;;)
	{
		bool		committed,
					withdrawn;

		LWLockAcquire(McRaft->lock, LW_SHARED);
		committed = McRaft->commit_for_apply >= b->last;
		withdrawn = McRaft->ahead_epoch != b->epoch;
		LWLockRelease(McRaft->lock);
		if (withdrawn)
			return false;
		if (committed)
			return true;
		if (ShutdownRequestPending ||
			TimestampDifferenceExceeds(start, GetCurrentTimestamp(), mc_apply_ahead_wait_ms))
			return false;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 mc_apply_ahead_wait_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * Is a received snapshot after `applied` waiting to be loaded
 * (install_index, raft_shmem.h)?  Then the log up to it is gone and the
 * snapshot comes first.
 */
static bool
install_pending_after(uint64 applied)
{
	bool		pending;

	LWLockAcquire(McRaft->lock, LW_SHARED);
	pending = McRaft->install_index > applied;
	LWLockRelease(McRaft->lock);
	return pending;
}

/*
 * In a transaction: apply entries (from, upto] up to APPLY_BATCH of them.
 * Without b->careful the entries run directly, with no subtransaction (the
 * common case: cheap, and no subtransaction ids); an error then aborts the
 * whole batch and the caller runs it again carefully.
 */
static void
apply_batch_tx(void *arg)
{
	ApplyBatch *b = arg;
	Oid			types[2] = {INT8OID, INT8OID};
	Datum		args[2];
	int			ret;
	uint64		i,
				n;
	SPITupleTable *tuptable;
	TupleDesc	tupdesc;
	TimestampTz run_start;

	/* durability comes from the Raft log; a lost apply is re-done */
	SetConfigOption("synchronous_commit", "off", PGC_SUSET, PGC_S_SESSION);
	/* the optimistic pass stores all responses at its end (apply_dispatch.c) */
	if (!b->careful)
		mc_apply_batch_begin();

	run_start = GetCurrentTimestamp();
	args[0] = Int64GetDatum((int64) b->from);
	args[1] = Int64GetDatum((int64) b->upto);
	ret = SPI_execute_plan(mc_spi_kept_plan(&read_plan,
									 "SELECT idx, type, client_id, request_id, data"
									 " FROM mailcluster._raft_log WHERE idx >= $1 AND idx <= $2"
									 " ORDER BY idx LIMIT " CppAsString2(APPLY_BATCH),
									 2, types),
						   args, NULL, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "mailcluster: reading committed entries failed: %s",
			 SPI_result_code_string(ret));
	tuptable = SPI_tuptable;
	tupdesc = tuptable->tupdesc;
	n = SPI_processed;
	b->last = b->from - 1;
	b->n_normal = 0;
	for (i = 0; i < n; i++)
	{
		bool		isnull;
		int64		idx = DatumGetInt64(SPI_getbinval(tuptable->vals[i], tupdesc, 1, &isnull));
		int16		type = DatumGetInt16(SPI_getbinval(tuptable->vals[i], tupdesc, 2, &isnull));
		int64		client = DatumGetInt64(SPI_getbinval(tuptable->vals[i], tupdesc, 3, &isnull));
		int64		reqid = DatumGetInt64(SPI_getbinval(tuptable->vals[i], tupdesc, 4, &isnull));
		Datum		d = SPI_getbinval(tuptable->vals[i], tupdesc, 5, &isnull);

		if ((uint64) idx != b->last + 1 && install_pending_after(b->last))
			break;				/* the log before a received snapshot is gone */
		if ((uint64) idx != b->last + 1)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("mailcluster: committed entry %llu is missing from the Raft log",
							(unsigned long long) (b->last + 1))));
		if (type == MC_RAFT_ENTRY_NORMAL && !isnull)
		{
			bool		is_error = false;
			bool		mine = (uint32) client == b->self;
			char	   *res;

			b->n_normal++;
			mc_apply_set_no_retry(((uint64) client & MC_CLIENT_NO_RETRY) != 0);
			if (b->careful)
				res = apply_one_careful(idx, DatumGetByteaPP(d), &is_error, b->replyctx, mine);
			else
				res = run_entry(idx, DatumGetByteaPP(d), b->replyctx, mine);

			if (mine && b->n_replies < APPLY_BATCH)
			{
				ApplyReply *r = &b->replies[b->n_replies++];

				r->request_id = (uint64) reqid;
				r->text = res;
				r->is_error = is_error;
			}
		}
		b->last = (uint64) idx;
	}
	if (!b->careful)
		mc_jmap_apply_batch_end();
	b->run_us = GetCurrentTimestamp() - run_start;
	if (b->last >= b->from)
	{
		args[0] = Int64GetDatum((int64) b->last);
		args[1] = Int64GetDatum((int64) (b->from - 1));
		ret = SPI_execute_plan(mc_spi_kept_plan(&advance_plan,
										 "UPDATE mailcluster._raft_applied SET applied_index = $1"
										 " WHERE applied_index = $2",
										 2, types),
							   args, NULL, false, 0);
		if (ret != SPI_OK_UPDATE)
			elog(ERROR, "mailcluster: advancing applied_index failed");
		/* only this worker moves it (a snapshot load too): never expected */
		if (SPI_processed != 1)
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("mailcluster: applied_index moved under the apply worker; restarting")));
		if (b->ahead && !wait_ahead_committed(b))
		{
			b->abandoned = true;
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("mailcluster: entries %llu..%llu applied ahead did not commit as run",
							(unsigned long long) b->from, (unsigned long long) b->last)));
		}
	}
}

/*
 * Run apply_batch_tx in a transaction.  An apply ahead given up
 * (b->abandoned) is rolled back here and leaves nothing applied
 * (b->last < b->from), to be applied again once committed; any other
 * error propagates.
 */
static void
run_batch_tx(ApplyBatch *b)
{
	MemoryContext oldcxt = CurrentMemoryContext;

	b->abandoned = false;
	PG_TRY();
	{
		mc_raft_in_transaction(apply_batch_tx, b);
	}
	PG_CATCH();
	{
		if (!b->abandoned)
			PG_RE_THROW();
		MemoryContextSwitchTo(oldcxt);
		FlushErrorState();
		AbortCurrentTransaction();
		MemoryContextSwitchTo(oldcxt);
		b->last = b->from - 1;
	}
	PG_END_TRY();
}

/*
 * Apply one batch: first directly; if that fails with an error every node
 * would see (a bad command), abort it and apply the same entries again,
 * each in its own subtransaction, so the failing entry gets its error as
 * response and the others apply.  Errors that depend on this node
 * (resources, cancels, a snapshot installed meanwhile) are re-thrown: the
 * worker exits and the entries are applied after its restart.  An apply
 * ahead given up is rolled back (run_batch_tx).
 */
static void
apply_batch(ApplyBatch *b)
{
	MemoryContext oldcxt = CurrentMemoryContext;

	b->careful = false;
	PG_TRY();
	{
		run_batch_tx(b);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		if (!error_is_deterministic(edata->sqlerrcode))
			PG_RE_THROW();
		FlushErrorState();
		AbortCurrentTransaction();
		MemoryContextSwitchTo(oldcxt);
		ereport(LOG,
				(errmsg("mailcluster: applying entries %llu..%llu together failed (%s); applying them one by one",
						(unsigned long long) b->from, (unsigned long long) b->upto,
						edata->message)));
		FreeErrorData(edata);
		b->careful = true;
	}
	PG_END_TRY();
	if (b->careful)
	{
		MemoryContextReset(b->replyctx);
		b->n_replies = 0;
		run_batch_tx(b);
	}
}

/* After commit: publish applied index, complete local proposers' slots. */
static void
publish_batch(ApplyBatch *b)
{
	int			i,
				k,
				nwake = 0;
	Latch	  **wake = b->n_replies > 0 ? palloc(sizeof(Latch *) * b->n_replies) : NULL;

	LWLockAcquire(McRaft->lock, LW_EXCLUSIVE);
	if (b->last > McRaft->applied_index)
	{
		if (b->ahead)
			McRaft->n_applied_ahead += b->last - McRaft->applied_index;
		McRaft->n_applied += b->last - McRaft->applied_index;
		McRaft->applied_index = b->last;
	}
	for (k = 0; k < b->n_replies; k++)
	{
		ApplyReply *r = &b->replies[k];

		for (i = 0; i < McRaft->nslots; i++)
		{
			McRaftSlot *s = &McRaft->slots[i];
			size_t		len;

			if (s->kind != MC_REQ_PROPOSE || s->request_id != r->request_id ||
				(s->state != MC_SLOT_ACCEPTED && s->state != MC_SLOT_PENDING))
				continue;
			len = strlen(r->text);
			s->err = r->is_error ? MC_RAFT_ERR_INVALID : MC_RAFT_OK;
			s->applied = true;
			s->reply_valid = len < MC_RAFT_REPLY_BYTES;
			s->reply_len = s->reply_valid ? len : 0;
			if (s->reply_valid)
				memcpy(s->reply, r->text, len + 1);
			if ((wake[nwake] = mc_raft_slot_finish_deferred(s)) != NULL)
				nwake++;
			break;
		}
	}
	LWLockRelease(McRaft->lock);
	for (k = 0; k < nwake; k++)
		SetLatch(wake[k]);
	if (wake)
		pfree(wake);
	ConditionVariableBroadcast(&McRaft->applied_cv);
}

/*
 * May entries (applied, target] wait to gather into a larger batch
 * (APPLY_GATHER_MS)?  Only on a follower with fewer than a full batch,
 * when no backend of this node waits for them and no snapshot is asked
 * for.  Caller holds McRaft->lock.
 */
static bool
may_gather(uint64 applied, uint64 target)
{
	return McRaft->status.role != MC_RAFT_LEADER &&
		target - applied < APPLY_BATCH &&
		McRaft->apply_wanted <= applied &&
		!McRaft->snapshot_requested &&
		!mc_raft_local_proposal_open();
}

/*
 * Is running entries past `applied` ahead of their commit worth it now?
 * When the apply worker asks for it (ahead_wanted) and somebody waits for
 * them: on the leader its writers; on a follower a backend whose write was
 * forwarded, or a read fence or wait_for_index (apply_wanted).  A follower
 * nobody waits on gathers committed entries instead.  Caller holds
 * McRaft->lock.
 */
static bool
ahead_worth_it(uint64 applied)
{
	return McRaft->ahead_wanted &&
		McRaft->stored_ahead > applied &&
		(McRaft->status.role == MC_RAFT_LEADER ||
		 McRaft->apply_wanted > applied ||
		 mc_raft_local_proposal_open());
}

/* In a transaction: store a snapshot of the replicated tables. */
static void
take_snapshot_tx(void *arg)
{
	uint64	   *idx = arg;

	*idx = mc_snapshot_take();
}

/*
 * Take a snapshot when snapshot() asked for one, or when both
 * snapshot_after_entries entries and snapshot_after_duration seconds have
 * passed since the last one; hand its index to the raft worker.
 */
static void
maybe_snapshot(uint64 applied, TimestampTz *last_snap)
{
	bool		requested;
	uint64		snap_index;
	int			entries = mc_snapshot_after_entries;
	int			duration_s = mc_snapshot_after_duration_s;
	uint64		idx = 0;
	Latch	   *raft_latch;

	LWLockAcquire(McRaft->lock, LW_SHARED);
	requested = McRaft->snapshot_requested;
	snap_index = Max(McRaft->snapshot_index, McRaft->snapshot_ready_index);
	LWLockRelease(McRaft->lock);
	if (install_pending_after(applied))
		return;					/* a received snapshot is to be loaded first */
	if (!requested &&
		(applied < snap_index + (uint64) Max(entries, 1) ||
		 !TimestampDifferenceExceeds(*last_snap, GetCurrentTimestamp(), duration_s * 1000)))
		return;
	if (applied > snap_index)
		mc_raft_in_transaction(take_snapshot_tx, &idx);
	*last_snap = GetCurrentTimestamp();
	LWLockAcquire(McRaft->lock, LW_EXCLUSIVE);
	McRaft->snapshot_requested = false;
	if (idx > McRaft->snapshot_ready_index)
	{
		McRaft->snapshot_ready_index = idx;
		McRaft->n_snapshots_taken++;
	}
	raft_latch = McRaft->raft_latch;
	LWLockRelease(McRaft->lock);
	if (raft_latch)
		SetLatch(raft_latch);
	ConditionVariableBroadcast(&McRaft->snapshot_cv);
}

/* In a transaction: load the kept snapshot *arg (snapshot_store.h). */
static void
install_tx(void *arg)
{
	InstallArgs *a = arg;

	a->done = mc_snapshot_install_kept(a->index);
}

/*
 * Load the snapshot the raft worker received and kept (install_index):
 * the replicated tables become its state, applied_index its index.  The
 * raft worker meanwhile goes on answering the leader and storing the
 * entries after it.  If a newer snapshot replaced it before the load
 * began, nothing happens and the next pass loads that one.
 */
static void
install_snapshot(uint64 index, uint64 *applied)
{
	InstallArgs a;

	a.index = index;
	a.done = false;
	pgstat_report_activity(STATE_RUNNING, "loading a Raft snapshot");
	mc_raft_in_transaction(install_tx, &a);
	pgstat_report_activity(STATE_IDLE, NULL);
	if (!a.done)
	{
		if (!install_pending_after(index))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("mailcluster: the received snapshot %llu is not kept",
							(unsigned long long) index)));
		return;					/* a newer one is waiting */
	}
	if (index > *applied)
		*applied = index;
	LWLockAcquire(McRaft->lock, LW_EXCLUSIVE);
	if (index > McRaft->applied_index)
		McRaft->applied_index = index;
	McRaft->n_snapshots_installed++;
	LWLockRelease(McRaft->lock);
	ConditionVariableBroadcast(&McRaft->applied_cv);
	ereport(LOG, (errmsg("mailcluster: installed a snapshot at index %llu",
						 (unsigned long long) index)));
}

/* Read the durable applied index (after a restart). */
static void
load_applied_tx(void *arg)
{
	uint64	   *applied = arg;
	int			ret;
	bool		isnull;

	*applied = UINT64_MAX;		/* extension not there yet */
	ret = SPI_execute("SELECT 1 FROM pg_extension WHERE extname = 'mailcluster'", true, 0);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		return;
	ret = SPI_execute("SELECT applied_index FROM mailcluster._raft_applied", true, 0);
	if (ret == SPI_OK_SELECT && SPI_processed == 1)
		*applied = (uint64) DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
														SPI_tuptable->tupdesc, 1, &isnull));
}

/* On exit: stop being woken through a latch that is going away. */
static void
apply_worker_exit(int code, Datum arg)
{
	if (McRaft != NULL)
	{
		LWLockAcquire(McRaft->lock, LW_EXCLUSIVE);
		McRaft->apply_latch = NULL;
		McRaft->apply_pid = 0;
		LWLockRelease(McRaft->lock);
	}
}

/* The worker's main function (bgw_function_name "mc_apply_worker_main"). */
void
mc_apply_worker_main(Datum arg)
{
	McRaftSettings set;
	ApplyBatch *b;
	uint64		applied = UINT64_MAX;
	TimestampTz last_snap = GetCurrentTimestamp();
	TimestampTz gather_since = 0;	/* a follower began gathering (0: not) */
	TimestampTz stats_due = 0;	/* see mc_worker_flush_stats() */
	uint64		ahead_after = 0;	/* no apply ahead before this commits */
	int64		run_avg_us = APPLY_AHEAD_MIN_US;	/* average b->run_us */

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();
	mc_worker_tune_malloc();
	mc_raft_settings_load(&set);
	BackgroundWorkerInitializeConnection(set.database, NULL, 0);
	mc_worker_session_pin();
	pgstat_report_appname("mailcluster apply");
	SetConfigOption("application_name", "mailcluster apply", PGC_USERSET, PGC_S_SESSION);

	b = MemoryContextAllocZero(TopMemoryContext, sizeof(ApplyBatch));
	b->self = mc_raft_settings_raft_id(&set);
	b->replyctx = AllocSetContextCreate(TopMemoryContext, "mailcluster apply replies",
										ALLOCSET_DEFAULT_SIZES);

	LWLockAcquire(McRaft->lock, LW_EXCLUSIVE);
	McRaft->apply_latch = MyLatch;
	McRaft->apply_pid = MyProcPid;
	McRaft->ahead_wanted = true;	/* run_avg_us starts at the threshold */
	LWLockRelease(McRaft->lock);
	before_shmem_exit(apply_worker_exit, (Datum) 0);

	while (!ShutdownRequestPending)
	{
		uint64		target;
		uint64		install;
		uint64		ahead;
		uint64		epoch;
		bool		gather;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (applied == UINT64_MAX)
		{
			mc_raft_in_transaction(load_applied_tx, &applied);
			if (applied != UINT64_MAX)
			{
				LWLockAcquire(McRaft->lock, LW_EXCLUSIVE);
				if (applied > McRaft->applied_index)
					McRaft->applied_index = applied;
				LWLockRelease(McRaft->lock);
			}
		}

		LWLockAcquire(McRaft->lock, LW_SHARED);
		target = McRaft->commit_for_apply;
		epoch = McRaft->ahead_epoch;
		install = McRaft->install_index;
		gather = applied != UINT64_MAX && target > applied && may_gather(applied, target);
		ahead = applied != UINT64_MAX && target <= applied && ahead_worth_it(applied) ?
			McRaft->stored_ahead : 0;
		LWLockRelease(McRaft->lock);

		/* a received snapshot comes before any entry after it */
		if (applied != UINT64_MAX && install > applied)
		{
			install_snapshot(install, &applied);
			gather_since = 0;
			continue;
		}
		if (gather)
		{
			/* a follower gathering entries: wait for more, or a waiter */
			TimestampTz now = GetCurrentTimestamp();
			long		left;

			if (gather_since == 0)
				gather_since = now;
			left = APPLY_GATHER_MS - (long) ((now - gather_since) / 1000);
			if (left > 0)
			{
				(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
								 left, PG_WAIT_EXTENSION);
				ResetLatch(MyLatch);
				continue;
			}
		}
		gather_since = 0;
		if (applied != UINT64_MAX &&
			(target > applied || (ahead > applied && target >= ahead_after)))
		{
			MemoryContextReset(b->replyctx);
			b->n_replies = 0;
			b->from = applied + 1;
			b->ahead = target <= applied;
			b->upto = b->ahead ? ahead : target;
			b->epoch = epoch;
			pgstat_report_activity(STATE_RUNNING, "applying Raft log entries");
			apply_batch(b);
			pgstat_report_activity(STATE_IDLE, NULL);
			if (b->abandoned)
			{
				/* wait for a commit before trying ahead again */
				ahead_after = b->upto;
				LWLockAcquire(McRaft->lock, LW_EXCLUSIVE);
				McRaft->n_ahead_abandoned++;
				LWLockRelease(McRaft->lock);
				continue;
			}
			if (b->last >= b->from)
			{
				bool		wanted;

				if (b->n_normal > 0)	/* leader no-ops and conf changes: not work */
					run_avg_us += (b->run_us - run_avg_us) / 8;
				wanted = run_avg_us >= APPLY_AHEAD_MIN_US;
				applied = b->last;
				if (wanted != McRaft->ahead_wanted)
				{
					LWLockAcquire(McRaft->lock, LW_EXCLUSIVE);
					McRaft->ahead_wanted = wanted;
					LWLockRelease(McRaft->lock);
				}
				publish_batch(b);
				(void) mc_worker_flush_stats(&stats_due);
				maybe_snapshot(applied, &last_snap);
				continue;		/* more may be waiting */
			}
			/* committed entries not visible yet: wait for the next wake-up */
		}

		if (applied != UINT64_MAX)
			maybe_snapshot(applied, &last_snap);
		{
			long		stats_ms = mc_worker_flush_stats(&stats_due);
			long		wait_ms = applied == UINT64_MAX ? 1000 : 5000;

			if (stats_ms >= 0 && stats_ms < wait_ms)
				wait_ms = stats_ms;
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 wait_ms, PG_WAIT_EXTENSION);
		}
		ResetLatch(MyLatch);
	}
	proc_exit(0);
}
