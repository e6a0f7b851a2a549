/*
 * snapshot_load.c — the receiving side of streamed snapshots (see
 * snapshot_store.h; the stream's format is described in snapshot_store.c):
 * staging the chunks the leader sends and keeping a completely received
 * snapshot (the follower's raft worker), then loading a kept snapshot into
 * the replicated tables (the apply worker).
 *
 * Columns are matched by name on load, and their types checked.
 *
 * Memory: loading holds one kept chunk, one batch of decoded rows (<= 100
 * rows / 1 MB) and one row being reassembled from pieces.  A row bigger
 * than a chunk (one big blob) is the only value ever held whole, a small
 * multiple of its size.
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
#include "session_state.h"
#include "snap_codec.h"
#include "snapshot_int.h"
#include "snapshot_store.h"
#include "spi_plans.h"

#define SNAP_BATCH_ROWS		100		/* decoded rows per INSERT */
#define SNAP_BATCH_BYTES	(1024 * 1024)

/* ---- kept plans (spi_plans.h) ------------------------------------------- */

static SPIPlanPtr plan_tables = NULL;
static SPIPlanPtr plan_stage_clear = NULL;
static SPIPlanPtr plan_stage_put = NULL;
static SPIPlanPtr plan_lock_applied = NULL;
static SPIPlanPtr plan_set_applied = NULL;
static SPIPlanPtr plan_keep_staged = NULL;
static SPIPlanPtr plan_staged_offsets = NULL;
static SPIPlanPtr plan_kept_exists = NULL;
static SPIPlanPtr plan_count_rows = NULL;

/* ---- reading records ---------------------------------------------------- */

/*
 * A record's payload being parsed: the bounds-checked reads of snap_codec.c
 * (fuzzed without PostgreSQL), each false turned into an ERROR here.
 */
typedef struct RecCursor
{
	mc_snap_cursor cur;
	char		kind;
} RecCursor;

/* ERROR: the snapshot stream is malformed (what, where). */
static void
corrupt(const char *what, char kind)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("mailcluster: the snapshot being loaded is malformed: %s", what),
			 errdetail("In a record of kind '%c'.", kind ? kind : '?')));
}

static void
overrun(const RecCursor *c)
{
	corrupt("a record is shorter than its contents", c->kind);
}

/* The next n bytes of the payload; ERROR when fewer are left. */
static const uint8 *
rc_take(RecCursor *c, uint32 n)
{
	const uint8_t *p;

	if (!mc_snap_take(&c->cur, n, &p))
		overrun(c);
	return p;
}

/* The next big-endian u16 of the payload. */
static uint16
rc_u16(RecCursor *c)
{
	uint16_t	v;

	if (!mc_snap_u16(&c->cur, &v))
		overrun(c);
	return v;
}

/* The next big-endian u32 of the payload. */
static uint32
rc_u32(RecCursor *c)
{
	uint32_t	v;

	if (!mc_snap_u32(&c->cur, &v))
		overrun(c);
	return v;
}

/* The next big-endian u64 of the payload. */
static uint64
rc_u64(RecCursor *c)
{
	uint64_t	v;

	if (!mc_snap_u64(&c->cur, &v))
		overrun(c);
	return v;
}

/* A u16-length-prefixed string, palloc'd and NUL-terminated. */
static char *
rc_str(RecCursor *c)
{
	mc_snap_slice s;

	if (!mc_snap_str(&c->cur, &s))
		overrun(c);
	return pnstrdup((const char *) s.p, s.len);
}

/* ---- receiving ---------------------------------------------------------- */

