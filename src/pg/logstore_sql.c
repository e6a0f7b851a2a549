/*
 * logstore_sql.c — SPI reads and writes of mailcluster._raft_log and
 * mailcluster._raft_state (see logstore_sql.h).  Plans are prepared once
 * per process and kept.  The common write, appending past the stored end,
 * skips SQL: rows go straight into the heap and its primary key.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "logstore_sql.h"
#include "spi_plans.h"

static SPIPlanPtr upsert_plan = NULL;
static SPIPlanPtr truncate_plan = NULL;
static SPIPlanPtr hs_plan = NULL;

/*
 * An upper bound of the highest index stored in _raft_log, as this process
 * last wrote or read it; UINT64_MAX (no bound) until the log is loaded.  An
 * append wholly above it cannot meet a stored row, so it needs no
 * ON CONFLICT (append_direct).  A rolled-back append leaves the
 * table below the bound (harmless: the next append may upsert needlessly);
 * a rolled-back truncate would leave rows above it, but the raft worker
 * exits on any error and reloads, and even then a direct append meeting a
 * row fails on the primary key, it never overwrites.
 */
static uint64 stored_last = UINT64_MAX;

/* A bytea datum holding a copy of buf[0..len). */
static Datum
bytea_datum(const void *buf, size_t len)
{
	bytea	   *b = palloc(VARHDRSZ + len);

	SET_VARSIZE(b, VARHDRSZ + len);
	if (len > 0)
		memcpy(VARDATA(b), buf, len);
	return PointerGetDatum(b);
}

/* Column `col` of row `row` of SPI_tuptable as int64 (0 when NULL). */
static int64
get_i64(int row, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, &isnull);

	if (isnull)
		return 0;
	switch (SPI_gettypeid(SPI_tuptable->tupdesc, col))
	{
		case INT2OID:
			return DatumGetInt16(d);
		case INT4OID:
			return DatumGetInt32(d);
		default:
			return DatumGetInt64(d);
	}
}

/* Column as a detoasted bytea, or NULL. */
static bytea *
get_bytea(int row, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, &isnull);

	if (isnull)
		return NULL;
	return DatumGetByteaPP(d);
}

/*
 * Load hard state, snapshot meta, identity, applied index and the log.
 * Results are copied into `callerctx` (SPI's context goes away at SPI_finish).
 */
void
mc_logstore_load(McLogLoaded *out, MemoryContext callerctx)
{
	int			ret;
	uint64		i;

	memset(out, 0, sizeof(*out));

	ret = SPI_execute("SELECT cluster_id, node_id, term, vote, commit_idx, snap_index,"
					  " snap_term, snap_conf FROM mailcluster._raft_state", true, 0);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("mailcluster: the Raft state row is missing"),
				 errhint("Recreate the extension: mailcluster._raft_state must hold exactly one row.")));
	out->cluster_id = (uint64) get_i64(0, 1);
	out->node_id = (uint32) get_i64(0, 2);
	out->hs.term = (uint64) get_i64(0, 3);
	out->hs.vote = (uint32) get_i64(0, 4);
	out->hs.commit = (uint64) get_i64(0, 5);
	out->snap.index = (uint64) get_i64(0, 6);
	out->snap.term = (uint64) get_i64(0, 7);
	{
		bytea	   *conf = get_bytea(0, 8);

		if (conf != NULL)
		{
			if (mc_raft_conf_decode((const uint8_t *) VARDATA_ANY(conf),
									VARSIZE_ANY_EXHDR(conf), &out->snap.conf) != 0)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("mailcluster: the stored Raft configuration cannot be decoded")));
			out->has_snap = true;
		}
	}

	ret = SPI_execute("SELECT applied_index FROM mailcluster._raft_applied", true, 0);
	if (ret == SPI_OK_SELECT && SPI_processed == 1)
		out->applied = (uint64) get_i64(0, 1);

	ret = SPI_execute("SELECT idx, term, type, client_id, request_id, data"
					  " FROM mailcluster._raft_log ORDER BY idx", true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "mailcluster: reading the Raft log failed: %s",
			 SPI_result_code_string(ret));

	if (SPI_processed > 0)
	{
		MemoryContext old = MemoryContextSwitchTo(callerctx);

		out->entries = palloc0(sizeof(mc_raft_entry) * SPI_processed);
		MemoryContextSwitchTo(old);
	}
	for (i = 0; i < SPI_processed; i++)
	{
		mc_raft_entry *e = &out->entries[i];
		bytea	   *data = get_bytea(i, 6);

		e->index = (uint64) get_i64(i, 1);
		e->term = (uint64) get_i64(i, 2);
		e->type = (uint8) get_i64(i, 3);
		e->client_id = (uint64) get_i64(i, 4);
		e->request_id = (uint64) get_i64(i, 5);
		if (data != NULL && VARSIZE_ANY_EXHDR(data) > 0)
		{
			e->len = VARSIZE_ANY_EXHDR(data);
			e->data = MemoryContextAlloc(callerctx, e->len);
			memcpy(e->data, VARDATA_ANY(data), e->len);
		}
		if (e->index != out->snap.index + 1 + i)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("mailcluster: the Raft log has a gap at index %llu",
							(unsigned long long) (out->snap.index + 1 + i)),
					 errdetail("Found entry %llu; the snapshot index is %llu.",
							   (unsigned long long) e->index,
							   (unsigned long long) out->snap.index)));
	}
	out->n_entries = SPI_processed;
	stored_last = out->snap.index + out->n_entries;
}

