/*
 * raft.h — public interface of the pure Raft consensus core.
 *
 * The core is a deterministic state machine in the shape of etcd's raft:
 * the host feeds it ticks (mc_raft_tick), received messages (mc_raft_step)
 * and client requests (mc_raft_propose, ...), then asks for a batch of work
 * (mc_raft_ready), carries that work out in the order documented on
 * mc_raft_ready, and acknowledges it (mc_raft_advance).
 *
 * No PostgreSQL, no sockets, no clocks, no disk, no threads: time is ticks,
 * randomness is a seeded PRNG inside the node.  Snapshot contents are opaque
 * bytes owned by the host; the core only moves them in chunks.
 *
 * Node ids are small positive integers 1..65535; 0 (MC_RAFT_NONE) means
 * "nobody".  Log indexes start at 1; index 0 / term 0 is the empty log.
 */
#ifndef MC_RAFT_H
#define MC_RAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MC_RAFT_NONE		0
#define MC_RAFT_MAX_MEMBERS	32		/* voters + learners in one configuration */

/* ---- results ------------------------------------------------------------ */

typedef enum mc_raft_err
{
	MC_RAFT_OK = 0,
	MC_RAFT_ERR_NOT_LEADER = -1,	/* no leader known (cannot forward either) */
	MC_RAFT_ERR_DROPPED = -2,	/* leader busy (transfer under way) or node removed */
	MC_RAFT_ERR_TOO_MUCH = -3,	/* uncommitted-bytes bound reached (R18) */
	MC_RAFT_ERR_CONF_PENDING = -4,	/* a membership change is not yet applied (R26) */
	MC_RAFT_ERR_INVALID = -5,	/* bad argument (unknown node, bad op, ...) */
	MC_RAFT_ERR_NOMEM = -6
} mc_raft_err;

/* ---- configuration ------------------------------------------------------ */

typedef struct mc_raft_config
{
	uint32_t	id;				/* this node, 1..65535 */
	int			election_ticks;	/* ET: base election timeout, in ticks (>= 2) */
	int			heartbeat_ticks;	/* leader heartbeat period, in ticks (< ET) */
	uint32_t	max_batch_bytes;	/* byte bound of one append / snapshot chunk
									 * (entry payload bytes); an entry larger
									 * than it travels alone. 0 = 1 MiB */
	int			max_inflight;	/* append messages in flight per follower in
								 * replicate state; 0 = 64 */
	uint64_t	max_uncommitted_bytes;	/* refuse proposals beyond; 0 = unbounded */
	bool		pre_vote;		/* run a pre-vote before every election */
	bool		check_quorum;	/* leader lease: step down / refuse votes */
	uint64_t	seed;			/* PRNG seed for election timeouts */
	uint64_t	applied;		/* host's state machine already holds entries
								 * up to here (>= snapshot index); committed
								 * entries after it are handed out again; the
								 * commit index is raised to it if lower */
} mc_raft_config;

/* A membership configuration: voters and learners, disjoint, unsorted. */
typedef struct mc_raft_conf
{
	uint32_t	n_voters;
	uint32_t	n_learners;
	uint32_t	voters[MC_RAFT_MAX_MEMBERS];
	uint32_t	learners[MC_RAFT_MAX_MEMBERS];
} mc_raft_conf;

/* Encoded configuration size bound, in bytes. */
#define MC_RAFT_CONF_MAX_BYTES	(4 + 8 * MC_RAFT_MAX_MEMBERS)

/*
 * Encode a configuration (the data of a CONFIG entry).  Returns the length
 * written, or -1 if cap is too small.  Format: u16 n_voters, u16 n_learners,
 * then n_voters u32 ids, then n_learners u32 ids.
 */
int			mc_raft_conf_encode(const mc_raft_conf *c, uint8_t *buf, size_t cap);

/*
 * Decode a configuration.  Returns 0, or -1 on truncated/oversized input,
 * trailing bytes, id 0, duplicate ids, or more than MC_RAFT_MAX_MEMBERS.
 */
