/*
 * rsim_sm.c — the simulator's state machine: apply, dedup by client
 * request id, and (de)serialise for snapshots with wire.h buffers.
 */
#include <stdlib.h>
#include <string.h>

#include "rsim_sm.h"
#include "rsim_check.h"
#include "wire.h"

#define SM_MAGIC 0x52534d31u	/* "RSM1" */

/*
 * The simulator's own codec for configurations (the format raft.h
 * documents: u16 n_voters, u16 n_learners, u32 ids), so this file does not
 * depend on the core's codec it is there to check.
 */
static int
conf_encode(const mc_raft_conf *c, uint8_t *buf, size_t cap)
{
	mc_writer	w;
	uint32_t	i;

	mc_writer_init(&w, buf, cap);
	mc_put_u16(&w, (uint16_t) c->n_voters);
	mc_put_u16(&w, (uint16_t) c->n_learners);
	for (i = 0; i < c->n_voters && i < MC_RAFT_MAX_MEMBERS; i++)
		mc_put_u32(&w, c->voters[i]);
	for (i = 0; i < c->n_learners && i < MC_RAFT_MAX_MEMBERS; i++)
		mc_put_u32(&w, c->learners[i]);
	return w.err ? -1 : (int) w.len;
}

static int
conf_decode(const uint8_t *buf, size_t len, mc_raft_conf *out)
{
	mc_reader	r;
	uint32_t	i;
	mc_raft_conf c;

	memset(&c, 0, sizeof(c));
	mc_reader_init(&r, buf, len);
	c.n_voters = mc_get_u16(&r);
	c.n_learners = mc_get_u16(&r);
	if (r.err || c.n_voters > MC_RAFT_MAX_MEMBERS || c.n_learners > MC_RAFT_MAX_MEMBERS)
		return -1;
	for (i = 0; i < c.n_voters; i++)
		c.voters[i] = mc_get_u32(&r);
	for (i = 0; i < c.n_learners; i++)
		c.learners[i] = mc_get_u32(&r);
	if (r.err || mc_remaining(&r) != 0)
		return -1;
	*out = c;
	return 0;
}

static uint64_t
fill_byte_seed(const rsim_sm *sm)
{
	return sm->chain ^ (sm->applied * 0x9e3779b97f4a7c15ULL);
}

void
rsim_sm_init(rsim_sm *sm, const mc_raft_conf *conf)
{
	memset(sm, 0, sizeof(*sm));
	if (conf)
		sm->conf = *conf;
}

bool
rsim_sm_apply(rsim_sm *sm, const mc_raft_entry *e, bool *fresh)
{
	*fresh = false;
	if (e->index != sm->applied + 1)
		return false;
	sm->chain = rsim_chain_next(sm->chain, e);
	sm->applied = e->index;
	sm->applied_term = e->term;
	if (e->type == MC_RAFT_ENTRY_NORMAL)
	{
		if (e->client_id < RSIM_MAX_CLIENTS &&
			e->request_id > sm->last_req[e->client_id])
		{
			uint32_t	i;
			uint64_t	h = sm->app ^ 0xa0761d6478bd642fULL;

			sm->last_req[e->client_id] = e->request_id;
			h = (h ^ e->client_id) * 0x100000001b3ULL;
			h = (h ^ e->request_id) * 0x100000001b3ULL;
			for (i = 0; i < e->len; i++)
				h = (h ^ e->data[i]) * 0x100000001b3ULL;
			sm->app = h;
			sm->n_applied_normal++;
			*fresh = true;
		}
	}
	else if (e->type == MC_RAFT_ENTRY_CONFIG)
	{
		mc_raft_conf c;

		if (conf_decode(e->data, e->len, &c) == 0)
			sm->conf = c;
	}
	return true;
}

void
rsim_sm_encode(const rsim_sm *sm, size_t filler, uint8_t **out, size_t *len)
{
	size_t		cap = 128 + RSIM_MAX_CLIENTS * 8 + MC_RAFT_CONF_MAX_BYTES + filler;
	uint8_t    *buf = malloc(cap);
	uint8_t		conf[MC_RAFT_CONF_MAX_BYTES];
	int			clen = conf_encode(&sm->conf, conf, sizeof(conf));
	mc_writer	w;
	uint64_t	x = fill_byte_seed(sm);
	size_t		i;

	if (!buf)
		abort();
	if (clen < 0)
		clen = 0;
	mc_writer_init(&w, buf, cap);
	mc_put_u32(&w, SM_MAGIC);
	mc_put_u64(&w, sm->applied);
	mc_put_u64(&w, sm->applied_term);
	mc_put_u64(&w, sm->chain);
	mc_put_u64(&w, sm->app);
	mc_put_u64(&w, sm->n_applied_normal);
	for (i = 0; i < RSIM_MAX_CLIENTS; i++)
		mc_put_u64(&w, sm->last_req[i]);
	mc_put_str16(&w, conf, (size_t) clen);
	mc_put_u32(&w, (uint32_t) filler);
	for (i = 0; i < filler; i++)
	{
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		mc_put_u8(&w, (uint8_t) (x >> 56));
	}
	if (w.err)
		abort();
	*out = buf;
	*len = w.len;
}

bool
rsim_sm_decode(const uint8_t *buf, size_t len, rsim_sm *sm)
{
	mc_reader	r;
	const uint8_t *conf;
	size_t		clen;
	uint32_t	filler;
	uint64_t	x;
	size_t		i;
	rsim_sm		s;

	memset(&s, 0, sizeof(s));
	mc_reader_init(&r, buf, len);
	if (mc_get_u32(&r) != SM_MAGIC)
		return false;
	s.applied = mc_get_u64(&r);
	s.applied_term = mc_get_u64(&r);
	s.chain = mc_get_u64(&r);
	s.app = mc_get_u64(&r);
	s.n_applied_normal = mc_get_u64(&r);
	for (i = 0; i < RSIM_MAX_CLIENTS; i++)
		s.last_req[i] = mc_get_u64(&r);
	conf = mc_get_str16(&r, &clen);
	filler = mc_get_u32(&r);
	if (r.err || conf == NULL || mc_remaining(&r) != filler)
		return false;
	if (clen > 0 && conf_decode(conf, clen, &s.conf) != 0)
		return false;
	x = fill_byte_seed(&s);
	for (i = 0; i < filler; i++)
	{
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		if (mc_get_u8(&r) != (uint8_t) (x >> 56))
			return false;
	}
	*sm = s;
	return true;
}

uint32_t
rsim_sm_payload(uint64_t client, uint64_t req, uint64_t salt,
				uint8_t *buf, uint32_t cap)
{
	mc_writer	w;
	uint32_t	extra = (uint32_t) (salt % 48);
	uint32_t	i;

	mc_writer_init(&w, buf, cap);
	mc_put_u64(&w, client);
	mc_put_u64(&w, req);
	for (i = 0; i < extra; i++)
		mc_put_u8(&w, (uint8_t) (salt >> (i % 8)));
	return w.err ? 0 : (uint32_t) w.len;
}
