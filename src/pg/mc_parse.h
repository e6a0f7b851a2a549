/*
 * mc_parse.h — parsers for the list-valued settings (node id lists, seed
 * lists, IP literals).
 *
 * Plain C, no PostgreSQL calls: the GUC check hooks use these to validate a
 * value, and the workers use the same functions to read it, so what was
 * accepted is exactly what is used.  On failure each parser writes a
 * one-line reason into err (errlen bytes) and returns false/-1.
 */
#ifndef MC_PARSE_H
#define MC_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MC_HOST_MAX		64		/* host buffer incl. NUL, as the SWIM core's */
#define MC_MAX_SEEDS	64
#define MC_MAX_ID_LIST	64

typedef struct McSeed
{
	char		host[MC_HOST_MAX];
	int			port;			/* 0 = not given: use the default port */
} McSeed;

/* true if s is a literal IPv4 or IPv6 address (no brackets, no port). */
extern bool mc_is_ip_literal(const char *s);

/* true if s is the IPv4 or IPv6 wildcard address (0.0.0.0, ::). */
extern bool mc_is_wildcard_addr(const char *s);

/*
 * Parse "id,id,..." (blanks allowed around items; empty string = no ids).
 * Each id must be an integer 1..65535, no duplicates.  Returns the count
 * stored in out (at most max) or -1 with err filled.
 */
extern int	mc_parse_id_list(const char *s, uint16_t *out, int max,
							 char *err, size_t errlen);

/*
 * Parse a seed list "host[:port],..." where host is a name, an IPv4
 * literal, or an IPv6 literal in brackets ("[::1]:1180"); port 1..65535.
 * Returns the count stored in out (at most max) or -1 with err filled.
 */
extern int	mc_parse_seeds(const char *s, McSeed *out, int max,
						   char *err, size_t errlen);

/*
 * Parse a role map "role=id,id; role=id" (the mailcluster.roles setting):
 * entries separated by ';', each a role name from names[0..nnames) '='
 * an id list as mc_parse_id_list accepts.  For each role i, counts[i] ids
 * go to ids[i] (0 when the role is not mentioned).  False with err filled
 * on an unknown or repeated role, a missing '=', or a bad id list.
 */
extern bool mc_parse_roles_map(const char *s, const char *const *names, int nnames,
							   uint16_t ids[][MC_MAX_ID_LIST], int *counts,
							   char *err, size_t errlen);

#endif