int			mc_raft_conf_decode(const uint8_t *buf, size_t len, mc_raft_conf *out);

/* True when id is a voter / a learner of c. */
bool		mc_raft_conf_is_voter(const mc_raft_conf *c, uint32_t id);
bool		mc_raft_conf_is_learner(const mc_raft_conf *c, uint32_t id);

/* ---- persistent state --------------------------------------------------- */

/* Must be durable before any message of the same ready batch is sent. */
typedef struct mc_raft_hard_state
{
	uint64_t	term;
	uint32_t	vote;			/* MC_RAFT_NONE if not voted in term */
	uint64_t	commit;
} mc_raft_hard_state;

typedef enum mc_raft_entry_type
{
	MC_RAFT_ENTRY_NORMAL = 0,	/* client command, opaque data */
	MC_RAFT_ENTRY_NOOP = 1,		/* appended by each new leader; no data */
	MC_RAFT_ENTRY_CONFIG = 2	/* data = mc_raft_conf_encode() of the NEW
								 * configuration; takes effect when appended */
} mc_raft_entry_type;

typedef struct mc_raft_entry
{
	uint64_t	index;
	uint64_t	term;
	uint8_t		type;			/* mc_raft_entry_type */
	uint64_t	client_id;		/* carried untouched for duplicate detection */
	uint64_t	request_id;
	uint8_t    *data;			/* malloc'd by the core; may be NULL if len 0 */
	uint32_t	len;
} mc_raft_entry;

/* What a snapshot covers: state up to index (whose term is term), conf. */
typedef struct mc_raft_snapshot_meta
{
	uint64_t	index;
	uint64_t	term;
	mc_raft_conf conf;
} mc_raft_snapshot_meta;

/* ---- messages ----------------------------------------------------------- */

typedef enum mc_raft_msg_type
{
	MC_RAFT_MSG_PREVOTE_REQ = 1,	/* term = term the sender WOULD campaign in;
									 * index/log_term = sender's last index/term;
									 * flags: LEADER_LOST */
	MC_RAFT_MSG_PREVOTE_RESP = 2,	/* term = request's term; reject */
	MC_RAFT_MSG_VOTE_REQ = 3,	/* index/log_term = last index/term; flags:
								 * TRANSFER (leadership transfer: ignore lease) */
	MC_RAFT_MSG_VOTE_RESP = 4,	/* reject */
	MC_RAFT_MSG_APPEND_REQ = 5, /* index/log_term = previous entry; entries;
								 * commit = leader commit */
	MC_RAFT_MSG_APPEND_RESP = 6,	/* !reject: index = last index matched;
									 * reject: index = rejected prev index,
									 * hint_index/hint_term = fast back-off;
									 * flags: WANT_COMMIT */
	MC_RAFT_MSG_HEARTBEAT_REQ = 7,	/* commit (<= follower's match); context */
	MC_RAFT_MSG_HEARTBEAT_RESP = 8, /* context echoed; index = follower last;
									 * flags: WANT_COMMIT */
	MC_RAFT_MSG_SNAPSHOT_REQ = 9,	/* one chunk: snap meta, offset, data,
									 * flags: LAST_CHUNK */
	MC_RAFT_MSG_SNAPSHOT_RESP = 10, /* snap.index; offset = next expected
									 * offset; reject = restart from 0 */
	MC_RAFT_MSG_TIMEOUT_NOW = 11,	/* leadership transfer: campaign now */
	MC_RAFT_MSG_READINDEX_REQ = 12, /* follower -> leader: context */
	MC_RAFT_MSG_READINDEX_RESP = 13,	/* context; index = read index;
										 * reject = leader could not serve */
	MC_RAFT_MSG_PROPOSE = 14	/* forwarded proposal: entries (index/term 0);
								 * a CONFIG entry here carries a change
								 * request: u8 op, u32 node */
} mc_raft_msg_type;

