/*
 * rsim_world.h — the Raft simulator's world: simulated nodes (a core
 * instance, its disk, a mirror of its log, its state machine), clients, the
 * network, the checkers and the clock.  rsim_host.c drives one node through
 * the core's ready/advance contract; raft_sim.c schedules faults and runs
 * seeds.
 */
#ifndef RSIM_WORLD_H
#define RSIM_WORLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft.h"
#include "rsim_check.h"
#include "rsim_net.h"
#include "rsim_rng.h"
#include "rsim_sm.h"

#define RSIM_TICK_MS 10			/* one core tick = 10 simulated ms */

/* A log as a host holds it: entries after a base (snapshot) point. */
typedef struct rsim_log
{
	uint64_t	base_index;
	uint64_t	base_term;
	uint64_t	base_chain;
	mc_raft_entry *e;			/* e[k] has index base_index + 1 + k; owns data */
	uint64_t   *chain;
	size_t		n;
	size_t		cap;
} rsim_log;

/* What survives a crash. */
typedef struct rsim_disk
{
	bool		has_hs;
	mc_raft_hard_state hs;
	bool		has_snap;
	mc_raft_snapshot_meta snap;
	uint8_t    *snap_data;
	size_t		snap_len;
	rsim_log	log;
	uint8_t    *staging;		/* received snapshot chunks */
	size_t		staging_len;
	size_t		staging_cap;
} rsim_disk;

typedef struct rsim_inmsg
{
	uint8_t    *data;
	size_t		len;
	int			from;
} rsim_inmsg;

typedef struct rsim_node
{
	int			id;
	bool		exists;			/* has ever been started */
	bool		up;
	mc_raft    *r;
	rsim_disk	disk;
	rsim_log	mem;			/* mirror of the core's log */
	rsim_sm		sm;
	bool		busy;			/* a ready batch is being persisted */
	uint64_t	busy_until;
	mc_raft_batch rd;
	rsim_inmsg *inbox;			/* messages that arrived while busy */
	size_t		n_inbox;
	size_t		cap_inbox;
	int			pending_ticks;
	uint64_t	next_tick;
	uint64_t	crash_at;		/* scheduled crash (0 = none) */
	uint64_t	disk_delay_max; /* 0 = persistence is instant */
	uint8_t		last_role;
	uint64_t	last_term;
	uint32_t	last_leader;
	uint64_t	acked_index;	/* highest index acked in acked_term */
	uint64_t	acked_term;
	bool		was_leader_in_term; /* R4 check done for leader_term */
	uint64_t	leader_term;
	/* apply apart (w->apply_apart): the production host's apply worker */
	uint64_t	commit_seen;	/* highest committed index handed out */
	uint64_t	apply_at;		/* next apply step (0 = none scheduled) */
} rsim_node;

typedef struct rsim_client
{
	uint64_t	id;
	uint64_t	req;			/* current request id (0 = none yet) */
	bool		outstanding;
	uint64_t	sent_at;
	uint64_t	first_sent_at;
	uint64_t	salt;
} rsim_client;

typedef struct rsim_read
{
	uint64_t	context;
	int			node;
	uint64_t	min_index;		/* committed when the read was asked */
} rsim_read;

typedef struct rsim_world
{
	uint64_t	seed;
	int			n_initial;
	int			verbose;
	uint64_t	now;
	rsim_rng	rng;
	rsim_net	net;
	rsim_check *check;
	rsim_node	nodes[RSIM_MAX_NODES];
	int			next_new_id;	/* next id a learner gets */
	rsim_client clients[RSIM_MAX_CLIENTS];
	int			n_clients;
	rsim_read  *reads;
	size_t		n_reads;
	size_t		cap_reads;
	uint64_t	next_context;
	mc_raft_config base_cfg;
	size_t		snap_filler;
	bool		healed;
	bool		storm;			/* faults are being injected now */
	bool		rule_checks;	/* R4, R12, R32 checks on (else only the
								 * end-to-end properties are checked) */
	unsigned	leader_crash_permille;	/* new leaders crash soon after */
	unsigned	send_first_crash_permille;	/* a leader dies between sending
											 * a send_first batch and
											 * persisting it (storms) */
	bool		host_holds;		/* the host's group commit: no proposal on a
								 * leader with a round open (raft_requests.c) */
	bool		apply_apart;	/* the production host's apply: committed
								 * entries and received snapshots are applied
								 * later, from disk, by a separate step whose
								 * state survives crashes (apply_worker.c) */
	uint64_t	apply_delay_max;	/* that step runs 0..this ms after work */
	/* statistics for the summary */
	uint64_t	n_commits_seen;
	uint64_t	n_crashes;
	uint64_t	n_conf_changes;
	uint64_t	n_snap_installs;
	uint64_t	n_transfers;
	uint64_t	n_reads_ok;
	uint64_t	n_size_mismatch;	/* msg_size() above the encoded size */
} rsim_world;

/* Trace line when verbose >= level (printf-style, prefixed with time). */
void		rsim_trace(rsim_world *w, int level, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));

/* Start node id: fresh (disk empty) or from its disk after a crash. */
void		rsim_host_start(rsim_world *w, int id, const mc_raft_conf *bootstrap);

/* Crash node id: the core is destroyed, everything not on disk is lost. */
void		rsim_host_crash(rsim_world *w, int id);

/* Deliver one encoded message to node id (queued if its disk is busy). */
void		rsim_host_deliver(rsim_world *w, int id, uint8_t *data, size_t len, int from);

/* One tick for node id (deferred if busy). */
void		rsim_host_tick(rsim_world *w, int id);

/* Persistence of node id's pending batch completes now. */
void		rsim_host_disk_done(rsim_world *w, int id);

/*
 * Fetch and process ready batches until the node has none or is busy; then
 * run the per-step checks on it.  Call after any input to the core.
 */
void		rsim_host_pump(rsim_world *w, int id);

/*
 * Apply apart: the apply step of node id runs now.  It loads the kept
 * snapshot if the disk's is above the state machine, then applies up to a
 * batch of the committed entries it was handed, read from the disk log.
 */
void		rsim_host_apply(rsim_world *w, int id);

/* Host captures its state machine in a snapshot and tells the core. */
void		rsim_host_snapshot(rsim_world *w, int id);

/* Release all memory of a node (core, disk, mirror). */
void		rsim_host_free(rsim_world *w, int id);

#endif
