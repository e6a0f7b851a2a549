-- 68_jmap_email_set.sql — Email/set and Email/import (RFC 8621 §4.6,
-- §4.8) on the proposing side (Email/set's method itself is C,
-- jmap_m_email_set.c): drafts are generated as RFC 5322 messages,
-- blobs fetched and parsed here, size limits checked (tooLarge), unknown
-- blobs reported (blobNotFound); then one email_set / email_import command
-- carries the parsed messages to the apply path.

-- An address list [{name, email}] as a header value.
CREATE FUNCTION mailcluster._addr_header(addrs jsonb) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT string_agg(CASE WHEN coalesce(a->>'name', '') = '' THEN a->>'email'
                           ELSE mailcluster._header_encode(a->>'name', true) || ' <' || (a->>'email') || '>' END,
                      ', ' ORDER BY n)
      FROM jsonb_array_elements(addrs) WITH ORDINALITY AS t(a, n);
$$;

-- One MIME leaf: headers + body (base64 unless 7-bit text).
CREATE FUNCTION mailcluster._mime_leaf(ctype text, body bytea, extra text DEFAULT '') RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT 'Content-Type: ' || ctype || E'\r\n' || extra ||
           CASE WHEN starts_with(ctype, 'text/') AND encode(body, 'escape') !~ '\\[0-9]{3}'
                THEN E'Content-Transfer-Encoding: 7bit\r\n\r\n' ||
                     replace(replace(convert_from(body, 'UTF8'), E'\r\n', E'\n'), E'\n', E'\r\n')
                ELSE E'Content-Transfer-Encoding: base64\r\n\r\n' ||
                     replace(encode(body, 'base64'), E'\n', E'\r\n') END || E'\r\n';
$$;

