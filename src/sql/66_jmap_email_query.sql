-- 66_jmap_email_query.sql — Email/query (RFC 8621 §4.4): the filter
-- conditions and operators compiled to one SQL WHERE clause over emails e,
-- the sort comparators to an ORDER BY, collapseThreads, position / anchor /
-- limit and calculateTotal.

-- SQL condition for an Email FilterCondition / FilterOperator.
-- Raises unsupportedFilter for unknown conditions, invalidArguments for
-- values of the wrong type.
CREATE FUNCTION mailcluster._email_filter_sql(f jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    parts text[] := '{}';
    k text;
    v jsonb;
    s text;
    op text;
    thread_kw constant text := '(SELECT 1 FROM mailcluster.emails t WHERE t.account_id = e.account_id AND t.thread_id = e.thread_id AND %s(t.keywords ? %L))';
BEGIN
    IF f IS NULL OR jsonb_typeof(f) = 'null' THEN RETURN 'true'; END IF;
    IF jsonb_typeof(f) <> 'object' THEN
        PERFORM mailcluster._jerr('invalidArguments', 'filter must be an object');
    END IF;
    IF f ? 'operator' THEN
        op := f->>'operator';
        IF op IS NULL OR op NOT IN ('AND', 'OR', 'NOT')
           OR jsonb_typeof(f->'conditions') IS DISTINCT FROM 'array' THEN
            PERFORM mailcluster._jerr('invalidArguments', 'a FilterOperator needs operator AND/OR/NOT and conditions');
        END IF;
        SELECT coalesce(array_agg(mailcluster._email_filter_sql(c) ORDER BY n), '{}') INTO parts
          FROM jsonb_array_elements(f->'conditions') WITH ORDINALITY AS t(c, n);
        IF cardinality(parts) = 0 THEN RETURN CASE op WHEN 'OR' THEN 'false' ELSE 'true' END; END IF;
        RETURN CASE op WHEN 'AND' THEN '(' || array_to_string(parts, ' AND ') || ')'
                       WHEN 'OR' THEN '(' || array_to_string(parts, ' OR ') || ')'
                       ELSE 'NOT (' || array_to_string(parts, ' OR ') || ')' END;
    END IF;
    FOR k, v IN SELECT key, value FROM jsonb_each(f) LOOP
        s := v #>> '{}';
        IF k IN ('inMailbox', 'before', 'after', 'allInThreadHaveKeyword', 'someInThreadHaveKeyword',
                 'noneInThreadHaveKeyword', 'hasKeyword', 'notKeyword', 'text', 'from', 'to', 'cc',
                 'bcc', 'subject', 'body') AND jsonb_typeof(v) <> 'string' THEN
            PERFORM mailcluster._jerr('invalidArguments', format('filter %s must be a string', k));
        END IF;
        IF k IN ('before', 'after') AND s !~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$' THEN
            PERFORM mailcluster._jerr('invalidArguments', format('filter %s must be a UTCDate', k));
        END IF;
        IF k IN ('minSize', 'maxSize') AND (jsonb_typeof(v) <> 'number' OR s !~ '^[0-9]{1,15}$') THEN
            PERFORM mailcluster._jerr('invalidArguments', format('filter %s must be an unsigned integer', k));
        END IF;
        parts := parts || CASE k
            WHEN 'inMailbox' THEN format('EXISTS (SELECT 1 FROM mailcluster.email_mailboxes em WHERE em.account_id = e.account_id AND em.email_id = e.id AND em.mailbox_id = %L)', s)
            WHEN 'inMailboxOtherThan' THEN
                CASE WHEN jsonb_typeof(v) <> 'array' THEN NULL
                     ELSE format('EXISTS (SELECT 1 FROM mailcluster.email_mailboxes em WHERE em.account_id = e.account_id AND em.email_id = e.id AND em.mailbox_id <> ALL (%L::text[]))',
                                 mailcluster._text_array(v)) END
            WHEN 'before' THEN format('e.received_at < %L::timestamptz', s)
            WHEN 'after' THEN format('e.received_at >= %L::timestamptz', s)
            WHEN 'minSize' THEN format('e.size >= %s', s)
            WHEN 'maxSize' THEN format('e.size < %s', s)
            WHEN 'allInThreadHaveKeyword' THEN 'NOT EXISTS ' || format(thread_kw, 'NOT ', lower(s))
            WHEN 'someInThreadHaveKeyword' THEN 'EXISTS ' || format(thread_kw, '', lower(s))
            WHEN 'noneInThreadHaveKeyword' THEN 'NOT EXISTS ' || format(thread_kw, '', lower(s))
            WHEN 'hasKeyword' THEN format('(e.keywords ? %L)', lower(s))
            WHEN 'notKeyword' THEN format('NOT (e.keywords ? %L)', lower(s))
            WHEN 'hasAttachment' THEN
                CASE WHEN jsonb_typeof(v) <> 'boolean' THEN NULL ELSE format('e.has_attachment = %s', s) END
            WHEN 'text' THEN format('strpos(lower(coalesce(e.subject, '''') || '' '' || coalesce(e."from"::text, '''') || '' '' || coalesce(e."to"::text, '''') || '' '' || coalesce(e.cc::text, '''') || '' '' || coalesce(e.bcc::text, '''') || '' '' || e.search_text), lower(%L)) > 0', s)
            WHEN 'from' THEN format('strpos(lower(coalesce(e."from"::text, '''')), lower(%L)) > 0', s)
            WHEN 'to' THEN format('strpos(lower(coalesce(e."to"::text, '''')), lower(%L)) > 0', s)
            WHEN 'cc' THEN format('strpos(lower(coalesce(e.cc::text, '''')), lower(%L)) > 0', s)
            WHEN 'bcc' THEN format('strpos(lower(coalesce(e.bcc::text, '''')), lower(%L)) > 0', s)
            WHEN 'subject' THEN format('strpos(lower(coalesce(e.subject, '''')), lower(%L)) > 0', s)
            WHEN 'body' THEN format('strpos(e.search_text, lower(%L)) > 0', s)
            WHEN 'header' THEN
                CASE WHEN jsonb_typeof(v) <> 'array' OR jsonb_array_length(v) NOT IN (1, 2) THEN NULL
                     ELSE format('EXISTS (SELECT 1 FROM jsonb_array_elements(e.headers) h WHERE lower(h->>''name'') = lower(%L) AND (%L IS NULL OR strpos(lower(h->>''value''), lower(%L)) > 0))',
                                 v->>0, v->>1, v->>1) END
            ELSE 'unsupported' END;
        IF parts[cardinality(parts)] IS NULL THEN
            PERFORM mailcluster._jerr('invalidArguments', format('bad value for filter %s', k));
        ELSIF parts[cardinality(parts)] = 'unsupported' THEN
            PERFORM mailcluster._jerr('unsupportedFilter', format('unknown filter condition "%s"', k));
        END IF;
    END LOOP;
    IF cardinality(parts) = 0 THEN RETURN 'true'; END IF;
    RETURN '(' || array_to_string(parts, ' AND ') || ')';
END $$;

-- ORDER BY list for Email/query sort comparators (unsupportedSort for
-- unknown properties); always ends with the id as a tie-breaker.
CREATE FUNCTION mailcluster._email_sort_sql(sort jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    c jsonb;
    expr text;
    out text := '';
BEGIN
    IF sort IS NULL OR jsonb_typeof(sort) = 'null' THEN
        RETURN 'e.received_at DESC, e.id COLLATE "C"';
    END IF;
    IF jsonb_typeof(sort) <> 'array' THEN
        PERFORM mailcluster._jerr('invalidArguments', 'sort must be an array');
    END IF;
    FOR c IN SELECT value FROM jsonb_array_elements(sort) LOOP
        IF jsonb_typeof(c) <> 'object' OR jsonb_typeof(c->'property') <> 'string' THEN
            PERFORM mailcluster._jerr('invalidArguments', 'a Comparator needs a property');
        END IF;
        IF c->>'property' IN ('hasKeyword', 'allInThreadHaveKeyword', 'someInThreadHaveKeyword')
           AND jsonb_typeof(c->'keyword') IS DISTINCT FROM 'string' THEN
            PERFORM mailcluster._jerr('invalidArguments', c->>'property' || ' needs a keyword');
        END IF;
        expr := CASE c->>'property'
            WHEN 'receivedAt' THEN 'e.received_at'
            WHEN 'size' THEN 'e.size'
            WHEN 'from' THEN 'lower(coalesce(e."from"->0->>''name'', e."from"->0->>''email'', '''')) COLLATE "C"'
            WHEN 'to' THEN 'lower(coalesce(e."to"->0->>''name'', e."to"->0->>''email'', '''')) COLLATE "C"'
            WHEN 'subject' THEN 'e.thread_subject COLLATE "C"'
            WHEN 'sentAt' THEN 'e.sent_at'
            WHEN 'hasKeyword' THEN format('(e.keywords ? %L)', lower(c->>'keyword'))
            WHEN 'allInThreadHaveKeyword' THEN format('NOT EXISTS (SELECT 1 FROM mailcluster.emails t WHERE t.account_id = e.account_id AND t.thread_id = e.thread_id AND NOT (t.keywords ? %L))', lower(c->>'keyword'))
            WHEN 'someInThreadHaveKeyword' THEN format('EXISTS (SELECT 1 FROM mailcluster.emails t WHERE t.account_id = e.account_id AND t.thread_id = e.thread_id AND (t.keywords ? %L))', lower(c->>'keyword'))
            ELSE NULL END;
        IF expr IS NULL THEN
            PERFORM mailcluster._jerr('unsupportedSort', format('cannot sort by "%s"', c->>'property'));
        END IF;
        -- Only sentAt can be NULL: NULLS LAST on the NOT NULL columns would
        -- change nothing in the result but keep the planner from walking
        -- emails_received (received_at DESC is NULLS FIRST).
        out := out || expr || CASE WHEN (c->>'isAscending')::boolean IS FALSE THEN ' DESC' ELSE ' ASC' END
                   || CASE WHEN c->>'property' = 'sentAt' THEN ' NULLS LAST' ELSE '' END || ', ';
    END LOOP;
    RETURN out || 'e.id COLLATE "C"';
END $$;

-- Email/query (RFC 8621 §4.4).  Without an anchor the window is done by
-- OFFSET/LIMIT in the database; with one, over the whole sorted list.
CREATE FUNCTION mailcluster._m_email_query(args jsonb, ctx jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    account text := mailcluster._arg_account(args);
    where_sql text := mailcluster._email_filter_sql(args->'filter');
    order_sql text := mailcluster._email_sort_sql(args->'sort');
    collapse boolean := coalesce((mailcluster._arg_type(args, 'collapseThreads', 'boolean') #>> '{}')::boolean, false);
    calc boolean := coalesce((mailcluster._arg_type(args, 'calculateTotal', 'boolean') #>> '{}')::boolean, false);
    pos bigint := mailcluster._arg_int(args, 'position', 0);
    lim bigint := mailcluster._arg_uint(args, 'limit', NULL);
    q text;
    ids text[];
    total bigint;
    win jsonb;
BEGIN
    IF collapse THEN
        q := format('SELECT id FROM (SELECT e.id, row_number() OVER (ORDER BY %1$s) AS rn,
                                            row_number() OVER (PARTITION BY e.thread_id ORDER BY %1$s) AS trn
                                       FROM mailcluster.emails e WHERE e.account_id = $1 AND %2$s) s
                     WHERE trn = 1 ORDER BY rn', order_sql, where_sql);
    ELSE
        q := format('SELECT e.id FROM mailcluster.emails e WHERE e.account_id = $1 AND %s ORDER BY %s',
                    where_sql, order_sql);
    END IF;
    IF NOT args ? 'anchor' AND pos >= 0 AND jsonb_typeof(args->'anchor') IS DISTINCT FROM 'string' THEN
        -- fast path: let the database do the window
        EXECUTE format('SELECT array_agg(id) FROM (%s OFFSET %s %s) w', q, pos,
                       CASE WHEN lim IS NULL THEN '' ELSE 'LIMIT ' || lim END)
           INTO ids USING account;
        IF calc THEN
            EXECUTE format('SELECT count(*) FROM (%s) c', q) INTO total USING account;
        END IF;
        win := jsonb_build_object('position', pos, 'ids', to_jsonb(coalesce(ids, '{}')));
        IF calc THEN win := win || jsonb_build_object('total', total); END IF;
    ELSE
        EXECUTE format('SELECT array_agg(id) FROM (%s) w', q) INTO ids USING account;
        win := mailcluster._query_window(ids, args);
        IF NOT calc THEN win := win - 'total'; END IF;
    END IF;
    RETURN jsonb_build_object('name', 'Email/query', 'args',
        jsonb_build_object('accountId', account, 'queryState', mailcluster._state(account, 'Email'),
                           'canCalculateChanges', false, 'collapseThreads', collapse) || win);
END $$;
