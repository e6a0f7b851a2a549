/*
 * raft_sim.c — deterministic simulation of a Raft cluster built on the pure
 * core (src/core/raft*.c): one seed fixes the network (loss, delay,
 * reordering, duplication, one- and two-way partitions), crashes and
 * restarts from disk, slow disks, a host that applies apart from its
 * ready batches (as apply_worker.c does), client proposals with retries,
 * membership changes (add learner, promote, remove — the leader included),
 * snapshots, leadership transfers, leader-lost hints and ReadIndex reads.
 * The checkers of rsim_check.c / rsim_host.c run after every step; after
 * the network heals, liveness is checked (a leader within a bound, every
 * pending client request decided).
 *
 *   raft_sim --seeds N           N seeds for each cluster size 3, 5, 7
 *   raft_sim --seed S --nodes N  one run; -v traces events, -vv messages
 *   --no-rule-checks             only the end-to-end properties (no R4, R12,
 *                                R32 rule checks), to see what they catch
 *
 * Prints "raft seeds=N violations=V" (V = failing runs) and exits 1 if V>0;
 * each failing run prints its first violation and the replay command.
 *
 * Scenarios (../shared/scenarios.md) this simulation checks at random:
 * R4 (vote quorum checker), R5 (one vote per term, across crashes), R8-R10,
 * R13-R15 (elections with nodes down, divergent logs repaired: log matching,
 * leader completeness, catch-up), R11-R12 (commit rule checker, leaders
 * crashing right after election: Figure 8), R16 (forwarded proposals),
 * R17-R18 (in-flight window 1..8, uncommitted bound), R19-R22 (check-quorum,
 * pre-vote, leader-lost hints), R23-R24 (read linearizability), R25-R28
 * (learners, promotion, removal of the leader, snapshots in chunks), R29
 * (transfers), R30 (duplicated/reordered responses), R31 (client request
 * ids: dedup in the state machine), R32 (persist-before-send checker).
 * See doc/simulation.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rsim_log.h"
#include "rsim_world.h"

#define CHAOS_MS		10000	/* faults are injected during this phase */
#define LEADER_BOUND_MS	3000	/* after healing: a leader within this */
#define DECIDE_BOUND_MS	6000	/* after healing: every request decided */
#define CATCHUP_BOUND_MS 4000	/* then every member catches up */
#define CLIENT_RETRY_MS	300

static int	n_clients_default = 3;

/* ---- helpers ----------------------------------------------------------- */

static int
pick_up_node(rsim_world *w, bool need_idle)
{
	int			cand[RSIM_MAX_NODES];
	int			n = 0,
				id;

	for (id = 1; id < RSIM_MAX_NODES; id++)
		if (w->nodes[id].up && (!need_idle || !w->nodes[id].busy))
			cand[n++] = id;
	if (n == 0)
		return 0;
	return cand[rsim_rng_range(&w->rng, 0, n - 1)];
}

static int
find_leader(rsim_world *w, bool need_idle, mc_raft_status *st)
{
	int			id;
	int			best = 0;
	uint64_t	best_term = 0;

	for (id = 1; id < RSIM_MAX_NODES; id++)
	{
		mc_raft_status s;

		if (!w->nodes[id].up)
			continue;
		mc_raft_get_status(w->nodes[id].r, &s);
		if (s.role == MC_RAFT_LEADER && s.term >= best_term &&
			(!need_idle || !w->nodes[id].busy))
		{
			best = id;
			best_term = s.term;
			if (st)
				*st = s;
		}
	}
	return best;
}

static void
track_read(rsim_world *w, uint64_t ctx, int node)
{
	if (w->n_reads == w->cap_reads)
	{
		w->cap_reads = w->cap_reads ? w->cap_reads * 2 : 16;
		w->reads = realloc(w->reads, w->cap_reads * sizeof(rsim_read));
		if (!w->reads)
			abort();
	}
	w->reads[w->n_reads].context = ctx;
	w->reads[w->n_reads].node = node;
	w->reads[w->n_reads].min_index = rsim_check_max_committed(w->check);
	w->n_reads++;
}

/* ---- actions ----------------------------------------------------------- */

