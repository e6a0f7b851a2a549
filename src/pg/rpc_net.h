/*
 * rpc_net.h — Raft RPC over TCP for the raft worker: a listener on
 * rpc_port, one outgoing connection per peer (this node's messages to it)
 * and the peers' incoming connections (their messages to this node), every
 * byte sealed by the rpcsec channel (handshake + per-direction keys).
 * Sockets are non-blocking and waited on with a WaitEventSet together with
 * the worker's latch.  Peer addresses come from the gossip members.
 *
 * Every frame is:  u8 kind | u64 cluster id of the sender | body
 *   kind 1 RAFT       body = mc_raft_msg_encode()
 *   kind 2 BOOTSTRAP  body = mc_raft_conf_encode() of the initial voters
 *   kind 3 CLUSTER    body empty: "I lead this cluster; ask to join"
 *   kind 4 JOIN       body = u8 replica: "add me as a learner"
 * A frame whose cluster id is not ours (when both are set) is dropped.
 */
#ifndef MC_RPC_NET_H
#define MC_RPC_NET_H

#include "postgres.h"

#include "raft.h"
#include "raft_worker.h"

#define MC_RPC_KIND_RAFT		1
#define MC_RPC_KIND_BOOTSTRAP	2
#define MC_RPC_KIND_CLUSTER		3
#define MC_RPC_KIND_JOIN		4
#define MC_RPC_HEADER			9

/* Open the listener and load the keyring (FATAL if impossible). */
extern void mc_rpc_start(McRaftWorker *w);

/*
 * Wait up to timeout_ms for the latch or socket activity; accept, connect,
 * read, hand received Raft messages to the core (mc_raft_step) and write
 * pending output.
 */
extern void mc_rpc_wait_and_receive(McRaftWorker *w, long timeout_ms);

/* Encode and queue one Raft message to its destination (dropped when the
 * connection is not up: Raft retransmits). */
extern void mc_rpc_send_msg(McRaftWorker *w, const mc_raft_msg *m);

/* Queue a control frame (kind, body) to node `to`. */
extern void mc_rpc_send_frame(McRaftWorker *w, uint32 to, uint8 kind,
							  const uint8 *body, size_t len);

/* Open the outgoing connection to peer now if there is none (back-off permitting). */
extern void mc_rpc_connect(McRaftWorker *w, uint32 peer);

/* Reload the keyring after SIGHUP (key rotation). */
extern void mc_rpc_reload_keys(McRaftWorker *w);

/* Write pending output on every connection, waiting up to wait_ms. */
extern void mc_rpc_flush_all(McRaftWorker *w, int wait_ms);

/* The leader changed from `old` to `now` (closes nothing; bookkeeping). */
extern void mc_rpc_leader_changed(McRaftWorker *w, uint32 old, uint32 now);

/* Without a cluster: form one (lowest id) or wait for BOOTSTRAP / CLUSTER. */
extern void mc_rpc_try_bootstrap(McRaftWorker *w);

/* With a cluster, on the leader: invite and add new nodes, promote learners. */
extern void mc_rpc_membership_tick(McRaftWorker *w);

/* A control frame arrived (rpc_bootstrap.c). */
extern void mc_rpc_handle_control(McRaftWorker *w, uint32 from, uint8 kind,
								  uint64 cluster_id, const uint8 *body, size_t len);

/* Look up a gossip member: address, rpc port, alive, replica.  False if unknown. */
extern bool mc_rpc_member_info(uint32 node_id, char *addr, size_t addrlen,
							   int *rpc_port, bool *alive, bool *replica);

/* Is traffic with node_id blocked by fault_isolate()? */
extern bool mc_rpc_fault_blocked(uint32 node_id);

#endif
