/*
 * swim_persist.c — export / import of the member list so the driver can
 * keep it on disk and a restarted node rejoins even when its seeds are
 * down.  Format: u8 0x4D, u8 version 1, u32 count, then count member
 * records in the wire record layout (self first).
 */
#include "swim_int.h"

#include <stdlib.h>
#include <string.h>

#define PERSIST_MAGIC	0x4D
#define PERSIST_VERSION	1

size_t
mc_swim_export(const mc_swim *s, uint8_t *buf, size_t cap)
{
	mc_writer	w;
	int			i;

	mc_writer_init(&w, buf, cap);
	mc_put_u8(&w, PERSIST_MAGIC);
	mc_put_u8(&w, PERSIST_VERSION);
	mc_put_u32(&w, (uint32_t) s->nnodes);
	for (i = 0; i < s->nnodes && !w.err; i++)
	{
		mc_swim_rec r;

		mc_swim_node_rec(&s->nodes[i], &r, s->nodes[i].meta.node_id);
		mc_swim_put_rec(&w, &r);
	}
	if (!w.err)
		return w.len;
	/* did not fit: compute the size needed */
	{
		uint8_t		tmp[MC_SWIM_REC_MAX_SIZE];
		size_t		need = 6;

		for (i = 0; i < s->nnodes; i++)
		{
			mc_swim_rec r;

			mc_swim_node_rec(&s->nodes[i], &r, s->nodes[i].meta.node_id);
			mc_writer_init(&w, tmp, sizeof(tmp));
			mc_swim_put_rec(&w, &r);
			need += w.len;
		}
		return need > cap ? need : cap + 1;
	}
}

int
mc_swim_import(mc_swim *s, uint64_t now_ms, const uint8_t *buf, size_t len)
{
	mc_reader	rd;
	uint32_t	count,
				i;
	mc_swim_rec *recs;
	int			added = 0;
	uint16_t	self_id = s->nodes[0].meta.node_id;

	mc_reader_init(&rd, buf, len);
	if (mc_get_u8(&rd) != PERSIST_MAGIC || mc_get_u8(&rd) != PERSIST_VERSION)
		return -1;
	count = mc_get_u32(&rd);
	if (rd.err || count > mc_remaining(&rd) / 40 + 1)
		return -1;				/* a record takes at least 40 bytes */
	recs = malloc(sizeof(mc_swim_rec) * (count ? count : 1));
	if (recs == NULL)
		return -1;
	for (i = 0; i < count; i++)
		if (!mc_swim_get_rec(&rd, &recs[i]))
			break;
	if (i < count || rd.err || mc_remaining(&rd) != 0)
	{
		free(recs);
		return -1;
	}
	if (now_ms > s->now)
		s->now = now_ms;
	for (i = 0; i < count; i++)
	{
		mc_swim_rec *r = &recs[i];

		if (r->node == self_id)
		{
			mc_swim_node *self = &s->nodes[0];

			if (mc_swim_addr_eq(&r->meta.addr, &self->meta.addr) &&
				r->inc >= self->inc)
				self->inc = r->inc + 1;
			continue;
		}
		if (mc_swim_lookup(s, r->node) != NULL || r->state == MC_SWIM_LEFT)
			continue;
		r->state = MC_SWIM_ALIVE;
		r->from = r->node;
		if (mc_swim_add_node(s, r, s->now) != NULL)
			added++;
	}
	free(recs);
	{
		/* gossip our (new) incarnation */
		mc_swim_rec me;

		mc_swim_node_rec(&s->nodes[0], &me, self_id);
		mc_swim_bcast_queue(s, &me);
	}
	return added;
}
