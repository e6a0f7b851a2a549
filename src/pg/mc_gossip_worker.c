/*
 * mc_gossip_worker.c — the "mailcluster gossip" background worker: a thin
 * driver around the SWIM core (swim.h) and the packet sealing of the
 * crypto core (mc_crypto.h).
 *
 * One loop on a WaitEventSet (latch + UDP socket + postmaster death), with
 * the timeout set by the core's next deadline: read and open datagrams,
 * feed them to the core, tick it, seal and send what it queued, log its
 * events, publish members and counters to shared memory, and save the
 * membership to disk when it changed.  SIGHUP reloads the settings (new
 * keyring; a new core carrying the members over when timing or seeds
 * changed); SIGTERM announces a clean leave, then exits.
 */
#include "postgres.h"

#include <sys/socket.h>
#include <time.h>

#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "postmaster/postmaster.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "mc_crypto.h"
#include "mc_gossip.h"
#include "mc_gossip_net.h"
#include "mc_gossip_publish.h"
#include "mc_guc.h"
#include "mc_keys.h"
#include "mc_members_file.h"
#include "mc_raft_link.h"
#include "mc_roles.h"
#include "mc_shmem.h"
#include "swim.h"

/* Datagrams read per wake-up before ticking again. */
#define MAX_READS_PER_ROUND	256
/* Receive buffer: larger than any valid packet, so oversize is visible. */
#define RECV_BUF_SIZE		(MC_CRYPTO_MAX_PACKET + 512)
/* Minimum spacing of member-file writes. */
#define SAVE_INTERVAL_MS	1000

typedef struct GossipState
{
	MemoryContext mcxt;
	McGossipSocket sock;
	mc_swim    *swim;
	mc_keyring	keyring;
	mc_crypto_replay *replay;
	uint64		seq;			/* next packet sequence number */
	mc_swim_stats last_stats;	/* already added to the metrics */
	uint64		fault_generation;	/* last blocked set applied */
	bool		members_dirty;	/* changed since last saved */
	uint64		last_save_ms;
	uint64		last_meta_ms;
	/* settings the current core was built with */
	int			heartbeat_ms;
	double		phi_threshold;
	char	   *seed_nodes;
} GossipState;

static GossipState gs;

/* Milliseconds on a monotonic clock (the SWIM core's time). */
static uint64
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64) ts.tv_sec * 1000 + (uint64) ts.tv_nsec / 1000000;
}

/* Wall-clock milliseconds since the Unix epoch (packet timestamps). */
static uint64
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64) ts.tv_sec * 1000 + (uint64) ts.tv_nsec / 1000000;
}

/* Our metadata as gossip carries it: identity, ports, roles, Raft view. */
static void
build_self_meta(mc_swim_meta *meta)
{
	uint64		cluster_id = mc_raft_link_cluster_id();
	const char *role = mc_raft_link_role_of((uint32) mc_node_id);

	memset(meta, 0, sizeof(*meta));
	meta->node_id = (uint16) mc_node_id;
	strlcpy(meta->addr.host, mc_effective_advertise_addr(), sizeof(meta->addr.host));
	meta->addr.port = (uint16) mc_bind_port;
	meta->rpc_port = (uint16) mc_rpc_port;
	meta->sql_port = (uint16) PostPortNumber;
	meta->replica = mc_replica;
	meta->voter = mc_raft_link_is_voter((uint32) mc_node_id);
	/* bit i of the roles mask is mc_role_names[i], as MC_SWIM_ROLE_* are */
	meta->roles = mc_roles_configured_for(mc_node_id);
	for (int i = 0; i < 8; i++)
		meta->cluster_id[i] = (uint8) (cluster_id >> (56 - 8 * i));
	meta->raft_term = mc_raft_link_term();
	meta->leader_id = (uint16) mc_raft_link_leader();
	if (strcmp(role, "leader") == 0)
		meta->raft_role = MC_SWIM_RAFT_LEADER;
	else if (strcmp(role, "follower") == 0)
		meta->raft_role = MC_SWIM_RAFT_FOLLOWER;
	else if (strcmp(role, "candidate") == 0)
		meta->raft_role = MC_SWIM_RAFT_CANDIDATE;
	else if (strcmp(role, "learner") == 0)
		meta->raft_role = MC_SWIM_RAFT_LEARNER;
	else
		meta->raft_role = MC_SWIM_RAFT_NONE;
}

