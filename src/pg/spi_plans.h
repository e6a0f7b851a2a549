/*
 * spi_plans.h — kept SPI plans: prepare a statement once per process.
 */
#ifndef MC_SPI_PLANS_H
#define MC_SPI_PLANS_H

#include "executor/spi.h"

/*
 * The plan of sql (nargs parameters of types), prepared on first use and
 * kept (SPI_keepplan) in *slot; SPI must be connected.  Kept plans are
 * re-validated by the plan cache when the tables change (DROP/CREATE
 * EXTENSION).  Raises on a statement that does not prepare (a bug).
 */
extern SPIPlanPtr mc_spi_kept_plan(SPIPlanPtr *slot, const char *sql, int nargs, Oid *types);

#endif