static void
act_client(rsim_world *w, bool allow_new)
{
	rsim_client *c = &w->clients[rsim_rng_range(&w->rng, 0, w->n_clients - 1)];
	int			node;
	uint8_t		buf[128];
	uint32_t	len;
	uint64_t	idx = 0;
	int			rc;

	if (!c->outstanding)
	{
		if (!allow_new)
			return;
		c->req++;
		c->outstanding = true;
		c->first_sent_at = w->now;
		c->salt = rsim_rng_next(&w->rng);
	}
	else if (w->now - c->sent_at < CLIENT_RETRY_MS && c->sent_at != 0)
		return;
	node = pick_up_node(w, true);
	if (node == 0)
		return;
	if (w->host_holds && mc_raft_leader_round_open(w->nodes[node].r))
	{
		/*
		 * Group commit (src/pg/raft_requests.c): the host leaves it in its
		 * slot until the leader's open round commits.
		 */
		c->sent_at = w->now - CLIENT_RETRY_MS + 2;
		return;
	}
	c->sent_at = w->now;
	len = rsim_sm_payload(c->id, c->req, c->salt, buf, sizeof(buf));
	rc = mc_raft_propose(w->nodes[node].r, MC_RAFT_ENTRY_NORMAL, c->id, c->req, buf, len, &idx);
	rsim_trace(w, 1, "client %llu request %llu -> node %d: rc %d index %llu",
			   (unsigned long long) c->id, (unsigned long long) c->req, node, rc,
			   (unsigned long long) idx);
	if (rc != 0)
		c->sent_at = w->now - CLIENT_RETRY_MS + 20;	/* retry soon */
	rsim_host_pump(w, node);
}

static void crash_node(rsim_world *w, int id);

static void
act_crash(rsim_world *w)
{
	int			id = pick_up_node(w, false);

	if (id)
		crash_node(w, id);
}

/* Crash id; if it led, peers whose connection to it closed get the hint. */
static void
crash_node(rsim_world *w, int id)
{
	int			k;
	mc_raft_status st;

	mc_raft_get_status(w->nodes[id].r, &st);
	rsim_host_crash(w, id);
	if (st.role != MC_RAFT_LEADER)
		return;
	/* peers whose connection to the leader closed get the hint */
	for (k = 1; k < RSIM_MAX_NODES; k++)
	{
		rsim_node  *n = &w->nodes[k];

		if (!n->up || n->busy || n->last_leader != (uint32_t) id)
			continue;
		if (w->net.cut[id][k] || !rsim_rng_chance(&w->rng, 800))
			continue;
		rsim_trace(w, 1, "node %d: leader-lost hint (leader %d crashed)", k, id);
		mc_raft_leader_lost(n->r);
		rsim_host_pump(w, k);
	}
}

static void
act_restart(rsim_world *w)
{
	int			cand[RSIM_MAX_NODES];
	int			n = 0,
				id;

	for (id = 1; id < RSIM_MAX_NODES; id++)
		if (w->nodes[id].exists && !w->nodes[id].up)
			cand[n++] = id;
	if (n == 0)
		return;
	rsim_host_start(w, cand[rsim_rng_range(&w->rng, 0, n - 1)], NULL);
}

static void
act_partition(rsim_world *w)
{
	int			kind = (int) rsim_rng_range(&w->rng, 0, 2);
	int			a,
				b;
	int			top = w->next_new_id;

	if (kind == 0)
	{
		/* two-way split into random halves */
		bool		side[RSIM_MAX_NODES];

		for (a = 1; a < top; a++)
			side[a] = rsim_rng_chance(&w->rng, 500);
		for (a = 1; a < top; a++)
			for (b = 1; b < top; b++)
				if (a != b && side[a] != side[b])
					rsim_net_set_cut(&w->net, a, b, true);
		rsim_trace(w, 1, "partition: two-way split");
	}
	else if (kind == 1)
	{
		a = (int) rsim_rng_range(&w->rng, 1, top - 1);
		b = (int) rsim_rng_range(&w->rng, 1, top - 1);
		if (a != b)
		{
			rsim_net_set_cut(&w->net, a, b, true);
			rsim_trace(w, 1, "partition: one-way cut %d -> %d", a, b);
		}
	}
	else
	{
		a = (int) rsim_rng_range(&w->rng, 1, top - 1);
		for (b = 1; b < top; b++)
			if (a != b)
			{
				rsim_net_set_cut(&w->net, a, b, true);
				rsim_net_set_cut(&w->net, b, a, true);
			}
		rsim_trace(w, 1, "partition: node %d isolated", a);
	}
}

