/*
 * swim_rules.c — the SWIM membership rules: how alive / suspect / dead /
 * left records change a member (incarnations, G6 stale records, G7
 * duplicate ids, G8 leave), the Lifeguard suspicion timer with independent
 * confirmations (G1), refutation (G5) and the full-state merge (G9).
 */
#include "swim_int.h"

#include <math.h>
#include <string.h>

static bool
meta_eq(const mc_swim_meta *a, const mc_swim_meta *b)
{
	return a->node_id == b->node_id &&
		mc_swim_addr_eq(&a->addr, &b->addr) &&
		a->rpc_port == b->rpc_port && a->sql_port == b->sql_port &&
		a->replica == b->replica && a->voter == b->voter &&
		a->raft_role == b->raft_role && a->roles == b->roles &&
		memcmp(a->cluster_id, b->cluster_id, 16) == 0 &&
		a->raft_term == b->raft_term && a->leader_id == b->leader_id;
}

/* G7: report (at most once per 10 probe periods per id) and refuse. */
static void
conflict(mc_swim *s, mc_swim_node *n, const mc_swim_addr *claimant, uint64_t now)
{
	s->stats.conflicts++;
	if (n->conflict_at == 0 ||
		now >= n->conflict_at + 10 * (uint64_t) s->cfg.probe_interval_ms)
	{
		n->conflict_at = now;
		mc_swim_emit(s, MC_SWIM_EV_CONFLICT, n, claimant);
	}
}

/*
 * Lifeguard suspicion timeout after `c` independent confirmations: from
 * max_ms (none) down to min_ms (k of them), logarithmically; min_ms when
 * no confirmations are expected (k == 0).
 */
uint64_t
mc_swim_suspicion_timeout(uint64_t min_ms, uint64_t max_ms, uint32_t k, int c)
{
	double		frac,
				t;

	if (k < 1)
		return min_ms;
	frac = log((double) c + 1.0) / log((double) k + 1.0);
	t = (double) max_ms - frac * (double) (max_ms - min_ms);
	if (t < (double) min_ms)
		t = (double) min_ms;
	return (uint64_t) floor(t);
}

/* Start suspecting n (state becomes SUSPECT) on behalf of `originator`. */
static void
start_suspicion(mc_swim *s, mc_swim_node *n, uint16_t originator, uint64_t now)
{
	int			size = mc_swim_cluster_size(s);
	double		scale = log10((double) size);
	uint32_t	k = s->cfg.suspicion_min_mult > 2 ? s->cfg.suspicion_min_mult - 2 : 0;

	if (scale < 1.0)
		scale = 1.0;
	if (size - 2 < (int) k)
		k = 0;
	mc_swim_set_state(s, n, MC_SWIM_SUSPECT, now);
	n->susp_from = originator;
	n->nconfirm = 0;
	n->susp_k = k;
	n->susp_start = now;
	n->susp_min_ms = (uint64_t) (s->cfg.suspicion_min_mult * scale *
								 s->cfg.probe_interval_ms);
	n->susp_max_ms = n->susp_min_ms * s->cfg.suspicion_max_mult;
	/*
	 * Lifeguard: a node in poor health probes slowly (its period stretches
	 * by score + 1); leave the suspect at least three of those periods to
	 * hear of the suspicion (our probes carry it) and refute.
	 */
	if (n->susp_min_ms < 3 * mc_swim_scaled(s, s->cfg.probe_interval_ms))
		n->susp_min_ms = 3 * mc_swim_scaled(s, s->cfg.probe_interval_ms);
	if (n->susp_max_ms < n->susp_min_ms)
		n->susp_max_ms = n->susp_min_ms;
	n->susp_deadline = now + mc_swim_suspicion_timeout(n->susp_min_ms,
													   n->susp_max_ms, k, 0);
	mc_swim_emit(s, MC_SWIM_EV_SUSPECT, n, NULL);
}

/*
 * An independent confirmation of a suspicion: not the originator, not a
 * peer already counted, at most k of them.  True if it counted.
 */
static bool
confirm(mc_swim *s, mc_swim_node *n, uint16_t from)
{
	int			i;

	if (from == n->susp_from || (uint32_t) n->nconfirm >= n->susp_k ||
		n->nconfirm >= MC_SWIM_MAX_CONFIRM)
		return false;
	for (i = 0; i < n->nconfirm; i++)
		if (n->confirm[i] == from)
			return false;
	n->confirm[n->nconfirm++] = from;
	n->susp_deadline = n->susp_start +
		mc_swim_suspicion_timeout(n->susp_min_ms, n->susp_max_ms, n->susp_k,
								  n->nconfirm);
	return true;
}

