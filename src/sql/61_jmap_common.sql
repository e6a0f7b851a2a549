-- 61_jmap_common.sql — argument checks and the generic parts of the RFC
-- 8620 standard methods shared by Mailbox, Email and Thread: accountId,
-- ids/properties of /get, /changes from the changes table, query windows
-- (position, anchor, limit), and Core/echo.  Method handlers take
-- (args jsonb, ctx jsonb) and return {"name", "args"[, "createdIds"]};
-- method-level errors are raised with _jerr() (SQLSTATE MJ000).

-- The accountId argument, checked: invalidArguments / accountNotFound.
CREATE FUNCTION mailcluster._arg_account(args jsonb) RETURNS text
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF jsonb_typeof(args->'accountId') IS DISTINCT FROM 'string' THEN
        PERFORM mailcluster._jerr('invalidArguments', 'accountId must be a string');
    END IF;
    IF NOT EXISTS (SELECT 1 FROM mailcluster.accounts WHERE id = args->>'accountId') THEN
        PERFORM mailcluster._jerr('accountNotFound');
    END IF;
    RETURN args->>'accountId';
END $$;

-- An optional argument that must be absent/null or of JSON type typ.
CREATE FUNCTION mailcluster._arg_type(args jsonb, name text, typ text) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF args ? name AND jsonb_typeof(args->name) NOT IN ('null', typ) THEN
        PERFORM mailcluster._jerr('invalidArguments', format('%s must be of type %s', name, typ));
    END IF;
    RETURN CASE WHEN jsonb_typeof(args->name) = 'null' THEN NULL ELSE args->name END;
END $$;

