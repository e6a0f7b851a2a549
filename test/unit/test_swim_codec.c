/*
 * test_swim_codec.c — unit tests of the SWIM plaintext wire format
 * (src/core/swim_codec.c): round trips of every message type with
 * piggybacked records, and rejection of truncated, trailing, garbage and
 * out-of-range input (a decoder never accepts a prefix or reads past it).
 * Also the member-list export/import format.
 */
#include "swim_int.h"
#include "testutil.h"

#include <string.h>

static mc_swim_rec recs[MC_SWIM_MAX_RECS];

static void
mk_rec(mc_swim_rec *r, uint16_t node, uint8_t state)
{
	memset(r, 0, sizeof(*r));
	r->state = state;
	r->node = node;
	r->inc = 0x01020304u + node;
	r->from = (uint16_t) (node == 65535 ? 1 : node + 1);
	r->meta.node_id = node;
	snprintf(r->meta.addr.host, MC_SWIM_HOST_LEN, "10.0.%d.%d", node / 256, node % 256);
	r->meta.addr.port = 1179;
	r->meta.rpc_port = 7911;
	r->meta.sql_port = 5432;
	r->meta.replica = node % 2;
	r->meta.voter = !(node % 2);
	r->meta.raft_role = MC_SWIM_RAFT_LEADER;
	r->meta.roles = MC_SWIM_ROLE_ACME_RENEW | MC_SWIM_ROLE_METRICS_PUSH;
	for (int i = 0; i < 16; i++)
		r->meta.cluster_id[i] = (uint8_t) (i * 7 + node);
	r->meta.raft_term = 0x1122334455667788ULL;
	r->meta.leader_id = 3;
}

static bool
rec_eq(const mc_swim_rec *a, const mc_swim_rec *b)
{
	return a->state == b->state && a->node == b->node && a->inc == b->inc &&
		a->from == b->from && a->meta.node_id == b->meta.node_id &&
		mc_swim_addr_eq(&a->meta.addr, &b->meta.addr) &&
		a->meta.rpc_port == b->meta.rpc_port && a->meta.sql_port == b->meta.sql_port &&
		a->meta.replica == b->meta.replica && a->meta.voter == b->meta.voter &&
		a->meta.raft_role == b->meta.raft_role && a->meta.roles == b->meta.roles &&
		memcmp(a->meta.cluster_id, b->meta.cluster_id, 16) == 0 &&
		a->meta.raft_term == b->meta.raft_term && a->meta.leader_id == b->meta.leader_id;
}

static size_t
encode(const mc_swim_msg *m, const mc_swim_rec *rs, int n, uint8_t *buf, size_t cap)
{
	mc_writer	w;
	size_t		pos;
	int			i,
				k = 0;

	mc_writer_init(&w, buf, cap);
	pos = mc_swim_enc_begin(&w, m);
	for (i = 0; i < n; i++)
		if (mc_swim_enc_rec(&w, &rs[i]))
			k++;
	mc_swim_enc_finish(&w, pos, k);
	return w.err ? 0 : w.len;
}

static void
test_roundtrip_all_types(void)
{
	uint8_t		types[] = {MC_SWIM_MSG_PING, MC_SWIM_MSG_ACK, MC_SWIM_MSG_NACK,
	MC_SWIM_MSG_PING_REQ, MC_SWIM_MSG_PUSH_PULL};
	mc_swim_rec in[3];

	mk_rec(&in[0], 7, MC_SWIM_ALIVE);
	mk_rec(&in[1], 300, MC_SWIM_SUSPECT);
	mk_rec(&in[2], 65535, MC_SWIM_LEFT);
	for (size_t t = 0; t < sizeof(types); t++)
	{
		mc_swim_msg m,
					out;
		uint8_t		buf[MC_SWIM_MAX_PACKET];
		size_t		len;

		memset(&m, 0, sizeof(m));
		m.type = types[t];
		m.sender = 42;
		if (m.type != MC_SWIM_MSG_PUSH_PULL)
			m.seq = 0xDEADBEEF;
		if (m.type == MC_SWIM_MSG_PING || m.type == MC_SWIM_MSG_PING_REQ)
			m.target = 9;
		if (m.type == MC_SWIM_MSG_PING_REQ)
		{
			strcpy(m.target_addr.host, "node9.example");
			m.target_addr.port = 1180;
			m.flags = MC_SWIM_F_WANT_NACK;
		}
		if (m.type == MC_SWIM_MSG_PUSH_PULL)
			m.flags = MC_SWIM_F_WANT_REPLY;
		len = encode(&m, in, 3, buf, sizeof(buf));
		CHECK(len > 0);
		CHECK(mc_swim_decode(buf, len, &out, recs));
		CHECK_EQ_INT(out.type, m.type);
		CHECK_EQ_INT(out.sender, 42);
		CHECK_EQ_INT(out.seq, m.seq);
		CHECK_EQ_INT(out.target, m.target);
		CHECK_EQ_INT(out.flags, m.flags);
		CHECK(strcmp(out.target_addr.host, m.target_addr.host) == 0);
		CHECK_EQ_INT(out.target_addr.port, m.target_addr.port);
		CHECK_EQ_INT(out.nrecs, 3);
		for (int i = 0; i < 3; i++)
			CHECK(rec_eq(&in[i], &recs[i]));

		/* every strict prefix is refused */
		{
			int			bad = 0;

			for (size_t l = 0; l < len; l++)
				if (mc_swim_decode(buf, l, &out, recs))
					bad++;
			CHECK_EQ_INT(bad, 0);
		}
		/* a trailing byte is refused */
		buf[len] = 0;
		CHECK(!mc_swim_decode(buf, len + 1, &out, recs));
	}
}