/*
 * Create the SWIM core from the current settings, carrying over the
 * members of `old` (a reload) or, at start, those saved on disk.
 */
static mc_swim *
create_core(const mc_swim *old)
{
	mc_swim_config cfg;
	mc_swim    *s;
	uint64		now = mono_ms();

	mc_swim_config_default(&cfg);
	build_self_meta(&cfg.self);
	cfg.probe_interval_ms = (uint32) mc_heartbeat_ms;
	cfg.probe_timeout_ms = (uint32) Max(mc_heartbeat_ms / 2, 1);
	cfg.phi_threshold = mc_phi_threshold;
	cfg.phi_min_std_ms = mc_heartbeat_ms / 2.0;
	cfg.nseeds = mc_gossip_resolve_seeds(&gs.sock, mc_seed_nodes, mc_bind_port,
										 cfg.seeds, MC_SWIM_MAX_SEEDS);
	if (!pg_strong_random(&cfg.rng_seed, sizeof(cfg.rng_seed)))
		cfg.rng_seed = now ^ ((uint64) MyProcPid << 32);

	s = mc_swim_create(&cfg, now);
	if (s == NULL)
		ereport(FATAL,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("mailcluster: the gossip core refused its configuration"),
				 errdetail("node_id %d, address %s port %d, heartbeat %d ms.",
						   mc_node_id, cfg.self.addr.host, mc_bind_port, mc_heartbeat_ms)));

	if (old != NULL)
	{
		size_t		cap = 8192;
		uint8	   *buf = palloc(cap);
		size_t		len = mc_swim_export(old, buf, cap);

		if (len > cap)
		{
			buf = repalloc(buf, len);
			len = mc_swim_export(old, buf, len);
		}
		(void) mc_swim_import(s, now, buf, len);
		pfree(buf);
	}
	else
	{
		int			n = mc_members_file_load(s, now);

		if (n > 0)
			ereport(LOG,
					(errmsg("mailcluster: restored %d members from the member file", n)));
	}

	gs.heartbeat_ms = mc_heartbeat_ms;
	gs.phi_threshold = mc_phi_threshold;
	if (gs.seed_nodes)
		pfree(gs.seed_nodes);
	gs.seed_nodes = pstrdup(mc_seed_nodes ? mc_seed_nodes : "");
	gs.fault_generation = (uint64) -1;	/* re-apply the blocked set */
	memset(&gs.last_stats, 0, sizeof(gs.last_stats));
	return s;
}

/* Apply the fault-injection blocked set to the core if it changed. */
static void
sync_fault_set(void)
{
	uint64		gen;
	uint8	   *bits = NULL;

	LWLockAcquire(mc_shared->lock, LW_SHARED);
	gen = mc_shared->fault_generation;
	if (gen != gs.fault_generation)
	{
		bits = palloc(sizeof(mc_shared->fault_blocked));
		memcpy(bits, mc_shared->fault_blocked, sizeof(mc_shared->fault_blocked));
	}
	LWLockRelease(mc_shared->lock);
	if (bits == NULL)
		return;
	mc_swim_unblock_all(gs.swim);
	for (int id = 1; id < 65536; id++)
		if (bits[id >> 3] & (1 << (id & 7)))
			mc_swim_block(gs.swim, (uint16) id, true);
	pfree(bits);
	gs.fault_generation = gen;
}

/* Metric for a crypto drop reason. */
static McMetric
drop_metric(mc_drop_reason why)
{
	switch (why)
	{
		case MC_DROP_TRUNCATED:
			return MC_METRIC_GOSSIP_DROP_TRUNCATED;
		case MC_DROP_OVERSIZED:
			return MC_METRIC_GOSSIP_DROP_OVERSIZED;
		case MC_DROP_BAD_VERSION:
			return MC_METRIC_GOSSIP_DROP_BAD_VERSION;
		case MC_DROP_AUTH_FAILED:
			return MC_METRIC_GOSSIP_DROP_AUTH_FAILED;
		case MC_DROP_STALE:
			return MC_METRIC_GOSSIP_DROP_STALE;
		case MC_DROP_REPLAYED:
			return MC_METRIC_GOSSIP_DROP_REPLAYED;
		default:
			return MC_METRIC_GOSSIP_DROP_MALFORMED;
	}
}

