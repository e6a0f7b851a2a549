/*
 * raft_pg.c — mc_raft_pg_init(): what the Raft side adds at _PG_init time,
 * i.e. its shared memory hooks and its two background workers.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "postmaster/bgworker.h"

#include "maint_worker.h"
#include "raft_pg.h"
#include "raft_shmem.h"

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
