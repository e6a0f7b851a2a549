/*
 * test_raft_harness.h — an in-process cluster of Raft cores for the unit
 * tests: a fake host per node (persisted hard state, log, snapshot, applied
 * state machine) and a hand-driven network that carries every message
 * through the wire codec.  Nothing is random: tests decide which messages
 * are delivered, dropped or cut, and when each node ticks.
 */
#ifndef TEST_RAFT_HARNESS_H
#define TEST_RAFT_HARNESS_H

#include "raft.h"
#include "testutil.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define TC_MAX 8
#define TC_SNAP_FILL 700		/* snapshot bytes: 16 of state + filler */

typedef struct tc_applied
{
	uint64_t	index;
	uint64_t	term;
	uint8_t		type;
	uint64_t	client_id;
	uint64_t	request_id;
} tc_applied;

typedef struct tc_node
{
	uint32_t	id;
	mc_raft    *r;
	bool		up;
	mc_raft_config cfg;
	/* what the fake host persisted */
	mc_raft_hard_state hs;
	mc_raft_snapshot_meta snap;
	mc_raft_entry *log;			/* persisted entries after snap.index */
	size_t		n_log;
	/* the state machine: count + hash of applied entries */
	uint64_t	sm_index;
	uint64_t	sm_hash;
	uint64_t	sm_count;
	tc_applied *applied;		/* every entry applied since creation */
	size_t		n_applied;
	/* snapshot bytes (taken locally or being received) */
	uint8_t		snap_bytes[16 + TC_SNAP_FILL];
	uint8_t		stage[16 + TC_SNAP_FILL];
	size_t		stage_len;
	int			installs;
	/* read answers */
	mc_raft_read_state reads[64];
	int			n_reads;
	int			snap_requests_seen;
	bool		answer_snap_requests;
	uint8_t		last_role;
	/* the last TC_NOTES batches carried out (ring), for send_first tests */
	struct tc_note
	{
		bool		send_first;
		uint8_t		role;
		bool		term_or_vote_changed;
		bool		truncates;
		size_t		n_entries;
		uint32_t	msg_types;	/* bit 1 << type of every message */
		bool		grant_or_ack;	/* a vote grant or an accepted append/snapshot */
	}			notes[64];
	uint64_t	n_notes;
} tc_node;

#define TC_NOTES 64

typedef struct tc_wire
{
	uint32_t	from,
				to;
	uint8_t		type;
	size_t		len;
	uint8_t    *buf;
} tc_wire;

typedef struct tc_cluster
{
	int			n;
	tc_node		nodes[TC_MAX];
	bool		cut[TC_MAX + 1][TC_MAX + 1];	/* cut[a][b]: a's messages to b lost */
	tc_wire    *q;
	size_t		nq;
	size_t		capq;
	bool		hold;			/* queue messages instead of auto-delivering */
	uint64_t	sent[16];		/* per message type */
	uint64_t	send_first_batches;	/* batches flagged send_first */
	uint64_t	plain_batches;	/* the others */
} tc_cluster;

static uint64_t
tc_mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
	return h;
}

static tc_node *
tc_node_of(tc_cluster *c, uint32_t id)
{
	return &c->nodes[id - 1];
}

static mc_raft *
tc_r(tc_cluster *c, uint32_t id)
{
	return c->nodes[id - 1].r;
}

static mc_raft_config
tc_default_cfg(uint32_t id)
{
	mc_raft_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.id = id;
	cfg.election_ticks = 10;
	cfg.heartbeat_ticks = 1;
	cfg.max_batch_bytes = 4096;
	cfg.max_inflight = 8;
	cfg.pre_vote = true;
	cfg.check_quorum = true;
	cfg.seed = 42 + id;
	return cfg;
}

static void
tc_free_log(tc_node *nd)
{
	for (size_t i = 0; i < nd->n_log; i++)
		free(nd->log[i].data);
	free(nd->log);
	nd->log = NULL;
	nd->n_log = 0;
}

static void
tc_store_entry(tc_node *nd, const mc_raft_entry *e)
{
	mc_raft_entry *c;

	nd->log = realloc(nd->log, (nd->n_log + 1) * sizeof(*nd->log));
	c = &nd->log[nd->n_log++];
	*c = *e;
	c->data = NULL;
	if (e->len)
	{
		c->data = malloc(e->len);
		memcpy(c->data, e->data, e->len);
	}
}

