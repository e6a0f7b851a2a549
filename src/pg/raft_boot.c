/*
 * raft_boot.c — bringing the Raft core up in the raft worker: load the
 * stored log and hard state, recreate the core from them, and form a new
 * cluster (a standalone one-voter cluster, or the initial voters chosen by
 * the lowest-id node, see rpc_bootstrap.c).
 */
#include "postgres.h"

#include <sys/time.h>

#include "access/xact.h"
#include "catalog/namespace.h"
#include "miscadmin.h"
#include "executor/spi.h"
#include "utils/memutils.h"

#include "logstore_sql.h"
#include "raft_shmem.h"
#include "raft_worker.h"

typedef struct BootLoadArgs
{
	McRaftWorker *w;
	bool		exists;
	McLogLoaded loaded;
} BootLoadArgs;

/* In a transaction: does the schema exist, and if so load it. */
static void
boot_load_tx(void *arg)
{
	BootLoadArgs *a = arg;
	int			ret;

	ret = SPI_execute("SELECT 1 FROM pg_extension WHERE extname = 'mailcluster'", true, 0);
	a->exists = (ret == SPI_OK_SELECT && SPI_processed == 1);
	if (a->exists)
		mc_logstore_load(&a->loaded, a->w->mcxt);
}

typedef struct BootCreateArgs
{
	uint64		cluster_id;
	uint32		id;
	mc_raft_snapshot_meta snap;
} BootCreateArgs;

/* In a transaction: persist identity and the initial configuration. */
static void
boot_create_tx(void *arg)
{
	BootCreateArgs *a = arg;

	mc_logstore_set_sync(true);
	mc_logstore_save_identity(a->cluster_id, a->id);
	mc_logstore_save_snapshot(&a->snap, false);
}

/* Create the core from stored state; ERROR (worker restarts) on failure. */
static void
boot_make_core(McRaftWorker *w, const McLogLoaded *ld)
{
	mc_raft_config cfg;
	char		err[256];
	struct timeval tv;

	memset(&cfg, 0, sizeof(cfg));
	cfg.id = w->id;
	mc_raft_settings_ticks(&w->set, w->tick_ms, &cfg.election_ticks, &cfg.heartbeat_ticks);
	cfg.max_batch_bytes = mc_raft_settings_core_batch(&w->set);
	w->chunk_max = mc_raft_settings_chunk_max(&w->set);
	cfg.max_inflight = 64;
	cfg.max_uncommitted_bytes = (uint64) 256 * 1024 * 1024;
	cfg.pre_vote = true;
	cfg.check_quorum = true;
	gettimeofday(&tv, NULL);
	cfg.seed = ((uint64) tv.tv_sec * 1000000 + tv.tv_usec) ^ ((uint64) MyProcPid << 32) ^ w->id;
	cfg.applied = Max(ld->applied, ld->snap.index);
	w->stored_term = ld->hs.term;
	w->stored_vote = ld->hs.vote;

	/* commit-only changes are not always stored: it is at least applied */
	{
		mc_raft_hard_state hs = ld->hs;
		uint64		last = ld->n_entries > 0 ? ld->entries[ld->n_entries - 1].index : ld->snap.index;

		hs.commit = Min(Max(hs.commit, cfg.applied), last);
		w->core = mc_raft_create(&cfg, &hs, &ld->snap, ld->entries, ld->n_entries,
								 err, sizeof(err));
	}
	if (w->core == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("mailcluster: cannot start the Raft node: %s", err)));
	w->cluster_id = ld->cluster_id;

	LWLockAcquire(McRaft->lock, LW_EXCLUSIVE);
	McRaft->cluster_id = ld->cluster_id;
	McRaft->applied_index = Max(McRaft->applied_index, ld->applied);
	McRaft->commit_for_apply = Max(McRaft->commit_for_apply, cfg.applied);
	McRaft->snapshot_index = ld->snap.index;
	/* a received snapshot the apply worker has not loaded yet (raft_shmem.h) */
	if (ld->snap.index > ld->applied && ld->snap.index > McRaft->install_index)
		McRaft->install_index = ld->snap.index;
	McRaft->raft_ready = true;
	LWLockRelease(McRaft->lock);
	ereport(LOG,
			(errmsg("mailcluster: Raft node %u up: cluster %016llx, term %llu, %zu log entries after snapshot %llu, applied %llu",
					w->id, (unsigned long long) ld->cluster_id,
					(unsigned long long) ld->hs.term, ld->n_entries,
					(unsigned long long) ld->snap.index,
					(unsigned long long) cfg.applied)));
}

/* A fresh random cluster id (never 0). */
static uint64
random_cluster_id(void)
{
	uint64		id = 0;

	while (id == 0)
	{
		if (!pg_strong_random(&id, sizeof(id)))
			elog(ERROR, "mailcluster: no random source for the cluster id");
		id &= PG_INT64_MAX;		/* stored in a bigint */
	}
	return id;
}

/*
 * Load stored state.  Standalone without a stored cluster: bootstrap a
 * one-voter cluster.  Clustered without one: leave core NULL (formation
 * happens through gossip / RPC).  Returns true when the core exists.
 */
bool
mc_raft_boot_load(McRaftWorker *w)
{
	BootLoadArgs a;
	MemoryContext old = CurrentMemoryContext;

	memset(&a, 0, sizeof(a));
	a.w = w;
	mc_raft_in_transaction(boot_load_tx, &a);
	MemoryContextSwitchTo(old);
	if (!a.exists)
		return false;

	if (a.loaded.has_snap && a.loaded.node_id != 0 && a.loaded.node_id != w->id)
		ereport(FATAL,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("mailcluster: stored Raft state belongs to node %u, but mailcluster.node_id is %u",
						a.loaded.node_id, w->id),
				 errhint("Set mailcluster.node_id back, or drop and recreate the extension to start over.")));

	if (!a.loaded.has_snap)
	{
		mc_raft_conf conf;

		if (!w->standalone)
			return false;
		memset(&conf, 0, sizeof(conf));
		conf.n_voters = 1;
		conf.voters[0] = w->id;
		mc_raft_boot_create(w, random_cluster_id(), &conf);
		return true;
	}
	boot_make_core(w, &a.loaded);
	return true;
}

/* Persist a brand-new cluster's identity and voters, then start the core. */
void
mc_raft_boot_create(McRaftWorker *w, uint64 cluster_id, const mc_raft_conf *conf)
{
	BootCreateArgs c;
	McLogLoaded ld;

	memset(&c, 0, sizeof(c));
	c.cluster_id = cluster_id;
	c.id = w->id;
	c.snap.conf = *conf;
	mc_raft_in_transaction(boot_create_tx, &c);

	memset(&ld, 0, sizeof(ld));
	ld.cluster_id = cluster_id;
	ld.node_id = w->id;
	ld.has_snap = true;
	ld.snap = c.snap;
	boot_make_core(w, &ld);
	if (conf->n_voters > 0)
		ereport(LOG,
				(errmsg("mailcluster: formed cluster %016llx with %u voter(s)",
						(unsigned long long) cluster_id, conf->n_voters)));
}
