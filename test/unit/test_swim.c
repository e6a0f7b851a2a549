/*
 * test_swim.c — unit tests of the SWIM state machine (src/core/swim_*.c),
 * one node at a time: crafted datagrams go in, the datagrams it queues are
 * decoded and checked.  Scenarios G1–G9 and G12 of ../shared/scenarios.md.
 */
#include "swim_int.h"
#include "testutil.h"

#include <math.h>
#include <string.h>

/* ---- harness ---------------------------------------------------------- */

static void
addr_of(uint16_t id, mc_swim_addr *a)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->host, MC_SWIM_HOST_LEN, "10.0.%d.%d", id / 256, id % 256);
	a->port = 1179;
}

static mc_swim *
mk_node(uint16_t id, uint64_t now)
{
	mc_swim_config cfg;

	mc_swim_config_default(&cfg);
	cfg.self.node_id = id;
	addr_of(id, &cfg.self.addr);
	cfg.rng_seed = 99;
	return mc_swim_create(&cfg, now);
}

static void
mk_rec(mc_swim_rec *r, uint16_t node, uint8_t state, uint32_t inc, uint16_t from)
{
	memset(r, 0, sizeof(*r));
	r->state = state;
	r->node = node;
	r->inc = inc;
	r->from = from;
	r->meta.node_id = node;
	addr_of(node, &r->meta.addr);
	r->meta.rpc_port = 7911;
}

/* Deliver one datagram of `type` from `sender` carrying records. */
static int
inject(mc_swim *s, uint64_t now, uint16_t sender, uint8_t type, uint32_t seq,
	   uint16_t target, uint8_t flags, const mc_swim_rec *recs, int n)
{
	uint8_t		buf[MC_SWIM_MAX_PACKET];
	mc_writer	w;
	mc_swim_msg m;
	mc_swim_addr from;
	size_t		pos;
	int			i;

	memset(&m, 0, sizeof(m));
	m.type = type;
	m.sender = sender;
	m.seq = seq;
	m.target = target;
	m.flags = flags;
	if (type == MC_SWIM_MSG_PING_REQ)
		addr_of(target, &m.target_addr);
	mc_writer_init(&w, buf, sizeof(buf));
	pos = mc_swim_enc_begin(&w, &m);
	for (i = 0; i < n; i++)
		mc_swim_enc_rec(&w, &recs[i]);
	mc_swim_enc_finish(&w, pos, n);
	addr_of(sender, &from);
	return mc_swim_receive(s, now, &from, buf, w.len);
}

/* Gossip records riding on an ACK nobody waits for. */
static void
gossip(mc_swim *s, uint64_t now, uint16_t sender, const mc_swim_rec *recs, int n)
{
	inject(s, now, sender, MC_SWIM_MSG_ACK, 0xFFFFFFF0u, 0, 0, recs, n);
}

static void
add_members(mc_swim *s, uint64_t now, uint16_t first, uint16_t last)
{
	for (uint16_t i = first; i <= last; i++)
	{
		mc_swim_rec r;

		mk_rec(&r, i, MC_SWIM_ALIVE, 0, i);
		gossip(s, now, i, &r, 1);
	}
}

typedef struct sent
{
	mc_swim_addr to;
	mc_swim_msg m;
	mc_swim_rec recs[64];
} sent;

static sent out[512];
static int nout;
static mc_swim_rec scratch[MC_SWIM_MAX_RECS];

/* Drain everything s queued into out[0..nout). */
static void
drain(mc_swim *s)
{
	uint8_t		buf[MC_SWIM_MAX_PACKET];
	mc_swim_addr to;
	int			n;

	nout = 0;
	while ((n = mc_swim_next_outgoing(s, &to, buf, sizeof(buf))) != 0)
	{
		if (n < 0 || nout == 512)
			continue;
		out[nout].to = to;
		if (mc_swim_decode(buf, (size_t) n, &out[nout].m, scratch))
		{
			int			k = out[nout].m.nrecs < 64 ? out[nout].m.nrecs : 64;

			memcpy(out[nout].recs, scratch, sizeof(mc_swim_rec) * k);
			nout++;
		}
	}
}

static uint16_t
id_of(const mc_swim_addr *a)
{
	int			x,
				y;

	if (sscanf(a->host, "10.0.%d.%d", &x, &y) != 2)
		return 0;
	return (uint16_t) (x * 256 + y);
}

static bool responsive[65536];

/*
 * Run s from *now to `until` in 10 ms steps; every PING to a responsive
 * target is answered by an ACK from it.  Everything else is dropped.
 */
static void
run(mc_swim *s, uint64_t *now, uint64_t until)
{
	while (*now < until)
	{
		*now += 10;
		mc_swim_tick(s, *now);
		drain(s);
		for (int i = 0; i < nout; i++)
		{
			sent	   *o = &out[i];

			if (o->m.type == MC_SWIM_MSG_PING && responsive[o->m.target] &&
				id_of(&o->to) == o->m.target)
				inject(s, *now, o->m.target, MC_SWIM_MSG_ACK, o->m.seq, 0, 0, NULL, 0);
		}
	}
}

static mc_swim_state
state_of(mc_swim *s, uint16_t id)
{
	mc_swim_member m;

	if (!mc_swim_member_find(s, id, 0, &m))
		return (mc_swim_state) -1;
	return m.state;
}

static uint32_t
inc_of(mc_swim *s, uint16_t id)
{
	mc_swim_member m;

	return mc_swim_member_find(s, id, 0, &m) ? m.incarnation : 0xFFFFFFFF;
}

static bool
has_event(mc_swim *s, mc_swim_event_type t, uint16_t node, mc_swim_event *got)
{
	mc_swim_event ev;
	bool		found = false;

	while (mc_swim_next_event(s, &ev))
		if (ev.type == t && ev.node_id == node && !found)
		{
			found = true;
			if (got)
				*got = ev;
		}
	return found;
}