#define MC_RAFT_FLAG_LEADER_LOST	0x01
#define MC_RAFT_FLAG_TRANSFER		0x02
#define MC_RAFT_FLAG_LAST_CHUNK		0x04
#define MC_RAFT_FLAG_FORWARDED		0x08	/* a proposal already re-forwarded once */
#define MC_RAFT_FLAG_WANT_COMMIT	0x10	/* follower: someone here waits for
											 * commits, tell me each at once */

typedef struct mc_raft_msg
{
	uint8_t		type;			/* mc_raft_msg_type */
	uint8_t		flags;
	bool		reject;
	uint32_t	from;
	uint32_t	to;
	uint64_t	term;
	uint64_t	index;
	uint64_t	log_term;
	uint64_t	commit;
	uint64_t	context;
	uint64_t	hint_index;
	uint64_t	hint_term;
	/* APPEND_REQ, PROPOSE */
	uint32_t	n_entries;
	mc_raft_entry *entries;
	/* SNAPSHOT_REQ / SNAPSHOT_RESP */
	mc_raft_snapshot_meta snap;
	uint64_t	offset;
	const uint8_t *data;		/* chunk bytes (borrowed) */
	uint32_t	len;
} mc_raft_msg;

/*
 * Exact encoded size of m in bytes (see doc/raft.md for the layout).
 */
size_t		mc_raft_msg_size(const mc_raft_msg *m);

/*
 * Encode m into buf.  Returns the number of bytes written, or -1 if it does
 * not fit in cap or m is malformed (unknown type, > MC_RAFT_MAX_MEMBERS).
 */
int64_t		mc_raft_msg_encode(const mc_raft_msg *m, uint8_t *buf, size_t cap);

/*
 * Decode one message from exactly len bytes.  Returns 0 or -1 (malformed,
 * truncated, trailing bytes, unknown type).  On success entry data and
 * snapshot chunk data point INTO buf (borrowed: keep buf alive while the
 * message is used), and out->entries is a malloc'd array the caller frees
 * with mc_raft_msg_free_decoded().  On failure nothing is left allocated.
 */
int			mc_raft_msg_decode(const uint8_t *buf, size_t len, mc_raft_msg *out);
void		mc_raft_msg_free_decoded(mc_raft_msg *m);

/* Human-readable name of a message type ("append_req"...), for logs. */
const char *mc_raft_msg_type_name(int type);

/* ---- roles and status --------------------------------------------------- */

typedef enum mc_raft_role
{
	MC_RAFT_FOLLOWER = 0,
	MC_RAFT_PRE_CANDIDATE = 1,
	MC_RAFT_CANDIDATE = 2,
	MC_RAFT_LEADER = 3
} mc_raft_role;

typedef struct mc_raft_soft_state
{
	uint8_t		role;			/* mc_raft_role */
	uint32_t	leader;			/* MC_RAFT_NONE if unknown */
} mc_raft_soft_state;

typedef enum mc_raft_progress_state
{
	MC_RAFT_PROBE = 0,
	MC_RAFT_REPLICATE = 1,
	MC_RAFT_SNAPSHOT = 2
} mc_raft_progress_state;

typedef struct mc_raft_status
{
	uint32_t	id;
	uint8_t		role;			/* mc_raft_role */
	bool		is_voter;
	bool		is_learner;
	uint64_t	term;
	uint32_t	vote;
	uint32_t	leader;
	uint64_t	commit;
	uint64_t	applied;
	uint64_t	last_index;
	uint64_t	last_term;
	uint64_t	snapshot_index;
	uint64_t	snapshot_term;
	uint64_t	ticks_since_leader;	/* ticks since last heard from a leader
									 * (0 on the leader itself) */
	mc_raft_conf conf;
} mc_raft_status;

typedef struct mc_raft_progress_info
{
	uint32_t	id;
	bool		learner;
	uint64_t	match;
	uint64_t	next;
	uint8_t		state;			/* mc_raft_progress_state */
	uint64_t	ticks_since_ack;
	int			inflight;
} mc_raft_progress_info;

