/*
 * test_raft_codec.c — unit tests of the Raft wire codec and the
 * configuration codec: round trips of every message type, exact sizes,
 * and refusal of truncated, trailing, or malformed input.
 */
#include "raft.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

static mc_raft_msg
sample(uint8_t type, mc_raft_entry *ents, uint8_t *data)
{
	mc_raft_msg m;

	memset(&m, 0, sizeof(m));
	m.type = type;
	m.flags = MC_RAFT_FLAG_LEADER_LOST;
	m.reject = (type % 2) == 0;
	m.from = 3;
	m.to = 65535;
	m.term = 0x0102030405060708ULL;
	m.index = 77;
	m.log_term = 6;
	m.commit = 70;
	m.context = 0xFFFFFFFFFFFFFFFFULL;
	m.hint_index = 12;
	m.hint_term = 4;
	if (type == MC_RAFT_MSG_APPEND_REQ || type == MC_RAFT_MSG_PROPOSE)
	{
		m.entries = ents;
		m.n_entries = 3;
	}
	if (type == MC_RAFT_MSG_SNAPSHOT_REQ || type == MC_RAFT_MSG_SNAPSHOT_RESP)
	{
		m.snap.index = 500;
		m.snap.term = 9;
		m.snap.conf.n_voters = 2;
		m.snap.conf.voters[0] = 1;
		m.snap.conf.voters[1] = 2;
		m.snap.conf.n_learners = 1;
		m.snap.conf.learners[0] = 5;
		m.offset = 4096;
		m.data = data;
		m.len = 10;
	}
	return m;
}

static void
test_round_trip(void)
{
	mc_raft_entry ents[3];
	uint8_t		data[10] = "0123456789";

	memset(ents, 0, sizeof(ents));
	for (int i = 0; i < 3; i++)
	{
		ents[i].index = 100 + (uint64_t) i;
		ents[i].term = 7;
		ents[i].type = (uint8_t) i;
		ents[i].client_id = 11;
		ents[i].request_id = 20 + (uint64_t) i;
		ents[i].data = i == 1 ? NULL : data;
		ents[i].len = i == 1 ? 0 : (uint32_t) (5 + i);
	}
	for (uint8_t t = MC_RAFT_MSG_PREVOTE_REQ; t <= MC_RAFT_MSG_PROPOSE; t++)
	{
		mc_raft_msg m = sample(t, ents, data);
		mc_raft_msg d;
		size_t		sz = mc_raft_msg_size(&m);
		uint8_t    *buf = malloc(sz);
		int64_t		n = mc_raft_msg_encode(&m, buf, sz);

		CHECK_EQ_INT(n, (int64_t) sz);
		CHECK_EQ_INT(mc_raft_msg_encode(&m, buf, sz - 1), -1);
		CHECK_EQ_INT(mc_raft_msg_decode(buf, sz, &d), 0);
		CHECK_EQ_INT(d.type, t);
		CHECK_EQ_INT(d.flags, m.flags);
		CHECK_EQ_INT(d.reject, m.reject);
		CHECK_EQ_INT(d.from, 3);
		CHECK_EQ_INT(d.to, 65535);
		CHECK(d.term == m.term);
		CHECK(d.context == m.context);
		CHECK_EQ_INT(d.index, 77);
		CHECK_EQ_INT(d.log_term, 6);
		CHECK_EQ_INT(d.commit, 70);
		CHECK_EQ_INT(d.hint_index, 12);
		CHECK_EQ_INT(d.hint_term, 4);
		CHECK_EQ_INT(d.n_entries, m.n_entries);
		for (uint32_t i = 0; i < d.n_entries; i++)
		{
			CHECK_EQ_INT(d.entries[i].index, ents[i].index);
			CHECK_EQ_INT(d.entries[i].type, ents[i].type);
			CHECK_EQ_INT(d.entries[i].request_id, ents[i].request_id);
			CHECK_EQ_INT(d.entries[i].len, ents[i].len);
			if (ents[i].len)
				CHECK(memcmp(d.entries[i].data, ents[i].data, ents[i].len) == 0);
		}
		if (m.len)
		{
			CHECK_EQ_INT(d.snap.index, 500);
			CHECK_EQ_INT(d.snap.conf.n_voters, 2);
			CHECK_EQ_INT(d.snap.conf.learners[0], 5);
			CHECK_EQ_INT(d.offset, 4096);
			CHECK_EQ_INT(d.len, 10);
			CHECK(memcmp(d.data, data, 10) == 0);
		}
		mc_raft_msg_free_decoded(&d);
		/* every truncation and a trailing byte are refused */
		for (size_t cut = 0; cut < sz; cut++)
		{
			mc_raft_msg x;

			CHECK_EQ_INT(mc_raft_msg_decode(buf, cut, &x), -1);
		}
		{
			uint8_t    *longer = malloc(sz + 1);
			mc_raft_msg x;

			memcpy(longer, buf, sz);
			longer[sz] = 0;
			CHECK_EQ_INT(mc_raft_msg_decode(longer, sz + 1, &x), -1);
			free(longer);
		}
		free(buf);
	}
}