/* DELETE the suffix starting at `from`. */
void
mc_logstore_truncate(uint64 from)
{
	Oid			types[1] = {INT8OID};
	Datum		args[1];
	int			ret;

	args[0] = Int64GetDatum((int64) from);
	ret = SPI_execute_plan(mc_spi_kept_plan(&truncate_plan,
									 "DELETE FROM mailcluster._raft_log WHERE idx >= $1",
									 1, types), args, NULL, false, 0);
	if (ret != SPI_OK_DELETE)
		elog(ERROR, "mailcluster: truncating the Raft log failed: %s",
			 SPI_result_code_string(ret));
	if (from > 0 && stored_last >= from)
		stored_last = from - 1;
}

/*
 * Append entries wholly past the stored end (stored_last) without the
 * executor: heap rows and their primary-key entries, as PostgreSQL
 * writes catalog rows (the table has one plain unique index, no triggers,
 * no expression or partial indexes).  The unique check stays, so a row
 * that is there after all raises unique_violation.  Per batch this saves
 * planning checks, executor start-up and the unnest() tuplestore: a fifth
 * of the raft worker's CPU with small batches.
 */
static bool
append_direct(const mc_raft_entry *entries, size_t n)
{
	Oid			nsp = get_namespace_oid("mailcluster", false);
	Oid			relid = get_relname_relid("_raft_log", nsp);
	Relation	rel;
	CatalogIndexState indexes;
	TupleDesc	desc;
	size_t		i;

	if (!OidIsValid(relid))
		elog(ERROR, "mailcluster: table mailcluster._raft_log is missing");
	rel = table_open(relid, RowExclusiveLock);
	desc = RelationGetDescr(rel);
	if (desc->natts != 6 || rel->rd_rel->relhastriggers)
	{
		/* not the table this code knows: let SQL insert into it */
		table_close(rel, NoLock);
		return false;
	}
	indexes = CatalogOpenIndexes(rel);
	for (i = 0; i < n; i++)
	{
		const mc_raft_entry *e = &entries[i];
		Datum		values[6];
		bool		nulls[6] = {false, false, false, false, false, false};
		HeapTuple	tup;

		values[0] = Int64GetDatum((int64) e->index);
		values[1] = Int64GetDatum((int64) e->term);
		values[2] = Int16GetDatum((int16) e->type);
		values[3] = Int64GetDatum((int64) e->client_id);
		values[4] = Int64GetDatum((int64) e->request_id);
		nulls[5] = e->len == 0;
		values[5] = e->len > 0 ? bytea_datum(e->data, e->len) : (Datum) 0;
		tup = heap_form_tuple(desc, values, nulls);
		CatalogTupleInsertWithInfo(rel, tup, indexes);
		heap_freetuple(tup);
		if (!nulls[5])
			pfree(DatumGetPointer(values[5]));
	}
	CatalogCloseIndexes(indexes);
	table_close(rel, NoLock);
	return true;
}

