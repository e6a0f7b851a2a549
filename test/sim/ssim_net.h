/*
 * ssim_net.h — a deterministic simulated world for the SWIM core: N nodes
 * (ids 1..N, address "n<id>":1179) joined by a seeded lossy network with
 * delay, duplication, reordering, partitions and crashes.  Shared by
 * test/sim/swim_sim.c and bench/gossip.c.  Names are prefixed ssim_.
 */
#ifndef SSIM_NET_H
#define SSIM_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "swim.h"

typedef struct ssim_opts
{
	int			n;				/* nodes */
	uint64_t	seed;
	double		loss;			/* probability a datagram is lost */
	double		dup;			/* probability it is delivered twice */
	uint32_t	delay_min_ms;	/* one-way delay, uniform: reorders */
	uint32_t	delay_max_ms;
	int			nseeds;			/* nodes 1..nseeds are every node's seeds */
	bool		prefill;		/* start with every member list full */
	mc_swim_config base;		/* timing template (self/seeds ignored) */
} ssim_opts;

typedef struct ssim_pkt ssim_pkt;

typedef struct ssim_world
{
	ssim_opts	o;
	uint64_t	now;
	uint64_t	rng;
	mc_swim   **node;			/* node[i] for id i (1..n); NULL = crashed */
	uint64_t   *deadline;
	int		   *side;			/* partition group; all 0 = connected */
	ssim_pkt  **heap;			/* in-flight datagrams by delivery time */
	int			nheap;
	int			capheap;
	uint64_t	pkt_seq;
	uint64_t	sent,
				lost,
				delivered;
} ssim_world;

/* Default options: 5% loss, 1..40 ms delay, 1% duplication, 3 seeds. */
void		ssim_opts_default(ssim_opts *o, int n, uint64_t seed);

/* Build the world at time 0, every node up. */
ssim_world *ssim_create(const ssim_opts *o);
void		ssim_destroy(ssim_world *w);

/* Run the world until time t (ms), in 5 ms steps. */
void		ssim_run_until(ssim_world *w, uint64_t t);

/* Put what node id queued on the wire (after calling into it directly). */
void		ssim_flush(ssim_world *w, int id);

/* Crash node id (it vanishes, silently); restart it fresh (incarnation 0). */
void		ssim_crash(ssim_world *w, int id);
void		ssim_restart(ssim_world *w, int id);
bool		ssim_up(const ssim_world *w, int id);

/* Restart node id and import a member list it exported before (disk). */
void		ssim_restart_import(ssim_world *w, int id, const uint8_t *buf, size_t len);

/* Put node id in partition group g (0 = the default group); heal all. */
void		ssim_set_side(ssim_world *w, int id, int g);
void		ssim_heal(ssim_world *w);

/* State of `subject` as `observer` sees it; -1 if unknown. */
int			ssim_view(const ssim_world *w, int observer, int subject);
uint32_t	ssim_inc(const ssim_world *w, int observer, int subject);

/* Deterministic uniform random in [0, n) from the world's own stream. */
uint32_t	ssim_rand_below(ssim_world *w, uint32_t n);

#endif
