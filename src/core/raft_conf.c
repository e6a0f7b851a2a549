/*
 * raft_conf.c — membership configurations: membership tests, quorum size,
 * applying one single-server change, and the CONFIG entry codec.
 */
#include "raft_int.h"
#include "wire.h"

#include <string.h>

static bool
in_list(const uint32_t *ids, uint32_t n, uint32_t id)
{
	for (uint32_t i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

bool
mc_raft_conf_is_voter(const mc_raft_conf *c, uint32_t id)
{
	return id != MC_RAFT_NONE && in_list(c->voters, c->n_voters, id);
}

bool
mc_raft_conf_is_learner(const mc_raft_conf *c, uint32_t id)
{
	return id != MC_RAFT_NONE && in_list(c->learners, c->n_learners, id);
}

/* Voter or learner. */
bool
mc_raft_conf_has(const mc_raft_conf *c, uint32_t id)
{
	return mc_raft_conf_is_voter(c, id) || mc_raft_conf_is_learner(c, id);
}

/* Votes (or acks) needed for a majority of the voters. */
int
mc_raft_conf_quorum(const mc_raft_conf *c)
{
	return (int) c->n_voters / 2 + 1;
}

static void
remove_id(uint32_t *ids, uint32_t *n, uint32_t id)
{
	for (uint32_t i = 0; i < *n; i++)
		if (ids[i] == id)
		{
			ids[i] = ids[*n - 1];
			(*n)--;
			return;
		}
}

/*
 * Apply one membership change to `in`, giving `out`.  Returns 0, or
 * MC_RAFT_ERR_INVALID when the change does nothing or is impossible: adding
 * a member, promoting a non-learner, removing a stranger, removing the last
 * voter, overflowing MC_RAFT_MAX_MEMBERS, node id 0 or > 65535.
 */
int
mc_raft_conf_apply(const mc_raft_conf *in, uint8_t op, uint32_t node, mc_raft_conf *out)
{
	mc_raft_conf c = *in;

	if (node == MC_RAFT_NONE || node > 65535)
		return MC_RAFT_ERR_INVALID;
	switch (op)
	{
		case MC_RAFT_CC_ADD_VOTER:
		case MC_RAFT_CC_ADD_LEARNER:
			if (mc_raft_conf_has(&c, node) || c.n_voters + c.n_learners >= MC_RAFT_MAX_MEMBERS)
				return MC_RAFT_ERR_INVALID;
			if (op == MC_RAFT_CC_ADD_VOTER)
				c.voters[c.n_voters++] = node;
			else
				c.learners[c.n_learners++] = node;
			break;
		case MC_RAFT_CC_PROMOTE:
			if (!mc_raft_conf_is_learner(&c, node))
				return MC_RAFT_ERR_INVALID;
			remove_id(c.learners, &c.n_learners, node);
			c.voters[c.n_voters++] = node;
			break;
		case MC_RAFT_CC_REMOVE:
			if (mc_raft_conf_is_voter(&c, node))
			{
				if (c.n_voters == 1)
					return MC_RAFT_ERR_INVALID;
				remove_id(c.voters, &c.n_voters, node);
			}
			else if (mc_raft_conf_is_learner(&c, node))
				remove_id(c.learners, &c.n_learners, node);
			else
				return MC_RAFT_ERR_INVALID;
			break;
		default:
			return MC_RAFT_ERR_INVALID;
	}
	*out = c;
	return MC_RAFT_OK;
}

int
mc_raft_conf_encode(const mc_raft_conf *c, uint8_t *buf, size_t cap)
{
	mc_writer	w;

	if (c->n_voters > MC_RAFT_MAX_MEMBERS || c->n_learners > MC_RAFT_MAX_MEMBERS ||
		c->n_voters + c->n_learners > MC_RAFT_MAX_MEMBERS)
		return -1;
	mc_writer_init(&w, buf, cap);
	mc_put_u16(&w, (uint16_t) c->n_voters);
	mc_put_u16(&w, (uint16_t) c->n_learners);
	for (uint32_t i = 0; i < c->n_voters; i++)
		mc_put_u32(&w, c->voters[i]);
	for (uint32_t i = 0; i < c->n_learners; i++)
		mc_put_u32(&w, c->learners[i]);
	return w.err ? -1 : (int) w.len;
}

int
mc_raft_conf_decode(const uint8_t *buf, size_t len, mc_raft_conf *out)
{
	mc_reader	r;
	mc_raft_conf c;

	memset(&c, 0, sizeof(c));
	mc_reader_init(&r, buf, len);
	c.n_voters = mc_get_u16(&r);
	c.n_learners = mc_get_u16(&r);
	if (r.err || c.n_voters + c.n_learners > MC_RAFT_MAX_MEMBERS)
		return -1;
	for (uint32_t i = 0; i < c.n_voters + c.n_learners; i++)
	{
		uint32_t	id = mc_get_u32(&r);

		if (r.err || id == MC_RAFT_NONE || id > 65535 || mc_raft_conf_has(&c, id))
			return -1;
		if (i < c.n_voters)
			c.voters[i] = id;
		else
			c.learners[i - c.n_voters] = id;
	}
	if (r.err || mc_remaining(&r) != 0)
		return -1;
	*out = c;
	return 0;
}