static void
act_loss(rsim_world *w)
{
	int			a,
				b;
	int			top = w->next_new_id;
	unsigned	p = (unsigned) rsim_rng_range(&w->rng, 0, 300);

	for (a = 1; a < top; a++)
		for (b = 1; b < top; b++)
			if (rsim_rng_chance(&w->rng, 300))
				w->net.loss[a][b] = p;
	rsim_trace(w, 1, "loss: some links now drop %u permille", p);
}

static void
act_slow_disk(rsim_world *w)
{
	int			id = (int) rsim_rng_range(&w->rng, 1, w->next_new_id - 1);

	if (w->nodes[id].disk_delay_max)
		w->nodes[id].disk_delay_max = 0;
	else
		w->nodes[id].disk_delay_max = rsim_rng_range(&w->rng, 5, 60);
	rsim_trace(w, 1, "node %d: disk delay up to %llu ms", id,
			   (unsigned long long) w->nodes[id].disk_delay_max);
}

static void
act_membership(rsim_world *w)
{
	mc_raft_status st;
	int			leader = find_leader(w, true, &st);
	int			op = (int) rsim_rng_range(&w->rng, 0, 2);
	uint32_t	target = 0;
	uint8_t		ccop = 0;
	uint64_t	idx = 0;
	int			rc;

	if (leader == 0)
		return;
	if (op == 0)
	{
		if (w->next_new_id >= RSIM_MAX_NODES || st.conf.n_voters + st.conf.n_learners >= 9)
			return;
		target = (uint32_t) w->next_new_id++;
		rsim_host_start(w, (int) target, NULL);
		ccop = MC_RAFT_CC_ADD_LEARNER;
	}
	else if (op == 1)
	{
		if (st.conf.n_learners == 0)
			return;
		target = st.conf.learners[rsim_rng_range(&w->rng, 0, st.conf.n_learners - 1)];
		ccop = MC_RAFT_CC_PROMOTE;
	}
	else
	{
		uint32_t	total = st.conf.n_voters + st.conf.n_learners;
		uint32_t	k = (uint32_t) rsim_rng_range(&w->rng, 0, total - 1);

		target = k < st.conf.n_voters ? st.conf.voters[k] : st.conf.learners[k - st.conf.n_voters];
		if (k < st.conf.n_voters && st.conf.n_voters < 3)
			return;
		ccop = MC_RAFT_CC_REMOVE;
	}
	if (!w->nodes[leader].up || w->nodes[leader].busy)
		return;
	rc = mc_raft_propose_conf_change(w->nodes[leader].r, ccop, target, &idx);
	rsim_trace(w, 1, "leader %d: conf change op %d node %u -> rc %d index %llu", leader,
			   ccop, target, rc, (unsigned long long) idx);
	if (rc == 0)
		w->n_conf_changes++;
	rsim_host_pump(w, leader);
}

static void
act_transfer(rsim_world *w)
{
	mc_raft_status st;
	int			leader = find_leader(w, true, &st);
	uint32_t	target = 0;
	int			rc;

	if (leader == 0)
		return;
	if (st.conf.n_voters > 0 && rsim_rng_chance(&w->rng, 800))
		target = st.conf.voters[rsim_rng_range(&w->rng, 0, st.conf.n_voters - 1)];
	rc = mc_raft_transfer_leader(w->nodes[leader].r, target);
	rsim_trace(w, 1, "leader %d: transfer leadership to %u -> rc %d", leader, target, rc);
	if (rc == 0)
		w->n_transfers++;
	rsim_host_pump(w, leader);
}

static void
act_read(rsim_world *w)
{
	int			id = pick_up_node(w, true);
	uint64_t	ctx;

	if (id == 0)
		return;
	ctx = ++w->next_context;
	track_read(w, ctx, id);
	if (mc_raft_read_index(w->nodes[id].r, ctx) != 0)
		w->n_reads--;
	rsim_host_pump(w, id);
}