/* See snapshot_store.h. */
void
mc_snapshot_stage_chunk(const mc_raft_snap_chunk *c)
{
	Oid			types[3] = {INT8OID, INT8OID, BYTEAOID};
	Datum		args[3];
	bytea	   *b = palloc(VARHDRSZ + c->len);
	int			ret;

	if (c->offset == 0 &&
		SPI_execute_plan(mc_spi_kept_plan(&plan_stage_clear,
								   "DELETE FROM mailcluster._raft_snap_chunk WHERE staged", 0, NULL),
						 NULL, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "mailcluster: clearing the snapshot staging area failed");
	SET_VARSIZE(b, VARHDRSZ + c->len);
	if (c->len > 0)
		memcpy(VARDATA(b), c->data, c->len);
	args[0] = Int64GetDatum((int64) c->meta.index);
	args[1] = Int64GetDatum((int64) c->offset);
	args[2] = PointerGetDatum(b);
	ret = SPI_execute_plan(mc_spi_kept_plan(&plan_stage_put,
									 "INSERT INTO mailcluster._raft_snap_chunk (staged, idx, off, data)"
									 " VALUES (true, $1, $2, $3)"
									 " ON CONFLICT (staged, idx, off) DO UPDATE SET data = EXCLUDED.data",
									 3, types),
						   args, NULL, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "mailcluster: staging a snapshot chunk failed");
	pfree(b);
}

/* ---- loading ------------------------------------------------------------ */

/* Reads the chunks of one kept snapshot in offset order, one at a time. */
typedef struct SnapReader
{
	Portal		portal;
	MemoryContext chunkcxt;		/* holds only the current chunk */
	uint8	   *buf;			/* current chunk's bytes */
	uint32		len;
	uint32		pos;
	uint64		next_off;		/* stream offset the next chunk must have */
	int32		nchunks;
	StringInfoData spill;		/* a record that spans chunks */
} SnapReader;

/* Load the next chunk; false at the end. */
static bool
r_next_chunk(SnapReader *r)
{
	SPITupleTable *tt;
	bool		isnull;
	int64		off;
	bytea	   *b;
	MemoryContext old;

	MemoryContextReset(r->chunkcxt);
	r->buf = NULL;
	r->len = r->pos = 0;
	SPI_cursor_fetch(r->portal, true, 1);
	tt = SPI_tuptable;
	if (SPI_processed == 0)
	{
		SPI_freetuptable(tt);
		return false;
	}
	off = DatumGetInt64(SPI_getbinval(tt->vals[0], tt->tupdesc, 1, &isnull));
	if ((uint64) off != r->next_off)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("mailcluster: the snapshot being loaded has a gap"),
				 errdetail("Expected a chunk at offset %llu, found one at %lld.",
						   (unsigned long long) r->next_off, (long long) off)));
	old = MemoryContextSwitchTo(r->chunkcxt);
	b = DatumGetByteaPP(SPI_getbinval(tt->vals[0], tt->tupdesc, 2, &isnull));
	r->len = VARSIZE_ANY_EXHDR(b);
	/* a spare byte after the data: decoding terminates values in place */
	r->buf = palloc(r->len + 1);
	memcpy(r->buf, VARDATA_ANY(b), r->len);
	r->buf[r->len] = 0;
	MemoryContextSwitchTo(old);
	SPI_freetuptable(tt);
	r->next_off += r->len;
	r->nchunks++;
	return true;
}

/*
 * The next n bytes of the stream: a pointer into the current chunk, or
 * into spill when they cross into the next chunk(s); a writable byte
 * follows them either way.  Valid until the next call.  NULL when the stream ends first (*partial: some bytes were read).
 */
static uint8 *
r_bytes(SnapReader *r, uint32 n, bool *partial)
{
	uint8	   *p;

	*partial = false;
	if (r->len - r->pos >= n)
	{
		p = r->buf + r->pos;
		r->pos += n;
		return p;
	}
	resetStringInfo(&r->spill);
	while ((uint32) r->spill.len < n)
	{
		uint32		take;

		if (r->pos == r->len)
		{
			if (!r_next_chunk(r))
			{
				*partial = r->spill.len > 0;
				return NULL;
			}
			continue;
		}
		take = Min(r->len - r->pos, n - (uint32) r->spill.len);
		appendBinaryStringInfo(&r->spill, (char *) r->buf + r->pos, take);
		r->pos += take;
	}
	return (uint8 *) r->spill.data;
}

/* The next record into *c; false at a clean end of the stream. */
static bool
r_record(SnapReader *r, RecCursor *c)
{
	bool		partial;
	uint8	   *h = r_bytes(r, MC_SNAP_REC_HDR, &partial);
	uint8	   *p;
	uint32		len;

	if (h == NULL)
	{
		if (partial)
			corrupt("the stream ends inside a record header", 0);
		return false;
	}
	if (!mc_snap_header(h, &c->kind, &len))
		corrupt("a record is longer than any chunk", c->kind);
	p = r_bytes(r, len, &partial);
	if (p == NULL)
	{
		if (len == 0)
			p = (uint8 *) "";
		else
			corrupt("the stream ends inside a record", c->kind);
	}
	mc_snap_cursor_init(&c->cur, p, len);
	return true;
}

