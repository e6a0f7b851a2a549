/*
 * snapshot_int.h — what the two halves of the snapshot store share,
 * snapshot_store.c (format, taking, serving) and snapshot_load.c
 * (receiving, loading): the stream's format constants and the kept
 * snapshots' bookkeeping.  Not for other files: their interface is
 * snapshot_store.h.
 */
#ifndef MC_SNAPSHOT_INT_H
#define MC_SNAPSHOT_INT_H

#include "postgres.h"

#define SNAP_FORMAT			1	/* the 'S' record's format number */

/* a column's value encoding in 'T' records */
#define ENC_BINARY	0			/* binary send/recv */
#define ENC_TEXT	1			/* text out/in */

/*
 * Delete the kept snapshots (chunks and headers) older than `below` (an
 * int8 Datum); rows another transaction has locked (a take and a receive
 * racing) are skipped: that one deletes them, or the next snapshot does.
 * SPI connected, inside the caller's transaction.
 */
extern void mc_snapshot_drop_kept(Datum below);

/*
 * Record a complete kept snapshot: its index, size in bytes, chunks, rows
 * of replicated tables (0 until a received one is loaded) and how it came
 * ("taken" or "installed").  Replaces a header of the same index.
 */
extern void mc_snapshot_put_head(uint64 idx, uint64 size, int32 chunks, uint64 rows,
								 const char *made);

#endif
