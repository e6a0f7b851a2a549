-- 64_jmap_email_get.sql — Email/get and Email/changes (RFC 8621 §4.2,
-- §4.3): Email objects from the emails row, header:{name}:as{Form}[:all]
-- properties through the C header parser, body parts with bodyProperties,
-- bodyValues with fetch*BodyValues and maxBodyValueBytes.

-- The Email properties Email/get knows (header:* handled apart).
CREATE FUNCTION mailcluster._email_props() RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['id', 'blobId', 'threadId', 'mailboxIds', 'keywords', 'size', 'receivedAt',
                 'messageId', 'inReplyTo', 'references', 'sender', 'from', 'to', 'cc', 'bcc',
                 'replyTo', 'subject', 'sentAt', 'hasAttachment', 'preview', 'bodyValues',
                 'textBody', 'htmlBody', 'attachments', 'headers', 'bodyStructure', 'header:*'];
$$;

-- The EmailBodyPart properties bodyProperties may name.
CREATE FUNCTION mailcluster._body_props() RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['partId', 'blobId', 'size', 'headers', 'name', 'type', 'charset', 'disposition',
                 'cid', 'language', 'location', 'subParts', 'header:*'];
$$;

-- Check a header:{name}[:as{Form}][:all] property; raises invalidArguments.
-- Returns {name, form, all}.
CREATE FUNCTION mailcluster._header_prop(p text) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    parts text[] := string_to_array(p, ':');
    form text := 'Raw';
    is_all boolean := false;
    n int := cardinality(parts);
BEGIN
    IF n < 2 OR n > 4 OR parts[2] = '' THEN
        PERFORM mailcluster._jerr('invalidArguments', format('bad header property "%s"', p));
    END IF;
    IF parts[n] = 'all' AND n > 2 THEN is_all := true; n := n - 1; END IF;
    IF n = 3 THEN
        IF parts[3] NOT IN ('asRaw', 'asText', 'asAddresses', 'asGroupedAddresses',
                            'asMessageIds', 'asDate', 'asURLs') THEN
            PERFORM mailcluster._jerr('invalidArguments', format('bad header form in "%s"', p));
        END IF;
        form := substr(parts[3], 3);
    ELSIF n > 3 THEN
        PERFORM mailcluster._jerr('invalidArguments', format('bad header property "%s"', p));
    END IF;
    RETURN jsonb_build_object('name', lower(parts[2]), 'form', form, 'all', is_all);
END $$;

