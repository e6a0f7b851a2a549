/*
 * rsim_rng.h — the Raft simulator's seeded PRNG (splitmix64 seeding a
 * xoshiro256** generator).  Every random choice the simulator makes goes
 * through one of these, so a seed replays exactly.
 */
#ifndef RSIM_RNG_H
#define RSIM_RNG_H

#include <stdbool.h>
#include <stdint.h>

typedef struct rsim_rng
{
	uint64_t	s[4];
} rsim_rng;

/* Seed the generator; equal seeds give equal streams on every platform. */
void		rsim_rng_seed(rsim_rng *r, uint64_t seed);

/* Next 64 random bits. */
uint64_t	rsim_rng_next(rsim_rng *r);

/* Uniform integer in [lo, hi] (inclusive); lo when hi <= lo. */
uint64_t	rsim_rng_range(rsim_rng *r, uint64_t lo, uint64_t hi);

/* True with probability permille/1000. */
bool		rsim_rng_chance(rsim_rng *r, unsigned permille);

#endif