void
mc_swim_refute(mc_swim *s, uint32_t seen_inc, uint64_t now)
{
	mc_swim_node *self = &s->nodes[0];
	mc_swim_rec r;

	self->inc = (seen_inc > self->inc ? seen_inc : self->inc) + 1;
	mc_swim_node_rec(self, &r, self->meta.node_id);
	r.state = MC_SWIM_ALIVE;
	mc_swim_bcast_queue(s, &r);
	mc_swim_awareness(s, 1);
	s->stats.refutations++;
	mc_swim_emit(s, MC_SWIM_EV_REFUTED, self, NULL);
}

/*
 * A suspect / dead / left record about ourselves: refute it (G5) when it is
 * about our current or a later incarnation; when it is older, our newer
 * alive record has simply not reached its sender yet: gossip it again.
 */
static void
about_self(mc_swim *s, const mc_swim_rec *r, uint64_t now)
{
	mc_swim_node *self = &s->nodes[0];
	mc_swim_rec a;

	if (r->inc >= self->inc)
	{
		mc_swim_refute(s, r->inc, now);
		return;
	}
	mc_swim_node_rec(self, &a, self->meta.node_id);
	a.state = MC_SWIM_ALIVE;
	mc_swim_bcast_queue(s, &a);
}

void
mc_swim_on_alive(mc_swim *s, const mc_swim_rec *r, bool full_state, uint64_t now)
{
	mc_swim_node *n;
	mc_swim_state old;
	bool		same_meta;

	if (r->node == s->nodes[0].meta.node_id)
	{
		mc_swim_node *self = &s->nodes[0];

		if (!mc_swim_addr_eq(&r->meta.addr, &self->meta.addr))
			conflict(s, self, &r->meta.addr, now);
		else if (!s->leaving && r->inc > self->inc)
			mc_swim_refute(s, r->inc, now);		/* a record of a past life */
		return;
	}
	n = mc_swim_lookup(s, r->node);
	if (n == NULL)
	{
		mc_swim_rec a = *r;

		a.state = MC_SWIM_ALIVE;
		a.from = r->node;
		n = mc_swim_add_node(s, &a, now);
		if (n == NULL)
			return;
		mc_swim_emit(s, MC_SWIM_EV_JOINED, n, NULL);
		mc_swim_bcast_queue(s, &a);
		return;
	}
	if (!mc_swim_addr_eq(&n->meta.addr, &r->meta.addr) &&
		(n->state == MC_SWIM_ALIVE || n->state == MC_SWIM_SUSPECT))
	{
		conflict(s, n, &r->meta.addr, now);
		return;
	}
	if (r->inc <= n->inc)
		return;					/* G6: stale, or replayed at the death inc */
	old = n->state;
	same_meta = meta_eq(&n->meta, &r->meta);
	n->inc = r->inc;
	n->meta = r->meta;
	mc_swim_set_state(s, n, MC_SWIM_ALIVE, now);
	if (old == MC_SWIM_DEAD || old == MC_SWIM_LEFT)
	{
		mc_phi_reset(&n->phi);	/* a new life: old intervals mean nothing */
		n->last_beat = 0;
	}
	if (old != MC_SWIM_ALIVE)
		mc_swim_emit(s, MC_SWIM_EV_ALIVE, n, NULL);
	else if (!same_meta)
		mc_swim_emit(s, MC_SWIM_EV_UPDATED, n, NULL);
	{
		mc_swim_rec a = *r;

		a.state = MC_SWIM_ALIVE;
		a.from = r->node;
		mc_swim_bcast_queue(s, &a);
	}
}

void
mc_swim_on_suspect(mc_swim *s, const mc_swim_rec *r, uint64_t now)
{
	mc_swim_node *n = mc_swim_lookup(s, r->node);
	mc_swim_rec q;

	if (n == &s->nodes[0])
	{
		if (!s->leaving)
			about_self(s, r, now);
		return;
	}
	if (n == NULL || r->inc < n->inc)
		return;					/* unknown, or G6 stale */
	if (n->state == MC_SWIM_DEAD || n->state == MC_SWIM_LEFT)
		return;
	q = *r;
	q.state = MC_SWIM_SUSPECT;
	q.meta = n->meta;
	if (n->state == MC_SWIM_SUSPECT)
	{
		if (r->inc > n->inc)
			n->inc = r->inc;
		if (confirm(s, n, r->from))
			mc_swim_bcast_queue(s, &q);	/* spread the confirmation */
		return;
	}
	n->inc = r->inc;
	start_suspicion(s, n, r->from, now);
	mc_swim_bcast_queue(s, &q);
}

