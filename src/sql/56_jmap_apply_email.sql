-- 56_jmap_apply_email.sql — the email side of the state machine: inserting
-- a parsed message (with threading and thread merging), keyword/mailbox
-- patches, destroy, and the ops email_import, email_set and deliver.
-- Parsing already happened on the proposer: commands carry the parsed JSON.

-- Resolve "#creationId" through cids (other ids pass through); NULL if unknown.
CREATE FUNCTION mailcluster._resolve_id(id text, cids jsonb) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN left(id, 1) = '#' THEN cids ->> substr(id, 2) ELSE id END;
$$;

-- Normalise and check a JMAP keywords object: lower-cased keys, values true.
-- Returns NULL when it is not valid.  In C (jmap_json.c): every keyword
-- change applies it on every node.
CREATE FUNCTION mailcluster._keywords(kw jsonb) RETURNS jsonb
AS 'MODULE_PATHNAME', 'mc_jmap_keywords' LANGUAGE C IMMUTABLE PARALLEL SAFE;   -- jmap_json.c
-- Mailbox ids ({id: true}, "#creationId" resolved through cids) checked
-- against the account, in byte order; NULL when empty, malformed or naming
-- an unknown mailbox (C, jmap_email_patch.c).
CREATE FUNCTION mailcluster._mailbox_ids(account text, m jsonb, cids jsonb) RETURNS text[]
AS 'MODULE_PATHNAME', 'mc_jmap_mailbox_ids' LANGUAGE C STABLE;

-- The thread of a new message: the threads of existing messages sharing a
-- message id (Message-ID, In-Reply-To, References) and the normalised
-- subject.  None: a new thread.  Several: merged into the smallest id, the
-- others' emails move (Email updated) and the others are destroyed.
CREATE FUNCTION mailcluster._thread_for(account text, keys text[], subj text) RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    found text[];
    target text;
    e record;
BEGIN
    IF cardinality(keys) > 0 THEN
        found := ARRAY(SELECT t FROM (SELECT DISTINCT thread_id AS t FROM mailcluster.emails
                                        WHERE account_id = account AND thread_keys && keys
                                          AND thread_subject = subj) d
                        ORDER BY t COLLATE "C");
    END IF;
    IF found IS NULL OR cardinality(found) = 0 THEN
        target := mailcluster._next_id('T');
        INSERT INTO mailcluster.threads (account_id, id) VALUES (account, target);
        PERFORM mailcluster._change(account, 'Thread', target, 'c');
        RETURN target;
    END IF;
    target := found[1];
    PERFORM mailcluster._change(account, 'Thread', target, 'u');
    IF cardinality(found) > 1 THEN
        FOR e IN SELECT id FROM mailcluster.emails
                  WHERE account_id = account AND thread_id = ANY (found[2:])
                  ORDER BY id COLLATE "C" LOOP
            UPDATE mailcluster.emails SET thread_id = target
             WHERE account_id = account AND id = e.id;
            PERFORM mailcluster._change(account, 'Email', e.id, 'u');
        END LOOP;
        DELETE FROM mailcluster.threads WHERE account_id = account AND id = ANY (found[2:]);
        PERFORM mailcluster._change(account, 'Thread', t, 'd') FROM unnest(found[2:]) t;
    END IF;
    RETURN target;
END $$;

-- Insert one parsed message as an email.  Contract: blob stored, mailbox
-- ids checked, keywords normalised; returns the new email id.
CREATE FUNCTION mailcluster._email_insert(account text, blob text, p jsonb, mboxes text[],
                                          kw jsonb, received timestamptz)
RETURNS text LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    eid text := mailcluster._next_id('E');
    keys text[];
    subj text := mailcluster._norm_subject(p->>'subject');
    tid text;
    m text;
