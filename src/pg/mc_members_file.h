/*
 * mc_members_file.h — the on-disk copy of the gossip membership,
 * $PGDATA/pg_mailcluster/members, so a restarted node can rejoin through
 * the members it knew even when its seeds are down.
 */
#ifndef MC_MEMBERS_FILE_H
#define MC_MEMBERS_FILE_H

#include "swim.h"

/*
 * Write the core's exported member list atomically (temp file, fsync,
 * durable_rename).  Failures are logged, never fatal: the file is only a
 * hint for the next start.
 */
extern void mc_members_file_save(const mc_swim *s);

/*
 * Import the stored member list into a freshly created core.  Returns the
 * number of members imported; 0 if there is no file; -1 (logged) if it is
 * damaged, in which case it is ignored.
 */
extern int	mc_members_file_load(mc_swim *s, uint64_t now_ms);

#endif