static void
all_responsive(bool v)
{
	for (int i = 0; i < 65536; i++)
		responsive[i] = v;
}

/* ---- G1 --------------------------------------------------------------- */

/* The timeout formula: max with no confirmation, min with k, log between. */
static void
test_g1_timeout_formula(void)
{
	CHECK_EQ_INT(mc_swim_suspicion_timeout(4000, 24000, 0, 0), 4000);
	CHECK_EQ_INT(mc_swim_suspicion_timeout(4000, 24000, 2, 0), 24000);
	CHECK_EQ_INT(mc_swim_suspicion_timeout(4000, 24000, 2, 2), 4000);
	CHECK_EQ_INT(mc_swim_suspicion_timeout(4000, 24000, 2, 5), 4000);
	/* 24000 - 20000 * ln 2 / ln 3 = 11381.07 */
	CHECK_EQ_INT(mc_swim_suspicion_timeout(4000, 24000, 2, 1), 11381);
}

/*
 * Time from a suspicion (raised by node 3 about node 2) to dead, in a
 * cluster of n nodes where everyone answers our probes, with the given
 * further suspect records (senders) delivered at the same moment.
 */
static uint64_t
time_to_dead(int n, const uint16_t *confirmers, int nconf)
{
	mc_swim    *s = mk_node(1, 0);
	uint64_t	now = 0,
				t0;
	mc_swim_rec r;

	all_responsive(true);
	add_members(s, now, 2, (uint16_t) n);
	run(s, &now, 1000);
	t0 = now;
	mk_rec(&r, 2, MC_SWIM_SUSPECT, 0, 3);
	gossip(s, now, 3, &r, 1);
	for (int i = 0; i < nconf; i++)
	{
		mk_rec(&r, 2, MC_SWIM_SUSPECT, 0, confirmers[i]);
		gossip(s, now, confirmers[i], &r, 1);
	}
	CHECK(state_of(s, 2) == MC_SWIM_SUSPECT);
	while (state_of(s, 2) == MC_SWIM_SUSPECT && now < t0 + 200000)
		run(s, &now, now + 10);
	CHECK(state_of(s, 2) == MC_SWIM_DEAD);
	mc_swim_destroy(s);
	return now - t0;
}

/* Hand model: min = 4 * max(1, log10 n) * 1000, max = 6 min, k = 2. */
static double
expect_timeout(int n, int c)
{
	double		mn = floor(4 * fmax(1.0, log10((double) n)) * 1000),
				mx = mn * 6;

	return fmax(mn, mx - (mx - mn) * log(c + 1.0) / log(3.0));
}

static void
test_g1_grows_with_log_n(void)
{
	uint64_t	t10 = time_to_dead(10, NULL, 0);
	uint64_t	t100 = time_to_dead(100, NULL, 0);

	CHECK_NEAR((double) t10, expect_timeout(10, 0), 20);
	CHECK_NEAR((double) t100, expect_timeout(100, 0), 20);
	CHECK(t100 > t10 * 3 / 2);
}

static void
test_g1_confirmations(void)
{
	uint16_t	one[] = {4};
	uint16_t	two[] = {4, 5};
	/* repeats from the originator (3) and from one peer (4) count once */
	uint16_t	repeats[] = {3, 3, 4, 4, 4, 1};
	uint64_t	t0 = time_to_dead(10, NULL, 0);
	uint64_t	t1 = time_to_dead(10, one, 1);
	uint64_t	t2 = time_to_dead(10, two, 2);
	uint64_t	tr = time_to_dead(10, repeats, 6);

	CHECK_NEAR((double) t1, expect_timeout(10, 1), 20);
	CHECK_NEAR((double) t2, expect_timeout(10, 2), 20);
	CHECK(t0 > t1 && t1 > t2);
	/* node 1 is ourselves: a record "from 1" we did not send is no peer */
	CHECK_NEAR((double) tr, (double) t1, 20);
}

/* ---- G2 --------------------------------------------------------------- */

static int
count_about(uint16_t node, uint8_t state)
{
	int			c = 0;

	for (int i = 0; i < nout; i++)
		for (int j = 0; j < out[i].m.nrecs && j < 64; j++)
			if (out[i].recs[j].node == node && out[i].recs[j].state == state)
				c++;
	return c;
}

static void
test_g2_retransmit_count(void)
{
	mc_swim    *s = mk_node(1, 0);
	mc_swim_rec r;
	int			total = 0,
				limit;

	add_members(s, 0, 2, 20);	/* n = 20: ceil(log10 21) = 2 */
	drain(s);
	mk_rec(&r, 500, MC_SWIM_ALIVE, 3, 500);
	gossip(s, 0, 2, &r, 1);
	limit = 4 * (int) ceil(log10(21.0 + 1.0));	/* n is 21 once 500 joined */
	/* ping us 30 times from member 2: each ack carries piggyback */
	for (int i = 0; i < 30; i++)
	{
		inject(s, 0, 2, MC_SWIM_MSG_PING, (uint32_t) i, 1, 0, NULL, 0);
		drain(s);
		total += count_about(500, MC_SWIM_ALIVE);
	}
	CHECK_EQ_INT(limit, 8);
	CHECK_EQ_INT(total, limit);
	mc_swim_destroy(s);
}

