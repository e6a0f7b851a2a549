/*
 * raft_settings.c — the SPEC §2 settings the Raft side uses, copied from
 * their variables (mc_guc.c) into an McRaftSettings: the Raft worker keeps
 * the copy it started with for what cannot change while it runs, and
 * compares a reload's values with it.
 */
#include "postgres.h"

#include "mc_guc.h"
#include "raft_settings.h"

/* Copy a text setting into dst (cap bytes); NULL (not set yet) is ''. */
static void
setting_copy(const char *v, char *dst, size_t cap)
{
	strlcpy(dst, v ? v : "", cap);
}

/*
 * Fill *s.  Time settings are in their base unit (ms or s) as the GUC
 * definitions declare them.
 */
void
mc_raft_settings_load(McRaftSettings *s)
{
	memset(s, 0, sizeof(*s));
	s->node_id = mc_node_id;
	setting_copy(mc_bind_addr, s->bind_addr, sizeof(s->bind_addr));
	setting_copy(mc_advertise_addr, s->advertise_addr, sizeof(s->advertise_addr));
	if (s->advertise_addr[0] == '\0')
		strlcpy(s->advertise_addr, s->bind_addr, sizeof(s->advertise_addr));
	s->rpc_port = mc_rpc_port;
	setting_copy(mc_key, s->key, sizeof(s->key));
	setting_copy(mc_key_file, s->key_file, sizeof(s->key_file));
	s->has_key = s->key[0] != '\0' || s->key_file[0] != '\0';
	setting_copy(mc_database, s->database, sizeof(s->database));
	s->bootstrap_expect = mc_bootstrap_expect;
	s->max_voters = mc_max_voters;
	s->replica = mc_replica;
	s->election_timeout_ms = mc_raft_election_timeout_ms;
	s->heartbeat_interval_ms = mc_raft_heartbeat_interval_ms;
	s->commit_timeout_ms = mc_raft_commit_timeout_ms;
	s->batch_max = mc_raft_batch_max;
	s->snapshot_after_entries = mc_snapshot_after_entries;
	s->snapshot_after_duration_s = mc_snapshot_after_duration_s;
	s->write_mode_redirect = mc_raft_setting_write_redirect();
	s->read_linearizable = mc_read_consistency == MC_READ_LINEARIZABLE;
	if (s->election_timeout_ms < 10)
		s->election_timeout_ms = 10;
	if (s->heartbeat_interval_ms < 1)
		s->heartbeat_interval_ms = 1;
}

/* See raft_settings.h. */
bool
mc_raft_setting_write_redirect(void)
{
	return mc_write_mode == MC_WRITE_REDIRECT;	/* checked on every write */
}

/* Standalone per SPEC §1. */
bool
mc_raft_settings_standalone(const McRaftSettings *s)
{
	return s->bind_addr[0] == '\0' || !s->has_key || s->node_id == 0;
}

/* Raft ids are 1..65535; a standalone node without an id is node 1. */
uint32
mc_raft_settings_raft_id(const McRaftSettings *s)
{
	return s->node_id > 0 ? (uint32) s->node_id : 1;
}

/* See raft_settings.h. */
uint32
mc_raft_settings_core_batch(const McRaftSettings *s)
{
	return Min((uint32) s->batch_max, 4u * 1024 * 1024);
}

/* See raft_settings.h. */
uint32
mc_raft_settings_chunk_max(const McRaftSettings *s)
{
	return Max(mc_raft_settings_core_batch(s), 4096);
}

/* See raft_settings.h. */
void
mc_raft_settings_ticks(const McRaftSettings *s, int tick_ms,
					   int *election_ticks, int *heartbeat_ticks)
{
	*election_ticks = Max(2, s->election_timeout_ms / tick_ms);
	*heartbeat_ticks = Max(1, s->heartbeat_interval_ms / tick_ms);
	if (*heartbeat_ticks >= *election_ticks)
		*heartbeat_ticks = Max(1, *election_ticks / 2);
}
