/*
 * raft_int.h — internal state of the Raft core, shared by the raft_*.c files.
 *
 * Not part of the public interface: hosts include raft.h only.  Every
 * function declared here is exported (the core is split over files) and so
 * carries the mc_raft_ prefix; everything else in the raft_*.c files is
 * static.
 */
#ifndef MC_RAFT_INT_H
#define MC_RAFT_INT_H

#include "raft.h"

#define MC_RAFT_MAX_INFLIGHT	256
#define MC_RAFT_DEFAULT_BATCH	(1024 * 1024)

/* The in-memory log: entries after the last snapshot. */
typedef struct mc_raft_log
{
	mc_raft_entry *ents;		/* ents[i].index == snap_index + 1 + i */
	size_t		n;
	size_t		cap;
	uint64_t	snap_index;		/* last index covered by the snapshot */
	uint64_t	snap_term;
	uint64_t	stable;			/* entries <= stable are on the host's disk */
	uint64_t	committed;
	uint64_t	applied;		/* handed to the host (acknowledged) */
} mc_raft_log;

/* Leader's view of one other member. */
typedef struct mc_raft_progress
{
	uint32_t	id;
	bool		learner;
	uint64_t	match;
	uint64_t	next;
	uint8_t		state;			/* mc_raft_progress_state */
	bool		probe_sent;		/* probe: one append outstanding */
	bool		recent_active;	/* heard from it since the last quorum check */
	uint64_t	last_ack_tick;
	uint64_t	progress_tick;	/* when match last moved (replicate stall) */
	uint64_t	read_ack;		/* highest read sequence it acknowledged */
	uint64_t	commit_sent;	/* highest commit index sent to it */
	bool		wants_commit;	/* its last answer asked for every commit */
	/* in-flight appends (replicate state): last index of each, FIFO */
	uint64_t	inflight[MC_RAFT_MAX_INFLIGHT];
	int			in_start;
	int			in_count;
	/* snapshot transfer (snapshot state) */
	uint64_t	snap_index;		/* snapshot being sent */
	uint64_t	snap_offset;	/* next offset to send / acknowledged */
	int			snap_wait;		/* ticks without progress */
	bool		snap_chunk_out; /* a chunk request or message is outstanding */
} mc_raft_progress;

/* A read waiting on the leader for its quorum heartbeat round. */
typedef struct mc_raft_pending_read
{
	uint64_t	context;
	uint32_t	from;			/* requester: self or a follower */
	uint64_t	index;			/* commit index when it was accepted */
	uint64_t	seq;			/* heartbeat round that confirms it */
} mc_raft_pending_read;

/* A growable array of T (simple vector). */
#define MC_RAFT_VEC(T) struct { T *v; size_t n; size_t cap; }

struct mc_raft
{
	mc_raft_config cfg;
	uint32_t	id;

	/* persistent */
	uint64_t	term;
	uint32_t	vote;
	mc_raft_log log;

	/* configuration */
	mc_raft_conf conf;			/* latest configuration in the log */
	uint64_t	conf_index;		/* index of its CONFIG entry (0: snapshot's) */
	mc_raft_conf snap_conf;		/* configuration at log.snap_index */

	/* volatile */
	uint8_t		role;
	uint32_t	leader;
	int			elapsed;		/* election ticks (leader: since quorum check) */
	int			hb_elapsed;
	int			timeout;		/* randomised election timeout in [ET, 2ET) */
	uint64_t	now;			/* ticks since creation */
	uint64_t	leader_tick;	/* tick when a leader was last heard */
	bool		leader_lost;	/* host said the leader's connection closed */
	uint64_t	rng;

	/* election */
	uint32_t	granted[MC_RAFT_MAX_MEMBERS];
	int			n_granted;
	uint32_t	refused[MC_RAFT_MAX_MEMBERS];
	int			n_refused;
	uint8_t		campaign_flags; /* flags of the current campaign */
	mc_raft_conf elect_conf;	/* configuration the campaign counts in */

