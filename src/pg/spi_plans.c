/*
 * spi_plans.c — kept SPI plans shared by the workers' SQL paths (apply,
 * log store, snapshots, the state machine's dispatcher).
 */
#include "postgres.h"

#include "spi_plans.h"

/* See spi_plans.h. */
SPIPlanPtr
mc_spi_kept_plan(SPIPlanPtr *slot, const char *sql, int nargs, Oid *types)
{
	if (*slot == NULL)
	{
		SPIPlanPtr	p = SPI_prepare(sql, nargs, types);

		if (p == NULL)
			elog(ERROR, "mailcluster: preparing \"%s\" failed: %s",
				 sql, SPI_result_code_string(SPI_result));
		if (SPI_keepplan(p) != 0)
			elog(ERROR, "mailcluster: keeping a plan failed");
		*slot = p;
	}
	return *slot;
}
