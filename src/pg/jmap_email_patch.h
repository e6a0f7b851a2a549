/*
 * jmap_email_patch.h — the update of one email by Email/set on the apply
 * path, and the small JMAP helpers it shares (jmap_email_patch.c).
 */
#ifndef MC_JMAP_EMAIL_PATCH_H
#define MC_JMAP_EMAIL_PATCH_H

#include "postgres.h"

#include "utils/jsonb.h"

/*
 * Apply an Email/set update patch to email eid of account at the index
 * being applied (as _email_patch): NULL on success, else the SetError,
 * having written nothing.  SPI must be connected; the result is allocated
 * in the current (SPI) memory context.
 */
extern Jsonb *mc_jmap_email_patch_apply(Datum account, Datum eid, Jsonb *patch, Jsonb *cids);

/*
 * An id of a request (len bytes): "#creationId" resolved through cids (NULL
 * when unknown), any other id as it is; palloc'd.
 */
extern char *mc_jmap_resolve_id(const char *id, int len, Jsonb *cids);

/* A SetError {type, description?, properties?} (as _seterr). */
extern Jsonb *mc_jmap_set_error(const char *type, const char *description,
								char **props, int n_props);

#endif
