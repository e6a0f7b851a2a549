/*
 * fuzz_swim_codec.c — libFuzzer target for the SWIM plaintext decoders:
 * the datagram decoder, a whole node receiving the bytes (every handler
 * behind the decoder), and the member-list import.  A decoded datagram is
 * re-encoded and must decode to the same message (round-trip property).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swim_int.h"

static mc_swim_rec recs[MC_SWIM_MAX_RECS];
static mc_swim_rec recs2[MC_SWIM_MAX_RECS];
static mc_swim *node;

static mc_swim *
fresh_node(void)
{
	mc_swim_config cfg;
	mc_swim_rec r;

	mc_swim_config_default(&cfg);
	cfg.self.node_id = 1;
	strcpy(cfg.self.addr.host, "10.0.0.1");
	cfg.self.addr.port = 1179;
	cfg.nseeds = 1;
	strcpy(cfg.seeds[0].host, "10.0.0.2");
	cfg.seeds[0].port = 1179;
	node = mc_swim_create(&cfg, 0);
	if (node == NULL)
		abort();
	/* a few known members so records about them reach every rule */
	for (uint16_t id = 2; id <= 5; id++)
	{
		memset(&r, 0, sizeof(r));
		r.state = MC_SWIM_ALIVE;
		r.node = id;
		r.from = id;
		r.meta.node_id = id;
		snprintf(r.meta.addr.host, MC_SWIM_HOST_LEN, "10.0.0.%d", id);
		r.meta.addr.port = 1179;
		mc_swim_merge(node, &r, 0);
	}
	return node;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mc_swim_msg m,
				m2;
	static uint64_t now = 0;
	static int	uses = 0;
	uint8_t		buf[MC_SWIM_MAX_PACKET];
	mc_swim_addr from,
				to;

	if (node == NULL || ++uses > 1000)
	{
		mc_swim_destroy(node);
		node = fresh_node();
		uses = 0;
	}

	if (mc_swim_decode(data, size, &m, recs))
	{
		mc_writer	w;
		size_t		pos;
		int			i;

		mc_writer_init(&w, buf, sizeof(buf));
		pos = mc_swim_enc_begin(&w, &m);
		for (i = 0; i < m.nrecs; i++)
			mc_swim_put_rec(&w, &recs[i]);
		mc_swim_enc_finish(&w, pos, m.nrecs);
		if (!w.err)
		{
			if (!mc_swim_decode(buf, w.len, &m2, recs2) || m2.type != m.type ||
				m2.sender != m.sender || m2.seq != m.seq || m2.nrecs != m.nrecs ||
				w.len != size)
				abort();
		}
	}

	/* the whole receive path, then drain what it wanted to send */
	memset(&from, 0, sizeof(from));
	strcpy(from.host, "10.0.0.3");
	from.port = 1179;
	now += 37;
	(void) mc_swim_receive(node, now, &from, data, size);
	mc_swim_tick(node, now);
	while (mc_swim_next_outgoing(node, &to, buf, sizeof(buf)) != 0)
		;
	{
		mc_swim_event ev;

		while (mc_swim_next_event(node, &ev))
			;
	}

	/* the persisted member list decoder */
	if (size > 0 && data[0] == 0x4D)
	{
		mc_swim    *tmp;
		mc_swim_config cfg = node->cfg;

		tmp = mc_swim_create(&cfg, 0);
		if (tmp)
		{
			(void) mc_swim_import(tmp, 0, data, size);
			mc_swim_destroy(tmp);
		}
	}
	return 0;
}
