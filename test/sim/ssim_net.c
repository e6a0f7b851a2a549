/*
 * ssim_net.c — the simulated world of the SWIM simulator and bench: nodes,
 * a priority queue of in-flight datagrams, loss / delay / duplication /
 * partitions / crashes, all driven by one seeded PRNG (see ssim_net.h).
 */
#include "ssim_net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swim_int.h"

struct ssim_pkt
{
	uint64_t	at;
	uint64_t	seq;
	int			from;
	int			to;
	uint16_t	len;
	uint8_t		data[];
};

static uint64_t
rnd(ssim_world *w)
{
	uint64_t	z = (w->rng += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

uint32_t
ssim_rand_below(ssim_world *w, uint32_t n)
{
	return n ? (uint32_t) (rnd(w) % n) : 0;
}

static double
rnd01(ssim_world *w)
{
	return (rnd(w) >> 11) * (1.0 / 9007199254740992.0);
}

void
ssim_opts_default(ssim_opts *o, int n, uint64_t seed)
{
	memset(o, 0, sizeof(*o));
	o->n = n;
	o->seed = seed;
	o->loss = 0.05;
	o->dup = 0.01;
	o->delay_min_ms = 1;
	o->delay_max_ms = 40;
	o->nseeds = n < 3 ? n : 3;
	mc_swim_config_default(&o->base);
}

static void
addr_of(int id, mc_swim_addr *a)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->host, MC_SWIM_HOST_LEN, "n%d", id);
	a->port = 1179;
}

static int
id_of(const mc_swim_addr *a)
{
	int			id;

	if (sscanf(a->host, "n%d", &id) != 1)
		return 0;
	return id;
}

/* ---- heap ------------------------------------------------------------- */

