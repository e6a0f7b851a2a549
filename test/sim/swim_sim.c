/*
 * swim_sim.c — deterministic simulation of the SWIM core (test/sim/ssim_net)
 * with seeded loss (5%), delay (1..40 ms, so reordering), duplication (1%),
 * partitions and crashes.  Per seed, one small-cluster scenario (5..16
 * nodes, chosen by seed % 3):
 *   0  join from seeds; crash a node: all see it dead within the bound;
 *      restart it: all see it alive again (G5/G6 refutation path).  On even
 *      seeds the seeds crash too and the node restarts from its exported
 *      member list (kept on disk by the driver) and must rejoin anyway.
 *   1  partition A|B: each side marks the other dead (within
 *      PARTITION_BOUND_MS(n)) while each side sees its own side all alive
 *      (within SIDE_REPAIR_MS of the split); heal: views converge (G10)
 *   2  clean leave: all see it left, not dead (G8); rejoin: alive again
 * and on a subset of seeds the 100-node scenarios:
 *   seed % 50 == 0   100 nodes, 5% loss: a crashed node is dead in every
 *                    view within CRASH_BOUND_100_MS
 *   seed % 200 == 0  100 nodes, 5% loss, 30 simulated minutes: no live node
 *                    is ever marked dead by all the others (false positive)
 * Prints "swim seeds=N violations=V" and exits 1 if V > 0.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ssim_net.h"

/* Bounds (simulated ms), stated in doc/gossip.md. */
#define JOIN_BOUND_MS			60000
#define CRASH_BOUND_SMALL_MS	90000
#define CRASH_BOUND_100_MS		60000
#define REJOIN_BOUND_MS			60000
#define REJOIN_DISK_BOUND_MS	30000	/* restart from the member file, seeds down */
/*
 * A minority whose probes mostly fail raises its local-health score to the
 * maximum (Lifeguard), stretching its probe period to 8 s: one full pass
 * over n-1 members, the (stretched) suspicion and some gossip.
 */
#define PARTITION_BOUND_MS(n)	(8000ULL * ((n) - 1) + 60000)
#define HEAL_BOUND_MS			120000
#define SIDE_REPAIR_MS			60000
#define LEAVE_BOUND_MS			60000

static int	violations;
static bool verbose;
static uint64_t worst_crash_small,
			worst_crash_100,
			worst_heal,
			worst_side_repair,
			worst_rejoin;
static int	fp_max_observers;	/* most nodes that saw one live node dead at once */
static uint64_t fp_runs;

