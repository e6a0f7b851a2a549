-- 62_jmap_mailbox.sql — Mailbox/get, /changes, /query, /set (RFC 8621 §2).
-- Reads are plain SQL on the local tables; /set is one mailbox_set command.

-- Mailbox JSON with the counts of RFC 8621 §2 (unread = without $seen,
-- threads counted over emails in the mailbox).
CREATE FUNCTION mailcluster._mailbox_json(m mailcluster.mailboxes, props text[]) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    WITH e AS (
        SELECT e.thread_id, (e.keywords ? '$seen') AS seen
          FROM mailcluster.email_mailboxes em
          JOIN mailcluster.emails e ON e.account_id = em.account_id AND e.id = em.email_id
         WHERE em.account_id = m.account_id AND em.mailbox_id = m.id),
    full_obj AS (
        SELECT jsonb_build_object(
            'id', m.id, 'name', m.name, 'parentId', m.parent_id, 'role', m.role,
            'sortOrder', m.sort_order, 'isSubscribed', m.is_subscribed,
            'totalEmails', (SELECT count(*) FROM e),
            'unreadEmails', (SELECT count(*) FROM e WHERE NOT seen),
            'totalThreads', (SELECT count(DISTINCT thread_id) FROM e),
            'unreadThreads', (SELECT count(DISTINCT thread_id) FROM e WHERE NOT seen),
            'myRights', mailcluster._mailbox_rights()) AS o)
    SELECT (SELECT jsonb_object_agg(key, value) FROM jsonb_each(o) WHERE key = ANY (props))
      FROM full_obj;
$$;

