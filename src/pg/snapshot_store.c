/*
 * snapshot_store.c — streamed snapshots of the replicated state (see
 * snapshot_store.h; tables in src/sql/42_raft_snapshot.sql): the stream's
 * format, taking a snapshot, serving its chunks, and the kept snapshots'
 * bookkeeping.  Receiving and loading one: snapshot_load.c.
 *
 * A snapshot is a byte stream of records, cut into chunks that are rows of
 * mailcluster._raft_snap_chunk keyed by (staged, idx, off).  Every chunk
 * holds whole records only and is at most chunk_target bytes (256 KB, or
 * raft_batch_max if less), so a leader answers the core's request for the
 * chunk at an offset with one index lookup and the offsets the core
 * computes (next = offset + len) always land on a chunk.  A record is
 *
 *     u8 kind | u32 length | payload           (integers big-endian)
 *
 *   'S'  start: u32 format (1) | u64 applied index
 *   'T'  table: u16 len + name | u16 ncols | per column: u16 len + name,
 *        u16 len + type (format_type_with_typemod), u8 encoding
 *        (0 binary send/recv, 1 text out/in).  Repeated at the start of
 *        every chunk that continues the table's rows, so a chunk decodes
 *        on its own.
 *   'R'  row of the current table: per column i32 length (-1 NULL) | bytes
 *   'P'  a piece of a row too big for one chunk (a blob of megabytes): the
 *        row's bytes are the P pieces followed by the R that ends them
 *   'E'  end: u32 tables | u64 rows (a check for the installer)
 *
 * Values travel in their binary send form when that form carries no
 * node-local OIDs (built-in scalars and arrays of them; bytea raw), else as
 * text.  Columns are matched by name on install, and their types checked.
 *
 * Memory: taking holds one fetched batch of table rows (TOAST pointers,
 * not values), one encoded row and one chunk (loading: snapshot_load.c).
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/portal.h"
#include "utils/snapmgr.h"

#include "mc_guc.h"
#include "snap_codec.h"
#include "snapshot_int.h"
#include "snapshot_store.h"
#include "spi_plans.h"

#define SNAP_CHUNK_MAX		(256 * 1024)	/* chunk target, bytes */
#define SNAP_CHUNK_MIN		4096	/* raft_batch_max can go no lower */
#define SNAP_FETCH_ROWS		64		/* table rows per cursor fetch */

/* ---- kept plans (spi_plans.h) ------------------------------------------- */

static SPIPlanPtr plan_take_head = NULL;
static SPIPlanPtr plan_tables = NULL;
static SPIPlanPtr plan_put_chunk = NULL;
static SPIPlanPtr plan_drop_old_chunks = NULL;
static SPIPlanPtr plan_drop_old_heads = NULL;
static SPIPlanPtr plan_put_head = NULL;
static SPIPlanPtr plan_read = NULL;

/* ---- big-endian integers ------------------------------------------------ */

/* Append v as one byte. */
static void
put_u8(StringInfo s, uint8 v)
{
	appendStringInfoCharMacro(s, (char) v);
}

/* Append v as 2 bytes, big-endian. */
static void
put_u16(StringInfo s, uint16 v)
{
	uint8		b[2] = {v >> 8, v};

	appendBinaryStringInfo(s, (char *) b, 2);
}

/* Append v as 4 bytes, big-endian. */
static void
put_u32(StringInfo s, uint32 v)
{
	uint8		b[4] = {v >> 24, v >> 16, v >> 8, v};

	appendBinaryStringInfo(s, (char *) b, 4);
}

/* Append v as 8 bytes, big-endian. */
static void
put_u64(StringInfo s, uint64 v)
{
	put_u32(s, (uint32) (v >> 32));
	put_u32(s, (uint32) v);
}
/* ---- value encodings ---------------------------------------------------- */

/* A built-in scalar whose binary send form holds no node-local OID. */
static bool
binary_safe_scalar(Oid typ)
{
	switch (typ)
	{
		case BOOLOID:
		case CHAROID:
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case FLOAT4OID:
		case FLOAT8OID:
		case NUMERICOID:
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
		case NAMEOID:
		case BYTEAOID:
		case DATEOID:
		case TIMEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
		case INTERVALOID:
		case UUIDOID:
		case JSONOID:
		case JSONBOID:
			return true;
		default:
			return false;
	}
}

