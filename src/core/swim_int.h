/*
 * swim_int.h — internal structures shared by the swim_*.c files of the
 * SWIM core.  Not part of the public interface (swim.h); nothing outside
 * src/core/swim_*.c and the SWIM tests includes it.
 */
#ifndef MC_SWIM_INT_H
#define MC_SWIM_INT_H

#include "phi.h"
#include "swim.h"
#include "wire.h"

/* ---- wire ------------------------------------------------------------- */

#define MC_SWIM_MAGIC		0xC5
#define MC_SWIM_VERSION		1

#define MC_SWIM_MSG_PING		1
#define MC_SWIM_MSG_ACK			2
#define MC_SWIM_MSG_PING_REQ	3
#define MC_SWIM_MSG_NACK		4
#define MC_SWIM_MSG_PUSH_PULL	5

/* PING_REQ flags */
#define MC_SWIM_F_WANT_NACK		0x01
/* PUSH_PULL flags */
#define MC_SWIM_F_WANT_REPLY	0x01
#define MC_SWIM_F_IS_REPLY		0x02

#define MC_SWIM_MAX_RECS		255		/* records in one datagram (u8 count) */
#define MC_SWIM_REC_MAX_SIZE	112		/* largest encoded record */

/* One member record: what gossip, push-pull and the disk file carry. */
typedef struct mc_swim_rec
{
	uint8_t		state;			/* mc_swim_state */
	uint16_t	node;
	uint32_t	inc;
	uint16_t	from;			/* who raised a suspect/dead; node itself for
								 * alive/left */
	mc_swim_meta meta;			/* meta.node_id == node */
} mc_swim_rec;

typedef struct mc_swim_msg
{
	uint8_t		type;			/* MC_SWIM_MSG_* */
	uint16_t	sender;			/* sender's node id */
	uint32_t	seq;			/* PING, ACK, NACK, PING_REQ */
	uint16_t	target;			/* PING, PING_REQ */
	mc_swim_addr target_addr;	/* PING_REQ */
	uint8_t		flags;			/* PING_REQ, PUSH_PULL */
	int			nrecs;			/* piggybacked (or full-state) records */
} mc_swim_msg;

/* Encode header + body of m and an empty record count; returns the offset
 * of the count byte.  w->err is set if it did not fit. */
size_t		mc_swim_enc_begin(mc_writer *w, const mc_swim_msg *m);
/* Append one record if it fits (nothing written and false otherwise). */
bool		mc_swim_enc_rec(mc_writer *w, const mc_swim_rec *r);
/* Patch the record count written at count_pos. */
void		mc_swim_enc_finish(mc_writer *w, size_t count_pos, int nrecs);
/* Write / read a record with a bounds-checked reader/writer. */
void		mc_swim_put_rec(mc_writer *w, const mc_swim_rec *r);
bool		mc_swim_get_rec(mc_reader *rd, mc_swim_rec *r);
/*
 * Decode a whole datagram into m and recs[0..m->nrecs) (recs must hold
 * MC_SWIM_MAX_RECS).  Returns false for anything truncated, trailing,
 * out of range or of an unknown version/type.
 */
bool		mc_swim_decode(const uint8_t *buf, size_t len, mc_swim_msg *m,
						   mc_swim_rec *recs);
bool		mc_swim_addr_eq(const mc_swim_addr *a, const mc_swim_addr *b);

/* ---- state ------------------------------------------------------------ */

#define MC_SWIM_MAX_CONFIRM		16
#define MC_SWIM_EVENTS			256
#define MC_SWIM_MAX_BLOCKED		64
#define MC_SWIM_MAX_RELAYS		64

typedef struct mc_swim_node
{
	mc_swim_meta meta;
	mc_swim_state state;
	uint32_t	inc;
	uint64_t	state_since;
	uint64_t	last_seen;
	uint64_t	last_beat;		/* last arrival fed to phi */
	mc_phi		phi;
	/* suspicion (state == SUSPECT) */
	uint16_t	susp_from;		/* originator: confirmations exclude it */
	uint16_t	confirm[MC_SWIM_MAX_CONFIRM];
	int			nconfirm;
	uint32_t	susp_k;			/* confirmations expected */
	uint64_t	susp_start;
	uint64_t	susp_min_ms;
	uint64_t	susp_max_ms;
	uint64_t	susp_deadline;
	uint64_t	conflict_at;	/* last G7 report about this id */
} mc_swim_node;

typedef struct mc_swim_bcast
{
	mc_swim_rec rec;
	uint32_t	transmits;
	uint64_t	id;				/* newer = larger */
} mc_swim_bcast;

typedef struct mc_swim_out
{
	mc_swim_addr to;
	uint16_t	len;
	uint8_t		data[MC_SWIM_MAX_PACKET];
} mc_swim_out;

typedef struct mc_swim_relay
{
	uint32_t	my_seq;			/* seq of our ping to the target */
	uint32_t	orig_seq;		/* requester's seq */
	mc_swim_addr orig;			/* requester */
	uint64_t	deadline;		/* nack (if wanted) at this time */
	bool		want_nack;
} mc_swim_relay;

