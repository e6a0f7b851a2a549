/*
 * rsim_host.c — one simulated Raft host: starts and crashes a core
 * instance, keeps its disk (hard state, log, snapshot) and a mirror of its
 * in-memory log, and carries out each ready batch in the order raft.h
 * prescribes, with an optional slow disk (persistence completes later; the
 * node takes no input meanwhile), and an optional apply apart from the
 * batches (later, from disk, snapshots loaded there; apply_worker.c's way).
 * It reports every observation to the checkers and adds the durability
 * checks of R32: a vote or an append ack is never sent before what it
 * promises is on disk.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rsim_log.h"
#include "rsim_world.h"

void
rsim_trace(rsim_world *w, int level, const char *fmt,...)
{
	va_list		ap;

	if (w->verbose < level)
		return;
	printf("%8llu ", (unsigned long long) w->now);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void
free_inbox(rsim_node *n)
{
	size_t		k;

	for (k = 0; k < n->n_inbox; k++)
		free(n->inbox[k].data);
	n->n_inbox = 0;
}

/* ---- start / crash ------------------------------------------------------ */

/*
 * The state machine becomes the snapshot on node id's disk (a restart, or
 * the apply step loading a kept snapshot).  Its bytes were checked against
 * what was applied at its index when they were installed or taken.
 */
static void
load_disk_snapshot(rsim_world *w, int id)
{
	rsim_node  *n = &w->nodes[id];

	if (!rsim_sm_decode(n->disk.snap_data, n->disk.snap_len, &n->sm))
		rsim_check_fail(w->check, w->now, "node %d: its snapshot %llu on disk does not decode",
						id, (unsigned long long) n->disk.snap.index);
	n->sm.conf = n->disk.snap.conf;
}

void
rsim_host_start(rsim_world *w, int id, const mc_raft_conf *bootstrap)
{
	rsim_node  *n = &w->nodes[id];
	mc_raft_config cfg = w->base_cfg;
	char		err[256] = "";
	bool		restart = n->exists;

	if (n->up)
		return;
	n->id = id;
	if (!n->exists)
	{
		memset(&n->disk, 0, sizeof(n->disk));
		rsim_log_reset(&n->disk.log, 0, 0, 0);
		if (bootstrap)
		{
			rsim_sm		sm;

			n->disk.has_snap = true;
			n->disk.snap.index = 0;
			n->disk.snap.term = 0;
			n->disk.snap.conf = *bootstrap;
			rsim_sm_init(&sm, bootstrap);
			rsim_sm_encode(&sm, w->snap_filler, &n->disk.snap_data, &n->disk.snap_len);
		}
		n->exists = true;
	}
	cfg.id = (uint32_t) id;
	cfg.seed = rsim_rng_next(&w->rng);
	cfg.applied = n->disk.has_snap ? n->disk.snap.index : 0;
	if (w->apply_apart && restart)
	{
		/*
		 * The applied state survived (the real host's tables): the core
		 * hands out only what comes after it, and a snapshot kept but not
		 * loaded yet is loaded by the next apply step (raft_boot.c).
		 */
		if (n->sm.applied > cfg.applied)
			cfg.applied = n->sm.applied;
	}
	else if (n->disk.has_snap)
		load_disk_snapshot(w, id);
	else
		rsim_sm_init(&n->sm, NULL);
	n->commit_seen = cfg.applied;
	n->apply_at = n->sm.applied < cfg.applied ? w->now + 1 : 0;
	n->r = mc_raft_create(&cfg, n->disk.has_hs ? &n->disk.hs : NULL,
						  n->disk.has_snap ? &n->disk.snap : NULL,
						  n->disk.log.e, n->disk.log.n, err, sizeof(err));
	if (n->r == NULL)
	{
		rsim_check_fail(w->check, w->now, "node %d: mc_raft_create refused its own disk state: %s", id, err);
		return;
	}
	rsim_log_copy(&n->mem, &n->disk.log);
	n->up = true;
	n->busy = false;
	n->pending_ticks = 0;
	n->next_tick = w->now + 1 + rsim_rng_range(&w->rng, 0, RSIM_TICK_MS - 1);
	n->last_role = MC_RAFT_FOLLOWER;
	n->last_term = n->disk.has_hs ? n->disk.hs.term : 0;
	n->last_leader = 0;
	rsim_trace(w, 1, "node %d starts (term %llu, log %llu..%llu, snapshot %llu)", id,
			   (unsigned long long) n->last_term,
			   (unsigned long long) n->disk.log.base_index + 1,
			   (unsigned long long) rsim_log_last(&n->disk.log),
			   (unsigned long long) n->disk.log.base_index);
	rsim_host_pump(w, id);
}

void
rsim_host_crash(rsim_world *w, int id)
{
	rsim_node  *n = &w->nodes[id];

	if (!n->up)
		return;
	rsim_trace(w, 1, "node %d CRASHES%s", id, n->busy ? " (losing an unpersisted batch)" : "");
	mc_raft_destroy(n->r);
	n->r = NULL;
	n->up = false;
	n->busy = false;
	n->crash_at = 0;
	n->pending_ticks = 0;
	free_inbox(n);
	w->n_crashes++;
}

