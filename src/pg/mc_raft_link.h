/*
 * mc_raft_link.h — the foundation's view of the Raft side (raft_pg.h),
 * which is linked into the same library when present.  The references are
 * weak so the foundation builds, loads and runs standalone without it;
 * each function here answers "no Raft" when the Raft side is absent.
 */
#ifndef MC_RAFT_LINK_H
#define MC_RAFT_LINK_H

#include <stdbool.h>
#include <stdint.h>

/* Is the Raft side linked into the library? */
extern bool mc_raft_present(void);

/* Call mc_raft_pg_init() if present (end of _PG_init). */
extern void mc_raft_link_init(void);

/* Leader node id known to Raft (0 = none or no Raft). */
extern uint32_t mc_raft_link_leader(void);

/* Raft role name of a node ("none" without Raft). */
extern const char *mc_raft_link_role_of(uint32_t node_id);

/* Is node_id a Raft voter (false without Raft)? */
extern bool mc_raft_link_is_voter(uint32_t node_id);

/* Current term / cluster id (0 without Raft). */
extern uint64_t mc_raft_link_term(void);
extern uint64_t mc_raft_link_cluster_id(void);

#endif