/* ---- the ready batch ---------------------------------------------------- */

/* A leader asks its host for the next chunk of its current snapshot. */
typedef struct mc_raft_snap_request
{
	uint32_t	to;				/* follower that needs it */
	mc_raft_snapshot_meta meta; /* the snapshot the core knows of */
	uint64_t	offset;			/* host reads up to max_batch_bytes from here
								 * and calls mc_raft_snapshot_chunk() */
} mc_raft_snap_request;

/* A follower received a chunk: the host stages it at offset. */
typedef struct mc_raft_snap_chunk
{
	mc_raft_snapshot_meta meta;
	uint64_t	offset;			/* 0 = a new transfer: discard any staging */
	const uint8_t *data;
	uint32_t	len;
	bool		last;
} mc_raft_snap_chunk;

typedef struct mc_raft_read_state
{
	uint64_t	context;		/* as passed to mc_raft_read_index() */
	uint64_t	index;			/* read is linearizable once applied >= index */
	bool		failed;			/* could not be served: retry later */
} mc_raft_read_state;

/*
 * Everything the host must do, valid until mc_raft_advance().  The host does
 * it in THIS order:
 *   0. if send_first: send `msgs` now, before 1-4 (see below), and skip 5;
 *   1. snap_chunks: write received snapshot chunks to the staging area;
 *   2. install (if non-NULL): make the staged snapshot its durable state,
 *      persist install->{index,term,conf} as its snapshot meta and discard
 *      its whole stored log, atomically.  The state machine may load the
 *      snapshot after this batch, as committed entries are applied after
 *      it, but before it applies any entry after install->index;
 *   3. if truncate_from != 0, delete stored entries with index >= it; then
 *      append `entries` durably;
 *   4. if has_hard_state, persist hs (fsync when must_sync);
 *   5. ONLY THEN send `msgs` (they may depend on 2-4: a vote, an ack);
 *   6. apply `committed` in order (never before they are persisted);
 *   7. serve `reads` once applied >= read.index;
 *   8. copy `snap_requests` (they die with the batch);
 *   9. call mc_raft_advance(node, ready);
 *  10. then answer each copied snap_request by calling
 *      mc_raft_snapshot_chunk() (not allowed between ready and advance).
 *
 * send_first (Raft thesis 10.2.1: the leader writes its log in parallel with
 * replicating it) is set only when no message of the batch depends on what
 * the batch persists: the node is leader at ready time, the batch changes
 * neither term nor vote (they equal the hard state of the previous batch,
 * hence are durable), truncates nothing, installs no snapshot, stages no
 * chunk, and every message is an append, a heartbeat, a snapshot chunk, a
 * TimeoutNow, a ReadIndex answer, a pre-vote answer, or a REFUSED vote,
 * append or snapshot answer (never a vote grant, a vote request or any
 * other append or snapshot answer).  The host may then send (and flush) `msgs` first and
 * persist 1-4 afterwards, in parallel with the followers' writes; steps 6-10
 * still wait for 1-4, and the leader still counts its own entries toward the
 * commit only after mc_raft_advance().  A crash between the send and the
 * persist loses the batch's entries from the leader's disk only: they were
 * never counted as the leader's copy, so nothing committed depends on them.
 * Hosts may ignore the flag (the plain order is always correct).
 */
typedef struct mc_raft_batch
{
	bool		send_first;		/* msgs may leave before 1-4 (see above) */
	bool		has_hard_state;
	bool		must_sync;
	mc_raft_hard_state hs;

	uint64_t	truncate_from;
	mc_raft_entry *entries;
	size_t		n_entries;

	const mc_raft_snapshot_meta *install;

	mc_raft_snap_chunk *snap_chunks;
	size_t		n_snap_chunks;

	mc_raft_msg *msgs;
	size_t		n_msgs;

	mc_raft_entry *committed;
	size_t		n_committed;

	mc_raft_read_state *reads;
	size_t		n_reads;

	mc_raft_snap_request *snap_requests;
	size_t		n_snap_requests;

	bool		soft_changed;
	mc_raft_soft_state soft;
} mc_raft_batch;