static void
test_g2_fewest_sent_first_and_newer_replaces(void)
{
	mc_swim    *s = mk_node(1, 0);
	mc_swim_rec r;
	int			per_packet;

	/* 60 fresh members: more than one datagram can carry */
	add_members(s, 0, 2, 61);
	drain(s);					/* (the push-pull with the first unknown sender) */
	inject(s, 0, 2, MC_SWIM_MSG_PING, 1, 1, 0, NULL, 0);
	drain(s);
	CHECK_EQ_INT(nout, 1);
	per_packet = out[0].m.nrecs;
	CHECK(per_packet > 5 && per_packet < 60);
	/* a brand-new update goes out in the very next datagram */
	mk_rec(&r, 900, MC_SWIM_ALIVE, 1, 900);
	gossip(s, 0, 2, &r, 1);
	inject(s, 0, 2, MC_SWIM_MSG_PING, 2, 1, 0, NULL, 0);
	drain(s);
	CHECK_EQ_INT(count_about(900, MC_SWIM_ALIVE), 1);
	/* and the records sent once already wait for those never sent */
	{
		int			resent = 0;

		for (int j = 0; j < out[0].m.nrecs; j++)
			for (int k = 0; k < per_packet; k++)
				if (out[0].recs[j].node == (uint16_t) (61 - k))
					resent++;
		CHECK_EQ_INT(resent, 0);
	}
	/* newer replaces older: suspect(900) replaces alive(900) in the queue */
	mk_rec(&r, 900, MC_SWIM_SUSPECT, 1, 7);
	gossip(s, 0, 7, &r, 1);
	inject(s, 0, 2, MC_SWIM_MSG_PING, 3, 1, 0, NULL, 0);
	drain(s);
	CHECK_EQ_INT(count_about(900, MC_SWIM_SUSPECT), 1);
	CHECK_EQ_INT(count_about(900, MC_SWIM_ALIVE), 0);
	mc_swim_destroy(s);
}

/* ---- G3 --------------------------------------------------------------- */

/* Run until s sends a probe; return its index in out[] (or -1). */
static int
until_probe(mc_swim *s, uint64_t *now, uint64_t limit)
{
	while (*now < limit)
	{
		*now += 10;
		mc_swim_tick(s, *now);
		drain(s);
		for (int i = 0; i < nout; i++)
			if (out[i].m.type == MC_SWIM_MSG_PING)
				return i;
	}
	return -1;
}

static void
test_g3_indirect_probe(int variant)
{
	mc_swim    *s = mk_node(1, 0);
	uint64_t	now = 0,
				start;
	int			p,
				nreq = 0;
	uint16_t	target;
	uint32_t	seq;
	uint16_t	relays[4];
	mc_swim_stats st;

	add_members(s, 0, 2, 4);
	drain(s);
	p = until_probe(s, &now, 5000);
	CHECK(p >= 0);
	if (p < 0)
		return;
	target = out[p].m.target;
	seq = out[p].m.seq;
	start = now;
	/* no ack: nothing more until the probe timeout */
	while (now < start + 490)
	{
		now += 10;
		mc_swim_tick(s, now);
		drain(s);
		CHECK_EQ_INT(nout, 0);
	}
	now = start + 500;
	mc_swim_tick(s, now);
	drain(s);
	for (int i = 0; i < nout; i++)
		if (out[i].m.type == MC_SWIM_MSG_PING_REQ)
		{
			CHECK_EQ_INT(out[i].m.target, target);
			CHECK_EQ_INT(out[i].m.seq, seq);
			CHECK(out[i].m.flags & MC_SWIM_F_WANT_NACK);
			CHECK(id_of(&out[i].to) != target);
			CHECK(id_of(&out[i].to) == id_of(&out[i].m.target_addr) ? 0 : 1);
			if (nreq < 4)
				relays[nreq] = id_of(&out[i].to);
			nreq++;
		}
	CHECK_EQ_INT(nreq, 2);		/* k = 3 but only two others exist */
	if (variant == 0)
	{
		/* an indirect ack through a relay: the target is not suspected */
		inject(s, now + 100, relays[0], MC_SWIM_MSG_ACK, seq, 0, 0, NULL, 0);
		now += 100;
		run(s, &now, start + 1010);
		CHECK(state_of(s, target) == MC_SWIM_ALIVE);
		mc_swim_get_stats(s, &st);
		CHECK_EQ_INT(st.probe_failures, 0);
		CHECK_EQ_INT(mc_swim_local_health(s), 0);
	}
	else
	{
		/* both relays nack: the target is suspected, our health is fine */
		inject(s, now + 400, relays[0], MC_SWIM_MSG_NACK, seq, 0, 0, NULL, 0);
		inject(s, now + 400, relays[1], MC_SWIM_MSG_NACK, seq, 0, 0, NULL, 0);
		now += 400;
		while (now < start + 1010)
		{
			now += 10;
			mc_swim_tick(s, now);
			drain(s);
		}
		CHECK(state_of(s, target) == MC_SWIM_SUSPECT);
		mc_swim_get_stats(s, &st);
		CHECK_EQ_INT(st.probe_failures, 1);
		CHECK_EQ_INT(st.nacks_received, 2);
		CHECK_EQ_INT(mc_swim_local_health(s), 0);
	}
	mc_swim_destroy(s);
}

static void
test_g3_indirect_ack(void)
{
	test_g3_indirect_probe(0);
}

static void
test_g3_indirect_fail(void)
{
	test_g3_indirect_probe(1);
}

/* G3, the relay's side: ping the target, forward its ack, else nack. */
static void
test_g3_relay(void)
{
	mc_swim    *b = mk_node(2, 0);
	uint32_t	myseq;
	int			found = 0;

	add_members(b, 0, 1, 1);
	add_members(b, 0, 3, 3);
	drain(b);
	inject(b, 0, 1, MC_SWIM_MSG_PING_REQ, 77, 3, MC_SWIM_F_WANT_NACK, NULL, 0);
	drain(b);
	CHECK_EQ_INT(nout, 1);
	CHECK_EQ_INT(out[0].m.type, MC_SWIM_MSG_PING);
	CHECK_EQ_INT(out[0].m.target, 3);
	CHECK_EQ_INT(id_of(&out[0].to), 3);
	myseq = out[0].m.seq;
	inject(b, 50, 3, MC_SWIM_MSG_ACK, myseq, 0, 0, NULL, 0);
	drain(b);
	for (int i = 0; i < nout; i++)
		if (out[i].m.type == MC_SWIM_MSG_ACK && out[i].m.seq == 77 && id_of(&out[i].to) == 1)
			found++;
	CHECK_EQ_INT(found, 1);

	/* no answer: a nack before the requester's period ends */
	inject(b, 100, 1, MC_SWIM_MSG_PING_REQ, 78, 3, MC_SWIM_F_WANT_NACK, NULL, 0);
	drain(b);
	found = 0;
	for (uint64_t t = 110; t <= 600; t += 10)
	{
		mc_swim_tick(b, t);
		drain(b);
		for (int i = 0; i < nout; i++)
			if (out[i].m.type == MC_SWIM_MSG_NACK && out[i].m.seq == 78 &&
				id_of(&out[i].to) == 1)
			{
				found++;
				CHECK(t <= 100 + 500);
			}
	}
	CHECK_EQ_INT(found, 1);
	mc_swim_destroy(b);
}