void
rsim_host_free(rsim_world *w, int id)
{
	rsim_node  *n = &w->nodes[id];

	if (n->up)
		mc_raft_destroy(n->r);
	n->r = NULL;
	n->up = false;
	free_inbox(n);
	free(n->inbox);
	rsim_log_free(&n->disk.log);
	rsim_log_free(&n->mem);
	free(n->disk.snap_data);
	free(n->disk.staging);
	memset(n, 0, sizeof(*n));
}

/* ---- per-step checks --------------------------------------------------- */

/*
 * The configuration a node counts its election in, as raft.h / the core
 * define it: the latest one if the node is a voter of it; else, when the
 * latest is the node's own uncommitted removal, the one before it (found in
 * the mirror log, or the snapshot's).  Returns false if neither applies.
 */
static bool
election_conf(rsim_node *n, const mc_raft_status *st, mc_raft_conf *out)
{
	size_t		k;
	bool		seen_latest = false;

	if (mc_raft_conf_is_voter(&st->conf, (uint32_t) n->id))
	{
		*out = st->conf;
		return true;
	}
	for (k = n->mem.n; k-- > 0;)
	{
		const mc_raft_entry *e = &n->mem.e[k];

		if (e->type != MC_RAFT_ENTRY_CONFIG)
			continue;
		if (!seen_latest)
		{
			if (e->index <= st->commit)
				return false;	/* removal committed: may not stand */
			seen_latest = true;
			continue;
		}
		return mc_raft_conf_decode(e->data, e->len, out) == 0 &&
			mc_raft_conf_is_voter(out, (uint32_t) n->id);
	}
	if (!seen_latest || !n->disk.has_snap)
		return false;
	*out = n->disk.snap.conf;
	return mc_raft_conf_is_voter(out, (uint32_t) n->id);
}

static void
post_checks(rsim_world *w, int id)
{
	rsim_node  *n = &w->nodes[id];
	mc_raft_status st;
	uint64_t	m;

	if (!n->up)
		return;
	mc_raft_get_status(n->r, &st);
	if (st.role != n->last_role || st.term != n->last_term || st.leader != n->last_leader)
	{
		rsim_trace(w, 1, "node %d: %s term %llu leader %u (commit %llu, last %llu)", id,
				   mc_raft_role_name(st.role), (unsigned long long) st.term, st.leader,
				   (unsigned long long) st.commit, (unsigned long long) st.last_index);
		if (st.role == MC_RAFT_LEADER && n->last_role != MC_RAFT_LEADER &&
			w->storm && !w->healed && n->crash_at == 0 &&
			rsim_rng_chance(&w->rng, w->leader_crash_permille))
		{
			/* a leader that dies right after its election (Figure 8) */
			n->crash_at = w->now + rsim_rng_range(&w->rng, 1, 40);
			rsim_trace(w, 1, "node %d: will crash at %llu", id, (unsigned long long) n->crash_at);
		}
		if (st.term < n->last_term)
			rsim_check_fail(w->check, w->now, "node %d: term went back from %llu to %llu",
							id, (unsigned long long) n->last_term, (unsigned long long) st.term);
		n->last_role = st.role;
		n->last_term = st.term;
		n->last_leader = st.leader;
	}
	if (st.role != MC_RAFT_LEADER)
		return;
	rsim_check_leader(w->check, w->now, id, st.term);
	if (w->rule_checks && (!n->was_leader_in_term || n->leader_term != st.term))
	{
		/*
		 * R4: a new leader holds votes of this term from a quorum of its
		 * configuration (itself included).  Grants are recorded when sent,
		 * so a correct count of received grants always passes.
		 */
		uint32_t	k,
					votes = 0;
		mc_raft_conf ec;

		n->was_leader_in_term = true;
		n->leader_term = st.term;
		if (!election_conf(n, &st, &ec))
			rsim_check_fail(w->check, w->now, "R4: node %d leads term %llu but is no voter of its configuration",
							id, (unsigned long long) st.term);
		else
		{
			for (k = 0; k < ec.n_voters; k++)
				if (ec.voters[k] == (uint32_t) id ||
					rsim_check_vote_of(w->check, (int) ec.voters[k], st.term) == id)
					votes++;
			if (votes < ec.n_voters / 2 + 1)
				rsim_check_fail(w->check, w->now, "R4: node %d leads term %llu with %u votes of that term from its %u voters",
								id, (unsigned long long) st.term, votes, ec.n_voters);
		}
	}

	/*
	 * Leader completeness: the highest committed entry, if its term is not
	 * above ours, must be in our log with the same prefix.
	 */
	m = rsim_check_max_committed(w->check);
	if (m > 0)
	{
		uint64_t	cterm,
					cchain,
					ctt,
					mychain;

		if (rsim_check_committed_at(w->check, m, &cterm, &cchain, &ctt) &&
			ctt <= st.term && m > n->mem.base_index)
		{
			if (!rsim_log_chain_at(&n->mem, m, &mychain))
				rsim_check_fail(w->check, w->now,
								"leader completeness: leader %d of term %llu lacks committed index %llu (its last is %llu)",
								id, (unsigned long long) st.term, (unsigned long long) m,
								(unsigned long long) rsim_log_last(&n->mem));
			else if (mychain != cchain)
				rsim_check_fail(w->check, w->now,
								"leader completeness: leader %d of term %llu holds another entry at committed index %llu",
								id, (unsigned long long) st.term, (unsigned long long) m);
		}
	}
}

