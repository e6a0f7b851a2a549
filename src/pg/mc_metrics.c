/*
 * mc_metrics.c — names and lock-free updates of the metrics catalogue
 * (mc_metrics.h), stored as atomics in McShared.
 */
#include "postgres.h"

#include "mc_shmem.h"

#define MC_METRIC_NAME(id, name) name,
static const char *const metric_names[MC_METRIC__COUNT] = {
	MC_METRICS_LIST(MC_METRIC_NAME)
};
#undef MC_METRIC_NAME

/* mc_metric_name — Prometheus name, or "unknown" for a bad id. */
const char *
mc_metric_name(McMetric m)
{
	if ((int) m < 0 || m >= MC_METRIC__COUNT)
		return "unknown";
	return metric_names[m];
}

/* mc_metric_add — bump a counter; ignored without shared memory. */
void
mc_metric_add(McMetric m, uint64 delta)
{
	if (mc_shared != NULL && (int) m >= 0 && m < MC_METRIC__COUNT && delta != 0)
		pg_atomic_fetch_add_u64(&mc_shared->metrics[m], (int64) delta);
}

/* mc_metric_set — set a gauge; ignored without shared memory. */
void
mc_metric_set(McMetric m, uint64 value)
{
	if (mc_shared != NULL && (int) m >= 0 && m < MC_METRIC__COUNT)
		pg_atomic_write_u64(&mc_shared->metrics[m], value);
}

/* mc_metric_get — current value (0 without shared memory). */
uint64
mc_metric_get(McMetric m)
{
	if (mc_shared == NULL || (int) m < 0 || m >= MC_METRIC__COUNT)
		return 0;
	return pg_atomic_read_u64(&mc_shared->metrics[m]);
}
