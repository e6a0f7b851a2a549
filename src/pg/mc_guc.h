/*
 * mc_guc.h — every mailcluster.* setting (SPEC §2): the C variables behind
 * them, their definition in _PG_init, and the cross-setting checks.
 *
 * Settings that change the node's identity or sockets are PGC_POSTMASTER;
 * the rest are PGC_SIGHUP so a reload applies them (key rotation, seeds,
 * timeouts, roles).  A value refused by a check hook while the library is
 * being preloaded makes the server refuse to start (mc_guc_define raises
 * FATAL): a node never starts half-configured.
 */
#ifndef MC_GUC_H
#define MC_GUC_H

#include <stdbool.h>

typedef enum McWriteMode
{
	MC_WRITE_FORWARD,
	MC_WRITE_REDIRECT
} McWriteMode;

typedef enum McReadConsistency
{
	MC_READ_LINEARIZABLE,
	MC_READ_LOCAL
} McReadConsistency;

/* The roles of SPEC §2, in the order the roles view lists them. */
#define MC_NUM_ROLES 5
extern const char *const mc_role_names[MC_NUM_ROLES];

extern int	mc_node_id;
extern char *mc_bind_addr;
extern int	mc_bind_port;
extern char *mc_advertise_addr;
extern int	mc_rpc_port;
extern char *mc_key;
extern char *mc_key_file;
extern int	mc_heartbeat_ms;
extern char *mc_seed_nodes;
extern double mc_phi_threshold;
extern int	mc_bootstrap_expect;
extern int	mc_max_voters;
extern bool mc_replica;
extern char *mc_database;
extern int	mc_raft_election_timeout_ms;
extern int	mc_raft_heartbeat_interval_ms;
extern int	mc_raft_commit_timeout_ms;
extern int	mc_raft_batch_max;
extern int	mc_snapshot_after_entries;
extern int	mc_snapshot_after_duration_s;
extern int	mc_write_mode;
extern int	mc_read_consistency;
extern char *mc_role_settings[MC_NUM_ROLES];
extern char *mc_roles_map;
extern bool mc_enable_fault_injection;
extern int	mc_maintenance_interval_s;
extern int	mc_purge_keep_entries;
extern int	mc_purge_blob_grace_s;
extern int	mc_apply_ahead_wait_ms;

/* Define all settings; FATAL if any preloaded value was refused. */
extern void mc_guc_define(void);

/*
 * Check the rules that involve several settings (advertise_addr with a
 * wildcard bind_addr, node_id when clustered, raft heartbeat < election
 * timeout, one of key/key_file).  Returns true if all hold; otherwise
 * writes the offending setting's name and the reason into name/detail.
 */
extern bool mc_guc_cross_check(char *name, int namelen, char *detail, int detlen);

/* True when this node runs as a cluster member (bind_addr and a key set). */
extern bool mc_clustered(void);

/*
 * This node's id as the cluster uses it: mailcluster.node_id, or 1 for a
 * standalone node left at 0 (its one-node Raft cluster needs an id).
 */
extern int	mc_self_id(void);

/* Index of a role name in mc_role_names, or -1. */
extern int	mc_role_index(const char *name);

/* The address other nodes use for this node ('' when none is known). */
extern const char *mc_effective_advertise_addr(void);

#endif
