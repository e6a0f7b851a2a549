/*
 * mc_metrics.h — the catalogue of mailcluster.metrics: one id per counter
 * or gauge, each named exactly as its Prometheus metric (counters end in
 * _total; a drop reason is part of the name, e.g.
 * gossip_packets_dropped_auth_failed_total).  Values live in shared memory
 * as atomics (mc_shmem.h), so any process may bump them without a lock.
 * Raft metrics are declared here for the Raft worker to fill.
 */
#ifndef MC_METRICS_H
#define MC_METRICS_H

#define MC_METRICS_LIST(X) \
	X(GOSSIP_PACKETS_SENT,			"gossip_packets_sent_total") \
	X(GOSSIP_PACKETS_RECEIVED,		"gossip_packets_received_total") \
	X(GOSSIP_BYTES_SENT,			"gossip_bytes_sent_total") \
	X(GOSSIP_BYTES_RECEIVED,		"gossip_bytes_received_total") \
	X(GOSSIP_DROP_TRUNCATED,		"gossip_packets_dropped_truncated_total") \
	X(GOSSIP_DROP_OVERSIZED,		"gossip_packets_dropped_oversized_total") \
	X(GOSSIP_DROP_BAD_VERSION,		"gossip_packets_dropped_bad_version_total") \
	X(GOSSIP_DROP_AUTH_FAILED,		"gossip_packets_dropped_auth_failed_total") \
	X(GOSSIP_DROP_STALE,			"gossip_packets_dropped_stale_total") \
	X(GOSSIP_DROP_REPLAYED,			"gossip_packets_dropped_replayed_total") \
	X(GOSSIP_DROP_MALFORMED,		"gossip_packets_dropped_malformed_total") \
	X(GOSSIP_DROP_FAULT_INJECTED,	"gossip_packets_dropped_fault_injected_total") \
	X(GOSSIP_DROP_SELF,				"gossip_packets_dropped_self_total") \
	X(GOSSIP_SEND_ERRORS,			"gossip_send_errors_total") \
	X(GOSSIP_PROBES_SENT,			"gossip_probes_sent_total") \
	X(GOSSIP_ACKS_RECEIVED,			"gossip_acks_received_total") \
	X(GOSSIP_INDIRECT_PROBES,		"gossip_indirect_probes_total") \
	X(GOSSIP_NACKS_RECEIVED,		"gossip_nacks_received_total") \
	X(GOSSIP_PROBE_FAILURES,		"gossip_probe_failures_total") \
	X(GOSSIP_SUSPICIONS,			"gossip_suspicions_total") \
	X(GOSSIP_PHI_SUSPICIONS,		"gossip_phi_suspicions_total") \
	X(GOSSIP_DEATHS_DECLARED,		"gossip_deaths_declared_total") \
	X(GOSSIP_REFUTATIONS,			"gossip_refutations_total") \
	X(GOSSIP_ID_CONFLICTS,			"gossip_id_conflicts_total") \
	X(GOSSIP_PUSH_PULLS,			"gossip_push_pulls_total") \
	X(GOSSIP_KEY_RELOADS,			"gossip_key_reloads_total") \
	X(GOSSIP_KEY_RELOAD_FAILURES,	"gossip_key_reload_failures_total") \
	X(GOSSIP_MEMBERS_ALIVE,			"gossip_members_alive") \
	X(GOSSIP_MEMBERS_SUSPECT,		"gossip_members_suspect") \
	X(GOSSIP_MEMBERS_DEAD,			"gossip_members_dead") \
	X(GOSSIP_MEMBERS_LEFT,			"gossip_members_left") \
	X(GOSSIP_LOCAL_HEALTH,			"gossip_local_health") \
	X(GOSSIP_KEYRING_KEYS,			"gossip_keyring_keys") \
	X(FAULT_ISOLATED_NODES,			"fault_isolated_nodes") \
	X(RAFT_TERM,					"raft_term") \
	X(RAFT_COMMIT_INDEX,			"raft_commit_index") \
	X(RAFT_APPLIED_INDEX,			"raft_applied_index") \
	X(RAFT_APPLY_LAG,				"raft_apply_lag") \
	X(RAFT_ELECTIONS,				"raft_elections_total") \
	X(RAFT_LEADER_CHANGES,			"raft_leader_changes_total") \
	X(RAFT_PROPOSALS,				"raft_proposals_total") \
	X(RAFT_PROPOSALS_FAILED,		"raft_proposals_failed_total") \
	X(RAFT_COMMITS,					"raft_commits_total") \
	X(RAFT_APPLIED_AHEAD,			"raft_applied_ahead_total") \
	X(RAFT_APPLY_AHEAD_ABANDONED,	"raft_apply_ahead_abandoned_total") \
	X(RAFT_READ_INDEX,				"raft_read_index_total") \
	X(RAFT_SNAPSHOTS,				"raft_snapshots_total") \
	X(RAFT_RPC_SENT,				"raft_rpc_messages_sent_total") \
	X(RAFT_RPC_RECEIVED,			"raft_rpc_messages_received_total") \
	X(RAFT_RPC_DROP_AUTH_FAILED,	"raft_rpc_dropped_auth_failed_total") \
	X(RAFT_RPC_DROP_MALFORMED,		"raft_rpc_dropped_malformed_total") \
	X(RAFT_RPC_DROP_FAULT_INJECTED,	"raft_rpc_dropped_fault_injected_total")

#define MC_METRIC_ENUM(id, name) MC_METRIC_##id,
typedef enum McMetric
{
	MC_METRICS_LIST(MC_METRIC_ENUM)
	MC_METRIC__COUNT
} McMetric;
#undef MC_METRIC_ENUM

/* Prometheus name of a metric id. */
extern const char *mc_metric_name(McMetric m);

/* Add to a counter / set a gauge (no-ops when shared memory is absent). */
extern void mc_metric_add(McMetric m, uint64 delta);
extern void mc_metric_set(McMetric m, uint64 value);
extern uint64 mc_metric_get(McMetric m);

#endif
