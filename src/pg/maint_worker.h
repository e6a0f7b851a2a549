/*
 * maint_worker.h — the "mailcluster maintenance" background worker: every
 * interval it runs one purge round, mailcluster.purge_run(), which proposes
 * purge_changes / purge_blobs log entries on the holders of the
 * purge.accounts / purge.stores roles (and does nothing elsewhere).
 */
#ifndef MC_MAINT_WORKER_H
#define MC_MAINT_WORKER_H

#include "postgres.h"

/* Register the worker (call from _PG_init while preloading). */
extern void mc_maint_init(void);

/* Entry point registered for the "mailcluster maintenance" worker. */
extern PGDLLEXPORT void mc_maint_worker_main(Datum arg);

#endif