-- Value of a header property over a headers array [{name, value}].
CREATE FUNCTION mailcluster._header_value(headers jsonb, hp jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    WITH h AS (SELECT mailcluster._header_parse(x->>'value', hp->>'form') AS v, n
                 FROM jsonb_array_elements(headers) WITH ORDINALITY AS t(x, n)
                WHERE lower(x->>'name') = hp->>'name')
    SELECT CASE WHEN (hp->>'all')::boolean
                THEN coalesce((SELECT jsonb_agg(v ORDER BY n) FROM h), '[]')
                ELSE coalesce((SELECT v FROM h ORDER BY n DESC LIMIT 1), 'null') END;
$$;

-- A body part with the requested bodyProperties (subParts recursively).
CREATE FUNCTION mailcluster._part_json(part jsonb, props text[]) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    o jsonb := '{}';
    p text;
BEGIN
    FOREACH p IN ARRAY props LOOP
        IF p = 'subParts' THEN
            IF part ? 'subParts' THEN
                o := o || jsonb_build_object('subParts',
                    (SELECT coalesce(jsonb_agg(mailcluster._part_json(s, props) ORDER BY n), '[]')
                       FROM jsonb_array_elements(part->'subParts') WITH ORDINALITY AS t(s, n)));
            END IF;
        ELSIF starts_with(p, 'header:') THEN
            o := o || jsonb_build_object(p, mailcluster._header_value(part->'headers',
                                                                       mailcluster._header_prop(p)));
        ELSE
            o := o || jsonb_build_object(p, coalesce(part->p, 'null'));
        END IF;
    END LOOP;
    RETURN o;
END $$;

-- partId -> part (leaves only) of a bodyStructure.
CREATE FUNCTION mailcluster._parts_by_id(bs jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    WITH RECURSIVE t(p) AS (
        SELECT bs WHERE bs IS NOT NULL
        UNION ALL
        SELECT s FROM t, jsonb_array_elements(t.p->'subParts') s WHERE t.p ? 'subParts')
    SELECT coalesce(jsonb_object_agg(p->>'partId', p - 'subParts'), '{}')
      FROM t WHERE p->>'partId' IS NOT NULL;
$$;

-- Text truncated to at most n bytes of UTF-8, on a character boundary.
CREATE FUNCTION mailcluster._utf8_truncate(s text, n int) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE t text := left(s, n);
BEGIN
    WHILE octet_length(t) > n LOOP
        t := left(t, length(t) - greatest(1, (octet_length(t) - n) / 4));
    END LOOP;
    RETURN t;
END $$;

-- One Email object.  opts: {props, bodyProps, text, html, all, max}.
CREATE FUNCTION mailcluster._email_json(e mailcluster.emails, opts jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    props text[] := mailcluster._text_array(opts->'props');
    bprops text[] := mailcluster._text_array(opts->'bodyProps');
    o jsonb := '{}';
    p text;
    parts jsonb;
    want text[] := '{}';
    bv jsonb := '{}';
    pid text;
    v jsonb;
    maxb int := (opts->>'max')::int;
BEGIN
    IF props && ARRAY['textBody', 'htmlBody', 'attachments', 'bodyValues'] THEN
        parts := mailcluster._parts_by_id(e.body_structure);
    END IF;
    FOREACH p IN ARRAY props LOOP
        v := CASE p
            WHEN 'id' THEN to_jsonb(e.id)
            WHEN 'blobId' THEN to_jsonb(e.blob_id)
            WHEN 'threadId' THEN to_jsonb(e.thread_id)
            WHEN 'mailboxIds' THEN (SELECT coalesce(jsonb_object_agg(mailbox_id, true), '{}')
                                      FROM mailcluster.email_mailboxes
                                     WHERE account_id = e.account_id AND email_id = e.id)
            WHEN 'keywords' THEN e.keywords
            WHEN 'size' THEN to_jsonb(e.size)
            WHEN 'receivedAt' THEN to_jsonb(to_char(e.received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
            WHEN 'messageId' THEN to_jsonb(e.message_id)
            WHEN 'inReplyTo' THEN to_jsonb(e.in_reply_to)
            WHEN 'references' THEN to_jsonb(e."references")
            WHEN 'sender' THEN e.sender
            WHEN 'from' THEN e."from"
            WHEN 'to' THEN e."to"
            WHEN 'cc' THEN e.cc
            WHEN 'bcc' THEN e.bcc
            WHEN 'replyTo' THEN e.reply_to
            WHEN 'subject' THEN to_jsonb(e.subject)
            WHEN 'sentAt' THEN to_jsonb(e.sent_at_text)
            WHEN 'hasAttachment' THEN to_jsonb(e.has_attachment)
            WHEN 'preview' THEN to_jsonb(e.preview)
            WHEN 'headers' THEN e.headers
            WHEN 'bodyStructure' THEN mailcluster._part_json(e.body_structure, bprops)
            WHEN 'textBody' THEN (SELECT coalesce(jsonb_agg(mailcluster._part_json(parts->x, bprops) ORDER BY n), '[]')
                                    FROM jsonb_array_elements_text(e.text_body) WITH ORDINALITY AS t(x, n))
            WHEN 'htmlBody' THEN (SELECT coalesce(jsonb_agg(mailcluster._part_json(parts->x, bprops) ORDER BY n), '[]')
                                    FROM jsonb_array_elements_text(e.html_body) WITH ORDINALITY AS t(x, n))
            WHEN 'attachments' THEN (SELECT coalesce(jsonb_agg(mailcluster._part_json(parts->x, bprops) ORDER BY n), '[]')
                                       FROM jsonb_array_elements_text(e.attachments) WITH ORDINALITY AS t(x, n))
            ELSE NULL END;
        IF starts_with(p, 'header:') THEN
            v := mailcluster._header_value(e.headers, mailcluster._header_prop(p));
        ELSIF p = 'bodyValues' THEN
            IF (opts->>'all')::boolean THEN
                want := ARRAY(SELECT k FROM jsonb_object_keys(e.body_values) k
                               WHERE (parts->k->>'type') LIKE 'text/%');
            ELSE
                IF (opts->>'text')::boolean THEN
                    want := want || mailcluster._text_array(e.text_body);
                END IF;
                IF (opts->>'html')::boolean THEN
                    want := want || mailcluster._text_array(e.html_body);
                END IF;
            END IF;
            FOREACH pid IN ARRAY want LOOP
                IF e.body_values ? pid THEN
                    v := e.body_values->pid;
                    -- the log entry carried only the start of a long text: read the blob
                    IF (v->>'storedTruncated')::boolean
                       AND (maxb = 0 OR maxb > octet_length(v->>'value')) THEN
                        v := v || jsonb_build_object('value', mailcluster._message_text(
                                 (SELECT b.data FROM mailcluster.blobs b WHERE b.id = e.blob_id), pid::int));
                    END IF;
                    v := v - 'storedTruncated';
                    IF maxb > 0 AND octet_length(v->>'value') > maxb THEN
                        v := v || jsonb_build_object('value', mailcluster._utf8_truncate(v->>'value', maxb),
                                                     'isTruncated', true);
                    END IF;
                    bv := bv || jsonb_build_object(pid, v);
                END IF;
            END LOOP;
            v := bv;
        END IF;
        o := o || jsonb_build_object(p, coalesce(v, 'null'));
    END LOOP;
    RETURN o;
END $$;

-- Email/get (RFC 8621 §4.2): ids (null = the 1000 newest), properties,
-- bodyProperties, fetch*BodyValues, maxBodyValueBytes.  Read only.
CREATE FUNCTION mailcluster._m_email_get(args jsonb, ctx jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    account text := mailcluster._arg_account(args);
    ids text[] := mailcluster._arg_ids(args);
    dflt constant text[] := ARRAY['id', 'blobId', 'threadId', 'mailboxIds', 'keywords', 'size',
        'receivedAt', 'messageId', 'inReplyTo', 'references', 'sender', 'from', 'to', 'cc', 'bcc',
        'replyTo', 'subject', 'sentAt', 'hasAttachment', 'preview', 'bodyValues', 'textBody',
        'htmlBody', 'attachments'];
    dflt_body constant text[] := ARRAY['partId', 'blobId', 'size', 'name', 'type', 'charset',
        'disposition', 'cid', 'language', 'location'];
    props text[] := mailcluster._arg_props(args, 'properties', mailcluster._email_props(), dflt, true);
    bprops text[] := mailcluster._arg_props(args, 'bodyProperties', mailcluster._body_props(), dflt_body, false);
    opts jsonb;
    list jsonb;
    not_found jsonb;
    p text;
BEGIN
    -- validate header properties up front (invalidArguments)
    FOREACH p IN ARRAY props || bprops LOOP
        IF starts_with(p, 'header:') THEN PERFORM mailcluster._header_prop(p); END IF;
    END LOOP;
    IF ids IS NULL THEN
        -- RFC 8621 allows refusing; we return at most 1000 (maxObjectsInGet)
        ids := ARRAY(SELECT id FROM mailcluster.emails WHERE account_id = account
                      ORDER BY received_at DESC, id LIMIT 1000);
    ELSIF cardinality(ids) > 1000 THEN
        PERFORM mailcluster._jerr('requestTooLarge', 'at most 1000 ids per Email/get');
    END IF;
    ids := ARRAY(SELECT coalesce(mailcluster._resolve_id(x, ctx->'createdIds'), x) FROM unnest(ids) x);
    opts := jsonb_build_object(
        'props', to_jsonb(props), 'bodyProps', to_jsonb(bprops),
        'text', coalesce((mailcluster._arg_type(args, 'fetchTextBodyValues', 'boolean') #>> '{}')::boolean, false),
        'html', coalesce((mailcluster._arg_type(args, 'fetchHTMLBodyValues', 'boolean') #>> '{}')::boolean, false),
        'all', coalesce((mailcluster._arg_type(args, 'fetchAllBodyValues', 'boolean') #>> '{}')::boolean, false),
        'max', mailcluster._arg_uint(args, 'maxBodyValueBytes', 0));
    SELECT coalesce(jsonb_agg(mailcluster._email_json(e, opts) ORDER BY x.n), '[]') INTO list
      FROM unnest(ids) WITH ORDINALITY AS x(id, n)
      JOIN mailcluster.emails e ON e.account_id = account AND e.id = x.id;
    SELECT coalesce(jsonb_agg(x ORDER BY n), '[]') INTO not_found
      FROM unnest(ids) WITH ORDINALITY AS t(x, n)
     WHERE NOT EXISTS (SELECT 1 FROM mailcluster.emails WHERE account_id = account AND id = x);
    RETURN jsonb_build_object('name', 'Email/get', 'args', jsonb_build_object(
        'accountId', account, 'state', mailcluster._state(account, 'Email'),
        'list', list, 'notFound', not_found));
END $$;

-- Email/changes (RFC 8621 §4.3): the generic /changes.
CREATE FUNCTION mailcluster._m_email_changes(args jsonb, ctx jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('name', 'Email/changes', 'args', mailcluster._changes('Email', args));
$$;