/*
 * Read and handle every pending datagram (bounded per round): open it
 * with the keyring, drop and count what fails or comes from a blocked
 * node, hand the rest to the core.
 */
static void
receive_datagrams(void)
{
	static uint8 pkt[RECV_BUF_SIZE];
	static uint8 plain[MC_CRYPTO_MAX_PAYLOAD];

	for (int i = 0; i < MAX_READS_PER_ROUND; i++)
	{
		struct sockaddr_storage from;
		socklen_t	fromlen = sizeof(from);
		ssize_t		n;
		size_t		plen;
		mc_packet_info info;
		mc_drop_reason why;
		mc_swim_addr addr;
		uint64		src;

		n = recvfrom(gs.sock.fd, pkt, sizeof(pkt), MSG_TRUNC, (struct sockaddr *) &from, &fromlen);
		if (n < 0)
		{
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				ereport(LOG,
						(errcode_for_socket_access(),
						 errmsg("mailcluster: gossip receive failed: %m")));
			return;
		}
		mc_metric_add(MC_METRIC_GOSSIP_PACKETS_RECEIVED, 1);
		mc_metric_add(MC_METRIC_GOSSIP_BYTES_RECEIVED, (uint64) n);
		if ((size_t) n > sizeof(pkt))
		{
			mc_metric_add(MC_METRIC_GOSSIP_DROP_OVERSIZED, 1);
			continue;
		}
		/*
		 * Replay windows are kept per (node id, source address), so a
		 * second server claiming a live node's id (G7) cannot make the real
		 * node's packets look replayed (doc/security.md §3).
		 */
		if (from.ss_family == AF_INET)
		{
			const struct sockaddr_in *in = (const struct sockaddr_in *) &from;

			src = mc_crypto_source_tag((const uint8 *) &in->sin_addr, sizeof(in->sin_addr),
									   ntohs(in->sin_port));
		}
		else if (from.ss_family == AF_INET6)
		{
			const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) &from;

			src = mc_crypto_source_tag((const uint8 *) &in6->sin6_addr, sizeof(in6->sin6_addr),
									   ntohs(in6->sin6_port));
		}
		else
			src = 0;
		why = mc_crypto_open_from(&gs.keyring, gs.replay, src, wall_ms(), pkt, (size_t) n,
								  plain, sizeof(plain), &plen, &info);
		if (why != MC_DROP_NONE)
		{
			mc_metric_add(drop_metric(why), 1);
			continue;
		}
		if (mc_fault_is_blocked(info.sender))
		{
			mc_metric_add(MC_METRIC_GOSSIP_DROP_FAULT_INJECTED, 1);
			continue;
		}
		if (!mc_gossip_addr_from_sockaddr(&from, &addr))
		{
			mc_metric_add(MC_METRIC_GOSSIP_DROP_MALFORMED, 1);
			continue;
		}
		/* the core counts its own refusals (malformed, blocked, self) */
		(void) mc_swim_receive(gs.swim, mono_ms(), &addr, plain, plen);
	}
}

/* Is `to` the address of a node blocked by fault injection? */
static bool
destination_blocked(const mc_swim_addr *to)
{
	int			n;
	bool		any;

	LWLockAcquire(mc_shared->lock, LW_SHARED);
	any = mc_shared->n_blocked > 0;
	LWLockRelease(mc_shared->lock);
	if (!any)
		return false;
	n = mc_swim_member_count(gs.swim);
	for (int i = 1; i < n; i++)
	{
		mc_swim_member m;

		if (mc_swim_member_get(gs.swim, i, mono_ms(), &m) &&
			m.meta.addr.port == to->port && strcmp(m.meta.addr.host, to->host) == 0)
			return mc_fault_is_blocked(m.meta.node_id);
	}
	return false;
}

