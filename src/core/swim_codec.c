/*
 * swim_codec.c — the SWIM plaintext wire format: datagram header, message
 * bodies and member records (layout in doc/gossip.md).  Every read goes
 * through the bounds-checked mc_reader; decoding never trusts a length.
 */
#include "swim_int.h"

#include <string.h>

bool
mc_swim_addr_eq(const mc_swim_addr *a, const mc_swim_addr *b)
{
	return a->port == b->port && strncmp(a->host, b->host, MC_SWIM_HOST_LEN) == 0;
}

static void
put_addr(mc_writer *w, const mc_swim_addr *a)
{
	size_t		n = strnlen(a->host, MC_SWIM_HOST_LEN - 1);

	mc_put_str16(w, a->host, n);
	mc_put_u16(w, a->port);
}

/* An address: 1..63 bytes of host without NUL, then a non-zero port. */
static bool
get_addr(mc_reader *rd, mc_swim_addr *a)
{
	size_t		n;
	const uint8_t *p = mc_get_str16(rd, &n);

	memset(a, 0, sizeof(*a));
	if (p == NULL || n == 0 || n >= MC_SWIM_HOST_LEN || memchr(p, 0, n) != NULL)
	{
		rd->err = true;
		return false;
	}
	memcpy(a->host, p, n);
	a->port = mc_get_u16(rd);
	if (a->port == 0)
		rd->err = true;
	return !rd->err;
}

/*
 * Record: u8 state, u16 node, u32 inc, u16 from, addr (str16 host, u16
 * port), u16 rpc_port, u16 sql_port, u8 flags (1 replica, 2 voter),
 * u8 raft_role, u32 roles, 16 bytes cluster id, u64 term, u16 leader.
 */
void
mc_swim_put_rec(mc_writer *w, const mc_swim_rec *r)
{
	mc_put_u8(w, r->state);
	mc_put_u16(w, r->node);
	mc_put_u32(w, r->inc);
	mc_put_u16(w, r->from);
	put_addr(w, &r->meta.addr);
	mc_put_u16(w, r->meta.rpc_port);
	mc_put_u16(w, r->meta.sql_port);
	mc_put_u8(w, (r->meta.replica ? 1 : 0) | (r->meta.voter ? 2 : 0));
	mc_put_u8(w, r->meta.raft_role);
	mc_put_u32(w, r->meta.roles);
	mc_put_bytes(w, r->meta.cluster_id, 16);
	mc_put_u64(w, r->meta.raft_term);
	mc_put_u16(w, r->meta.leader_id);
}

bool
mc_swim_get_rec(mc_reader *rd, mc_swim_rec *r)
{
	uint8_t		flags;

	memset(r, 0, sizeof(*r));
	r->state = mc_get_u8(rd);
	r->node = mc_get_u16(rd);
	r->inc = mc_get_u32(rd);
	r->from = mc_get_u16(rd);
	if (!get_addr(rd, &r->meta.addr))
		return false;
	r->meta.rpc_port = mc_get_u16(rd);
	r->meta.sql_port = mc_get_u16(rd);
	flags = mc_get_u8(rd);
	r->meta.replica = (flags & 1) != 0;
	r->meta.voter = (flags & 2) != 0;
	r->meta.raft_role = mc_get_u8(rd);
	r->meta.roles = mc_get_u32(rd);
	mc_get_bytes(rd, r->meta.cluster_id, 16);
	r->meta.raft_term = mc_get_u64(rd);
	r->meta.leader_id = mc_get_u16(rd);
	r->meta.node_id = r->node;
	if (rd->err)
		return false;
	if (r->state > MC_SWIM_LEFT || r->node == 0 || r->from == 0 ||
		(flags & ~3) != 0 || r->meta.raft_role > MC_SWIM_RAFT_LEARNER)
	{
		rd->err = true;
		return false;
	}
	return true;
}

/*
 * Header: u8 magic 0xC5, u8 version, u8 type, u16 sender.  Bodies:
 *   PING      u32 seq, u16 target
 *   ACK/NACK  u32 seq
 *   PING_REQ  u32 seq, u16 target, addr, u8 flags
 *   PUSH_PULL u8 flags
 * then u8 record count and the records.
 */
size_t
mc_swim_enc_begin(mc_writer *w, const mc_swim_msg *m)
{
	size_t		pos;

	mc_put_u8(w, MC_SWIM_MAGIC);
	mc_put_u8(w, MC_SWIM_VERSION);
	mc_put_u8(w, m->type);
	mc_put_u16(w, m->sender);
	switch (m->type)
	{
		case MC_SWIM_MSG_PING:
			mc_put_u32(w, m->seq);
			mc_put_u16(w, m->target);
			break;
		case MC_SWIM_MSG_ACK:
		case MC_SWIM_MSG_NACK:
			mc_put_u32(w, m->seq);
			break;
		case MC_SWIM_MSG_PING_REQ:
			mc_put_u32(w, m->seq);
			mc_put_u16(w, m->target);
			put_addr(w, &m->target_addr);
			mc_put_u8(w, m->flags);
			break;
		case MC_SWIM_MSG_PUSH_PULL:
			mc_put_u8(w, m->flags);
			break;
		default:
			w->err = true;
	}
	pos = w->len;
	mc_put_u8(w, 0);
	return pos;
}

bool
mc_swim_enc_rec(mc_writer *w, const mc_swim_rec *r)
{
	size_t		save = w->len;

	if (w->err)
		return false;
	mc_swim_put_rec(w, r);
	if (w->err)
	{
		w->len = save;
		w->err = false;
		return false;
	}
	return true;
}

void
mc_swim_enc_finish(mc_writer *w, size_t count_pos, int nrecs)
{
	if (!w->err && count_pos < w->len)
		w->buf[count_pos] = (uint8_t) nrecs;
}

bool
mc_swim_decode(const uint8_t *buf, size_t len, mc_swim_msg *m, mc_swim_rec *recs)
{
	mc_reader	rd;
	int			i;

	memset(m, 0, sizeof(*m));
	mc_reader_init(&rd, buf, len);
	if (mc_get_u8(&rd) != MC_SWIM_MAGIC || mc_get_u8(&rd) != MC_SWIM_VERSION)
		return false;
	m->type = mc_get_u8(&rd);
	m->sender = mc_get_u16(&rd);
	switch (m->type)
	{
		case MC_SWIM_MSG_PING:
			m->seq = mc_get_u32(&rd);
			m->target = mc_get_u16(&rd);
			if (m->target == 0)
				return false;
			break;
		case MC_SWIM_MSG_ACK:
		case MC_SWIM_MSG_NACK:
			m->seq = mc_get_u32(&rd);
			break;
		case MC_SWIM_MSG_PING_REQ:
			m->seq = mc_get_u32(&rd);
			m->target = mc_get_u16(&rd);
			if (!get_addr(&rd, &m->target_addr) || m->target == 0)
				return false;
			m->flags = mc_get_u8(&rd);
			if (m->flags & ~MC_SWIM_F_WANT_NACK)
				return false;
			break;
		case MC_SWIM_MSG_PUSH_PULL:
			m->flags = mc_get_u8(&rd);
			if (m->flags & ~(MC_SWIM_F_WANT_REPLY | MC_SWIM_F_IS_REPLY))
				return false;
			break;
		default:
			return false;
	}
	if (rd.err || m->sender == 0)
		return false;
	m->nrecs = mc_get_u8(&rd);
	for (i = 0; i < m->nrecs; i++)
		if (!mc_swim_get_rec(&rd, &recs[i]))
			return false;
	return !rd.err && mc_remaining(&rd) == 0;
}
