-- 57_jmap_apply_mailbox.sql — the mailbox side of the state machine: op
-- mailbox_set (create with parent creation references in any order, update
-- with cycle and role checks, destroy with mailboxHasChild /
-- mailboxHasEmail / onDestroyRemoveEmails).

-- The roles a mailbox may have (IANA "IMAP Mailbox Name Attributes", RFC 8457).
CREATE FUNCTION mailcluster._mailbox_role_ok(r text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT r IN ('all', 'archive', 'drafts', 'flagged', 'important', 'inbox', 'junk',
                 'sent', 'subscribed', 'trash');
$$;

-- myRights of every mailbox: the owner may do everything.
CREATE FUNCTION mailcluster._mailbox_rights() RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT '{"mayReadItems": true, "mayAddItems": true, "mayRemoveItems": true,
             "maySetSeen": true, "maySetKeywords": true, "mayCreateChild": true,
             "mayRename": true, "mayDelete": true, "maySubmit": true}'::jsonb;
$$;

-- Check and apply the properties of a mailbox create (mid new, props
-- complete) or update (mid existing, props a patch).  Returns NULL on
-- success or a SetError; parentId must already be resolved in props.
CREATE FUNCTION mailcluster._mailbox_write(account text, mid text, props jsonb, is_create boolean)
RETURNS jsonb LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    cur mailcluster.mailboxes;
    k text;
    v jsonb;
    bad text[] := '{}';
