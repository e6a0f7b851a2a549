/*
 * worker_session.h — the PostgreSQL settings a mailcluster worker's session
 * pins after it connects, whatever postgresql.conf, ALTER DATABASE or ALTER
 * ROLE say (worker_session.c).
 */
#ifndef MC_WORKER_SESSION_H
#define MC_WORKER_SESSION_H

/*
 * Pin the settings the raft, apply and maintenance workers rely on.  Call
 * once, right after BackgroundWorkerInitializeConnection.  A session value
 * outranks the file and the database's and role's defaults, and nothing in
 * the worker changes these again.
 */
extern void mc_worker_session_pin(void);

#endif