/* One column of the snapshot's table, as loaded into our table. */
typedef struct LoadCol
{
	char	   *name;
	Oid			typ;
	int32		typmod;
	uint8		enc;
	FmgrInfo	fn;				/* receive or input function */
	Oid			ioparam;
} LoadCol;

/*
 * A table of the snapshot: its columns and its two INSERT plans, for
 * `batch` rows (one multi-row VALUES) and for one row.
 */
typedef struct LoadTable
{
	char	   *name;
	int			ncols;
	LoadCol    *cols;
	int			batch;
	SPIPlanPtr	plan_many;
	SPIPlanPtr	plan_one;
	uint64		rows;
} LoadTable;

/* The install in progress. */
typedef struct SnapLoader
{
	List	   *local;			/* names of our replicated tables */
	List	   *tables;			/* LoadTable * seen so far */
	LoadTable  *cur;			/* table of the rows that follow */
	MemoryContext batchcxt;		/* decoded rows of the pending batch */
	Datum	   *values;			/* [row * ncols + col] */
	char	   *nulls;			/* the same, ' ' or 'n' (SPI's convention) */
	int			nbatch;
	Size		batch_bytes;
	StringInfoData bigrow;		/* P pieces of a row being reassembled */
	uint64		rows;
	bool		started;
	bool		ended;
} SnapLoader;

/*
 * Insert the pending batch of decoded rows of l->cur: one statement for a
 * full batch, else one per row.
 */
static void
l_flush(SnapLoader *l)
{
	LoadTable  *t = l->cur;
	int			ret;
	int			k;

	if (l->nbatch == 0)
		return;
	if (l->nbatch == t->batch)
	{
		ret = SPI_execute_plan(t->plan_many, l->values, l->nulls, false, 0);
		if (ret != SPI_OK_INSERT || SPI_processed != (uint64) l->nbatch)
			elog(ERROR, "mailcluster: loading %d snapshot rows into %s failed: %s",
				 l->nbatch, t->name, SPI_result_code_string(ret));
	}
	else
		for (k = 0; k < l->nbatch; k++)
		{
			ret = SPI_execute_plan(t->plan_one, l->values + k * t->ncols,
								   l->nulls + k * t->ncols, false, 0);
			if (ret != SPI_OK_INSERT || SPI_processed != 1)
				elog(ERROR, "mailcluster: loading a snapshot row into %s failed: %s",
					 t->name, SPI_result_code_string(ret));
		}
	t->rows += l->nbatch;
	l->nbatch = 0;
	l->batch_bytes = 0;
	MemoryContextReset(l->batchcxt);
	l->values = NULL;
	l->nulls = NULL;
}

/* Allocate the batch arrays of l->cur in batchcxt. */
static void
l_batch_arrays(SnapLoader *l)
{
	Size		n = (Size) l->cur->batch * l->cur->ncols;

	l->values = MemoryContextAlloc(l->batchcxt, sizeof(Datum) * n);
	l->nulls = MemoryContextAlloc(l->batchcxt, n);
}

/* Prepare INSERT INTO table (cols) VALUES (...) for `rows` rows. */
static SPIPlanPtr
l_prepare(LoadTable *t, Oid *types, int rows)
{
	StringInfoData sql;
	SPIPlanPtr	plan;
	Oid		   *argtypes = palloc(sizeof(Oid) * t->ncols * rows);
	int			i,
				k;

	initStringInfo(&sql);
	appendStringInfo(&sql, "INSERT INTO mailcluster.%s (", quote_identifier(t->name));
	for (i = 0; i < t->ncols; i++)
		appendStringInfo(&sql, "%s%s", i ? ", " : "", quote_identifier(t->cols[i].name));
	appendStringInfoString(&sql, ") VALUES ");
	for (k = 0; k < rows; k++)
	{
		appendStringInfo(&sql, "%s(", k ? ", " : "");
		for (i = 0; i < t->ncols; i++)
		{
			argtypes[k * t->ncols + i] = types[i];
			appendStringInfo(&sql, "%s$%d", i ? ", " : "", k * t->ncols + i + 1);
		}
		appendStringInfoChar(&sql, ')');
	}
	plan = SPI_prepare(sql.data, t->ncols * rows, argtypes);
	if (plan == NULL)
		elog(ERROR, "mailcluster: preparing the snapshot load of %s failed: %s",
			 t->name, SPI_result_code_string(SPI_result));
	pfree(sql.data);
	pfree(argtypes);
	return plan;
}