/* ---- applying a batch to a log (mirror at ready time, disk at completion) */

static void
log_apply_batch(rsim_world *w, int id, rsim_log *l, const mc_raft_batch *rd,
				bool register_entries, const char *what)
{
	size_t		k;
	uint64_t	chain;

	if (register_entries)
	{
		/*
		 * Acknowledged entries stay: within the term it acked them in, a
		 * node never drops entries it acknowledged to the leader (by an
		 * install or a truncation) — the leader counts them for commits
		 * and never lowers its match index (R30, R32).
		 */
		rsim_node  *n = &w->nodes[id];
		uint64_t	cur = rd->has_hard_state ? rd->hs.term : n->disk.hs.term;
		uint64_t	keep = rsim_log_last(l);

		if (rd->install)
			keep = rd->install->index;
		if (rd->truncate_from != 0 && rd->truncate_from - 1 < keep)
			keep = rd->truncate_from - 1;
		if (n->acked_term == cur && n->acked_index > keep &&
			rsim_log_last(l) >= n->acked_index)
			rsim_check_fail(w->check, w->now,
							"R32: node %d drops entries up to %llu it acknowledged in term %llu (%s at %llu)",
							id, (unsigned long long) n->acked_index, (unsigned long long) cur,
							rd->install ? "snapshot install" : "truncation",
							(unsigned long long) keep);
	}
	if (rd->install)
	{
		uint64_t	c = 0;

		if (!rsim_check_chain_of(w->check, rd->install->index, rd->install->term, &c) &&
			rd->install->index > 0)
			rsim_check_fail(w->check, w->now, "node %d: installs a snapshot at (index %llu, term %llu) that no log ever held",
							id, (unsigned long long) rd->install->index,
							(unsigned long long) rd->install->term);
		rsim_log_reset(l, rd->install->index, rd->install->term, c);
	}
	if (rd->truncate_from != 0)
	{
		uint64_t	i,
					last = rsim_log_last(l);

		if (register_entries && rd->truncate_from <= l->base_index)
			rsim_check_fail(w->check, w->now, "node %d: truncates from %llu, below its snapshot %llu",
							id, (unsigned long long) rd->truncate_from,
							(unsigned long long) l->base_index);
		/*
		 * commit durability: a node whose term has reached the commit's
		 * term bound never truncates the committed entry (an older leader
		 * may still overwrite it on a node that lags behind in terms).
		 */
		uint64_t	node_term = rd->has_hard_state ? rd->hs.term :
			w->nodes[id].disk.hs.term;

		if (register_entries)
			for (i = rd->truncate_from; i <= last; i++)
			{
				uint64_t	ct,
							cc,
							ctt,
							mine;

				if (rsim_check_committed_at(w->check, i, &ct, &cc, &ctt) &&
					ctt <= node_term &&
					rsim_log_chain_at(l, i, &mine) && mine == cc)
				{
					rsim_check_fail(w->check, w->now, "commit durability: node %d truncates committed index %llu (truncate_from %llu)",
									id, (unsigned long long) i,
									(unsigned long long) rd->truncate_from);
					break;
				}
			}
		rsim_log_truncate(l, rd->truncate_from);
	}
	for (k = 0; k < rd->n_entries; k++)
	{
		const mc_raft_entry *e = &rd->entries[k];

		if (e->index <= rsim_log_last(l) && e->index > l->base_index)
		{
			/* overwriting without truncate_from: treat as truncation */
			rsim_log_truncate(l, e->index);
		}
		if (!rsim_log_append(l, e, &chain))
		{
			rsim_check_fail(w->check, w->now, "node %d: %s append of index %llu after last %llu is not contiguous",
							id, what, (unsigned long long) e->index,
							(unsigned long long) rsim_log_last(l));
			return;
		}
		if (register_entries)
			rsim_check_entry(w->check, w->now, id, e->index, e->term, chain);
	}
}

/* ---- carrying out a batch ---------------------------------------------- */

static void
stage_chunk(rsim_node *n, const mc_raft_snap_chunk *ch)
{
	rsim_disk  *d = &n->disk;
	size_t		end = (size_t) ch->offset + ch->len;

	if (ch->offset == 0)
		d->staging_len = 0;
	if (end > d->staging_cap)
	{
		d->staging_cap = end * 2;
		d->staging = realloc(d->staging, d->staging_cap);
		if (!d->staging)
			abort();
	}
	if ((size_t) ch->offset > d->staging_len)
		memset(d->staging + d->staging_len, 0, (size_t) ch->offset - d->staging_len);
	if (ch->len)
		memcpy(d->staging + ch->offset, ch->data, ch->len);
	d->staging_len = end;
}

