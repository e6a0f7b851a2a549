/*
 * raft_membership.c — one-server-at-a-time membership changes: which
 * configuration is in force (the latest CONFIG entry in the log, committed
 * or not, else the snapshot's), the configuration at a given index, and the
 * conf-change proposal with its one-pending-change rule (R25-R27).
 */
#include "raft_int.h"
#include "wire.h"

#include <stdlib.h>

/* The configuration in force at `index` (for a snapshot taken there). */
void
mc_raft_conf_at(const mc_raft *r, uint64_t index, mc_raft_conf *out)
{
	uint64_t	last = mc_raft_log_last_index(&r->log);

	if (index > last)
		index = last;
	for (uint64_t i = index; i > r->log.snap_index; i--)
	{
		const mc_raft_entry *e = mc_raft_log_at(&r->log, i);

		if (e->type == MC_RAFT_ENTRY_CONFIG &&
			mc_raft_conf_decode(e->data, e->len, out) == 0)
			return;
	}
	*out = r->snap_conf;
}

/*
 * Recompute the configuration in force after the log changed (append of a
 * CONFIG entry, truncation of one, snapshot install): configurations take
 * effect as soon as they are in the log.
 */
void
mc_raft_conf_recompute(mc_raft *r)
{
	uint64_t	last = mc_raft_log_last_index(&r->log);

	for (uint64_t i = last; i > r->log.snap_index; i--)
	{
		const mc_raft_entry *e = mc_raft_log_at(&r->log, i);

		if (e->type == MC_RAFT_ENTRY_CONFIG &&
			mc_raft_conf_decode(e->data, e->len, &r->conf) == 0)
		{
			r->conf_index = i;
			return;
		}
	}
	r->conf = r->snap_conf;
	r->conf_index = r->log.snap_index;
}

/* Leader side of a change request (local or forwarded). */
static int
leader_change(mc_raft *r, uint8_t op, uint32_t node, uint64_t *index)
{
	mc_raft_conf nc;
	uint8_t		buf[MC_RAFT_CONF_MAX_BYTES];
	int			len;
	int			rc;

	/* R26: one change at a time — the previous one must be applied */
	if (r->conf_index > r->log.applied)
		return MC_RAFT_ERR_CONF_PENDING;

	/*
	 * And a new leader must first commit an entry of its own term (its
	 * no-op).  Without this, single-server changes are unsafe across leader
	 * changes: an uncommitted change of a deposed leader and a new change
	 * of its successor can both derive from the same old configuration and
	 * have disjoint majorities (the bug Ongaro reported on raft-dev in
	 * 2015; found here by the simulator, seed 5237 with 5 nodes).
	 */
	if (!mc_raft_committed_in_term(r))
		return MC_RAFT_ERR_CONF_PENDING;
	rc = mc_raft_conf_apply(&r->conf, op, node, &nc);
	if (rc != MC_RAFT_OK)
		return rc;
	len = mc_raft_conf_encode(&nc, buf, sizeof(buf));
	if (len < 0)
		return MC_RAFT_ERR_INVALID;
	return mc_raft_leader_append(r, MC_RAFT_ENTRY_CONFIG, 0, 0, buf, (uint32_t) len, index);
}

int
mc_raft_propose_conf_change(mc_raft *r, uint8_t op, uint32_t node, uint64_t *index)
{
	mc_raft_conf tmp;

	if (index)
		*index = 0;
	if (r->in_ready)
		return MC_RAFT_ERR_INVALID;
	if (op < MC_RAFT_CC_ADD_VOTER || op > MC_RAFT_CC_REMOVE || node == MC_RAFT_NONE || node > 65535)
		return MC_RAFT_ERR_INVALID;
	if (r->role == MC_RAFT_LEADER)
		return leader_change(r, op, node, index);
	if (r->leader == MC_RAFT_NONE)
		return MC_RAFT_ERR_NOT_LEADER;
	/* validate against what we know, then forward */
	if (mc_raft_conf_apply(&r->conf, op, node, &tmp) != MC_RAFT_OK)
		return MC_RAFT_ERR_INVALID;
	{
		mc_raft_msg *m = mc_raft_send(r, MC_RAFT_MSG_PROPOSE, r->leader);
		uint8_t		req[5];
		mc_writer	w;
		mc_raft_entry e = {0};

		if (m == NULL)
			return MC_RAFT_ERR_NOMEM;
		mc_writer_init(&w, req, sizeof(req));
		mc_put_u8(&w, op);
		mc_put_u32(&w, node);
		e.type = MC_RAFT_ENTRY_CONFIG;
		e.data = req;
		e.len = sizeof(req);
		m->entries = calloc(1, sizeof(mc_raft_entry));
		if (m->entries == NULL || mc_raft_entry_copy(&m->entries[0], &e) != 0)
			return MC_RAFT_ERR_NOMEM;
		m->n_entries = 1;
		m->term = r->term;
	}
	return MC_RAFT_OK;
}

/* Leader: a forwarded CONFIG request (u8 op, u32 node). */
void
mc_raft_forwarded_change(mc_raft *r, const mc_raft_entry *e)
{
	mc_reader	rd;
	uint8_t		op;
	uint32_t	node;

	mc_reader_init(&rd, e->data, e->len);
	op = mc_get_u8(&rd);
	node = mc_get_u32(&rd);
	if (rd.err || mc_remaining(&rd) != 0)
		return;
	(void) leader_change(r, op, node, NULL);
}