/* ---- G4 --------------------------------------------------------------- */

/*
 * A node whose probes get neither acks nor nacks (its own network is bad)
 * raises its local-health score and stretches its probe period; the same
 * node hearing nacks from the relays keeps a score of 0 and its period.
 */
static void
g4_run(bool nacks, int *health, uint64_t *last_gap)
{
	mc_swim    *s = mk_node(1, 0);
	uint64_t	now = 0,
				prev_ping = 0;

	add_members(s, 0, 2, 8);
	drain(s);
	*last_gap = 0;
	while (now < 60000)
	{
		now += 10;
		/* suspected members refute (they are fine: the prober is not) */
		if (now % 500 == 0)
			for (uint16_t id = 2; id <= 8; id++)
				if (state_of(s, id) == MC_SWIM_SUSPECT)
				{
					mc_swim_rec r;

					mk_rec(&r, id, MC_SWIM_ALIVE, inc_of(s, id) + 1, id);
					gossip(s, now, id, &r, 1);
				}
		mc_swim_tick(s, now);
		drain(s);
		for (int i = 0; i < nout; i++)
		{
			if (out[i].m.type == MC_SWIM_MSG_PING && id_of(&out[i].to) == out[i].m.target)
			{
				/* (a new suspect is also told at once, in the same tick) */
				if (prev_ping && now != prev_ping)
					*last_gap = now - prev_ping;
				prev_ping = now;
			}
			if (nacks && out[i].m.type == MC_SWIM_MSG_PING_REQ)
				inject(s, now, id_of(&out[i].to), MC_SWIM_MSG_NACK, out[i].m.seq, 0, 0,
					   NULL, 0);
		}
	}
	*health = mc_swim_local_health(s);
	mc_swim_destroy(s);
}

static void
test_g4_local_health(void)
{
	int			h_bad,
				h_good;
	uint64_t	gap_bad,
				gap_good;

	g4_run(false, &h_bad, &gap_bad);
	g4_run(true, &h_good, &gap_good);
	/* saturates at awareness_max - 1; the period stretches by score + 1 */
	CHECK_EQ_INT(h_bad, 7);
	CHECK_EQ_INT(gap_bad, 8000);
	CHECK_EQ_INT(h_good, 0);
	CHECK_EQ_INT(gap_good, 1000);
}

/* ---- G5 --------------------------------------------------------------- */

static void
test_g5_refute(void)
{
	mc_swim    *a = mk_node(1, 0);
	mc_swim_rec r;

	add_members(a, 0, 2, 3);
	drain(a);
	mk_rec(&r, 1, MC_SWIM_SUSPECT, 0, 2);
	gossip(a, 10, 2, &r, 1);
	CHECK_EQ_INT(inc_of(a, 1), 1);
	CHECK(has_event(a, MC_SWIM_EV_REFUTED, 1, NULL));
	inject(a, 20, 3, MC_SWIM_MSG_PING, 5, 1, 0, NULL, 0);
	drain(a);
	CHECK_EQ_INT(nout, 1);
	{
		int			ok = 0;

		for (int j = 0; j < out[0].m.nrecs; j++)
			if (out[0].recs[j].node == 1 && out[0].recs[j].state == MC_SWIM_ALIVE &&
				out[0].recs[j].inc == 1)
				ok = 1;
		CHECK(ok);
	}
	/* declared dead at a higher incarnation: refute above it */
	mk_rec(&r, 1, MC_SWIM_DEAD, 7, 3);
	gossip(a, 30, 3, &r, 1);
	CHECK_EQ_INT(inc_of(a, 1), 8);
	CHECK(state_of(a, 1) == MC_SWIM_ALIVE);
	/* an older suspicion changes nothing, but our alive record is re-gossiped */
	for (int i = 0; i < 20; i++)
		inject(a, 35, 3, MC_SWIM_MSG_PING, (uint32_t) (50 + i), 1, 0, NULL, 0);
	drain(a);
	mk_rec(&r, 1, MC_SWIM_SUSPECT, 3, 3);
	gossip(a, 40, 3, &r, 1);
	CHECK_EQ_INT(inc_of(a, 1), 8);
	inject(a, 45, 3, MC_SWIM_MSG_PING, 99, 1, 0, NULL, 0);
	drain(a);
	CHECK_EQ_INT(count_about(1, MC_SWIM_ALIVE), 1);
	mc_swim_destroy(a);

	/* the observer's side: suspect at 0, then alive at 1 clears it */
	{
		mc_swim    *b = mk_node(2, 0);

		add_members(b, 0, 1, 1);
		add_members(b, 0, 3, 3);
		mk_rec(&r, 1, MC_SWIM_SUSPECT, 0, 3);
		gossip(b, 10, 3, &r, 1);
		CHECK(state_of(b, 1) == MC_SWIM_SUSPECT);
		mk_rec(&r, 1, MC_SWIM_ALIVE, 0, 1);
		gossip(b, 20, 1, &r, 1);
		CHECK(state_of(b, 1) == MC_SWIM_SUSPECT);	/* same inc: no */
		(void) has_event(b, MC_SWIM_EV_ALIVE, 1, NULL);
		mk_rec(&r, 1, MC_SWIM_ALIVE, 1, 1);
		gossip(b, 30, 1, &r, 1);
		CHECK(state_of(b, 1) == MC_SWIM_ALIVE);
		CHECK(has_event(b, MC_SWIM_EV_ALIVE, 1, NULL));
		mc_swim_destroy(b);
	}
}

