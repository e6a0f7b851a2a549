/*
 * gossip.c — simulated dissemination and failure-detection times of the
 * SWIM core for 10, 100 and 1000 nodes (test/sim/ssim_net world, default
 * timing: 1 s probe period, 5% loss, 1..40 ms delay), printed as a table
 * in probe rounds and simulated seconds.
 *
 *   dissemination: node 1 changes its metadata (incarnation bump); time
 *                  until every node holds the new incarnation
 *   first suspect: node 2 crashes; time until some node suspects it
 *   all dead:      ... until every live node has it dead
 *
 * Usage: gossip [--runs R] [--loss P]   (R runs for 10 and 100 nodes; 1 for 1000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ssim_net.h"

typedef struct result
{
	double		dissem_ms;
	double		suspect_ms;
	double		dead_ms;
	double		msgs_per_node_s;
	int			ok;
} result;

static bool
all_have_inc(const ssim_world *w, int subject, uint32_t inc)
{
	for (int i = 1; i <= w->o.n; i++)
		if (i != subject && ssim_up(w, i) && ssim_inc(w, i, subject) < inc)
			return false;
	return true;
}

static bool
any_sees(const ssim_world *w, int subject, int state)
{
	for (int i = 1; i <= w->o.n; i++)
		if (i != subject && ssim_up(w, i) && ssim_view(w, i, subject) == state)
			return true;
	return false;
}

static bool
all_see(const ssim_world *w, int subject, int state)
{
	for (int i = 1; i <= w->o.n; i++)
		if (i != subject && ssim_up(w, i) && ssim_view(w, i, subject) != state)
			return false;
	return true;
}

static result
one_run(int n, uint64_t seed, double loss)
{
	ssim_opts	o;
	ssim_world *w;
	result		r;
	mc_swim_member me;
	uint64_t	t0,
				limit = 600000;
	uint64_t	sent0;

	memset(&r, 0, sizeof(r));
	ssim_opts_default(&o, n, seed);
	o.loss = loss;
	o.prefill = true;
	w = ssim_create(&o);
	ssim_run_until(w, 10000);

	/* dissemination of an update made by node 1 */
	mc_swim_member_find(w->node[1], 1, w->now, &me);
	if (!mc_swim_set_meta(w->node[1], w->now, &me.meta))
		abort();
	ssim_flush(w, 1);
	t0 = w->now;
	sent0 = w->sent;
	while (!all_have_inc(w, 1, me.incarnation + 1) && w->now < t0 + limit)
		ssim_run_until(w, w->now + 50);
	r.dissem_ms = (double) (w->now - t0);
	r.ok = all_have_inc(w, 1, me.incarnation + 1);
	r.msgs_per_node_s = (double) (w->sent - sent0) / n / ((w->now - t0) / 1000.0 + 1e-9);

	/* detection of a crash of node 2 */
	ssim_run_until(w, w->now + 5000);
	ssim_crash(w, 2);
	t0 = w->now;
	while (!any_sees(w, 2, MC_SWIM_SUSPECT) && !any_sees(w, 2, MC_SWIM_DEAD) &&
		   w->now < t0 + limit)
		ssim_run_until(w, w->now + 50);
	r.suspect_ms = (double) (w->now - t0);
	while (!all_see(w, 2, MC_SWIM_DEAD) && w->now < t0 + limit)
		ssim_run_until(w, w->now + 50);
	r.dead_ms = (double) (w->now - t0);
	r.ok = r.ok && all_see(w, 2, MC_SWIM_DEAD);
	ssim_destroy(w);
	return r;
}

int
main(int argc, char **argv)
{
	int			sizes[] = {10, 100, 1000};
	int			runs = 5;
	double		loss = 0.05;

	for (int i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
			runs = atoi(argv[++i]);
		else if (strcmp(argv[i], "--loss") == 0 && i + 1 < argc)
			loss = atof(argv[++i]);
	}
	if (runs < 1)
		runs = 1;
	printf("SWIM gossip bench: probe 1000 ms, timeout 500 ms, k=3, lambda=4, "
		   "loss %.0f%%, delay 1..40 ms; mean over runs (1 s = 1 probe round)\n",
		   loss * 100);
	printf("%6s %5s | %-19s | %-19s | %-19s | %9s | %7s\n", "nodes", "runs",
		   "dissemination", "first suspect", "dead everywhere", "msgs/node/s", "wall s");
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++)
	{
		int			n = sizes[k],
					rr = n >= 1000 ? 1 : runs,
					bad = 0;
		double		d = 0,
					s = 0,
					x = 0,
					m = 0;
		clock_t		c0 = clock();

		for (int i = 0; i < rr; i++)
		{
			result		r = one_run(n, 1000 + (uint64_t) i * 7919, loss);

			d += r.dissem_ms;
			s += r.suspect_ms;
			x += r.dead_ms;
			m += r.msgs_per_node_s;
			bad += !r.ok;
		}
		d /= rr;
		s /= rr;
		x /= rr;
		m /= rr;
		printf("%6d %5d | %6.1f rounds %5.1fs | %6.1f rounds %5.1fs | %6.1f rounds %5.1fs | %11.2f | %7.1f%s\n",
			   n, rr, d / 1000, d / 1000, s / 1000, s / 1000, x / 1000, x / 1000, m,
			   (double) (clock() - c0) / CLOCKS_PER_SEC,
			   bad ? "  (some runs hit the 600 s limit)" : "");
		fflush(stdout);
	}
	return 0;
}
