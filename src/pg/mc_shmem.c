/*
 * mc_shmem.c — allocates and initialises McShared (mc_shmem.h) through the
 * PostgreSQL 15 shmem_request_hook / shmem_startup_hook pair, and the
 * "was the library preloaded?" guard used by every SQL entry point.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/shmem.h"

#include "mc_shmem.h"

McShared   *mc_shared = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/*
 * mc_shmem_request — ask the postmaster for McShared's space and one
 * LWLock in the "mailcluster" tranche.
 */
static void
mc_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(McShared)));
	RequestNamedLWLockTranche("mailcluster", 1);
}

/*
 * mc_shmem_startup — attach to (or, the first time, create and zero)
 * McShared.  Runs in the postmaster at start and after a crash restart,
 * under AddinShmemInitLock as the shared memory API requires.
 */
static void
mc_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	mc_shared = ShmemInitStruct("mailcluster", sizeof(McShared), &found);
	if (!found)
	{
		memset(mc_shared, 0, sizeof(McShared));
		mc_shared->lock = &(GetNamedLWLockTranche("mailcluster"))->lock;
		for (int i = 0; i < MC_METRIC__COUNT; i++)
			pg_atomic_init_u64(&mc_shared->metrics[i], 0);
	}
	LWLockRelease(AddinShmemInitLock);
}

/* mc_shmem_install_hooks — chain our hooks in front of any earlier ones. */
void
mc_shmem_install_hooks(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = mc_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = mc_shmem_startup;
}

/* mc_require_shmem — see mc_shmem.h. */
void
mc_require_shmem(void)
{
	if (mc_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("mailcluster is not loaded through shared_preload_libraries"),
				 errhint("Add 'mailcluster' to shared_preload_libraries in postgresql.conf and restart the server.")));
}

/* mc_fault_is_blocked — see mc_shmem.h; false without shared memory. */
bool
mc_fault_is_blocked(int n)
{
	bool		b;

	if (mc_shared == NULL)
		return false;
	LWLockAcquire(mc_shared->lock, LW_SHARED);
	b = mc_shared->n_blocked > 0 && mc_fault_is_blocked_locked(mc_shared, n);
	LWLockRelease(mc_shared->lock);
	return b;
}
