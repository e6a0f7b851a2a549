-- 70_jmap_thread.sql — Thread/get and Thread/changes (RFC 8621 §3).
-- A thread's emailIds are its emails sorted by receivedAt, then id.

-- Thread/get (RFC 8621 §3.1): ids (null = up to 1000 threads).  Read only.
CREATE FUNCTION mailcluster._m_thread_get(args jsonb, ctx jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    account text := mailcluster._arg_account(args);
    ids text[] := mailcluster._arg_ids(args);
    list jsonb;
    not_found jsonb;
BEGIN
    PERFORM mailcluster._arg_props(args, 'properties', ARRAY['id', 'emailIds'], ARRAY['id', 'emailIds'], true);
    IF ids IS NULL THEN
        ids := ARRAY(SELECT id FROM mailcluster.threads WHERE account_id = account
                      ORDER BY id COLLATE "C" LIMIT 1000);
    END IF;
    SELECT coalesce(jsonb_agg(jsonb_build_object('id', t.id, 'emailIds',
               (SELECT coalesce(jsonb_agg(e.id ORDER BY e.received_at, e.id COLLATE "C"), '[]')
                  FROM mailcluster.emails e WHERE e.account_id = account AND e.thread_id = t.id))
               ORDER BY x.n), '[]')
      INTO list
      FROM unnest(ids) WITH ORDINALITY AS x(id, n)
      JOIN mailcluster.threads t ON t.account_id = account AND t.id = x.id;
    SELECT coalesce(jsonb_agg(x ORDER BY n), '[]') INTO not_found
      FROM unnest(ids) WITH ORDINALITY AS u(x, n)
     WHERE NOT EXISTS (SELECT 1 FROM mailcluster.threads WHERE account_id = account AND id = x);
    RETURN jsonb_build_object('name', 'Thread/get', 'args', jsonb_build_object(
        'accountId', account, 'state', mailcluster._state(account, 'Thread'),
        'list', list, 'notFound', not_found));
END $$;

-- Thread/changes (RFC 8621 §3.2): the generic /changes.
CREATE FUNCTION mailcluster._m_thread_changes(args jsonb, ctx jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('name', 'Thread/changes', 'args', mailcluster._changes('Thread', args));
$$;