static void
act_spurious_hint(rsim_world *w)
{
	int			id = pick_up_node(w, true);

	if (id == 0)
		return;
	rsim_trace(w, 1, "node %d: spurious leader-lost hint", id);
	mc_raft_leader_lost(w->nodes[id].r);
	rsim_host_pump(w, id);
}

/* A node's host starts or stops waiting for commits (its WANT_COMMIT). */
static void
act_commit_wanted(rsim_world *w)
{
	int			id = pick_up_node(w, true);
	bool		wanted = rsim_rng_range(&w->rng, 0, 1) == 1;

	if (id == 0)
		return;
	rsim_trace(w, 1, "node %d: commit wanted %s", id, wanted ? "on" : "off");
	mc_raft_set_commit_wanted(w->nodes[id].r, wanted);
	rsim_host_pump(w, id);
}

/*
 * One random action.  In a storm every fault is possible; in a calm epoch
 * only the cluster's own business goes on (clients, reads, snapshots,
 * transfers, membership) and crashed nodes come back.
 */
static void
random_action(rsim_world *w, bool storm)
{
	unsigned	r = (unsigned) rsim_rng_range(&w->rng, 0, 999);

	if (!storm && ((r >= 400 && r < 520) || (r >= 520 && r < 700) || r >= 900))
	{
		if (r < 460)
			act_restart(w);
		else
			act_client(w, true);
		return;
	}

	if (r < 380)
		act_client(w, true);
	else if (r < 440)
		act_crash(w);
	else if (r < 520)
		act_restart(w);
	else if (r < 570)
		act_partition(w);
	else if (r < 620)
	{
		rsim_net_heal(&w->net);
		rsim_trace(w, 1, "network heals");
	}
	else if (r < 650)
		act_loss(w);
	else if (r < 680)
		act_slow_disk(w);
	else if (r < 740)
		act_membership(w);
	else if (r < 770)
		act_transfer(w);
	else if (r < 830)
	{
		int			id = pick_up_node(w, true);

		if (id)
			rsim_host_snapshot(w, id);
	}
	else if (r < 900)
		act_read(w);
	else if (r < 915)
		act_spurious_hint(w);
	else if (r < 935)
		act_commit_wanted(w);
	else
		act_client(w, true);
}

/* ---- the run ----------------------------------------------------------- */

/* -v: the state of every node when a run ends with a violation. */
static void
dump_nodes(rsim_world *w)
{
	int			id,
				k;

	for (id = 1; id < RSIM_MAX_NODES; id++)
	{
		rsim_node  *n = &w->nodes[id];
		mc_raft_status st;
		mc_raft_progress_info pi[RSIM_MAX_NODES * 2];
		int			np;
		char		conf[256];
		int			off = 0;

		if (!n->exists)
			continue;
		if (!n->up)
		{
			printf("  node %d: down\n", id);
			continue;
		}
		mc_raft_get_status(n->r, &st);
		for (k = 0; k < (int) st.conf.n_voters; k++)
			off += snprintf(conf + off, sizeof(conf) - off, "%s%u", k ? "," : "", st.conf.voters[k]);
		off += snprintf(conf + off, sizeof(conf) - off, " learners ");
		for (k = 0; k < (int) st.conf.n_learners; k++)
			off += snprintf(conf + off, sizeof(conf) - off, "%s%u", k ? "," : "", st.conf.learners[k]);
		printf("  node %d: %s term %llu vote %u leader %u commit %llu applied %llu last %llu/%llu snap %llu busy %d voters %s\n",
			   id, mc_raft_role_name(st.role), (unsigned long long) st.term, st.vote, st.leader,
			   (unsigned long long) st.commit, (unsigned long long) st.applied,
			   (unsigned long long) st.last_index, (unsigned long long) st.last_term,
			   (unsigned long long) st.snapshot_index, n->busy, conf);
		np = mc_raft_get_progress(n->r, pi, RSIM_MAX_NODES * 2);
		for (k = 0; k < np && k < RSIM_MAX_NODES * 2; k++)
			printf("      progress %u%s: match %llu next %llu state %d inflight %d ticks_since_ack %llu\n",
				   pi[k].id, pi[k].learner ? " (learner)" : "", (unsigned long long) pi[k].match,
				   (unsigned long long) pi[k].next, pi[k].state, pi[k].inflight,
				   (unsigned long long) pi[k].ticks_since_ack);
	}
}