/* ---- G6 --------------------------------------------------------------- */

static void
test_g6_stale(void)
{
	mc_swim    *a = mk_node(1, 0);
	mc_swim_rec r;

	add_members(a, 0, 3, 3);
	mk_rec(&r, 2, MC_SWIM_ALIVE, 5, 2);
	gossip(a, 0, 2, &r, 1);
	CHECK_EQ_INT(inc_of(a, 2), 5);
	mk_rec(&r, 2, MC_SWIM_SUSPECT, 4, 3);
	gossip(a, 10, 3, &r, 1);
	CHECK(state_of(a, 2) == MC_SWIM_ALIVE);
	mk_rec(&r, 2, MC_SWIM_DEAD, 4, 3);
	gossip(a, 20, 3, &r, 1);
	CHECK(state_of(a, 2) == MC_SWIM_ALIVE);
	mk_rec(&r, 2, MC_SWIM_DEAD, 5, 3);
	gossip(a, 30, 3, &r, 1);
	CHECK(state_of(a, 2) == MC_SWIM_DEAD);
	CHECK(has_event(a, MC_SWIM_EV_DEAD, 2, NULL));
	/* alive replayed at the death incarnation: ignored */
	mk_rec(&r, 2, MC_SWIM_ALIVE, 5, 2);
	gossip(a, 40, 2, &r, 1);
	CHECK(state_of(a, 2) == MC_SWIM_DEAD);
	/* older alive: ignored */
	mk_rec(&r, 2, MC_SWIM_ALIVE, 2, 2);
	gossip(a, 50, 2, &r, 1);
	CHECK(state_of(a, 2) == MC_SWIM_DEAD);
	CHECK(!has_event(a, MC_SWIM_EV_ALIVE, 2, NULL));
	/* a newer life is accepted */
	mk_rec(&r, 2, MC_SWIM_ALIVE, 6, 2);
	gossip(a, 60, 2, &r, 1);
	CHECK(state_of(a, 2) == MC_SWIM_ALIVE);
	CHECK(has_event(a, MC_SWIM_EV_ALIVE, 2, NULL));
	mc_swim_destroy(a);
}

/* ---- G7 --------------------------------------------------------------- */

static void
test_g7_duplicate_id(void)
{
	mc_swim    *a = mk_node(1, 0);
	mc_swim_rec r;
	mc_swim_event ev;
	mc_swim_member m;
	mc_swim_stats st;
	uint8_t		buf[64];
	mc_writer	w;
	mc_swim_addr from;
	int			rc;

	add_members(a, 0, 2, 3);
	(void) has_event(a, MC_SWIM_EV_JOINED, 0, NULL);
	/* node 2 claimed from another address, even at a higher incarnation */
	mk_rec(&r, 2, MC_SWIM_ALIVE, 9, 2);
	strcpy(r.meta.addr.host, "192.168.9.9");
	gossip(a, 10, 3, &r, 1);
	CHECK(mc_swim_member_find(a, 2, 10, &m));
	CHECK(strcmp(m.meta.addr.host, "10.0.0.2") == 0);
	CHECK_EQ_INT(m.incarnation, 0);
	CHECK(has_event(a, MC_SWIM_EV_CONFLICT, 2, &ev));
	CHECK(strcmp(ev.addr.host, "192.168.9.9") == 0);
	mc_swim_get_stats(a, &st);
	CHECK_EQ_INT(st.conflicts, 1);

	/* a datagram carrying our own id from elsewhere: refused and reported */
	mc_writer_init(&w, buf, sizeof(buf));
	{
		mc_swim_msg msg;
		size_t		pos;

		memset(&msg, 0, sizeof(msg));
		msg.type = MC_SWIM_MSG_PING;
		msg.sender = 1;
		msg.seq = 1;
		msg.target = 1;
		pos = mc_swim_enc_begin(&w, &msg);
		mc_swim_enc_finish(&w, pos, 0);
	}
	addr_of(77, &from);
	drain(a);
	rc = mc_swim_receive(a, 20, &from, buf, w.len);
	CHECK_EQ_INT(rc, MC_SWIM_ERR_SELF);
	CHECK(has_event(a, MC_SWIM_EV_CONFLICT, 1, &ev));
	CHECK(strcmp(ev.addr.host, "10.0.0.77") == 0);
	drain(a);
	CHECK_EQ_INT(nout, 0);		/* no ack to the impostor */

	/* an alive record of our id with another address: reported, no refute */
	mk_rec(&r, 1, MC_SWIM_ALIVE, 50, 1);
	strcpy(r.meta.addr.host, "192.168.1.1");
	gossip(a, 30, 3, &r, 1);
	CHECK_EQ_INT(inc_of(a, 1), 0);
	/* (rate-limited: the report above was 10 ms ago) */
	mc_swim_get_stats(a, &st);
	CHECK(st.conflicts >= 2);

	/* a dead member may come back from a new address with a new life */
	mk_rec(&r, 3, MC_SWIM_DEAD, 0, 2);
	gossip(a, 40, 2, &r, 1);
	mk_rec(&r, 3, MC_SWIM_ALIVE, 1, 3);
	strcpy(r.meta.addr.host, "10.9.9.9");
	gossip(a, 50, 2, &r, 1);
	CHECK(mc_swim_member_find(a, 3, 50, &m));
	CHECK(m.state == MC_SWIM_ALIVE && strcmp(m.meta.addr.host, "10.9.9.9") == 0);
	mc_swim_destroy(a);
}

