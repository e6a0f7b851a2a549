/*
 * swim.h — public interface of the SWIM gossip membership core.
 *
 * A pure, I/O-free state machine (no PostgreSQL, no sockets, no clocks, no
 * threads): the driver feeds it time (ms, any monotonic origin), received
 * plaintext datagrams and the source address they came from, and takes
 * outgoing plaintext datagrams, each with a destination address, which it
 * encrypts and sends.  Randomness comes from a PRNG seeded by the config,
 * so a run is deterministic given its inputs.
 *
 * Driving loop (the gossip worker):
 *
 *     s = mc_swim_create(&cfg, now);
 *     loop:
 *         wait for a datagram or until mc_swim_next_deadline(s)
 *         for each datagram: mc_swim_receive(s, now, &from, buf, len)
 *         mc_swim_tick(s, now)
 *         while ((n = mc_swim_next_outgoing(s, &to, buf, sizeof buf)) > 0)
 *             encrypt and send buf[0..n) to `to`
 *         while (mc_swim_next_event(s, &ev)) log / publish ev
 *         publish members (mc_swim_member_count / mc_swim_member_get)
 *         now and then: mc_swim_export() to disk
 *     on shutdown: mc_swim_leave(s, now), flush outgoing, mc_swim_destroy(s)
 *
 * Protocol, wire format, timing rules: doc/gossip.md.
 */
#ifndef MC_SWIM_H
#define MC_SWIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MC_SWIM_HOST_LEN		64		/* host buffer incl. NUL (max 63 chars) */
#define MC_SWIM_MAX_SEEDS		32
#define MC_SWIM_MAX_PACKET		1400	/* default and upper bound of a datagram */
#define MC_SWIM_MIN_PACKET		512		/* smallest max_packet accepted */

/* A UDP endpoint.  The core never resolves: host is compared as a string. */
typedef struct mc_swim_addr
{
	char		host[MC_SWIM_HOST_LEN];	/* NUL-terminated */
	uint16_t	port;
} mc_swim_addr;

typedef enum mc_swim_state
{
	MC_SWIM_ALIVE = 0,
	MC_SWIM_SUSPECT = 1,
	MC_SWIM_DEAD = 2,
	MC_SWIM_LEFT = 3
} mc_swim_state;

/* Configured roles (SPEC §2 mailcluster.roles.*), as bits of meta.roles. */
#define MC_SWIM_ROLE_PURGE_STORES		0x01
#define MC_SWIM_ROLE_PURGE_ACCOUNTS		0x02
#define MC_SWIM_ROLE_ACME_RENEW			0x04
#define MC_SWIM_ROLE_METRICS_CALCULATE	0x08
#define MC_SWIM_ROLE_METRICS_PUSH		0x10

/* Raft role as advertised in meta.raft_role (for mailcluster.members). */
#define MC_SWIM_RAFT_NONE		0
#define MC_SWIM_RAFT_FOLLOWER	1
#define MC_SWIM_RAFT_CANDIDATE	2
#define MC_SWIM_RAFT_LEADER		3
#define MC_SWIM_RAFT_LEARNER	4

/*
 * Node metadata carried by gossip with every alive/suspect/dead record.
 * addr is the advertise address and gossip (UDP) port: other nodes send
 * gossip there.  Fields the core does not interpret are carried opaquely.
 */
typedef struct mc_swim_meta
{
	uint16_t	node_id;		/* 1..65535 */
	mc_swim_addr addr;			/* advertise address + gossip port */
	uint16_t	rpc_port;		/* Raft RPC TCP port */
	uint16_t	sql_port;		/* PostgreSQL port */
	bool		replica;		/* read-only replica */
	bool		voter;			/* Raft voter (false: learner / unknown) */
	uint8_t		raft_role;		/* MC_SWIM_RAFT_* */
	uint32_t	roles;			/* MC_SWIM_ROLE_* bits configured for it */
	uint8_t		cluster_id[16];	/* Raft cluster id, zeros until formed */
	uint64_t	raft_term;		/* last Raft term this node knows */
	uint16_t	leader_id;		/* leader it knows, 0 = none */
} mc_swim_meta;

