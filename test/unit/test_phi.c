/*
 * test_phi.c — unit tests of the phi-accrual detector (src/core/phi.h):
 * values against hand-computed ones (normal tail via erfc, worked out
 * independently with a calculator / Python), window sliding, the minimum
 * standard deviation, and smooth growth with silence (scenario G12).
 */
#include "phi.h"
#include "testutil.h"

#include <math.h>

/* Feed arrivals at the given cumulative intervals starting at t0. */
static uint64_t
feed(mc_phi *p, uint64_t t0, const uint32_t *iv, int n)
{
	uint64_t	t = t0;
	int			i;

	mc_phi_heartbeat(p, t);
	for (i = 0; i < n; i++)
	{
		t += iv[i];
		mc_phi_heartbeat(p, t);
	}
	return t;
}

/* G12: hand-computed values for mean 1000 ms, std below the 100 ms floor. */
static void
test_phi_hand_values(void)
{
	mc_phi		p;
	uint32_t	iv[10];
	uint64_t	last;
	int			i;

	for (i = 0; i < 10; i++)
		iv[i] = 1000;
	mc_phi_init(&p, 100, 100.0, 3);
	last = feed(&p, 5000, iv, 10);
	CHECK_NEAR(mc_phi_mean(&p), 1000.0, 1e-9);
	CHECK_NEAR(mc_phi_stddev(&p), 0.0, 1e-9);
	/* z = 0: P = 0.5 -> phi = log10(2) */
	CHECK_NEAR(mc_phi_value(&p, last + 1000), 0.30103, 1e-4);
	/* z = 2 sigma: P = 0.0227501 -> 1.643016 */
	CHECK_NEAR(mc_phi_value(&p, last + 1200), 1.643016, 1e-4);
	/* z = 3 sigma: P = 0.0013499 -> 2.869699 */
	CHECK_NEAR(mc_phi_value(&p, last + 1300), 2.869699, 1e-4);
	mc_phi_free(&p);
}

/* Mean and std of an irregular window, phi with the real std. */
static void
test_phi_irregular(void)
{
	mc_phi		p;
	uint32_t	iv[4] = {1000, 1000, 1000, 1500};
	uint64_t	last;

	mc_phi_init(&p, 100, 100.0, 1);
	last = feed(&p, 0, iv, 4);
	CHECK_NEAR(mc_phi_mean(&p), 1125.0, 1e-9);
	CHECK_NEAR(mc_phi_stddev(&p), 216.506351, 1e-5);
	/* t = 1500: z = 375 / (216.5 * sqrt 2) -> phi = 1.380570 */
	CHECK_NEAR(mc_phi_value(&p, last + 1500), 1.380570, 1e-4);
	mc_phi_free(&p);
}

/* G12: regular heartbeats keep phi low; silence raises it smoothly. */
static void
test_phi_rises_smoothly(void)
{
	mc_phi		p;
	uint64_t	t = 0;
	double		prev = -1;
	int			i,
				monotone = 1,
				bigjump = 0;

	mc_phi_init(&p, 100, 50.0, 5);
	for (i = 0; i < 200; i++)
	{
		t += 1000 + (i % 3) * 10;	/* 1000, 1010, 1020 ms */
		mc_phi_heartbeat(&p, t);
		/* right when the next one is due, phi is low */
		if (i > 10)
			CHECK(mc_phi_value(&p, t + 1010) < 1.0);
	}
	for (uint64_t d = 0; d <= 3000; d += 10)
	{
		double		v = mc_phi_value(&p, t + d);

		if (v < prev)
			monotone = 0;
		/* no cliff across the range where thresholds live (0..12) */
		if (prev >= 0 && prev < 12.0 && v - prev > 2.0)
			bigjump = 1;
		prev = v;
	}
	CHECK(monotone);
	CHECK(!bigjump);
	CHECK(mc_phi_value(&p, t + 3000) > 8.0);
	/* very long silence: finite, capped, above any threshold */
	CHECK(mc_phi_value(&p, t + 10000000) <= 1000.0);
	CHECK(mc_phi_value(&p, t + 10000000) > 100.0);
	CHECK(!isnan(mc_phi_value(&p, t + 10000000)));
	mc_phi_free(&p);
}