static void
check_outgoing(rsim_world *w, int id, const mc_raft_msg *m)
{
	rsim_node  *n = &w->nodes[id];
	rsim_disk  *d = &n->disk;

	if (m->type == MC_RAFT_MSG_VOTE_RESP && !m->reject)
		rsim_check_vote(w->check, w->now, id, m->term, (int) m->to);
	if (m->type == MC_RAFT_MSG_APPEND_RESP && !m->reject)
	{
		if (m->term != n->acked_term)
		{
			n->acked_term = m->term;
			n->acked_index = 0;
		}
		if (m->index > n->acked_index)
			n->acked_index = m->index;
	}
	if (!w->rule_checks)
		return;
	if (m->type == MC_RAFT_MSG_VOTE_RESP && !m->reject)
	{
		if (!d->has_hs || d->hs.term != m->term || d->hs.vote != m->to)
			rsim_check_fail(w->check, w->now,
							"R32: node %d grants its vote to %u in term %llu but its disk holds term %llu vote %u",
							id, m->to, (unsigned long long) m->term,
							(unsigned long long) (d->has_hs ? d->hs.term : 0),
							d->has_hs ? d->hs.vote : 0);
	}
	else if (m->type == MC_RAFT_MSG_VOTE_REQ)
	{
		if (!d->has_hs || d->hs.term != m->term || d->hs.vote != (uint32_t) id)
			rsim_check_fail(w->check, w->now,
							"R32: node %d asks for votes in term %llu but its disk holds term %llu vote %u",
							id, (unsigned long long) m->term,
							(unsigned long long) (d->has_hs ? d->hs.term : 0),
							d->has_hs ? d->hs.vote : 0);
	}
	else if (m->type == MC_RAFT_MSG_APPEND_RESP && !m->reject)
	{
		uint64_t	dc,
					mc;

		if (!d->has_hs || d->hs.term < m->term)
			rsim_check_fail(w->check, w->now, "R32: node %d acks an append in term %llu with term %llu on disk",
							id, (unsigned long long) m->term,
							(unsigned long long) (d->has_hs ? d->hs.term : 0));
		if (m->index > rsim_log_last(&d->log))
			rsim_check_fail(w->check, w->now, "R32: node %d acks index %llu but its disk log ends at %llu",
							id, (unsigned long long) m->index,
							(unsigned long long) rsim_log_last(&d->log));
		else if (m->index > d->log.base_index &&
				 rsim_log_chain_at(&d->log, m->index, &dc) &&
				 rsim_log_chain_at(&n->mem, m->index, &mc) && dc != mc)
			rsim_check_fail(w->check, w->now, "R32: node %d acks index %llu but disk and memory differ there",
							id, (unsigned long long) m->index);
	}
}

static void *
dup_bytes(const void *p, size_t len)
{
	void	   *c = malloc(len ? len : 1);

	if (!c)
		abort();
	memcpy(c, p, len);
	return c;
}

static void
send_msg(rsim_world *w, int id, const mc_raft_msg *m)
{
	size_t		sz = mc_raft_msg_size(m);
	uint8_t    *buf = malloc(sz ? sz : 1);
	int64_t		len;

	if (!buf)
		abort();
	len = mc_raft_msg_encode(m, buf, sz);
	if (len >= 0 && (size_t) len < sz)
	{
		w->n_size_mismatch++;
		rsim_check_fail(w->check, w->now, "codec: node %d's %s encodes to %lld bytes, mc_raft_msg_size() said %zu",
						id, mc_raft_msg_type_name(m->type), (long long) len, sz);
	}
	if (len < 0)
	{
		rsim_check_fail(w->check, w->now, "codec: node %d's %s does not encode (size %zu, got %lld)",
						id, mc_raft_msg_type_name(m->type), sz, (long long) len);
		free(buf);
		return;
	}
	rsim_trace(w, 2, "  %d -> %u %s term %llu idx %llu lt %llu commit %llu n %u%s", id, m->to,
			   mc_raft_msg_type_name(m->type), (unsigned long long) m->term,
			   (unsigned long long) m->index, (unsigned long long) m->log_term,
			   (unsigned long long) m->commit, m->n_entries, m->reject ? " REJECT" : "");
	rsim_net_send(&w->net, w->now, id, (int) m->to, buf, (size_t) len, dup_bytes);
}

static void
apply_committed(rsim_world *w, int id, const mc_raft_entry *e)
{
	rsim_node  *n = &w->nodes[id];
	bool		fresh;
	uint64_t	memchain;

	if (e->index > rsim_log_last(&n->disk.log))
		rsim_check_fail(w->check, w->now, "node %d: applies index %llu before it is on disk (disk ends at %llu)",
						id, (unsigned long long) e->index,
						(unsigned long long) rsim_log_last(&n->disk.log));
	if (!rsim_sm_apply(&n->sm, e, &fresh))
	{
		rsim_check_fail(w->check, w->now, "node %d: applies index %llu but its state machine is at %llu",
						id, (unsigned long long) e->index, (unsigned long long) n->sm.applied);
		return;
	}
	if (rsim_log_chain_at(&n->mem, e->index, &memchain) && memchain != n->sm.chain)
		rsim_check_fail(w->check, w->now, "node %d: applies at index %llu an entry that differs from its log",
						id, (unsigned long long) e->index);
	rsim_check_apply(w->check, w->now, id, n->disk.hs.term, e->index, e->term, n->sm.chain, n->sm.app);
	w->n_commits_seen++;
	if (fresh)
	{
		int			c = (int) e->client_id;

		if (c >= 0 && c < w->n_clients && w->clients[c].outstanding &&
			w->clients[c].req == e->request_id)
		{
			w->clients[c].outstanding = false;
			rsim_trace(w, 1, "client %d request %llu applied at index %llu (node %d)", c,
					   (unsigned long long) e->request_id, (unsigned long long) e->index, id);
		}
	}
	if (e->type == MC_RAFT_ENTRY_CONFIG)
		rsim_trace(w, 1, "node %d applies config at %llu: %u voters, %u learners", id,
				   (unsigned long long) e->index, n->sm.conf.n_voters, n->sm.conf.n_learners);
}