-- Optional non-negative integer argument (UnsignedInt), or dflt.
CREATE FUNCTION mailcluster._arg_uint(args jsonb, name text, dflt bigint) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE v jsonb := mailcluster._arg_type(args, name, 'number');
BEGIN
    IF v IS NULL THEN RETURN dflt; END IF;
    IF (v #>> '{}') !~ '^[0-9]{1,15}$' THEN
        PERFORM mailcluster._jerr('invalidArguments', format('%s must be an unsigned integer', name));
    END IF;
    RETURN (v #>> '{}')::bigint;
END $$;

-- Optional integer argument (Int), or dflt.
CREATE FUNCTION mailcluster._arg_int(args jsonb, name text, dflt bigint) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE v jsonb := mailcluster._arg_type(args, name, 'number');
BEGIN
    IF v IS NULL THEN RETURN dflt; END IF;
    IF (v #>> '{}') !~ '^-?[0-9]{1,15}$' THEN
        PERFORM mailcluster._jerr('invalidArguments', format('%s must be an integer', name));
    END IF;
    RETURN (v #>> '{}')::bigint;
END $$;

-- The ids argument of /get: NULL (all) or an array of strings.
CREATE FUNCTION mailcluster._arg_ids(args jsonb) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE v jsonb := mailcluster._arg_type(args, 'ids', 'array');
BEGIN
    IF v IS NULL THEN RETURN NULL; END IF;
    IF EXISTS (SELECT 1 FROM jsonb_array_elements(v) x WHERE jsonb_typeof(x) <> 'string') THEN
        PERFORM mailcluster._jerr('invalidArguments', 'ids must be an array of strings');
    END IF;
    RETURN mailcluster._text_array(v);
END $$;

-- The properties argument: dflt when absent, else checked against known
-- (a name ending in '*' in known accepts any name with that prefix); "id"
-- is always included.
CREATE FUNCTION mailcluster._arg_props(args jsonb, name text, known text[], dflt text[], add_id boolean)
RETURNS text[] LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    v jsonb := mailcluster._arg_type(args, name, 'array');
    p text[];
    bad text;
BEGIN
    IF v IS NULL THEN p := dflt;
    ELSE
        IF EXISTS (SELECT 1 FROM jsonb_array_elements(v) x WHERE jsonb_typeof(x) <> 'string') THEN
            PERFORM mailcluster._jerr('invalidArguments', name || ' must be an array of strings');
        END IF;
        p := mailcluster._text_array(v);
        SELECT x INTO bad FROM unnest(p) x
         WHERE NOT EXISTS (SELECT 1 FROM unnest(known) k
                            WHERE k = x OR (right(k, 1) = '*' AND starts_with(x, left(k, -1))))
         LIMIT 1;
        IF bad IS NOT NULL THEN
            PERFORM mailcluster._jerr('invalidArguments', format('unknown property "%s"', bad));
        END IF;
    END IF;
    IF add_id AND NOT 'id' = ANY (p) THEN p := ARRAY['id'] || p; END IF;
    RETURN p;
END $$;

-- Generic /changes over the changes table (RFC 8620 §5.2): created,
-- updated, destroyed since sinceState, at most maxChanges objects, cut at
-- an index boundary (hasMoreChanges).  cannotCalculateChanges when the
-- state is malformed, in the future or older than the purge horizon.
CREATE FUNCTION mailcluster._changes(typ text, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    account text := mailcluster._arg_account(args);
    since_j jsonb := args->'sinceState';
    max_changes bigint := mailcluster._arg_uint(args, 'maxChanges', NULL);
    cur bigint := mailcluster._state(account, typ)::bigint;
    since bigint;
    upto bigint;
    r record;
BEGIN
    IF jsonb_typeof(since_j) IS DISTINCT FROM 'string' THEN
        PERFORM mailcluster._jerr('invalidArguments', 'sinceState must be a string');
    END IF;
    IF max_changes = 0 THEN
        PERFORM mailcluster._jerr('invalidArguments', 'maxChanges must be positive');
    END IF;
    IF (since_j #>> '{}') !~ '^[0-9]{1,18}$' THEN
        PERFORM mailcluster._jerr('cannotCalculateChanges', 'unknown state');
    END IF;
    since := (since_j #>> '{}')::bigint;
    IF since > cur OR since < (SELECT purged_before - 1 FROM mailcluster.accounts WHERE id = account)
       OR since < (SELECT created_idx FROM mailcluster.accounts WHERE id = account) THEN
        PERFORM mailcluster._jerr('cannotCalculateChanges',
                                  'the state is unknown or its changes have been purged');
    END IF;
    upto := cur;
    IF max_changes IS NOT NULL THEN
        SELECT coalesce(max(idx) FILTER (WHERE running <= max_changes), min(idx)) INTO upto
          FROM (SELECT idx, count(*) OVER (ORDER BY idx) AS running
                  FROM (SELECT obj_id, min(idx) AS idx FROM mailcluster.changes
                         WHERE account_id = account AND type = typ AND idx > since
                         GROUP BY obj_id) f) w;
        upto := coalesce(upto, cur);
    END IF;
    SELECT coalesce(jsonb_agg(obj_id ORDER BY obj_id COLLATE "C") FILTER (WHERE c AND NOT d), '[]') AS created,
           coalesce(jsonb_agg(obj_id ORDER BY obj_id COLLATE "C") FILTER (WHERE NOT c AND NOT d), '[]') AS updated,
           coalesce(jsonb_agg(obj_id ORDER BY obj_id COLLATE "C") FILTER (WHERE d AND NOT c), '[]') AS destroyed
      INTO r
      FROM (SELECT obj_id, bool_or(kind = 'c') AS c, bool_or(kind = 'd') AS d
              FROM mailcluster.changes
             WHERE account_id = account AND type = typ AND idx > since AND idx <= upto
             GROUP BY obj_id) x;
    RETURN jsonb_build_object('accountId', account, 'oldState', since::text,
                              'newState', (CASE WHEN upto < cur THEN upto ELSE cur END)::text,
                              'hasMoreChanges', upto < cur,
                              'created', r.created, 'updated', r.updated, 'destroyed', r.destroyed);
END $$;

-- Apply position/anchor/anchorOffset/limit (RFC 8620 §5.5) to a full
-- result list; returns {position, ids, total} (the client's limit is
-- applied as given, so no "limit" is returned).
CREATE FUNCTION mailcluster._query_window(ids text[], args jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    total int := coalesce(cardinality(ids), 0);
    pos bigint := mailcluster._arg_int(args, 'position', 0);
    lim bigint := mailcluster._arg_uint(args, 'limit', NULL);
    anchor jsonb := mailcluster._arg_type(args, 'anchor', 'string');
    aoff bigint := mailcluster._arg_int(args, 'anchorOffset', 0);
    a int;
BEGIN
    IF anchor IS NOT NULL THEN
        a := array_position(ids, anchor #>> '{}');
        IF a IS NULL THEN PERFORM mailcluster._jerr('anchorNotFound'); END IF;
        pos := greatest(a - 1 + aoff, 0);
    ELSIF pos < 0 THEN
        pos := greatest(total + pos, 0);
    END IF;
    IF pos > total THEN pos := total; END IF;
    RETURN jsonb_strip_nulls(jsonb_build_object(
        'position', pos,
        'ids', to_jsonb(coalesce(ids[pos + 1 : CASE WHEN lim IS NULL THEN total ELSE pos + lim END], '{}')),
        'total', total));
END $$;

-- Core/echo: returns the arguments unchanged (RFC 8620 §4).
CREATE FUNCTION mailcluster._m_core_echo(args jsonb, ctx jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object('name', 'Core/echo', 'args', args);
$$;

-- Foo/queryChanges: query results are not tracked, so a client must re-run
-- the query (RFC 8620 §5.6 cannotCalculateChanges); arguments still checked.
CREATE FUNCTION mailcluster._m_query_changes(args jsonb, ctx jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    PERFORM mailcluster._arg_account(args);
    IF jsonb_typeof(args->'sinceQueryState') IS DISTINCT FROM 'string' THEN
        PERFORM mailcluster._jerr('invalidArguments', 'sinceQueryState must be a string');
    END IF;
    PERFORM mailcluster._jerr('cannotCalculateChanges', 'query changes are not tracked; run the query again');
    RETURN NULL;
END $$;
