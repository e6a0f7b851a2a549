/*
 * mime_util.c — shared helpers of the GMime-based mail parser: GMime
 * start-up, the depth-first MIME tree walk that assigns JMAP partIds,
 * decoded part content, and the JSON writers (see mime_util.h).
 */
#include "postgres.h"

#include <ctype.h>

#include "utils/json.h"

#include "mime_util.h"

static bool mime_started = false;

/* Start GMime once per backend. */
void
mime_init(void)
{
	if (!mime_started)
	{
		g_mime_init();
		mime_started = true;
	}
}

/* Append a node to the tree; returns its index. */
static int
tree_add(MimeTree *t, GMimeObject *obj, int parent)
{
	MimeNode   *nd;
	GMimeContentType *ct;
	char	   *mt;

	if (t->n == t->cap)
	{
		t->cap = t->cap ? t->cap * 2 : 16;
		t->nodes = t->nodes ? repalloc(t->nodes, sizeof(MimeNode) * t->cap)
			: palloc(sizeof(MimeNode) * t->cap);
	}
	nd = &t->nodes[t->n];
	nd->obj = obj;
	nd->parent = parent;
	nd->first_child = -1;
	nd->next_sibling = -1;
	nd->part_no = 0;
	ct = g_mime_object_get_content_type(obj);
	mt = ct ? g_mime_content_type_get_mime_type(ct) : NULL;
	nd->type = mt ? pstrdup(mt) : pstrdup("text/plain");
	for (char *p = nd->type; *p; p++)
		*p = tolower((unsigned char) *p);
	if (mt)
		g_free(mt);
	return t->n++;
}

/* Depth-first walk below obj; leaf parts are numbered 1, 2, ... */
static int
tree_walk(MimeTree *t, GMimeObject *obj, int parent, int *counter, int depth)
{
	int			me = tree_add(t, obj, parent);

	if (GMIME_IS_MULTIPART(obj) && depth < 64)
	{
		GMimeMultipart *mp = GMIME_MULTIPART(obj);
		int			count = g_mime_multipart_get_count(mp);
		int			prev = -1;

		for (int i = 0; i < count; i++)
		{
			int			c = tree_walk(t, g_mime_multipart_get_part(mp, i), me,
									  counter, depth + 1);

			if (prev < 0)
				t->nodes[me].first_child = c;
			else
				t->nodes[prev].next_sibling = c;
			prev = c;
		}
	}
	else
		t->nodes[me].part_no = ++(*counter);
	return me;
}

/* Parse bytes into a MimeTree (see mime_util.h). */
void
mime_tree_build(MimeTree *t, const char *data, size_t len)
{
	GMimeStream *stream;
	GMimeParser *parser;
	int			counter = 0;

	mime_init();
	memset(t, 0, sizeof(*t));
	stream = g_mime_stream_mem_new_with_buffer(data, len);
	parser = g_mime_parser_new_with_stream(stream);
	t->msg = g_mime_parser_construct_message(parser, NULL);
	g_object_unref(parser);
	g_object_unref(stream);
	if (t->msg == NULL)
	{
		/* not even a header block: treat everything as a text body */
		GMimeStream *s2 = g_mime_stream_mem_new_with_buffer("\n", 1);
		GMimeParser *p2 = g_mime_parser_new_with_stream(s2);

		t->msg = g_mime_parser_construct_message(p2, NULL);
		g_object_unref(p2);
		g_object_unref(s2);
		if (t->msg == NULL)
			t->msg = g_mime_message_new(TRUE);
	}
	if (g_mime_message_get_mime_part(t->msg) == NULL)
	{
		GMimeTextPart *tp = g_mime_text_part_new_with_subtype("plain");

		g_mime_message_set_mime_part(t->msg, GMIME_OBJECT(tp));
		g_object_unref(tp);
	}
	tree_walk(t, g_mime_message_get_mime_part(t->msg), -1, &counter, 0);
}

/* Release the GMime message of a tree (the nodes are palloc'd). */
void
mime_tree_free(MimeTree *t)
{
	if (t->msg)
		g_object_unref(t->msg);
	t->msg = NULL;
}

