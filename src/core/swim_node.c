/*
 * swim_node.c — lifecycle of a SWIM node: config defaults and checks,
 * create/destroy, the PRNG, the tick that drives every timer, clean leave,
 * own metadata updates, counters and names.
 */
#include "swim_int.h"

#include <stdlib.h>
#include <string.h>

void
mc_swim_config_default(mc_swim_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->probe_interval_ms = 1000;
	cfg->probe_timeout_ms = 500;
	cfg->indirect_k = 3;
	cfg->retransmit_mult = 4;
	cfg->suspicion_min_mult = 4;
	cfg->suspicion_max_mult = 6;
	cfg->awareness_max = 8;
	cfg->phi_threshold = 8.0;
	cfg->phi_window = 100;
	cfg->phi_min_std_ms = 0;	/* 0 = probe_interval_ms / 2 */
	cfg->phi_min_samples = 8;
	cfg->push_pull_interval_ms = 30000;
	cfg->max_packet = MC_SWIM_MAX_PACKET;
	cfg->self.voter = true;
}

/* splitmix64: small, fast, and deterministic for a given seed. */
uint64_t
mc_swim_rand(mc_swim *s)
{
	uint64_t	z = (s->rng += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

uint32_t
mc_swim_rand_below(mc_swim *s, uint32_t n)
{
	return n ? (uint32_t) (mc_swim_rand(s) % n) : 0;
}

/* Lifeguard: own timeouts stretch by (local health score + 1). */
uint64_t
mc_swim_scaled(const mc_swim *s, uint64_t ms)
{
	return ms * (uint64_t) (s->awareness + 1);
}

static bool
addr_ok(const mc_swim_addr *a)
{
	size_t		n = strnlen(a->host, MC_SWIM_HOST_LEN);

	return n > 0 && n < MC_SWIM_HOST_LEN && a->port != 0;
}

mc_swim *
mc_swim_create(const mc_swim_config *cfg, uint64_t now_ms)
{
	mc_swim    *s;
	mc_swim_rec self;
	int			i;

	if (cfg->self.node_id == 0 || !addr_ok(&cfg->self.addr) ||
		cfg->probe_interval_ms == 0 ||
		cfg->probe_timeout_ms == 0 ||
		cfg->probe_timeout_ms >= cfg->probe_interval_ms ||
		cfg->max_packet < MC_SWIM_MIN_PACKET ||
		cfg->max_packet > MC_SWIM_MAX_PACKET ||
		cfg->suspicion_min_mult == 0 ||
		cfg->suspicion_max_mult == 0 ||
		cfg->awareness_max == 0 || cfg->retransmit_mult == 0 ||
		cfg->phi_window == 0 ||
		cfg->self.raft_role > MC_SWIM_RAFT_LEARNER ||
		cfg->nseeds < 0 || cfg->nseeds > MC_SWIM_MAX_SEEDS)
		return NULL;
	for (i = 0; i < cfg->nseeds; i++)
		if (!addr_ok(&cfg->seeds[i]))
			return NULL;

	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->cfg = *cfg;
	if (s->cfg.phi_min_std_ms <= 0)
		s->cfg.phi_min_std_ms = cfg->probe_interval_ms / 2.0;
	if (s->cfg.phi_min_samples == 0)
		s->cfg.phi_min_samples = 1;
	s->now = now_ms;
	s->rng = cfg->rng_seed ^ ((uint64_t) cfg->self.node_id << 48);
	s->scratch = malloc(sizeof(mc_swim_rec) * MC_SWIM_MAX_RECS);
	if (s->scratch == NULL)
	{
		free(s);
		return NULL;
	}

	memset(&self, 0, sizeof(self));
	self.state = MC_SWIM_ALIVE;
	self.node = cfg->self.node_id;
	self.from = cfg->self.node_id;
	self.inc = cfg->initial_incarnation;
	self.meta = cfg->self;
	if (mc_swim_add_node(s, &self, now_ms) == NULL)
	{
		mc_swim_destroy(s);
		return NULL;
	}
	s->next_probe_at = now_ms + mc_swim_rand_below(s, cfg->probe_interval_ms);
	s->next_pp_at = now_ms + (cfg->push_pull_interval_ms ?
							  cfg->push_pull_interval_ms : UINT32_MAX);
	s->next_join_at = now_ms;
	s->join_backoff_ms = cfg->probe_interval_ms;
	s->synced = (cfg->nseeds == 0);
	s->alone = true;
	return s;
}

void
mc_swim_destroy(mc_swim *s)
{
	int			i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nnodes; i++)
		mc_phi_free(&s->nodes[i].phi);
	free(s->nodes);
	free(s->hash);
	free(s->plist);
	free(s->bq);
	free(s->outq);
	free(s->scratch);
	free(s);
}

/* Seeds other than our own address. */
static void
join_tick(mc_swim *s, uint64_t now)
{
	int			i,
				tries;

	if (s->nalive > 0)
		s->alone = false;
	else if (!s->alone)
	{
		/* everyone else just went away: start over at a fast pace */
		s->alone = true;
		s->join_backoff_ms = s->cfg.probe_interval_ms;
		s->next_join_at = now;
	}
	if (now < s->next_join_at)
		return;
	if (s->nalive > 0 && s->synced)
		return;
	for (i = 0; i < s->cfg.nseeds; i++)
		if (!mc_swim_addr_eq(&s->cfg.seeds[i], &s->cfg.self.addr))
			mc_swim_push_pull(s, &s->cfg.seeds[i], MC_SWIM_F_WANT_REPLY);
	/* and a couple of members we believe dead: seeds may be down too */
	for (tries = 0; tries < 2 && s->nnodes > 1; tries++)
	{
		mc_swim_node *n = &s->nodes[1 + mc_swim_rand_below(s, s->nnodes - 1)];

		if (n->state == MC_SWIM_DEAD && !mc_swim_is_blocked(s, n->meta.node_id))
			mc_swim_push_pull(s, &n->meta.addr, MC_SWIM_F_WANT_REPLY);
	}
	s->next_join_at = now + s->join_backoff_ms;
	if (s->join_backoff_ms < s->cfg.push_pull_interval_ms)
		s->join_backoff_ms *= 2;
	if (s->cfg.push_pull_interval_ms && s->join_backoff_ms > s->cfg.push_pull_interval_ms)
		s->join_backoff_ms = s->cfg.push_pull_interval_ms;
}

/*
 * Periodic push-pull: one random alive member, and one random member we
 * think dead (not left), so the two sides of a healed partition find each
 * other again even when neither sees anyone of the other side alive.
 */
static void
push_pull_tick(mc_swim *s, uint64_t now)
{
	int			i,
				cand_alive = -1,
				cand_dead = -1,
				seen_alive = 0,
				seen_dead = 0;

	if (s->cfg.push_pull_interval_ms == 0 || now < s->next_pp_at)
		return;
	s->next_pp_at = now + s->cfg.push_pull_interval_ms;
	/* reservoir-pick one of each kind in one pass */
	for (i = 1; i < s->nnodes; i++)
	{
		mc_swim_node *n = &s->nodes[i];

		if (mc_swim_is_blocked(s, n->meta.node_id))
			continue;
		if (n->state == MC_SWIM_ALIVE)
		{
			if (mc_swim_rand_below(s, ++seen_alive) == 0)
				cand_alive = i;
		}
		else if (n->state == MC_SWIM_DEAD)
		{
			if (mc_swim_rand_below(s, ++seen_dead) == 0)
				cand_dead = i;
		}
	}
	if (cand_alive > 0)
		mc_swim_push_pull(s, &s->nodes[cand_alive].meta.addr, MC_SWIM_F_WANT_REPLY);
	if (cand_dead > 0)
		mc_swim_push_pull(s, &s->nodes[cand_dead].meta.addr, MC_SWIM_F_WANT_REPLY);
}

void
mc_swim_tick(mc_swim *s, uint64_t now_ms)
{
	if (now_ms < s->now)
		now_ms = s->now;
	s->now = now_ms;
	if (s->leaving)
		return;
	join_tick(s, now_ms);
	mc_swim_probe_tick(s, now_ms);
	if (s->nsuspect > 0)
		mc_swim_expire_suspicions(s, now_ms);
	push_pull_tick(s, now_ms);
}

uint64_t
mc_swim_next_deadline(const mc_swim *s)
{
	uint64_t	d = s->next_probe_at;
	int			i;

	if (s->leaving)
		return UINT64_MAX;
	if (s->probe.active && !s->probe.acked && !s->probe.indirect_sent &&
		s->probe.timeout_at < d)
		d = s->probe.timeout_at;
	for (i = 0; i < s->nrelays; i++)
		if (s->relays[i].deadline < d)
			d = s->relays[i].deadline;
	if (s->cfg.push_pull_interval_ms && s->next_pp_at < d)
		d = s->next_pp_at;
	if ((s->nalive == 0 || !s->synced) && s->cfg.nseeds + s->nnodes > 1 &&
		s->next_join_at < d)
		d = s->next_join_at;
	if (s->nsuspect > 0)
	{
		for (i = 1; i < s->nnodes; i++)
			if (s->nodes[i].state == MC_SWIM_SUSPECT && s->nodes[i].susp_deadline < d)
				d = s->nodes[i].susp_deadline;
	}
	return d;
}

void
mc_swim_leave(mc_swim *s, uint64_t now_ms)
{
	mc_swim_node *self = &s->nodes[0];
	mc_swim_rec r;
	int			i,
				sent = 0,
				want = 2 * (int) s->cfg.indirect_k + 1;

	if (s->leaving)
		return;
	if (now_ms > s->now)
		s->now = now_ms;
	self->inc++;
	mc_swim_set_state(s, self, MC_SWIM_LEFT, s->now);
	mc_swim_node_rec(self, &r, self->meta.node_id);
	mc_swim_bcast_queue(s, &r);
	/* tell a few alive members directly, starting at a random one */
	if (s->nnodes > 1)
	{
		int			start = (int) mc_swim_rand_below(s, s->nnodes - 1);

		for (i = 0; i < s->nnodes - 1 && sent < want; i++)
		{
			mc_swim_node *n = &s->nodes[1 + (start + i) % (s->nnodes - 1)];
			mc_swim_msg m;

			if (n->state != MC_SWIM_ALIVE && n->state != MC_SWIM_SUSPECT)
				continue;
			memset(&m, 0, sizeof(m));
			m.type = MC_SWIM_MSG_PING;
			m.sender = self->meta.node_id;
			m.seq = ++s->seq;
			m.target = n->meta.node_id;
			mc_swim_send(s, &n->meta.addr, &m, true);
			sent++;
		}
	}
	s->leaving = true;
}

bool
mc_swim_set_meta(mc_swim *s, uint64_t now_ms, const mc_swim_meta *meta)
{
	mc_swim_node *self = &s->nodes[0];
	mc_swim_rec r;

	if (meta->node_id != self->meta.node_id ||
		!mc_swim_addr_eq(&meta->addr, &self->meta.addr) ||
		meta->raft_role > MC_SWIM_RAFT_LEARNER)
		return false;
	if (now_ms > s->now)
		s->now = now_ms;
	self->meta = *meta;
	s->cfg.self = *meta;
	self->inc++;
	mc_swim_node_rec(self, &r, self->meta.node_id);
	mc_swim_bcast_queue(s, &r);
	return true;
}

int
mc_swim_local_health(const mc_swim *s)
{
	return s->awareness;
}

void
mc_swim_get_stats(const mc_swim *s, mc_swim_stats *out)
{
	*out = s->stats;
}

const char *
mc_swim_state_name(mc_swim_state st)
{
	switch (st)
	{
		case MC_SWIM_ALIVE:
			return "alive";
		case MC_SWIM_SUSPECT:
			return "suspect";
		case MC_SWIM_DEAD:
			return "dead";
		case MC_SWIM_LEFT:
			return "left";
	}
	return "unknown";
}

const char *
mc_swim_event_name(mc_swim_event_type t)
{
	switch (t)
	{
		case MC_SWIM_EV_JOINED:
			return "joined";
		case MC_SWIM_EV_SUSPECT:
			return "suspect";
		case MC_SWIM_EV_DEAD:
			return "dead";
		case MC_SWIM_EV_LEFT:
			return "left";
		case MC_SWIM_EV_ALIVE:
			return "alive";
		case MC_SWIM_EV_UPDATED:
			return "updated";
		case MC_SWIM_EV_CONFLICT:
			return "conflict";
		case MC_SWIM_EV_REFUTED:
			return "refuted";
	}
	return "unknown";
}