/*
 * Encoding of a column of type typ: binary for safe scalars (through a
 * domain too) and arrays of safe scalars (array_send names the element
 * type's OID, fixed for built-ins), text for everything else (enums,
 * reg* types, composite or user types: their OIDs differ between nodes).
 */
static uint8
encoding_of(Oid typ)
{
	Oid			base = getBaseType(typ);
	Oid			elem;

	if (binary_safe_scalar(base))
		return ENC_BINARY;
	elem = get_element_type(base);
	if (OidIsValid(elem) && binary_safe_scalar(elem))
		return ENC_BINARY;
	return ENC_TEXT;
}

/* ---- taking ------------------------------------------------------------- */

/* How one column of the table being dumped is written. */
typedef struct DumpCol
{
	Oid			typ;
	uint8		enc;
	bool		is_bytea;		/* raw bytes, no send call */
	FmgrInfo	fn;				/* send or output function */
} DumpCol;

/* The stream being written as chunk rows of snapshot idx. */
typedef struct SnapWriter
{
	uint64		idx;
	uint32		target;			/* max bytes of one chunk */
	StringInfoData chunk;		/* the chunk being filled */
	uint32		head_len;		/* chunk bytes that are only the repeated T */
	uint64		off;			/* stream offset of `chunk` */
	int32		nchunks;
	uint64		nrows;
	uint32		ntables;
	StringInfoData thead;		/* T record of the table being dumped */
} SnapWriter;

/* Append one record to the chunk (the caller made sure it fits). */
static void
w_record(SnapWriter *w, char kind, const char *data, uint32 len)
{
	Assert(w->chunk.len + MC_SNAP_REC_HDR + len <= w->target);
	put_u8(&w->chunk, (uint8) kind);
	put_u32(&w->chunk, len);
	appendBinaryStringInfo(&w->chunk, data, len);
}

/*
 * Store the chunk being filled as row (idx, off) and start the next one,
 * which opens with the current table's T record when rows continue.
 */
static void
w_flush(SnapWriter *w)
{
	Oid			types[3] = {INT8OID, INT8OID, BYTEAOID};
	Datum		args[3];
	bytea	   *b;
	int			ret;

	if (w->chunk.len == 0 || (uint32) w->chunk.len == w->head_len)
		return;
	b = (bytea *) palloc(VARHDRSZ + w->chunk.len);
	SET_VARSIZE(b, VARHDRSZ + w->chunk.len);
	memcpy(VARDATA(b), w->chunk.data, w->chunk.len);
	args[0] = Int64GetDatum((int64) w->idx);
	args[1] = Int64GetDatum((int64) w->off);
	args[2] = PointerGetDatum(b);
	ret = SPI_execute_plan(mc_spi_kept_plan(&plan_put_chunk,
									 "INSERT INTO mailcluster._raft_snap_chunk (staged, idx, off, data)"
									 " VALUES (false, $1, $2, $3)", 3, types),
						   args, NULL, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "mailcluster: storing a snapshot chunk failed: %s", SPI_result_code_string(ret));
	pfree(b);
	w->off += w->chunk.len;
	w->nchunks++;
	resetStringInfo(&w->chunk);
	w->head_len = 0;
	if (w->thead.len > 0)
	{
		appendBinaryStringInfo(&w->chunk, w->thead.data, w->thead.len);
		w->head_len = w->thead.len;
	}
}

/* Append a record, first closing the chunk if it would not fit. */
static void
w_small_record(SnapWriter *w, char kind, const char *data, uint32 len)
{
	if (w->chunk.len + MC_SNAP_REC_HDR + len > w->target)
		w_flush(w);
	w_record(w, kind, data, len);
}

/*
 * Append one encoded row: as one R record when it fits a chunk, else as P
 * pieces filling chunk after chunk and a final R.
 */
static void
w_row(SnapWriter *w, const char *row, uint32 len)
{
	uint32		pos = 0;

	if (w->chunk.len + MC_SNAP_REC_HDR + len > w->target && (uint32) w->chunk.len > w->head_len)
		w_flush(w);
	for (;;)
	{
		uint32		space = w->target - w->chunk.len - MC_SNAP_REC_HDR;

		if (len - pos <= space)
		{
			w_record(w, 'R', row + pos, len - pos);
			break;
		}
		w_record(w, 'P', row + pos, space);
		pos += space;
		w_flush(w);
	}
	w->nrows++;
}

