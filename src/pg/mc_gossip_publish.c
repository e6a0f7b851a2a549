/*
 * mc_gossip_publish.c — the gossip worker's writes into McShared: member
 * rows (under the exclusive lock) and metric updates (atomics).
 */
#include "postgres.h"

#include "miscadmin.h"

#include "mc_gossip_publish.h"
#include "mc_shmem.h"

/* mc_gossip_publish_members — see mc_gossip_publish.h. */
void
mc_gossip_publish_members(const mc_swim *s, uint64_t now_mono_ms)
{
	int			n = mc_swim_member_count(s);
	TimestampTz now_ts = GetCurrentTimestamp();
	McMemberSlot *rows;
	int			count[4] = {0, 0, 0, 0};
	int			k = 0;

	n = Min(n, MC_MAX_MEMBERS);
	rows = palloc0(sizeof(McMemberSlot) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		mc_swim_member m;
		McMemberSlot *r = &rows[k];

		if (!mc_swim_member_get(s, i, now_mono_ms, &m))
			continue;
		r->node_id = m.meta.node_id;
		r->is_self = m.is_self;
		r->replica = m.meta.replica;
		r->voter = m.meta.voter;
		r->state = (uint8) m.state;
		r->raft_role = m.meta.raft_role;
		strlcpy(r->addr, m.meta.addr.host, sizeof(r->addr));
		r->gossip_port = m.meta.addr.port;
		r->rpc_port = m.meta.rpc_port;
		r->sql_port = m.meta.sql_port;
		r->incarnation = m.incarnation;
		r->roles = m.meta.roles;
		r->phi = m.phi;
		if (m.is_self)
			r->last_seen = now_ts;
		else if (m.last_seen_ms == 0)
			r->last_seen = 0;
		else
			r->last_seen = now_ts - (TimestampTz) (now_mono_ms - Min(m.last_seen_ms, now_mono_ms)) * 1000;
		if (m.state <= MC_SWIM_LEFT)
			count[m.state]++;
		k++;
	}

	LWLockAcquire(mc_shared->lock, LW_EXCLUSIVE);
	memcpy(mc_shared->members, rows, sizeof(McMemberSlot) * k);
	mc_shared->n_members = k;
	mc_shared->members_generation++;
	LWLockRelease(mc_shared->lock);
	pfree(rows);

	mc_metric_set(MC_METRIC_GOSSIP_MEMBERS_ALIVE, count[MC_SWIM_ALIVE]);
	mc_metric_set(MC_METRIC_GOSSIP_MEMBERS_SUSPECT, count[MC_SWIM_SUSPECT]);
	mc_metric_set(MC_METRIC_GOSSIP_MEMBERS_DEAD, count[MC_SWIM_DEAD]);
	mc_metric_set(MC_METRIC_GOSSIP_MEMBERS_LEFT, count[MC_SWIM_LEFT]);
	mc_metric_set(MC_METRIC_GOSSIP_LOCAL_HEALTH, (uint64) mc_swim_local_health(s));
}

/* Add cur - last to metric m (counters never go back within one core). */
#define ADD_DELTA(m, field) \
	mc_metric_add((m), cur.field >= last->field ? cur.field - last->field : cur.field)

/* mc_gossip_publish_stats — see mc_gossip_publish.h. */
void
mc_gossip_publish_stats(const mc_swim *s, mc_swim_stats *last)
{
	mc_swim_stats cur;

	mc_swim_get_stats(s, &cur);
	/* packets, bytes and crypto drops are counted by the worker itself */
	ADD_DELTA(MC_METRIC_GOSSIP_DROP_MALFORMED, drop_malformed);
	ADD_DELTA(MC_METRIC_GOSSIP_DROP_OVERSIZED, drop_oversize);
	ADD_DELTA(MC_METRIC_GOSSIP_DROP_FAULT_INJECTED, drop_blocked);
	ADD_DELTA(MC_METRIC_GOSSIP_DROP_SELF, drop_self);
	ADD_DELTA(MC_METRIC_GOSSIP_PROBES_SENT, pings_sent);
	ADD_DELTA(MC_METRIC_GOSSIP_ACKS_RECEIVED, acks_received);
	ADD_DELTA(MC_METRIC_GOSSIP_INDIRECT_PROBES, indirect_probes);
	ADD_DELTA(MC_METRIC_GOSSIP_NACKS_RECEIVED, nacks_received);
	ADD_DELTA(MC_METRIC_GOSSIP_PROBE_FAILURES, probe_failures);
	ADD_DELTA(MC_METRIC_GOSSIP_SUSPICIONS, suspicions_raised);
	ADD_DELTA(MC_METRIC_GOSSIP_PHI_SUSPICIONS, phi_suspicions);
	ADD_DELTA(MC_METRIC_GOSSIP_DEATHS_DECLARED, deaths_declared);
	ADD_DELTA(MC_METRIC_GOSSIP_REFUTATIONS, refutations);
	ADD_DELTA(MC_METRIC_GOSSIP_ID_CONFLICTS, conflicts);
	ADD_DELTA(MC_METRIC_GOSSIP_PUSH_PULLS, push_pulls);
	*last = cur;
}

/* mc_gossip_unpublish — see mc_gossip_publish.h. */
void
mc_gossip_unpublish(void)
{
	LWLockAcquire(mc_shared->lock, LW_EXCLUSIVE);
	mc_shared->n_members = 0;
	mc_shared->members_generation++;
	mc_shared->gossip_pid = 0;
	mc_shared->gossip_latch = NULL;
	LWLockRelease(mc_shared->lock);
}
