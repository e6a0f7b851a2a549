/*
 * mc_gossip.h — the "mailcluster gossip" background worker: entry point
 * registered by _PG_init (mc_gossip_worker.c).
 */
#ifndef MC_GOSSIP_H
#define MC_GOSSIP_H

#include "postgres.h"

extern PGDLLEXPORT void mc_gossip_main(Datum arg);

#endif
