/*
 * mc_guc.c — defines every mailcluster.* setting of SPEC §2 with its check
 * hook, and the checks that span several settings.
 *
 * Check hooks refuse a bad value with a detail naming the accepted form;
 * PostgreSQL's own message names the setting.  While _PG_init defines the
 * settings, PostgreSQL only WARNs about a refused value from
 * postgresql.conf and keeps the default, so the first refusal is remembered
 * here and mc_guc_define turns it into a FATAL start-up error.
 */
#include "postgres.h"

#include <float.h>
#include <limits.h>

#include "miscadmin.h"
#include "utils/guc.h"

#include "mc_guc.h"
#include "mc_keys.h"
#include "mc_parse.h"

const char *const mc_role_names[MC_NUM_ROLES] = {
	"purge.stores", "purge.accounts", "acme.renew", "metrics.calculate", "metrics.push"
};

int			mc_node_id = 0;
int			mc_maintenance_interval_s = 60;
int			mc_apply_ahead_wait_ms = 200;
int			mc_purge_keep_entries = 10000;
int			mc_purge_blob_grace_s = 3600;
char	   *mc_bind_addr = NULL;
int			mc_bind_port = 1179;
char	   *mc_advertise_addr = NULL;
int			mc_rpc_port = 7911;
char	   *mc_key = NULL;
char	   *mc_key_file = NULL;
int			mc_heartbeat_ms = 1000;
char	   *mc_seed_nodes = NULL;
double		mc_phi_threshold = 8.0;
int			mc_bootstrap_expect = 3;
int			mc_max_voters = 5;
bool		mc_replica = false;
char	   *mc_database = NULL;
int			mc_raft_election_timeout_ms = 1000;
int			mc_raft_heartbeat_interval_ms = 100;
int			mc_raft_commit_timeout_ms = 1000;
int			mc_raft_batch_max = 10485760;
int			mc_snapshot_after_entries = 10000;
int			mc_snapshot_after_duration_s = 1800;
int			mc_write_mode = MC_WRITE_FORWARD;
int			mc_read_consistency = MC_READ_LINEARIZABLE;
char	   *mc_role_settings[MC_NUM_ROLES];
char	   *mc_roles_map = NULL;
bool		mc_enable_fault_injection = false;

static const struct config_enum_entry write_mode_options[] = {
	{"forward", MC_WRITE_FORWARD, false},
	{"redirect", MC_WRITE_REDIRECT, false},
	{NULL, 0, false}
};

static const struct config_enum_entry read_consistency_options[] = {
	{"linearizable", MC_READ_LINEARIZABLE, false},
	{"local", MC_READ_LOCAL, false},
	{NULL, 0, false}
};

/* Set while mc_guc_define runs: refusals then mean "do not start". */
static bool defining = false;
static char first_bad_name[64];
static char first_bad_detail[512];

static emit_log_hook_type prev_emit_log_hook = NULL;

/*
 * While defining, catch PostgreSQL's own WARNING about a refused
 * mailcluster.* value and remember it (name + message) like refuse() does.
 */
static void
define_log_hook(ErrorData *edata)
{
	const char *p;

	if (defining && first_bad_name[0] == '\0' && edata->elevel == WARNING &&
		edata->message && (p = strstr(edata->message, "\"mailcluster.")) != NULL)
	{
		const char *q = strchr(p + 1, '"');
		int			len = q ? (int) (q - p - 1) : 0;

		if (len > 0 && len < (int) sizeof(first_bad_name))
		{
			memcpy(first_bad_name, p + 1, len);
			first_bad_name[len] = '\0';
			strlcpy(first_bad_detail, edata->message, sizeof(first_bad_detail));
		}
	}
	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
}

/*
 * Remember the first refusal seen while defining (for the FATAL), and pass
 * the detail to PostgreSQL's message.  Always returns false.
 */
static bool
refuse(const char *name, const char *detail)
{
	if (defining && first_bad_name[0] == '\0')
	{
		strlcpy(first_bad_name, name, sizeof(first_bad_name));
		strlcpy(first_bad_detail, detail, sizeof(first_bad_detail));
	}
	GUC_check_errdetail("%s", detail);
	return false;
}

/* bind_addr: '' (standalone) or a literal IPv4/IPv6 address. */
static bool
check_bind_addr(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || (*newval)[0] == '\0' || mc_is_ip_literal(*newval))
		return true;
	return refuse("mailcluster.bind_addr",
				  "mailcluster.bind_addr must be a literal IPv4 or IPv6 address such as 10.0.0.5 or ::1, "
				  "or '' to run standalone.");
}