/* ---- G8 --------------------------------------------------------------- */

static void
test_g8_leave_and_rejoin(void)
{
	mc_swim    *a = mk_node(1, 0);
	mc_swim    *b = mk_node(2, 0);
	uint8_t		buf[MC_SWIM_MAX_PACKET];
	mc_swim_addr to,
				from;
	int			n,
				delivered = 0;
	mc_swim_rec r;

	add_members(b, 0, 1, 1);
	add_members(b, 0, 3, 3);
	add_members(a, 0, 2, 3);
	drain(a);
	mc_swim_leave(a, 100);
	addr_of(1, &from);
	while ((n = mc_swim_next_outgoing(a, &to, buf, sizeof(buf))) != 0)
		if (n > 0 && id_of(&to) == 2)
		{
			CHECK_EQ_INT(mc_swim_receive(b, 110, &from, buf, (size_t) n), MC_SWIM_OK);
			delivered++;
		}
	CHECK_EQ_INT(delivered, 1);
	CHECK(state_of(b, 1) == MC_SWIM_LEFT);
	CHECK(has_event(b, MC_SWIM_EV_LEFT, 1, NULL));
	CHECK_EQ_INT(inc_of(b, 1), 1);
	/* a leaving node probes no more, and does not refute */
	mc_swim_tick(a, 5000);
	drain(a);
	CHECK_EQ_INT(nout, 0);
	/* left stays left: a later dead record does not turn it into dead */
	mk_rec(&r, 1, MC_SWIM_DEAD, 1, 3);
	gossip(b, 200, 3, &r, 1);
	CHECK(state_of(b, 1) == MC_SWIM_LEFT);
	/* rejoin with a higher incarnation */
	mk_rec(&r, 1, MC_SWIM_ALIVE, 2, 1);
	gossip(b, 300, 1, &r, 1);
	CHECK(state_of(b, 1) == MC_SWIM_ALIVE);
	CHECK(has_event(b, MC_SWIM_EV_ALIVE, 1, NULL));
	mc_swim_destroy(a);
	mc_swim_destroy(b);

	/* a restarted node that learns it left refutes above that life */
	{
		mc_swim    *c = mk_node(1, 0);

		mk_rec(&r, 1, MC_SWIM_LEFT, 4, 1);
		inject(c, 10, 2, MC_SWIM_MSG_PUSH_PULL, 0, 0, MC_SWIM_F_IS_REPLY, &r, 1);
		CHECK_EQ_INT(inc_of(c, 1), 5);
		CHECK(state_of(c, 1) == MC_SWIM_ALIVE);
		mc_swim_destroy(c);
	}
}

/* ---- G9 --------------------------------------------------------------- */

static void
test_g9_merge(void)
{
	mc_swim    *a = mk_node(1, 0);
	mc_swim_rec r[5];
	int			replies = 0;

	add_members(a, 0, 2, 3);
	mk_rec(&r[0], 2, MC_SWIM_SUSPECT, 2, 3);
	gossip(a, 0, 3, r, 1);
	CHECK(state_of(a, 2) == MC_SWIM_SUSPECT);
	drain(a);
	(void) has_event(a, MC_SWIM_EV_JOINED, 0, NULL);

	mk_rec(&r[0], 2, MC_SWIM_ALIVE, 3, 2);	/* alive beats suspect at higher inc */
	mk_rec(&r[1], 3, MC_SWIM_DEAD, 0, 9);		/* remote dead -> local suspect */
	mk_rec(&r[2], 4, MC_SWIM_ALIVE, 0, 4);	/* unknown alive -> added */
	mk_rec(&r[3], 5, MC_SWIM_DEAD, 2, 9);		/* unknown dead -> added, suspect */
	mk_rec(&r[4], 6, MC_SWIM_LEFT, 1, 6);		/* unknown left -> left */
	inject(a, 10, 3, MC_SWIM_MSG_PUSH_PULL, 0, 0, MC_SWIM_F_WANT_REPLY, r, 5);
	CHECK(state_of(a, 2) == MC_SWIM_ALIVE);
	CHECK_EQ_INT(inc_of(a, 2), 3);
	CHECK(state_of(a, 3) == MC_SWIM_SUSPECT);
	CHECK(state_of(a, 4) == MC_SWIM_ALIVE);
	CHECK(state_of(a, 5) == MC_SWIM_SUSPECT);
	CHECK_EQ_INT(inc_of(a, 5), 2);
	CHECK(state_of(a, 6) == MC_SWIM_LEFT);
	CHECK(has_event(a, MC_SWIM_EV_JOINED, 4, NULL));
	/* and we answer with our full state */
	drain(a);
	for (int i = 0; i < nout; i++)
		if (out[i].m.type == MC_SWIM_MSG_PUSH_PULL && id_of(&out[i].to) == 3)
		{
			CHECK(out[i].m.flags & MC_SWIM_F_IS_REPLY);
			CHECK(!(out[i].m.flags & MC_SWIM_F_WANT_REPLY));
			CHECK_EQ_INT(out[i].m.nrecs, 6);
			replies++;
		}
	CHECK_EQ_INT(replies, 1);
	mc_swim_destroy(a);
}