/* The T record of a table whose rows the portal returns; sets up cols. */
static void
w_table_head(SnapWriter *w, const char *name, TupleDesc desc, DumpCol *cols)
{
	StringInfoData p;
	int			i;

	initStringInfo(&p);
	put_u16(&p, (uint16) strlen(name));
	appendStringInfoString(&p, name);
	put_u16(&p, (uint16) desc->natts);
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute a = TupleDescAttr(desc, i);
		char	   *tname = format_type_with_typemod(a->atttypid, a->atttypmod);
		DumpCol    *c = &cols[i];
		Oid			fnoid;
		bool		isvarlena;

		c->typ = a->atttypid;
		c->enc = encoding_of(a->atttypid);
		c->is_bytea = getBaseType(a->atttypid) == BYTEAOID;
		if (c->enc == ENC_BINARY)
			getTypeBinaryOutputInfo(a->atttypid, &fnoid, &isvarlena);
		else
			getTypeOutputInfo(a->atttypid, &fnoid, &isvarlena);
		fmgr_info(fnoid, &c->fn);
		put_u16(&p, (uint16) strlen(NameStr(a->attname)));
		appendStringInfoString(&p, NameStr(a->attname));
		put_u16(&p, (uint16) strlen(tname));
		appendStringInfoString(&p, tname);
		put_u8(&p, c->enc);
	}
	if (MC_SNAP_REC_HDR + p.len > w->target / 2)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("mailcluster: the snapshot header of table \"%s\" is too long for a chunk", name),
				 errdetail("%d bytes; a chunk holds %u.", p.len, w->target),
				 errhint("Raise mailcluster.raft_batch_max.")));
	/* the chunk must not end with a lone header: close it when it would */
	if (w->chunk.len + 2 * MC_SNAP_REC_HDR + p.len > w->target)
		w_flush(w);
	resetStringInfo(&w->thead);
	put_u8(&w->thead, 'T');
	put_u32(&w->thead, p.len);
	appendBinaryStringInfo(&w->thead, p.data, p.len);
	appendBinaryStringInfo(&w->chunk, w->thead.data, w->thead.len);
	pfree(p.data);
	w->ntables++;
}

/* Encode one row (in the current memory context) into out. */
static void
encode_row(HeapTuple tup, TupleDesc desc, DumpCol *cols, StringInfo out)
{
	int			i;

	for (i = 0; i < desc->natts; i++)
	{
		bool		isnull;
		Datum		v = heap_getattr(tup, i + 1, desc, &isnull);
		DumpCol    *c = &cols[i];

		if (isnull)
		{
			put_u32(out, (uint32) -1);
			continue;
		}
		if (c->is_bytea)
		{
			bytea	   *b = DatumGetByteaPP(v);	/* detoasts a TOASTed value */

			put_u32(out, VARSIZE_ANY_EXHDR(b));
			appendBinaryStringInfo(out, VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b));
			if ((Pointer) b != DatumGetPointer(v))
				pfree(b);
		}
		else if (c->enc == ENC_BINARY)
		{
			bytea	   *b = SendFunctionCall(&c->fn, v);

			put_u32(out, VARSIZE(b) - VARHDRSZ);
			appendBinaryStringInfo(out, VARDATA(b), VARSIZE(b) - VARHDRSZ);
			pfree(b);
		}
		else
		{
			char	   *s = OutputFunctionCall(&c->fn, v);
			uint32		n = strlen(s);

			put_u32(out, n);
			appendBinaryStringInfo(out, s, n);
			pfree(s);
		}
	}
}

/*
 * Dump table `name` through a cursor opened under snap: rows are fetched
 * SNAP_FETCH_ROWS at a time (TOASTed values stay pointers until encoded)
 * and encoded one at a time in rowcxt.
 */
