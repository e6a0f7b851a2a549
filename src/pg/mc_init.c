/*
 * mc_init.c — the library's entry point.  _PG_init refuses to load unless
 * preloaded, starts libsodium, defines the settings, installs the shared
 * memory hooks and, when the node is clustered (bind_addr and a key set),
 * registers the "mailcluster gossip" background worker; then hands over to
 * the Raft side (mc_raft_link.h) for its own memory and workers.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"

#include "mc_crypto.h"
#include "mc_gossip.h"
#include "mc_gossip_net.h"
#include "mc_guc.h"
#include "mc_raft_link.h"
#include "mc_shmem.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/*
 * register_gossip_worker — the gossip worker starts once the server is
 * consistent (it attaches to no database, like the logical replication
 * launcher, so it shows in pg_stat_activity) and is restarted 1 s after
 * it dies.
 */
static void
register_gossip_worker(void)
{
	BackgroundWorker bgw;

	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_ConsistentState;
	bgw.bgw_restart_time = 1;
	strlcpy(bgw.bgw_library_name, "mailcluster", BGW_MAXLEN);
	strlcpy(bgw.bgw_function_name, "mc_gossip_main", BGW_MAXLEN);
	strlcpy(bgw.bgw_name, "mailcluster gossip", BGW_MAXLEN);
	strlcpy(bgw.bgw_type, "mailcluster gossip", BGW_MAXLEN);
	RegisterBackgroundWorker(&bgw);
}

/*
 * _PG_init — called once in the postmaster when preloaded.  Loaded any
 * other way (CREATE EXTENSION or LOAD without preloading) it raises an
 * ERROR with a hint, so nothing half-initialised is ever used.
 */
void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("mailcluster must be loaded through shared_preload_libraries"),
				 errhint("Add 'mailcluster' to shared_preload_libraries in postgresql.conf and restart the server.")));

	if (mc_crypto_init() != 0)
		ereport(FATAL,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("mailcluster: libsodium could not be initialised")));

	mc_guc_define();
	mc_shmem_install_hooks();

	if (mc_clustered())
	{
		/*
		 * After a kill -9 the old gossip worker may hold the port for a
		 * moment longer (it exits when it sees its postmaster gone): give
		 * it up to 5 s before refusing to start.
		 */
		for (int tries = 1;; tries++)
		{
			if (mc_gossip_port_available(mc_bind_addr, mc_bind_port))
				break;
			if (errno != EADDRINUSE || tries >= 50)
				ereport(FATAL,
						(errcode_for_socket_access(),
						 errmsg("mailcluster: could not bind the gossip UDP socket to %s port %d: %m",
								mc_bind_addr, mc_bind_port),
						 errhint("Check mailcluster.bind_addr (an address of this host) and mailcluster.bind_port "
								 "(not used by another server).")));
			pg_usleep(100000L);
		}
		register_gossip_worker();
	}
	else
		ereport(LOG,
				(errmsg("mailcluster: running standalone (node %d is its own one-node cluster)", mc_node_id),
				 errdetail("mailcluster.bind_addr or the key (mailcluster.key / mailcluster.key_file) is not set.")));

	mc_raft_link_init();
}