/* Seal and send everything the core has queued. */
static void
send_queued(void)
{
	static uint8 plain[MC_SWIM_MAX_PACKET];
	static uint8 pkt[MC_CRYPTO_MAX_PACKET];
	mc_swim_addr to;
	int			n;

	while ((n = mc_swim_next_outgoing(gs.swim, &to, plain, sizeof(plain))) != 0)
	{
		struct sockaddr_storage ss;
		socklen_t	sslen;
		int			plen;

		if (n < 0)
		{
			mc_metric_add(MC_METRIC_GOSSIP_SEND_ERRORS, 1);
			continue;
		}
		if (destination_blocked(&to))
		{
			mc_metric_add(MC_METRIC_GOSSIP_DROP_FAULT_INJECTED, 1);
			continue;
		}
		plen = mc_crypto_seal(&gs.keyring, (uint16) mc_node_id, wall_ms(), gs.seq++,
							  plain, (size_t) n, pkt, sizeof(pkt));
		if (plen < 0 || !mc_gossip_addr_to_sockaddr(&gs.sock, &to, &ss, &sslen))
		{
			mc_metric_add(MC_METRIC_GOSSIP_SEND_ERRORS, 1);
			continue;
		}
		if (sendto(gs.sock.fd, pkt, (size_t) plen, 0, (struct sockaddr *) &ss, sslen) != plen)
		{
			mc_metric_add(MC_METRIC_GOSSIP_SEND_ERRORS, 1);
			continue;
		}
		mc_metric_add(MC_METRIC_GOSSIP_PACKETS_SENT, 1);
		mc_metric_add(MC_METRIC_GOSSIP_BYTES_SENT, (uint64) plen);
	}
}

/* Log the core's membership events; any of them marks the members dirty. */
static void
log_events(void)
{
	mc_swim_event ev;

	while (mc_swim_next_event(gs.swim, &ev))
	{
		gs.members_dirty = true;
		if (ev.type == MC_SWIM_EV_CONFLICT)
			ereport(WARNING,
					(errmsg("mailcluster: node id %u is claimed by %s port %u while another member holds it; refused",
							ev.node_id, ev.addr.host, ev.addr.port),
					 errhint("Every node needs its own mailcluster.node_id.")));
		else if (ev.type != MC_SWIM_EV_UPDATED)
			ereport(LOG,
					(errmsg("mailcluster: member %u (%s port %u) %s, incarnation %u",
							ev.node_id, ev.addr.host, ev.addr.port,
							mc_swim_event_name(ev.type), ev.incarnation)));
	}
}

/* Re-announce our metadata when roles or the Raft view changed. */
static void
refresh_meta(uint64 now)
{
	mc_swim_member self;
	mc_swim_meta meta;

	if (now - gs.last_meta_ms < (uint64) gs.heartbeat_ms)
		return;
	gs.last_meta_ms = now;
	if (!mc_swim_member_get(gs.swim, 0, now, &self))
		return;
	build_self_meta(&meta);
	if (meta.roles != self.meta.roles || meta.raft_role != self.meta.raft_role ||
		meta.voter != self.meta.voter || meta.raft_term != self.meta.raft_term ||
		meta.leader_id != self.meta.leader_id ||
		memcmp(meta.cluster_id, self.meta.cluster_id, sizeof(meta.cluster_id)) != 0)
		(void) mc_swim_set_meta(gs.swim, now, &meta);
}

/*
 * SIGHUP: re-read the configuration.  A new keyring replaces the old one
 * only if it loads (key rotation); a refused one leaves the old in use.
 * A change of heartbeat, phi_threshold or seeds builds a new core that
 * keeps the members of the old one.
 */
static void
reload_config(void)
{
	mc_keyring	kr;
	char		err[600];
	char		name[64];

	ConfigReloadPending = false;
	ProcessConfigFile(PGC_SIGHUP);

	if (!mc_guc_cross_check(name, sizeof(name), err, sizeof(err)))
		ereport(WARNING,
				(errmsg("mailcluster: after reload, parameter \"%s\" contradicts another setting", name),
				 errdetail("%s", err)));

	if (mc_keys_load(&kr, err, sizeof(err)))
	{
		mc_keys_warn_weak(&kr);
		mc_crypto_keyring_clear(&gs.keyring);
		gs.keyring = kr;
		mc_metric_add(MC_METRIC_GOSSIP_KEY_RELOADS, 1);
		mc_metric_set(MC_METRIC_GOSSIP_KEYRING_KEYS, (uint64) kr.nkeys);
	}
	else
	{
		mc_metric_add(MC_METRIC_GOSSIP_KEY_RELOAD_FAILURES, 1);
		ereport(WARNING,
				(errmsg("mailcluster: keeping the previous keys: %s", err)));
	}

	if (mc_heartbeat_ms != gs.heartbeat_ms || mc_phi_threshold != gs.phi_threshold ||
		strcmp(mc_seed_nodes ? mc_seed_nodes : "", gs.seed_nodes) != 0)
	{
		mc_swim    *old = gs.swim;

		mc_gossip_publish_stats(old, &gs.last_stats);
		gs.swim = create_core(old);
		mc_swim_destroy(old);
		ereport(LOG,
				(errmsg("mailcluster: gossip settings reloaded (heartbeat %d ms, phi_threshold %g)",
						mc_heartbeat_ms, mc_phi_threshold)));
	}
	gs.last_meta_ms = 0;		/* roles may have changed */
}