/*
 * INSERT the batch's entries in ONE statement: the columns go as six arrays
 * and unnest() turns them back into rows (one plan, one executor start, one
 * index descent per row instead of one SPI call per entry).  An entry
 * already stored at the same index is replaced (the core only re-sends an
 * index after truncating it, but replacing keeps this idempotent).  The
 * indexes of one batch are distinct (consecutive), so ON CONFLICT DO UPDATE
 * never meets the same row twice in the statement.  Appends past the
 * stored end (every append but the first after start-up, a truncate
 * aside) go through append_direct instead: see stored_last.
 */
void
mc_logstore_append(const mc_raft_entry *entries, size_t n)
{
	Oid			types[6] = {INT8ARRAYOID, INT8ARRAYOID, INT2ARRAYOID,
	INT8ARRAYOID, INT8ARRAYOID, BYTEAARRAYOID};
	SPIPlanPtr	plan;
	Datum	   *idx,
			   *term,
			   *type,
			   *client,
			   *request,
			   *data;
	bool	   *data_null;
	Datum		args[6];
	int			dims[1];
	int			lbs[1] = {1};
	size_t		i;
	int			ret;

	if (n == 0)
		return;
	if (n > (size_t) MaxAllocSize / sizeof(Datum))
		elog(ERROR, "mailcluster: too many Raft entries in one batch (%zu)", n);
	if (entries[0].index > stored_last && append_direct(entries, n))
	{
		stored_last = entries[n - 1].index;
		return;
	}
	plan = mc_spi_kept_plan(&upsert_plan,
						 "INSERT INTO mailcluster._raft_log (idx, term, type, client_id, request_id, data)"
						 " SELECT * FROM unnest($1::int8[], $2::int8[], $3::int2[], $4::int8[],"
						 " $5::int8[], $6::bytea[])"
						 " ON CONFLICT (idx) DO UPDATE SET term = EXCLUDED.term, type = EXCLUDED.type,"
						 " client_id = EXCLUDED.client_id, request_id = EXCLUDED.request_id,"
						 " data = EXCLUDED.data",
						 6, types);
	idx = palloc(sizeof(Datum) * n);
	term = palloc(sizeof(Datum) * n);
	type = palloc(sizeof(Datum) * n);
	client = palloc(sizeof(Datum) * n);
	request = palloc(sizeof(Datum) * n);
	data = palloc(sizeof(Datum) * n);
	data_null = palloc(sizeof(bool) * n);
	for (i = 0; i < n; i++)
	{
		const mc_raft_entry *e = &entries[i];

		idx[i] = Int64GetDatum((int64) e->index);
		term[i] = Int64GetDatum((int64) e->term);
		type[i] = Int16GetDatum((int16) e->type);
		client[i] = Int64GetDatum((int64) e->client_id);
		request[i] = Int64GetDatum((int64) e->request_id);
		data_null[i] = e->len == 0;
		data[i] = e->len > 0 ? bytea_datum(e->data, e->len) : (Datum) 0;
	}
	dims[0] = (int) n;
	args[0] = PointerGetDatum(construct_array(idx, (int) n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	args[1] = PointerGetDatum(construct_array(term, (int) n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	args[2] = PointerGetDatum(construct_array(type, (int) n, INT2OID, 2, true, TYPALIGN_SHORT));
	args[3] = PointerGetDatum(construct_array(client, (int) n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	args[4] = PointerGetDatum(construct_array(request, (int) n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	args[5] = PointerGetDatum(construct_md_array(data, data_null, 1, dims, lbs,
												 BYTEAOID, -1, false, TYPALIGN_INT));
	ret = SPI_execute_plan(plan, args, NULL, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "mailcluster: appending to the Raft log failed: %s",
			 SPI_result_code_string(ret));
	if (SPI_processed != n)
		elog(ERROR, "mailcluster: appending %zu Raft entries stored %llu",
			 n, (unsigned long long) SPI_processed);
	if (entries[n - 1].index > stored_last)
		stored_last = entries[n - 1].index;
	for (i = 0; i < n; i++)
		if (!data_null[i])
			pfree(DatumGetPointer(data[i]));
	for (i = 0; i < 6; i++)
		pfree(DatumGetPointer(args[i]));
	pfree(idx);
	pfree(term);
	pfree(type);
	pfree(client);
	pfree(request);
	pfree(data);
	pfree(data_null);
}

/* UPDATE term, vote, commit. */
void
mc_logstore_save_hard_state(const mc_raft_hard_state *hs)
{
	Oid			types[3] = {INT8OID, INT4OID, INT8OID};
	Datum		args[3];
	int			ret;

	args[0] = Int64GetDatum((int64) hs->term);
	args[1] = Int32GetDatum((int32) hs->vote);
	args[2] = Int64GetDatum((int64) hs->commit);
	ret = SPI_execute_plan(mc_spi_kept_plan(&hs_plan,
									 "UPDATE mailcluster._raft_state SET term = $1, vote = $2, commit_idx = $3",
									 3, types), args, NULL, false, 0);
	if (ret != SPI_OK_UPDATE)
		elog(ERROR, "mailcluster: saving the Raft hard state failed: %s",
			 SPI_result_code_string(ret));
}

/* Snapshot meta, then drop what it covers. */
void
mc_logstore_save_snapshot(const mc_raft_snapshot_meta *meta, bool discard_all)
{
	uint8_t		buf[MC_RAFT_CONF_MAX_BYTES];
	int			len = mc_raft_conf_encode(&meta->conf, buf, sizeof(buf));
	Oid			types[4] = {INT8OID, INT8OID, BYTEAOID, INT8OID};
	Datum		args[4];
	int			ret;

	if (len < 0)
		elog(ERROR, "mailcluster: cannot encode the Raft configuration");
	args[0] = Int64GetDatum((int64) meta->index);
	args[1] = Int64GetDatum((int64) meta->term);
	args[2] = bytea_datum(buf, len);
	ret = SPI_execute_with_args("UPDATE mailcluster._raft_state SET snap_index = $1, snap_term = $2,"
								" snap_conf = $3", 3, types, args, NULL, false, 0);
	if (ret != SPI_OK_UPDATE)
		elog(ERROR, "mailcluster: saving the Raft snapshot meta failed: %s",
			 SPI_result_code_string(ret));
	args[3] = Int64GetDatum(discard_all ? PG_INT64_MAX : (int64) meta->index);
	ret = SPI_execute_with_args("DELETE FROM mailcluster._raft_log WHERE idx <= $1",
								1, &types[3], &args[3], NULL, false, 0);
	if (ret != SPI_OK_DELETE)
		elog(ERROR, "mailcluster: compacting the Raft log failed: %s",
			 SPI_result_code_string(ret));
	if (discard_all)
		stored_last = 0;		/* the table is empty */
}

/* Cluster id and own id. */
void
mc_logstore_save_identity(uint64 cluster_id, uint32 node_id)
{
	Oid			types[2] = {INT8OID, INT4OID};
	Datum		args[2];
	int			ret;

	args[0] = Int64GetDatum((int64) cluster_id);
	args[1] = Int32GetDatum((int32) node_id);
	ret = SPI_execute_with_args("UPDATE mailcluster._raft_state SET cluster_id = $1, node_id = $2",
								2, types, args, NULL, false, 0);
	if (ret != SPI_OK_UPDATE)
		elog(ERROR, "mailcluster: saving the cluster identity failed: %s",
			 SPI_result_code_string(ret));
}

/* synchronous_commit for this transaction only (SET LOCAL). */
void
mc_logstore_set_sync(bool sync)
{
	(void) set_config_option("synchronous_commit", sync ? "on" : "off",
							 PGC_SUSET, PGC_S_SESSION, GUC_ACTION_LOCAL,
							 true, 0, false);
}
