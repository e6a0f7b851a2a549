/*
 * fn_table_cache.h — a per-process cache of a dispatch table: rows of
 * (name, function) read from one of the extension's static tables
 * (mailcluster._ops, mailcluster._jmap_methods), kept as name -> function
 * ready to call through fmgr, plus whatever other columns the user keeps.
 * Dropped on any pg_proc change (ALTER EXTENSION UPDATE, DROP / CREATE
 * EXTENSION) and read again at the next lookup.
 */
#ifndef MC_FN_TABLE_CACHE_H
#define MC_FN_TABLE_CACHE_H

#include "postgres.h"

#include "access/htup.h"
#include "access/tupdesc.h"
#include "fmgr.h"
#include "utils/hsearch.h"

#define MC_FN_NAME_MAX 64

/* The head of every entry: the user's entry type begins with it. */
typedef struct McFnEntry
{
	char		name[MC_FN_NAME_MAX];	/* hash key */
	Oid			fn;
	FmgrInfo	flinfo;
} McFnEntry;

typedef struct McFnTableCache
{
	/* set by the user */
	const char *label;			/* names the memory context and the hash */
	const char *sql;			/* SELECT name, fn oid (NULL: none), more columns */
	Size		entry_size;		/* sizeof the user's entry, >= sizeof(McFnEntry) */
	/*
	 * Should the row whose function is fn (InvalidOid when column 2 is
	 * NULL) be kept?  May raise an ERROR instead of answering false.
	 */
	bool		(*accept) (const char *name, Oid fn);
	/* fill the user's columns of a kept entry (NULL: none), in cxt */
	void		(*fill) (McFnEntry *entry, HeapTuple tup, TupleDesc desc, MemoryContext cxt);

	/* private */
	HTAB	   *hash;
	MemoryContext cxt;
	bool		registered;
} McFnTableCache;

/*
 * The entry of name, or NULL when the table has no such row (or accept
 * refused it, or the name is too long).  Reads the table through SPI
 * (connecting itself) when the cache is empty.
 */
extern McFnEntry *mc_fn_table_lookup(McFnTableCache *c, const char *name);

#endif