/* ---- apply apart (the production host's apply worker) ------------------ */

static void
schedule_apply(rsim_world *w, int id)
{
	rsim_node  *n = &w->nodes[id];

	if (n->apply_at == 0)
		n->apply_at = w->now + rsim_rng_range(&w->rng, 0, w->apply_delay_max);
}

/*
 * Step 6 with the apply apart: the raft worker only raises the index the
 * apply step may reach (commit_for_apply).  The core hands each committed
 * index out once per incarnation, in order, after what the host applied or
 * kept; and only once it is on disk, where the apply step will read it.
 */
static void
hand_to_apply(rsim_world *w, int id, const mc_raft_entry *e)
{
	rsim_node  *n = &w->nodes[id];
	uint64_t	after = n->commit_seen;

	if (n->disk.has_snap && n->disk.snap.index > after)
		after = n->disk.snap.index;
	if (e->index != after + 1)
		rsim_check_fail(w->check, w->now, "node %d: committed index %llu handed out after %llu (snapshot %llu)",
						id, (unsigned long long) e->index, (unsigned long long) n->commit_seen,
						(unsigned long long) (n->disk.has_snap ? n->disk.snap.index : 0));
	if (e->index > rsim_log_last(&n->disk.log))
		rsim_check_fail(w->check, w->now, "node %d: committed index %llu handed out before it is on disk (disk ends at %llu)",
						id, (unsigned long long) e->index,
						(unsigned long long) rsim_log_last(&n->disk.log));
	if (e->index > n->commit_seen)
		n->commit_seen = e->index;
	schedule_apply(w, id);
}

void
rsim_host_apply(rsim_world *w, int id)
{
	rsim_node  *n = &w->nodes[id];
	rsim_disk  *d = &n->disk;
	uint64_t	budget = rsim_rng_range(&w->rng, 1, 64);

	n->apply_at = 0;
	if (!n->up)
		return;
	if (d->has_snap && d->snap.index > n->sm.applied)
	{
		/* the kept snapshot first, before any entry after it */
		load_disk_snapshot(w, id);
		rsim_trace(w, 1, "node %d loads its kept snapshot at %llu", id,
				   (unsigned long long) d->snap.index);
	}
	while (budget-- > 0 && n->sm.applied < n->commit_seen)
	{
		uint64_t	i = n->sm.applied + 1;

		if (i <= d->log.base_index || i > rsim_log_last(&d->log))
		{
			rsim_check_fail(w->check, w->now, "node %d: committed index %llu to apply is not on disk (log %llu..%llu)",
							id, (unsigned long long) i, (unsigned long long) d->log.base_index + 1,
							(unsigned long long) rsim_log_last(&d->log));
			return;
		}
		apply_committed(w, id, &d->log.e[i - d->log.base_index - 1]);
	}
	if (n->sm.applied < n->commit_seen)
		schedule_apply(w, id);
}

static void
serve_read(rsim_world *w, int id, const mc_raft_read_state *rs)
{
	size_t		k;

	for (k = 0; k < w->n_reads; k++)
	{
		rsim_read  *r = &w->reads[k];

		if (r->context != rs->context)
			continue;
		if (!rs->failed)
		{
			if (rs->index < r->min_index)
				rsim_check_fail(w->check, w->now,
								"read linearizability: node %d serves read %llu at index %llu, but %llu was committed when it was asked",
								id, (unsigned long long) rs->context, (unsigned long long) rs->index,
								(unsigned long long) r->min_index);
			w->n_reads_ok++;
		}
		w->reads[k] = w->reads[--w->n_reads];
		return;
	}
}

static void
serve_snap_request(rsim_world *w, int id, const mc_raft_snap_request *sr)
{
	rsim_node  *n = &w->nodes[id];
	rsim_disk  *d = &n->disk;
	size_t		chunk = w->base_cfg.max_batch_bytes;
	size_t		off = (size_t) sr->offset;
	size_t		len;

	if (!d->has_snap || d->snap.index != sr->meta.index || off > d->snap_len)
	{
		rsim_trace(w, 1, "node %d: cannot serve snapshot %llu (disk has %llu)", id,
				   (unsigned long long) sr->meta.index,
				   (unsigned long long) (d->has_snap ? d->snap.index : 0));
		return;
	}
	len = d->snap_len - off;
	if (len > chunk)
		len = chunk;
	if (mc_raft_snapshot_chunk(n->r, sr->to, sr->meta.index, off, d->snap_data + off,
							   (uint32_t) len, off + len == d->snap_len) != 0)
		rsim_check_fail(w->check, w->now, "node %d: mc_raft_snapshot_chunk refused chunk %zu+%zu of snapshot %llu for %u",
						id, off, len, (unsigned long long) sr->meta.index, sr->to);
}

