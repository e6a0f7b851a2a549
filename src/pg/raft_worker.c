/*
 * raft_worker.c — the "mailcluster raft" background worker: its main loop.
 * It waits on a WaitEventSet (its latch, the RPC sockets, the next tick),
 * feeds the Raft core ticks, received messages and backend requests, and
 * runs the core's ready batches.  Storage, requests, networking and
 * booting live in their own files (raft_worker.h).
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
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "raft_pg.h"
#include "raft_shmem.h"
#include "raft_worker.h"
#include "rpc_net.h"
#include "worker_session.h"

/*
 * Run fn in a fresh transaction with SPI connected and a snapshot pushed.
 * Afterwards the transaction's table statistics are flushed: a background
 * worker must report them itself (forced: an unforced report within a second
 * of the last one is deferred, and an idle worker never reports again), or
 * autovacuum never sees the apply path's inserts and never ANALYZEs or
 * VACUUMs the replicated tables and the log.
 */
void
mc_raft_in_transaction(void (*fn) (void *arg), void *arg)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "mailcluster: SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
	fn(arg);
	PopActiveSnapshot();
	SPI_finish();
	CommitTransactionCommand();
	/* statistics: the workers' loops call mc_worker_flush_stats */
}

/* Tick length: a fifth of the heartbeat interval, between 1 and 50 ms. */
static int
choose_tick_ms(const McRaftSettings *s)
{
	int			t = Min(s->heartbeat_interval_ms, s->election_timeout_ms / 2) / 5;

	return Max(1, Min(t, 50));
}

/*
 * A reload's raft_election_timeout and raft_heartbeat_interval, in whole
 * ticks of the length chosen at start (choose_tick_ms, then
 * mc_raft_settings_ticks as at boot): the core draws its next waits from
 * them.  A heartbeat not below the election timeout is refused, as at
 * start, with a WARNING, and the old pair kept.
 */
static void
apply_reloaded_timeouts(McRaftWorker *w, const McRaftSettings *ns)
{
	int			et,
				hb;

	if (ns->election_timeout_ms == w->set.election_timeout_ms &&
		ns->heartbeat_interval_ms == w->set.heartbeat_interval_ms)
		return;
	if (ns->heartbeat_interval_ms >= ns->election_timeout_ms)
	{
		ereport(WARNING,
				(errmsg("mailcluster: ignoring the reloaded Raft timeouts"),
				 errdetail("mailcluster.raft_heartbeat_interval (%d ms) must be below mailcluster.raft_election_timeout (%d ms).",
						   ns->heartbeat_interval_ms, ns->election_timeout_ms)));
		return;
	}
	mc_raft_settings_ticks(ns, w->tick_ms, &et, &hb);
	if (w->core != NULL && mc_raft_set_timeouts(w->core, et, hb) != MC_RAFT_OK)
		elog(ERROR, "mailcluster: the Raft core refused %d / %d ticks", et, hb);
	w->set.election_timeout_ms = ns->election_timeout_ms;
	w->set.heartbeat_interval_ms = ns->heartbeat_interval_ms;
	ereport(LOG,
			(errmsg("mailcluster: Raft election timeout %d ms, heartbeat %d ms (ticks of %d ms)",
					ns->election_timeout_ms, ns->heartbeat_interval_ms, w->tick_ms)));
}

/*
 * A reload's raft_batch_max: the core's append and snapshot chunk bound
 * (mc_raft_settings_core_batch, as at boot) and the chunk size this node
 * reads when it answers.  Frames stay as sized at start: at least 8 MB +
 * 64 KB (rpc_net.c), above any batch.
 */
static void
apply_reloaded_batch_max(McRaftWorker *w, const McRaftSettings *ns)
{
	uint32		bytes = mc_raft_settings_core_batch(ns);

	if (ns->batch_max == w->set.batch_max)
		return;
	if (w->core != NULL && mc_raft_set_max_batch(w->core, bytes) != MC_RAFT_OK)
		elog(ERROR, "mailcluster: the Raft core refused a batch bound of %u bytes", bytes);
	w->chunk_max = mc_raft_settings_chunk_max(ns);
	w->set.batch_max = ns->batch_max;
	ereport(LOG,
			(errmsg("mailcluster: Raft batches of at most %u bytes", bytes)));
}

/* On exit: tell waiting backends, drop the latch pointer. */
static void
raft_worker_exit(int code, Datum arg)
{
	Latch	   *apply_latch;

	mc_raft_fail_all_requests(MC_RAFT_ERR_NOT_LEADER);
	if (McRaft != NULL)
	{
		LWLockAcquire(McRaft->lock, LW_EXCLUSIVE);
		McRaft->raft_latch = NULL;
		McRaft->raft_pid = 0;
		McRaft->raft_ready = false;
		apply_latch = mc_raft_withdraw_ahead();
		LWLockRelease(McRaft->lock);
		if (apply_latch)
			SetLatch(apply_latch);
	}
}

/* Milliseconds until the next tick (0 = due now). */
static long
ms_until_tick(McRaftWorker *w)
{
	TimestampTz now = GetCurrentTimestamp();
	long		ms;

	if (now >= w->next_tick)
		return 0;
	ms = (long) ((w->next_tick - now + 999) / 1000);
	return ms;
}