static void
heal_all(rsim_world *w)
{
	int			id;

	rsim_net_heal(&w->net);
	w->net.dup_permille = 0;
	w->net.slow_permille = 0;
	/* liveness needs broadcast time well below the election timeout */
	if (w->net.delay_max > (uint64_t) w->base_cfg.election_ticks * RSIM_TICK_MS / 5)
		w->net.delay_max = (uint64_t) w->base_cfg.election_ticks * RSIM_TICK_MS / 5;
	if (w->net.delay_max < 2)
		w->net.delay_max = 2;
	for (id = 1; id < RSIM_MAX_NODES; id++)
	{
		w->nodes[id].crash_at = 0;
		if (w->nodes[id].disk_delay_max > 10)
			w->nodes[id].disk_delay_max = 10;
		if (w->nodes[id].exists && !w->nodes[id].up)
			rsim_host_start(w, id, NULL);
	}
	w->healed = true;
	rsim_trace(w, 1, "=== HEAL: network healed, every node restarted ===");
}

static bool
all_decided(rsim_world *w)
{
	int			c;

	for (c = 0; c < w->n_clients; c++)
		if (w->clients[c].outstanding)
			return false;
	return true;
}

static uint64_t
next_event_time(rsim_world *w, uint64_t next_action)
{
	uint64_t	t = next_action;
	uint64_t	m;
	int			id;

	if (rsim_net_next_time(&w->net, &m) && m < t)
		t = m;
	for (id = 1; id < RSIM_MAX_NODES; id++)
	{
		rsim_node  *n = &w->nodes[id];

		if (!n->up)
			continue;
		if (n->busy && n->busy_until < t)
			t = n->busy_until;
		if (n->next_tick < t)
			t = n->next_tick;
		if (n->crash_at && n->crash_at < t)
			t = n->crash_at;
		if (n->apply_at && n->apply_at < t)
			t = n->apply_at;
	}
	return t;
}

/*
 * Run one seed with n nodes.  Returns the number of violations (0 = pass);
 * prints the first violation and the replay command when there is one.
 */
static bool rule_checks = true;

