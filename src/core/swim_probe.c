/*
 * swim_probe.c — the failure-detection round of a SWIM node: one probe per
 * (health-scaled) period over a shuffled round-robin list, indirect probes
 * through k members with nacks on a missed ack (G3), relaying other
 * nodes' indirect probes, the Lifeguard local-health score (G4), and the
 * phi-accrual check that can raise a suspicion on its own (G12).
 */
#include "swim_int.h"

#include <stdlib.h>
#include <string.h>

void
mc_swim_awareness(mc_swim *s, int delta)
{
	int			a = s->awareness + delta;

	if (a < 0)
		a = 0;
	if (a > (int) s->cfg.awareness_max - 1)
		a = (int) s->cfg.awareness_max - 1;
	s->awareness = a;
}

static void
send_simple(mc_swim *s, const mc_swim_addr *to, uint8_t type, uint32_t seq,
			uint16_t target)
{
	mc_swim_msg m;

	memset(&m, 0, sizeof(m));
	m.type = type;
	m.sender = s->nodes[0].meta.node_id;
	m.seq = seq;
	m.target = target;
	mc_swim_send(s, to, &m, true);
}

/* Rebuild and shuffle the probe order: everyone alive or suspect. */
static void
rebuild_plist(mc_swim *s)
{
	int			i;

	if (s->plist_cap < s->nnodes)
	{
		uint16_t   *p = realloc(s->plist, sizeof(uint16_t) * s->nnodes);

		if (p == NULL)
			return;
		s->plist = p;
		s->plist_cap = s->nnodes;
	}
	s->plen = 0;
	for (i = 1; i < s->nnodes; i++)
		if (s->nodes[i].state == MC_SWIM_ALIVE || s->nodes[i].state == MC_SWIM_SUSPECT)
			s->plist[s->plen++] = s->nodes[i].meta.node_id;
	for (i = s->plen - 1; i > 0; i--)
	{
		int			j = (int) mc_swim_rand_below(s, (uint32_t) i + 1);
		uint16_t	t = s->plist[i];

		s->plist[i] = s->plist[j];
		s->plist[j] = t;
	}
	s->pidx = 0;
}

static void
start_probe(mc_swim *s, uint64_t now)
{
	int			tries;

	s->probe.active = false;
	for (tries = 0; tries <= s->plen + 1; tries++)
	{
		mc_swim_node *n;

		if (s->pidx >= s->plen)
		{
			rebuild_plist(s);
			if (s->plen == 0)
				return;
		}
		n = mc_swim_lookup(s, s->plist[s->pidx++]);
		if (n == NULL || n == &s->nodes[0] ||
			(n->state != MC_SWIM_ALIVE && n->state != MC_SWIM_SUSPECT))
			continue;
		if (n->state == MC_SWIM_SUSPECT)
		{
			/*
			 * Tell a suspect it is suspected, in the probe itself: the
			 * gossip may have spent its retransmits elsewhere (e.g. across
			 * a partition) and it can only refute what it hears of.
			 */
			mc_swim_rec q;

			mc_swim_node_rec(n, &q, n->susp_from);
			mc_swim_bcast_queue(s, &q);
		}
		memset(&s->probe, 0, sizeof(s->probe));
		s->probe.active = true;
		s->probe.target = n->meta.node_id;
		s->probe.seq = ++s->seq;
		s->probe.start = now;
		s->probe.timeout_at = now + mc_swim_scaled(s, s->cfg.probe_timeout_ms);
		s->stats.pings_sent++;
		send_simple(s, &n->meta.addr, MC_SWIM_MSG_PING, s->probe.seq, n->meta.node_id);
		return;
	}
}

/* G3: no direct ack in time: ask k random alive members to probe. */
static void
send_indirect(mc_swim *s)
{
	mc_swim_node *n = mc_swim_lookup(s, s->probe.target);
	int			pick[64];
	int			k = (int) s->cfg.indirect_k,
				npick = 0,
				seen = 0,
				i;

	s->probe.indirect_sent = true;
	if (n == NULL)
		return;
	if (k > 64)
		k = 64;
	for (i = 1; i < s->nnodes; i++)
	{
		mc_swim_node *c = &s->nodes[i];

		if (c->state != MC_SWIM_ALIVE || c->meta.node_id == s->probe.target)
			continue;
		seen++;
		if (npick < k)
			pick[npick++] = i;
		else
		{
			uint32_t	j = mc_swim_rand_below(s, (uint32_t) seen);

			if ((int) j < k)
				pick[j] = i;
		}
	}
	for (i = 0; i < npick; i++)
	{
		mc_swim_msg m;
		mc_swim_node *c = &s->nodes[pick[i]];

		memset(&m, 0, sizeof(m));
		m.type = MC_SWIM_MSG_PING_REQ;
		m.sender = s->nodes[0].meta.node_id;
		m.seq = s->probe.seq;
		m.target = n->meta.node_id;
		m.target_addr = n->meta.addr;
		m.flags = MC_SWIM_F_WANT_NACK;
		mc_swim_send(s, &c->meta.addr, &m, true);
		s->stats.indirect_probes++;
	}
	s->probe.nacks_expected = npick;
}

