/*
 * jmap_request.h — request-level checks of jmap() shared with the C method
 * call driver (jmap_request.c).
 */
#ifndef MC_JMAP_REQUEST_H
#define MC_JMAP_REQUEST_H

#include "postgres.h"

#include "utils/jsonb.h"

/*
 * Does a method call's arguments object have a "#name" key (a
 * ResultReference, RFC 8620 §3.7)?  False for a non-object.
 */
extern bool mc_jmap_args_have_backrefs(Jsonb *args);

#endif
