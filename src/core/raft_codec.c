/*
 * raft_codec.c — wire format of Raft messages (bounds-checked, on wire.h).
 *
 * Layout (big-endian), version 1:
 *   u8 version(=1) u8 type u8 flags u8 reject u32 from u32 to u64 term
 *   u64 index u64 log_term u64 commit u64 context u64 hint_index u64 hint_term
 *   APPEND_REQ, PROPOSE only:  u32 n_entries, then per entry
 *       u64 index u64 term u8 type u64 client_id u64 request_id blob32 data
 *   SNAPSHOT_REQ, SNAPSHOT_RESP only:
 *       u64 snap.index u64 snap.term str16 conf u64 offset blob32 data
 * Anything else, or trailing bytes, is malformed.
 */
#include "raft_int.h"
#include "wire.h"

#include <stdlib.h>
#include <string.h>

#define MC_RAFT_WIRE_VERSION 1
#define HEADER_BYTES (4 + 4 + 4 + 8 * 7)
#define ENTRY_MIN_BYTES (8 + 8 + 1 + 8 + 8 + 4)

static bool
has_entries(int type)
{
	return type == MC_RAFT_MSG_APPEND_REQ || type == MC_RAFT_MSG_PROPOSE;
}

static bool
has_snapshot(int type)
{
	return type == MC_RAFT_MSG_SNAPSHOT_REQ || type == MC_RAFT_MSG_SNAPSHOT_RESP;
}

const char *
mc_raft_msg_type_name(int type)
{
	static const char *const names[] = {
		"none", "prevote_req", "prevote_resp", "vote_req", "vote_resp",
		"append_req", "append_resp", "heartbeat_req", "heartbeat_resp",
		"snapshot_req", "snapshot_resp", "timeout_now", "readindex_req",
		"readindex_resp", "propose"
	};

	if (type < 0 || type > MC_RAFT_MSG_PROPOSE)
		return "unknown";
	return names[type];
}

size_t
mc_raft_msg_size(const mc_raft_msg *m)
{
	size_t		n = HEADER_BYTES;

	if (has_entries(m->type))
	{
		n += 4;
		for (uint32_t i = 0; i < m->n_entries; i++)
			n += ENTRY_MIN_BYTES + m->entries[i].len;
	}
	if (has_snapshot(m->type))
		n += 8 + 8 + 2 + 4 + 4 * (size_t) (m->snap.conf.n_voters + m->snap.conf.n_learners) + 8 + 4 + m->len;
	return n;
}

int64_t
mc_raft_msg_encode(const mc_raft_msg *m, uint8_t *buf, size_t cap)
{
	mc_writer	w;

	if (m->type < MC_RAFT_MSG_PREVOTE_REQ || m->type > MC_RAFT_MSG_PROPOSE)
		return -1;
	mc_writer_init(&w, buf, cap);
	mc_put_u8(&w, MC_RAFT_WIRE_VERSION);
	mc_put_u8(&w, m->type);
	mc_put_u8(&w, m->flags);
	mc_put_u8(&w, m->reject ? 1 : 0);
	mc_put_u32(&w, m->from);
	mc_put_u32(&w, m->to);
	mc_put_u64(&w, m->term);
	mc_put_u64(&w, m->index);
	mc_put_u64(&w, m->log_term);
	mc_put_u64(&w, m->commit);
	mc_put_u64(&w, m->context);
	mc_put_u64(&w, m->hint_index);
	mc_put_u64(&w, m->hint_term);
	if (has_entries(m->type))
	{
		mc_put_u32(&w, m->n_entries);
		for (uint32_t i = 0; i < m->n_entries && !w.err; i++)
		{
			const mc_raft_entry *e = &m->entries[i];

			mc_put_u64(&w, e->index);
			mc_put_u64(&w, e->term);
			mc_put_u8(&w, e->type);
			mc_put_u64(&w, e->client_id);
			mc_put_u64(&w, e->request_id);
			mc_put_blob32(&w, e->data, e->len);
		}
	}
	if (has_snapshot(m->type))
	{
		uint8_t		cbuf[MC_RAFT_CONF_MAX_BYTES];
		int			clen = mc_raft_conf_encode(&m->snap.conf, cbuf, sizeof(cbuf));

		if (clen < 0)
			return -1;
		mc_put_u64(&w, m->snap.index);
		mc_put_u64(&w, m->snap.term);
		mc_put_str16(&w, cbuf, (size_t) clen);
		mc_put_u64(&w, m->offset);
		mc_put_blob32(&w, m->data, m->len);
	}
	return w.err ? -1 : (int64_t) w.len;
}

