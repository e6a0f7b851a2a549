/*
 * raft_shmem.h — the Raft shared-memory area: the status the raft worker
 * publishes for the views, and the backend -> raft worker request queue
 * (one slot per backend, like the checkpointer's request queue but with a
 * reply), plus the applied index that waiting backends watch and the
 * snapshot hand-off (apply worker -> raft worker).
 *
 * Locking: `lock` (one LWLock) protects every field below except where a
 * field says otherwise.  Backends wait on `applied_cv` for the apply worker
 * and on their own latch for the reply in their slot: whoever completes a
 * slot (raft worker or apply worker) sets exactly that backend's latch
 * (mc_raft_slot_finish; the apply worker, which completes most slots, sets
 * them after releasing the lock), so a batch of replies wakes only their
 * backends.
 */
#ifndef MC_RAFT_SHMEM_H
#define MC_RAFT_SHMEM_H

#include "postgres.h"

#include "storage/condition_variable.h"
#include "storage/dsm.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/spin.h"
#include "utils/timestamp.h"

#include "raft.h"

/* Command bytes carried inline in a slot; bigger ones travel in a DSM segment. */
#define MC_RAFT_INLINE_BYTES	8192
/* Reply bytes (the stored JMAP response) carried back inline. */
#define MC_RAFT_REPLY_BYTES		8192

/*
 * Largest log entry a write may propose (bytes), the same on every node:
 * every node accepts RPC frames of this size whatever its raft_batch_max
 * (rpc_net.c), and the core sends an entry bigger than its batch bound
 * alone.  A bigger entry could be appended but never sent (it did not fit
 * the leader's frame, or a follower with a smaller raft_batch_max dropped
 * it): replication stopped behind it until another leader took over.
 * Blobs travel in parts of at most 1 MB, so only a pathological command
 * comes near it.
 */
#define MC_RAFT_ENTRY_MAX		(8 * 1024 * 1024)

/*
 * MC_REQ_PROPOSE's arg_op: the request id was generated for this call (the
 * caller gave none), so nobody can ask for the response again.
 */
#define MC_PROPOSE_NO_RETRY		0x01

/*
 * Bit of an entry's client_id (above the node id): proposed with
 * MC_PROPOSE_NO_RETRY and appended by the proposing node itself as leader,
 * so it is never proposed again either; its apply keeps no response in
 * _responses unless the response is too big for a slot's reply.
 */
#define MC_CLIENT_NO_RETRY		(UINT64CONST(1) << 32)

typedef enum McRaftReqKind
{
	MC_REQ_PROPOSE = 1,			/* a state-machine command; arg_op: flags */
	MC_REQ_READ_INDEX = 2,		/* linearizable read index */
	MC_REQ_CONF_CHANGE = 3,		/* arg_op (mc_raft_cc_op), arg_node */
	MC_REQ_TRANSFER = 4			/* arg_node (0 = best voter) */
} McRaftReqKind;

typedef enum McRaftSlotState
{
	MC_SLOT_FREE = 0,
	MC_SLOT_PENDING,			/* filled by the backend, worker not yet seen it */
	MC_SLOT_ACCEPTED,			/* worker handed it to the core; waiting */
	MC_SLOT_DONE				/* result filled in (error, index, reply) */
} McRaftSlotState;

typedef struct McRaftSlot
{
	int			state;			/* McRaftSlotState */
	int			kind;			/* McRaftReqKind */
	uint64		request_id;		/* unique per node (client id = node id) */
	/* arguments */
	uint32		arg_node;
	uint8		arg_op;
	bool		held;			/* a proposal held by the leader's group
								 * commit (raft_requests.c) */
	uint32		len;			/* command bytes */
	dsm_handle	dsm;			/* DSM_HANDLE_INVALID: bytes are inline */
	char		data[MC_RAFT_INLINE_BYTES];
	/* results */
	int			err;			/* mc_raft_err, 0 = ok */
	uint64		index;			/* log index (propose/conf) or read index */
	bool		applied;		/* apply worker has applied `index` */
	bool		reply_valid;	/* reply[] holds the _apply() result */
	uint32		reply_len;
	char		reply[MC_RAFT_REPLY_BYTES];
	Latch	   *owner;			/* the waiting backend's latch: set at DONE */
} McRaftSlot;

/* One row of raft_progress. */
typedef struct McRaftProgressRow
{
	uint32		id;
	bool		learner;
	uint64		match;
	uint64		next;
	uint8		state;
	TimestampTz last_ack;
} McRaftProgressRow;

