/*
 * swim_members.c — the member table of a SWIM node: storage and lookup by
 * node id, state changes with their counters, the event ring, member
 * iteration for mailcluster.members, and the fault-injection block list.
 */
#include "swim_int.h"

#include <stdlib.h>
#include <string.h>

static uint32_t
hash_id(uint16_t id)
{
	return (uint32_t) id * 2654435761u;
}

static bool
rehash(mc_swim *s, int cap)
{
	int32_t    *h = malloc(sizeof(int32_t) * cap);
	int			i;

	if (h == NULL)
		return false;
	for (i = 0; i < cap; i++)
		h[i] = -1;
	for (i = 0; i < s->nnodes; i++)
	{
		uint32_t	j = hash_id(s->nodes[i].meta.node_id) & (cap - 1);

		while (h[j] >= 0)
			j = (j + 1) & (cap - 1);
		h[j] = i;
	}
	free(s->hash);
	s->hash = h;
	s->hash_cap = cap;
	return true;
}

mc_swim_node *
mc_swim_lookup(mc_swim *s, uint16_t id)
{
	uint32_t	j;

	if (s->hash_cap == 0)
		return NULL;
	j = hash_id(id) & (s->hash_cap - 1);
	while (s->hash[j] >= 0)
	{
		mc_swim_node *n = &s->nodes[s->hash[j]];

		if (n->meta.node_id == id)
			return n;
		j = (j + 1) & (s->hash_cap - 1);
	}
	return NULL;
}

/* Add a member from a record (caller checked it is unknown). */
mc_swim_node *
mc_swim_add_node(mc_swim *s, const mc_swim_rec *r, uint64_t now)
{
	mc_swim_node *n;

	if (s->nnodes == s->cap_nodes)
	{
		int			ncap = s->cap_nodes ? s->cap_nodes * 2 : 16;
		mc_swim_node *nn = realloc(s->nodes, sizeof(mc_swim_node) * ncap);

		if (nn == NULL)
			return NULL;
		s->nodes = nn;
		s->cap_nodes = ncap;
	}
	if ((s->nnodes + 1) * 2 > s->hash_cap)
	{
		if (!rehash(s, s->hash_cap ? s->hash_cap * 2 : 32))
			return NULL;
	}
	n = &s->nodes[s->nnodes];
	memset(n, 0, sizeof(*n));
	n->meta = r->meta;
	n->meta.node_id = r->node;
	n->inc = r->inc;
	n->state = MC_SWIM_DEAD;	/* placeholder so set_state counts right */
	n->state_since = now;
	mc_phi_init(&n->phi, s->cfg.phi_window, s->cfg.phi_min_std_ms,
				s->cfg.phi_min_samples);
	s->nnodes++;
	{
		uint32_t	j = hash_id(r->node) & (s->hash_cap - 1);

		while (s->hash[j] >= 0)
			j = (j + 1) & (s->hash_cap - 1);
		s->hash[j] = s->nnodes - 1;
	}
	mc_swim_set_state(s, n, (mc_swim_state) r->state, now);
	n->state_since = now;
	return n;
}

void
mc_swim_set_state(mc_swim *s, mc_swim_node *n, mc_swim_state st, uint64_t now)
{
	bool		is_self = (n == &s->nodes[0]);
	bool		was_live = (n->state == MC_SWIM_ALIVE || n->state == MC_SWIM_SUSPECT);
	bool		live = (st == MC_SWIM_ALIVE || st == MC_SWIM_SUSPECT);

	if (!is_self)
	{
		s->nalive += (live ? 1 : 0) - (was_live ? 1 : 0);
		s->nsuspect += (st == MC_SWIM_SUSPECT ? 1 : 0) -
			(n->state == MC_SWIM_SUSPECT ? 1 : 0);
	}
	if (n->state != st)
		n->state_since = now;
	n->state = st;
	if (st != MC_SWIM_SUSPECT)
		n->nconfirm = 0;
}

void
mc_swim_emit(mc_swim *s, mc_swim_event_type t, const mc_swim_node *n,
			 const mc_swim_addr *addr)
{
	mc_swim_event *e;

	if (s->ev_len == MC_SWIM_EVENTS)
	{
		s->ev_head = (s->ev_head + 1) % MC_SWIM_EVENTS;
		s->ev_len--;
		s->stats.events_dropped++;
	}
	e = &s->ev[(s->ev_head + s->ev_len) % MC_SWIM_EVENTS];
	s->ev_len++;
	memset(e, 0, sizeof(*e));
	e->type = t;
	e->node_id = n->meta.node_id;
	e->incarnation = n->inc;
	e->addr = addr ? *addr : n->meta.addr;
	e->at_ms = s->now;
}

bool
mc_swim_next_event(mc_swim *s, mc_swim_event *ev)
{
	if (s->ev_len == 0)
		return false;
	*ev = s->ev[s->ev_head];
	s->ev_head = (s->ev_head + 1) % MC_SWIM_EVENTS;
	s->ev_len--;
	return true;
}

void
mc_swim_node_rec(const mc_swim_node *n, mc_swim_rec *r, uint16_t from)
{
	memset(r, 0, sizeof(*r));
	r->state = (uint8_t) n->state;
	r->node = n->meta.node_id;
	r->inc = n->inc;
	r->from = from ? from : n->meta.node_id;
	r->meta = n->meta;
}

/* Members that count for timeouts: self plus everyone alive or suspect. */
int
mc_swim_cluster_size(const mc_swim *s)
{
	return s->nalive + 1;
}

int
mc_swim_member_count(const mc_swim *s)
{
	return s->nnodes;
}

int
mc_swim_alive_count(const mc_swim *s)
{
	return s->nalive;
}

static void
fill_member(const mc_swim *s, const mc_swim_node *n, uint64_t now_ms,
			mc_swim_member *out)
{
	memset(out, 0, sizeof(*out));
	out->meta = n->meta;
	out->is_self = (n == &s->nodes[0]);
	out->state = n->state;
	out->incarnation = n->inc;
	out->phi = out->is_self ? 0.0 : mc_phi_value_pause(&n->phi, now_ms,
															  mc_swim_phi_pause(s));
	out->last_seen_ms = out->is_self ? now_ms : n->last_seen;
	out->state_since_ms = n->state_since;
}

bool
mc_swim_member_get(const mc_swim *s, int i, uint64_t now_ms, mc_swim_member *out)
{
	if (i < 0 || i >= s->nnodes)
		return false;
	fill_member(s, &s->nodes[i], now_ms, out);
	return true;
}

bool
mc_swim_member_find(const mc_swim *s, uint16_t node_id, uint64_t now_ms,
					mc_swim_member *out)
{
	mc_swim_node *n = mc_swim_lookup((mc_swim *) s, node_id);

	if (n == NULL)
		return false;
	fill_member(s, n, now_ms, out);
	return true;
}

bool
mc_swim_is_blocked(const mc_swim *s, uint16_t id)
{
	int			i;

	for (i = 0; i < s->nblocked; i++)
		if (s->blocked[i] == id)
			return true;
	return false;
}

void
mc_swim_block(mc_swim *s, uint16_t node_id, bool blocked)
{
	int			i;

	for (i = 0; i < s->nblocked; i++)
		if (s->blocked[i] == node_id)
			break;
	if (blocked && i == s->nblocked && s->nblocked < MC_SWIM_MAX_BLOCKED)
		s->blocked[s->nblocked++] = node_id;
	else if (!blocked && i < s->nblocked)
		s->blocked[i] = s->blocked[--s->nblocked];
}

void
mc_swim_unblock_all(mc_swim *s)
{
	s->nblocked = 0;
}
