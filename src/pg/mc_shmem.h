/*
 * mc_shmem.h — the one shared-memory struct of mailcluster (McShared) and
 * the lock that guards it.
 *
 * Writers: the gossip worker (members, its pid and latch),
 * fault_isolate()/fault_clear() (blocked node set).  The Raft side keeps
 * its own shared state (raft_shmem.h) and reads members and the blocked
 * set from here.
 * Readers: the SQL functions and views.  Everything but the metric atomics
 * is read and written under mc_shared->lock (an LWLock from the named
 * tranche "mailcluster"): LW_SHARED to read, LW_EXCLUSIVE to write.
 */
#ifndef MC_SHMEM_H
#define MC_SHMEM_H

#include "port/atomics.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "utils/timestamp.h"

#include "mc_metrics.h"

#define MC_MAX_MEMBERS		1024	/* members shown in mailcluster.members */
#define MC_ADDR_LEN			64

/* Member states, as in SPEC §3 (same order as the SWIM core's). */
typedef enum McMemberState
{
	MC_MEMBER_ALIVE = 0,
	MC_MEMBER_SUSPECT = 1,
	MC_MEMBER_DEAD = 2,
	MC_MEMBER_LEFT = 3
} McMemberState;

/* Raft roles as gossip carries them (mc_swim_meta.raft_role). */
typedef enum McRaftRole
{
	MC_RAFT_ROLE_NONE = 0,
	MC_RAFT_ROLE_FOLLOWER = 1,
	MC_RAFT_ROLE_CANDIDATE = 2,
	MC_RAFT_ROLE_LEADER = 3,
	MC_RAFT_ROLE_LEARNER = 4
} McRaftRole;

/* One row of mailcluster.members as this node sees it. */
typedef struct McMemberSlot
{
	uint16		node_id;
	bool		is_self;
	bool		replica;
	bool		voter;
	uint8		state;			/* McMemberState */
	uint8		raft_role;		/* McRaftRole */
	char		addr[MC_ADDR_LEN];
	uint16		gossip_port;
	uint16		rpc_port;
	uint16		sql_port;
	uint32		incarnation;
	uint32		roles;			/* bit i = mc_role_names[i] configured */
	double		phi;
	TimestampTz last_seen;		/* 0 = never heard from */
} McMemberSlot;

typedef struct McShared
{
	LWLock	   *lock;

	/* gossip worker */
	pid_t		gossip_pid;		/* 0 when not running */
	Latch	   *gossip_latch;	/* set to wake it (fault changes) */
	uint64		members_generation; /* bumped on every publish */
	int			n_members;		/* 0 until the worker first publishes */
	McMemberSlot members[MC_MAX_MEMBERS];

	/* fault injection: bit n set = drop all traffic with node n */
	uint64		fault_generation;
	int			n_blocked;
	uint8		fault_blocked[65536 / 8];

	pg_atomic_uint64 metrics[MC_METRIC__COUNT];
} McShared;

extern McShared *mc_shared;

/* Install shmem_request_hook and shmem_startup_hook (from _PG_init). */
extern void mc_shmem_install_hooks(void);

/*
 * ERROR (with a hint) unless the library was preloaded and its shared
 * memory exists; every SQL entry point calls this first.
 */
extern void mc_require_shmem(void);

/* Is node id n in the fault-injection blocked set?  Takes the lock. */
extern bool mc_fault_is_blocked(int n);

/* Is node id n in the fault-injection blocked set?  Caller holds lock. */
static inline bool
mc_fault_is_blocked_locked(const McShared *sh, int n)
{
	return n > 0 && n < 65536 && (sh->fault_blocked[n >> 3] & (1 << (n & 7))) != 0;
}

#endif
