/*
 * swim_net.c — datagrams in and out of a SWIM node: the outgoing queue,
 * building a message with its piggyback, full-state push-pull split into
 * datagrams of at most max_packet bytes, and the receive dispatcher.
 */
#include "swim_int.h"

#include <stdlib.h>
#include <string.h>

/* Is `to` the address of a member on the block list? */
static bool
addr_blocked(const mc_swim *s, const mc_swim_addr *to)
{
	int			i;

	for (i = 0; i < s->nblocked; i++)
	{
		mc_swim_node *n = mc_swim_lookup((mc_swim *) s, s->blocked[i]);

		if (n && mc_swim_addr_eq(&n->meta.addr, to))
			return true;
	}
	return false;
}

/* A fresh slot at the tail of the outgoing FIFO, or NULL. */
static mc_swim_out *
out_slot(mc_swim *s)
{
	if (s->out_head > 0 && s->out_head == s->out_len)
		s->out_head = s->out_len = 0;
	if (s->out_len == s->out_cap)
	{
		if (s->out_head > 0)
		{
			memmove(s->outq, s->outq + s->out_head,
					sizeof(mc_swim_out) * (s->out_len - s->out_head));
			s->out_len -= s->out_head;
			s->out_head = 0;
		}
		if (s->out_len == s->out_cap)
		{
			int			ncap = s->out_cap ? s->out_cap * 2 : 8;
			mc_swim_out *no = realloc(s->outq, sizeof(mc_swim_out) * ncap);

			if (no == NULL)
				return NULL;
			s->outq = no;
			s->out_cap = ncap;
		}
	}
	return &s->outq[s->out_len++];
}

void
mc_swim_send(mc_swim *s, const mc_swim_addr *to, const mc_swim_msg *m, bool piggyback)
{
	mc_swim_out *o;
	mc_writer	w;
	size_t		pos;
	int			n = 0;

	if (addr_blocked(s, to))
	{
		s->stats.drop_blocked++;
		return;
	}
	o = out_slot(s);
	if (o == NULL)
		return;
	o->to = *to;
	mc_writer_init(&w, o->data, s->cfg.max_packet);
	pos = mc_swim_enc_begin(&w, m);
	if (piggyback)
		n = mc_swim_bcast_fill(s, &w);
	mc_swim_enc_finish(&w, pos, n);
	if (w.err)
	{
		s->out_len--;
		return;
	}
	o->len = (uint16_t) w.len;
}

/* The record a full-state exchange carries for member n. */
static void
state_rec(const mc_swim *s, const mc_swim_node *n, mc_swim_rec *r)
{
	uint16_t	from = n->meta.node_id;

	if (n->state == MC_SWIM_SUSPECT)
		from = n->susp_from;
	else if (n->state == MC_SWIM_DEAD)
		from = s->nodes[0].meta.node_id;
	mc_swim_node_rec(n, r, from);
}

/*
 * Send our full member list to `to` as one or more PUSH_PULL datagrams;
 * `flags` (WANT_REPLY or IS_REPLY) goes on the first, IS_REPLY on all of a
 * reply.  Each datagram is merged on its own by the receiver.
 */
void
mc_swim_push_pull(mc_swim *s, const mc_swim_addr *to, uint8_t flags)
{
	int			i = 0;
	bool		first = true;

	if (addr_blocked(s, to))
	{
		s->stats.drop_blocked++;
		return;
	}
	if (flags & MC_SWIM_F_WANT_REPLY)
		s->stats.push_pulls++;
	while (i < s->nnodes)
	{
		mc_swim_out *o = out_slot(s);
		mc_swim_msg m;
		mc_writer	w;
		size_t		pos;
		int			n = 0;

		if (o == NULL)
			return;
		memset(&m, 0, sizeof(m));
		m.type = MC_SWIM_MSG_PUSH_PULL;
		m.sender = s->nodes[0].meta.node_id;
		m.flags = first ? flags : (flags & MC_SWIM_F_IS_REPLY);
		o->to = *to;
		mc_writer_init(&w, o->data, s->cfg.max_packet);
		pos = mc_swim_enc_begin(&w, &m);
		while (i < s->nnodes && n < MC_SWIM_MAX_RECS)
		{
			mc_swim_rec r;

			state_rec(s, &s->nodes[i], &r);
			if (!mc_swim_enc_rec(&w, &r))
				break;
			i++;
			n++;
		}
		mc_swim_enc_finish(&w, pos, n);
		if (w.err || n == 0)
		{
			s->out_len--;
			return;
		}
		o->len = (uint16_t) w.len;
		first = false;
	}
}

int
mc_swim_next_outgoing(mc_swim *s, mc_swim_addr *to, uint8_t *buf, size_t cap)
{
	mc_swim_out *o;

	if (s->out_head >= s->out_len)
		return 0;
	o = &s->outq[s->out_head++];
	if (o->len > cap)
		return -1;
	*to = o->to;
	memcpy(buf, o->data, o->len);
	s->stats.msgs_out++;
	s->stats.bytes_out += o->len;
	return o->len;
}

