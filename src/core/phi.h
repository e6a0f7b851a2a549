/*
 * phi.h — phi-accrual failure detector for one monitored member.
 *
 * Pure C, no clocks: arrival times come in as milliseconds.  The detector
 * keeps a sliding window of inter-arrival intervals (mean and variance kept
 * incrementally), and phi(t) = -log10(P(next arrival later than t - last)),
 * with the interval modelled as a normal distribution whose standard
 * deviation is never below min_std_ms (Hayashibara et al., as in Akka and
 * Cassandra).  phi is 0 until min_samples intervals were seen.
 */
#ifndef MC_PHI_H
#define MC_PHI_H

#include <stdbool.h>
#include <stdint.h>

typedef struct mc_phi
{
	uint32_t   *win;			/* ring of intervals (ms), grown lazily */
	uint32_t	cap;			/* allocated slots in win */
	uint32_t	max;			/* window size (max samples kept) */
	uint32_t	n;				/* samples held */
	uint32_t	head;			/* index of the oldest sample */
	double		sum;			/* sum of held intervals */
	double		sumsq;			/* sum of squares of held intervals */
	double		min_std_ms;
	uint32_t	min_samples;
	uint64_t	last_ms;		/* last arrival; valid when has_last */
	bool		has_last;
} mc_phi;

/*
 * Initialise an empty detector keeping at most `window` intervals (>=1),
 * with a floor `min_std_ms` (>0) on the standard deviation and phi reported
 * only once `min_samples` (>=1) intervals are known.  Allocates nothing
 * until the first interval arrives.
 */
void		mc_phi_init(mc_phi *p, uint32_t window, double min_std_ms,
						uint32_t min_samples);

/* Release the window; the detector is empty (re-init to use again). */
void		mc_phi_free(mc_phi *p);

/* Forget all samples but keep the parameters (e.g. the member restarted). */
void		mc_phi_reset(mc_phi *p);

/*
 * Record an arrival at now_ms.  The first arrival only sets the reference
 * time; each later one adds the interval since the previous one (an arrival
 * earlier than the previous is treated as a zero interval).  If memory for
 * the window cannot be grown the sample replaces the oldest one.
 */
void		mc_phi_heartbeat(mc_phi *p, uint64_t now_ms);

/*
 * phi at now_ms: 0 with fewer than min_samples intervals; otherwise
 * -log10(1 - CDF(now_ms - last)) for N(mean, max(std, min_std)), computed
 * with erfc so it rises smoothly without overflowing (capped at 1000).
 */
double		mc_phi_value(const mc_phi *p, uint64_t now_ms);

/*
 * phi at now_ms with an acceptable pause (ms) added to the mean, as Akka's
 * acceptable-heartbeat-pause: silence up to mean + pause is expected (e.g.
 * one lost packet); mc_phi_value is this with pause 0.
 */
double		mc_phi_value_pause(const mc_phi *p, uint64_t now_ms, double pause_ms);

/* Mean and standard deviation (before the floor) of the window; 0 if empty. */
double		mc_phi_mean(const mc_phi *p);
double		mc_phi_stddev(const mc_phi *p);

#endif
