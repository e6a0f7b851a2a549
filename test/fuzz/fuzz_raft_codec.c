/*
 * fuzz_raft_codec.c — libFuzzer target for the Raft wire codec and the
 * message handlers behind it.
 *
 * 1. The whole input is decoded as one message and as a configuration;
 *    whatever decodes must re-encode to exactly the same bytes.
 * 2. The input is also read as frames (u16 length + bytes); each frame that
 *    decodes is stepped into a fresh 3-voter node (as if from a peer), with
 *    ready/advance and a tick in between: arbitrary well-formed messages
 *    must never crash a node or make it misbehave under the sanitizers.
 */
#include "raft.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void
check_canonical(const uint8_t *data, size_t size)
{
	mc_raft_msg m;
	mc_raft_conf c;

	if (mc_raft_msg_decode(data, size, &m) == 0)
	{
		size_t		sz = mc_raft_msg_size(&m);
		uint8_t    *buf = malloc(sz ? sz : 1);
		int64_t		n = mc_raft_msg_encode(&m, buf, sz);

		if (n != (int64_t) size || sz != size || memcmp(buf, data, size) != 0)
			abort();
		free(buf);
		mc_raft_msg_free_decoded(&m);
	}
	if (mc_raft_conf_decode(data, size, &c) == 0)
	{
		uint8_t		buf[MC_RAFT_CONF_MAX_BYTES];
		int			n = mc_raft_conf_encode(&c, buf, sizeof(buf));

		if (n != (int) size || memcmp(buf, data, size) != 0)
			abort();
	}
}

static void
drain(mc_raft *r)
{
	mc_raft_batch b;

	while (mc_raft_has_ready(r))
	{
		mc_raft_ready(r, &b);
		/* every outgoing message must encode */
		for (size_t i = 0; i < b.n_msgs; i++)
		{
			size_t		sz = mc_raft_msg_size(&b.msgs[i]);
			uint8_t    *buf = malloc(sz ? sz : 1);

			if (mc_raft_msg_encode(&b.msgs[i], buf, sz) != (int64_t) sz)
				abort();
			free(buf);
		}
		mc_raft_advance(r, &b);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mc_raft_config cfg;
	mc_raft_snapshot_meta snap;
	mc_raft    *r;
	size_t		pos = 0;

	check_canonical(data, size);

	memset(&cfg, 0, sizeof(cfg));
	cfg.id = 1;
	cfg.election_ticks = 4;
	cfg.heartbeat_ticks = 1;
	cfg.max_batch_bytes = 64;
	cfg.pre_vote = (size & 1) != 0;
	cfg.check_quorum = (size & 2) != 0;
	memset(&snap, 0, sizeof(snap));
	snap.conf.n_voters = 3;
	snap.conf.voters[0] = 1;
	snap.conf.voters[1] = 2;
	snap.conf.voters[2] = 3;
	r = mc_raft_create(&cfg, NULL, &snap, NULL, 0, NULL, 0);
	if (r == NULL)
		abort();
	while (pos + 2 <= size)
	{
		size_t		len = ((size_t) data[pos] << 8) | data[pos + 1];
		mc_raft_msg m;

		pos += 2;
		if (len > size - pos)
			len = size - pos;
		if (mc_raft_msg_decode(data + pos, len, &m) == 0)
		{
			m.to = 1;
			if (m.from == 1)
				m.from = 2;
			mc_raft_step(r, &m);
			mc_raft_msg_free_decoded(&m);
		}
		else if (len == 0)
		{
			/* an empty frame: let time pass, and act as a client */
			for (int i = 0; i < 3; i++)
				mc_raft_tick(r);
			mc_raft_propose(r, MC_RAFT_ENTRY_NORMAL, 1, pos, data, (uint32_t) (size < 100 ? size : 100), NULL);
			mc_raft_read_index(r, pos);
		}
		pos += len;
		drain(r);
		mc_raft_tick(r);
		drain(r);
	}
	mc_raft_destroy(r);
	return 0;
}