/* A T record: switch to that table (set it up the first time). */
static void
l_table(SnapLoader *l, RecCursor *c)
{
	char	   *name = rc_str(c);
	LoadTable  *t = NULL;
	ListCell   *lc;
	int			ncols,
				i;
	Oid			nsp,
				relid;
	Oid		   *types;

	foreach(lc, l->tables)
	{
		if (strcmp(((LoadTable *) lfirst(lc))->name, name) == 0)
			t = lfirst(lc);
	}
	if (t != NULL && t == l->cur)
		return;					/* the header repeated at a chunk start */
	if (l->bigrow.len > 0)
		corrupt("a row's pieces are interrupted by another table", c->kind);
	l_flush(l);
	if (t != NULL)
	{
		/* tables come one after the other: never back to an earlier one */
		corrupt("a table appears twice", c->kind);
	}
	foreach(lc, l->local)
	{
		if (strcmp((char *) lfirst(lc), name) == 0)
			break;
	}
	if (lc == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("mailcluster: the snapshot holds table \"%s\", which is not a replicated table here", name),
				 errhint("Every node must run the same version of the mailcluster extension.")));
	nsp = get_namespace_oid("mailcluster", false);
	relid = get_relname_relid(name, nsp);
	t = palloc0(sizeof(LoadTable));
	t->name = name;
	ncols = rc_u16(c);
	t->ncols = ncols;
	t->cols = palloc0(sizeof(LoadCol) * Max(ncols, 1));
	types = palloc(sizeof(Oid) * Max(ncols, 1));
	for (i = 0; i < ncols; i++)
	{
		LoadCol    *col = &t->cols[i];
		char	   *tname;
		AttrNumber	att;
		Oid			coll;
		Oid			fnoid;

		col->name = rc_str(c);
		tname = rc_str(c);
		col->enc = *rc_take(c, 1);
		att = get_attnum(relid, col->name);
		if (att == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("mailcluster: the snapshot has column \"%s\" of table \"%s\", which this node lacks",
							col->name, name),
					 errhint("Every node must run the same version of the mailcluster extension.")));
		get_atttypetypmodcoll(relid, att, &col->typ, &col->typmod, &coll);
		if (strcmp(tname, format_type_with_typemod(col->typ, col->typmod)) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("mailcluster: column \"%s\" of table \"%s\" has another type in the snapshot",
							col->name, name),
					 errdetail("Snapshot: %s; here: %s.", tname,
							   format_type_with_typemod(col->typ, col->typmod))));
		if (col->enc == ENC_BINARY)
			getTypeBinaryInputInfo(col->typ, &fnoid, &col->ioparam);
		else if (col->enc == ENC_TEXT)
			getTypeInputInfo(col->typ, &fnoid, &col->ioparam);
		else
			corrupt("unknown value encoding", c->kind);
		fmgr_info(fnoid, &col->fn);
		types[i] = col->typ;
	}
	if (!mc_snap_at_end(&c->cur))
		corrupt("a table header is longer than its columns", c->kind);
	if (ncols == 0)
		corrupt("a table without columns", c->kind);
	/* rows per statement: at most SNAP_BATCH_ROWS and 65,535 parameters */
	t->batch = Max(1, Min(SNAP_BATCH_ROWS, PG_UINT16_MAX / ncols));
	t->plan_many = l_prepare(t, types, t->batch);
	t->plan_one = t->batch > 1 ? l_prepare(t, types, 1) : t->plan_many;
	pfree(types);
	l->tables = lappend(l->tables, t);
	l->cur = t;
	l_batch_arrays(l);
}