/* Decoded content of a leaf (see mime_util.h). */
char *
mime_node_content(MimeNode *node, size_t *len)
{
	GMimeStream *out = g_mime_stream_mem_new();
	GByteArray *ba;
	char	   *res;

	if (GMIME_IS_PART(node->obj))
	{
		GMimeDataWrapper *w = g_mime_part_get_content(GMIME_PART(node->obj));

		if (w)
			g_mime_data_wrapper_write_to_stream(w, out);
	}
	else if (GMIME_IS_MESSAGE_PART(node->obj))
	{
		GMimeMessage *m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(node->obj));

		if (m)
			g_mime_object_write_to_stream(GMIME_OBJECT(m), NULL, out);
	}
	ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out));
	*len = ba->len;
	res = palloc(ba->len + 1);
	memcpy(res, ba->data, ba->len);
	res[ba->len] = '\0';
	g_object_unref(out);
	return res;
}

/* UTF-8 text of a text leaf (see mime_util.h). */
char *
mime_node_text(MimeNode *nd, bool *problem)
{
	size_t		len;
	char	   *raw = mime_node_content(nd, &len);
	GMimeContentType *ct = g_mime_object_get_content_type(nd->obj);
	const char *cs = ct ? g_mime_content_type_get_parameter(ct, "charset") : NULL;
	char	   *res = NULL;

	*problem = false;
	if (cs && pg_strcasecmp(cs, "utf-8") != 0 && pg_strcasecmp(cs, "us-ascii") != 0)
	{
		const char *iname = g_mime_charset_iconv_name(cs);
		gsize		outlen = 0;
		GError	   *err = NULL;
		gchar	   *conv = g_convert(raw, len, "UTF-8", iname, NULL, &outlen, &err);

		if (conv)
		{
			res = mime_utf8_clean(conv, outlen, problem);
			g_free(conv);
		}
		else
		{
			*problem = true;
			g_error_free(err);
		}
	}
	if (res == NULL)
	{
		bool		bad = false;

		res = mime_utf8_clean(raw, len, &bad);
		*problem = *problem || bad;
	}
	pfree(raw);
	return res;
}

/* Valid UTF-8 without NULs (see mime_util.h). */
char *
mime_utf8_clean(const char *s, size_t len, bool *bad)
{
	StringInfoData b;
	const char *end = s + len;
	const char *p = s;

	initStringInfo(&b);
	while (p < end)
	{
		const gchar *stop;
		gssize		chunk = end - p;

		if (g_utf8_validate(p, chunk, &stop))
		{
			appendBinaryStringInfo(&b, p, chunk);
			break;
		}
		appendBinaryStringInfo(&b, p, stop - p);
		p = stop;
		/* one bad byte (or an embedded NUL) */
		appendStringInfoString(&b, "\xEF\xBF\xBD");
		if (bad)
			*bad = true;
		p++;
	}
	return b.data;
}

/* Append a JSON string or null. */
void
mime_json_str(StringInfo buf, const char *s)
{
	char	   *c;

	if (s == NULL)
	{
		appendStringInfoString(buf, "null");
		return;
	}
	c = mime_utf8_clean(s, strlen(s), NULL);
	escape_json(buf, c);
	pfree(c);
}

/* Append one mailbox address object. */
static void
json_mailbox(StringInfo buf, InternetAddress *ia)
{
	const char *name = internet_address_get_name(ia);

	appendStringInfoString(buf, "{\"name\":");
	mime_json_str(buf, (name && *name) ? name : NULL);
	appendStringInfoString(buf, ",\"email\":");
	mime_json_str(buf, internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia)));
	appendStringInfoChar(buf, '}');
}

/* Flatten list into buf; returns the number written. */
static int
json_flatten(StringInfo buf, InternetAddressList *list, int n, int depth)
{
	int			len = list ? internet_address_list_length(list) : 0;

	for (int i = 0; i < len; i++)
	{
		InternetAddress *ia = internet_address_list_get_address(list, i);

		if (INTERNET_ADDRESS_IS_MAILBOX(ia))
		{
			if (n++)
				appendStringInfoChar(buf, ',');
			json_mailbox(buf, ia);
		}
		else if (INTERNET_ADDRESS_IS_GROUP(ia) && depth < 8)
			n = json_flatten(buf, internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia)),
							 n, depth + 1);
	}
	return n;
}

