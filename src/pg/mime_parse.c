/*
 * mime_parse.c — mailcluster._parse_message(bytea, text): parses one
 * RFC 5322 message with GMime 3 into the JSON that an import/deliver
 * command carries in the log (headers, parsed addresses, message ids, sent
 * date, MIME body structure with partIds, textBody/htmlBody/attachments per
 * RFC 8621 §4.1.4, UTF-8 text of the body parts, preview).  Runs on the
 * proposing node only, so apply never parses mail.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "mime_util.h"

PG_FUNCTION_INFO_V1(mc_parse_message);

#define PREVIEW_CHARS 256
/* bodyValues stored in the log entry are cut here; Email/get re-reads the blob */
#define STORED_TEXT_MAX 65536

typedef struct PartList
{
	int		   *items;			/* node indexes */
	int			n;
	int			cap;
} PartList;

/* Append node index v to the list. */
static void
plist_push(PartList *l, int v)
{
	if (l->n == l->cap)
	{
		l->cap = l->cap ? l->cap * 2 : 8;
		l->items = l->items ? repalloc(l->items, sizeof(int) * l->cap)
			: palloc(sizeof(int) * l->cap);
	}
	l->items[l->n++] = v;
}

/* image/..., audio/..., video/... (RFC 8621 isInlineMediaType). */
static bool
is_inline_media(const char *type)
{
	return strncmp(type, "image/", 6) == 0 || strncmp(type, "audio/", 6) == 0 ||
		strncmp(type, "video/", 6) == 0;
}

/* Lower-case Content-Disposition value of a node, or NULL. */
static const char *
node_disposition(MimeNode *nd)
{
	GMimeContentDisposition *d = g_mime_object_get_content_disposition(nd->obj);

	return d ? g_mime_content_disposition_get_disposition(d) : NULL;
}

/* File name (RFC 2231/2047 decoded) of a node, or NULL. */
static const char *
node_name(MimeNode *nd)
{
	if (GMIME_IS_PART(nd->obj))
		return g_mime_part_get_filename(GMIME_PART(nd->obj));
	return NULL;
}

/*
 * RFC 8621 §4.1.4 parseStructure over the children of node `first`; text or
 * html may be NULL (the "null" lists of the RFC's algorithm).
 */
static void
parse_structure(MimeTree *t, int first, const char *mptype, bool in_alt,
				PartList *html, PartList *text, PartList *att)
{
	int			text_len = text ? text->n : -1;
	int			html_len = html ? html->n : -1;
	int			i = 0;

	for (int c = first; c >= 0; c = t->nodes[c].next_sibling, i++)
	{
		MimeNode   *nd = &t->nodes[c];
		const char *type = nd->type;
		const char *disp = node_disposition(nd);
		const char *name = node_name(nd);
		bool		is_multi = strncmp(type, "multipart/", 10) == 0;
		bool		is_inline;

		is_inline = !(disp && pg_strcasecmp(disp, "attachment") == 0) &&
			(strcmp(type, "text/plain") == 0 || strcmp(type, "text/html") == 0 ||
			 is_inline_media(type)) &&
			(i == 0 || (strcmp(mptype, "related") != 0 &&
						(is_inline_media(type) || name == NULL)));
		if (is_multi)
		{
			const char *sub = type + 10;

			parse_structure(t, nd->first_child, sub,
							in_alt || strcmp(sub, "alternative") == 0,
							html, text, att);
		}
		else if (is_inline)
		{
			if (strcmp(mptype, "alternative") == 0)
			{
				if (strcmp(type, "text/plain") == 0)
					plist_push(text, c);
				else if (strcmp(type, "text/html") == 0)
					plist_push(html, c);
				else
					plist_push(att, c);
				continue;
			}
			else if (in_alt)
			{
				if (strcmp(type, "text/plain") == 0)
					html = NULL;
				if (strcmp(type, "text/html") == 0)
					text = NULL;
			}
			if (text)
				plist_push(text, c);
			if (html)
				plist_push(html, c);
			if ((!text || !html) && is_inline_media(type))
				plist_push(att, c);
		}
		else
			plist_push(att, c);
	}
	if (strcmp(mptype, "alternative") == 0 && text && html)
	{
		if (text_len == text->n && html_len != html->n)
			for (int k = html_len; k < html->n; k++)
				plist_push(text, html->items[k]);
		if (html_len == html->n && text_len != text->n)
			for (int k = text_len; k < text->n; k++)
				plist_push(html, text->items[k]);
	}
}

