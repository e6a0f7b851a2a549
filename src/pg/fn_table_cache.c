/*
 * fn_table_cache.c — per-process cache of a dispatch table (name ->
 * function, ready to call), shared by the state machine's op dispatcher
 * (apply_dispatch.c, mailcluster._ops) and the JMAP method driver
 * (jmap_call.c, mailcluster._jmap_methods).  See fn_table_cache.h.
 */
#include "postgres.h"

#include "executor/spi.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "fn_table_cache.h"

/* Any pg_proc change drops the cache (arg: the McFnTableCache). */
static void
fn_table_invalidate(Datum arg, int cacheid, uint32 hashvalue)
{
	McFnTableCache *c = (McFnTableCache *) DatumGetPointer(arg);

	if (c->cxt != NULL)
		MemoryContextReset(c->cxt);
	c->hash = NULL;
}

/* Read the table into a new hash (SPI connected here). */
static void
fn_table_load(McFnTableCache *c)
{
	HASHCTL		ctl;
	int			ret;

	if (!c->registered)
	{
		CacheRegisterSyscacheCallback(PROCOID, fn_table_invalidate, PointerGetDatum(c));
		c->registered = true;
	}
	if (c->cxt == NULL)
	{
		c->cxt = AllocSetContextCreate(TopMemoryContext, "mailcluster dispatch table",
									   ALLOCSET_SMALL_SIZES);
		MemoryContextSetIdentifier(c->cxt, c->label);
	}
	MemoryContextReset(c->cxt);
	c->hash = NULL;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "mailcluster: SPI_connect failed");
	ret = SPI_execute(c->sql, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "mailcluster: reading %s failed: %s", c->label, SPI_result_code_string(ret));

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = MC_FN_NAME_MAX;
	ctl.entrysize = c->entry_size;
	ctl.hcxt = c->cxt;
	c->hash = hash_create(c->label, 32, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *name = SPI_getvalue(tup, desc, 1);
		bool		isnull;
		Datum		fn = SPI_getbinval(tup, desc, 2, &isnull);
		Oid			fnoid = isnull ? InvalidOid : DatumGetObjectId(fn);
		McFnEntry  *e;

		if (name == NULL || strlen(name) >= MC_FN_NAME_MAX || !c->accept(name, fnoid))
			continue;
		e = hash_search(c->hash, name, HASH_ENTER, NULL);
		e->fn = fnoid;
		fmgr_info_cxt(fnoid, &e->flinfo, c->cxt);
		if (c->fill)
			c->fill(e, tup, desc, c->cxt);
	}
	SPI_finish();
}

/* See fn_table_cache.h. */
McFnEntry *
mc_fn_table_lookup(McFnTableCache *c, const char *name)
{
	if (strlen(name) >= MC_FN_NAME_MAX)
		return NULL;
	if (c->hash == NULL)
		fn_table_load(c);
	return hash_search(c->hash, name, HASH_FIND, NULL);
}
