/*
 * mc_sql_roles.c — SQL entry points for cluster roles: has_role(text) and
 * the rows behind the mailcluster.roles view.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "mc_guc.h"
#include "mc_parse.h"
#include "mc_roles.h"
#include "mc_shmem.h"

PG_FUNCTION_INFO_V1(mc_sql_has_role);
PG_FUNCTION_INFO_V1(mc_sql_roles);


/* Does this node hold a role whose holder is `holder` (0 = nobody)? */
static bool
holds_locally(int holder)
{
	return holder != 0 && holder == mc_self_id();
}

#define KNOWN_ROLES_HINT "Known roles: purge.stores, purge.accounts, acme.renew, metrics.calculate, metrics.push."

/*
 * has_role(role) — true when this node holds the role now.  An unknown
 * role name (or NULL) is an error listing the known ones.
 */
Datum
mc_sql_has_role(PG_FUNCTION_ARGS)
{
	char	   *name;
	int			r;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("role must not be NULL"),
				 errhint("%s", KNOWN_ROLES_HINT)));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));

	mc_require_shmem();
	r = mc_role_index(name);
	if (r < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("unknown mailcluster role \"%s\"", name),
				 errhint("%s", KNOWN_ROLES_HINT)));
	PG_RETURN_BOOL(holds_locally(mc_role_holder(r)));
}

/* roles() — one row per role: role, configured, holder, is_local. */
Datum
mc_sql_roles(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	mc_require_shmem();
	InitMaterializedSRF(fcinfo, 0);

	for (int r = 0; r < MC_NUM_ROLES; r++)
	{
		uint16		ids[MC_MAX_ID_LIST];
		Datum		elems[MC_MAX_ID_LIST];
		int			n = mc_role_configured(r, ids, MC_MAX_ID_LIST);
		int			holder = mc_role_holder(r);
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		for (int i = 0; i < n; i++)
			elems[i] = Int32GetDatum(ids[i]);
		values[0] = CStringGetTextDatum(mc_role_names[r]);
		values[1] = PointerGetDatum(construct_array(elems, n, INT4OID, sizeof(int32), true, TYPALIGN_INT));
		if (holder == 0)
			nulls[2] = true;
		else
			values[2] = Int32GetDatum(holder);
		values[3] = BoolGetDatum(holds_locally(holder));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
