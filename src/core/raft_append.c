/*
 * raft_append.c — the follower's side of replication: AppendEntries with the
 * consistency check, truncation of a conflicting suffix, commit learning, the
 * fast back-off hint on refusal, and heartbeats.
 */
#include "raft_int.h"

static mc_raft_msg *
reply(mc_raft *r, const mc_raft_msg *m)
{
	mc_raft_msg *resp = mc_raft_send(r, MC_RAFT_MSG_APPEND_RESP, m->from);

	if (resp)
	{
		resp->term = r->term;
		if (r->commit_wanted)
			resp->flags |= MC_RAFT_FLAG_WANT_COMMIT;
	}
	return resp;
}

/*
 * An append from the leader of our term (the dispatcher made us its
 * follower).  R13: a mismatching (prev index, prev term) is refused with a
 * hint; conflicting entries are truncated; commit = min(leader commit, last
 * new index).  Entries at or below our commit index are never touched.
 */
void
mc_raft_handle_append(mc_raft *r, const mc_raft_msg *m)
{
	uint64_t	t;
	mc_raft_msg *resp;
	uint64_t	last_new;

	if (m->index < r->log.committed)
	{
		/* everything up to commit is settled: tell the leader so */
		resp = reply(r, m);
		if (resp)
			resp->index = r->log.committed;
		return;
	}
	if (!mc_raft_log_term(&r->log, m->index, &t) || t != m->log_term)
	{
		uint64_t	last = mc_raft_log_last_index(&r->log);
		uint64_t	hi = m->index < last ? m->index : last;

		resp = reply(r, m);
		if (resp)
		{
			resp->reject = true;
			resp->index = m->index;
			resp->hint_index = mc_raft_log_find_by_term(&r->log, hi, m->log_term);
			mc_raft_log_term(&r->log, resp->hint_index, &resp->hint_term);
		}
		return;
	}

	for (uint32_t i = 0; i < m->n_entries; i++)
	{
		const mc_raft_entry *e = &m->entries[i];
		uint64_t	idx = m->index + 1 + i;
		mc_raft_entry copy;

		if (e->index != idx)
			return;				/* malformed batch: change nothing */
		if (mc_raft_log_term(&r->log, idx, &t))
		{
			if (t == e->term)
				continue;		/* already have it */
			if (idx <= r->log.committed)
				return;			/* would rewrite committed history: refuse */
			if (idx <= r->log.stable && (r->truncate_from == 0 || idx < r->truncate_from))
				r->truncate_from = idx;
			mc_raft_log_truncate(&r->log, idx);
			r->hs_sync = true;
			if (r->conf_index >= idx)
				mc_raft_conf_recompute(r);
		}
		copy = *e;
		if (mc_raft_log_append(&r->log, &copy) != 0)
			return;
		r->hs_sync = true;
		if (e->type == MC_RAFT_ENTRY_CONFIG)
			mc_raft_conf_recompute(r);
	}
	last_new = m->index + m->n_entries;
	if (m->commit > r->log.committed)
	{
		uint64_t	c = m->commit < last_new ? m->commit : last_new;

		if (c > r->log.committed)
			r->log.committed = c;
	}
	resp = reply(r, m);
	if (resp)
		resp->index = last_new;
}

/* A heartbeat: learn the commit index (bounded by our log) and echo the
 * read round. */
void
mc_raft_handle_heartbeat(mc_raft *r, const mc_raft_msg *m)
{
	uint64_t	last = mc_raft_log_last_index(&r->log);
	uint64_t	c = m->commit < last ? m->commit : last;
	mc_raft_msg *resp;

	if (c > r->log.committed)
		r->log.committed = c;
	resp = mc_raft_send(r, MC_RAFT_MSG_HEARTBEAT_RESP, m->from);
	if (resp)
	{
		resp->term = r->term;
		resp->context = m->context;
		resp->index = last;
		if (r->commit_wanted)
			resp->flags |= MC_RAFT_FLAG_WANT_COMMIT;
	}
}
