/*
 * phi.c — phi-accrual failure detector over a sliding window of
 * inter-arrival intervals (see phi.h).
 */
#include "phi.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PHI_CAP 1000.0

void
mc_phi_init(mc_phi *p, uint32_t window, double min_std_ms, uint32_t min_samples)
{
	memset(p, 0, sizeof(*p));
	p->max = window ? window : 1;
	p->min_std_ms = min_std_ms > 0 ? min_std_ms : 1.0;
	p->min_samples = min_samples ? min_samples : 1;
}

void
mc_phi_free(mc_phi *p)
{
	free(p->win);
	p->win = NULL;
	p->cap = 0;
	mc_phi_reset(p);
}

void
mc_phi_reset(mc_phi *p)
{
	p->n = 0;
	p->head = 0;
	p->sum = 0;
	p->sumsq = 0;
	p->has_last = false;
	p->last_ms = 0;
}

/* Grow the ring (only while it is not yet wrapped: n == cap, head == 0). */
static bool
grow(mc_phi *p)
{
	uint32_t	ncap;
	uint32_t   *nw;

	if (p->cap >= p->max)
		return false;
	ncap = p->cap ? p->cap * 2 : 8;
	if (ncap > p->max)
		ncap = p->max;
	nw = realloc(p->win, sizeof(uint32_t) * ncap);
	if (nw == NULL)
		return false;
	p->win = nw;
	p->cap = ncap;
	return true;
}

void
mc_phi_heartbeat(mc_phi *p, uint64_t now_ms)
{
	uint64_t	d64;
	uint32_t	d;

	if (!p->has_last)
	{
		p->has_last = true;
		p->last_ms = now_ms;
		return;
	}
	d64 = now_ms > p->last_ms ? now_ms - p->last_ms : 0;
	d = d64 > UINT32_MAX ? UINT32_MAX : (uint32_t) d64;
	p->last_ms = now_ms > p->last_ms ? now_ms : p->last_ms;

	if (p->n == p->cap && p->head == 0 && p->n < p->max)
		(void) grow(p);

	if (p->cap == 0)
		return;					/* no memory at all: nothing to remember */
	if (p->n < p->cap)
	{
		p->win[(p->head + p->n) % p->cap] = d;
		p->n++;
	}
	else
	{
		/* full: replace the oldest */
		double		old = p->win[p->head];

		p->sum -= old;
		p->sumsq -= old * old;
		p->win[p->head] = d;
		p->head = (p->head + 1) % p->cap;
	}
	p->sum += d;
	p->sumsq += (double) d * d;
}

double
mc_phi_mean(const mc_phi *p)
{
	return p->n ? p->sum / p->n : 0.0;
}

double
mc_phi_stddev(const mc_phi *p)
{
	double		m,
				v;

	if (p->n == 0)
		return 0.0;
	m = p->sum / p->n;
	v = p->sumsq / p->n - m * m;
	return v > 0 ? sqrt(v) : 0.0;
}

double
mc_phi_value(const mc_phi *p, uint64_t now_ms)
{
	return mc_phi_value_pause(p, now_ms, 0.0);
}

double
mc_phi_value_pause(const mc_phi *p, uint64_t now_ms, double pause_ms)
{
	double		mean,
				std,
				t,
				z,
				tail,
				phi;

	if (!p->has_last || p->n < p->min_samples)
		return 0.0;
	mean = mc_phi_mean(p) + (pause_ms > 0 ? pause_ms : 0.0);
	std = mc_phi_stddev(p);
	if (std < p->min_std_ms)
		std = p->min_std_ms;
	t = now_ms > p->last_ms ? (double) (now_ms - p->last_ms) : 0.0;
	z = (t - mean) / (std * M_SQRT2);
	tail = 0.5 * erfc(z);		/* P(interval > t) */
	if (tail > 1e-300)
		phi = -log10(tail);
	else
	{
		/* erfc(z) ~ exp(-z^2) / (z sqrt(pi)) for large z */
		double		ln_tail = -z * z - log(z * sqrt(M_PI)) + log(0.5);

		phi = -ln_tail / M_LN10;
	}
	if (phi < 0)
		phi = 0;
	if (phi > PHI_CAP || isnan(phi))
		phi = PHI_CAP;
	return phi;
}