/* Decode the bytes of one row of l->cur into the batch. */
static void
l_row(SnapLoader *l, uint8 *p, uint32 len, char kind)
{
	LoadTable  *t = l->cur;
	RecCursor	c;
	int			i;
	Datum	   *values;
	char	   *nulls;
	MemoryContext old;

	if (t == NULL)
		corrupt("a row before any table", kind);
	mc_snap_cursor_init(&c.cur, p, len);
	c.kind = kind;
	if (l->values == NULL)
		l_batch_arrays(l);
	values = l->values + l->nbatch * t->ncols;
	nulls = l->nulls + l->nbatch * t->ncols;
	old = MemoryContextSwitchTo(l->batchcxt);
	for (i = 0; i < t->ncols; i++)
	{
		LoadCol    *col = &t->cols[i];
		mc_snap_slice sl;
		bool		isnull;
		uint8	   *v;
		uint32		n;
		char		save;

		if (!mc_snap_value(&c.cur, &isnull, &sl))
			corrupt("a value is cut short or has a negative length", kind);
		if (isnull)
		{
			values[i] = (Datum) 0;
			nulls[i] = 'n';
			continue;
		}
		v = (uint8 *) sl.p;
		n = sl.len;

		/*
		 * Receive functions want a terminated buffer (as record_recv gives
		 * them): write a NUL after the value and put the byte back after.
		 * Every payload has a writable byte after it (see r_next_chunk).
		 */
		save = (char) v[n];
		v[n] = '\0';
		if (col->enc == ENC_BINARY)
		{
			StringInfoData si;

			si.data = (char *) v;
			si.len = n;
			si.maxlen = n + 1;
			si.cursor = 0;
			values[i] = ReceiveFunctionCall(&col->fn, &si, col->ioparam, col->typmod);
			if (si.cursor != si.len)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
						 errmsg("mailcluster: improper binary value in column \"%s\" of snapshot table \"%s\"",
								col->name, t->name)));
		}
		else
		{
			char	   *s = pnstrdup((char *) v, n);

			values[i] = InputFunctionCall(&col->fn, s, col->ioparam, col->typmod);
		}
		v[n] = save;
		nulls[i] = ' ';
	}
	MemoryContextSwitchTo(old);
	if (!mc_snap_at_end(&c.cur))
		corrupt("a row is longer than its columns", kind);
	l->nbatch++;
	l->rows++;
	l->batch_bytes += len;
	if (l->nbatch >= t->batch || l->batch_bytes >= SNAP_BATCH_BYTES)
		l_flush(l);
}

/* Apply one record of the stream. */
static void
l_record(SnapLoader *l, RecCursor *c, uint64 index)
{
	if (l->ended)
		corrupt("records after the end record", c->kind);
	if (!l->started && c->kind != 'S')
		corrupt("the stream does not begin with a start record", c->kind);
	switch (c->kind)
	{
		case 'S':
			{
				uint32		format;
				uint64		idx;

				if (l->started)
					corrupt("a second start record", c->kind);
				format = rc_u32(c);
				idx = rc_u64(c);
				if (format != SNAP_FORMAT)
					ereport(ERROR,
							(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
							 errmsg("mailcluster: the snapshot has format %u, this node reads format %d",
									format, SNAP_FORMAT),
							 errhint("Every node must run the same version of the mailcluster extension.")));
				if (idx != index)
					ereport(ERROR,
							(errcode(ERRCODE_DATA_CORRUPTED),
							 errmsg("mailcluster: the snapshot being loaded is at index %llu, not %llu",
									(unsigned long long) idx, (unsigned long long) index)));
				l->started = true;
				break;
			}
		case 'T':
			l_table(l, c);
			break;
		case 'P':
			if (l->cur == NULL)
				corrupt("a row before any table", c->kind);
			appendBinaryStringInfo(&l->bigrow, (const char *) c->cur.p, c->cur.len);
			break;
		case 'R':
			if (l->bigrow.len > 0)
			{
				appendBinaryStringInfo(&l->bigrow, (const char *) c->cur.p, c->cur.len);
				l_row(l, (uint8 *) l->bigrow.data, l->bigrow.len, c->kind);
				/* give the big buffer back rather than keep it for the rest */
				pfree(l->bigrow.data);
				initStringInfo(&l->bigrow);
				l_flush(l);
			}
			else
				l_row(l, (uint8 *) c->cur.p, c->cur.len, c->kind);
			break;
		case 'E':
			{
				uint32		ntables = rc_u32(c);
				uint64		nrows = rc_u64(c);

				if (l->bigrow.len > 0)
					corrupt("the stream ends inside a row", c->kind);
				l_flush(l);
				if (nrows != l->rows || ntables != (uint32) list_length(l->tables))
					ereport(ERROR,
							(errcode(ERRCODE_DATA_CORRUPTED),
							 errmsg("mailcluster: the snapshot being loaded is incomplete"),
							 errdetail("It announces %llu rows of %u tables; %llu rows of %d tables were read.",
									   (unsigned long long) nrows, ntables,
									   (unsigned long long) l->rows, list_length(l->tables))));
				l->ended = true;
				break;
			}
		default:
			corrupt("unknown record kind", c->kind);
	}
}