void
mc_swim_on_dead(mc_swim *s, const mc_swim_rec *r, uint64_t now)
{
	mc_swim_node *n = mc_swim_lookup(s, r->node);
	bool		left = (r->state == MC_SWIM_LEFT || r->from == r->node);
	mc_swim_rec q;

	if (n == &s->nodes[0])
	{
		if (!s->leaving)
			about_self(s, r, now);	/* G5 (and G8 rejoin) */
		return;
	}
	if (n == NULL || r->inc < n->inc)
		return;
	if (n->state == MC_SWIM_LEFT || (n->state == MC_SWIM_DEAD && !left))
		return;
	n->inc = r->inc;
	mc_swim_set_state(s, n, left ? MC_SWIM_LEFT : MC_SWIM_DEAD, now);
	mc_swim_emit(s, left ? MC_SWIM_EV_LEFT : MC_SWIM_EV_DEAD, n, NULL);
	q = *r;
	q.state = left ? MC_SWIM_LEFT : MC_SWIM_DEAD;
	q.meta = n->meta;
	mc_swim_bcast_queue(s, &q);
}

/*
 * G9 full-state merge: alive as gossip; suspect as gossip; a remote dead
 * becomes a local suspicion (we may merely be on the other side of a
 * partition); left as left.  Unknown members are added (alive, then
 * suspected if the remote side suspects them or thinks them dead).
 */
void
mc_swim_merge(mc_swim *s, const mc_swim_rec *r, uint64_t now)
{
	mc_swim_rec q = *r;

	if (r->node != s->nodes[0].meta.node_id && mc_swim_lookup(s, r->node) == NULL)
	{
		mc_swim_rec a = *r;
		mc_swim_node *n;

		a.from = r->node;
		if (r->state == MC_SWIM_LEFT)
		{
			n = mc_swim_add_node(s, &a, now);
			return;
		}
		a.state = MC_SWIM_ALIVE;
		n = mc_swim_add_node(s, &a, now);
		if (n == NULL)
			return;
		mc_swim_emit(s, MC_SWIM_EV_JOINED, n, NULL);
		if (r->state == MC_SWIM_ALIVE)
		{
			mc_swim_bcast_queue(s, &a);
			return;
		}
	}
	switch (r->state)
	{
		case MC_SWIM_ALIVE:
			mc_swim_on_alive(s, r, true, now);
			break;
		case MC_SWIM_SUSPECT:
		case MC_SWIM_DEAD:
			q.state = MC_SWIM_SUSPECT;
			mc_swim_on_suspect(s, &q, now);
			break;
		default:
			mc_swim_on_dead(s, r, now);
			break;
	}
}

/* Our own probe of n failed (or phi convicted it): suspect or confirm. */
void
mc_swim_suspect_local(mc_swim *s, mc_swim_node *n, uint64_t now)
{
	uint16_t	self_id = s->nodes[0].meta.node_id;
	mc_swim_rec q;

	mc_swim_node_rec(n, &q, self_id);
	q.state = MC_SWIM_SUSPECT;
	if (n->state == MC_SWIM_ALIVE)
	{
		mc_swim_msg m;

		s->stats.suspicions_raised++;
		start_suspicion(s, n, self_id, now);
		mc_swim_bcast_queue(s, &q);
		/*
		 * Tell the suspect at once (the record rides first: it was never
		 * sent).  If only our probe's packets were lost it refutes now
		 * instead of waiting for gossip or our next probe of it, which
		 * may be a whole (health-stretched) round away.
		 */
		memset(&m, 0, sizeof(m));
		m.type = MC_SWIM_MSG_PING;
		m.sender = self_id;
		m.seq = ++s->seq;
		m.target = n->meta.node_id;
		mc_swim_send(s, &n->meta.addr, &m, true);
	}
	else if (n->state == MC_SWIM_SUSPECT && confirm(s, n, self_id))
		mc_swim_bcast_queue(s, &q);
}

void
mc_swim_expire_suspicions(mc_swim *s, uint64_t now)
{
	int			i;
	uint16_t	self_id = s->nodes[0].meta.node_id;

	for (i = 1; i < s->nnodes && s->nsuspect > 0; i++)
	{
		mc_swim_node *n = &s->nodes[i];
		mc_swim_rec q;

		if (n->state != MC_SWIM_SUSPECT || now < n->susp_deadline)
			continue;
		mc_swim_set_state(s, n, MC_SWIM_DEAD, now);
		s->stats.deaths_declared++;
		mc_swim_emit(s, MC_SWIM_EV_DEAD, n, NULL);
		mc_swim_node_rec(n, &q, self_id);
		mc_swim_bcast_queue(s, &q);
	}
}