/* ---- lifecycle ---------------------------------------------------------- */

typedef struct mc_raft mc_raft;

/*
 * Create a node from its config and what the host persisted: hard state
 * (NULL = fresh), snapshot meta (NULL = empty: index 0, term 0, no members —
 * a brand-new cluster passes {0, 0, initial voters}), and the stored log
 * entries after the snapshot (consecutive, first index = snap index + 1).
 * The core copies everything it keeps.  Returns NULL on invalid arguments
 * (message in err if err != NULL and errlen > 0) or out of memory.
 */
mc_raft    *mc_raft_create(const mc_raft_config *cfg,
						   const mc_raft_hard_state *hs,
						   const mc_raft_snapshot_meta *snap,
						   const mc_raft_entry *entries, size_t n_entries,
						   char *err, size_t errlen);
void		mc_raft_destroy(mc_raft *r);

/* Advance the logical clock by one tick. */
void		mc_raft_tick(mc_raft *r);

/*
 * Change the election timeout and heartbeat period of a running node, in
 * ticks (a reload of the host's settings).  Every wait drawn from now on
 * uses the new base; the wait under way is drawn again from it, counting
 * the ticks already elapsed.  MC_RAFT_ERR_INVALID, changing nothing, unless
 * election_ticks >= 2 and 1 <= heartbeat_ticks < election_ticks.
 */
int			mc_raft_set_timeouts(mc_raft *r, int election_ticks, int heartbeat_ticks);

/*
 * Change the byte bound of one append batch and snapshot chunk
 * (config.max_batch_bytes) of a running node (a reload of the host's
 * settings): appends and chunks built from now on use it.
 * MC_RAFT_ERR_INVALID, changing nothing, when bytes is 0.
 */
int			mc_raft_set_max_batch(mc_raft *r, uint32_t bytes);

/*
 * Process one received message (m->to must be this node, else ignored).
 * The core copies whatever it keeps; m may be freed afterwards.
 * Returns 0, or MC_RAFT_ERR_NOMEM.
 */
int			mc_raft_step(mc_raft *r, const mc_raft_msg *m);

/*
 * Propose a client command.  On the leader the entry is appended at once
 * and *index (if non-NULL) receives its log index.  On a follower that knows
 * a leader, it is forwarded (MC_RAFT_OK, *index = 0): the host learns the
 * outcome by seeing (client_id, request_id) among committed entries.
 * type must be NORMAL.  Errors: NOT_LEADER (no leader known), DROPPED
 * (transfer under way), TOO_MUCH (uncommitted bound), INVALID, NOMEM.
 */
int			mc_raft_propose(mc_raft *r, uint8_t type, uint64_t client_id,
							uint64_t request_id, const void *data, uint32_t len,
							uint64_t *index);

typedef enum mc_raft_cc_op
{
	MC_RAFT_CC_ADD_VOTER = 1,
	MC_RAFT_CC_ADD_LEARNER = 2,
	MC_RAFT_CC_PROMOTE = 3,		/* learner -> voter */
	MC_RAFT_CC_REMOVE = 4		/* any member, the leader included */
} mc_raft_cc_op;

/*
 * Propose a one-server membership change.  Same forwarding rules as
 * mc_raft_propose.  Errors additionally: CONF_PENDING when a configuration
 * entry is not yet applied on the leader or the leader has not yet committed
 * an entry of its own term (retry shortly), INVALID when the change is a no-op
 * (adding a member, removing a stranger, promoting a non-learner) or would
 * leave no voter.
 */
int			mc_raft_propose_conf_change(mc_raft *r, uint8_t op, uint32_t node,
										uint64_t *index);