static void
tc_start(tc_cluster *c, uint32_t id)
{
	tc_node    *nd = tc_node_of(c, id);
	char		err[128];
	mc_raft_config cfg = nd->cfg;

	cfg.applied = nd->sm_index;
	nd->r = mc_raft_create(&cfg, &nd->hs, &nd->snap, nd->log, nd->n_log, err, sizeof(err));
	if (nd->r == NULL)
	{
		fprintf(stderr, "tc_start(%u): %s\n", id, err);
		abort();
	}
	nd->up = true;
}

/*
 * A cluster of n nodes, of which the first n_voters are voters of the
 * initial configuration and the rest start outside it (to be added).
 */
static void
tc_init_cfg(tc_cluster *c, int n, int n_voters, void (*tweak) (mc_raft_config *))
{
	memset(c, 0, sizeof(*c));
	c->n = n;
	for (int i = 0; i < n; i++)
	{
		tc_node    *nd = &c->nodes[i];

		nd->id = (uint32_t) (i + 1);
		nd->cfg = tc_default_cfg(nd->id);
		if (tweak)
			tweak(&nd->cfg);
		for (int v = 0; v < n_voters; v++)
			nd->snap.conf.voters[nd->snap.conf.n_voters++] = (uint32_t) (v + 1);
		nd->answer_snap_requests = true;
		tc_start(c, nd->id);
	}
}

static void
tc_init(tc_cluster *c, int n)
{
	tc_init_cfg(c, n, n, NULL);
}

static void
tc_free(tc_cluster *c)
{
	for (int i = 0; i < c->n; i++)
	{
		mc_raft_destroy(c->nodes[i].r);
		tc_free_log(&c->nodes[i]);
		free(c->nodes[i].applied);
	}
	for (size_t i = 0; i < c->nq; i++)
		free(c->q[i].buf);
	free(c->q);
}

/* Serialize the state machine as a snapshot. */
static void
tc_fill_snapshot(tc_node *nd)
{
	for (int i = 0; i < 8; i++)
	{
		nd->snap_bytes[i] = (uint8_t) (nd->sm_hash >> (8 * i));
		nd->snap_bytes[8 + i] = (uint8_t) (nd->sm_count >> (8 * i));
	}
	for (int i = 0; i < TC_SNAP_FILL; i++)
		nd->snap_bytes[16 + i] = (uint8_t) (i * 7 + nd->sm_count);
}

static void
tc_enqueue(tc_cluster *c, const mc_raft_msg *m)
{
	size_t		sz = mc_raft_msg_size(m);
	uint8_t    *buf = malloc(sz);
	int64_t		n = mc_raft_msg_encode(m, buf, sz);

	if (n != (int64_t) sz)
	{
		fprintf(stderr, "encode failed for %s\n", mc_raft_msg_type_name(m->type));
		abort();
	}
	if (m->type < 16)
		c->sent[m->type]++;
	if (m->to < 1 || m->to > (uint32_t) c->n || c->cut[m->from][m->to])
	{
		free(buf);
		return;
	}
	if (c->nq == c->capq)
	{
		c->capq = c->capq ? c->capq * 2 : 64;
		c->q = realloc(c->q, c->capq * sizeof(*c->q));
	}
	c->q[c->nq].from = m->from;
	c->q[c->nq].to = m->to;
	c->q[c->nq].type = m->type;
	c->q[c->nq].len = sz;
	c->q[c->nq].buf = buf;
	c->nq++;
}

