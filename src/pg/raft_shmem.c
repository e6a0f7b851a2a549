/*
 * raft_shmem.c — allocation of the Raft shared-memory area (McRaftShared)
 * through chained shmem_request_hook / shmem_startup_hook, and the small
 * accessors on it (raft_pg.h) that other parts of the extension call.
 */
#include "postgres.h"

#include <sys/time.h>

#include "miscadmin.h"
#include "storage/backendid.h"
#include "storage/ipc.h"
#include "storage/shmem.h"

#include "raft_pg.h"
#include "raft_shmem.h"

McRaftShared *McRaft = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* Number of request slots: one per backend id (1..MaxBackends). */
static int
mc_raft_nslots(void)
{
	return MaxBackends;
}

/* Bytes of shared memory the Raft area needs. */
static Size
mc_raft_shmem_size(void)
{
	return add_size(offsetof(McRaftShared, slots),
					mul_size(mc_raft_nslots(), sizeof(McRaftSlot)));
}

/* shmem_request_hook: reserve our memory and our LWLock, then chain. */
static void
mc_raft_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(mc_raft_shmem_size());
	RequestNamedLWLockTranche("mailcluster raft", 1);
}

/*
 * shmem_startup_hook: chain, then create (postmaster) or attach to the
 * Raft area.  A fresh area is zeroed; request ids start from the wall clock
 * so they keep growing across restarts.
 */
static void
mc_raft_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	McRaft = ShmemInitStruct("mailcluster raft", mc_raft_shmem_size(), &found);
	if (!found)
	{
		struct timeval tv;

		memset(McRaft, 0, mc_raft_shmem_size());
		McRaft->lock = &(GetNamedLWLockTranche("mailcluster raft"))->lock;
		ConditionVariableInit(&McRaft->applied_cv);
		ConditionVariableInit(&McRaft->snapshot_cv);
		SpinLockInit(&McRaft->session_mutex);
		McRaft->nslots = mc_raft_nslots();
		gettimeofday(&tv, NULL);
		McRaft->next_request_seq =
			((uint64) tv.tv_sec * 1000 + tv.tv_usec / 1000) << 16;
	}
	LWLockRelease(AddinShmemInitLock);
}

/* Installs both hooks, keeping the previous ones to chain to. */
void
mc_raft_shmem_install_hooks(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = mc_raft_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = mc_raft_shmem_startup;
}

/* The calling backend's slot, or NULL (no backend id, or no shmem). */
McRaftSlot *
mc_raft_my_slot(void)
{
	if (McRaft == NULL || MyBackendId < 1 || MyBackendId > McRaft->nslots)
		return NULL;
	return &McRaft->slots[MyBackendId - 1];
}

/* See raft_shmem.h. */
bool
mc_raft_local_proposal_open(void)
{
	int			i;

	for (i = 0; i < McRaft->nslots; i++)
	{
		McRaftSlot *s = &McRaft->slots[i];

		if (s->kind == MC_REQ_PROPOSE &&
			(s->state == MC_SLOT_PENDING || s->state == MC_SLOT_ACCEPTED))
			return true;
	}
	return false;
}

/* Leader node id as last published, 0 when unknown. */
uint32_t
mc_raft_shared_leader(void)
{
	uint32_t	leader;

	if (McRaft == NULL)
		return 0;
	LWLockAcquire(McRaft->lock, LW_SHARED);
	leader = McRaft->raft_ready ? McRaft->status.leader : 0;
	LWLockRelease(McRaft->lock);
	return leader;
}

/* True when the published role is leader. */
bool
mc_raft_shared_is_leader(void)
{
	bool		res;

	if (McRaft == NULL)
		return false;
	LWLockAcquire(McRaft->lock, LW_SHARED);
	res = McRaft->raft_ready && McRaft->status.role == MC_RAFT_LEADER;
	LWLockRelease(McRaft->lock);
	return res;
}

/* Role of node_id in this node's view, for the members view. */
const char *
mc_raft_shared_role_of(uint32_t node_id)
{
	const char *res = "none";

	if (McRaft == NULL)
		return res;
	LWLockAcquire(McRaft->lock, LW_SHARED);
	if (McRaft->raft_ready)
	{
		mc_raft_status *st = &McRaft->status;

		if (node_id == st->id)
		{
			if (st->role == MC_RAFT_LEADER)
				res = "leader";
			else if (st->role == MC_RAFT_CANDIDATE || st->role == MC_RAFT_PRE_CANDIDATE)
				res = "candidate";
			else if (st->is_learner)
				res = "learner";
			else if (st->is_voter)
				res = "follower";
		}
		else if (node_id == st->leader)
			res = "leader";
		else if (mc_raft_conf_is_learner(&st->conf, node_id))
			res = "learner";
		else if (mc_raft_conf_is_voter(&st->conf, node_id))
			res = "follower";
	}
	LWLockRelease(McRaft->lock);
	return res;
}

/* Voter in the known configuration? */
bool
mc_raft_shared_is_voter(uint32_t node_id)
{
	bool		res = false;

	if (McRaft == NULL)
		return false;
	LWLockAcquire(McRaft->lock, LW_SHARED);
	if (McRaft->raft_ready)
		res = mc_raft_conf_is_voter(&McRaft->status.conf, node_id);
	LWLockRelease(McRaft->lock);
	return res;
}

/* Current term, 0 before the worker loaded its state. */
uint64_t
mc_raft_shared_term(void)
{
	uint64_t	term;

	if (McRaft == NULL)
		return 0;
	LWLockAcquire(McRaft->lock, LW_SHARED);
	term = McRaft->status.term;
	LWLockRelease(McRaft->lock);
	return term;
}

/* Cluster id, 0 before the node belongs to a cluster. */
uint64_t
mc_raft_shared_cluster_id(void)
{
	uint64_t	id;

	if (McRaft == NULL)
		return 0;
	LWLockAcquire(McRaft->lock, LW_SHARED);
	id = McRaft->cluster_id;
	LWLockRelease(McRaft->lock);
	return id;
}