/* Step 5 (or 0, send_first): every message of the batch leaves, each one
 * checked against what the disk holds at this moment (R32). */
static void
send_batch_msgs(rsim_world *w, int id, const mc_raft_batch *rd)
{
	size_t		k;

	for (k = 0; k < rd->n_msgs; k++)
	{
		check_outgoing(w, id, &rd->msgs[k]);
		send_msg(w, id, &rd->msgs[k]);
	}
}

/*
 * The core says this batch's messages may leave before it is persisted
 * (raft.h, send_first).  Check the promise the flag makes about durable
 * state: the node leads, its term and vote are already on disk, and the
 * batch truncates, installs and stages nothing.  (The messages themselves
 * go through check_outgoing as they leave, against the disk of the moment:
 * a vote grant or an append ack sent ahead of its persist fails R32 there.)
 */
static void
check_send_first(rsim_world *w, int id, const mc_raft_batch *rd)
{
	rsim_node  *n = &w->nodes[id];
	rsim_disk  *d = &n->disk;

	if (!w->rule_checks)
		return;
	if (rd->soft.role != MC_RAFT_LEADER)
		rsim_check_fail(w->check, w->now, "send_first: node %d's batch is flagged but the node is %s",
						id, mc_raft_role_name(rd->soft.role));
	if (rd->truncate_from != 0 || rd->install != NULL || rd->n_snap_chunks > 0)
		rsim_check_fail(w->check, w->now, "send_first: node %d's flagged batch truncates, installs or stages",
						id);
	if (rd->has_hard_state &&
		(!d->has_hs || d->hs.term != rd->hs.term || d->hs.vote != rd->hs.vote))
		rsim_check_fail(w->check, w->now,
						"send_first: node %d's flagged batch carries term %llu vote %u but its disk holds term %llu vote %u",
						id, (unsigned long long) rd->hs.term, rd->hs.vote,
						(unsigned long long) (d->has_hs ? d->hs.term : 0),
						d->has_hs ? d->hs.vote : 0);
}

/*
 * Steps 1-9 of raft.h's ready contract for the node's pending batch; the
 * mirror already reflects it.
 */