BEGIN
    keys := ARRAY(SELECT DISTINCT k FROM unnest(
                coalesce(mailcluster._text_array(p->'messageId'), '{}') ||
                coalesce(mailcluster._text_array(p->'inReplyTo'), '{}') ||
                coalesce(mailcluster._text_array(p->'references'), '{}')) k ORDER BY 1);
    tid := mailcluster._thread_for(account, keys, subj);
    INSERT INTO mailcluster.emails (
        account_id, id, blob_id, thread_id, keywords, size, received_at,
        message_id, in_reply_to, "references", sender, "from", "to", cc, bcc, reply_to,
        subject, sent_at, sent_at_text, has_attachment, preview, headers, body_structure,
        text_body, html_body, attachments, body_values, thread_subject, thread_keys, search_text)
    VALUES (
        account, eid, blob, tid, kw, (p->>'size')::bigint, received,
        mailcluster._text_array(p->'messageId'), mailcluster._text_array(p->'inReplyTo'),
        mailcluster._text_array(p->'references'),
        p->'sender', p->'from', p->'to', p->'cc', p->'bcc', p->'replyTo',
        p->>'subject', (p->>'sentAt')::timestamptz, p->>'sentAt',
        coalesce((p->>'hasAttachment')::bool, false), coalesce(p->>'preview', ''),
        coalesce(p->'headers', '[]'), p->'bodyStructure',
        coalesce(p->'textBody', '[]'), coalesce(p->'htmlBody', '[]'),
        coalesce(p->'attachments', '[]'), coalesce(p->'bodyValues', '{}'),
        subj, keys,
        lower(coalesce((SELECT string_agg(v.value->>'value', ' ' ORDER BY v.key)
                          FROM jsonb_each(p->'bodyValues') v), '')));
    FOREACH m IN ARRAY mboxes LOOP
        INSERT INTO mailcluster.email_mailboxes (account_id, email_id, mailbox_id)
        VALUES (account, eid, m);
        PERFORM mailcluster._change(account, 'Mailbox', m, 'u');
    END LOOP;
    PERFORM mailcluster._blob_grant(account, blob, 'message/rfc822', received);
    PERFORM mailcluster._change(account, 'Email', eid, 'c');
    RETURN eid;
END $$;

-- Destroy one email: its mailboxes and thread change; an emptied thread goes;
-- its blob becomes a candidate for the next purge_blobs.
CREATE FUNCTION mailcluster._email_destroy(account text, eid text) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    tid text;
BEGIN
    SELECT thread_id INTO tid FROM mailcluster.emails WHERE account_id = account AND id = eid;
    IF NOT FOUND THEN RETURN false; END IF;
    PERFORM mailcluster._change(account, 'Mailbox', mailbox_id, 'u')
       FROM mailcluster.email_mailboxes WHERE account_id = account AND email_id = eid;
    WITH gone AS (DELETE FROM mailcluster.emails WHERE account_id = account AND id = eid
                  RETURNING blob_id)
    INSERT INTO mailcluster._blob_candidates SELECT account, g.blob_id FROM gone g
        ON CONFLICT DO NOTHING;
    IF EXISTS (SELECT 1 FROM mailcluster.emails WHERE account_id = account AND thread_id = tid) THEN
        PERFORM mailcluster._change(account, 'Thread', tid, 'u');
    ELSE
        DELETE FROM mailcluster.threads WHERE account_id = account AND id = tid;
        PERFORM mailcluster._change(account, 'Thread', tid, 'd');
    END IF;
    PERFORM mailcluster._change(account, 'Email', eid, 'd');
    RETURN true;
END $$;

-- Apply an Email/set update patch (keywords, keywords/k, mailboxIds,
-- mailboxIds/id).  Returns NULL on success or a SetError.  Marks the email
-- changed, all its mailboxes when $seen flips, and the mailboxes entered
-- and left on a move (C, jmap_email_patch.c: the apply of the commonest
-- small mail write, marking a message read).
CREATE FUNCTION mailcluster._email_patch(account text, eid text, patch jsonb, cids jsonb)
RETURNS jsonb AS 'MODULE_PATHNAME', 'mc_jmap_email_patch' LANGUAGE C VOLATILE;

-- Create the emails of an import/set command: items {cid: {blob_id, data?,
-- parsed, mailbox_ids, keywords, received_at}}; errors {cid: SetError}
-- found by the proposer.  Returns {created, notCreated, cids}.
CREATE FUNCTION mailcluster._email_create_all(account text, items jsonb, errors jsonb, cids jsonb)
RETURNS jsonb LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    cid text;
    it jsonb;
    created jsonb := '{}';
    not_created jsonb := coalesce(errors, '{}');
    mb text[];
    kw jsonb;
    eid text;
BEGIN
    FOR cid, it IN SELECT key, value FROM jsonb_each(coalesce(items, '{}')) LOOP
        mb := mailcluster._mailbox_ids(account, it->'mailbox_ids', cids);
        kw := mailcluster._keywords(it->'keywords');
        IF mb IS NULL THEN
            not_created := not_created || jsonb_build_object(cid,
                mailcluster._seterr('invalidProperties', 'mailboxIds must name existing mailboxes',
                                    ARRAY['mailboxIds']));
            CONTINUE;
        END IF;
        IF kw IS NULL THEN
            not_created := not_created || jsonb_build_object(cid,
                mailcluster._seterr('invalidProperties', NULL, ARRAY['keywords']));
            CONTINUE;
        END IF;
        IF NOT mailcluster._blob_take(it->>'blob_id', it)
           AND NOT EXISTS (SELECT 1 FROM mailcluster.blobs WHERE id = it->>'blob_id') THEN
            not_created := not_created || jsonb_build_object(cid, mailcluster._seterr('blobNotFound'));
            CONTINUE;
        END IF;
        eid := mailcluster._email_insert(account, it->>'blob_id', it->'parsed', mb, kw,
                                         (it->>'received_at')::timestamptz);
        created := created || jsonb_build_object(cid, (
            SELECT jsonb_build_object('id', e.id, 'blobId', e.blob_id, 'threadId', e.thread_id,
                                      'size', e.size)
              FROM mailcluster.emails e WHERE e.account_id = account AND e.id = eid));
        cids := cids || jsonb_build_object(cid, eid);
    END LOOP;
    RETURN jsonb_build_object('created', created, 'notCreated', not_created, 'cids', cids);