-- Mailbox/get (RFC 8621 §2.1): ids (null = all, "#creation" ids resolved),
-- properties; notFound for unknown ids.  Read only.
CREATE FUNCTION mailcluster._m_mailbox_get(args jsonb, ctx jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    account text := mailcluster._arg_account(args);
    ids text[] := mailcluster._arg_ids(args);
    all_props constant text[] := ARRAY['id', 'name', 'parentId', 'role', 'sortOrder', 'isSubscribed',
        'totalEmails', 'unreadEmails', 'totalThreads', 'unreadThreads', 'myRights'];
    props text[] := mailcluster._arg_props(args, 'properties', all_props, all_props, true);
    list jsonb;
    not_found jsonb;
BEGIN
    IF ids IS NOT NULL THEN
        ids := ARRAY(SELECT coalesce(mailcluster._resolve_id(x, ctx->'createdIds'), x) FROM unnest(ids) x);
    END IF;
    SELECT coalesce(jsonb_agg(mailcluster._mailbox_json(m, props) ORDER BY m.sort_order, m.name, m.id), '[]')
      INTO list FROM mailcluster.mailboxes m
     WHERE m.account_id = account AND (ids IS NULL OR m.id = ANY (ids));
    SELECT coalesce(jsonb_agg(DISTINCT x), '[]') INTO not_found FROM unnest(ids) x
     WHERE x IS NOT NULL AND NOT EXISTS (SELECT 1 FROM mailcluster.mailboxes
                                          WHERE account_id = account AND id = x);
    RETURN jsonb_build_object('name', 'Mailbox/get', 'args', jsonb_build_object(
        'accountId', account, 'state', mailcluster._state(account, 'Mailbox'),
        'list', list, 'notFound', not_found));
END $$;

-- Mailbox/changes (RFC 8621 §2.2): the generic /changes, updatedProperties null.
CREATE FUNCTION mailcluster._m_mailbox_changes(args jsonb, ctx jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('name', 'Mailbox/changes',
        'args', mailcluster._changes('Mailbox', args) || '{"updatedProperties": null}');
$$;

-- SQL condition for a Mailbox/query FilterCondition or FilterOperator.
CREATE FUNCTION mailcluster._mailbox_filter_sql(f jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    parts text[] := '{}';
    k text;
    v jsonb;
    op text;
BEGIN
    IF f IS NULL OR jsonb_typeof(f) = 'null' THEN RETURN 'true'; END IF;
    IF jsonb_typeof(f) <> 'object' THEN
        PERFORM mailcluster._jerr('invalidArguments', 'filter must be an object');
    END IF;
    IF f ? 'operator' THEN
        op := f->>'operator';
        IF op NOT IN ('AND', 'OR', 'NOT') OR jsonb_typeof(f->'conditions') IS DISTINCT FROM 'array' THEN
            PERFORM mailcluster._jerr('invalidArguments', 'bad FilterOperator');
        END IF;
        SELECT coalesce(array_agg(mailcluster._mailbox_filter_sql(c)), '{}') INTO parts
          FROM jsonb_array_elements(f->'conditions') c;
        IF cardinality(parts) = 0 THEN RETURN CASE op WHEN 'OR' THEN 'false' ELSE 'true' END; END IF;
        RETURN CASE op WHEN 'AND' THEN '(' || array_to_string(parts, ' AND ') || ')'
                       WHEN 'OR' THEN '(' || array_to_string(parts, ' OR ') || ')'
                       ELSE 'NOT (' || array_to_string(parts, ' OR ') || ')' END;
    END IF;
    FOR k, v IN SELECT key, value FROM jsonb_each(f) LOOP
        CASE k
        WHEN 'parentId' THEN
            parts := parts || CASE WHEN jsonb_typeof(v) = 'null' THEN 'm.parent_id IS NULL'
                                   ELSE 'm.parent_id = ' || quote_literal(v #>> '{}') END;
        WHEN 'name' THEN
            parts := parts || ('strpos(lower(m.name), lower(' || quote_literal(v #>> '{}') || ')) > 0');
        WHEN 'role' THEN
            parts := parts || CASE WHEN jsonb_typeof(v) = 'null' THEN 'm.role IS NULL'
                                   ELSE 'm.role = ' || quote_literal(lower(v #>> '{}')) END;
        WHEN 'hasAnyRole' THEN
            IF jsonb_typeof(v) <> 'boolean' THEN PERFORM mailcluster._jerr('invalidArguments', 'hasAnyRole'); END IF;
            parts := parts || CASE WHEN v = 'true' THEN 'm.role IS NOT NULL' ELSE 'm.role IS NULL' END;
        WHEN 'isSubscribed' THEN
            IF jsonb_typeof(v) <> 'boolean' THEN PERFORM mailcluster._jerr('invalidArguments', 'isSubscribed'); END IF;
            parts := parts || ('m.is_subscribed = ' || (v #>> '{}'));
        ELSE
            PERFORM mailcluster._jerr('unsupportedFilter', format('unknown filter condition "%s"', k));
        END CASE;
    END LOOP;
    IF cardinality(parts) = 0 THEN RETURN 'true'; END IF;
    RETURN '(' || array_to_string(parts, ' AND ') || ')';
END $$;

-- Mailbox/query (RFC 8621 §2.3): filter, sort (sortOrder, name),
-- sortAsTree, filterAsTree, window, calculateTotal.  Read only.
CREATE FUNCTION mailcluster._m_mailbox_query(args jsonb, ctx jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    account text := mailcluster._arg_account(args);
    where_sql text := mailcluster._mailbox_filter_sql(args->'filter');
    sort jsonb := mailcluster._arg_type(args, 'sort', 'array');
    order_sql text := '';
    c jsonb;
    ids text[];
    all_sorted text[];
    matching text[];
    as_tree boolean := coalesce((mailcluster._arg_type(args, 'sortAsTree', 'boolean') #>> '{}')::boolean, false);
    filter_tree boolean := coalesce((mailcluster._arg_type(args, 'filterAsTree', 'boolean') #>> '{}')::boolean, false);
BEGIN
    FOR c IN SELECT value FROM jsonb_array_elements(coalesce(sort, '[]')) LOOP
        order_sql := order_sql ||
            CASE c->>'property' WHEN 'sortOrder' THEN 'm.sort_order'
                                WHEN 'name' THEN 'm.name COLLATE "C"'
                                ELSE NULL END ||
            CASE WHEN (c->>'isAscending')::boolean IS FALSE THEN ' DESC' ELSE '' END || ', ';
        IF c->>'property' NOT IN ('sortOrder', 'name') OR c->>'property' IS NULL THEN
            PERFORM mailcluster._jerr('unsupportedSort', format('cannot sort by "%s"', c->>'property'));
        END IF;
    END LOOP;
    -- every mailbox in comparator order, and the ones matching the filter
    EXECUTE format('SELECT array_agg(m.id ORDER BY %s m.sort_order, m.name COLLATE "C", m.id COLLATE "C")
                      FROM mailcluster.mailboxes m WHERE m.account_id = $1', order_sql)
       INTO all_sorted USING account;
    EXECUTE format('SELECT coalesce(array_agg(m.id), ''{}'') FROM mailcluster.mailboxes m
                     WHERE m.account_id = $1 AND %s', where_sql)
       INTO matching USING account;
    -- filterAsTree: only mailboxes whose ancestors all match too;
    -- sortAsTree: each mailbox directly followed by its descendants
    WITH RECURSIVE tree(id, anc, path) AS (
        SELECT m.id, ARRAY[]::text[], ARRAY[array_position(all_sorted, m.id)]
          FROM mailcluster.mailboxes m WHERE m.account_id = account AND m.parent_id IS NULL
        UNION ALL
        SELECT m.id, t.anc || t.id, t.path || array_position(all_sorted, m.id)
          FROM mailcluster.mailboxes m JOIN tree t ON m.parent_id = t.id
         WHERE m.account_id = account)
    SELECT array_agg(t.id ORDER BY CASE WHEN as_tree THEN t.path ELSE ARRAY[array_position(all_sorted, t.id)] END)
      INTO ids
      FROM tree t
     WHERE t.id = ANY (matching) AND (NOT filter_tree OR t.anc <@ matching);
    RETURN jsonb_build_object('name', 'Mailbox/query', 'args',
        jsonb_build_object('accountId', account, 'queryState', mailcluster._state(account, 'Mailbox'),
                           'canCalculateChanges', false)
        || (mailcluster._query_window(ids, args)
            - CASE WHEN (args->>'calculateTotal')::boolean IS TRUE THEN '' ELSE 'total' END));
END $$;

-- Mailbox/set: one mailbox_set command (creation ids of earlier calls and
-- ifInState are resolved/checked at apply).
CREATE FUNCTION mailcluster._m_mailbox_set(args jsonb, ctx jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    account text := mailcluster._arg_account(args);
    res jsonb;
BEGIN
    PERFORM mailcluster._arg_type(args, 'ifInState', 'string'),
            mailcluster._arg_type(args, 'create', 'object'),
            mailcluster._arg_type(args, 'update', 'object'),
            mailcluster._arg_type(args, 'destroy', 'array'),
            mailcluster._arg_type(args, 'onDestroyRemoveEmails', 'boolean');
    res := mailcluster._submit(mailcluster._compact(jsonb_build_object(
        'op', 'mailbox_set', 'account_id', account, 'if_in_state', args->'ifInState',
        'create', args->'create', 'update', args->'update', 'destroy', args->'destroy',
        'on_destroy_remove_emails', args->'onDestroyRemoveEmails',
        'cids', ctx->'createdIds')), ctx->>'request_id');
    IF res ? 'error' THEN
        PERFORM mailcluster._jerr(res->'error'->>'type', res->'error'->>'description');
    END IF;
    RETURN jsonb_build_object('name', 'Mailbox/set', 'args', res - 'cids',
                              'createdIds', res->'cids');
END $$;
