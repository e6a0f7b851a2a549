/*
 * rsim_net.c — the simulated network: a binary min-heap of in-flight
 * messages keyed by (deliver_at, seq), with loss, delay, duplication and
 * cuts decided by the simulator's PRNG.
 */
#include <stdlib.h>
#include <string.h>

#include "rsim_net.h"

static bool
msg_less(const rsim_msg *a, const rsim_msg *b)
{
	if (a->deliver_at != b->deliver_at)
		return a->deliver_at < b->deliver_at;
	return a->seq < b->seq;
}

static void
heap_push(rsim_net *net, rsim_msg m)
{
	size_t		i;

	if (net->nheap == net->capheap)
	{
		net->capheap = net->capheap ? net->capheap * 2 : 256;
		net->heap = realloc(net->heap, net->capheap * sizeof(rsim_msg));
		if (!net->heap)
			abort();
	}
	i = net->nheap++;
	net->heap[i] = m;
	while (i > 0)
	{
		size_t		p = (i - 1) / 2;
		rsim_msg	t;

		if (!msg_less(&net->heap[i], &net->heap[p]))
			break;
		t = net->heap[i];
		net->heap[i] = net->heap[p];
		net->heap[p] = t;
		i = p;
	}
}

static rsim_msg
heap_pop(rsim_net *net)
{
	rsim_msg	top = net->heap[0];
	size_t		i = 0;

	net->heap[0] = net->heap[--net->nheap];
	for (;;)
	{
		size_t		l = 2 * i + 1,
					r = l + 1,
					m = i;
		rsim_msg	t;

		if (l < net->nheap && msg_less(&net->heap[l], &net->heap[m]))
			m = l;
		if (r < net->nheap && msg_less(&net->heap[r], &net->heap[m]))
			m = r;
		if (m == i)
			break;
		t = net->heap[i];
		net->heap[i] = net->heap[m];
		net->heap[m] = t;
		i = m;
	}
	return top;
}

static uint64_t
pick_delay(rsim_net *net)
{
	uint64_t	d = rsim_rng_range(net->rng, net->delay_min, net->delay_max);

	if (net->slow_permille && rsim_rng_chance(net->rng, net->slow_permille))
		d += rsim_rng_range(net->rng, 0, net->slow_max);
	return d;
}

static void
drop_data(rsim_net *net, void *data)
{
	if (net->free_data)
		net->free_data(data);
	else
		free(data);
}

void
rsim_net_init(rsim_net *net, rsim_rng *rng, void (*free_data) (void *))
{
	memset(net, 0, sizeof(*net));
	net->rng = rng;
	net->free_data = free_data;
	net->delay_min = 1;
	net->delay_max = 5;
}

void
rsim_net_free(rsim_net *net)
{
	size_t		i;

	for (i = 0; i < net->nheap; i++)
		drop_data(net, net->heap[i].data);
	free(net->heap);
	net->heap = NULL;
	net->nheap = net->capheap = 0;
}

void
rsim_net_send(rsim_net *net, uint64_t now, int from, int to,
			  void *data, size_t len,
			  void *(*dup_data) (const void *, size_t))
{
	rsim_msg	m;

	net->n_sent++;
	if (from <= 0 || from >= RSIM_MAX_NODES || to <= 0 || to >= RSIM_MAX_NODES)
	{
		net->n_lost++;
		drop_data(net, data);
		return;
	}
	if (net->cut[from][to])
	{
		net->n_cut++;
		drop_data(net, data);
		return;
	}
	if (rsim_rng_chance(net->rng, net->loss[from][to]))
	{
		net->n_lost++;
		drop_data(net, data);
		return;
	}
	if (rsim_rng_chance(net->rng, net->dup_permille))
	{
		void	   *copy;

		if (dup_data)
			copy = dup_data(data, len);
		else
		{
			copy = malloc(len ? len : 1);
			if (!copy)
				abort();
			memcpy(copy, data, len);
		}
		m.deliver_at = now + pick_delay(net);
		m.seq = net->seq++;
		m.from = from;
		m.to = to;
		m.data = copy;
		m.len = len;
		heap_push(net, m);
		net->n_dup++;
	}
	m.deliver_at = now + pick_delay(net);
	m.seq = net->seq++;
	m.from = from;
	m.to = to;
	m.data = data;
	m.len = len;
	heap_push(net, m);
}

bool
rsim_net_next_time(const rsim_net *net, uint64_t *t)
{
	if (net->nheap == 0)
		return false;
	*t = net->heap[0].deliver_at;
	return true;
}

bool
rsim_net_pop(rsim_net *net, uint64_t now, rsim_msg *out)
{
	while (net->nheap > 0 && net->heap[0].deliver_at <= now)
	{
		rsim_msg	m = heap_pop(net);

		if (net->cut[m.from][m.to])
		{
			net->n_cut++;
			drop_data(net, m.data);
			continue;
		}
		net->n_delivered++;
		*out = m;
		return true;
	}
	return false;
}

void
rsim_net_drop_node(rsim_net *net, int id)
{
	size_t		i = 0;
	rsim_msg   *keep;
	size_t		nkeep = 0;

	if (net->nheap == 0)
		return;
	keep = malloc(net->nheap * sizeof(rsim_msg));
	if (!keep)
		abort();
	for (i = 0; i < net->nheap; i++)
	{
		if (net->heap[i].from == id || net->heap[i].to == id)
			drop_data(net, net->heap[i].data);
		else
			keep[nkeep++] = net->heap[i];
	}
	net->nheap = 0;
	for (i = 0; i < nkeep; i++)
		heap_push(net, keep[i]);
	free(keep);
}

void
rsim_net_set_cut(rsim_net *net, int from, int to, bool cut)
{
	if (from > 0 && from < RSIM_MAX_NODES && to > 0 && to < RSIM_MAX_NODES)
		net->cut[from][to] = cut;
}

void
rsim_net_heal(rsim_net *net)
{
	memset(net->cut, 0, sizeof(net->cut));
	memset(net->loss, 0, sizeof(net->loss));
}