/* advertise_addr: '' (= bind_addr) or a literal address that is not a wildcard. */
static bool
check_advertise_addr(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || (*newval)[0] == '\0')
		return true;
	if (mc_is_ip_literal(*newval) && !mc_is_wildcard_addr(*newval))
		return true;
	return refuse("mailcluster.advertise_addr",
				  "mailcluster.advertise_addr must be a literal, non-wildcard IPv4 or IPv6 address such as 10.0.0.5, "
				  "or '' to use mailcluster.bind_addr.");
}

/* seed_nodes: "host[:port],..." */
static bool
check_seed_nodes(char **newval, void **extra, GucSource source)
{
	McSeed		seeds[MC_MAX_SEEDS];
	char		err[300];
	char		detail[512];

	if (*newval == NULL || mc_parse_seeds(*newval, seeds, MC_MAX_SEEDS, err, sizeof(err)) >= 0)
		return true;
	snprintf(detail, sizeof(detail),
			 "mailcluster.seed_nodes must be a comma-separated list of host[:port] (IPv6 as [addr]:port), "
			 "at most %d entries: %s.", MC_MAX_SEEDS, err);
	return refuse("mailcluster.seed_nodes", detail);
}

/*
 * roles.*: a comma-separated list of node ids 1..65535.
 *
 * PostgreSQL 15's configuration-file parser only reads names with one dot,
 * so these SPEC names cannot appear in postgresql.conf, and a value that
 * ALTER SYSTEM wrote to postgresql.auto.conf would stop the server from
 * starting again.  Values from a file can only come from ALTER SYSTEM, so
 * they are refused here, pointing at mailcluster.roles; the server command
 * line (-c) still sets them.
 */
static bool
check_role_list(char **newval, void **extra, GucSource source)
{
	uint16_t	ids[MC_MAX_ID_LIST];
	char		err[200];
	char		detail[512];

	if (source == PGC_S_FILE && *newval != NULL && (*newval)[0] != '\0')
	{
		GUC_check_errdetail("PostgreSQL 15 cannot read setting names with two dots back from postgresql.auto.conf.");
		GUC_check_errhint("Use mailcluster.roles = 'role=id,id; ...' in postgresql.conf, or -c on the server command line.");
		return false;
	}
	if (*newval == NULL || mc_parse_id_list(*newval, ids, MC_MAX_ID_LIST, err, sizeof(err)) >= 0)
		return true;
	snprintf(detail, sizeof(detail),
			 "A mailcluster.roles.* setting must be a comma-separated list of distinct node ids between 1 and 65535 "
			 "(at most %d), or '': %s.", MC_MAX_ID_LIST, err);
	/* not refuse(): define_log_hook takes the exact name from GUC's message */
	GUC_check_errdetail("%s", detail);
	return false;
}

/*
 * key: a comma-separated list of secrets, each acceptable to the crypto
 * layer.  The value itself must never reach the log, so the main message is
 * replaced by one that names only the setting.
 */
static bool
check_key(char **newval, void **extra, GucSource source)
{
	char		err[300];
	char		detail[512];

	if (*newval == NULL || (*newval)[0] == '\0')
		return true;
	if (mc_keys_validate_list(*newval, false, err, sizeof(err)))
		return true;
	GUC_check_errmsg("invalid value for parameter \"mailcluster.key\"");
	snprintf(detail, sizeof(detail),
			 "mailcluster.key must be a comma-separated list of secrets (the first encrypts, all decrypt): %s.", err);
	return refuse("mailcluster.key", detail);
}

/* key_file: checked as PostgreSQL checks ssl_key_file, then its content. */
static bool
check_key_file(char **newval, void **extra, GucSource source)
{
	char		err[600];

	if (*newval == NULL || (*newval)[0] == '\0')
		return true;
	if (mc_key_file_check(*newval, NULL, err, sizeof(err)))
		return true;
	return refuse("mailcluster.key_file", err);
}

/* roles: "role=id,id; role=id" for every role at once. */
static bool
check_roles_map(char **newval, void **extra, GucSource source)
{
	uint16_t	ids[MC_NUM_ROLES][MC_MAX_ID_LIST];
	int			counts[MC_NUM_ROLES];
	char		err[300];
	char		detail[600];

	if (*newval == NULL ||
		mc_parse_roles_map(*newval, mc_role_names, MC_NUM_ROLES, ids, counts, err, sizeof(err)))
		return true;
	snprintf(detail, sizeof(detail),
			 "mailcluster.roles must look like 'purge.stores=1,2; acme.renew=3' with roles among "
			 "purge.stores, purge.accounts, acme.renew, metrics.calculate, metrics.push: %s.", err);
	return refuse("mailcluster.roles", detail);
}