END $$;

-- Check ifInState of a /set-like command; the error response or NULL.
CREATE FUNCTION mailcluster._check_state(account text, typ text, cmd jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF cmd ? 'if_in_state' AND jsonb_typeof(cmd->'if_in_state') <> 'null'
       AND cmd->>'if_in_state' IS DISTINCT FROM mailcluster._state(account, typ) THEN
        RETURN jsonb_build_object('error', jsonb_build_object('type', 'stateMismatch'));
    END IF;
    RETURN NULL;
END $$;

-- op email_import {account_id, if_in_state, emails, errors, cids}
-- -> Email/import response arguments.
CREATE FUNCTION mailcluster._op_email_import(idx bigint, cmd jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    account text := cmd->>'account_id';
    old_state text := mailcluster._state(account, 'Email');
    err jsonb := mailcluster._check_state(account, 'Email', cmd);
    r jsonb;
BEGIN
    IF err IS NOT NULL THEN RETURN err; END IF;
    r := mailcluster._email_create_all(account, cmd->'emails', cmd->'errors', coalesce(cmd->'cids', '{}'));
    RETURN jsonb_build_object('accountId', account, 'oldState', old_state,
                              'newState', mailcluster._state(account, 'Email'),
                              'created', nullif(r->'created', '{}'),
                              'notCreated', nullif(r->'notCreated', '{}'));
END $$;

-- op email_set {account_id, if_in_state, create, errors, update, destroy, cids}
-- -> Email/set response arguments and "cids" (C, jmap_op_email_set.c:
-- updates and destroys there, creates through _email_create_all).
CREATE FUNCTION mailcluster._op_email_set(idx bigint, cmd jsonb) RETURNS jsonb
AS 'MODULE_PATHNAME', 'mc_jmap_op_email_set' LANGUAGE C VOLATILE;

-- op deliver {account_id, blob_id, data?, parsed, mailbox, received_at}:
-- store the blob and file the message into the mailbox named (by name,
-- case-insensitively, else by role), falling back to the Inbox.
-- -> {"id", "threadId"}.
CREATE FUNCTION mailcluster._op_deliver(idx bigint, cmd jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    account text := cmd->>'account_id';
    mbox text;
    eid text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM mailcluster.accounts WHERE id = account) THEN
        RETURN jsonb_build_object('error', jsonb_build_object('type', 'accountNotFound'));
    END IF;
    SELECT id INTO mbox FROM mailcluster.mailboxes
     WHERE account_id = account
       AND (lower(name) = lower(cmd->>'mailbox') OR role = lower(cmd->>'mailbox') OR id = cmd->>'mailbox')
     ORDER BY (id = cmd->>'mailbox') DESC, (role IS NOT NULL) DESC, id COLLATE "C" LIMIT 1;
    IF mbox IS NULL THEN
        SELECT id INTO mbox FROM mailcluster.mailboxes WHERE account_id = account AND role = 'inbox';
    END IF;
    IF mbox IS NULL THEN
        RETURN jsonb_build_object('error', jsonb_build_object('type', 'notFound',
                                  'description', 'the account has no such mailbox and no inbox'));
    END IF;
    IF NOT mailcluster._blob_take(cmd->>'blob_id', cmd)
       AND NOT EXISTS (SELECT 1 FROM mailcluster.blobs WHERE id = cmd->>'blob_id') THEN
        -- the proposer saw the blob, but a purge removed it before this entry
        RETURN jsonb_build_object('error', jsonb_build_object('type', 'blobNotFound',
                                  'description', 'the blob was purged before the delivery was applied; retry'));
    END IF;
    eid := mailcluster._email_insert(account, cmd->>'blob_id', cmd->'parsed', ARRAY[mbox],
                                     mailcluster._keywords(cmd->'keywords'),
                                     (cmd->>'received_at')::timestamptz);
    RETURN (SELECT jsonb_build_object('id', id, 'threadId', thread_id)
              FROM mailcluster.emails WHERE account_id = account AND id = eid);
END $$;

INSERT INTO mailcluster._ops VALUES
    ('email_import', 'mailcluster._op_email_import', true),
    ('email_set',    'mailcluster._op_email_set',    true),
    ('deliver',      'mailcluster._op_deliver',      true);