/* Full state of 300 members is split into datagrams within max_packet. */
static void
test_g9_push_pull_split(void)
{
	mc_swim    *a = mk_node(1, 0);
	mc_swim    *b = mk_node(500, 0);
	uint8_t		buf[MC_SWIM_MAX_PACKET];
	mc_swim_addr to,
				from;
	int			n,
				pkts = 0,
				total = 0;

	add_members(a, 0, 2, 301);
	drain(a);
	mc_swim_push_pull(a, &b->cfg.self.addr, MC_SWIM_F_WANT_REPLY);
	addr_of(1, &from);
	while ((n = mc_swim_next_outgoing(a, &to, buf, sizeof(buf))) != 0)
	{
		mc_swim_msg m;

		CHECK(n > 0 && n <= MC_SWIM_MAX_PACKET);
		CHECK(mc_swim_decode(buf, (size_t) n, &m, scratch));
		CHECK_EQ_INT(!!(m.flags & MC_SWIM_F_WANT_REPLY), pkts == 0);
		total += m.nrecs;
		pkts++;
		CHECK_EQ_INT(mc_swim_receive(b, 10, &from, buf, (size_t) n), MC_SWIM_OK);
	}
	CHECK_EQ_INT(total, 301);
	CHECK(pkts >= 10);
	CHECK_EQ_INT(mc_swim_member_count(b), 302);
	CHECK_EQ_INT(mc_swim_alive_count(b), 301);
	mc_swim_destroy(a);
	mc_swim_destroy(b);
}

/* ---- G12 -------------------------------------------------------------- */

/*
 * Member 2 heartbeats us (pings) every 200 ms, member 3 answers probes.
 * When 2 falls silent, phi convicts it before any probe of it fails; with
 * phi disabled, SWIM's probes still do.
 */
static void
g12_run(double threshold, uint64_t *suspect_after, mc_swim_stats *st)
{
	mc_swim_config cfg;
	mc_swim    *s;
	uint64_t	now = 0;

	mc_swim_config_default(&cfg);
	cfg.self.node_id = 1;
	addr_of(1, &cfg.self.addr);
	cfg.phi_threshold = threshold;
	cfg.phi_min_std_ms = 50;
	cfg.phi_pause_ms = 1;		/* isolate phi from the round length */
	s = mc_swim_create(&cfg, 0);
	add_members(s, 0, 2, 3);
	all_responsive(false);
	responsive[3] = true;
	responsive[2] = true;
	while (now < 20000)
	{
		if (now % 200 == 0)
			inject(s, now, 2, MC_SWIM_MSG_PING, (uint32_t) now, 1, 0, NULL, 0);
		run(s, &now, now + 10);
	}
	CHECK(state_of(s, 2) == MC_SWIM_ALIVE);
	{
		mc_swim_member m;

		CHECK(mc_swim_member_find(s, 2, now, &m));
		CHECK(m.phi < 1.0);
	}
	responsive[2] = false;
	*suspect_after = 0;
	while (now < 40000 && state_of(s, 2) == MC_SWIM_ALIVE)
		run(s, &now, now + 10);
	*suspect_after = now - 20000;
	mc_swim_get_stats(s, st);
	CHECK(state_of(s, 2) == MC_SWIM_SUSPECT);
	mc_swim_destroy(s);
	all_responsive(true);
}

static void
test_g12_phi_combined(void)
{
	uint64_t	t_phi,
				t_swim;
	mc_swim_stats st_phi,
				st_swim;

	g12_run(8.0, &t_phi, &st_phi);
	g12_run(0.0, &t_swim, &st_swim);
	CHECK_EQ_INT(st_phi.phi_suspicions, 1);
	CHECK_EQ_INT(st_phi.probe_failures, 0);
	CHECK(t_phi <= 2000);
	CHECK_EQ_INT(st_swim.phi_suspicions, 0);
	CHECK(st_swim.probe_failures >= 1);
	CHECK(t_swim <= 5000);
}

/* A datagram from a member we never heard of triggers one full-state exchange. */
static void
test_unknown_sender_push_pull(void)
{
	mc_swim    *a = mk_node(1, 0);
	int			pp = 0,
				acks = 0;

	inject(a, 10, 9, MC_SWIM_MSG_PING, 4, 1, 0, NULL, 0);
	inject(a, 20, 9, MC_SWIM_MSG_PING, 5, 1, 0, NULL, 0);
	drain(a);
	for (int i = 0; i < nout; i++)
	{
		if (id_of(&out[i].to) != 9)
			continue;
		if (out[i].m.type == MC_SWIM_MSG_PUSH_PULL && (out[i].m.flags & MC_SWIM_F_WANT_REPLY))
			pp++;
		if (out[i].m.type == MC_SWIM_MSG_ACK)
			acks++;
	}
	CHECK_EQ_INT(acks, 2);
	CHECK_EQ_INT(pp, 1);		/* rate-limited to one per probe period */
	mc_swim_destroy(a);
}

/*
 * Join: push-pull with every seed but ourselves at once, then with a
 * doubling interval until a reply arrives; alone again later, start over.
 */
