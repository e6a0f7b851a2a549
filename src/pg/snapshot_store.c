/*
 * snapshot_store.c — SPI side of snapshots (see snapshot_store.h); the
 * dump and load themselves are the SQL functions _raft_snapshot_dump() and
 * _raft_snapshot_load() of 40_raft.sql.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"

#include "snapshot_store.h"

/* See snapshot_store.h. */
uint64
mc_snapshot_take(void)
{
	int			ret;
	bool		isnull;

	ret = SPI_execute("INSERT INTO mailcluster._raft_snapshot AS s (one, idx, data)"
					  " SELECT true, d.idx, d.data FROM mailcluster._raft_snapshot_dump() d"
					  " ON CONFLICT (one) DO UPDATE SET idx = EXCLUDED.idx, data = EXCLUDED.data"
					  " WHERE s.idx < EXCLUDED.idx RETURNING idx", false, 0);
	if (ret != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "mailcluster: taking a snapshot failed: %s", SPI_result_code_string(ret));
	if (SPI_processed != 1)
		return 0;
	return (uint64) DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/* See snapshot_store.h. */
bool
mc_snapshot_read_chunk(uint64 index, uint64 offset, uint8 *buf, uint32 max,
					   uint32 *len, bool *last)
{
	Oid			types[3] = {INT8OID, INT8OID, INT4OID};
	Datum		args[3];
	int			ret;
	bool		isnull;
	bytea	   *chunk;
	int64		total;

	*len = 0;
	*last = false;
	args[0] = Int64GetDatum((int64) index);
	args[1] = Int64GetDatum((int64) offset);
	args[2] = Int32GetDatum((int32) max);
	ret = SPI_execute_with_args("SELECT substring(data FROM ($2 + 1)::int FOR $3), length(data)"
								" FROM mailcluster._raft_snapshot WHERE idx = $1",
								3, types, args, NULL, true, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		return false;
	chunk = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	total = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	*len = Min((uint32) VARSIZE_ANY_EXHDR(chunk), max);
	memcpy(buf, VARDATA_ANY(chunk), *len);
	*last = (int64) (offset + *len) >= total;
	return true;
}

/* See snapshot_store.h. */
void
mc_snapshot_stage_chunk(const mc_raft_snap_chunk *c)
{
	Oid			types[2] = {INT8OID, BYTEAOID};
	Datum		args[2];
	bytea	   *b = palloc(VARHDRSZ + c->len);
	int			ret;

	if (c->offset == 0 &&
		SPI_execute("DELETE FROM mailcluster._raft_snap_staging", false, 0) != SPI_OK_DELETE)
		elog(ERROR, "mailcluster: clearing the snapshot staging area failed");
	SET_VARSIZE(b, VARHDRSZ + c->len);
	if (c->len > 0)
		memcpy(VARDATA(b), c->data, c->len);
	args[0] = Int64GetDatum((int64) c->offset);
	args[1] = PointerGetDatum(b);
	ret = SPI_execute_with_args("INSERT INTO mailcluster._raft_snap_staging (off, data) VALUES ($1, $2)"
								" ON CONFLICT (off) DO UPDATE SET data = EXCLUDED.data",
								2, types, args, NULL, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "mailcluster: staging a snapshot chunk failed");
	pfree(b);
}

/* See snapshot_store.h. */
void
mc_snapshot_install_staged(const mc_raft_snapshot_meta *meta)
{
	Oid			types[1] = {INT8OID};
	Datum		args[1];
	int			ret;

	/* the apply worker's batches check applied_index before they commit */
	if (SPI_execute("SELECT applied_index FROM mailcluster._raft_applied FOR UPDATE", false, 0) != SPI_OK_SELECT)
		elog(ERROR, "mailcluster: locking applied_index failed");
	args[0] = Int64GetDatum((int64) meta->index);
	ret = SPI_execute_with_args("WITH s AS (SELECT string_agg(data, ''::bytea ORDER BY off) AS data"
								"           FROM mailcluster._raft_snap_staging)"
								" SELECT mailcluster._raft_snapshot_load(s.data, $1) FROM s",
								1, types, args, NULL, false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "mailcluster: installing the snapshot failed");
	ret = SPI_execute_with_args("INSERT INTO mailcluster._raft_snapshot (one, idx, data)"
								" SELECT true, $1, string_agg(data, ''::bytea ORDER BY off)"
								" FROM mailcluster._raft_snap_staging"
								" ON CONFLICT (one) DO UPDATE SET idx = EXCLUDED.idx, data = EXCLUDED.data",
								1, types, args, NULL, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "mailcluster: keeping the installed snapshot failed");
	if (SPI_execute("DELETE FROM mailcluster._raft_snap_staging", false, 0) != SPI_OK_DELETE)
		elog(ERROR, "mailcluster: clearing the snapshot staging area failed");
}