/* A datagram never exceeds the writer's capacity; records that do not fit stay out. */
static void
test_capacity(void)
{
	mc_swim_rec in[40];
	mc_swim_msg m,
				out;
	uint8_t		buf[MC_SWIM_MAX_PACKET + 64];
	size_t		len;

	for (int i = 0; i < 40; i++)
		mk_rec(&in[i], (uint16_t) (i + 1), MC_SWIM_ALIVE);
	memset(&m, 0, sizeof(m));
	m.type = MC_SWIM_MSG_ACK;
	m.sender = 1;
	memset(buf, 0xAB, sizeof(buf));
	len = encode(&m, in, 40, buf, MC_SWIM_MAX_PACKET);
	CHECK(len > 0 && len <= MC_SWIM_MAX_PACKET);
	CHECK(buf[MC_SWIM_MAX_PACKET] == 0xAB);
	CHECK(mc_swim_decode(buf, len, &out, recs));
	CHECK(out.nrecs > 10 && out.nrecs < 40);
	CHECK(rec_eq(&in[out.nrecs - 1], &recs[out.nrecs - 1]));
}

static size_t
one_ping(uint8_t *buf, size_t cap)
{
	mc_swim_msg m;
	mc_swim_rec r;

	memset(&m, 0, sizeof(m));
	m.type = MC_SWIM_MSG_PING;
	m.sender = 5;
	m.seq = 1;
	m.target = 6;
	mk_rec(&r, 8, MC_SWIM_DEAD);
	return encode(&m, &r, 1, buf, cap);
}

/* Offsets in a PING with one record (see doc/gossip.md). */
#define OFF_MAGIC	0
#define OFF_VER		1
#define OFF_TYPE	2
#define OFF_SENDER	3
#define OFF_TARGET	9
#define OFF_NRECS	11
#define OFF_STATE	12
#define OFF_NODE	13
#define OFF_FROM	19
#define OFF_HOSTLEN	21

static void
test_rejections(void)
{
	uint8_t		good[MC_SWIM_MAX_PACKET],
				b[MC_SWIM_MAX_PACKET];
	size_t		len = one_ping(good, sizeof(good));
	mc_swim_msg out;

	CHECK(mc_swim_decode(good, len, &out, recs));
#define MUT(off, val) do { memcpy(b, good, len); b[(off)] = (val); \
	CHECK(!mc_swim_decode(b, len, &out, recs)); } while (0)
	MUT(OFF_MAGIC, 0x00);
	MUT(OFF_VER, 2);
	MUT(OFF_TYPE, 0);
	MUT(OFF_TYPE, 6);
	MUT(OFF_SENDER + 1, 0);		/* sender 0 */
	MUT(OFF_TARGET + 1, 0);		/* target 0 */
	MUT(OFF_NRECS, 2);			/* claims more records than present */
	MUT(OFF_STATE, 4);			/* state out of range */
	MUT(OFF_NODE + 1, 0);		/* node 0 */
	MUT(OFF_FROM + 1, 0);		/* from 0 */
	MUT(OFF_HOSTLEN + 1, 0);	/* empty host */
	MUT(OFF_HOSTLEN + 1, 200);	/* host longer than the buffer */
	MUT(OFF_HOSTLEN + 2, 0);	/* NUL inside host */
