/*
 * worker_session.c — the settings a mailcluster worker's session pins.
 *
 * The apply worker must compute the same result from the same entry on
 * every node, and every worker must be able to write its tables, whatever
 * each node's postgresql.conf says.  Settings an operator may well set per
 * node broke that: default_transaction_read_only = on (a natural choice on
 * a replica = on node, to keep applications from writing) made every apply
 * fail "cannot execute INSERT in a read-only transaction"; the apply worker
 * took that for the entry's own error, then failed to advance applied_index
 * and restarted, forever (seen on a 3-node cluster, node 2 stuck at 8 of
 * 10).  Others change what an apply computes where a value is turned into
 * text, or what a write does: the time zone and date, interval and float
 * output styles, session_replication_role (replica skips the foreign keys'
 * ON DELETE CASCADE).
 */
#include "postgres.h"

#include "utils/guc.h"

#include "worker_session.h"

typedef struct PinnedSetting
{
	const char *name;
	const char *value;
} PinnedSetting;

static const PinnedSetting pinned[] = {
	/* every worker writes: a read-only default must not reach it */
	{"default_transaction_read_only", "off"},
	{"default_transaction_isolation", "read committed"},
	/* triggers and foreign keys act as on every other node */
	{"session_replication_role", "origin"},
	/* values turned into text read the same on every node */
	{"TimeZone", "UTC"},
	{"DateStyle", "ISO, YMD"},
	{"IntervalStyle", "postgres"},
	{"extra_float_digits", "1"},
	{"bytea_output", "hex"},
	{"standard_conforming_strings", "on"},
	/* a lock wait ends when the holder lets go, not at a node's timeout */
	{"lock_timeout", "0"},
};

/* See worker_session.h. */
void
mc_worker_session_pin(void)
{
	for (int i = 0; i < lengthof(pinned); i++)
		SetConfigOption(pinned[i].name, pinned[i].value, PGC_SUSET, PGC_S_SESSION);
}