/* Append the headers of hl to buf as {"name","value"} objects; n counts them. */
static void
json_header_items(StringInfo buf, GMimeHeaderList *hl, GMimeHeaderList *skip, int *n)
{
	int			cnt = hl ? g_mime_header_list_get_count(hl) : 0;

	for (int i = 0; i < cnt; i++)
	{
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
		const char *name = g_mime_header_get_name(h);
		const char *raw = g_mime_header_get_raw_value(h);
		char	   *v;
		int			len;

		if (skip && g_mime_header_list_contains(skip, name))
			continue;
		/* RFC 8621 Raw form: up to but excluding the terminating CRLF */
		v = pstrdup(raw ? raw : "");
		len = strlen(v);
		while (len > 0 && (v[len - 1] == '\n' || v[len - 1] == '\r'))
			v[--len] = '\0';
		if ((*n)++)
			appendStringInfoChar(buf, ',');
		appendStringInfoString(buf, "{\"name\":");
		mime_json_str(buf, name);
		appendStringInfoString(buf, ",\"value\":");
		mime_json_str(buf, v);
		appendStringInfoChar(buf, '}');
		pfree(v);
	}
}

/*
 * Append the header list of obj as [{"name":..,"value":raw},...].  For the
 * message itself, the root part's MIME headers (which GMime keeps on the
 * part) follow the message's own.
 */
static void
json_headers(StringInfo buf, GMimeObject *obj)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(obj);
	int			n = 0;

	appendStringInfoChar(buf, '[');
	json_header_items(buf, hl, NULL, &n);
	if (GMIME_IS_MESSAGE(obj) && g_mime_message_get_mime_part(GMIME_MESSAGE(obj)))
		json_header_items(buf,
						  g_mime_object_get_header_list(g_mime_message_get_mime_part(GMIME_MESSAGE(obj))),
						  hl, &n);
	appendStringInfoChar(buf, ']');
}

/* Raw value of the first header called name on obj, or NULL. */
static const char *
raw_header(GMimeObject *obj, const char *name)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(obj);
	int			n = hl ? g_mime_header_list_get_count(hl) : 0;

	for (int i = 0; i < n; i++)
	{
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);

		if (pg_strcasecmp(g_mime_header_get_name(h), name) == 0)
			return g_mime_header_get_raw_value(h);
	}
	return NULL;
}

/* Append an address header of the message, parsed, or null. */
static void
json_addr_header(StringInfo buf, GMimeObject *obj, const char *name)
{
	const char *raw = raw_header(obj, name);
	InternetAddressList *l;

	if (raw == NULL)
	{
		appendStringInfoString(buf, "null");
		return;
	}
	l = internet_address_list_parse(NULL, raw);
	mime_json_addresses(buf, l);
	if (l)
		g_object_unref(l);
}

/* Append the JSON of node idx (and its sub-parts) for bodyStructure. */
static void
json_part(StringInfo buf, MimeTree *t, int idx, const char *blob_id)
{
	MimeNode   *nd = &t->nodes[idx];
	GMimeContentType *ct = g_mime_object_get_content_type(nd->obj);
	const char *cs = ct ? g_mime_content_type_get_parameter(ct, "charset") : NULL;
	const char *disp = node_disposition(nd);
	bool		multi = nd->first_child >= 0 || strncmp(nd->type, "multipart/", 10) == 0;

	appendStringInfoString(buf, "{\"partId\":");
	if (multi)
		appendStringInfoString(buf, "null,\"blobId\":null,\"size\":0");
	else
	{
		size_t		len;
		char	   *c = mime_node_content(nd, &len);

		pfree(c);
		appendStringInfo(buf, "\"%d\",\"blobId\":", nd->part_no);
		if (blob_id)
		{
			char		tmp[32];

			snprintf(tmp, sizeof(tmp), "_%d", nd->part_no);
			mime_json_str(buf, psprintf("%s%s", blob_id, tmp));
		}
		else
			appendStringInfoString(buf, "null");
		appendStringInfo(buf, ",\"size\":%zu", len);
	}
	appendStringInfoString(buf, ",\"headers\":");
	json_headers(buf, idx == 0 ? GMIME_OBJECT(t->msg) : nd->obj);
	appendStringInfoString(buf, ",\"name\":");
	mime_json_str(buf, node_name(nd));
	appendStringInfoString(buf, ",\"type\":");
	mime_json_str(buf, nd->type);
	appendStringInfoString(buf, ",\"charset\":");
	if (cs)
		mime_json_str(buf, cs);
	else if (strncmp(nd->type, "text/", 5) == 0)
		appendStringInfoString(buf, "\"us-ascii\"");
	else
		appendStringInfoString(buf, "null");
	appendStringInfoString(buf, ",\"disposition\":");
	if (disp)
	{
		char	   *d = pstrdup(disp);

		for (char *p = d; *p; p++)
			*p = tolower((unsigned char) *p);
		mime_json_str(buf, d);
	}
	else
		appendStringInfoString(buf, "null");
	appendStringInfoString(buf, ",\"cid\":");
	mime_json_str(buf, g_mime_object_get_content_id(nd->obj));
	appendStringInfoString(buf, ",\"language\":");
	{
		const char *lang = raw_header(nd->obj, "Content-Language");

		if (lang)
		{
			char	   *l = mime_header_text(lang);
			char	   *save;
			int			k = 0;

			appendStringInfoChar(buf, '[');
			for (char *tok = strtok_r(l, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save))
			{
				if (k++)
					appendStringInfoChar(buf, ',');
				mime_json_str(buf, tok);
			}
			appendStringInfoChar(buf, ']');
		}
		else
			appendStringInfoString(buf, "null");
	}
	appendStringInfoString(buf, ",\"location\":");
	mime_json_str(buf, GMIME_IS_PART(nd->obj) ?
				  g_mime_part_get_content_location(GMIME_PART(nd->obj)) : NULL);
	if (multi)
	{
		int			k = 0;

		appendStringInfoString(buf, ",\"subParts\":[");
		for (int c = nd->first_child; c >= 0; c = t->nodes[c].next_sibling)
		{
			if (k++)
				appendStringInfoChar(buf, ',');
			json_part(buf, t, c, blob_id);
		}
		appendStringInfoChar(buf, ']');
	}
	appendStringInfoChar(buf, '}');
}