static void
dump_table(SnapWriter *w, const char *name, Snapshot snap, MemoryContext rowcxt)
{
	char	   *sql = psprintf("SELECT * FROM mailcluster.%s", quote_identifier(name));
	Portal		portal;
	TupleDesc	desc;
	DumpCol    *cols;
	StringInfoData row;

	PushActiveSnapshot(snap);
	portal = SPI_cursor_open_with_args(NULL, sql, 0, NULL, NULL, NULL, true, CURSOR_OPT_NO_SCROLL);
	PopActiveSnapshot();
	if (portal == NULL)
		elog(ERROR, "mailcluster: opening a cursor on %s failed", name);
	desc = portal->tupDesc;
	cols = palloc0(sizeof(DumpCol) * Max(desc->natts, 1));
	w_table_head(w, name, desc, cols);
	initStringInfo(&row);
	for (;;)
	{
		SPITupleTable *tt;
		uint64		n,
					i;

		SPI_cursor_fetch(portal, true, SNAP_FETCH_ROWS);
		/* keep both: storing a chunk (SPI) resets SPI_tuptable and SPI_processed */
		tt = SPI_tuptable;
		n = SPI_processed;
		if (n == 0)
		{
			SPI_freetuptable(tt);
			break;
		}
		for (i = 0; i < n; i++)
		{
			MemoryContext old = MemoryContextSwitchTo(rowcxt);

			initStringInfo(&row);
			encode_row(tt->vals[i], tt->tupdesc, cols, &row);
			MemoryContextSwitchTo(old);
			w_row(w, row.data, (uint32) row.len);
			MemoryContextReset(rowcxt);
		}
		SPI_freetuptable(tt);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);
	/* no more rows follow: later chunks do not repeat this header */
	if ((uint32) w->chunk.len == w->head_len)
	{
		w->chunk.len = 0;
		w->chunk.data[0] = '\0';
	}
	w->head_len = 0;
	resetStringInfo(&w->thead);
	pfree(cols);
	pfree(sql);
}

/* See snapshot_int.h. */
void
mc_snapshot_drop_kept(Datum below)
{
	Oid			types[1] = {INT8OID};
	Datum		args[1] = {below};

	if (SPI_execute_plan(mc_spi_kept_plan(&plan_drop_old_chunks,
								   "DELETE FROM mailcluster._raft_snap_chunk WHERE ctid = ANY (ARRAY("
								   "SELECT ctid FROM mailcluster._raft_snap_chunk"
								   " WHERE NOT staged AND idx < $1 FOR UPDATE SKIP LOCKED))", 1, types),
						 args, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "mailcluster: dropping old snapshot chunks failed");
	if (SPI_execute_plan(mc_spi_kept_plan(&plan_drop_old_heads,
								   "DELETE FROM mailcluster._raft_snapshot WHERE ctid = ANY (ARRAY("
								   "SELECT ctid FROM mailcluster._raft_snapshot"
								   " WHERE idx < $1 FOR UPDATE SKIP LOCKED))", 1, types),
						 args, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "mailcluster: dropping old snapshots failed");
}

/* See snapshot_int.h. */
void
mc_snapshot_put_head(uint64 idx, uint64 size, int32 chunks, uint64 rows, const char *made)
{
	Oid			types[5] = {INT8OID, INT8OID, INT4OID, INT8OID, TEXTOID};
	Datum		args[5];

	args[0] = Int64GetDatum((int64) idx);
	args[1] = Int64GetDatum((int64) size);
	args[2] = Int32GetDatum(chunks);
	args[3] = Int64GetDatum((int64) rows);
	args[4] = CStringGetTextDatum(made);
	if (SPI_execute_plan(mc_spi_kept_plan(&plan_put_head,
								   "INSERT INTO mailcluster._raft_snapshot (idx, size, chunks, nrows, made)"
								   " VALUES ($1, $2, $3, $4, $5)"
								   " ON CONFLICT (idx) DO UPDATE SET size = EXCLUDED.size,"
								   " chunks = EXCLUDED.chunks, nrows = EXCLUDED.nrows, made = EXCLUDED.made",
								   5, types),
						 args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "mailcluster: storing the snapshot header failed");
}

/* Chunk size for a new snapshot: 256 KB, or raft_batch_max if less. */
static uint32
chunk_target(void)
{
	int			batch = mc_raft_batch_max;

	return (uint32) Max(SNAP_CHUNK_MIN, Min(batch, SNAP_CHUNK_MAX));
}

/* See snapshot_store.h. */
uint64
mc_snapshot_take(void)
{
	Snapshot	snap = RegisterSnapshot(GetActiveSnapshot());
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "mailcluster snapshot take",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext rowcxt = AllocSetContextCreate(cxt, "mailcluster snapshot row",
												 ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	SnapWriter	w;
	bool		isnull;
	int			ret;
	uint64		n,
				i;
	char	  **tables;
	StringInfoData rec;

	/* the applied index and the tables, in the same snapshot as the rows */
	ret = SPI_execute_snapshot(mc_spi_kept_plan(&plan_take_head,
										 "SELECT a.applied_index, a.applied_index <="
										 " coalesce((SELECT max(s.idx) FROM mailcluster._raft_snapshot s), -1)"
										 " FROM mailcluster._raft_applied a", 0, NULL),
							   NULL, NULL, snap, InvalidSnapshot, true, false, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "mailcluster: reading applied_index for a snapshot failed");
	memset(&w, 0, sizeof(w));
	w.idx = (uint64) DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull)))
	{
		/* a kept snapshot is as new: nothing to do */
		MemoryContextSwitchTo(old);
		MemoryContextDelete(cxt);
		UnregisterSnapshot(snap);
		return 0;
	}
	ret = SPI_execute_snapshot(mc_spi_kept_plan(&plan_tables,
										 "SELECT t::text FROM mailcluster._replicated_tables() t", 0, NULL),
							   NULL, NULL, snap, InvalidSnapshot, true, false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "mailcluster: listing the replicated tables failed");
	n = SPI_processed;
	tables = palloc(sizeof(char *) * Max(n, 1));
	for (i = 0; i < n; i++)
		tables[i] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);

	w.target = chunk_target();
	initStringInfo(&w.chunk);
	enlargeStringInfo(&w.chunk, w.target);
	initStringInfo(&w.thead);
	initStringInfo(&rec);
	put_u32(&rec, SNAP_FORMAT);
	put_u64(&rec, w.idx);
	w_small_record(&w, 'S', rec.data, rec.len);
	for (i = 0; i < n; i++)
		dump_table(&w, tables[i], snap, rowcxt);
	resetStringInfo(&rec);
	put_u32(&rec, w.ntables);
	put_u64(&rec, w.nrows);
	w_small_record(&w, 'E', rec.data, rec.len);
	w_flush(&w);

	/*
	 * Drop older kept snapshots (not a newer one an install committed
	 * meanwhile; rows an install is dropping right now are left to it).
	 */
	mc_snapshot_drop_kept(Int64GetDatum((int64) w.idx));

	mc_snapshot_put_head(w.idx, w.off, w.nchunks, w.nrows, "taken");
	ereport(DEBUG1,
			(errmsg("mailcluster: snapshot at index %llu taken: %llu bytes in %d chunks, %llu rows of %u tables",
					(unsigned long long) w.idx, (unsigned long long) w.off, w.nchunks,
					(unsigned long long) w.nrows, w.ntables)));

	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	UnregisterSnapshot(snap);
	return w.idx;
}