static void
complete_batch(rsim_world *w, int id)
{
	rsim_node  *n = &w->nodes[id];
	rsim_disk  *d = &n->disk;
	mc_raft_batch *rd = &n->rd;
	size_t		k,
				nreq;
	mc_raft_snap_request *reqs;
	uint64_t	installed_chain = d->log.base_chain;

	/* 1. stage chunks */
	for (k = 0; k < rd->n_snap_chunks; k++)
		stage_chunk(n, &rd->snap_chunks[k]);
	/* 2. install */
	if (rd->install)
	{
		rsim_sm		sm;
		uint64_t	app;

		if (!rsim_sm_decode(d->staging, d->staging_len, &sm))
			rsim_check_fail(w->check, w->now, "node %d: installs a snapshot whose staged bytes (%zu) do not decode",
							id, d->staging_len);
		else
		{
			if (sm.applied != rd->install->index || sm.applied_term != rd->install->term)
				rsim_check_fail(w->check, w->now, "node %d: installs snapshot meta (%llu, %llu) over data of (%llu, %llu)",
								id, (unsigned long long) rd->install->index,
								(unsigned long long) rd->install->term,
								(unsigned long long) sm.applied, (unsigned long long) sm.applied_term);
			if (rsim_check_app_hash_at(w->check, sm.applied, &app) && app != sm.app)
				rsim_check_fail(w->check, w->now, "state machine safety: node %d installs a snapshot at %llu that differs from what was applied there",
								id, (unsigned long long) sm.applied);
			if (sm.applied > 0)
				rsim_check_commit(w->check, w->now, id,
								  rd->has_hard_state ? rd->hs.term : d->hs.term,
								  sm.applied, sm.applied_term, sm.chain);
			sm.conf = rd->install->conf;
			installed_chain = sm.chain;
			if (w->apply_apart)
				schedule_apply(w, id);	/* loaded by the apply step, later */
			else
				n->sm = sm;
			free(d->snap_data);
			d->snap_data = malloc(d->staging_len ? d->staging_len : 1);
			if (!d->snap_data)
				abort();
			memcpy(d->snap_data, d->staging, d->staging_len);
			d->snap_len = d->staging_len;
			d->has_snap = true;
			d->snap = *rd->install;
			w->n_snap_installs++;
			rsim_trace(w, 1, "node %d installs snapshot at %llu", id,
					   (unsigned long long) rd->install->index);
		}
	}
	/* 3. truncate + append, mirroring what the mirror already did */
	log_apply_batch(w, id, &d->log, rd, false, "disk");
	if (rd->install)
		d->log.base_chain = installed_chain;
	/* 4. hard state */
	if (rd->has_hard_state)
	{
		if (d->has_hs)
		{
			if (rd->hs.term < d->hs.term)
				rsim_check_fail(w->check, w->now, "node %d: persists term %llu below its stored term %llu",
								id, (unsigned long long) rd->hs.term, (unsigned long long) d->hs.term);
			else if (rd->hs.term == d->hs.term && d->hs.vote != 0 && rd->hs.vote != d->hs.vote)
				rsim_check_fail(w->check, w->now, "R5: node %d changes its stored vote in term %llu from %u to %u",
								id, (unsigned long long) rd->hs.term, d->hs.vote, rd->hs.vote);
		}
		if (w->rule_checks &&
			rd->hs.commit > d->hs.commit && rd->hs.commit > d->log.base_index)
		{
			/*
			 * R12: a leader moves its commit index only onto an entry of
			 * its own term (earlier entries commit through it).
			 */
			mc_raft_status st;
			uint64_t	t;

			mc_raft_get_status(n->r, &st);
			if (st.role == MC_RAFT_LEADER && st.term == rd->hs.term &&
				rsim_log_term_at(&d->log, rd->hs.commit, &t) && t != st.term)
				rsim_check_fail(w->check, w->now, "R12: leader %d of term %llu commits index %llu, an entry of term %llu, by counting replicas",
								id, (unsigned long long) st.term,
								(unsigned long long) rd->hs.commit, (unsigned long long) t);
		}
		d->hs = rd->hs;
		d->has_hs = true;
		if (rd->hs.commit > 0 && rd->hs.commit > d->log.base_index)
		{
			uint64_t	t,
						c;

			if (rsim_log_term_at(&d->log, rd->hs.commit, &t) &&
				rsim_log_chain_at(&d->log, rd->hs.commit, &c))
				rsim_check_commit(w->check, w->now, id, rd->hs.term, rd->hs.commit, t, c);
			else
				rsim_check_fail(w->check, w->now, "node %d: persists commit %llu beyond its log (last %llu)",
								id, (unsigned long long) rd->hs.commit,
								(unsigned long long) rsim_log_last(&d->log));
		}
	}
	/* 5. messages (already sent at ready time when send_first) */
	if (!rd->send_first)
		send_batch_msgs(w, id, rd);
	/* 6. apply (apply apart: hand the entries to the apply step) */
	for (k = 0; k < rd->n_committed; k++)
	{
		if (w->apply_apart)
			hand_to_apply(w, id, &rd->committed[k]);
		else
			apply_committed(w, id, &rd->committed[k]);
	}
	/* 7. reads */
	for (k = 0; k < rd->n_reads; k++)
		serve_read(w, id, &rd->reads[k]);
	/*
	 * 8. snapshot chunks to send.  raft.h lists this before advance, but
	 * the core refuses mc_raft_snapshot_chunk() inside a ready batch, so
	 * the requests are copied and answered right after advance.
	 */
	nreq = rd->n_snap_requests;
	reqs = NULL;
	if (nreq > 0)
	{
		reqs = malloc(nreq * sizeof(mc_raft_snap_request));
		if (!reqs)
			abort();
		memcpy(reqs, rd->snap_requests, nreq * sizeof(mc_raft_snap_request));
	}
	/* 9. advance */
	mc_raft_advance(n->r, rd);
	n->busy = false;
	for (k = 0; k < nreq; k++)
		serve_snap_request(w, id, &reqs[k]);
	free(reqs);
}

static bool
batch_needs_disk(const mc_raft_batch *rd)
{
	return rd->has_hard_state || rd->n_entries > 0 || rd->install != NULL ||
		rd->truncate_from != 0 || rd->n_snap_chunks > 0;
}

static bool
batch_empty(const mc_raft_batch *rd)
{
	return !batch_needs_disk(rd) && rd->n_msgs == 0 && rd->n_committed == 0 &&
		rd->n_reads == 0 && rd->n_snap_requests == 0 && !rd->soft_changed;
}