/* database: a non-empty name. */
static bool
check_database(char **newval, void **extra, GucSource source)
{
	if (*newval != NULL && (*newval)[0] != '\0' && strlen(*newval) < NAMEDATALEN)
		return true;
	return refuse("mailcluster.database",
				  "mailcluster.database must name the database where CREATE EXTENSION mailcluster is run, e.g. 'postgres'.");
}

/* Define one role-list setting mailcluster.roles.<role>. */
static void
define_role_setting(int i)
{
	char		name[80];
	char		desc[160];

	snprintf(name, sizeof(name), "mailcluster.roles.%s", mc_role_names[i]);
	snprintf(desc, sizeof(desc), "Node ids allowed to hold the %s role, comma-separated.", mc_role_names[i]);
	DefineCustomStringVariable(pstrdup(name), pstrdup(desc),
							   "The lowest listed node alive in gossip holds the role; with none listed or alive, the Raft leader does.",
							   &mc_role_settings[i], "", PGC_SIGHUP, 0,
							   check_role_list, NULL, NULL);
}

/*
 * mc_guc_define — define every setting (SPEC §2).  Called once from
 * _PG_init in the postmaster.  Raises FATAL if a value in the server's
 * configuration was refused, or if the settings contradict each other.
 */
void
mc_guc_define(void)
{
	char		name[64];
	char		detail[512];

	defining = true;
	first_bad_name[0] = '\0';
	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = define_log_hook;

	DefineCustomIntVariable("mailcluster.node_id",
							"Unique id of this node, 1..65535; 0 = standalone.",
							NULL, &mc_node_id, 0, 0, 65535, PGC_POSTMASTER, 0,
							NULL, NULL, NULL);
	DefineCustomStringVariable("mailcluster.bind_addr",
							   "Address the gossip UDP socket and the Raft TCP listener bind to; '' = standalone.",
							   NULL, &mc_bind_addr, "", PGC_POSTMASTER, 0,
							   check_bind_addr, NULL, NULL);
	DefineCustomIntVariable("mailcluster.bind_port", "Gossip UDP port.",
							NULL, &mc_bind_port, 1179, 1, 65535, PGC_POSTMASTER, 0,
							NULL, NULL, NULL);
	DefineCustomStringVariable("mailcluster.advertise_addr",
							   "Address other nodes use to reach this one ('' = bind_addr).",
							   "Required when bind_addr is a wildcard address.",
							   &mc_advertise_addr, "", PGC_POSTMASTER, 0,
							   check_advertise_addr, NULL, NULL);
	DefineCustomIntVariable("mailcluster.rpc_port", "Raft RPC TCP port.",
							NULL, &mc_rpc_port, 7911, 1, 65535, PGC_POSTMASTER, 0,
							NULL, NULL, NULL);
	DefineCustomStringVariable("mailcluster.key",
							   "Shared secret(s) for gossip and RPC encryption; comma-separated, the first encrypts.",
							   NULL, &mc_key, "", PGC_SIGHUP,
							   GUC_SUPERUSER_ONLY,
							   check_key, NULL, NULL);
	DefineCustomStringVariable("mailcluster.key_file",
							   "File holding the shared secret(s), one per line, the first encrypts.",
							   "Must be owned by the server's user and not accessible by group or others.",
							   &mc_key_file, "", PGC_SIGHUP, GUC_SUPERUSER_ONLY,
							   check_key_file, NULL, NULL);
	DefineCustomIntVariable("mailcluster.heartbeat", "Gossip probe interval.",
							NULL, &mc_heartbeat_ms, 1000, 20, 60000, PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomStringVariable("mailcluster.seed_nodes",
							   "First contacts for joining: host[:port] list, comma-separated.",
							   NULL, &mc_seed_nodes, "", PGC_SIGHUP, 0,
							   check_seed_nodes, NULL, NULL);
	DefineCustomRealVariable("mailcluster.phi_threshold",
							 "Phi accrual value above which a silent member is suspected.",
							 NULL, &mc_phi_threshold, 8.0, 1.0, 100.0, PGC_SIGHUP, 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("mailcluster.bootstrap_expect",
							"Voters that must be seen in gossip before a brand-new cluster forms.",
							NULL, &mc_bootstrap_expect, 3, 1, 255, PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("mailcluster.max_voters",
							"Voting members; further nodes join as non-voting learners.",
							NULL, &mc_max_voters, 5, 1, 31, PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomBoolVariable("mailcluster.replica",
							 "Read-only replica: never votes, never leads, serves reads.",
							 NULL, &mc_replica, false, PGC_POSTMASTER, 0,
							 NULL, NULL, NULL);
	DefineCustomStringVariable("mailcluster.database",
							   "Database where the extension is created and its workers connect.",
							   NULL, &mc_database, "postgres", PGC_POSTMASTER, 0,
							   check_database, NULL, NULL);
	DefineCustomIntVariable("mailcluster.raft_election_timeout",
							"Base Raft election timeout; each wait is randomised in [T, 2T).",
							NULL, &mc_raft_election_timeout_ms, 1000, 50, 600000, PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("mailcluster.raft_heartbeat_interval",
							"Raft leader heartbeat period (must be below raft_election_timeout).",
							NULL, &mc_raft_heartbeat_interval_ms, 100, 5, 300000, PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("mailcluster.raft_commit_timeout",
							"How long a write waits for a majority before it fails with MC001.",
							NULL, &mc_raft_commit_timeout_ms, 1000, 10, 3600000, PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("mailcluster.raft_batch_max",
							"Upper bound of one AppendEntries batch.",
							NULL, &mc_raft_batch_max, 10485760, 4096, 1073741823, PGC_SIGHUP, GUC_UNIT_BYTE,
							NULL, NULL, NULL);
	DefineCustomIntVariable("mailcluster.snapshot_after_entries",
							"Log entries since the last snapshot before compaction is considered.",
							NULL, &mc_snapshot_after_entries, 10000, 1, INT_MAX, PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("mailcluster.snapshot_after_duration",
							"Time since the last snapshot before compaction is considered.",
							NULL, &mc_snapshot_after_duration_s, 1800, 0, INT_MAX, PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomEnumVariable("mailcluster.write_mode",
							 "A write on a non-leader is forwarded to the leader, or refused with MC002.",
							 NULL, &mc_write_mode, MC_WRITE_FORWARD, write_mode_options,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomEnumVariable("mailcluster.read_consistency",
							 "jmap() reads confirm the read index with the leader, or serve local state.",
							 NULL, &mc_read_consistency, MC_READ_LINEARIZABLE, read_consistency_options,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	for (int i = 0; i < MC_NUM_ROLES; i++)
		define_role_setting(i);
	DefineCustomStringVariable("mailcluster.roles",
							   "Node ids allowed to hold each role: 'role=id,id; role=id'.",
							   "The form postgresql.conf can hold; a non-empty mailcluster.roles.<role> overrides its entry.",
							   &mc_roles_map, "", PGC_SIGHUP, 0,
							   check_roles_map, NULL, NULL);
	DefineCustomIntVariable("mailcluster.maintenance_interval",
							"Period of the maintenance worker's purge round (purge_run()); 0 = no rounds.",
							NULL, &mc_maintenance_interval_s, 60, 0, 86400, PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("mailcluster.apply_ahead_wait",
							"Longest an apply run ahead of its entries' commit waits for it before rolling back.",
							"The entries are then applied again once committed (doc/raft-in-postgres.md, apply ahead).",
							&mc_apply_ahead_wait_ms, 200, 1, 60000, PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("mailcluster.purge_keep_entries",
							"Log indexes of /changes history a purge round keeps (purge_run()'s default).",
							"Clients whose state is older get cannotCalculateChanges from /changes.",
							&mc_purge_keep_entries, 10000, 0, INT_MAX, PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("mailcluster.purge_blob_grace",
							"Age after which an upload no email uses is purged (purge_run()'s default).",
							NULL, &mc_purge_blob_grace_s, 3600, 0, INT_MAX, PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomBoolVariable("mailcluster.enable_fault_injection",
							 "Allows the fault_* functions (tests only).",
							 NULL, &mc_enable_fault_injection, false, PGC_SIGHUP, 0,
							 NULL, NULL, NULL);

	MarkGUCPrefixReserved("mailcluster");
	defining = false;
	emit_log_hook = prev_emit_log_hook;

	if (first_bad_name[0] != '\0')
		ereport(FATAL,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("mailcluster: invalid value for parameter \"%s\", refusing to start", first_bad_name),
				 errdetail("%s", first_bad_detail),
				 errhint("Correct the setting in postgresql.conf (or postgresql.auto.conf) and start the server again.")));

	if (!mc_guc_cross_check(name, sizeof(name), detail, sizeof(detail)))
		ereport(FATAL,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("mailcluster: invalid value for parameter \"%s\", refusing to start", name),
				 errdetail("%s", detail),
				 errhint("Correct the setting in postgresql.conf (or postgresql.auto.conf) and start the server again.")));
}

/*
 * mc_guc_cross_check — rules involving several settings; see mc_guc.h.
 * Uses the current values of the settings.
 */
bool
mc_guc_cross_check(char *name, int namelen, char *detail, int detlen)
{
	bool		have_key = (mc_key && mc_key[0]) || (mc_key_file && mc_key_file[0]);
	bool		have_bind = mc_bind_addr && mc_bind_addr[0];

	if (mc_key && mc_key[0] && mc_key_file && mc_key_file[0])
	{
		strlcpy(name, "mailcluster.key_file", namelen);
		snprintf(detail, detlen, "Set either mailcluster.key or mailcluster.key_file, not both.");
		return false;
	}
	if (have_bind && have_key && mc_node_id == 0)
	{
		strlcpy(name, "mailcluster.node_id", namelen);
		snprintf(detail, detlen,
				 "mailcluster.node_id must be between 1 and 65535 when mailcluster.bind_addr and a key are set "
				 "(0 means standalone).");
		return false;
	}
	if (have_bind && mc_is_wildcard_addr(mc_bind_addr) &&
		(mc_advertise_addr == NULL || mc_advertise_addr[0] == '\0'))
	{
		strlcpy(name, "mailcluster.advertise_addr", namelen);
		snprintf(detail, detlen,
				 "mailcluster.advertise_addr is required when mailcluster.bind_addr is the wildcard address \"%s\": "
				 "set it to the literal address other nodes reach this one at.", mc_bind_addr);
		return false;
	}
	if (mc_raft_heartbeat_interval_ms >= mc_raft_election_timeout_ms)
	{
		strlcpy(name, "mailcluster.raft_heartbeat_interval", namelen);
		snprintf(detail, detlen,
				 "mailcluster.raft_heartbeat_interval (%d ms) must be below mailcluster.raft_election_timeout (%d ms).",
				 mc_raft_heartbeat_interval_ms, mc_raft_election_timeout_ms);
		return false;
	}
	if (mc_bootstrap_expect > mc_max_voters)
	{
		strlcpy(name, "mailcluster.bootstrap_expect", namelen);
		snprintf(detail, detlen,
				 "mailcluster.bootstrap_expect (%d) must not exceed mailcluster.max_voters (%d).",
				 mc_bootstrap_expect, mc_max_voters);
		return false;
	}
	if (have_bind && mc_bind_port == mc_rpc_port)
	{
		/* UDP and TCP could share a number, but it is almost always a typo. */
		strlcpy(name, "mailcluster.rpc_port", namelen);
		snprintf(detail, detlen, "mailcluster.rpc_port must differ from mailcluster.bind_port (%d).", mc_bind_port);
		return false;
	}
	return true;
}

/* Startup decision, inherited by every child of the postmaster. */
static bool clustered_at_start = false;
static bool clustered_decided = false;

/*
 * mc_clustered — true when this node is a cluster member: bind_addr and a
 * key were set when the server started.  Fixed for the server's lifetime.
 */
bool
mc_clustered(void)
{
	if (!clustered_decided)
	{
		clustered_at_start = mc_bind_addr && mc_bind_addr[0] &&
			((mc_key && mc_key[0]) || (mc_key_file && mc_key_file[0]));
		clustered_decided = true;
	}
	return clustered_at_start;
}

/* mc_self_id — see mc_guc.h. */
int
mc_self_id(void)
{
	return mc_node_id != 0 ? mc_node_id : 1;
}

/* mc_role_index — position of a role name in mc_role_names, or -1. */
int
mc_role_index(const char *name)
{
	for (int i = 0; i < MC_NUM_ROLES; i++)
		if (strcmp(name, mc_role_names[i]) == 0)
			return i;
	return -1;
}

/* mc_effective_advertise_addr — advertise_addr, else bind_addr, else ''. */
const char *
mc_effective_advertise_addr(void)
{
	if (mc_advertise_addr && mc_advertise_addr[0])
		return mc_advertise_addr;
	return mc_bind_addr ? mc_bind_addr : "";
}