/* Append ["1","2",...] of the partIds in l. */
static void
json_idlist(StringInfo buf, MimeTree *t, PartList *l)
{
	appendStringInfoChar(buf, '[');
	for (int i = 0; i < l->n; i++)
		appendStringInfo(buf, "%s\"%d\"", i ? "," : "", t->nodes[l->items[i]].part_no);
	appendStringInfoChar(buf, ']');
}

/*
 * Append s to out with tags stripped (html) and white space collapsed, for
 * the preview; stops once out holds limit bytes.
 */
static void
preview_append(StringInfo out, const char *s, bool html, int limit)
{
	bool		in_tag = false;
	bool		space = out->len > 0;

	for (const char *p = s; *p && out->len < limit; p++)
	{
		unsigned char ch = (unsigned char) *p;

		if (html && ch == '<')
		{
			in_tag = true;
			continue;
		}
		if (html && in_tag)
		{
			if (ch == '>')
			{
				in_tag = false;
				space = true;
			}
			continue;
		}
		if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
		{
			space = true;
			continue;
		}
		if (space && out->len > 0)
			appendStringInfoChar(out, ' ');
		space = false;
		appendStringInfoChar(out, (char) ch);
	}
}

/* Truncate s in place to at most n UTF-8 characters. */
static void
utf8_truncate(char *s, int n)
{
	int			chars = 0;

	for (char *p = s; *p; p++)
		if ((((unsigned char) *p) & 0xC0) != 0x80)
		{
			if (chars == n)
			{
				*p = '\0';
				return;
			}
			chars++;
		}
}

/*
 * _parse_message(message bytea, blob_id text) RETURNS jsonb
 * Contract: never fails on any input bytes; returns the parsed message as
 * JSON (keys as RFC 8621 Email properties: headers, messageId, inReplyTo,
 * references, subject, sentAt, from, sender, to, cc, bcc, replyTo,
 * bodyStructure, textBody/htmlBody/attachments as partId lists,
 * bodyValues {partId: {value, isEncodingProblem, isTruncated, and
 * storedTruncated when the value was cut at STORED_TEXT_MAX bytes}},
 * hasAttachment, preview, size).  Part blobIds are blob_id || '_' || partId (NULL blob_id: null).
 */