	/* leader */
	mc_raft_progress *prs;		/* one per member but self */
	int			n_prs;
	uint64_t	uncommitted;	/* payload bytes proposed, not yet committed */
	uint32_t	transfer_to;
	int			transfer_elapsed;
	uint64_t	read_seq;		/* heartbeat round counter */
	MC_RAFT_VEC(mc_raft_pending_read) reads_wait;	/* until a term commit */
	MC_RAFT_VEC(mc_raft_pending_read) reads_pending;	/* until a quorum ack */

	/* follower receiving a snapshot */
	bool		recv_active;
	mc_raft_snapshot_meta recv_meta;
	uint64_t	recv_offset;

	/* output, collected for the next ready batch */
	MC_RAFT_VEC(mc_raft_msg) out_msgs;
	MC_RAFT_VEC(mc_raft_read_state) out_reads;
	MC_RAFT_VEC(mc_raft_snap_request) out_snapreq;
	MC_RAFT_VEC(mc_raft_snap_chunk) out_chunks;
	uint64_t	truncate_from;	/* host must delete stored entries >= this */
	bool		install_pending;
	mc_raft_snapshot_meta install;
	mc_raft_hard_state prev_hs; /* last hard state handed out */
	bool		hs_sync;		/* term/vote/log changed since prev_hs */
	mc_raft_soft_state prev_soft;

	/* the batch handed out, until advance */
	bool		in_ready;
	bool		bcast_pending;	/* leader: send appends at the next ready
								 * (new entries and/or a new commit index),
								 * one message per follower for all of them */
	bool		commit_notify_pending;	/* leader: the commit index moved;
										 * at the next ready, tell the
										 * followers that want it */
	bool		commit_wanted;	/* host: someone here waits for commits */
	bool		read_round_pending;	/* leader: reads wait for a heartbeat
									 * round, sent at the next ready: one
									 * round for all reads taken meanwhile */
	uint64_t	ready_stable;
	uint64_t	ready_applied;
};

/* vector helpers (raft_node.c) */
void	   *mc_raft_vec_push(void **v, size_t *n, size_t *cap, size_t elem);
#define MC_RAFT_PUSH(vec) \
	((__typeof__((vec).v)) mc_raft_vec_push((void **) &(vec).v, &(vec).n, &(vec).cap, sizeof(*(vec).v)))

/* raft_log.c */
uint64_t	mc_raft_log_last_index(const mc_raft_log *l);
uint64_t	mc_raft_log_last_term(const mc_raft_log *l);
bool		mc_raft_log_term(const mc_raft_log *l, uint64_t index, uint64_t *term);
mc_raft_entry *mc_raft_log_at(const mc_raft_log *l, uint64_t index);
int			mc_raft_log_append(mc_raft_log *l, const mc_raft_entry *e);
void		mc_raft_log_truncate(mc_raft_log *l, uint64_t from);
void		mc_raft_log_compact(mc_raft_log *l, uint64_t index, uint64_t term);
void		mc_raft_log_reset(mc_raft_log *l, uint64_t index, uint64_t term);
void		mc_raft_log_free(mc_raft_log *l);
bool		mc_raft_log_up_to_date(const mc_raft_log *l, uint64_t index, uint64_t term);
uint64_t	mc_raft_log_find_by_term(const mc_raft_log *l, uint64_t index, uint64_t term);
int			mc_raft_entry_copy(mc_raft_entry *dst, const mc_raft_entry *src);
void		mc_raft_entry_free(mc_raft_entry *e);

/* raft_conf.c */
int			mc_raft_conf_quorum(const mc_raft_conf *c);
bool		mc_raft_conf_has(const mc_raft_conf *c, uint32_t id);
int			mc_raft_conf_apply(const mc_raft_conf *in, uint8_t op, uint32_t node, mc_raft_conf *out);