/* See snapshot_store.h. */
void
mc_snapshot_keep_received(const mc_raft_snapshot_meta *meta)
{
	Oid			types[1] = {INT8OID};
	Datum		args[1];
	uint64		size = 0;
	uint64		i,
				nchunks;

	/* offsets contiguous from 0 (octet_length reads no TOASTed bytes) */
	args[0] = Int64GetDatum((int64) meta->index);
	if (SPI_execute_plan(mc_spi_kept_plan(&plan_staged_offsets,
								   "SELECT off, octet_length(data) FROM mailcluster._raft_snap_chunk"
								   " WHERE staged AND idx = $1 ORDER BY off", 1, types),
						 args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "mailcluster: reading the staged snapshot's offsets failed");
	nchunks = SPI_processed;
	for (i = 0; i < nchunks; i++)
	{
		bool		isnull;
		int64		off = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		int32		len = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));

		if ((uint64) off != size)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("mailcluster: the staged snapshot %llu has a gap",
							(unsigned long long) meta->index),
					 errdetail("Expected a chunk at offset %llu, found one at %lld.",
							   (unsigned long long) size, (long long) off)));
		size += (uint64) len;
	}
	SPI_freetuptable(SPI_tuptable);
	if (nchunks == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("mailcluster: the snapshot %llu to install has no staged chunk",
						(unsigned long long) meta->index)));

	/*
	 * Keep it: drop the kept snapshots (rows a concurrent take holds are
	 * left to it), then turn the staged rows into kept ones -- an UPDATE
	 * of the flag, the TOASTed chunk bytes stay where they are.
	 */
	mc_snapshot_drop_kept(Int64GetDatum(PG_INT64_MAX));
	if (SPI_execute_plan(mc_spi_kept_plan(&plan_keep_staged,
								   "UPDATE mailcluster._raft_snap_chunk SET staged = false"
								   " WHERE staged AND idx = $1", 1, types),
						 args, NULL, false, 0) != SPI_OK_UPDATE ||
		SPI_processed != nchunks)
		elog(ERROR, "mailcluster: keeping the received snapshot's chunks failed");
	/* staged rows of any other transfer */
	if (SPI_execute_plan(mc_spi_kept_plan(&plan_stage_clear,
								   "DELETE FROM mailcluster._raft_snap_chunk WHERE staged", 0, NULL),
						 NULL, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "mailcluster: clearing the snapshot staging area failed");
	/* its rows are counted when the apply worker loads it */
	mc_snapshot_put_head(meta->index, size, (int32) nchunks, 0, "installed");
}

