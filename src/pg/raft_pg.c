/*
 * raft_pg.c — mc_raft_pg_init(): what the Raft side adds at _PG_init time,
 * i.e. its shared memory hooks and its two background workers.
 */
#include "postgres.h"

#include <malloc.h>

#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "utils/timestamp.h"

#include "maint_worker.h"
#include "raft_pg.h"
#include "raft_shmem.h"

/* See raft_pg.h. */
void
mc_worker_tune_malloc(void)
{
	/*
	 * Each batch's transaction frees its executor and SPI memory; with
	 * glibc's defaults the heap top is then given back (brk) and faulted
	 * in again by the next batch, which profiles showed as several per
	 * cent of the raft worker's CPU.  Keep up to 64 MB and serve blocks up
	 * to 16 MB from the heap.  Both are per process (only this worker).
	 */
	(void) mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
	(void) mallopt(M_MMAP_THRESHOLD, 16 * 1024 * 1024);
}

/* See raft_pg.h. */
long
mc_worker_flush_stats(TimestampTz *due)
{
	TimestampTz now = GetCurrentTimestamp();

	if (*due != 0 && now >= *due)
	{
		pgstat_report_stat(true);
		*due = 0;
		return -1;
	}
	/*
	 * Rate-limited by the time of the last commit, which does not move while
	 * the worker is idle: hence the forced flush a second later (as a
	 * backend's idle stats timeout does).
	 */
	if (pgstat_report_stat(false) <= 0)
	{
		*due = 0;
		return -1;
	}
	if (*due == 0)
		*due = TimestampTzPlusMilliseconds(now, 1000);
	return Max(1, (long) ((*due - now) / 1000));
}

/* Register one worker of this library that connects to the database. */
static void
register_worker(const char *name, const char *function)
{
	BackgroundWorker bgw;

	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = 1;
	strlcpy(bgw.bgw_library_name, "mailcluster", BGW_MAXLEN);
	strlcpy(bgw.bgw_function_name, function, BGW_MAXLEN);
	strlcpy(bgw.bgw_name, name, BGW_MAXLEN);
	strlcpy(bgw.bgw_type, name, BGW_MAXLEN);
	RegisterBackgroundWorker(&bgw);
}

/* See raft_pg.h. */
void
mc_raft_pg_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	mc_raft_shmem_install_hooks();
	register_worker("mailcluster raft", "mc_raft_worker_main");
	register_worker("mailcluster apply", "mc_apply_worker_main");
	mc_maint_init();
}