/* End of a probe period: a probe without any ack fails. */
static void
finish_probe(mc_swim *s, uint64_t now)
{
	mc_swim_node *n;

	if (!s->probe.active || s->probe.acked)
	{
		s->probe.active = false;
		return;
	}
	s->probe.active = false;
	s->stats.probe_failures++;
	/*
	 * Lifeguard: nacks that did not come back mean our own network is the
	 * likelier culprit; with every nack back the target alone is at fault.
	 */
	if (s->probe.nacks_expected > 0)
		mc_swim_awareness(s, s->probe.nacks_expected - s->probe.nacks);
	else
		mc_swim_awareness(s, 1);
	n = mc_swim_lookup(s, s->probe.target);
	if (n && (n->state == MC_SWIM_ALIVE || n->state == MC_SWIM_SUSPECT))
		mc_swim_suspect_local(s, n, now);
}

/*
 * Phi: a member whose silence makes phi pass the threshold is suspected
 * like a failed probe — unless our own health is degraded (then the
 * silence is more likely ours).  The arrivals from a member mix our probes'
 * acks and its own probes of us, each once per probe round in shuffled
 * order, so one lost datagram costs up to a round: that round is the
 * acceptable pause added to the mean.
 */
double
mc_swim_phi_pause(const mc_swim *s)
{
	return s->cfg.phi_pause_ms ? (double) s->cfg.phi_pause_ms :
		(double) s->nalive * s->cfg.probe_interval_ms;
}

static void
phi_check(mc_swim *s, uint64_t now)
{
	int			i;
	double		pause = mc_swim_phi_pause(s);

	if (s->cfg.phi_threshold <= 0 || s->awareness > 0)
		return;
	for (i = 1; i < s->nnodes; i++)
	{
		mc_swim_node *n = &s->nodes[i];

		if (n->state != MC_SWIM_ALIVE || n->phi.n < n->phi.min_samples)
			continue;
		if (mc_phi_value_pause(&n->phi, now, pause) > s->cfg.phi_threshold)
		{
			s->stats.phi_suspicions++;
			mc_swim_suspect_local(s, n, now);
		}
	}
}

void
mc_swim_probe_tick(mc_swim *s, uint64_t now)
{
	int			i;

	for (i = 0; i < s->nrelays;)
	{
		mc_swim_relay *r = &s->relays[i];

		if (now >= r->deadline)
		{
			if (r->want_nack)
				send_simple(s, &r->orig, MC_SWIM_MSG_NACK, r->orig_seq, 0);
			s->relays[i] = s->relays[--s->nrelays];
		}
		else
			i++;
	}
	if (s->probe.active && !s->probe.acked && !s->probe.indirect_sent &&
		now >= s->probe.timeout_at)
		send_indirect(s);
	if (now >= s->next_probe_at)
	{
		finish_probe(s, now);
		phi_check(s, now);
		start_probe(s, now);
		s->next_probe_at = now + mc_swim_scaled(s, s->cfg.probe_interval_ms);
	}
}

void
mc_swim_on_ack(mc_swim *s, const mc_swim_msg *m, uint64_t now)
{
	int			i;

	if (s->probe.active && !s->probe.acked && m->seq == s->probe.seq)
	{
		s->probe.acked = true;
		s->stats.acks_received++;
		mc_swim_awareness(s, -1);
		return;
	}
	for (i = 0; i < s->nrelays; i++)
	{
		if (s->relays[i].my_seq == m->seq)
		{
			mc_swim_relay r = s->relays[i];

			s->relays[i] = s->relays[--s->nrelays];
			send_simple(s, &r.orig, MC_SWIM_MSG_ACK, r.orig_seq, 0);
			return;
		}
	}
}

void
mc_swim_on_nack(mc_swim *s, const mc_swim_msg *m, uint64_t now)
{
	if (s->probe.active && m->seq == s->probe.seq)
	{
		s->probe.nacks++;
		s->stats.nacks_received++;
	}
}

void
mc_swim_on_ping_req(mc_swim *s, const mc_swim_addr *from, const mc_swim_msg *m,
					uint64_t now)
{
	mc_swim_relay *r;

	if (s->nrelays == MC_SWIM_MAX_RELAYS)
		return;
	r = &s->relays[s->nrelays++];
	r->my_seq = ++s->seq;
	r->orig_seq = m->seq;
	r->orig = *from;
	r->want_nack = (m->flags & MC_SWIM_F_WANT_NACK) != 0;
	/* answer (nack) well before the requester's probe period ends */
	r->deadline = now + (uint64_t) s->cfg.probe_timeout_ms * 8 / 10;
	send_simple(s, &m->target_addr, MC_SWIM_MSG_PING, r->my_seq, m->target);
}
