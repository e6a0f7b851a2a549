/*
 * raft_settings.c — reads the SPEC §2 settings by name (GetConfigOption)
 * into an McRaftSettings, with SPEC defaults for those not defined.
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/guc.h"

#include "mc_guc.h"
#include "raft_settings.h"

/* Text value of a setting, or NULL when it is not defined. */
static const char *
setting_text(const char *name)
{
	return GetConfigOption(name, true, false);
}

/* Integer setting by name (parses the text form; units are the base unit). */
int
mc_raft_setting_int(const char *name, int dflt)
{
	const char *v = setting_text(name);
	int			out;

	if (v == NULL || !parse_int(v, &out, 0, NULL))
		return dflt;
	return out;
}

/* Boolean setting by name. */
static bool
setting_bool(const char *name, bool dflt)
{
	const char *v = setting_text(name);
	bool		out;

	if (v == NULL || !parse_bool(v, &out))
		return dflt;
	return out;
}

/* Copy a text setting into dst (cap bytes), dflt when undefined. */
static void
setting_copy(const char *name, const char *dflt, char *dst, size_t cap)
{
	const char *v = setting_text(name);

	strlcpy(dst, v ? v : dflt, cap);
}

/*
 * Fill *s.  Time settings are read in their base unit (ms or s) as the GUC
 * definitions declare them.
 */
void
mc_raft_settings_load(McRaftSettings *s)
{
	char		buf[64];

	memset(s, 0, sizeof(*s));
	s->node_id = mc_raft_setting_int("mailcluster.node_id", 0);
	setting_copy("mailcluster.bind_addr", "", s->bind_addr, sizeof(s->bind_addr));
	setting_copy("mailcluster.advertise_addr", "", s->advertise_addr, sizeof(s->advertise_addr));
	if (s->advertise_addr[0] == '\0')
		strlcpy(s->advertise_addr, s->bind_addr, sizeof(s->advertise_addr));
	s->rpc_port = mc_raft_setting_int("mailcluster.rpc_port", 7911);
	setting_copy("mailcluster.key", "", s->key, sizeof(s->key));
	setting_copy("mailcluster.key_file", "", s->key_file, sizeof(s->key_file));
	s->has_key = s->key[0] != '\0' || s->key_file[0] != '\0';
	setting_copy("mailcluster.database", "postgres", s->database, sizeof(s->database));
	s->bootstrap_expect = mc_raft_setting_int("mailcluster.bootstrap_expect", 3);
	s->max_voters = mc_raft_setting_int("mailcluster.max_voters", 5);
	s->replica = setting_bool("mailcluster.replica", false);
	s->election_timeout_ms = mc_raft_setting_int("mailcluster.raft_election_timeout", 1000);
	s->heartbeat_interval_ms = mc_raft_setting_int("mailcluster.raft_heartbeat_interval", 100);
	s->commit_timeout_ms = mc_raft_setting_int("mailcluster.raft_commit_timeout", 1000);
	s->batch_max = mc_raft_setting_int("mailcluster.raft_batch_max", 10485760);
	s->snapshot_after_entries = mc_raft_setting_int("mailcluster.snapshot_after_entries", 10000);
	s->snapshot_after_duration_s = mc_raft_setting_int("mailcluster.snapshot_after_duration", 1800);
	s->write_mode_redirect = mc_raft_setting_write_redirect();
	setting_copy("mailcluster.read_consistency", "linearizable", buf, sizeof(buf));
	s->read_linearizable = pg_strcasecmp(buf, "local") != 0;
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
void
mc_raft_settings_ticks(const McRaftSettings *s, int tick_ms,
					   int *election_ticks, int *heartbeat_ticks)
{
	*election_ticks = Max(2, s->election_timeout_ms / tick_ms);
	*heartbeat_ticks = Max(1, s->heartbeat_interval_ms / tick_ms);
	if (*heartbeat_ticks >= *election_ticks)
		*heartbeat_ticks = Max(1, *election_ticks / 2);
}
