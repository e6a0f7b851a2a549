/*
 * mc_raft_link.c — weak links from the foundation to the Raft side's
 * accessors (raft_pg.h); see mc_raft_link.h.
 */
#include "postgres.h"

#include "mc_raft_link.h"
#include "raft_pg.h"

#pragma weak mc_raft_pg_init
#pragma weak mc_raft_shared_leader
#pragma weak mc_raft_shared_role_of
#pragma weak mc_raft_shared_is_voter
#pragma weak mc_raft_shared_term
#pragma weak mc_raft_shared_cluster_id

/* mc_raft_present — true when raft_pg.c is part of the library. */
bool
mc_raft_present(void)
{
	return mc_raft_pg_init != NULL && mc_raft_shared_leader != NULL;
}

/* mc_raft_link_init — let the Raft side install its hooks and workers. */
void
mc_raft_link_init(void)
{
	if (mc_raft_pg_init != NULL)
		mc_raft_pg_init();
}

/* mc_raft_link_leader — see mc_raft_link.h. */
uint32_t
mc_raft_link_leader(void)
{
	return mc_raft_shared_leader != NULL ? mc_raft_shared_leader() : 0;
}

/* mc_raft_link_role_of — see mc_raft_link.h. */
const char *
mc_raft_link_role_of(uint32_t node_id)
{
	const char *r = mc_raft_shared_role_of != NULL ? mc_raft_shared_role_of(node_id) : NULL;

	return r ? r : "none";
}

/* mc_raft_link_is_voter — see mc_raft_link.h. */
bool
mc_raft_link_is_voter(uint32_t node_id)
{
	return mc_raft_shared_is_voter != NULL && mc_raft_shared_is_voter(node_id);
}

/* mc_raft_link_term — see mc_raft_link.h. */
uint64_t
mc_raft_link_term(void)
{
	return mc_raft_shared_term != NULL ? mc_raft_shared_term() : 0;
}

/* mc_raft_link_cluster_id — see mc_raft_link.h. */
uint64_t
mc_raft_link_cluster_id(void)
{
	return mc_raft_shared_cluster_id != NULL ? mc_raft_shared_cluster_id() : 0;
}
