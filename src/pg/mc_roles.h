/*
 * mc_roles.h — who holds each cluster role right now (SPEC §3): the lowest
 * configured node id alive in gossip; with none configured or none alive,
 * the Raft leader (this node itself when standalone).
 */
#ifndef MC_ROLES_H
#define MC_ROLES_H

#include "mc_guc.h"

/* Configured node ids of role i (mc_role_names), from its setting. */
extern int	mc_role_configured(int role, uint16 *ids, int max);

/*
 * The node that holds role i now, or 0 when nobody does (no configured
 * node alive and no leader known).  Reads shared memory under its lock.
 */
extern int	mc_role_holder(int role);

/* Bit mask of the roles whose settings list node id n (bit i = role i). */
extern uint32 mc_roles_configured_for(int node_id);

/* The current leader's node id, 0 if none is known (see mc_sql_cluster.c). */
extern int	mc_current_leader(void);

#endif