static bool
before(const ssim_pkt *a, const ssim_pkt *b)
{
	return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void
heap_push(ssim_world *w, ssim_pkt *p)
{
	int			i;

	if (w->nheap == w->capheap)
	{
		w->capheap = w->capheap ? w->capheap * 2 : 1024;
		w->heap = realloc(w->heap, sizeof(ssim_pkt *) * w->capheap);
		if (w->heap == NULL)
			abort();
	}
	i = w->nheap++;
	while (i > 0 && before(p, w->heap[(i - 1) / 2]))
	{
		w->heap[i] = w->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	w->heap[i] = p;
}

static ssim_pkt *
heap_pop(ssim_world *w)
{
	ssim_pkt   *top = w->heap[0],
			   *last = w->heap[--w->nheap];
	int			i = 0;

	for (;;)
	{
		int			c = 2 * i + 1;

		if (c >= w->nheap)
			break;
		if (c + 1 < w->nheap && before(w->heap[c + 1], w->heap[c]))
			c++;
		if (!before(w->heap[c], last))
			break;
		w->heap[i] = w->heap[c];
		i = c;
	}
	if (w->nheap > 0)
		w->heap[i] = last;
	return top;
}

/* ---- nodes ------------------------------------------------------------ */

static mc_swim *
make_node(ssim_world *w, int id)
{
	mc_swim_config cfg = w->o.base;
	int			i;

	cfg.self.node_id = (uint16_t) id;
	addr_of(id, &cfg.self.addr);
	cfg.self.rpc_port = 7911;
	cfg.self.sql_port = 5432;
	cfg.rng_seed = w->o.seed * 1000003ULL + (uint64_t) id * 7919ULL + w->now;
	cfg.nseeds = 0;
	for (i = 1; i <= w->o.nseeds && i <= w->o.n && cfg.nseeds < MC_SWIM_MAX_SEEDS; i++)
		addr_of(i, &cfg.seeds[cfg.nseeds++]);
	return mc_swim_create(&cfg, w->now);
}

/* Move everything node id queued onto the wire. */
void
ssim_flush(ssim_world *w, int id)
{
	uint8_t		buf[MC_SWIM_MAX_PACKET];
	mc_swim_addr to;
	int			n;

	while ((n = mc_swim_next_outgoing(w->node[id], &to, buf, sizeof(buf))) != 0)
	{
		int			dst = id_of(&to),
					copies = 1,
					c;

		if (n < 0)
			continue;
		w->sent++;
		if (dst < 1 || dst > w->o.n)
			continue;
		if (rnd01(w) < w->o.loss)
		{
			w->lost++;
			continue;
		}
		if (rnd01(w) < w->o.dup)
			copies = 2;
		for (c = 0; c < copies; c++)
		{
			ssim_pkt   *p = malloc(sizeof(ssim_pkt) + n);
			uint32_t	span = w->o.delay_max_ms - w->o.delay_min_ms + 1;

			if (p == NULL)
				abort();
			p->at = w->now + w->o.delay_min_ms + ssim_rand_below(w, span);
			p->seq = w->pkt_seq++;
			p->from = id;
			p->to = dst;
			p->len = (uint16_t) n;
			memcpy(p->data, buf, n);
			heap_push(w, p);
		}
	}
	w->deadline[id] = mc_swim_next_deadline(w->node[id]);
}

ssim_world *
ssim_create(const ssim_opts *o)
{
	ssim_world *w = calloc(1, sizeof(*w));
	int			i;

	if (w == NULL)
		abort();
	w->o = *o;
	w->rng = o->seed ^ 0x5357494D53494DULL;
	w->node = calloc(o->n + 1, sizeof(mc_swim *));
	w->deadline = calloc(o->n + 1, sizeof(uint64_t));
	w->side = calloc(o->n + 1, sizeof(int));
	if (!w->node || !w->deadline || !w->side)
		abort();
	for (i = 1; i <= o->n; i++)
	{
		w->node[i] = make_node(w, i);
		if (w->node[i] == NULL)
			abort();
	}
	if (o->prefill)
	{
		/* one node that knows everyone exports, every node imports */
		mc_swim    *all = w->node[1];
		size_t		need,
					len;
		uint8_t    *buf;

		for (i = 2; i <= o->n; i++)
		{
			mc_swim_rec r;

			memset(&r, 0, sizeof(r));
			r.state = MC_SWIM_ALIVE;
			r.node = (uint16_t) i;
			r.from = (uint16_t) i;
			r.meta = w->node[i]->cfg.self;
			mc_swim_merge(all, &r, 0);
		}
		need = mc_swim_export(all, NULL, 0);
		buf = malloc(need);
		len = mc_swim_export(all, buf, need);
		for (i = 2; i <= o->n; i++)
			(void) mc_swim_import(w->node[i], 0, buf, len);
		free(buf);
		for (i = 1; i <= o->n; i++)
		{
			mc_swim_event ev;

			/* a consistent start: everyone at incarnation 0, nothing to gossip */
			w->node[i]->nodes[0].inc = 0;
			mc_swim_bcast_clear(w->node[i]);
			w->node[i]->synced = true;
			while (mc_swim_next_event(w->node[i], &ev))
				;
		}
	}
	for (i = 1; i <= o->n; i++)
		w->deadline[i] = mc_swim_next_deadline(w->node[i]);
	return w;
}

void
ssim_destroy(ssim_world *w)
{
	int			i;

	for (i = 1; i <= w->o.n; i++)
		mc_swim_destroy(w->node[i]);
	for (i = 0; i < w->nheap; i++)
		free(w->heap[i]);
	free(w->heap);
	free(w->node);
	free(w->deadline);
	free(w->side);
	free(w);
}

void
ssim_run_until(ssim_world *w, uint64_t t)
{
	while (w->now < t)
	{
		int			i;

		w->now += 5;
		if (w->now > t)
			w->now = t;
		while (w->nheap > 0 && w->heap[0]->at <= w->now)
		{
			ssim_pkt   *p = heap_pop(w);

			/* (a packet from a node that crashed meanwhile still arrives) */
			if (w->node[p->to] && w->side[p->from] == w->side[p->to])
			{
				mc_swim_addr from;

				addr_of(p->from, &from);
				w->delivered++;
				mc_swim_receive(w->node[p->to], w->now, &from, p->data, p->len);
				ssim_flush(w, p->to);
			}
			free(p);
		}
		for (i = 1; i <= w->o.n; i++)
			if (w->node[i] && w->deadline[i] <= w->now)
			{
				mc_swim_tick(w->node[i], w->now);
				ssim_flush(w, i);
			}
	}
}

void
ssim_crash(ssim_world *w, int id)
{
	mc_swim_destroy(w->node[id]);
	w->node[id] = NULL;
}

void
ssim_restart(ssim_world *w, int id)
{
	if (w->node[id])
		return;
	w->node[id] = make_node(w, id);
	w->deadline[id] = mc_swim_next_deadline(w->node[id]);
}

void
ssim_restart_import(ssim_world *w, int id, const uint8_t *buf, size_t len)
{
	ssim_restart(w, id);
	if (mc_swim_import(w->node[id], w->now, buf, len) < 0)
		abort();
	w->deadline[id] = mc_swim_next_deadline(w->node[id]);
}

bool
ssim_up(const ssim_world *w, int id)
{
	return w->node[id] != NULL;
}

void
ssim_set_side(ssim_world *w, int id, int g)
{
	w->side[id] = g;
}

void
ssim_heal(ssim_world *w)
{
	int			i;

	for (i = 1; i <= w->o.n; i++)
		w->side[i] = 0;
}

int
ssim_view(const ssim_world *w, int observer, int subject)
{
	mc_swim_member m;

	if (!w->node[observer] ||
		!mc_swim_member_find(w->node[observer], (uint16_t) subject, w->now, &m))
		return -1;
	return (int) m.state;
}

uint32_t
ssim_inc(const ssim_world *w, int observer, int subject)
{
	mc_swim_member m;

	if (!w->node[observer] ||
		!mc_swim_member_find(w->node[observer], (uint16_t) subject, w->now, &m))
		return 0;
	return m.incarnation;
}
