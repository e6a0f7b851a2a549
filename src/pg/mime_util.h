/*
 * mime_util.h — shared helpers of the GMime-based mail parser (mime_*.c):
 * library start-up, the walk that numbers the MIME parts of a message, and
 * the JSON writers (UTF-8 cleaning, addresses, message ids, dates) used by
 * _parse_message() and _header_parse().
 */
#ifndef MIME_UTIL_H
#define MIME_UTIL_H

#include "postgres.h"
#include "lib/stringinfo.h"

#include <gmime/gmime.h>

/* One node of a message's MIME tree, in depth-first order. */
typedef struct MimeNode
{
	GMimeObject *obj;			/* borrowed from the GMimeMessage */
	int			parent;			/* index of the parent node, -1 at the root */
	int			first_child;	/* -1 for leaves */
	int			next_sibling;	/* -1 for the last child */
	int			part_no;		/* JMAP partId number, 0 for multiparts */
	char	   *type;			/* lower-case "type/subtype", palloc'd */
} MimeNode;

typedef struct MimeTree
{
	GMimeMessage *msg;			/* owned: g_object_unref in mime_tree_free */
	MimeNode   *nodes;
	int			n;
	int			cap;
} MimeTree;

/* Start GMime once per backend (idempotent). */
extern void mime_init(void);

/*
 * Parse raw message bytes into a tree.  Never fails: GMime tolerates any
 * input; a message it cannot make sense of becomes one text/plain part.
 */
extern void mime_tree_build(MimeTree *t, const char *data, size_t len);
extern void mime_tree_free(MimeTree *t);

/*
 * Transfer-decoded content of a leaf node (an attached message/rfc822 is
 * re-serialised).  Returns a palloc'd buffer and its length in *len.
 */
extern char *mime_node_content(MimeNode *node, size_t *len);

/*
 * Decoded text of a text leaf converted to UTF-8 from its charset
 * (GMime's charset names, iconv).  An unknown charset or bytes invalid in it
 * set *problem and fall back to the bytes made valid UTF-8.  palloc'd.
 */
extern char *mime_node_text(MimeNode *node, bool *problem);

/*
 * Make arbitrary bytes valid UTF-8 text for PostgreSQL: invalid sequences
 * become U+FFFD and NUL bytes become U+FFFD.  *bad is set true when
 * anything had to be replaced (bad may be NULL).  Result palloc'd.
 */
extern char *mime_utf8_clean(const char *s, size_t len, bool *bad);

/* Append s as a JSON string (NULL appends null); s is cleaned first. */
extern void mime_json_str(StringInfo buf, const char *s);

/* Append [{"name":..,"email":..},...] (groups flattened) or null. */
extern void mime_json_addresses(StringInfo buf, InternetAddressList *list);

/* Append [{"name":..,"addresses":[...]},...] (RFC 8621 GroupedAddresses). */
extern void mime_json_grouped(StringInfo buf, InternetAddressList *list);

/* Append the message ids in a header value as ["id",...], or null. */
extern void mime_json_msgids(StringInfo buf, const char *value);

/* Append a date as RFC 3339 "YYYY-MM-DDTHH:MM:SS+hh:mm" or null. */
extern void mime_json_date(StringInfo buf, GDateTime *dt);

/* Unfold, RFC 2047-decode and trim a raw header value; palloc'd. */
extern char *mime_header_text(const char *raw);

#endif							/* MIME_UTIL_H */