/*
 * Leadership transfer (leader only): catch target up, then TimeoutNow.
 * Aborted if not done within ET ticks.  target 0 = the most up-to-date voter.
 * Errors: NOT_LEADER, INVALID (not a voter / self).
 */
int			mc_raft_transfer_leader(mc_raft *r, uint32_t target);

/*
 * Request a linearizable read index; the answer arrives in ready.reads with
 * the same context (failed = true if it cannot be served: no leader,
 * leadership lost, ...).  Errors: NOT_LEADER when no leader is known.
 */
int			mc_raft_read_index(mc_raft *r, uint64_t context);

/*
 * Host's connection to the current leader closed: forget the leader lease
 * and start a pre-vote at once (flagged LEADER_LOST so peers that saw the
 * same grant it).  Ignored on the leader and on non-voters.
 */
void		mc_raft_leader_lost(mc_raft *r);

/*
 * Host: does anyone on this node wait for entries to commit (a forwarded
 * proposal, a read index, a wait for an applied index)?  A follower says
 * so in its answers to the leader (WANT_COMMIT), and the leader then sends
 * it every commit advance at once.  A follower nobody waits on learns the
 * commit index with the next append, or within one tick when none comes:
 * one message fewer per follower per commit.  Keeps its value across role
 * changes; false at creation.
 */
void		mc_raft_set_commit_wanted(mc_raft *r, bool wanted);

/* Is this node the leader now (a proposal is appended here, not forwarded)? */
bool		mc_raft_is_leader(const mc_raft *r);

/*
 * Is this node the leader with entries of its log not committed yet (a
 * replication round in flight)?  The host may hold new proposals while so
 * (group commit: they then go out together when the round commits).
 */
bool		mc_raft_leader_round_open(const mc_raft *r);

/*
 * The host has captured its state machine up to `index` (<= applied) in a
 * snapshot: entries up to index are dropped from memory, and later
 * followers behind it get this snapshot.  Returns 0 or INVALID.
 */
int			mc_raft_snapshot_taken(mc_raft *r, uint64_t index);

/*
 * Leader host answers an mc_raft_snap_request (after mc_raft_advance of the
 * batch that carried it): the chunk of the snapshot
 * `meta_index` starting at offset (at most max_batch_bytes; last = it ends
 * the snapshot).  The core copies data into a message.  A stale request
 * (snapshot replaced, follower gone) is ignored.  Returns 0 or an error.
 */
int			mc_raft_snapshot_chunk(mc_raft *r, uint32_t to, uint64_t meta_index,
								   uint64_t offset, const void *data,
								   uint32_t len, bool last);

/* Is there work for the host? */
bool		mc_raft_has_ready(const mc_raft *r);

/*
 * Collect the pending work into *rd (overwritten).  The arrays inside belong
 * to the node and stay valid until mc_raft_advance().  Do not call tick,
 * step or propose between mc_raft_ready and mc_raft_advance.
 */
void		mc_raft_ready(mc_raft *r, mc_raft_batch *rd);

/*
 * The host has done everything in rd (persisted, sent, applied, served).
 * Frees the batch.
 */
void		mc_raft_advance(mc_raft *r, mc_raft_batch *rd);

/* ---- status -------------------------------------------------------------- */

void		mc_raft_get_status(const mc_raft *r, mc_raft_status *st);

/*
 * Per-follower progress (leader only).  Fills up to max rows, returns the
 * number of rows available (0 when not leader).
 */
int			mc_raft_get_progress(const mc_raft *r, mc_raft_progress_info *out, int max);

/* Meta of the latest snapshot known to the core (taken or installed): what
 * the host persists alongside its snapshot bytes. */
void		mc_raft_get_snapshot_meta(const mc_raft *r, mc_raft_snapshot_meta *meta);

/* Entry at index if held in memory (not compacted), else NULL. Borrowed. */
const mc_raft_entry *mc_raft_get_entry(const mc_raft *r, uint64_t index);

const char *mc_raft_role_name(int role);

#endif