void
rsim_host_pump(rsim_world *w, int id)
{
	rsim_node  *n = &w->nodes[id];
	int			empty_batches = 0;

	for (;;)
	{
		if (!n->up || n->busy)
			break;
		if (mc_raft_has_ready(n->r))
		{
			memset(&n->rd, 0, sizeof(n->rd));
			mc_raft_ready(n->r, &n->rd);
			if (batch_empty(&n->rd) && ++empty_batches >= 100)
			{
				/* the host would spin forever: report, and take the node down */
				rsim_check_fail(w->check, w->now, "node %d: mc_raft_has_ready() stays true but every batch is empty (host busy-loops)", id);
				mc_raft_advance(n->r, &n->rd);
				rsim_host_crash(w, id);
				return;
			}
			n->busy = true;
			log_apply_batch(w, id, &n->mem, &n->rd, true, "memory");
			if (n->rd.send_first && n->rd.n_msgs > 0)
			{
				/*
				 * Step 0: the leader replicates while it persists (thesis
				 * 10.2.1).  Its messages leave now; the persist follows
				 * (at once, or when the slow disk completes).  Sometimes
				 * the node dies in between: the batch's entries are lost
				 * from its disk while the followers may already have them.
				 */
				rsim_trace(w, 1, "node %d sends %zu messages before persisting %zu entries",
						   id, n->rd.n_msgs, n->rd.n_entries);
				check_send_first(w, id, &n->rd);
				send_batch_msgs(w, id, &n->rd);
				if (n->rd.n_entries > 0 && w->storm && !w->healed &&
					rsim_rng_chance(&w->rng, w->send_first_crash_permille))
				{
					rsim_trace(w, 1, "node %d: will crash before its batch is persisted", id);
					n->crash_at = w->now;	/* crashes before disk_done runs */
					n->busy_until = w->now + 1;
					break;
				}
			}
			if (n->disk_delay_max > 0 && batch_needs_disk(&n->rd))
			{
				n->busy_until = w->now + rsim_rng_range(&w->rng, 1, n->disk_delay_max);
				break;
			}
			complete_batch(w, id);
			post_checks(w, id);
			continue;
		}
		if (n->n_inbox > 0)
		{
			rsim_inmsg	im = n->inbox[0];

			memmove(n->inbox, n->inbox + 1, (n->n_inbox - 1) * sizeof(rsim_inmsg));
			n->n_inbox--;
			rsim_host_deliver(w, id, im.data, im.len, im.from);
			continue;
		}
		if (n->pending_ticks > 0)
		{
			n->pending_ticks--;
			mc_raft_tick(n->r);
			continue;
		}
		break;
	}
	post_checks(w, id);
}

void
rsim_host_disk_done(rsim_world *w, int id)
{
	rsim_node  *n = &w->nodes[id];

	if (!n->up || !n->busy)
		return;
	complete_batch(w, id);
	post_checks(w, id);
	rsim_host_pump(w, id);
}

void
rsim_host_deliver(rsim_world *w, int id, uint8_t *data, size_t len, int from)
{
	rsim_node  *n = &w->nodes[id];
	mc_raft_msg m;

	if (!n->up)
	{
		free(data);
		return;
	}
	if (n->busy)
	{
		if (n->n_inbox == n->cap_inbox)
		{
			n->cap_inbox = n->cap_inbox ? n->cap_inbox * 2 : 16;
			n->inbox = realloc(n->inbox, n->cap_inbox * sizeof(rsim_inmsg));
			if (!n->inbox)
				abort();
		}
		n->inbox[n->n_inbox].data = data;
		n->inbox[n->n_inbox].len = len;
		n->inbox[n->n_inbox].from = from;
		n->n_inbox++;
		return;
	}
	if (mc_raft_msg_decode(data, len, &m) != 0)
	{
		rsim_check_fail(w->check, w->now, "codec: a message from %d to %d (%zu bytes) does not decode",
						from, id, len);
		free(data);
		return;
	}
	{
		/* the codec round-trips: decoding then encoding gives the bytes */
		uint8_t		stackbuf[512];
		size_t		sz = mc_raft_msg_size(&m);
		uint8_t    *re = sz <= sizeof(stackbuf) ? stackbuf : malloc(sz);
		int64_t		relen;

		if (!re)
			abort();
		relen = mc_raft_msg_encode(&m, re, sz);
		if (relen != (int64_t) len || memcmp(re, data, len) != 0)
			rsim_check_fail(w->check, w->now, "codec: a %s from %d to %d does not re-encode to the same %zu bytes",
							mc_raft_msg_type_name(m.type), from, id, len);
		if (re != stackbuf)
			free(re);
	}
	mc_raft_step(n->r, &m);
	mc_raft_msg_free_decoded(&m);
	free(data);
	rsim_host_pump(w, id);
}

void
rsim_host_tick(rsim_world *w, int id)
{
	rsim_node  *n = &w->nodes[id];

	if (!n->up)
		return;
	if (n->busy)
	{
		if (n->pending_ticks < 1000)
			n->pending_ticks++;
		return;
	}
	mc_raft_tick(n->r);
	rsim_host_pump(w, id);
}

void
rsim_host_snapshot(rsim_world *w, int id)
{
	rsim_node  *n = &w->nodes[id];
	rsim_disk  *d = &n->disk;
	uint64_t	idx = n->sm.applied;
	int			rc;

	if (!n->up || n->busy || idx == 0 || (d->has_snap && idx <= d->snap.index))
		return;
	rc = mc_raft_snapshot_taken(n->r, idx);
	if (rc != 0)
	{
		rsim_trace(w, 1, "node %d: snapshot_taken(%llu) refused: %d", id,
				   (unsigned long long) idx, rc);
		return;
	}
	free(d->snap_data);
	rsim_sm_encode(&n->sm, w->snap_filler, &d->snap_data, &d->snap_len);
	d->has_snap = true;
	d->snap.index = idx;
	d->snap.term = n->sm.applied_term;
	d->snap.conf = n->sm.conf;
	rsim_log_compact(&d->log, idx);
	rsim_log_compact(&n->mem, idx);
	rsim_trace(w, 1, "node %d takes a snapshot at %llu", id, (unsigned long long) idx);
	rsim_host_pump(w, id);
}