int
mc_raft_msg_decode(const uint8_t *buf, size_t len, mc_raft_msg *out)
{
	mc_reader	r;
	mc_raft_msg m;
	uint8_t		rej;

	memset(&m, 0, sizeof(m));
	memset(out, 0, sizeof(*out));
	mc_reader_init(&r, buf, len);
	if (mc_get_u8(&r) != MC_RAFT_WIRE_VERSION)
		return -1;
	m.type = mc_get_u8(&r);
	m.flags = mc_get_u8(&r);
	rej = mc_get_u8(&r);
	m.reject = rej != 0;
	m.from = mc_get_u32(&r);
	m.to = mc_get_u32(&r);
	m.term = mc_get_u64(&r);
	m.index = mc_get_u64(&r);
	m.log_term = mc_get_u64(&r);
	m.commit = mc_get_u64(&r);
	m.context = mc_get_u64(&r);
	m.hint_index = mc_get_u64(&r);
	m.hint_term = mc_get_u64(&r);
	if (r.err || rej > 1 || m.type < MC_RAFT_MSG_PREVOTE_REQ || m.type > MC_RAFT_MSG_PROPOSE)
		return -1;
	if (has_entries(m.type))
	{
		uint32_t	n = mc_get_u32(&r);

		/* every entry takes at least ENTRY_MIN_BYTES: bound the allocation */
		if (r.err || n > mc_remaining(&r) / ENTRY_MIN_BYTES)
			return -1;
		if (n > 0)
		{
			m.entries = calloc(n, sizeof(mc_raft_entry));
			if (m.entries == NULL)
				return -1;
		}
		m.n_entries = n;
		for (uint32_t i = 0; i < n; i++)
		{
			mc_raft_entry *e = &m.entries[i];
			size_t		dl = 0;
			const uint8_t *d;

			e->index = mc_get_u64(&r);
			e->term = mc_get_u64(&r);
			e->type = mc_get_u8(&r);
			e->client_id = mc_get_u64(&r);
			e->request_id = mc_get_u64(&r);
			d = mc_get_blob32(&r, &dl);
			if (r.err || d == NULL || e->type > MC_RAFT_ENTRY_CONFIG)
			{
				free(m.entries);
				return -1;
			}
			e->data = dl ? (uint8_t *) d : NULL;
			e->len = (uint32_t) dl;
		}
	}
	if (has_snapshot(m.type))
	{
		size_t		cl = 0,
					dl = 0;
		const uint8_t *c;
		const uint8_t *d;

		m.snap.index = mc_get_u64(&r);
		m.snap.term = mc_get_u64(&r);
		c = mc_get_str16(&r, &cl);
		m.offset = mc_get_u64(&r);
		d = mc_get_blob32(&r, &dl);
		if (r.err || c == NULL || d == NULL ||
			mc_raft_conf_decode(c, cl, &m.snap.conf) != 0)
			return -1;
		m.data = dl ? d : NULL;
		m.len = (uint32_t) dl;
	}
	if (r.err || mc_remaining(&r) != 0)
	{
		free(m.entries);
		return -1;
	}
	*out = m;
	return 0;
}

void
mc_raft_msg_free_decoded(mc_raft_msg *m)
{
	free(m->entries);
	m->entries = NULL;
	m->n_entries = 0;
}