/* Addresses, groups flattened (see mime_util.h). */
void
mime_json_addresses(StringInfo buf, InternetAddressList *list)
{
	if (list == NULL || internet_address_list_length(list) == 0)
	{
		appendStringInfoString(buf, "null");
		return;
	}
	appendStringInfoChar(buf, '[');
	json_flatten(buf, list, 0, 0);
	appendStringInfoChar(buf, ']');
}

/* GroupedAddresses: groups, and runs of plain addresses under name null. */
void
mime_json_grouped(StringInfo buf, InternetAddressList *list)
{
	int			len = list ? internet_address_list_length(list) : 0;
	int			n = 0;
	bool		open_null = false;

	if (len == 0)
	{
		appendStringInfoString(buf, "null");
		return;
	}
	appendStringInfoChar(buf, '[');
	for (int i = 0; i < len; i++)
	{
		InternetAddress *ia = internet_address_list_get_address(list, i);

		if (INTERNET_ADDRESS_IS_GROUP(ia))
		{
			const char *name = internet_address_get_name(ia);

			if (open_null)
				appendStringInfoString(buf, "]}");
			open_null = false;
			if (n++)
				appendStringInfoChar(buf, ',');
			appendStringInfoString(buf, "{\"name\":");
			mime_json_str(buf, name);
			appendStringInfoString(buf, ",\"addresses\":[");
			json_flatten(buf, internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia)), 0, 1);
			appendStringInfoString(buf, "]}");
		}
		else
		{
			if (!open_null)
			{
				if (n++)
					appendStringInfoChar(buf, ',');
				appendStringInfoString(buf, "{\"name\":null,\"addresses\":[");
				open_null = true;
			}
			else
				appendStringInfoChar(buf, ',');
			json_mailbox(buf, ia);
		}
	}
	if (open_null)
		appendStringInfoString(buf, "]}");
	appendStringInfoChar(buf, ']');
}

/* Message ids of a header value, without angle brackets, or null. */
void
mime_json_msgids(StringInfo buf, const char *value)
{
	GMimeReferences *refs;
	int			len;

	if (value == NULL)
	{
		appendStringInfoString(buf, "null");
		return;
	}
	refs = g_mime_references_parse(NULL, value);
	len = refs ? g_mime_references_length(refs) : 0;
	if (len == 0)
		appendStringInfoString(buf, "null");
	else
	{
		appendStringInfoChar(buf, '[');
		for (int i = 0; i < len; i++)
		{
			if (i)
				appendStringInfoChar(buf, ',');
			mime_json_str(buf, g_mime_references_get_message_id(refs, i));
		}
		appendStringInfoChar(buf, ']');
	}
	if (refs)
		g_mime_references_free(refs);
}

/* RFC 3339 date with the original offset, or null. */
void
mime_json_date(StringInfo buf, GDateTime *dt)
{
	gchar	   *s;

	if (dt == NULL)
	{
		appendStringInfoString(buf, "null");
		return;
	}
	s = g_date_time_format(dt, "%Y-%m-%dT%H:%M:%S%:z");
	mime_json_str(buf, s);
	g_free(s);
}

/* Text form of a raw header value (see mime_util.h). */
char *
mime_header_text(const char *raw)
{
	StringInfoData b;
	char	   *dec;
	char	   *res;
	int			s,
				e;

	if (raw == NULL)
		return NULL;
	initStringInfo(&b);
	for (const char *p = raw; *p; p++)
		if (*p != '\r' && *p != '\n')
			appendStringInfoChar(&b, *p);
	dec = g_mime_utils_header_decode_text(NULL, b.data);
	res = mime_utf8_clean(dec, strlen(dec), NULL);
	g_free(dec);
	pfree(b.data);
	for (s = 0; res[s] == ' ' || res[s] == '\t'; s++);
	for (e = strlen(res); e > s && (res[e - 1] == ' ' || res[e - 1] == '\t'); e--);
	res[e] = '\0';
	return pstrdup(res + s);
}