static void
violation(uint64_t seed, const char *fmt,...)
{
	va_list		ap;

	violations++;
	if (violations > 20)
		return;
	fprintf(stderr, "swim seed=%llu: ", (unsigned long long) seed);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Every up node sees every other up node alive (and knows it). */
static bool
converged(const ssim_world *w)
{
	for (int i = 1; i <= w->o.n; i++)
	{
		if (!ssim_up(w, i))
			continue;
		for (int j = 1; j <= w->o.n; j++)
			if (j != i && ssim_up(w, j) && ssim_view(w, i, j) != MC_SWIM_ALIVE)
				return false;
	}
	return true;
}

/* Every up node other than `subject` sees it in `state`. */
static bool
all_see(const ssim_world *w, int subject, int state)
{
	for (int i = 1; i <= w->o.n; i++)
		if (i != subject && ssim_up(w, i) && ssim_view(w, i, subject) != state)
			return false;
	return true;
}

/* Run in 1 s steps until converged or the bound; returns the time taken. */
static uint64_t
wait_converged(ssim_world *w, uint64_t bound)
{
	uint64_t	t0 = w->now;

	while (!converged(w) && w->now < t0 + bound)
		ssim_run_until(w, w->now + 1000);
	return w->now - t0;
}

static uint64_t
wait_all_see(ssim_world *w, int subject, int state, uint64_t bound)
{
	uint64_t	t0 = w->now;

	while (!all_see(w, subject, state) && w->now < t0 + bound)
		ssim_run_until(w, w->now + 1000);
	return w->now - t0;
}

static int
small_n(uint64_t seed)
{
	return 5 + (int) (seed % 12);
}

/* Scenario 0: join, crash, detection, restart. */
static void
scenario_crash(uint64_t seed)
{
	ssim_opts	o;
	ssim_world *w;
	int			victim;
	uint64_t	t;

	ssim_opts_default(&o, small_n(seed), seed);
	w = ssim_create(&o);
	t = wait_converged(w, JOIN_BOUND_MS);
	if (!converged(w))
		violation(seed, "crash: %d nodes did not converge after join (%llu ms)",
				  o.n, (unsigned long long) t);
	ssim_run_until(w, w->now + 5000);
	victim = 1 + (int) ssim_rand_below(w, (uint32_t) o.n);
	ssim_crash(w, victim);
	t = wait_all_see(w, victim, MC_SWIM_DEAD, CRASH_BOUND_SMALL_MS);
	if (!all_see(w, victim, MC_SWIM_DEAD))
		violation(seed, "crash: node %d of %d not dead everywhere after %llu ms",
				  victim, o.n, (unsigned long long) t);
	if (t > worst_crash_small)
		worst_crash_small = t;
	ssim_run_until(w, w->now + 5000);
	ssim_restart(w, victim);
	t = wait_converged(w, REJOIN_BOUND_MS);
	if (!converged(w))
		violation(seed, "crash: restarted node %d not alive everywhere after %llu ms",
				  victim, (unsigned long long) t);
	if (t > worst_rejoin)
		worst_rejoin = t;
	ssim_destroy(w);
}

/*
 * Scenario 0, even seeds: the member list kept on disk lets a restarted
 * node rejoin while every seed is down.
 */
static void
scenario_restart_seeds_down(uint64_t seed)
{
	ssim_opts	o;
	ssim_world *w;
	int			victim;
	uint8_t    *buf;
	size_t		len;
	uint64_t	t;

	ssim_opts_default(&o, small_n(seed) < 7 ? 7 : small_n(seed), seed);
	w = ssim_create(&o);
	(void) wait_converged(w, JOIN_BOUND_MS);
	if (!converged(w))
		violation(seed, "restart: no convergence after join");
	ssim_run_until(w, w->now + 5000);
	victim = o.nseeds + 1 + (int) ssim_rand_below(w, (uint32_t) (o.n - o.nseeds));
	len = mc_swim_export(w->node[victim], NULL, 0);
	buf = malloc(len);
	if (buf == NULL || mc_swim_export(w->node[victim], buf, len) != len)
		abort();
	ssim_crash(w, victim);
	for (int i = 1; i <= o.nseeds; i++)
		ssim_crash(w, i);
	(void) wait_all_see(w, victim, MC_SWIM_DEAD, CRASH_BOUND_SMALL_MS);
	if (!all_see(w, victim, MC_SWIM_DEAD))
		violation(seed, "restart: node %d not dead everywhere", victim);
	ssim_restart_import(w, victim, buf, len);
	free(buf);
	t = wait_converged(w, REJOIN_DISK_BOUND_MS);
	if (!converged(w))
		violation(seed, "restart: node %d did not rejoin with its seeds down (%llu ms)",
				  victim, (unsigned long long) t);
	if (t > worst_rejoin)
		worst_rejoin = t;
	ssim_destroy(w);
}

/* Scenario 1 (G10): partition, both sides keep working, heal, converge. */
static void
scenario_partition(uint64_t seed)
{
	ssim_opts	o;
	ssim_world *w;
	int			n,
				cut;
	uint64_t	t0,
				t;
	bool		split = false;

	ssim_opts_default(&o, small_n(seed) < 6 ? 6 : small_n(seed), seed);
	n = o.n;
	w = ssim_create(&o);
	(void) wait_converged(w, JOIN_BOUND_MS);
	if (!converged(w))
		violation(seed, "partition: no convergence after join");
	cut = 2 + (int) ssim_rand_below(w, (uint32_t) (n - 3));	/* sides >= 2 */
	for (int i = cut + 1; i <= n; i++)
		ssim_set_side(w, i, 1);
	t0 = w->now;
	while (w->now < t0 + PARTITION_BOUND_MS(n) && !split)
	{
		ssim_run_until(w, w->now + 1000);
		split = true;
		for (int i = 1; i <= n && split; i++)
			for (int j = 1; j <= n && split; j++)
				if ((i <= cut) != (j <= cut) && ssim_view(w, i, j) != MC_SWIM_DEAD)
					split = false;
	}
	if (!split)
		violation(seed, "partition: sides 1..%d | %d..%d did not mark each other dead",
				  cut, cut + 1, n);
	/*
	 * Each side keeps working: every node sees its whole side alive.  (In a
	 * stressed minority a same-side member can be declared dead in error;
	 * it must be repaired, so allow a minute for that.)
	 */
	{
		uint64_t	t1 = w->now;
		bool		sides_ok = false;

		while (!sides_ok)
		{
			sides_ok = true;
			for (int i = 1; i <= n && sides_ok; i++)
				for (int j = 1; j <= n && sides_ok; j++)
					if (i != j && (i <= cut) == (j <= cut) &&
						ssim_view(w, i, j) != MC_SWIM_ALIVE)
						sides_ok = false;
			if (sides_ok || w->now >= t1 + SIDE_REPAIR_MS)
				break;
			ssim_run_until(w, w->now + 1000);
		}
		if (!sides_ok)
			violation(seed, "partition: a side's own views not all alive %llu ms after the split",
					  (unsigned long long) (w->now - t1));
		if (w->now - t1 > worst_side_repair)
			worst_side_repair = w->now - t1;
	}
	ssim_heal(w);
	t = wait_converged(w, HEAL_BOUND_MS);
	if (!converged(w))
		violation(seed, "partition: views did not converge %llu ms after heal",
				  (unsigned long long) t);
	if (t > worst_heal)
		worst_heal = t;
	ssim_destroy(w);
}

/* Scenario 2 (G8): clean leave is "left" everywhere; rejoin is alive. */
static void
scenario_leave(uint64_t seed)
{
	ssim_opts	o;
	ssim_world *w;
	int			who;
	uint64_t	t;

	ssim_opts_default(&o, small_n(seed), seed);
	w = ssim_create(&o);
	(void) wait_converged(w, JOIN_BOUND_MS);
	if (!converged(w))
		violation(seed, "leave: no convergence after join");
	who = 1 + (int) ssim_rand_below(w, (uint32_t) o.n);
	mc_swim_leave(w->node[who], w->now);
	ssim_flush(w, who);
	ssim_run_until(w, w->now + 200);	/* flush its notices */
	ssim_crash(w, who);			/* the process exits */
	t = wait_all_see(w, who, MC_SWIM_LEFT, LEAVE_BOUND_MS);
	if (!all_see(w, who, MC_SWIM_LEFT))
		violation(seed, "leave: node %d not seen left by all after %llu ms",
				  who, (unsigned long long) t);
	/* it must never be turned into dead */
	ssim_run_until(w, w->now + 60000);
	if (!all_see(w, who, MC_SWIM_LEFT))
		violation(seed, "leave: node %d turned from left into something else", who);
	ssim_restart(w, who);
	t = wait_converged(w, REJOIN_BOUND_MS);
	if (!converged(w))
		violation(seed, "leave: node %d did not rejoin within %llu ms",
				  who, (unsigned long long) t);
	ssim_destroy(w);
}

/* 100 nodes, 5% loss: crash detection bound. */
static void
scenario_crash_100(uint64_t seed)
{
	ssim_opts	o;
	ssim_world *w;
	int			victim;
	uint64_t	t;

	ssim_opts_default(&o, 100, seed);
	o.prefill = true;
	w = ssim_create(&o);
	ssim_run_until(w, 20000);
	for (int j = 1; j <= 100; j++)
		if (!all_see(w, j, MC_SWIM_ALIVE) && !all_see(w, j, MC_SWIM_SUSPECT))
		{
			/* (a passing suspicion is fine; dead is not) */
			for (int i = 1; i <= 100; i++)
				if (i != j && ssim_view(w, i, j) == MC_SWIM_DEAD)
					violation(seed, "crash100: %d sees live %d dead before the crash", i, j);
		}
	victim = 1 + (int) ssim_rand_below(w, 100);
	ssim_crash(w, victim);
	t = wait_all_see(w, victim, MC_SWIM_DEAD, CRASH_BOUND_100_MS);
	if (!all_see(w, victim, MC_SWIM_DEAD))
		violation(seed, "crash100: node %d not dead everywhere after %llu ms",
				  victim, (unsigned long long) t);
	if (t > worst_crash_100)
		worst_crash_100 = t;
	if (verbose)
		fprintf(stderr, "crash100 seed=%llu detect=%llu ms\n",
				(unsigned long long) seed, (unsigned long long) t);
	ssim_destroy(w);
}

/* 100 nodes, 5% loss, 30 minutes: no live node is ever dead in all views. */
static void
scenario_false_positive(uint64_t seed)
{
	ssim_opts	o;
	ssim_world *w;
	uint64_t	deaths = 0;

	ssim_opts_default(&o, 100, seed);
	o.prefill = true;
	w = ssim_create(&o);
	while (w->now < 30ULL * 60 * 1000)
	{
		ssim_run_until(w, w->now + 1000);
		for (int j = 1; j <= 100; j++)
		{
			int			seen_dead = 0;

			for (int i = 1; i <= 100; i++)
				if (i != j && ssim_view(w, i, j) == MC_SWIM_DEAD)
					seen_dead++;
			if (seen_dead > fp_max_observers)
				fp_max_observers = seen_dead;
			if (seen_dead == 99)
				violation(seed, "fp: live node %d dead in every view at %llu ms", j,
						  (unsigned long long) w->now);
		}
	}
	for (int i = 1; i <= 100; i++)
	{
		mc_swim_stats st;

		mc_swim_get_stats(w->node[i], &st);
		deaths += st.deaths_declared;
	}
	/* (suspicions come and go at 5% loss: all alive within a minute) */
	(void) wait_converged(w, 60000);
	if (!converged(w))
		violation(seed, "fp: views not all alive within a minute after 30 minutes");
	if (verbose)
		fprintf(stderr, "fp seed=%llu false deaths declared=%llu\n",
				(unsigned long long) seed, (unsigned long long) deaths);
	fp_runs++;
	ssim_destroy(w);
}

int
main(int argc, char **argv)
{
	uint64_t	seeds = 100,
				first = 1;

	for (int i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "--seeds") == 0 && i + 1 < argc)
			seeds = strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--first") == 0 && i + 1 < argc)
			first = strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--verbose") == 0)
			verbose = true;
	}
	for (uint64_t s = first; s < first + seeds; s++)
	{
		switch (s % 3)
		{
			case 0:
				if (s % 2 == 0)
					scenario_restart_seeds_down(s);
				else
					scenario_crash(s);
				break;
			case 1:
				scenario_partition(s);
				break;
			default:
				scenario_leave(s);
				break;
		}
		if (s % 50 == 0)
			scenario_crash_100(s);
		if (s % 200 == 0)
			scenario_false_positive(s);
	}
	fprintf(stderr, "swim: worst detection small=%llu ms, 100 nodes=%llu ms; "
			"worst rejoin=%llu ms; worst heal=%llu ms; worst side repair=%llu ms; fp runs=%llu, "
			"most views with a live node dead=%d/99\n",
			(unsigned long long) worst_crash_small,
			(unsigned long long) worst_crash_100,
			(unsigned long long) worst_rejoin,
			(unsigned long long) worst_heal,
			(unsigned long long) worst_side_repair,
			(unsigned long long) fp_runs, fp_max_observers);
	printf("swim seeds=%llu violations=%d\n", (unsigned long long) seeds, violations);
	return violations > 0 ? 1 : 0;
}