static void
test_join_seeds(void)
{
	mc_swim_config cfg;
	mc_swim    *s;
	uint64_t	now = 0;
	uint64_t	at[8];
	int			nat = 0;

	mc_swim_config_default(&cfg);
	cfg.self.node_id = 1;
	addr_of(1, &cfg.self.addr);
	cfg.nseeds = 2;
	addr_of(1, &cfg.seeds[0]);	/* ourselves: skipped */
	addr_of(2, &cfg.seeds[1]);
	s = mc_swim_create(&cfg, 0);
	while (now < 16000)
	{
		mc_swim_tick(s, now);
		drain(s);
		for (int i = 0; i < nout; i++)
		{
			CHECK(id_of(&out[i].to) != 1);
			if (out[i].m.type == MC_SWIM_MSG_PUSH_PULL && id_of(&out[i].to) == 2 &&
				(out[i].m.flags & MC_SWIM_F_WANT_REPLY) && nat < 8)
				at[nat++] = now;
		}
		now += 10;
	}
	/* 0, 1, 3, 7, 15 s: the interval doubles */
	CHECK_EQ_INT(nat, 5);
	CHECK_EQ_INT(at[0], 0);
	CHECK_EQ_INT(at[1], 1000);
	CHECK_EQ_INT(at[2], 3000);
	CHECK_EQ_INT(at[3], 7000);
	/* a reply: synced; with a member alive, no more seed push-pulls */
	{
		mc_swim_rec r[2];

		mk_rec(&r[0], 2, MC_SWIM_ALIVE, 0, 2);
		mk_rec(&r[1], 1, MC_SWIM_ALIVE, 0, 1);
		inject(s, now, 2, MC_SWIM_MSG_PUSH_PULL, 0, 0, MC_SWIM_F_IS_REPLY, r, 2);
	}
	CHECK(state_of(s, 2) == MC_SWIM_ALIVE);
	nat = 0;
	/* (until 20 s: the periodic push-pull is due at 30 s) */
	for (; now < 20000; now += 10)
	{
		mc_swim_tick(s, now);
		drain(s);
		for (int i = 0; i < nout; i++)
			if (out[i].m.type == MC_SWIM_MSG_PING && id_of(&out[i].to) == 2)
				inject(s, now, 2, MC_SWIM_MSG_ACK, out[i].m.seq, 0, 0, NULL, 0);
			else if (out[i].m.type == MC_SWIM_MSG_PUSH_PULL &&
					 (out[i].m.flags & MC_SWIM_F_WANT_REPLY))
				nat++;
	}
	CHECK_EQ_INT(nat, 0);
	/* node 2 dies: once alone, the seeds are asked again within a second */
	{
		mc_swim_rec r;
		uint64_t	dead_at = 0,
					first_pp = 0;

		mk_rec(&r, 2, MC_SWIM_DEAD, 0, 3);
		gossip(s, now, 3, &r, 1);
		CHECK(state_of(s, 2) == MC_SWIM_DEAD);
		dead_at = now;
		for (uint64_t end = now + 5000; now < end && !first_pp; now += 10)
		{
			mc_swim_tick(s, now);
			drain(s);
			for (int i = 0; i < nout; i++)
				if (out[i].m.type == MC_SWIM_MSG_PUSH_PULL && id_of(&out[i].to) == 2 &&
					(out[i].m.flags & MC_SWIM_F_WANT_REPLY))
					first_pp = now;
		}
		CHECK(first_pp != 0 && first_pp - dead_at <= 1000);
	}
	mc_swim_destroy(s);
}

/* A probe of a suspect carries the suspicion, so the suspect can refute. */
static void
test_probe_of_suspect_carries_suspicion(void)
{
	mc_swim    *a = mk_node(1, 0);
	mc_swim_rec r;
	uint64_t	now = 0;
	int			carried = 0;

	add_members(a, 0, 2, 2);
	mk_rec(&r, 2, MC_SWIM_SUSPECT, 0, 7);
	gossip(a, 0, 2, &r, 1);
	/* spend the piggyback budget of that record elsewhere */
	for (int i = 0; i < 20; i++)
		inject(a, 0, 2, MC_SWIM_MSG_PING, (uint32_t) (100 + i), 1, 0, NULL, 0);
	drain(a);
	CHECK(state_of(a, 2) == MC_SWIM_SUSPECT);
	while (now < 3000 && !carried)
	{
		now += 10;
		mc_swim_tick(a, now);
		drain(a);
		for (int i = 0; i < nout; i++)
			if (out[i].m.type == MC_SWIM_MSG_PING && out[i].m.target == 2)
				for (int j = 0; j < out[i].m.nrecs; j++)
					if (out[i].recs[j].node == 2 && out[i].recs[j].state == MC_SWIM_SUSPECT)
						carried = 1;
	}
	CHECK(carried);
	mc_swim_destroy(a);
}

static void
test_config_refusals(void)
{
	mc_swim_config cfg;

	mc_swim_config_default(&cfg);
	CHECK(mc_swim_create(&cfg, 0) == NULL);	/* node id 0 */
	cfg.self.node_id = 1;
	CHECK(mc_swim_create(&cfg, 0) == NULL);	/* no address */
	addr_of(1, &cfg.self.addr);
	cfg.probe_timeout_ms = cfg.probe_interval_ms;
	CHECK(mc_swim_create(&cfg, 0) == NULL);
	cfg.probe_timeout_ms = 500;
	cfg.max_packet = 100;
	CHECK(mc_swim_create(&cfg, 0) == NULL);
	cfg.max_packet = 1400;
	cfg.nseeds = 1;
	CHECK(mc_swim_create(&cfg, 0) == NULL);	/* empty seed */
	cfg.nseeds = 0;
	{
		mc_swim    *s = mc_swim_create(&cfg, 0);
		mc_swim_meta m;

		CHECK(s != NULL);
		m = cfg.self;
		m.leader_id = 4;
		m.raft_term = 12;
		CHECK(mc_swim_set_meta(s, 0, &m));
		CHECK_EQ_INT(inc_of(s, 1), 1);
		m.addr.port = 1;
		CHECK(!mc_swim_set_meta(s, 0, &m));
		CHECK_EQ_INT(inc_of(s, 1), 1);
		mc_swim_destroy(s);
	}
}

int
main(void)
{
	all_responsive(true);
	RUN(test_config_refusals);
	RUN(test_g1_timeout_formula);
	RUN(test_g1_grows_with_log_n);
	RUN(test_g1_confirmations);
	RUN(test_g2_retransmit_count);
	RUN(test_g2_fewest_sent_first_and_newer_replaces);
	RUN(test_g3_indirect_ack);
	RUN(test_g3_indirect_fail);
	RUN(test_g3_relay);
	RUN(test_g4_local_health);
	RUN(test_g5_refute);
	RUN(test_g6_stale);
	RUN(test_g7_duplicate_id);
	RUN(test_g8_leave_and_rejoin);
	RUN(test_g9_merge);
	RUN(test_g9_push_pull_split);
	RUN(test_g12_phi_combined);
	RUN(test_unknown_sender_push_pull);
	RUN(test_join_seeds);
	RUN(test_probe_of_suspect_carries_suspicion);
	return tu_finish("swim");
}
