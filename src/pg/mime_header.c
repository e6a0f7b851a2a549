/*
 * mime_header.c — mailcluster._header_parse(text, text): one raw header
 * value in one of the RFC 8621 §4.1.2 parsed forms (Raw, Text, Addresses,
 * GroupedAddresses, MessageIds, Date, URLs), for Email/get "header:" props.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "mime_util.h"

PG_FUNCTION_INFO_V1(mc_header_parse);

/* Append the <url> list of an RFC 2369 style header, or null. */
static void
json_urls(StringInfo buf, const char *raw)
{
	char	   *s = mime_header_text(raw);
	int			n = 0;

	appendStringInfoChar(buf, '[');
	for (char *p = s; *p; p++)
	{
		if (*p == '<')
		{
			char	   *e = strchr(p + 1, '>');

			if (!e)
				break;
			*e = '\0';
			if (n++)
				appendStringInfoChar(buf, ',');
			mime_json_str(buf, p + 1);
			p = e;
		}
	}
	appendStringInfoChar(buf, ']');
	if (n == 0)
	{
		buf->len -= 2;
		buf->data[buf->len] = '\0';
		appendStringInfoString(buf, "null");
	}
}

/*
 * _header_parse(raw text, form text) RETURNS jsonb
 * Contract: form is one of Raw, Text, Addresses, GroupedAddresses,
 * MessageIds, Date, URLs (the caller validates it; anything else raises
 * invalid_parameter_value; NULL, null_value_not_allowed).  NULL raw gives
 * JSON null.
 */
Datum
mc_header_parse(PG_FUNCTION_ARGS)
{
	char	   *raw;
	char	   *form;
	StringInfoData buf;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the header form must not be NULL"),
				 errhint("Use Raw, Text, Addresses, GroupedAddresses, MessageIds, Date or URLs.")));
	form = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (PG_ARGISNULL(0))
		PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum("null")));
	raw = text_to_cstring(PG_GETARG_TEXT_PP(0));
	mime_init();
	initStringInfo(&buf);
	if (strcmp(form, "Raw") == 0)
		mime_json_str(&buf, raw);
	else if (strcmp(form, "Text") == 0)
		mime_json_str(&buf, mime_header_text(raw));
	else if (strcmp(form, "Addresses") == 0 || strcmp(form, "GroupedAddresses") == 0)
	{
		InternetAddressList *l = internet_address_list_parse(NULL, raw);

		if (form[0] == 'A')
			mime_json_addresses(&buf, l);
		else
			mime_json_grouped(&buf, l);
		if (l)
			g_object_unref(l);
	}
	else if (strcmp(form, "MessageIds") == 0)
		mime_json_msgids(&buf, raw);
	else if (strcmp(form, "Date") == 0)
	{
		GDateTime  *dt = g_mime_utils_header_decode_date(raw);

		mime_json_date(&buf, dt);
		if (dt)
			g_date_time_unref(dt);
	}
	else if (strcmp(form, "URLs") == 0)
		json_urls(&buf, raw);
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown header form \"%s\"", form),
				 errhint("Use Raw, Text, Addresses, GroupedAddresses, MessageIds, Date or URLs.")));
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}

PG_FUNCTION_INFO_V1(mc_header_encode);

/*
 * _header_encode(value text, phrase bool) RETURNS text
 * Contract: returns value as an unstructured header value (phrase false)
 * or as a display-name phrase (true, quoted as needed), with RFC 2047
 * encoded-words where it is not plain ASCII (for Email/set drafts).
 */
Datum
mc_header_encode(PG_FUNCTION_ARGS)
{
	char	   *v = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *enc;
	text	   *res;

	mime_init();
	if (PG_GETARG_BOOL(1))
		enc = g_mime_utils_header_encode_phrase(NULL, v, "utf-8");
	else
		enc = g_mime_utils_header_encode_text(NULL, v, "utf-8");
	res = cstring_to_text(enc ? enc : v);
	if (enc)
		g_free(enc);
	PG_RETURN_TEXT_P(res);
}