-- A multipart entity of the given subtype around parts (already rendered).
CREATE FUNCTION mailcluster._mime_multi(subtype text, parts text[], boundary text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT 'Content-Type: multipart/' || subtype || '; boundary="' || boundary || E'"\r\n\r\n' ||
           (SELECT string_agg('--' || boundary || E'\r\n' || p, '' ORDER BY n)
              FROM unnest(parts) WITH ORDINALITY AS t(p, n)) ||
           '--' || boundary || E'--\r\n';
$$;

-- Build the RFC 5322 message of an Email/set create object.  Returns
-- {"message": base64} or {"error": SetError}.
CREATE FUNCTION mailcluster._draft_message(account text, o jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    allowed constant text[] := ARRAY['mailboxIds', 'keywords', 'receivedAt', 'from', 'to', 'cc', 'bcc',
        'replyTo', 'sender', 'subject', 'sentAt', 'messageId', 'inReplyTo', 'references',
        'textBody', 'htmlBody', 'bodyValues', 'attachments'];
    bad text[];
    hdr text := '';
    k text;
    hname text;
    text_part text;
    html_part text;
    body text;
    atts text[] := '{}';
    a jsonb;
    data bytea;
    bnd text := 'mc-' || md5(random()::text || clock_timestamp()::text);
BEGIN
    bad := ARRAY(SELECT key FROM jsonb_object_keys(o) key WHERE NOT key = ANY (allowed) ORDER BY 1);
    IF cardinality(bad) > 0 THEN
        RETURN jsonb_build_object('error', mailcluster._seterr('invalidProperties', NULL, bad));
    END IF;
    FOREACH k IN ARRAY ARRAY['from', 'sender', 'replyTo', 'to', 'cc', 'bcc'] LOOP
        IF jsonb_typeof(o->k) = 'array' THEN
            hname := CASE k WHEN 'replyTo' THEN 'Reply-To' ELSE initcap(k) END;
            hdr := hdr || hname || ': ' || mailcluster._addr_header(o->k) || E'\r\n';
        ELSIF o ? k AND jsonb_typeof(o->k) <> 'null' THEN
            RETURN jsonb_build_object('error', mailcluster._seterr('invalidProperties', NULL, ARRAY[k]));
        END IF;
    END LOOP;
    hdr := hdr || 'Date: ' || to_char(coalesce((o->>'sentAt')::timestamptz, now()) AT TIME ZONE 'UTC',
                                      'Dy, DD Mon YYYY HH24:MI:SS "+0000"') || E'\r\n';
    hdr := hdr || 'Message-ID: <' || coalesce(o->'messageId'->>0, md5(random()::text || clock_timestamp()::text) || '@mailcluster')
               || E'>\r\n';
    IF jsonb_typeof(o->'inReplyTo') = 'array' THEN
        hdr := hdr || 'In-Reply-To: ' || (SELECT string_agg('<' || x || '>', ' ') FROM jsonb_array_elements_text(o->'inReplyTo') x) || E'\r\n';
    END IF;
    IF jsonb_typeof(o->'references') = 'array' THEN
        hdr := hdr || 'References: ' || (SELECT string_agg('<' || x || '>', ' ') FROM jsonb_array_elements_text(o->'references') x) || E'\r\n';
    END IF;
    IF jsonb_typeof(o->'subject') = 'string' THEN
        hdr := hdr || 'Subject: ' || mailcluster._header_encode(o->>'subject', false) || E'\r\n';
    END IF;
    hdr := hdr || E'MIME-Version: 1.0\r\n';
    IF jsonb_typeof(o->'textBody') = 'array' AND jsonb_array_length(o->'textBody') > 0 THEN
        text_part := mailcluster._mime_leaf('text/plain; charset=utf-8',
            convert_to(coalesce(o->'bodyValues'->(o->'textBody'->0->>'partId')->>'value', ''), 'UTF8'));
    END IF;
    IF jsonb_typeof(o->'htmlBody') = 'array' AND jsonb_array_length(o->'htmlBody') > 0 THEN
        html_part := mailcluster._mime_leaf('text/html; charset=utf-8',
            convert_to(coalesce(o->'bodyValues'->(o->'htmlBody'->0->>'partId')->>'value', ''), 'UTF8'));
    END IF;
    body := CASE WHEN text_part IS NOT NULL AND html_part IS NOT NULL
                 THEN mailcluster._mime_multi('alternative', ARRAY[text_part, html_part], bnd || 'a')
                 ELSE coalesce(text_part, html_part,
                               mailcluster._mime_leaf('text/plain; charset=utf-8', ''::bytea)) END;
    FOR a IN SELECT value FROM jsonb_array_elements(CASE WHEN jsonb_typeof(o->'attachments') = 'array'
                                                         THEN o->'attachments' ELSE '[]' END) LOOP
        SELECT b.data INTO data FROM mailcluster.blobs b
          JOIN mailcluster.account_blobs ab ON ab.blob_id = b.id AND ab.account_id = account
         WHERE b.id = a->>'blobId';
        IF data IS NULL THEN
            RETURN jsonb_build_object('error', mailcluster._seterr('blobNotFound',
                format('attachment blob %s not found', a->>'blobId'), ARRAY['attachments']));
        END IF;
        atts := atts || mailcluster._mime_leaf(coalesce(a->>'type', 'application/octet-stream'), data,
            'Content-Disposition: ' || coalesce(a->>'disposition', 'attachment') ||
            CASE WHEN a->>'name' IS NOT NULL THEN '; filename="' || replace(a->>'name', '"', '') || '"' ELSE '' END
            || E'\r\n');
    END LOOP;
    IF cardinality(atts) > 0 THEN
        body := mailcluster._mime_multi('mixed', body || atts, bnd || 'm');
    END IF;
    RETURN jsonb_build_object('message', encode(convert_to(hdr || body, 'UTF8'), 'base64'));
END $$;

-- The create item of a command for message bytes: parsed on this node.
CREATE FUNCTION mailcluster._create_item(msg bytea, o jsonb, carry boolean) RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    blob text := mailcluster._blob_id(msg);
BEGIN
    RETURN jsonb_build_object(
        'blob_id', blob,
        'parsed', mailcluster._parse_message(msg, blob),
        'mailbox_ids', o->'mailboxIds',
        'keywords', coalesce(o->'keywords', '{}'),
        'received_at', coalesce(o->>'receivedAt', mailcluster._utc_now()))
        || CASE WHEN carry AND NOT EXISTS (SELECT 1 FROM mailcluster.blobs WHERE id = blob)
                THEN mailcluster._blob_carry(blob, msg) ELSE '{}' END;  -- big drafts: blob_part entries first
END $$;

-- The create part of Email/set (RFC 8621 §4.6): each draft built as a
-- message and parsed here (invalidProperties, blobNotFound, tooLarge found
-- here).  Returns {"create": {cid: item}, "errors": {cid: SetError}} for the
-- email_set command; the method itself is C (jmap_m_email_set.c).
CREATE FUNCTION mailcluster._email_set_creates(account text, drafts jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    create_items jsonb := '{}';
    errors jsonb := '{}';
    cid text;
    o jsonb;
    d jsonb;
    msg bytea;
BEGIN
    FOR cid, o IN SELECT key, value FROM jsonb_each(coalesce(drafts, '{}')) LOOP
        IF jsonb_typeof(o) <> 'object' THEN
            errors := errors || jsonb_build_object(cid, mailcluster._seterr('invalidArguments'));
            CONTINUE;
        END IF;
        d := mailcluster._draft_message(account, o);
        IF d ? 'error' THEN
            errors := errors || jsonb_build_object(cid, d->'error');
            CONTINUE;
        END IF;
        msg := decode(d->>'message', 'base64');
        IF length(msg) > mailcluster._max_email_size() THEN
            errors := errors || jsonb_build_object(cid, mailcluster._seterr('tooLarge',
                format('the message would be %s bytes, the limit is %s', length(msg), mailcluster._max_email_size())));
            CONTINUE;
        END IF;
        create_items := create_items || jsonb_build_object(cid, mailcluster._create_item(msg, o, true));
    END LOOP;
    RETURN jsonb_build_object('create', create_items, 'errors', errors);
END $$;

-- Email/set (RFC 8621 §4.6): arguments checked, drafts built by
-- _email_set_creates, then one email_set command (C, jmap_m_email_set.c).
CREATE FUNCTION mailcluster._m_email_set(args jsonb, ctx jsonb) RETURNS jsonb
AS 'MODULE_PATHNAME', 'mc_jmap_m_email_set' LANGUAGE C VOLATILE;

-- Email/import (RFC 8621 §4.8): blobs of the account read and parsed here
-- (blobNotFound, tooLarge), then one email_import command.
CREATE FUNCTION mailcluster._m_email_import(args jsonb, ctx jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    account text := mailcluster._arg_account(args);
    emails jsonb := mailcluster._arg_type(args, 'emails', 'object');
    items jsonb := '{}';
    errors jsonb := '{}';
    cid text;
    o jsonb;
    msg bytea;
    sz bigint;
    res jsonb;
    created jsonb;
BEGIN
    PERFORM mailcluster._arg_type(args, 'ifInState', 'string');
    IF emails IS NULL THEN
        PERFORM mailcluster._jerr('invalidArguments', 'emails is required');
    END IF;
    FOR cid, o IN SELECT key, value FROM jsonb_each(emails) LOOP
        IF jsonb_typeof(o) <> 'object' OR jsonb_typeof(o->'blobId') IS DISTINCT FROM 'string' THEN
            errors := errors || jsonb_build_object(cid, mailcluster._seterr('invalidProperties', NULL, ARRAY['blobId']));
            CONTINUE;
        END IF;
        SELECT b.data, b.size INTO msg, sz FROM mailcluster.blobs b
          JOIN mailcluster.account_blobs ab ON ab.blob_id = b.id AND ab.account_id = account
         WHERE b.id = o->>'blobId';
        IF msg IS NULL THEN
            errors := errors || jsonb_build_object(cid, mailcluster._seterr('blobNotFound'));
        ELSIF sz > mailcluster._max_email_size() THEN
            errors := errors || jsonb_build_object(cid, mailcluster._seterr('tooLarge',
                format('the message is %s bytes, the limit is %s', sz, mailcluster._max_email_size())));
        ELSE
            items := items || jsonb_build_object(cid, mailcluster._create_item(msg, o, false));
        END IF;
        msg := NULL;
    END LOOP;
    res := mailcluster._submit(mailcluster._compact(jsonb_build_object(
        'op', 'email_import', 'account_id', account, 'if_in_state', args->'ifInState',
        'emails', items, 'errors', errors, 'cids', ctx->'createdIds')), ctx->>'request_id');
    IF res ? 'error' THEN
        PERFORM mailcluster._jerr(res->'error'->>'type', res->'error'->>'description');
    END IF;
    SELECT jsonb_object_agg(k, v->>'id') INTO created
      FROM jsonb_each(CASE WHEN jsonb_typeof(res->'created') = 'object' THEN res->'created' ELSE '{}' END) AS t(k, v);
    RETURN jsonb_build_object('name', 'Email/import', 'args', res, 'createdIds', coalesce(created, '{}'));
END $$;