typedef struct mc_swim_probe
{
	bool		active;
	bool		acked;
	bool		indirect_sent;
	uint16_t	target;
	uint32_t	seq;
	uint64_t	start;
	uint64_t	timeout_at;		/* send ping-reqs if no ack by then */
	int			nacks_expected;
	int			nacks;
} mc_swim_probe;

struct mc_swim
{
	mc_swim_config cfg;
	uint64_t	now;
	uint64_t	rng;
	bool		leaving;

	/* members: nodes[0] is self */
	mc_swim_node *nodes;
	int			nnodes;
	int			cap_nodes;
	int32_t    *hash;			/* node id -> index, open addressing */
	int			hash_cap;		/* power of two */
	int			nalive;			/* others alive or suspect */
	int			nsuspect;

	/* probing */
	uint16_t   *plist;			/* shuffled probe order */
	int			plen;
	int			pidx;
	int			plist_cap;
	mc_swim_probe probe;
	uint64_t	next_probe_at;
	uint32_t	seq;
	int			awareness;
	mc_swim_relay relays[MC_SWIM_MAX_RELAYS];
	int			nrelays;

	/* push-pull / join */
	uint64_t	next_pp_at;
	uint64_t	next_join_at;
	uint32_t	join_backoff_ms;
	bool		synced;
	bool		alone;			/* saw no one alive at the last join check */
	uint64_t	next_unknown_pp;	/* rate limit: push-pull with unknown senders */

	/* piggyback queue */
	mc_swim_bcast *bq;
	int			nbq;
	int			cap_bq;
	uint64_t	bcast_id;

	/* outgoing datagrams (FIFO) */
	mc_swim_out *outq;
	int			out_head;
	int			out_len;
	int			out_cap;

	/* events ring */
	mc_swim_event ev[MC_SWIM_EVENTS];
	int			ev_head;
	int			ev_len;

	uint16_t	blocked[MC_SWIM_MAX_BLOCKED];
	int			nblocked;

	mc_swim_rec *scratch;		/* MC_SWIM_MAX_RECS records for decoding */
	mc_swim_stats stats;
};

/* swim_node.c */
uint64_t	mc_swim_rand(mc_swim *s);
uint32_t	mc_swim_rand_below(mc_swim *s, uint32_t n);
uint64_t	mc_swim_scaled(const mc_swim *s, uint64_t ms);

/* swim_members.c */
mc_swim_node *mc_swim_lookup(mc_swim *s, uint16_t id);
mc_swim_node *mc_swim_add_node(mc_swim *s, const mc_swim_rec *r, uint64_t now);
void		mc_swim_set_state(mc_swim *s, mc_swim_node *n, mc_swim_state st,
							  uint64_t now);
void		mc_swim_emit(mc_swim *s, mc_swim_event_type t, const mc_swim_node *n,
						 const mc_swim_addr *addr);
void		mc_swim_node_rec(const mc_swim_node *n, mc_swim_rec *r, uint16_t from);
int			mc_swim_cluster_size(const mc_swim *s);
bool		mc_swim_is_blocked(const mc_swim *s, uint16_t id);

/* swim_bcast.c */
uint32_t	mc_swim_retransmit_limit(const mc_swim *s);
void		mc_swim_bcast_queue(mc_swim *s, const mc_swim_rec *r);
int			mc_swim_bcast_fill(mc_swim *s, mc_writer *w);
void		mc_swim_bcast_clear(mc_swim *s);

/* swim_rules.c */
void		mc_swim_on_alive(mc_swim *s, const mc_swim_rec *r, bool full_state,
							 uint64_t now);
void		mc_swim_on_suspect(mc_swim *s, const mc_swim_rec *r, uint64_t now);
void		mc_swim_on_dead(mc_swim *s, const mc_swim_rec *r, uint64_t now);
void		mc_swim_merge(mc_swim *s, const mc_swim_rec *r, uint64_t now);
void		mc_swim_suspect_local(mc_swim *s, mc_swim_node *n, uint64_t now);
void		mc_swim_refute(mc_swim *s, uint32_t seen_inc, uint64_t now);
void		mc_swim_expire_suspicions(mc_swim *s, uint64_t now);
uint64_t	mc_swim_suspicion_timeout(uint64_t min_ms, uint64_t max_ms,
									  uint32_t k, int confirmations);

/* swim_net.c */
void		mc_swim_send(mc_swim *s, const mc_swim_addr *to, const mc_swim_msg *m,
						 bool piggyback);
void		mc_swim_push_pull(mc_swim *s, const mc_swim_addr *to, uint8_t flags);

/* swim_probe.c */
void		mc_swim_probe_tick(mc_swim *s, uint64_t now);
void		mc_swim_on_ack(mc_swim *s, const mc_swim_msg *m, uint64_t now);
void		mc_swim_on_nack(mc_swim *s, const mc_swim_msg *m, uint64_t now);
void		mc_swim_on_ping_req(mc_swim *s, const mc_swim_addr *from,
								const mc_swim_msg *m, uint64_t now);
void		mc_swim_awareness(mc_swim *s, int delta);
double		mc_swim_phi_pause(const mc_swim *s);

#endif
