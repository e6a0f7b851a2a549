/*
 * mc_sql_metrics.c — the rows behind the mailcluster.metrics view: every
 * entry of the metrics catalogue (mc_metrics.h) with its current value.
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"

#include "mc_shmem.h"

PG_FUNCTION_INFO_V1(mc_sql_metrics);

/* metrics() — (name text, value float8), one row per metric. */
Datum
mc_sql_metrics(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	mc_require_shmem();
	InitMaterializedSRF(fcinfo, 0);
	for (int m = 0; m < MC_METRIC__COUNT; m++)
	{
		Datum		values[2];
		bool		nulls[2] = {false, false};

		values[0] = CStringGetTextDatum(mc_metric_name((McMetric) m));
		values[1] = Float8GetDatum((double) mc_metric_get((McMetric) m));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
