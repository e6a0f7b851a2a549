/*
 * jmap_json.h — JMAP keyword helpers shared by the C parts of the JMAP
 * layer (jmap_json.c).
 */
#ifndef MC_JMAP_JSON_H
#define MC_JMAP_JSON_H

#include "utils/jsonb.h"

/*
 * Is s (len bytes) a JMAP keyword (RFC 8621 §4.1.1): 1-255 printable ASCII
 * characters (0x21-0x7e), none of ( ) { ] % * " \ ?
 */
extern bool mc_jmap_valid_keyword(const char *s, int len);

/* A palloc'd, NUL-terminated copy of keyword s (len bytes), ASCII lower-cased. */
extern char *mc_jmap_keyword_lower(const char *s, int len);

/*
 * A keywords value normalised: {keyword (lower case): true}.  NULL (SQL) or
 * JSON null -> {}; NULL when kw is not an object, a value is not true, or a
 * key is not a valid keyword.  Palloc'd in the current context.
 */
extern Jsonb *mc_jmap_keywords_normalize(Jsonb *kw);

/* The value of key in object o; NULL when o is NULL, not an object, or lacks it. */
extern JsonbValue *mc_jsonb_get(Jsonb *o, const char *key);

/* ->> of a value: its text (a string unquoted), NULL when v is NULL or JSON null. */
extern char *mc_jsonb_text(JsonbValue *v);

/* A string JsonbValue pointing at s (not copied). */
extern JsonbValue mc_jsonb_string(const char *s);

/* Push key (a string, not copied) into the object being built. */
extern void mc_jsonb_push_key(JsonbParseState **st, const char *key);

#endif