/* SIGTERM: announce that we leave, flush, save the members, stop. */
static void
leave_and_exit(void)
{
	uint64		now = mono_ms();

	mc_swim_leave(gs.swim, now);
	send_queued();
	mc_members_file_save(gs.swim);
	mc_gossip_publish_stats(gs.swim, &gs.last_stats);
	ereport(LOG, (errmsg("mailcluster: gossip left the cluster")));
	proc_exit(0);
}

/* before_shmem_exit callback: withdraw from shared memory, wipe keys. */
static void
gossip_cleanup(int code, Datum arg)
{
	mc_gossip_unpublish();
	mc_crypto_keyring_clear(&gs.keyring);
	mc_gossip_socket_close(&gs.sock);
}

/*
 * mc_gossip_main — entry point of the "mailcluster gossip" worker.
 * Never returns: exits through proc_exit on SIGTERM or postmaster death.
 */
void
mc_gossip_main(Datum arg)
{
	WaitEventSet *wes;
	char		err[600];

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();
	/* no database: this makes the worker visible in pg_stat_activity */
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	memset(&gs, 0, sizeof(gs));
	gs.sock.fd = PGINVALID_SOCKET;
	gs.mcxt = AllocSetContextCreate(TopMemoryContext, "mailcluster gossip",
									ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(gs.mcxt);

	if (mc_crypto_init() != 0)
		ereport(FATAL, (errmsg("mailcluster: libsodium could not be initialised")));
	if (!mc_keys_load(&gs.keyring, err, sizeof(err)))
		ereport(FATAL,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("mailcluster: gossip cannot start without keys: %s", err)));
	mc_keys_warn_weak(&gs.keyring);
	mc_metric_set(MC_METRIC_GOSSIP_KEYRING_KEYS, (uint64) gs.keyring.nkeys);
	gs.replay = palloc0(sizeof(mc_crypto_replay));
	gs.seq = mc_crypto_seq_init(wall_ms());

	before_shmem_exit(gossip_cleanup, (Datum) 0);
	mc_gossip_socket_open(&gs.sock, mc_bind_addr, mc_bind_port);
	gs.swim = create_core(NULL);

	LWLockAcquire(mc_shared->lock, LW_EXCLUSIVE);
	mc_shared->gossip_pid = MyProcPid;
	mc_shared->gossip_latch = MyLatch;
	LWLockRelease(mc_shared->lock);

	wes = CreateWaitEventSet(gs.mcxt, 3);
	AddWaitEventToSet(wes, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(wes, WL_SOCKET_READABLE, gs.sock.fd, NULL, NULL);
	AddWaitEventToSet(wes, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);

	ereport(LOG,
			(errmsg("mailcluster: gossip for node %d listening on %s port %d",
					mc_node_id, mc_bind_addr, mc_bind_port)));

	for (;;)
	{
		WaitEvent	events[3];
		uint64		now = mono_ms();
		uint64		deadline = mc_swim_next_deadline(gs.swim);
		long		timeout = deadline > now ? (long) Min(deadline - now, 1000) : 0;
		int			nev;

		nev = WaitEventSetWait(wes, timeout, events, lengthof(events), PG_WAIT_EXTENSION);
		for (int i = 0; i < nev; i++)
			if (events[i].events & WL_LATCH_SET)
				ResetLatch(MyLatch);

		if (ShutdownRequestPending)
			leave_and_exit();
		if (ConfigReloadPending)
			reload_config();

		sync_fault_set();
		receive_datagrams();
		now = mono_ms();
		mc_swim_tick(gs.swim, now);
		refresh_meta(now);
		send_queued();
		log_events();
		mc_gossip_publish_members(gs.swim, now);
		mc_gossip_publish_stats(gs.swim, &gs.last_stats);

		if (gs.members_dirty && now - gs.last_save_ms >= SAVE_INTERVAL_MS)
		{
			mc_members_file_save(gs.swim);
			gs.members_dirty = false;
			gs.last_save_ms = now;
		}
	}
}