/* Carry out one ready batch of node id, as a correct host does. */
static bool
tc_ready_one(tc_cluster *c, uint32_t id)
{
	tc_node    *nd = tc_node_of(c, id);
	mc_raft_batch rd;

	if (!nd->up || !mc_raft_has_ready(nd->r))
		return false;
	mc_raft_ready(nd->r, &rd);
	{
		struct tc_note *nt = &nd->notes[nd->n_notes++ % TC_NOTES];

		memset(nt, 0, sizeof(*nt));
		nt->send_first = rd.send_first;
		nt->role = rd.soft.role;
		nt->term_or_vote_changed = rd.has_hard_state &&
			(rd.hs.term != nd->hs.term || rd.hs.vote != nd->hs.vote);
		nt->truncates = rd.truncate_from != 0;
		nt->n_entries = rd.n_entries;
		for (size_t i = 0; i < rd.n_msgs; i++)
		{
			nt->msg_types |= 1u << rd.msgs[i].type;
			if (!rd.msgs[i].reject &&
				(rd.msgs[i].type == MC_RAFT_MSG_VOTE_RESP ||
				 rd.msgs[i].type == MC_RAFT_MSG_APPEND_RESP ||
				 rd.msgs[i].type == MC_RAFT_MSG_SNAPSHOT_RESP))
				nt->grant_or_ack = true;
		}
	}
	if (rd.send_first)
	{
		/*
		 * raft.h step 0: what the flag promises, then the messages leave
		 * before anything of the batch is stored.
		 */
		c->send_first_batches++;
		CHECK(rd.soft.role == MC_RAFT_LEADER);
		CHECK(rd.truncate_from == 0 && rd.install == NULL && rd.n_snap_chunks == 0);
		CHECK(rd.hs.term == nd->hs.term && rd.hs.vote == nd->hs.vote);
		for (size_t i = 0; i < rd.n_msgs; i++)
		{
			const mc_raft_msg *m = &rd.msgs[i];

			CHECK(m->type != MC_RAFT_MSG_VOTE_REQ && m->type != MC_RAFT_MSG_PREVOTE_REQ);
			CHECK(m->reject || (m->type != MC_RAFT_MSG_VOTE_RESP &&
								m->type != MC_RAFT_MSG_APPEND_RESP &&
								m->type != MC_RAFT_MSG_SNAPSHOT_RESP));
			tc_enqueue(c, m);
		}
	}
	else
		c->plain_batches++;
	for (size_t i = 0; i < rd.n_snap_chunks; i++)
	{
		const mc_raft_snap_chunk *ch = &rd.snap_chunks[i];

		if (ch->offset == 0)
			nd->stage_len = 0;
		CHECK(ch->offset == nd->stage_len);
		CHECK(ch->offset + ch->len <= sizeof(nd->stage));
		if (ch->offset + ch->len <= sizeof(nd->stage))
		{
			memcpy(nd->stage + ch->offset, ch->data, ch->len);
			nd->stage_len = ch->offset + ch->len;
		}
	}
	if (rd.install)
	{
		CHECK_EQ_INT(nd->stage_len, sizeof(nd->stage));
		memcpy(nd->snap_bytes, nd->stage, sizeof(nd->stage));
		nd->sm_hash = 0;
		nd->sm_count = 0;
		for (int i = 0; i < 8; i++)
		{
			nd->sm_hash |= (uint64_t) nd->stage[i] << (8 * i);
			nd->sm_count |= (uint64_t) nd->stage[8 + i] << (8 * i);
		}
		nd->sm_index = rd.install->index;
		nd->snap = *rd.install;
		tc_free_log(nd);
		nd->installs++;
	}
	if (rd.truncate_from)
	{
		while (nd->n_log > 0 && nd->log[nd->n_log - 1].index >= rd.truncate_from)
		{
			free(nd->log[nd->n_log - 1].data);
			nd->n_log--;
		}
	}
	for (size_t i = 0; i < rd.n_entries; i++)
	{
		uint64_t	want = nd->snap.index + nd->n_log + 1;

		CHECK_EQ_INT(rd.entries[i].index, want);
		tc_store_entry(nd, &rd.entries[i]);
	}
	if (rd.has_hard_state)
		nd->hs = rd.hs;
	for (size_t i = 0; i < rd.n_msgs && !rd.send_first; i++)
		tc_enqueue(c, &rd.msgs[i]);
	for (size_t i = 0; i < rd.n_committed; i++)
	{
		const mc_raft_entry *e = &rd.committed[i];
		tc_applied *a;

		CHECK_EQ_INT(e->index, nd->sm_index + 1);
		nd->sm_index = e->index;
		if (e->type == MC_RAFT_ENTRY_NORMAL)
		{
			nd->sm_hash = tc_mix(nd->sm_hash, e->index * 31 + e->term);
			for (uint32_t k = 0; k < e->len; k++)
				nd->sm_hash = tc_mix(nd->sm_hash, e->data[k]);
			nd->sm_count++;
		}
		nd->applied = realloc(nd->applied, (nd->n_applied + 1) * sizeof(*nd->applied));
		a = &nd->applied[nd->n_applied++];
		a->index = e->index;
		a->term = e->term;
		a->type = e->type;
		a->client_id = e->client_id;
		a->request_id = e->request_id;
	}
	for (size_t i = 0; i < rd.n_reads && nd->n_reads < 64; i++)
		nd->reads[nd->n_reads++] = rd.reads[i];
	/* snapshot requests are answered after advance (core is busy now) */
	{
		mc_raft_snap_request reqs[16];
		size_t		nr = rd.n_snap_requests < 16 ? rd.n_snap_requests : 16;

		if (nr > 0)
			memcpy(reqs, rd.snap_requests, nr * sizeof(reqs[0]));
		nd->last_role = rd.soft.role;
		mc_raft_advance(nd->r, &rd);
		nd->snap_requests_seen += (int) nr;
		if (nd->answer_snap_requests)
			for (size_t i = 0; i < nr; i++)
			{
				uint64_t	off = reqs[i].offset;
				uint32_t	chunk = 256;
				size_t		total = sizeof(nd->snap_bytes);
				uint32_t	len = (uint32_t) (off + chunk <= total ? chunk : total - off);

				mc_raft_snapshot_chunk(nd->r, reqs[i].to, reqs[i].meta.index, off,
									   nd->snap_bytes + off, len, off + len >= total);
			}
	}
	return true;
}