static int
run_one(uint64_t seed, int nodes, int verbose, uint64_t *sim_ms)
{
	rsim_world *w = calloc(1, sizeof(rsim_world));
	mc_raft_conf boot;
	int			id,
				v;
	uint64_t	next_action = 1;
	uint64_t	heal_at = CHAOS_MS;
	uint64_t	leader_seen_at = 0;
	bool		check_liveness;
	uint64_t	catchup_target = 0;
	uint64_t	decided_at = 0;
	uint64_t	epoch_end = 0;
	bool		storm = false;

	if (!w)
		abort();
	w->seed = seed;
	w->n_initial = nodes;
	w->verbose = verbose;
	w->rule_checks = rule_checks;
	rsim_rng_seed(&w->rng, seed * 1000003ULL + (uint64_t) nodes);
	w->check = rsim_check_new();
	rsim_net_init(&w->net, &w->rng, NULL);
	w->net.delay_min = 1;
	w->net.delay_max = rsim_rng_chance(&w->rng, 200) ? rsim_rng_range(&w->rng, 30, 80)
		: rsim_rng_range(&w->rng, 2, 30);
	w->net.dup_permille = (unsigned) rsim_rng_range(&w->rng, 0, 40);
	w->net.slow_permille = rsim_rng_chance(&w->rng, 500) ? (unsigned) rsim_rng_range(&w->rng, 5, 50) : 0;
	w->net.slow_max = rsim_rng_range(&w->rng, 50, 400);
	w->base_cfg.election_ticks = (int) rsim_rng_range(&w->rng, 5, 15);
	w->base_cfg.heartbeat_ticks = (int) rsim_rng_range(&w->rng, 1, 3);
	w->base_cfg.max_batch_bytes = rsim_rng_chance(&w->rng, 300)
		? (uint32_t) rsim_rng_range(&w->rng, 16, 64)
		: (uint32_t) rsim_rng_range(&w->rng, 100, 2000);
	w->leader_crash_permille = (unsigned) rsim_rng_range(&w->rng, 0, 300);
	w->send_first_crash_permille = (unsigned) rsim_rng_range(&w->rng, 0, 30);
	w->base_cfg.max_inflight = (int) rsim_rng_range(&w->rng, 1, 8);
	w->base_cfg.max_uncommitted_bytes = rsim_rng_chance(&w->rng, 300) ? 4096 : 0;
	/*
	 * The production configuration has pre-vote and check-quorum on; one
	 * seed in five turns either off, for safety only: without them removed
	 * servers that keep running legitimately disrupt the cluster (thesis
	 * 4.2.3), so liveness is not checked there.
	 */
	w->base_cfg.pre_vote = true;
	w->base_cfg.check_quorum = true;
	if (rsim_rng_chance(&w->rng, 200))
	{
		w->base_cfg.pre_vote = rsim_rng_chance(&w->rng, 500);
		w->base_cfg.check_quorum = rsim_rng_chance(&w->rng, 500);
	}
	check_liveness = w->base_cfg.pre_vote && w->base_cfg.check_quorum;
	/* the production host holds its proposals while a round is open */
	w->host_holds = rsim_rng_chance(&w->rng, 750);
	/*
	 * The production host applies apart from its raft worker: committed
	 * entries and received snapshots a little later, from disk, into a
	 * state that survives crashes (apply_worker.c).  Half the seeds run
	 * that host, half apply within the ready batch.
	 */
	w->apply_apart = rsim_rng_chance(&w->rng, 500);
	w->apply_delay_max = rsim_rng_chance(&w->rng, 200) ? rsim_rng_range(&w->rng, 100, 400)
		: rsim_rng_range(&w->rng, 0, 30);
	/* snapshots of a few (tiny batches) to a dozen chunks */
	w->snap_filler = (size_t) rsim_rng_range(&w->rng, 0, w->base_cfg.max_batch_bytes * 8);
	w->n_clients = n_clients_default;
	for (v = 0; v < w->n_clients; v++)
		w->clients[v].id = (uint64_t) v;
	rsim_trace(w, 1, "seed %llu nodes %d: ET %d delay 1..%llu dup %u hb %d batch %u inflight %d uncommitted %llu pre_vote %d check_quorum %d host_holds %d apply_apart %d (0..%llu ms)",
			   (unsigned long long) seed, nodes, w->base_cfg.election_ticks,
			   (unsigned long long) w->net.delay_max,
			   w->net.dup_permille, w->base_cfg.heartbeat_ticks, w->base_cfg.max_batch_bytes,
			   w->base_cfg.max_inflight, (unsigned long long) w->base_cfg.max_uncommitted_bytes,
			   w->base_cfg.pre_vote, w->base_cfg.check_quorum, w->host_holds,
			   w->apply_apart, (unsigned long long) w->apply_delay_max);

	memset(&boot, 0, sizeof(boot));
	for (id = 1; id <= nodes; id++)
		boot.voters[boot.n_voters++] = (uint32_t) id;
	w->next_new_id = nodes + 1;
	for (id = 1; id <= nodes; id++)
		rsim_host_start(w, id, &boot);

	while (rsim_check_violations(w->check) == 0)
	{
		uint64_t	t = next_event_time(w, next_action);
		rsim_msg	m;

		if (!w->healed && t >= heal_at)
		{
			w->now = heal_at;
			heal_all(w);
			next_action = w->now + 1;
			continue;
		}
		w->now = t;
		while (rsim_net_pop(&w->net, w->now, &m))
		{
			if (m.to > 0 && m.to < RSIM_MAX_NODES)
				rsim_host_deliver(w, m.to, m.data, m.len, m.from);
			else
				free(m.data);
		}
		for (id = 1; id < RSIM_MAX_NODES; id++)
		{
			rsim_node  *n = &w->nodes[id];

			if (n->up && n->crash_at && n->crash_at <= w->now && !w->healed)
				crash_node(w, id);
			if (n->up && n->busy && n->busy_until <= w->now)
				rsim_host_disk_done(w, id);
			if (n->up && n->apply_at && n->apply_at <= w->now)
				rsim_host_apply(w, id);
		}
		for (id = 1; id < RSIM_MAX_NODES; id++)
		{
			rsim_node  *n = &w->nodes[id];

			if (n->up && n->next_tick <= w->now)
			{
				n->next_tick += RSIM_TICK_MS;
				rsim_host_tick(w, id);
			}
		}
		if (w->now >= next_action)
		{
			if (!w->healed)
			{
				if (w->now >= epoch_end)
				{
					storm = rsim_rng_chance(&w->rng, 500);
					epoch_end = w->now + rsim_rng_range(&w->rng, 200, 1500);
					if (!storm && rsim_rng_chance(&w->rng, 500))
						rsim_net_heal(&w->net);
					rsim_trace(w, 1, "--- %s epoch until %llu ---", storm ? "storm" : "calm",
							   (unsigned long long) epoch_end);
				}
				w->storm = storm;
				random_action(w, storm);
				next_action = w->now + (storm ? rsim_rng_range(&w->rng, 1, 25)
										: rsim_rng_range(&w->rng, 5, 40));
			}
			else
			{
				/* after healing: clients retry, nobody starts anything new */
				act_client(w, false);
				next_action = w->now + 20;
			}
		}
		if (w->healed && !check_liveness)
		{
			if (w->now > heal_at + DECIDE_BOUND_MS)
				break;
		}
		else if (w->healed)
		{
			if (leader_seen_at == 0)
			{
				mc_raft_status st;
				int			l = find_leader(w, false, &st);

				if (l && mc_raft_conf_is_voter(&st.conf, (uint32_t) l))
				{
					leader_seen_at = w->now;
					rsim_trace(w, 1, "liveness: leader %d %llu ms after heal", l,
							   (unsigned long long) (w->now - heal_at));
				}
				else if (w->now > heal_at + LEADER_BOUND_MS)
					rsim_check_fail(w->check, w->now, "liveness: no leader within %d ms after the network healed",
									LEADER_BOUND_MS);
			}
			if (leader_seen_at && all_decided(w))
			{
				/*
				 * Then every member of the leader's configuration catches
				 * up (log or snapshot) to what was committed by now.
				 */
				mc_raft_status st;
				int			l = find_leader(w, false, &st);
				uint32_t	k,
							lagging = 0;

				if (catchup_target == 0 && l)
				{
					catchup_target = st.commit;
					decided_at = w->now;
					rsim_trace(w, 1, "liveness: all requests decided; members must reach %llu",
							   (unsigned long long) catchup_target);
				}
				if (l && catchup_target)
				{
					for (k = 0; k < st.conf.n_voters + st.conf.n_learners; k++)
					{
						uint32_t	m = k < st.conf.n_voters ? st.conf.voters[k]
							: st.conf.learners[k - st.conf.n_voters];

						if (m < RSIM_MAX_NODES && w->nodes[m].up &&
							w->nodes[m].sm.applied < catchup_target)
							lagging = m;
					}
					if (lagging == 0)
						break;
					if (w->now > decided_at + CATCHUP_BOUND_MS)
						rsim_check_fail(w->check, w->now, "liveness: member %u has applied %llu, not %llu, %d ms after everything was decided",
										lagging, (unsigned long long) w->nodes[lagging].sm.applied,
										(unsigned long long) catchup_target, CATCHUP_BOUND_MS);
				}
			}
			if (w->now > heal_at + DECIDE_BOUND_MS)
			{
				for (v = 0; v < w->n_clients; v++)
					if (w->clients[v].outstanding)
					{
						rsim_check_fail(w->check, w->now, "liveness: client %d request %llu (first sent at %llu ms) still undecided %d ms after the network healed",
										v, (unsigned long long) w->clients[v].req,
										(unsigned long long) w->clients[v].first_sent_at,
										DECIDE_BOUND_MS);
						break;
					}
			}
		}
	}

	v = rsim_check_violations(w->check);
	if (v > 0)
	{
		printf("raft seed %llu nodes %d: VIOLATION %s\n", (unsigned long long) seed, nodes,
			   rsim_check_first(w->check));
		printf("  replay: build/sim/raft_sim --seed %llu --nodes %d -v\n",
			   (unsigned long long) seed, nodes);
		if (verbose)
			dump_nodes(w);
	}
	else if (verbose)
		printf("raft seed %llu nodes %d: ok (%llu ms simulated, %llu entries applied, %llu crashes, %llu conf changes, %llu snapshot installs, %llu transfers, %llu reads, %llu msgs)\n",
			   (unsigned long long) seed, nodes, (unsigned long long) w->now,
			   (unsigned long long) w->n_commits_seen, (unsigned long long) w->n_crashes,
			   (unsigned long long) w->n_conf_changes, (unsigned long long) w->n_snap_installs,
			   (unsigned long long) w->n_transfers, (unsigned long long) w->n_reads_ok,
			   (unsigned long long) w->net.n_sent);
	if (w->n_size_mismatch && verbose)
		printf("  note: %llu messages encoded shorter than mc_raft_msg_size() said\n",
			   (unsigned long long) w->n_size_mismatch);
	if (sim_ms)
		*sim_ms += w->now;
	for (id = 1; id < RSIM_MAX_NODES; id++)
		rsim_host_free(w, id);
	rsim_net_free(&w->net);
	rsim_check_free(w->check);
	free(w->reads);
	free(w);
	return v;
}

