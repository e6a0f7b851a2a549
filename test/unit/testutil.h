/*
 * testutil.h — the tiny assertion kit shared by the core unit tests.
 *
 * Each test binary counts its checks and ends with the plain closing line
 * "N passed, N failed" (what CI reads); it exits non-zero on any failure.
 */
#ifndef MC_TESTUTIL_H
#define MC_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tu_passed, tu_failed;

#define CHECK(cond) do { \
	if (cond) tu_passed++; \
	else { tu_failed++; fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } \
} while (0)

#define CHECK_EQ_INT(a, b) do { \
	long long tu_a = (long long)(a), tu_b = (long long)(b); \
	if (tu_a == tu_b) tu_passed++; \
	else { tu_failed++; fprintf(stderr, "%s:%d: CHECK_EQ failed: %s = %lld, %s = %lld\n", \
			__FILE__, __LINE__, #a, tu_a, #b, tu_b); } \
} while (0)

#define CHECK_NEAR(a, b, eps) do { \
	double tu_a = (double)(a), tu_b = (double)(b); \
	if (tu_a - tu_b <= (eps) && tu_b - tu_a <= (eps)) tu_passed++; \
	else { tu_failed++; fprintf(stderr, "%s:%d: CHECK_NEAR failed: %s = %g, %s = %g\n", \
			__FILE__, __LINE__, #a, tu_a, #b, tu_b); } \
} while (0)

/* Run one named test function and say which one ran. */
#define RUN(fn) do { int tu_f0 = tu_failed; fn(); \
	fprintf(stderr, "%-4s %s\n", tu_failed == tu_f0 ? "ok" : "FAIL", #fn); } while (0)

/* Print the closing line and return the process exit code. */
static inline int tu_finish(const char *suite)
{
	printf("%s: %d passed, %d failed\n", suite, tu_passed, tu_failed);
	return tu_failed ? 1 : 0;
}

#endif
