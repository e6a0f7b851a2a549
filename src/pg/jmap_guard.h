/*
 * jmap_guard.h — the write guard of the replicated JMAP tables and the
 * state machine's entry point (jmap_guard.c).
 */
#ifndef MC_JMAP_GUARD_H
#define MC_JMAP_GUARD_H

#include "utils/jsonb.h"

/* Is the apply path writing right now (guard on)? */
extern bool mc_jmap_guard_is_active(void);

/*
 * Apply command cmd at Raft index idx with the guard on (off again when it
 * returns or raises): mc_apply_dispatch's contract.  For the apply worker;
 * SQL reaches it through mailcluster._apply().
 */
extern Jsonb *mc_jmap_apply_command(int64 idx, Jsonb *cmd);

/* mc_apply_batch_end with the guard on (the apply worker, batch mode). */
extern void mc_jmap_apply_batch_end(void);

#endif