typedef struct mc_swim_config
{
	mc_swim_meta self;			/* self.node_id and self.addr are required */
	uint32_t	probe_interval_ms;	/* mailcluster.heartbeat; default 1000 */
	uint32_t	probe_timeout_ms;	/* wait for a direct ack; default 500
									 * (must be < probe_interval_ms) */
	uint32_t	indirect_k;		/* indirect probes per missed ack; default 3 */
	uint32_t	retransmit_mult;	/* λ: updates sent λ*ceil(log10(n+1))
									 * times; default 4 */
	uint32_t	suspicion_min_mult; /* min suspicion timeout =
									 * mult*max(1,log10(n))*probe_interval;
									 * default 4 */
	uint32_t	suspicion_max_mult; /* max = this * min; default 6 */
	uint32_t	awareness_max;	/* Lifeguard local-health ceiling; timeouts
								 * scale by (score+1); default 8 */
	double		phi_threshold;	/* mailcluster.phi_threshold; default 8.0;
								 * <= 0 disables phi-triggered suspicion */
	uint32_t	phi_window;		/* intervals kept per member; default 100 */
	double		phi_min_std_ms; /* default probe_interval_ms / 2 */
	uint32_t	phi_min_samples;	/* default 8 */
	uint32_t	push_pull_interval_ms;	/* default 30000; 0 disables */
	uint32_t	max_packet;		/* datagram size cap; default 1400 */
	uint32_t	initial_incarnation;	/* e.g. restored by the driver */
	int			nseeds;
	mc_swim_addr seeds[MC_SWIM_MAX_SEEDS];	/* own address is skipped */
	uint64_t	rng_seed;		/* seeds the PRNG (driver: random bytes) */
	/* (added after the first version; 0 keeps the default) */
	uint32_t	phi_pause_ms;	/* acceptable pause added to the mean
								 * interval; 0 = one probe round, i.e.
								 * (members alive) * probe_interval_ms */
} mc_swim_config;

/* Fill every field with its default; self and seeds are zeroed. */
void		mc_swim_config_default(mc_swim_config *cfg);

typedef struct mc_swim mc_swim;

/*
 * Create a node alive at incarnation cfg->initial_incarnation, knowing only
 * itself.  Returns NULL if the config is invalid (node id 0, empty host,
 * port 0, probe_timeout >= probe_interval, max_packet out of
 * [MC_SWIM_MIN_PACKET, MC_SWIM_MAX_PACKET], ...) or memory runs out.  With
 * seeds it starts joining at the first tick.  The config is copied.
 */
mc_swim    *mc_swim_create(const mc_swim_config *cfg, uint64_t now_ms);

/* Free everything; s may be NULL. */
void		mc_swim_destroy(mc_swim *s);

/*
 * Advance timers to now_ms: start a probe each (scaled) probe period, send
 * indirect probes on a missed ack, expire suspicions into dead, check phi,
 * push-pull, relay nacks.  Cheap to call often; call it at least by
 * mc_swim_next_deadline().  Time must not go backwards (a smaller now_ms is
 * treated as the last one seen).
 */
void		mc_swim_tick(mc_swim *s, uint64_t now_ms);

/* Earliest time at which mc_swim_tick has work to do (ms). */
uint64_t	mc_swim_next_deadline(const mc_swim *s);

/* Results of mc_swim_receive. */
#define MC_SWIM_OK				0
#define MC_SWIM_ERR_MALFORMED	(-1)	/* truncated / garbage / bad version */
#define MC_SWIM_ERR_OVERSIZE	(-2)	/* len > max_packet */
#define MC_SWIM_ERR_BLOCKED		(-3)	/* sender blocked (fault injection) */
#define MC_SWIM_ERR_SELF		(-4)	/* claims our own node id */

/*
 * Process one plaintext datagram received from `from` at now_ms.  Never
 * reads outside buf[0..len); a malformed datagram changes no state.
 * Returns MC_SWIM_OK or one of the MC_SWIM_ERR_* codes (the driver counts
 * them by reason).
 */
int			mc_swim_receive(mc_swim *s, uint64_t now_ms, const mc_swim_addr *from,
							const uint8_t *buf, size_t len);

/*
 * Take the next outgoing datagram: copies it into buf (cap should be >=
 * max_packet), sets *to, returns its length; returns 0 when the queue is
 * empty.  A datagram that does not fit in cap is dropped (returns -1 for it,
 * call again).
 */
int			mc_swim_next_outgoing(mc_swim *s, mc_swim_addr *to, uint8_t *buf,
								  size_t cap);

/*
 * Clean shutdown: mark ourselves left (incarnation bumped) and queue a
 * LEFT notice to up to 2k+1 alive members plus the piggyback queue.  After
 * it, tick stops probing.  Flush mc_swim_next_outgoing before destroying.
 */
void		mc_swim_leave(mc_swim *s, uint64_t now_ms);

/*
 * Replace our own metadata (node_id and addr must stay the same; other
 * fields change freely), bump our incarnation and gossip the new record.
 * Returns false (and changes nothing) if node_id or addr differ.
 */
bool		mc_swim_set_meta(mc_swim *s, uint64_t now_ms, const mc_swim_meta *meta);

/* ---- members (for mailcluster.members) -------------------------------- */

typedef struct mc_swim_member
{
	mc_swim_meta meta;
	bool		is_self;
	mc_swim_state state;
	uint32_t	incarnation;
	double		phi;			/* phi at now_ms (0 for self) */
	uint64_t	last_seen_ms;	/* last datagram from it (now for self; 0 never) */
	uint64_t	state_since_ms; /* when it entered its current state */
} mc_swim_member;