static void
usage(void)
{
	fprintf(stderr, "usage: raft_sim --seeds N [--from S] [--sizes 3,5,7] [--max-fail K] [--no-rule-checks]\n"
			"       raft_sim --seed S --nodes N [-v|-vv] [--no-rule-checks]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	long long	seeds = -1;
	long long	seed = -1;
	long long	from = 1;
	long long	max_fail = 0;
	int			nodes = 3;
	int			verbose = 0;
	int			sizes[3] = {3, 5, 7};
	int			n_sizes = 3;
	int			i;
	long long	failing = 0,
				runs = 0;
	uint64_t	sim_ms = 0;
	clock_t		t0 = clock();

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "--seeds") == 0 && i + 1 < argc)
			seeds = atoll(argv[++i]);
		else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
			seed = atoll(argv[++i]);
		else if (strcmp(argv[i], "--from") == 0 && i + 1 < argc)
			from = atoll(argv[++i]);
		else if (strcmp(argv[i], "--max-fail") == 0 && i + 1 < argc)
			max_fail = atoll(argv[++i]);
		else if (strcmp(argv[i], "--nodes") == 0 && i + 1 < argc)
			nodes = atoi(argv[++i]);
		else if (strcmp(argv[i], "--sizes") == 0 && i + 1 < argc)
		{
			char	   *s = argv[++i];

			n_sizes = 0;
			while (*s && n_sizes < 3)
			{
				sizes[n_sizes++] = atoi(s);
				while (*s && *s != ',')
					s++;
				if (*s == ',')
					s++;
			}
		}
		else if (strcmp(argv[i], "--no-rule-checks") == 0)
			rule_checks = false;
		else if (strcmp(argv[i], "-v") == 0)
			verbose = 1;
		else if (strcmp(argv[i], "-vv") == 0)
			verbose = 2;
		else
			usage();
	}
	if (nodes < 1 || nodes > 7)
		usage();
	if (seed >= 0)
	{
		int			v = run_one((uint64_t) seed, nodes, verbose, &sim_ms);

		printf("raft seeds=1 violations=%d\n", v > 0 ? 1 : 0);
		return v > 0 ? 1 : 0;
	}
	if (seeds < 0)
		usage();
	for (i = 0; i < n_sizes; i++)
	{
		long long	s;

		if (sizes[i] < 1 || sizes[i] > 7)
			usage();
		for (s = from; s < from + seeds; s++)
		{
			int			v = run_one((uint64_t) s, sizes[i], 0, &sim_ms);

			runs++;
			if (v > 0)
			{
				failing++;
				if (max_fail > 0 && failing >= max_fail)
					goto done;
			}
		}
	}
done:
	fprintf(stderr, "raft: %lld runs, %.1f s simulated, %.1f s cpu\n", runs,
			sim_ms / 1000.0, (double) (clock() - t0) / CLOCKS_PER_SEC);
	printf("raft seeds=%lld violations=%lld\n", seeds, failing);
	return failing > 0 ? 1 : 0;
}