#undef MUT
	/* nrecs 0 with the record still there: trailing bytes */
	memcpy(b, good, len);
	b[OFF_NRECS] = 0;
	CHECK(!mc_swim_decode(b, len, &out, recs));

	/* a host of 64 bytes does not fit an address */
	{
		mc_writer	w;
		size_t		pos;
		mc_swim_msg m;
		char		host[64];

		memset(&m, 0, sizeof(m));
		m.type = MC_SWIM_MSG_PING_REQ;
		m.sender = 1;
		m.target = 2;
		mc_writer_init(&w, b, sizeof(b));
		mc_put_u8(&w, MC_SWIM_MAGIC);
		mc_put_u8(&w, MC_SWIM_VERSION);
		mc_put_u8(&w, MC_SWIM_MSG_PING_REQ);
		mc_put_u16(&w, 1);
		mc_put_u32(&w, 1);
		mc_put_u16(&w, 2);
		memset(host, 'a', sizeof(host));
		mc_put_str16(&w, host, 64);
		mc_put_u16(&w, 1000);
		mc_put_u8(&w, 0);
		pos = w.len;
		mc_put_u8(&w, 0);
		(void) pos;
		CHECK(!w.err);
		CHECK(!mc_swim_decode(b, w.len, &out, recs));
		/* 63 is fine */
		b[12] = 63;
		memmove(b + 13 + 63, b + 13 + 64, w.len - (13 + 64));
		CHECK(mc_swim_decode(b, w.len - 1, &out, recs));
		CHECK_EQ_INT(strlen(out.target_addr.host), 63);
	}

	/* random garbage never decodes as something with a wrong shape */
	{
		uint64_t	x = 12345;
		int			accepted = 0;

		for (int i = 0; i < 20000; i++)
		{
			size_t		n = (size_t) (i % 200);

			for (size_t j = 0; j < n; j++)
			{
				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
				b[j] = (uint8_t) x;
			}
			if (n > 2)
			{
				b[0] = MC_SWIM_MAGIC;
				b[1] = MC_SWIM_VERSION;
			}
			if (mc_swim_decode(b, n, &out, recs))
			{
				accepted++;
				CHECK(out.type >= 1 && out.type <= 5 && out.sender != 0);
			}
		}
		CHECK(accepted < 20000);
	}
}

/* Export/import of the member list round-trips and refuses damage. */
static void
test_persist_format(void)
{
	mc_swim_config cfg;
	mc_swim    *a,
			   *b;
	uint8_t		buf[8192];
	size_t		len,
				need;
	int			bad = 0;

	mc_swim_config_default(&cfg);
	cfg.self.node_id = 1;
	strcpy(cfg.self.addr.host, "10.0.0.1");
	cfg.self.addr.port = 1179;
	a = mc_swim_create(&cfg, 0);
	for (int i = 2; i <= 6; i++)
	{
		mc_swim_rec r;

		mk_rec(&r, (uint16_t) i, MC_SWIM_ALIVE);
		r.from = r.node;
		mc_swim_merge(a, &r, 0);
	}
	CHECK_EQ_INT(mc_swim_member_count(a), 6);
	need = mc_swim_export(a, buf, 10);
	CHECK(need > 10);
	len = mc_swim_export(a, buf, sizeof(buf));
	CHECK_EQ_INT(len, need);

	b = mc_swim_create(&cfg, 0);
	for (size_t l = 0; l < len; l++)
		if (mc_swim_import(b, 0, buf, l) != -1)
			bad++;
	CHECK_EQ_INT(bad, 0);
	CHECK_EQ_INT(mc_swim_member_count(b), 1);
	CHECK_EQ_INT(mc_swim_import(b, 0, buf, len), 5);
	CHECK_EQ_INT(mc_swim_member_count(b), 6);
	{
		mc_swim_member m;

		CHECK(mc_swim_member_find(b, 4, 0, &m));
		CHECK_EQ_INT(m.incarnation, 0x01020304u + 4);
		CHECK_EQ_INT(m.meta.sql_port, 5432);
		CHECK(m.state == MC_SWIM_ALIVE);
	}
	mc_swim_destroy(a);
	mc_swim_destroy(b);
}

int
main(void)
{
	RUN(test_roundtrip_all_types);
	RUN(test_capacity);
	RUN(test_rejections);
	RUN(test_persist_format);
	return tu_finish("swim_codec");
}