/* Gossip (piggyback) records: the normal SWIM update rules. */
static void
apply_gossip(mc_swim *s, const mc_swim_rec *r, uint64_t now)
{
	switch (r->state)
	{
		case MC_SWIM_ALIVE:
			mc_swim_on_alive(s, r, false, now);
			break;
		case MC_SWIM_SUSPECT:
			mc_swim_on_suspect(s, r, now);
			break;
		default:
			mc_swim_on_dead(s, r, now);
			break;
	}
}

int
mc_swim_receive(mc_swim *s, uint64_t now_ms, const mc_swim_addr *from,
				const uint8_t *buf, size_t len)
{
	mc_swim_msg m;
	mc_swim_node *sn;
	mc_swim_node *self = &s->nodes[0];
	int			i;

	if (now_ms < s->now)
		now_ms = s->now;
	s->now = now_ms;
	s->stats.bytes_in += len;
	if (len > s->cfg.max_packet)
	{
		s->stats.drop_oversize++;
		return MC_SWIM_ERR_OVERSIZE;
	}
	if (!mc_swim_decode(buf, len, &m, s->scratch))
	{
		s->stats.drop_malformed++;
		return MC_SWIM_ERR_MALFORMED;
	}
	if (m.sender == self->meta.node_id)
	{
		/* G7: someone else speaks with our id */
		s->stats.drop_self++;
		if (!mc_swim_addr_eq(from, &self->meta.addr) &&
			(self->conflict_at == 0 ||
			 now_ms >= self->conflict_at + 10 * (uint64_t) s->cfg.probe_interval_ms))
		{
			self->conflict_at = now_ms;
			s->stats.conflicts++;
			mc_swim_emit(s, MC_SWIM_EV_CONFLICT, self, from);
		}
		return MC_SWIM_ERR_SELF;
	}
	if (mc_swim_is_blocked(s, m.sender))
	{
		s->stats.drop_blocked++;
		return MC_SWIM_ERR_BLOCKED;
	}
	s->stats.msgs_in++;
	if (s->leaving)
		return MC_SWIM_OK;

	sn = mc_swim_lookup(s, m.sender);
	if (sn)
	{
		sn->last_seen = now_ms;
		/* phi: one arrival per half probe period at most */
		if (sn->last_beat == 0 ||
			now_ms >= sn->last_beat + s->cfg.probe_interval_ms / 2)
		{
			sn->last_beat = now_ms;
			mc_phi_heartbeat(&sn->phi, now_ms);
		}
	}
	if ((sn == NULL || sn->state == MC_SWIM_DEAD || sn->state == MC_SWIM_LEFT) &&
		m.type != MC_SWIM_MSG_PUSH_PULL && now_ms >= s->next_unknown_pp)
	{
		/*
		 * A member we do not know, or hold dead or left, talks to us: its
		 * alive record has not reached us (a join, a restart, a healed
		 * partition).  Exchange full state with it, at most once a period.
		 */
		s->next_unknown_pp = now_ms + s->cfg.probe_interval_ms;
		mc_swim_push_pull(s, from, MC_SWIM_F_WANT_REPLY);
	}

	if (m.type == MC_SWIM_MSG_PUSH_PULL)
	{
		for (i = 0; i < m.nrecs; i++)
			mc_swim_merge(s, &s->scratch[i], now_ms);
		if (m.flags & MC_SWIM_F_IS_REPLY)
			s->synced = true;
		if (m.flags & MC_SWIM_F_WANT_REPLY)
			mc_swim_push_pull(s, from, MC_SWIM_F_IS_REPLY);
		return MC_SWIM_OK;
	}

	for (i = 0; i < m.nrecs; i++)
		apply_gossip(s, &s->scratch[i], now_ms);

	switch (m.type)
	{
		case MC_SWIM_MSG_PING:
			/* (records may have grown the table: re-read self) */
			if (m.target == s->nodes[0].meta.node_id)
			{
				mc_swim_msg a;

				memset(&a, 0, sizeof(a));
				a.type = MC_SWIM_MSG_ACK;
				a.sender = s->nodes[0].meta.node_id;
				a.seq = m.seq;
				mc_swim_send(s, from, &a, true);
			}
			break;
		case MC_SWIM_MSG_ACK:
			mc_swim_on_ack(s, &m, now_ms);
			break;
		case MC_SWIM_MSG_NACK:
			mc_swim_on_nack(s, &m, now_ms);
			break;
		case MC_SWIM_MSG_PING_REQ:
			mc_swim_on_ping_req(s, from, &m, now_ms);
			break;
	}
	return MC_SWIM_OK;
}