Datum
mc_parse_message(PG_FUNCTION_ARGS)
{
	bytea	   *raw;
	char	   *blob_id = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	MimeTree	t;
	StringInfoData buf;
	StringInfoData pv;
	PartList	text = {0},
				html = {0},
				att = {0};
	GMimeObject *mobj;
	const char *subj;
	bool		has_att = false;
	int			nvals = 0;
	Datum		res;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("mailcluster: the message to parse must not be NULL")));
	raw = PG_GETARG_BYTEA_PP(0);
	mime_tree_build(&t, VARDATA_ANY(raw), VARSIZE_ANY_EXHDR(raw));
	mobj = GMIME_OBJECT(t.msg);
	/* parseStructure([bodyStructure], "mixed", false, ...): node 0 has no siblings */
	parse_structure(&t, 0, "mixed", false, &html, &text, &att);

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"size\":%d,\"headers\":", (int) VARSIZE_ANY_EXHDR(raw));
	json_headers(&buf, mobj);
	appendStringInfoString(&buf, ",\"messageId\":");
	mime_json_msgids(&buf, raw_header(mobj, "Message-ID"));
	appendStringInfoString(&buf, ",\"inReplyTo\":");
	mime_json_msgids(&buf, raw_header(mobj, "In-Reply-To"));
	appendStringInfoString(&buf, ",\"references\":");
	mime_json_msgids(&buf, raw_header(mobj, "References"));
	appendStringInfoString(&buf, ",\"subject\":");
	subj = raw_header(mobj, "Subject");
	mime_json_str(&buf, subj ? mime_header_text(subj) : NULL);
	appendStringInfoString(&buf, ",\"sentAt\":");
	{
		const char *d = raw_header(mobj, "Date");
		GDateTime  *dt = d ? g_mime_utils_header_decode_date(d) : NULL;

		mime_json_date(&buf, dt);
		if (dt)
			g_date_time_unref(dt);
	}
	appendStringInfoString(&buf, ",\"from\":");
	json_addr_header(&buf, mobj, "From");
	appendStringInfoString(&buf, ",\"sender\":");
	json_addr_header(&buf, mobj, "Sender");
	appendStringInfoString(&buf, ",\"to\":");
	json_addr_header(&buf, mobj, "To");
	appendStringInfoString(&buf, ",\"cc\":");
	json_addr_header(&buf, mobj, "Cc");
	appendStringInfoString(&buf, ",\"bcc\":");
	json_addr_header(&buf, mobj, "Bcc");
	appendStringInfoString(&buf, ",\"replyTo\":");
	json_addr_header(&buf, mobj, "Reply-To");
	appendStringInfoString(&buf, ",\"bodyStructure\":");
	json_part(&buf, &t, 0, blob_id);
	appendStringInfoString(&buf, ",\"textBody\":");
	json_idlist(&buf, &t, &text);
	appendStringInfoString(&buf, ",\"htmlBody\":");
	json_idlist(&buf, &t, &html);
	appendStringInfoString(&buf, ",\"attachments\":");
	json_idlist(&buf, &t, &att);

	/* an attachment is anything but an inline image referenced by cid */
	for (int i = 0; i < att.n; i++)
	{
		MimeNode   *nd = &t.nodes[att.items[i]];
		const char *disp = node_disposition(nd);

		if (!(is_inline_media(nd->type) && g_mime_object_get_content_id(nd->obj) &&
			  !(disp && pg_strcasecmp(disp, "attachment") == 0)))
			has_att = true;
	}
	appendStringInfo(&buf, ",\"hasAttachment\":%s", has_att ? "true" : "false");

	/* bodyValues for every text leaf, preview from textBody */
	initStringInfo(&pv);
	appendStringInfoString(&buf, ",\"bodyValues\":{");
	for (int i = 0; i < t.n; i++)
	{
		MimeNode   *nd = &t.nodes[i];
		bool		problem;
		bool		cut;
		char	   *txt;

		if (nd->part_no == 0 || strncmp(nd->type, "text/", 5) != 0)
			continue;
		txt = mime_node_text(nd, &problem);
		for (int k = 0; k < text.n; k++)
			if (text.items[k] == i && pv.len < PREVIEW_CHARS * 4)
				preview_append(&pv, txt, strcmp(nd->type, "text/html") == 0, PREVIEW_CHARS * 4);
		cut = strlen(txt) > STORED_TEXT_MAX;
		if (cut)
		{
			size_t		n = STORED_TEXT_MAX;

			while (n > 0 && (((unsigned char) txt[n]) & 0xC0) == 0x80)
				n--;
			txt[n] = '\0';
		}
		appendStringInfo(&buf, "%s\"%d\":{\"value\":", nvals++ ? "," : "", nd->part_no);
		mime_json_str(&buf, txt);
		appendStringInfo(&buf, ",\"isEncodingProblem\":%s,\"isTruncated\":false%s}",
						 problem ? "true" : "false", cut ? ",\"storedTruncated\":true" : "");
	}
	appendStringInfoString(&buf, "},\"preview\":");
	utf8_truncate(pv.data, PREVIEW_CHARS);
	mime_json_str(&buf, pv.data);
	appendStringInfoChar(&buf, '}');

	mime_tree_free(&t);
	res = DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data));
	PG_RETURN_DATUM(res);
}