/* Run every node's ready until nothing is pending anywhere (no delivery). */
static void
tc_settle(tc_cluster *c)
{
	bool		any = true;

	while (any)
	{
		any = false;
		for (int i = 0; i < c->n; i++)
			if (tc_ready_one(c, (uint32_t) (i + 1)))
				any = true;
	}
}

/* Deliver queued message k (removing it). */
static void
tc_deliver_at(tc_cluster *c, size_t k)
{
	tc_wire		w = c->q[k];
	mc_raft_msg m;

	memmove(&c->q[k], &c->q[k + 1], (c->nq - k - 1) * sizeof(*c->q));
	c->nq--;
	if (c->cut[w.from][w.to] || !tc_node_of(c, w.to)->up)
	{
		free(w.buf);
		return;
	}
	if (mc_raft_msg_decode(w.buf, w.len, &m) != 0)
	{
		fprintf(stderr, "decode failed\n");
		abort();
	}
	mc_raft_step(tc_node_of(c, w.to)->r, &m);
	mc_raft_msg_free_decoded(&m);
	free(w.buf);
}

/* Deliver everything (and everything it causes) until quiet. */
static void
tc_flush(tc_cluster *c)
{
	for (int rounds = 0; rounds < 100000; rounds++)
	{
		tc_settle(c);
		if (c->nq == 0)
			return;
		tc_deliver_at(c, 0);
	}
	fprintf(stderr, "tc_flush: no quiescence\n");
	abort();
}

/* Drop every queued message. */
static void
tc_drop_all(tc_cluster *c)
{
	for (size_t i = 0; i < c->nq; i++)
		free(c->q[i].buf);
	c->nq = 0;
}

/* Drop queued messages of one type. */
static void
tc_drop_type(tc_cluster *c, uint8_t type)
{
	size_t		j = 0;

	for (size_t i = 0; i < c->nq; i++)
		if (c->q[i].type == type)
			free(c->q[i].buf);
		else
			c->q[j++] = c->q[i];
	c->nq = j;
}

static void
tc_tick(tc_cluster *c, uint32_t id)
{
	if (tc_node_of(c, id)->up)
		mc_raft_tick(tc_r(c, id));
}

/* Tick every live node once, then let the cluster settle. */
static void
tc_tick_all(tc_cluster *c, int times)
{
	for (int t = 0; t < times; t++)
	{
		for (int i = 0; i < c->n; i++)
			tc_tick(c, (uint32_t) (i + 1));
		tc_flush(c);
	}
}

static void
tc_isolate(tc_cluster *c, uint32_t id, bool on)
{
	for (int j = 1; j <= c->n; j++)
	{
		c->cut[id][j] = on;
		c->cut[j][id] = on;
	}
}

static void
tc_heal(tc_cluster *c)
{
	memset(c->cut, 0, sizeof(c->cut));
}

/* Crash: everything not persisted is lost. */
static void
tc_crash(tc_cluster *c, uint32_t id)
{
	tc_node    *nd = tc_node_of(c, id);

	mc_raft_destroy(nd->r);
	nd->r = NULL;
	nd->up = false;
	/* the state machine is volatile in this fake host: replay from snapshot */
	nd->sm_index = nd->snap.index;
	if (nd->snap.index > 0)
	{
		nd->sm_hash = 0;
		nd->sm_count = 0;
		for (int i = 0; i < 8; i++)
		{
			nd->sm_hash |= (uint64_t) nd->snap_bytes[i] << (8 * i);
			nd->sm_count |= (uint64_t) nd->snap_bytes[8 + i] << (8 * i);
		}
	}
	else
		nd->sm_hash = nd->sm_count = 0;
	nd->n_applied = 0;
}