/* Give the core every tick that came due (at most a few at once). */
static void
run_ticks(McRaftWorker *w)
{
	TimestampTz now = GetCurrentTimestamp();
	int			n = 0;

	while (now >= w->next_tick && n < 5)
	{
		if (w->core)
			mc_raft_tick(w->core);
		w->next_tick += (TimestampTz) w->tick_ms * 1000;
		n++;
	}
	if (now >= w->next_tick)	/* fell far behind: do not try to catch up */
		w->next_tick = now + (TimestampTz) w->tick_ms * 1000;
}

/*
 * A clean shutdown: a leader hands leadership to the most up-to-date voter
 * first and gives the transfer up to one election timeout.
 */
static void
hand_over_leadership(McRaftWorker *w)
{
	mc_raft_status st;
	TimestampTz deadline;

	if (w->core == NULL || w->rpc == NULL)
		return;
	mc_raft_get_status(w->core, &st);
	if (st.role != MC_RAFT_LEADER || st.conf.n_voters < 2)
		return;
	if (mc_raft_transfer_leader(w->core, 0) != MC_RAFT_OK)
		return;
	ereport(LOG, (errmsg("mailcluster: handing leadership over before shutdown")));
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), w->set.election_timeout_ms);
	while (GetCurrentTimestamp() < deadline)
	{
		mc_raft_process_ready(w);
		mc_raft_get_status(w->core, &st);
		if (st.role != MC_RAFT_LEADER)
			break;
		mc_rpc_wait_and_receive(w, Max(1, ms_until_tick(w)));
		run_ticks(w);
	}
	mc_raft_process_ready(w);
	mc_rpc_flush_all(w, 200);
}

/* The worker's main function (bgw_function_name "mc_raft_worker_main"). */
void
mc_raft_worker_main(Datum arg)
{
	McRaftWorker *w;
	TimestampTz stats_due;		/* see mc_worker_flush_stats() */
	Latch	   *apply_latch;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();
	mc_worker_tune_malloc();

	w = MemoryContextAllocZero(TopMemoryContext, sizeof(McRaftWorker));
	w->mcxt = AllocSetContextCreate(TopMemoryContext, "mailcluster raft",
									ALLOCSET_DEFAULT_SIZES);
	mc_raft_settings_load(&w->set);
	w->standalone = mc_raft_settings_standalone(&w->set);
	w->id = mc_raft_settings_raft_id(&w->set);
	w->tick_ms = choose_tick_ms(&w->set);

	BackgroundWorkerInitializeConnection(w->set.database, NULL, 0);
	mc_worker_session_pin();
	pgstat_report_appname("mailcluster raft");
	SetConfigOption("application_name", "mailcluster raft", PGC_USERSET, PGC_S_SESSION);

	LWLockAcquire(McRaft->lock, LW_EXCLUSIVE);
	McRaft->raft_latch = MyLatch;
	McRaft->raft_pid = MyProcPid;
	McRaft->node_id = w->id;
	/* whatever a predecessor published is withdrawn */
	apply_latch = mc_raft_withdraw_ahead();
	LWLockRelease(McRaft->lock);
	if (apply_latch)
		SetLatch(apply_latch);
	before_shmem_exit(raft_worker_exit, (Datum) 0);

	if (!w->standalone)
		mc_rpc_start(w);

	ereport(LOG,
			(errmsg("mailcluster raft worker started (node %u, %s, tick %d ms)",
					w->id, w->standalone ? "standalone" : "clustered", w->tick_ms)));

	w->next_tick = GetCurrentTimestamp();
	stats_due = 0;
	while (!ShutdownRequestPending)
	{
		long		timeout;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			{
				McRaftSettings ns;

				mc_raft_settings_load(&ns);
				/* identity and sockets stay; timeouts and modes follow reloads */
				apply_reloaded_timeouts(w, &ns);
				apply_reloaded_batch_max(w, &ns);
				w->set.commit_timeout_ms = ns.commit_timeout_ms;
				w->set.write_mode_redirect = ns.write_mode_redirect;
				w->set.read_linearizable = ns.read_linearizable;
				w->set.snapshot_after_entries = ns.snapshot_after_entries;
				w->set.snapshot_after_duration_s = ns.snapshot_after_duration_s;
			}
			if (w->rpc)
				mc_rpc_reload_keys(w);
		}

		if (w->core == NULL)
		{
			/* the extension may not exist yet: retry loading every second */
			if (!mc_raft_boot_load(w) && w->rpc != NULL)
				mc_rpc_try_bootstrap(w);
		}

		run_ticks(w);
		if (w->core)
		{
			mc_raft_take_requests(w);
			mc_raft_maybe_compact(w);
			if (w->rpc)
				mc_rpc_membership_tick(w);
			mc_raft_process_ready(w);
			mc_raft_publish_status(w);
		}
		else
			mc_raft_fail_all_requests(MC_RAFT_ERR_NOT_LEADER);

		timeout = w->core ? ms_until_tick(w) : Min(1000, Max(1, ms_until_tick(w)));
		if (w->core == NULL)
			timeout = Max(timeout, 200);
		{
			long		stats_ms = mc_worker_flush_stats(&stats_due);

			if (stats_ms >= 0 && stats_ms < timeout)
				timeout = stats_ms;
		}
		if (w->rpc)
			mc_rpc_wait_and_receive(w, timeout);
		else
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 timeout, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
	}

	hand_over_leadership(w);
	ereport(LOG, (errmsg("mailcluster raft worker shutting down")));
	proc_exit(0);
}
