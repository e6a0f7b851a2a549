/*
 * mc_parse.c — parsers for list-valued settings: node id lists, seed lists,
 * IP literals.  No PostgreSQL calls (see mc_parse.h).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mc_parse.h"

/* Copy [b, e) trimmed of blanks into dst (cap bytes); false if too long. */
static bool
trim_copy(const char *b, const char *e, char *dst, size_t cap)
{
	size_t		n;

	while (b < e && isspace((unsigned char) *b))
		b++;
	while (e > b && isspace((unsigned char) e[-1]))
		e--;
	n = (size_t) (e - b);
	if (n >= cap)
		return false;
	memcpy(dst, b, n);
	dst[n] = '\0';
	return true;
}

/* True if the whole string is blank (or empty). */
static bool
all_blank(const char *s)
{
	for (; *s; s++)
		if (!isspace((unsigned char) *s))
			return false;
	return true;
}

/*
 * mc_is_ip_literal — true for a literal IPv4 or IPv6 address.
 * Uses inet_pton so "1.2.3" or "localhost" are refused.
 */
bool
mc_is_ip_literal(const char *s)
{
	unsigned char buf[16];

	if (s == NULL || *s == '\0')
		return false;
	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/*
 * mc_is_wildcard_addr — true for 0.0.0.0 or :: (any spelling inet_pton
 * accepts).
 */
bool
mc_is_wildcard_addr(const char *s)
{
	unsigned char buf[16];
	static const unsigned char zero[16];

	if (s == NULL)
		return false;
	if (inet_pton(AF_INET, s, buf) == 1)
		return memcmp(buf, zero, 4) == 0;
	if (inet_pton(AF_INET6, s, buf) == 1)
		return memcmp(buf, zero, 16) == 0;
	return false;
}

/* Parse a decimal integer in [lo, hi] from the whole of s; -1 if not. */
static long
parse_bounded(const char *s, long lo, long hi)
{
	char	   *end;
	long		v;

	if (*s == '\0' || !isdigit((unsigned char) *s))
		return -1;
	v = strtol(s, &end, 10);
	if (*end != '\0' || v < lo || v > hi)
		return -1;
	return v;
}

/*
 * mc_parse_id_list — "1, 2,3" -> {1,2,3}.  Empty/blank string gives 0 ids.
 * Refuses empty items, non-numbers, ids outside 1..65535, duplicates and
 * more than max ids.
 */
int
mc_parse_id_list(const char *s, uint16_t *out, int max, char *err, size_t errlen)
{
	int			n = 0;
	const char *p = s;

	if (s == NULL || all_blank(s))
		return 0;
	for (;;)
	{
		const char *comma = strchr(p, ',');
		const char *e = comma ? comma : p + strlen(p);
		char		item[32];
		long		v;

		if (!trim_copy(p, e, item, sizeof(item)) || item[0] == '\0')
		{
			snprintf(err, errlen, "item %d is empty or too long", n + 1);
			return -1;
		}
		v = parse_bounded(item, 1, 65535);
		if (v < 0)
		{
			snprintf(err, errlen, "\"%s\" is not a node id between 1 and 65535", item);
			return -1;
		}
		for (int i = 0; i < n; i++)
			if (out[i] == (uint16_t) v)
			{
				snprintf(err, errlen, "node id %ld is listed twice", v);
				return -1;
			}
		if (n >= max)
		{
			snprintf(err, errlen, "more than %d node ids", max);
			return -1;
		}
		out[n++] = (uint16_t) v;
		if (!comma)
			break;
		p = comma + 1;
	}
	return n;
}

/* True if every char of a host name is a letter, digit, '-', '_' or '.'. */
static bool
valid_hostname(const char *h)
{
	if (*h == '\0' || *h == '.' || *h == '-')
		return false;
	for (; *h; h++)
		if (!isalnum((unsigned char) *h) && *h != '-' && *h != '.' && *h != '_')
			return false;
	return true;
}

/*
 * Parse one seed item ("host", "host:port", "[v6]", "[v6]:port") into sd.
 */
static bool
parse_one_seed(const char *item, McSeed *sd, char *err, size_t errlen)
{
	const char *portstr = NULL;
	size_t		hlen;

	sd->port = 0;
	if (item[0] == '[')
	{
		const char *close = strchr(item, ']');

		if (close == NULL)
		{
			snprintf(err, errlen, "\"%s\" has no closing ']'", item);
			return false;
		}
		hlen = (size_t) (close - item - 1);
		if (hlen >= MC_HOST_MAX)
			goto toolong;
		memcpy(sd->host, item + 1, hlen);
		sd->host[hlen] = '\0';
		if (close[1] == ':')
			portstr = close + 2;
		else if (close[1] != '\0')
		{
			snprintf(err, errlen, "\"%s\": expected ':port' after ']'", item);
			return false;
		}
		if (!mc_is_ip_literal(sd->host) || strchr(sd->host, ':') == NULL)
		{
			snprintf(err, errlen, "\"%s\" is not an IPv6 literal", sd->host);
			return false;
		}
	}
	else
	{
		const char *colon = strchr(item, ':');

		if (colon && strchr(colon + 1, ':'))
		{
			snprintf(err, errlen, "\"%s\": write IPv6 addresses in brackets, e.g. [::1]:1179", item);
			return false;
		}
		hlen = colon ? (size_t) (colon - item) : strlen(item);
		if (hlen >= MC_HOST_MAX)
			goto toolong;
		memcpy(sd->host, item, hlen);
		sd->host[hlen] = '\0';
		if (colon)
			portstr = colon + 1;
		if (!valid_hostname(sd->host))
		{
			snprintf(err, errlen, "\"%s\" is not a valid host name or address", sd->host);
			return false;
		}
	}
	if (portstr)
	{
		long		v = parse_bounded(portstr, 1, 65535);

		if (v < 0)
		{
			snprintf(err, errlen, "\"%s\": port must be between 1 and 65535", item);
			return false;
		}
		sd->port = (int) v;
	}
	return true;
toolong:
	snprintf(err, errlen, "host name in \"%.40s...\" is too long", item);
	return false;
}

/*
 * mc_parse_seeds — "a:1,b,[::1]:3" -> seeds.  Blank string gives 0 seeds.
 */
int
mc_parse_seeds(const char *s, McSeed *out, int max, char *err, size_t errlen)
{
	int			n = 0;
	const char *p = s;

	if (s == NULL || all_blank(s))
		return 0;
	for (;;)
	{
		const char *comma = strchr(p, ',');
		const char *e = comma ? comma : p + strlen(p);
		char		item[MC_HOST_MAX + 16];

		if (!trim_copy(p, e, item, sizeof(item)))
		{
			snprintf(err, errlen, "seed %d is too long", n + 1);
			return -1;
		}
		if (item[0] == '\0')
		{
			snprintf(err, errlen, "seed %d is empty", n + 1);
			return -1;
		}
		if (n >= max)
		{
			snprintf(err, errlen, "more than %d seeds", max);
			return -1;
		}
		if (!parse_one_seed(item, &out[n], err, errlen))
			return -1;
		n++;
		if (!comma)
			break;
		p = comma + 1;
	}
	return n;
}

/*
 * mc_parse_roles_map — see mc_parse.h.  Blank entries (e.g. a trailing
 * ';') are allowed.
 */
bool
mc_parse_roles_map(const char *s, const char *const *names, int nnames,
				   uint16_t ids[][MC_MAX_ID_LIST], int *counts,
				   char *err, size_t errlen)
{
	const char *p = s;
	bool		seen[64] = {false};

	for (int i = 0; i < nnames; i++)
		counts[i] = 0;
	if (s == NULL || all_blank(s))
		return true;
	for (;;)
	{
		const char *semi = strchr(p, ';');
		const char *e = semi ? semi : p + strlen(p);
		char		entry[512];
		char	   *eq;
		char		name[64];
		int			role = -1;
		char		suberr[200];

		if (!trim_copy(p, e, entry, sizeof(entry)))
		{
			snprintf(err, errlen, "an entry is too long");
			return false;
		}
		if (entry[0] != '\0')
		{
			eq = strchr(entry, '=');
			if (eq == NULL)
			{
				snprintf(err, errlen, "\"%s\" is not of the form role=id,id", entry);
				return false;
			}
			if (!trim_copy(entry, eq, name, sizeof(name)))
				name[0] = '\0';
			for (int i = 0; i < nnames && i < 64; i++)
				if (strcmp(name, names[i]) == 0)
					role = i;
			if (role < 0)
			{
				snprintf(err, errlen, "unknown role \"%s\"", name);
				return false;
			}
			if (seen[role])
			{
				snprintf(err, errlen, "role \"%s\" is listed twice", name);
				return false;
			}
			seen[role] = true;
			counts[role] = mc_parse_id_list(eq + 1, ids[role], MC_MAX_ID_LIST,
											suberr, sizeof(suberr));
			if (counts[role] < 0)
			{
				counts[role] = 0;
				snprintf(err, errlen, "role \"%s\": %s", name, suberr);
				return false;
			}
		}
		if (!semi)
			break;
		p = semi + 1;
	}
	return true;
}
