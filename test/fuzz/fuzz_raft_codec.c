/*
 * fuzz_raft_codec.c — libFuzzer target for the Raft wire codec: decode
 * arbitrary bytes as a message and as a configuration; whatever decodes is
 * re-encoded and must give back exactly the same bytes and size.
 */
#include "raft.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mc_raft_msg m;
	mc_raft_conf c;

	if (mc_raft_msg_decode(data, size, &m) == 0)
	{
		size_t		sz = mc_raft_msg_size(&m);
		uint8_t    *buf = malloc(sz ? sz : 1);
		int64_t		n = mc_raft_msg_encode(&m, buf, sz);

		/* canonical encoding: a decoded message re-encodes identically */
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
	return 0;
}
