/*
 * mc_roles.c — role holder resolution (SPEC §3) and the leader as far as
 * this node knows it.  Without the Raft side (mc_raft_link.h) a clustered
 * node knows no leader and a standalone node is its own leader.
 */
#include "postgres.h"

#include "mc_guc.h"
#include "mc_parse.h"
#include "mc_raft_link.h"
#include "mc_roles.h"
#include "mc_shmem.h"

/*
 * mc_role_configured — the role's own setting mailcluster.roles.<role> when
 * it is non-empty, else its entry in mailcluster.roles (both validated by
 * their check hooks).
 */
int
mc_role_configured(int role, uint16 *ids, int max)
{
	char		err[300];
	int			n;
	uint16_t	map[MC_NUM_ROLES][MC_MAX_ID_LIST];
	int			counts[MC_NUM_ROLES];

	if (role < 0 || role >= MC_NUM_ROLES)
		return 0;
	if (mc_role_settings[role] && mc_role_settings[role][0])
	{
		n = mc_parse_id_list(mc_role_settings[role], ids, max, err, sizeof(err));
		return n < 0 ? 0 : n;
	}
	if (!mc_parse_roles_map(mc_roles_map, mc_role_names, MC_NUM_ROLES, map, counts, err, sizeof(err)))
		return 0;
	n = Min(counts[role], max);
	memcpy(ids, map[role], sizeof(uint16) * n);
	return n;
}

/* mc_roles_configured_for — roles whose settings name node_id. */
uint32
mc_roles_configured_for(int node_id)
{
	uint32		mask = 0;

	for (int r = 0; r < MC_NUM_ROLES; r++)
	{
		uint16		ids[MC_MAX_ID_LIST];
		int			n = mc_role_configured(r, ids, MC_MAX_ID_LIST);

		for (int i = 0; i < n; i++)
			if (ids[i] == node_id)
				mask |= (uint32) 1 << r;
	}
	return mask;
}

/*
 * mc_current_leader — Raft's leader when the Raft side is linked in (0
 * until one is elected, also standalone); without it, this node when
 * standalone, otherwise 0 (unknown).
 */
int
mc_current_leader(void)
{
	if (mc_raft_present())
		return (int) mc_raft_link_leader();
	if (!mc_clustered())
		return mc_self_id();
	return 0;
}

/*
 * Is node n alive in this node's gossip view?  Self always is; others
 * count while alive or suspect (suspicion is not yet a verdict, and
 * handing a role over on every suspicion would make it flap).
 */
static bool
alive_in_gossip_locked(int n)
{
	if (n == mc_self_id())
		return true;
	for (int i = 0; i < mc_shared->n_members; i++)
	{
		const McMemberSlot *m = &mc_shared->members[i];

		if (m->node_id == n)
			return m->state == MC_MEMBER_ALIVE || m->state == MC_MEMBER_SUSPECT;
	}
	return false;
}

/* mc_role_holder — see mc_roles.h. */
int
mc_role_holder(int role)
{
	uint16		ids[MC_MAX_ID_LIST];
	int			n = mc_role_configured(role, ids, MC_MAX_ID_LIST);
	int			best = 0;

	if (n > 0 && mc_shared != NULL)
	{
		LWLockAcquire(mc_shared->lock, LW_SHARED);
		for (int i = 0; i < n; i++)
			if ((best == 0 || ids[i] < best) && alive_in_gossip_locked(ids[i]))
				best = ids[i];
		LWLockRelease(mc_shared->lock);
	}
	if (best != 0)
		return best;
	return mc_current_leader();
}
