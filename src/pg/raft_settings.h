/*
 * raft_settings.h — the settings the Raft side reads (SPEC §2), copied from
 * the variables mc_guc.c defines.
 */
#ifndef MC_RAFT_SETTINGS_H
#define MC_RAFT_SETTINGS_H

#include "postgres.h"

typedef struct McRaftSettings
{
	int			node_id;			/* 0 = standalone */
	char		bind_addr[256];
	char		advertise_addr[256];
	int			rpc_port;
	bool		has_key;			/* key or key_file set */
	char		key[1024];			/* value of mailcluster.key ('' if unset) */
	char		key_file[1024];
	char		database[NAMEDATALEN];
	int			bootstrap_expect;
	int			max_voters;
	bool		replica;
	int			election_timeout_ms;
	int			heartbeat_interval_ms;
	int			commit_timeout_ms;
	int			batch_max;
	int			snapshot_after_entries;
	int			snapshot_after_duration_s;
	bool		write_mode_redirect;	/* write_mode = redirect */
	bool		read_linearizable;
} McRaftSettings;

/* Read every setting into *s (current values of this process). */
extern void mc_raft_settings_load(McRaftSettings *s);

/* True when this node runs standalone (SPEC §1: no bind_addr or no key). */
extern bool mc_raft_settings_standalone(const McRaftSettings *s);

/* The Raft node id: node_id, or 1 for a standalone node without one. */
extern uint32 mc_raft_settings_raft_id(const McRaftSettings *s);

/*
 * The core's byte bound of one append batch and snapshot chunk
 * (config.max_batch_bytes): raft_batch_max, at most 4 MB.  At boot and on
 * reload alike.
 */
extern uint32 mc_raft_settings_core_batch(const McRaftSettings *s);

/*
 * The raft worker's snapshot chunk size for s (McRaftWorker.chunk_max): the
 * core's batch bound, at least 4 kB.  At boot and on reload alike.
 */
extern uint32 mc_raft_settings_chunk_max(const McRaftSettings *s);

/*
 * The election timeout and heartbeat period of s in whole ticks of tick_ms,
 * as the core takes them: at least 2 and 1, the heartbeat below the
 * election timeout (half of it when the division made them meet).
 */
extern void mc_raft_settings_ticks(const McRaftSettings *s, int tick_ms,
								   int *election_ticks, int *heartbeat_ticks);

/* write_mode = redirect?  (One setting read, for the write path.) */
extern bool mc_raft_setting_write_redirect(void);

#endif