/* Number of known members, self included (index 0 is always self). */
int			mc_swim_member_count(const mc_swim *s);

/* Copy member i (0 <= i < count) as of now_ms; false if out of range. */
bool		mc_swim_member_get(const mc_swim *s, int i, uint64_t now_ms,
							   mc_swim_member *out);

/* Find a member by node id; false if unknown. */
bool		mc_swim_member_find(const mc_swim *s, uint16_t node_id, uint64_t now_ms,
								mc_swim_member *out);

/* Members other than self currently alive or suspect. */
int			mc_swim_alive_count(const mc_swim *s);

/* Our Lifeguard local-health score (0 = healthy .. awareness_max-1). */
int			mc_swim_local_health(const mc_swim *s);

/* ---- events ----------------------------------------------------------- */

typedef enum mc_swim_event_type
{
	MC_SWIM_EV_JOINED = 1,		/* a new member, first seen alive */
	MC_SWIM_EV_SUSPECT,			/* a member became suspect */
	MC_SWIM_EV_DEAD,			/* a member was declared dead */
	MC_SWIM_EV_LEFT,			/* a member left cleanly */
	MC_SWIM_EV_ALIVE,			/* a suspect/dead/left member is alive again */
	MC_SWIM_EV_UPDATED,			/* an alive member changed its metadata */
	MC_SWIM_EV_CONFLICT,		/* G7: another address claims a live member's
								 * id (addr = the claimant), refused */
	MC_SWIM_EV_REFUTED			/* we refuted a suspicion of ourselves */
} mc_swim_event_type;

typedef struct mc_swim_event
{
	mc_swim_event_type type;
	uint16_t	node_id;
	uint32_t	incarnation;
	mc_swim_addr addr;			/* member's address (claimant's for CONFLICT) */
	uint64_t	at_ms;
} mc_swim_event;

/*
 * Pop the oldest pending event; false when none.  The queue holds the last
 * 256 events (older ones are dropped and counted in stats.events_dropped).
 */
bool		mc_swim_next_event(mc_swim *s, mc_swim_event *ev);

/* ---- persistence ------------------------------------------------------ */

/*
 * Serialise the member list (own incarnation included) into buf.  Returns
 * the number of bytes written, or the size needed (> cap) if it did not fit
 * (then buf is untouched beyond cap: call again with a bigger buffer).
 */
size_t		mc_swim_export(const mc_swim *s, uint8_t *buf, size_t cap);

/*
 * Restore an exported member list at startup (before or after the first
 * tick): known non-left members are added as alive at their stored
 * incarnation (they will be probed, and become suspect/dead if gone), and
 * our own incarnation becomes max(ours, stored self)+1 so our alive record
 * beats any old death.  Records about other ids at our own address, or
 * about unknown ids, are just added.  Returns the number of members
 * imported, or -1 if the bytes are malformed (nothing changed then).
 */
int			mc_swim_import(mc_swim *s, uint64_t now_ms, const uint8_t *buf, size_t len);

/* ---- fault injection -------------------------------------------------- */

/*
 * Drop everything to and from node_id (blocked = true) or stop doing so.
 * Inbound datagrams whose sender id is blocked are refused with
 * MC_SWIM_ERR_BLOCKED; datagrams to a blocked member's address are not
 * queued.  (The driver may instead drop at the socket; either works.)
 */
void		mc_swim_block(mc_swim *s, uint16_t node_id, bool blocked);
void		mc_swim_unblock_all(mc_swim *s);

/* ---- counters (for mailcluster.metrics) ------------------------------- */

typedef struct mc_swim_stats
{
	uint64_t	msgs_in;
	uint64_t	msgs_out;
	uint64_t	bytes_in;
	uint64_t	bytes_out;
	uint64_t	drop_malformed;
	uint64_t	drop_oversize;
	uint64_t	drop_blocked;
	uint64_t	drop_self;
	uint64_t	pings_sent;
	uint64_t	acks_received;
	uint64_t	indirect_probes;	/* ping-req sent */
	uint64_t	nacks_received;
	uint64_t	probe_failures;
	uint64_t	suspicions_raised;	/* suspicions we originated */
	uint64_t	phi_suspicions;		/* ... of them triggered by phi */
	uint64_t	deaths_declared;	/* suspicions we expired into dead */
	uint64_t	refutations;
	uint64_t	conflicts;
	uint64_t	push_pulls;			/* full-state exchanges started */
	uint64_t	events_dropped;
} mc_swim_stats;

/* Copy the counters. */
void		mc_swim_get_stats(const mc_swim *s, mc_swim_stats *out);

/* Text for a state / event type (static strings: "alive", "suspect", ...). */
const char *mc_swim_state_name(mc_swim_state st);
const char *mc_swim_event_name(mc_swim_event_type t);

#endif