typedef struct McRaftShared
{
	LWLock	   *lock;
	ConditionVariable applied_cv;	/* applied_index moved */

	Latch	   *raft_latch;			/* the raft worker's latch, NULL if down */
	Latch	   *apply_latch;		/* the apply worker's latch, NULL if down */
	pid_t		raft_pid;
	pid_t		apply_pid;
	bool		raft_ready;			/* worker loaded its state */

	/* status published by the raft worker */
	uint32		node_id;
	uint64		cluster_id;
	mc_raft_status status;
	TimestampTz last_leader_contact;
	int			n_progress;
	McRaftProgressRow progress[MC_RAFT_MAX_MEMBERS];

	/* commit hand-off: raft worker -> apply worker */
	uint64		commit_for_apply;	/* entries <= this are durable + committed */
	uint64		applied_index;		/* apply worker: last applied (durable) */
	uint64		apply_wanted;		/* highest index a backend waited for
									 * (mc_raft_wait_applied): a follower's
									 * apply worker applies it at once */
	/*
	 * Apply ahead (apply_worker.c): entries <= stored_ahead are in
	 * _raft_log.  The raft worker sets it after each persist of entries and
	 * withdraws it (0, ahead_epoch + 1) BEFORE a batch that truncates the
	 * log, installs a snapshot or writes an entry at or below it again (and
	 * at its own start and exit), so an apply transaction that sees an
	 * unchanged ahead_epoch when commit_for_apply reaches its entries ran
	 * exactly the entries that committed.
	 */
	uint64		stored_ahead;
	uint64		ahead_epoch;
	bool		ahead_wanted;	/* apply worker: its entries' work pays for
								 * running ahead (APPLY_AHEAD_MIN_US) */
	uint64		snapshot_index;		/* last compaction point (raft worker) */
	/*
	 * A snapshot received from the leader and kept (snapshot_store.h), not
	 * yet loaded into the tables: while install_index > applied_index the
	 * apply worker loads it before it applies any entry (the log before it
	 * is gone).  Set by the raft worker once the snapshot's meta is durable
	 * (and at its start, from the tables), so the raft worker never waits
	 * for the load: it keeps answering the leader meanwhile.
	 */
	uint64		install_index;
	uint64		snapshot_ready_index;	/* apply worker took a snapshot here */
	bool		snapshot_requested;	/* snapshot() asks the apply worker */
	ConditionVariable snapshot_cv;	/* snapshot_index moved */

	/* counters for the metrics view (monotonic) */
	uint64		n_proposals;
	uint64		n_read_index;	/* read-index requests taken (read barriers) */
	uint64		n_proposals_failed;
	uint64		n_commits;
	uint64		n_applied;
	uint64		n_applied_ahead;	/* of n_applied: run before their commit */
	uint64		n_ahead_abandoned;	/* apply-ahead transactions rolled back */
	uint64		n_elections;
	uint64		n_leader_changes;
	uint64		n_msgs_sent;
	uint64		n_msgs_recv;
	uint64		n_msgs_dropped;
	uint64		n_persist;
	uint64		n_snapshots_taken;
	uint64		n_snapshots_installed;
	uint64		n_snapshot_chunks_sent;

	/* the JMAP session state (session_state.c): valid while session_rel is */
	slock_t		session_mutex;
	Oid			session_db;
	Oid			session_rel;	/* mailcluster.accounts it describes */
	int64		session_state;

	uint64		next_request_seq;	/* request ids handed to backends */
	int			nslots;
	McRaftSlot	slots[FLEXIBLE_ARRAY_MEMBER];
} McRaftShared;

extern McRaftShared *McRaft;

/* Installs the hooks (called from mc_raft_pg_init). */
extern void mc_raft_shmem_install_hooks(void);

/* The calling backend's slot (by backend id), or NULL when none. */
extern McRaftSlot *mc_raft_my_slot(void);

/*
 * Mark slot s DONE (caller holds lock exclusively) and return the latch of
 * the backend waiting on it, or NULL: the caller sets it once it has
 * released the lock, so a woken backend does not at once block on the lock
 * its waker still holds.  A latch set late or twice is harmless: the
 * backend re-checks its slot's state under the lock.
 */
static inline Latch *
mc_raft_slot_finish_deferred(McRaftSlot *s)
{
	s->state = MC_SLOT_DONE;
	return s->owner;
}

/*
 * Does a backend of this node wait for a write it proposed (a slot of kind
 * propose, pending or accepted)?  Caller holds lock.
 */
extern bool mc_raft_local_proposal_open(void);

/*
 * Withdraw apply ahead (stored_ahead = 0, ahead_epoch + 1): an apply
 * transaction running ahead rolls back.  Caller holds lock exclusively
 * and sets the returned latch (the apply worker's, or NULL) once it has
 * released the lock.
 */
static inline Latch *
mc_raft_withdraw_ahead(void)
{
	McRaft->stored_ahead = 0;
	McRaft->ahead_epoch++;
	return McRaft->apply_latch;
}

/* Mark slot s DONE and wake its backend (caller holds lock exclusively). */
static inline void
mc_raft_slot_finish(McRaftSlot *s)
{
	Latch	   *owner = mc_raft_slot_finish_deferred(s);

	if (owner != NULL)
		SetLatch(owner);
}

#endif
