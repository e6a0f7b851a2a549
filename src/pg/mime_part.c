/*
 * mime_part.c — mailcluster._message_part(bytea, int): the decoded bytes of
 * one leaf MIME part of a message, addressed by its JMAP partId number as
 * numbered by _parse_message().  Serves blob_download of part blobIds
 * ("B<sha256>_<partId>") without storing parts separately; and
 * _message_text(bytea, int), the full UTF-8 text of a text part.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "mime_util.h"

PG_FUNCTION_INFO_V1(mc_message_part);

/*
 * _message_part(message bytea, part_no int) RETURNS bytea
 * Contract: returns the transfer-decoded content of leaf part part_no, or
 * NULL when the message has no such part.  Never fails on any bytes.
 */
Datum
mc_message_part(PG_FUNCTION_ARGS)
{
	bytea	   *raw = PG_GETARG_BYTEA_PP(0);
	int32		part_no = PG_GETARG_INT32(1);
	MimeTree	t;
	bytea	   *res = NULL;

	mime_tree_build(&t, VARDATA_ANY(raw), VARSIZE_ANY_EXHDR(raw));
	for (int i = 0; i < t.n; i++)
	{
		if (t.nodes[i].part_no == part_no && part_no > 0)
		{
			size_t		len;
			char	   *c = mime_node_content(&t.nodes[i], &len);

			res = (bytea *) palloc(len + VARHDRSZ);
			SET_VARSIZE(res, len + VARHDRSZ);
			memcpy(VARDATA(res), c, len);
			pfree(c);
			break;
		}
	}
	mime_tree_free(&t);
	if (res == NULL)
		PG_RETURN_NULL();
	PG_RETURN_BYTEA_P(res);
}

PG_FUNCTION_INFO_V1(mc_message_text);

/*
 * _message_text(message bytea, part_no int) RETURNS text
 * Contract: the whole UTF-8 text of text leaf part_no (as in bodyValues,
 * never cut), or NULL when there is no such text part.  Used by Email/get
 * for values the log entry carried only in part.
 */
Datum
mc_message_text(PG_FUNCTION_ARGS)
{
	bytea	   *raw = PG_GETARG_BYTEA_PP(0);
	int32		part_no = PG_GETARG_INT32(1);
	MimeTree	t;
	text	   *res = NULL;

	mime_tree_build(&t, VARDATA_ANY(raw), VARSIZE_ANY_EXHDR(raw));
	for (int i = 0; i < t.n; i++)
	{
		if (part_no > 0 && t.nodes[i].part_no == part_no &&
			strncmp(t.nodes[i].type, "text/", 5) == 0)
		{
			bool		problem;

			res = cstring_to_text(mime_node_text(&t.nodes[i], &problem));
			break;
		}
	}
	mime_tree_free(&t);
	if (res == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(res);
}