static void
tc_restart(tc_cluster *c, uint32_t id)
{
	tc_start(c, id);
}

static mc_raft_status
tc_status(tc_cluster *c, uint32_t id)
{
	mc_raft_status st;

	mc_raft_get_status(tc_r(c, id), &st);
	return st;
}

static uint8_t
tc_role(tc_cluster *c, uint32_t id)
{
	return tc_status(c, id).role;
}

/* Tick only node id until it leaves the follower role (or max ticks),
 * settle and deliver everything; returns true if it became leader. */
static bool
tc_elect(tc_cluster *c, uint32_t id)
{
	for (int t = 0; t < 100 && tc_role(c, id) == MC_RAFT_FOLLOWER; t++)
		mc_raft_tick(tc_r(c, id));
	tc_flush(c);
	return tc_role(c, id) == MC_RAFT_LEADER;
}

/* Number of nodes that are leader in term t. */
static int
tc_leaders(tc_cluster *c, uint64_t *term)
{
	int			n = 0;

	for (int i = 1; i <= c->n; i++)
		if (c->nodes[i - 1].up && tc_role(c, (uint32_t) i) == MC_RAFT_LEADER)
		{
			n++;
			if (term)
				*term = tc_status(c, (uint32_t) i).term;
		}
	return n;
}

static int
tc_propose(tc_cluster *c, uint32_t id, uint64_t req, uint64_t *index)
{
	uint8_t		data[8];

	for (int i = 0; i < 8; i++)
		data[i] = (uint8_t) (req >> (8 * i));
	return mc_raft_propose(tc_r(c, id), MC_RAFT_ENTRY_NORMAL, 7, req, data, 8, index);
}

/* All live nodes' state machines agree index by index (state machine
 * safety) — compares applied histories where they overlap. */
static bool
tc_applied_agree(tc_cluster *c)
{
	for (int a = 0; a < c->n; a++)
		for (int b = a + 1; b < c->n; b++)
		{
			tc_node    *x = &c->nodes[a],
					   *y = &c->nodes[b];

			for (size_t i = 0; i < x->n_applied; i++)
				for (size_t j = 0; j < y->n_applied; j++)
					if (x->applied[i].index == y->applied[j].index &&
						(x->applied[i].term != y->applied[j].term ||
						 x->applied[i].request_id != y->applied[j].request_id))
						return false;
		}
	return true;
}

/* Persisted log term at index on node id (0 if absent). */
static uint64_t
tc_log_term(tc_cluster *c, uint32_t id, uint64_t index)
{
	tc_node    *nd = tc_node_of(c, id);

	for (size_t i = 0; i < nd->n_log; i++)
		if (nd->log[i].index == index)
			return nd->log[i].term;
	return 0;
}

static uint64_t
tc_log_last(tc_cluster *c, uint32_t id)
{
	tc_node    *nd = tc_node_of(c, id);

	return nd->snap.index + nd->n_log;
}

/* Preload node id's persisted state with entries of the given terms at
 * indexes 1..n, and a hard state term (before tc_start). */
static void
tc_preload(tc_node *nd, const uint64_t *terms, int n, uint64_t term)
{
	tc_free_log(nd);
	for (int i = 0; i < n; i++)
	{
		mc_raft_entry e;

		memset(&e, 0, sizeof(e));
		e.index = (uint64_t) (i + 1);
		e.term = terms[i];
		e.type = MC_RAFT_ENTRY_NORMAL;
		e.request_id = 1000 + (uint64_t) i * 10 + terms[i];
		tc_store_entry(nd, &e);
	}
	nd->hs.term = term;
	nd->hs.vote = 0;
	nd->hs.commit = 0;
}

/* Restart every node from its (preloaded) persisted state. */
static void
tc_reboot_all(tc_cluster *c)
{
	for (int i = 0; i < c->n; i++)
	{
		mc_raft_destroy(c->nodes[i].r);
		c->nodes[i].sm_index = 0;
		tc_start(c, (uint32_t) (i + 1));
	}
}

#endif