/* See snapshot_store.h. */
bool
mc_snapshot_install_kept(uint64 index)
{
	Oid			types[2] = {INT8OID, INT8OID};
	Datum		args[2];
	MemoryContext cxt;
	MemoryContext old;
	SnapLoader	l;
	SnapReader	r;
	RecCursor	c;
	int			nest;
	int			ret;
	bool		isnull;
	uint64		i;
	ListCell   *lc;

	/* the apply worker's batches check applied_index before they commit */
	if (SPI_execute_plan(mc_spi_kept_plan(&plan_lock_applied,
								   "SELECT applied_index FROM mailcluster._raft_applied FOR UPDATE", 0, NULL),
						 NULL, NULL, false, 0) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "mailcluster: locking applied_index failed");
	if ((uint64) DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
											 &isnull)) >= index)
		return true;			/* loaded already */
	args[0] = Int64GetDatum((int64) index);
	if (SPI_execute_plan(mc_spi_kept_plan(&plan_kept_exists,
								   "SELECT 1 FROM mailcluster._raft_snap_chunk"
								   " WHERE NOT staged AND idx = $1 AND off = 0", 1, types),
						 args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "mailcluster: looking for the kept snapshot failed");
	if (SPI_processed == 0)
		return false;			/* replaced by a newer one meanwhile */

	cxt = AllocSetContextCreate(CurrentMemoryContext, "mailcluster snapshot install",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	/* the accounts are replaced: the published session state goes with them */
	mc_session_state_forget_at_commit();

	/* the write guard and foreign keys (triggers) are off meanwhile */
	nest = NewGUCNestLevel();
	(void) set_config_option("session_replication_role", "replica", PGC_SUSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);

	memset(&l, 0, sizeof(l));
	ret = SPI_execute_plan(mc_spi_kept_plan(&plan_tables,
									 "SELECT t::text FROM mailcluster._replicated_tables() t", 0, NULL),
						   NULL, NULL, false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "mailcluster: listing the replicated tables failed");
	for (i = 0; i < SPI_processed; i++)
		l.local = lappend(l.local, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
	SPI_freetuptable(SPI_tuptable);
	/* DELETE, not TRUNCATE: readers of the old state keep their snapshot */
	foreach(lc, l.local)
	{
		char	   *sql = psprintf("DELETE FROM mailcluster.%s", quote_identifier(lfirst(lc)));

		if (SPI_execute(sql, false, 0) != SPI_OK_DELETE)
			elog(ERROR, "mailcluster: emptying %s for a snapshot failed", (char *) lfirst(lc));
		pfree(sql);
	}

	l.batchcxt = AllocSetContextCreate(cxt, "mailcluster snapshot batch", ALLOCSET_DEFAULT_SIZES);
	initStringInfo(&l.bigrow);
	memset(&r, 0, sizeof(r));
	r.chunkcxt = AllocSetContextCreate(cxt, "mailcluster snapshot chunk", ALLOCSET_DEFAULT_SIZES);
	initStringInfo(&r.spill);
	r.portal = SPI_cursor_open_with_args(NULL,
										 "SELECT off, data FROM mailcluster._raft_snap_chunk"
										 " WHERE NOT staged AND idx = $1 ORDER BY off",
										 1, types, args, NULL, false, CURSOR_OPT_NO_SCROLL);
	if (r.portal == NULL)
		elog(ERROR, "mailcluster: opening the kept snapshot failed");
	while (r_record(&r, &c))
	{
		l_record(&l, &c, index);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(r.portal);
	if (!l.ended)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("mailcluster: the received snapshot %llu is incomplete",
						(unsigned long long) index),
				 errdetail("%d chunks, %llu bytes, no end record.", r.nchunks,
						   (unsigned long long) r.next_off)));

	if (SPI_execute_plan(mc_spi_kept_plan(&plan_set_applied,
								   "UPDATE mailcluster._raft_applied SET applied_index = $1", 1, types),
						 args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "mailcluster: setting applied_index failed");
	AtEOXact_GUC(true, nest);
	/* the kept header's row count (gone if a newer snapshot replaced it) */
	args[1] = Int64GetDatum((int64) l.rows);
	if (SPI_execute_plan(mc_spi_kept_plan(&plan_count_rows,
								   "UPDATE mailcluster._raft_snapshot SET nrows = $2 WHERE idx = $1",
								   2, types),
						 args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "mailcluster: storing the snapshot's row count failed");
	foreach(lc, l.tables)
	{
		LoadTable  *t = lfirst(lc);

		if (t->plan_one != t->plan_many)
			SPI_freeplan(t->plan_one);
		SPI_freeplan(t->plan_many);
	}
	ereport(DEBUG1,
			(errmsg("mailcluster: snapshot at index %llu loaded: %llu bytes in %d chunks, %llu rows",
					(unsigned long long) index, (unsigned long long) r.next_off, r.nchunks,
					(unsigned long long) l.rows)));
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	return true;
}