/* raft_role.c: every role change */
void		mc_raft_become_follower(mc_raft *r, uint64_t term, uint32_t leader);
void		mc_raft_become_pre_candidate(mc_raft *r);
void		mc_raft_become_candidate(mc_raft *r);
void		mc_raft_become_leader(mc_raft *r);
void		mc_raft_reset_timeout(mc_raft *r);
bool		mc_raft_promotable(const mc_raft *r);
bool		mc_raft_election_conf(const mc_raft *r, mc_raft_conf *out);

/* raft_node.c */
mc_raft_msg *mc_raft_send(mc_raft *r, uint8_t type, uint32_t to);
uint64_t	mc_raft_rand(mc_raft *r);

/* raft_election.c */
void		mc_raft_campaign(mc_raft *r, bool pre, uint8_t flags);
void		mc_raft_handle_vote_req(mc_raft *r, const mc_raft_msg *m);
void		mc_raft_handle_vote_resp(mc_raft *r, const mc_raft_msg *m);
bool		mc_raft_in_lease(const mc_raft *r);
void		mc_raft_tick_election(mc_raft *r);

/* raft_replication.c (leader side) */
mc_raft_progress *mc_raft_progress_get(mc_raft *r, uint32_t id);
void		mc_raft_progress_reset_all(mc_raft *r);
void		mc_raft_progress_sync_conf(mc_raft *r);
bool		mc_raft_send_append(mc_raft *r, mc_raft_progress *pr, bool if_empty);
void		mc_raft_bcast_append(mc_raft *r);
void		mc_raft_bcast_fill(mc_raft *r);
void		mc_raft_notify_commit(mc_raft *r);
void		mc_raft_bcast_heartbeat(mc_raft *r, uint64_t ctx);
bool		mc_raft_maybe_commit(mc_raft *r);
void		mc_raft_handle_append_resp(mc_raft *r, const mc_raft_msg *m);
void		mc_raft_handle_heartbeat_resp(mc_raft *r, const mc_raft_msg *m);
int			mc_raft_leader_append(mc_raft *r, uint8_t type, uint64_t client_id,
								  uint64_t request_id, const void *data,
								  uint32_t len, uint64_t *index);
void		mc_raft_after_commit(mc_raft *r);
void		mc_raft_tick_leader(mc_raft *r);

/* raft_append.c (follower side) */
void		mc_raft_handle_append(mc_raft *r, const mc_raft_msg *m);
void		mc_raft_handle_heartbeat(mc_raft *r, const mc_raft_msg *m);

/* raft_snapshot.c */
void		mc_raft_snapshot_start(mc_raft *r, mc_raft_progress *pr);
void		mc_raft_handle_snapshot(mc_raft *r, const mc_raft_msg *m);
void		mc_raft_handle_snapshot_resp(mc_raft *r, const mc_raft_msg *m);
void		mc_raft_snapshot_tick(mc_raft *r, mc_raft_progress *pr);

/* raft_membership.c */
void		mc_raft_conf_recompute(mc_raft *r);
void		mc_raft_conf_at(const mc_raft *r, uint64_t index, mc_raft_conf *out);
void		mc_raft_forwarded_change(mc_raft *r, const mc_raft_entry *e);

/* raft_read.c */
void		mc_raft_read_on_commit(mc_raft *r);
void		mc_raft_read_on_ack(mc_raft *r);
void		mc_raft_read_fail_all(mc_raft *r);
void		mc_raft_handle_readindex_req(mc_raft *r, const mc_raft_msg *m);
void		mc_raft_handle_readindex_resp(mc_raft *r, const mc_raft_msg *m);
bool		mc_raft_committed_in_term(const mc_raft *r);

/* raft_transfer.c */
void		mc_raft_transfer_check(mc_raft *r, mc_raft_progress *pr);
void		mc_raft_transfer_abort(mc_raft *r);
void		mc_raft_handle_timeout_now(mc_raft *r, const mc_raft_msg *m);

/* raft_node.c: free the outputs handed out by the last ready batch */
void		mc_raft_free_outputs(mc_raft *r);

#endif