BEGIN
    IF jsonb_typeof(props) IS DISTINCT FROM 'object' THEN
        RETURN mailcluster._seterr('invalidArguments', 'the object must be a JSON object');
    END IF;
    IF is_create THEN
        cur := ROW(account, mid, NULL, NULL, NULL, 0, true)::mailcluster.mailboxes;
    ELSE
        SELECT * INTO cur FROM mailcluster.mailboxes WHERE account_id = account AND id = mid;
        IF NOT FOUND THEN RETURN mailcluster._seterr('notFound'); END IF;
    END IF;
    FOR k, v IN SELECT key, value FROM jsonb_each(props) LOOP
        CASE k
        WHEN 'name' THEN
            IF jsonb_typeof(v) = 'string' AND length(v #>> '{}') BETWEEN 1 AND 255 THEN
                cur.name := v #>> '{}';
            ELSE bad := bad || k; END IF;
        WHEN 'parentId' THEN
            IF jsonb_typeof(v) = 'null' THEN cur.parent_id := NULL;
            ELSIF jsonb_typeof(v) = 'string' AND v #>> '{}' <> mid
                  AND EXISTS (SELECT 1 FROM mailcluster.mailboxes
                               WHERE account_id = account AND id = v #>> '{}') THEN
                cur.parent_id := v #>> '{}';
            ELSE bad := bad || k; END IF;
        WHEN 'role' THEN
            IF jsonb_typeof(v) = 'null' THEN cur.role := NULL;
            ELSIF jsonb_typeof(v) = 'string' AND mailcluster._mailbox_role_ok(lower(v #>> '{}'))
                  AND NOT EXISTS (SELECT 1 FROM mailcluster.mailboxes
                                   WHERE account_id = account AND role = lower(v #>> '{}')
                                     AND id <> mid) THEN
                cur.role := lower(v #>> '{}');
            ELSE bad := bad || k; END IF;
        WHEN 'sortOrder' THEN
            IF jsonb_typeof(v) = 'number' AND (v #>> '{}') ~ '^[0-9]{1,9}$' THEN
                cur.sort_order := (v #>> '{}')::int;
            ELSE bad := bad || k; END IF;
        WHEN 'isSubscribed' THEN
            IF jsonb_typeof(v) = 'boolean' THEN cur.is_subscribed := (v #>> '{}')::boolean;
            ELSE bad := bad || k; END IF;
        ELSE
            -- id, totalEmails, ..., myRights are server-set; anything else unknown
            bad := bad || k;
        END CASE;
    END LOOP;
    IF cur.name IS NULL AND 'name' <> ALL (bad) THEN bad := bad || 'name'::text; END IF;
    IF cardinality(bad) > 0 THEN
        RETURN mailcluster._seterr('invalidProperties', NULL, bad);
    END IF;
    -- no cycles: the new parent may not be a descendant
    IF NOT is_create AND cur.parent_id IS NOT NULL AND EXISTS (
        WITH RECURSIVE up(id, parent_id) AS (
            SELECT id, parent_id FROM mailcluster.mailboxes WHERE account_id = account AND id = cur.parent_id
            UNION
            SELECT m.id, m.parent_id FROM mailcluster.mailboxes m JOIN up ON m.id = up.parent_id
             WHERE m.account_id = account)
        SELECT 1 FROM up WHERE id = mid) THEN
        RETURN mailcluster._seterr('invalidProperties', 'a mailbox cannot be its own ancestor',
                                   ARRAY['parentId']);
    END IF;
    IF EXISTS (SELECT 1 FROM mailcluster.mailboxes
                WHERE account_id = account AND id <> mid AND name = cur.name
                  AND parent_id IS NOT DISTINCT FROM cur.parent_id) THEN
        RETURN mailcluster._seterr('invalidProperties', 'a sibling mailbox has this name',
                                   ARRAY['name']);
    END IF;
    IF is_create THEN
        INSERT INTO mailcluster.mailboxes VALUES (cur.*);
        PERFORM mailcluster._change(account, 'Mailbox', mid, 'c');
    ELSE
        UPDATE mailcluster.mailboxes m
           SET name = cur.name, parent_id = cur.parent_id, role = cur.role,
               sort_order = cur.sort_order, is_subscribed = cur.is_subscribed
         WHERE m.account_id = account AND m.id = mid
           AND (m.name, m.parent_id, m.role, m.sort_order, m.is_subscribed)
               IS DISTINCT FROM (cur.name, cur.parent_id, cur.role, cur.sort_order, cur.is_subscribed);
        IF FOUND THEN PERFORM mailcluster._change(account, 'Mailbox', mid, 'u'); END IF;
    END IF;
    RETURN NULL;
END $$;

-- op mailbox_set {account_id, if_in_state, create, update, destroy,
-- on_destroy_remove_emails, cids} -> Mailbox/set response arguments (+ cids).
CREATE FUNCTION mailcluster._op_mailbox_set(idx bigint, cmd jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    account text := cmd->>'account_id';
    old_state text := mailcluster._state(account, 'Mailbox');
    err jsonb := mailcluster._check_state(account, 'Mailbox', cmd);
    cids jsonb := coalesce(cmd->'cids', '{}');
    pending jsonb := coalesce(cmd->'create', '{}');
    created jsonb := '{}';
    not_created jsonb := '{}';
    updated jsonb := '{}';
    not_updated jsonb := '{}';
    destroyed jsonb := '[]';
    not_destroyed jsonb := '{}';
    progress boolean;
    k text;
    v jsonb;
    pid text;
    mid text;
    se jsonb;
    remove_emails boolean := coalesce((cmd->>'on_destroy_remove_emails')::boolean, false);
    e record;
BEGIN
    IF err IS NOT NULL THEN RETURN err; END IF;
    -- creations, in passes so a parent "#ref" may be created later in the map
    LOOP
        progress := false;
        FOR k, v IN SELECT key, value FROM jsonb_each(pending) LOOP
            pid := CASE WHEN jsonb_typeof(v->'parentId') = 'string'
                        THEN mailcluster._resolve_id(v->>'parentId', cids) END;
            IF jsonb_typeof(v->'parentId') = 'string' AND left(v->>'parentId', 1) = '#'
               AND pid IS NULL THEN
                CONTINUE;  -- parent not created yet
            END IF;
            IF pid IS NOT NULL THEN v := v || jsonb_build_object('parentId', pid); END IF;
            mid := mailcluster._next_id('M');
            se := mailcluster._mailbox_write(account, mid, v, true);
            IF se IS NULL THEN
                cids := cids || jsonb_build_object(k, mid);
                created := created || jsonb_build_object(k, (
                    SELECT jsonb_build_object('id', m.id, 'sortOrder', m.sort_order,
                                              'isSubscribed', m.is_subscribed, 'role', m.role,
                                              'totalEmails', 0, 'unreadEmails', 0,
                                              'totalThreads', 0, 'unreadThreads', 0,
                                              'myRights', mailcluster._mailbox_rights())
                      FROM mailcluster.mailboxes m WHERE m.account_id = account AND m.id = mid));
            ELSE
                not_created := not_created || jsonb_build_object(k, se);
            END IF;
            pending := pending - k;
            progress := true;
        END LOOP;
        EXIT WHEN NOT progress OR pending = '{}';
    END LOOP;
    FOR k IN SELECT jsonb_object_keys(pending) LOOP
        not_created := not_created || jsonb_build_object(k,
            mailcluster._seterr('invalidProperties', 'parentId names no mailbox', ARRAY['parentId']));
    END LOOP;
    -- updates
    FOR k, v IN SELECT key, value FROM jsonb_each(coalesce(cmd->'update', '{}')) LOOP
        mid := mailcluster._resolve_id(k, cids);
        IF jsonb_typeof(v->'parentId') = 'string' THEN
            v := v || jsonb_build_object('parentId',
                        coalesce(mailcluster._resolve_id(v->>'parentId', cids), v->>'parentId'));
        END IF;
        se := CASE WHEN mid IS NULL THEN mailcluster._seterr('notFound')
                   ELSE mailcluster._mailbox_write(account, mid, v, false) END;
        IF se IS NULL THEN updated := updated || jsonb_build_object(k, NULL);
        ELSE not_updated := not_updated || jsonb_build_object(k, se); END IF;
    END LOOP;
    -- destroys, deepest first so a parent and its children can go together
    FOR k, mid IN
        WITH RECURSIVE d(k, mid) AS (
            SELECT x, mailcluster._resolve_id(x, cids)
              FROM jsonb_array_elements_text(coalesce(cmd->'destroy', '[]')) x),
        depth(id, n) AS (
            SELECT id, 0 FROM mailcluster.mailboxes WHERE account_id = account AND parent_id IS NULL
            UNION ALL
            SELECT m.id, depth.n + 1 FROM mailcluster.mailboxes m JOIN depth ON m.parent_id = depth.id
             WHERE m.account_id = account)
        SELECT d.k, d.mid FROM d LEFT JOIN depth ON depth.id = d.mid
         ORDER BY coalesce(depth.n, 0) DESC, d.k COLLATE "C"
    LOOP
        IF mid IS NULL OR NOT EXISTS (SELECT 1 FROM mailcluster.mailboxes
                                       WHERE account_id = account AND id = mid) THEN
            not_destroyed := not_destroyed || jsonb_build_object(k, mailcluster._seterr('notFound'));
        ELSIF EXISTS (SELECT 1 FROM mailcluster.mailboxes WHERE account_id = account AND parent_id = mid) THEN
            not_destroyed := not_destroyed || jsonb_build_object(k, mailcluster._seterr('mailboxHasChild'));
        ELSIF NOT remove_emails AND EXISTS (SELECT 1 FROM mailcluster.email_mailboxes
                                             WHERE account_id = account AND mailbox_id = mid) THEN
            not_destroyed := not_destroyed || jsonb_build_object(k, mailcluster._seterr('mailboxHasEmail'));
        ELSE
            FOR e IN SELECT em.email_id,
                            (SELECT count(*) FROM mailcluster.email_mailboxes o
                              WHERE o.account_id = account AND o.email_id = em.email_id) AS n
                       FROM mailcluster.email_mailboxes em
                      WHERE em.account_id = account AND em.mailbox_id = mid
                      ORDER BY em.email_id COLLATE "C" LOOP
                IF e.n = 1 THEN
                    PERFORM mailcluster._email_destroy(account, e.email_id);
                ELSE
                    DELETE FROM mailcluster.email_mailboxes
                     WHERE account_id = account AND email_id = e.email_id AND mailbox_id = mid;
                    PERFORM mailcluster._change(account, 'Email', e.email_id, 'u');
                END IF;
            END LOOP;
            DELETE FROM mailcluster.mailboxes WHERE account_id = account AND id = mid;
            PERFORM mailcluster._change(account, 'Mailbox', mid, 'd');
            destroyed := destroyed || to_jsonb(mid);
        END IF;
    END LOOP;
    RETURN jsonb_build_object('accountId', account, 'oldState', old_state,
                              'newState', mailcluster._state(account, 'Mailbox'),
                              'created', nullif(created, '{}'),
                              'updated', nullif(updated, '{}'),
                              'destroyed', nullif(destroyed, '[]'),
                              'notCreated', nullif(not_created, '{}'),
                              'notUpdated', nullif(not_updated, '{}'),
                              'notDestroyed', nullif(not_destroyed, '{}'),
                              'cids', cids);
END $$;

INSERT INTO mailcluster._ops VALUES ('mailbox_set', 'mailcluster._op_mailbox_set', true);
