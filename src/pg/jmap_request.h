/*
 * jmap_request.h — request-level checks of jmap() shared with the C method
 * call driver (jmap_request.c).
 */
#ifndef MC_JMAP_REQUEST_H
#define MC_JMAP_REQUEST_H

#include "postgres.h"

#include "utils/elog.h"
#include "utils/jsonb.h"

/* A JMAP method-level error (_jerr): type as message, description as detail. */
#define ERRCODE_MC_JMAP_ERROR MAKE_SQLSTATE('M','J','0','0','0')

/*
 * Does a method call's arguments object have a "#name" key (a
 * ResultReference, RFC 8620 §3.7)?  False for a non-object.
 */
extern bool mc_jmap_args_have_backrefs(Jsonb *args);

/*
 * NULL when request is a Request object jmap() can run, else its problem
 * object (notRequest, unknownCapability), as _jmap_request_problem.
 */
extern Jsonb *mc_jmap_problem_of(Jsonb *request);

/*
 * May jmap() skip its up-front read barrier for these method calls (all
 * Email/set or Mailbox/set without "create")?  As _jmap_write_only.
 */
extern bool mc_jmap_calls_write_only(Jsonb *calls);

/*
 * Run one method call as _jmap_call does (jmap_call.c): its response
 * {"name", "args", "createdIds"?}, or an error response; never raises for
 * method-level errors.  NULL when the handler returned NULL.
 */
extern Jsonb *mc_jmap_run_call(const char *method, Jsonb *args, Jsonb *ctx, Jsonb *responses);

/* Is method one that writes (_jmap_methods.writes)? (jmap_call.c) */
extern bool mc_jmap_method_writes(const char *method);

/*
 * Run fn(arg) in an internal subtransaction: NULL when it returned, else
 * the error it raised (copied into the caller's context; the subtransaction
 * rolled back), as a PL/pgSQL exception block with WHEN OTHERS.  Query
 * cancels and assertion failures are re-raised, as PL/pgSQL does.
 * (jmap_call.c)
 */
extern ErrorData *mc_jmap_try(void (*fn) (void *arg), void *arg);

#endif