static void
test_malformed(void)
{
	mc_raft_msg m;
	mc_raft_msg d;
	uint8_t		buf[256];
	int64_t		n;

	memset(&m, 0, sizeof(m));
	m.type = MC_RAFT_MSG_HEARTBEAT_REQ;
	m.from = 1;
	m.to = 2;
	n = mc_raft_msg_encode(&m, buf, sizeof(buf));
	CHECK(n > 0);
	buf[0] = 2;					/* unknown version */
	CHECK_EQ_INT(mc_raft_msg_decode(buf, (size_t) n, &d), -1);
	buf[0] = 1;
	buf[1] = 99;				/* unknown type */
	CHECK_EQ_INT(mc_raft_msg_decode(buf, (size_t) n, &d), -1);
	buf[1] = MC_RAFT_MSG_HEARTBEAT_REQ;
	buf[3] = 2;					/* reject must be 0/1 */
	CHECK_EQ_INT(mc_raft_msg_decode(buf, (size_t) n, &d), -1);
	buf[3] = 0;
	CHECK_EQ_INT(mc_raft_msg_decode(buf, (size_t) n, &d), 0);
	m.type = 0;
	CHECK_EQ_INT(mc_raft_msg_encode(&m, buf, sizeof(buf)), -1);

	/* an append claiming 2^32-1 entries in a short buffer */
	m.type = MC_RAFT_MSG_APPEND_REQ;
	n = mc_raft_msg_encode(&m, buf, sizeof(buf));
	CHECK(n > 4);
	buf[n - 4] = buf[n - 3] = buf[n - 2] = buf[n - 1] = 0xFF;
	CHECK_EQ_INT(mc_raft_msg_decode(buf, (size_t) n, &d), -1);
	CHECK(strcmp(mc_raft_msg_type_name(MC_RAFT_MSG_APPEND_REQ), "append_req") == 0);
	CHECK(strcmp(mc_raft_msg_type_name(200), "unknown") == 0);
}

static void
test_conf_codec(void)
{
	mc_raft_conf c,
				d;
	uint8_t		buf[MC_RAFT_CONF_MAX_BYTES];
	int			n;

	memset(&c, 0, sizeof(c));
	c.n_voters = 3;
	c.voters[0] = 1;
	c.voters[1] = 2;
	c.voters[2] = 300;
	c.n_learners = 1;
	c.learners[0] = 4;
	n = mc_raft_conf_encode(&c, buf, sizeof(buf));
	CHECK_EQ_INT(n, 4 + 16);
	CHECK_EQ_INT(mc_raft_conf_decode(buf, (size_t) n, &d), 0);
	CHECK(mc_raft_conf_is_voter(&d, 300));
	CHECK(mc_raft_conf_is_learner(&d, 4));
	CHECK(!mc_raft_conf_is_voter(&d, 4));
	CHECK(!mc_raft_conf_is_voter(&d, 0));
	CHECK_EQ_INT(mc_raft_conf_decode(buf, (size_t) n - 1, &d), -1);
	/* duplicate id */
	buf[4 + 7] = 1;
	buf[4 + 6] = 0;
	CHECK_EQ_INT(mc_raft_conf_decode(buf, (size_t) n, &d), -1);
	/* id 0 */
	memset(buf + 4, 0, 4);
	CHECK_EQ_INT(mc_raft_conf_decode(buf, (size_t) n, &d), -1);
	/* too many members */
	buf[0] = 0;
	buf[1] = 40;
	CHECK_EQ_INT(mc_raft_conf_decode(buf, (size_t) n, &d), -1);
	CHECK_EQ_INT(mc_raft_conf_encode(&c, buf, 5), -1);
}

int
main(void)
{
	RUN(test_round_trip);
	RUN(test_malformed);
	RUN(test_conf_codec);
	return tu_finish("test_raft_codec");
}