/*
 * G12: the minimum standard deviation keeps a perfectly regular sender
 * from being convicted by one late packet.
 */
static void
test_phi_min_std(void)
{
	mc_phi		strict,
				floored;
	uint64_t	t = 0;
	int			i;

	mc_phi_init(&strict, 100, 1.0, 5);
	mc_phi_init(&floored, 100, 250.0, 5);
	for (i = 0; i < 50; i++)
	{
		t += 1000;
		mc_phi_heartbeat(&strict, t);
		mc_phi_heartbeat(&floored, t);
	}
	/* a packet 300 ms late */
	CHECK(mc_phi_value(&strict, t + 1300) > 8.0);
	CHECK(mc_phi_value(&floored, t + 1300) < 8.0);
	/* hand value: z = 300/(250 sqrt 2) -> P = 0.1150697 -> 0.939039 */
	CHECK_NEAR(mc_phi_value(&floored, t + 1300), 0.939039, 1e-4);
	mc_phi_free(&strict);
	mc_phi_free(&floored);
}

/* The window keeps only the last `window` intervals. */
static void
test_phi_window(void)
{
	mc_phi		p;
	uint64_t	t = 0;
	int			i;

	mc_phi_init(&p, 10, 1.0, 1);
	mc_phi_heartbeat(&p, t);
	for (i = 0; i < 30; i++)
	{
		t += 100;
		mc_phi_heartbeat(&p, t);
	}
	CHECK_NEAR(mc_phi_mean(&p), 100.0, 1e-9);
	for (i = 0; i < 10; i++)
	{
		t += 500;
		mc_phi_heartbeat(&p, t);
	}
	CHECK_EQ_INT(p.n, 10);
	CHECK_NEAR(mc_phi_mean(&p), 500.0, 1e-9);
	CHECK_NEAR(mc_phi_stddev(&p), 0.0, 1e-6);
	/* half replaced: mean (5*500 + 5*900)/10 = 700, std 200 */
	for (i = 0; i < 5; i++)
	{
		t += 900;
		mc_phi_heartbeat(&p, t);
	}
	CHECK_NEAR(mc_phi_mean(&p), 700.0, 1e-9);
	CHECK_NEAR(mc_phi_stddev(&p), 200.0, 1e-6);
	mc_phi_free(&p);
}

/* phi is 0 until min_samples intervals; reset forgets everything. */
static void
test_phi_min_samples_and_reset(void)
{
	mc_phi		p;

	mc_phi_init(&p, 100, 10.0, 3);
	CHECK_NEAR(mc_phi_value(&p, 100000), 0.0, 0);
	mc_phi_heartbeat(&p, 0);
	mc_phi_heartbeat(&p, 1000);
	mc_phi_heartbeat(&p, 2000);
	CHECK_NEAR(mc_phi_value(&p, 100000), 0.0, 0);	/* 2 intervals < 3 */
	mc_phi_heartbeat(&p, 3000);
	CHECK(mc_phi_value(&p, 100000) > 8.0);
	mc_phi_reset(&p);
	CHECK_EQ_INT(p.n, 0);
	CHECK_NEAR(mc_phi_value(&p, 200000), 0.0, 0);
	/* an arrival earlier than the last counts as a zero interval */
	mc_phi_heartbeat(&p, 5000);
	mc_phi_heartbeat(&p, 4000);
	CHECK_EQ_INT(p.n, 1);
	CHECK_NEAR(mc_phi_mean(&p), 0.0, 1e-9);
	mc_phi_free(&p);
}

int
main(void)
{
	RUN(test_phi_hand_values);
	RUN(test_phi_irregular);
	RUN(test_phi_rises_smoothly);
	RUN(test_phi_min_std);
	RUN(test_phi_window);
	RUN(test_phi_min_samples_and_reset);
	return tu_finish("phi");
}