/* ---- serving ------------------------------------------------------------ */

/* See snapshot_store.h. */
bool
mc_snapshot_read_chunk(uint64 index, uint64 offset, uint8 *buf, uint32 max,
					   uint32 *len, bool *last)
{
	Oid			types[2] = {INT8OID, INT8OID};
	Datum		args[2];
	int			ret;
	bool		isnull;
	int64		off,
				size;
	bytea	   *chunk;
	uint64		skip,
				avail;

	*len = 0;
	*last = false;
	args[0] = Int64GetDatum((int64) index);
	args[1] = Int64GetDatum((int64) offset);
	/* the chunk holding offset: one backward step in the primary key */
	ret = SPI_execute_plan(mc_spi_kept_plan(&plan_read,
									 "SELECT c.off, c.data, s.size"
									 " FROM mailcluster._raft_snap_chunk c"
									 " JOIN mailcluster._raft_snapshot s ON s.idx = c.idx"
									 " WHERE NOT c.staged AND c.idx = $1 AND c.off <= $2"
									 " ORDER BY c.off DESC LIMIT 1", 2, types),
						   args, NULL, true, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		return false;
	off = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	size = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	if ((int64) offset >= size)
	{
		*last = true;			/* nothing after the end */
		SPI_freetuptable(SPI_tuptable);
		return true;
	}
	chunk = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	skip = offset - (uint64) off;
	avail = VARSIZE_ANY_EXHDR(chunk) > skip ? VARSIZE_ANY_EXHDR(chunk) - skip : 0;
	if (avail == 0)
	{
		ereport(WARNING,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("mailcluster: kept snapshot %llu has no chunk at offset %llu",
						(unsigned long long) index, (unsigned long long) offset)));
		SPI_freetuptable(SPI_tuptable);
		return false;
	}
	/* normally the whole chunk; less when raft_batch_max shrank since */
	*len = (uint32) Min(avail, (uint64) max);
	memcpy(buf, VARDATA_ANY(chunk) + skip, *len);
	*last = (int64) (offset + *len) >= size;
	SPI_freetuptable(SPI_tuptable);
	return true;
}
