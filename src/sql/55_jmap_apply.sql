-- 55_jmap_apply.sql — THE state machine: mailcluster._apply(idx, cmd) (C,
-- jmap_guard.c + apply_dispatch.c) turns the write guard on and applies one
-- committed command at Raft index idx by dispatching on cmd->>'op' through
-- mailcluster._ops, recording the response under the command's request_id
-- (idempotency).  Also the small
-- ops: account_create, blob_put, purge_changes, purge_blobs, record_response.
-- Every op is deterministic: no now(), random(), sequences; ids come from
-- the index (_next_id), times from the command.

-- op name -> qualified name of its function (idx bigint, cmd jsonb) RETURNS
-- jsonb, and whether it neither reads nor writes mailcluster._responses
-- (blind): the apply worker's batches then store its response at the end
-- of the batch with the others'; an op that is not blind (the purges
-- delete old responses; the safe default for a new op) finds every earlier
-- response stored first.  Static: filled by the install script, the same
-- on every node.
CREATE TABLE mailcluster._ops (
    op      text PRIMARY KEY,
    fn      text NOT NULL,
    blind   boolean NOT NULL DEFAULT false
);

-- Apply one committed command at Raft index idx (THE state machine; C:
-- src/pg/jmap_guard.c turns the write guard on, src/pg/apply_dispatch.c
-- dispatches).  Contract: called in log order by the apply worker
-- ("mailcluster apply", standalone or clustered alike), once per index.  If
-- cmd's request_id was applied before, returns the stored response and
-- changes nothing; else runs the function _ops names for cmd->>'op' at
-- index idx and stores its response under the request_id.  Unknown ops
-- raise invalid_parameter_value.
CREATE FUNCTION mailcluster._apply(idx bigint, cmd jsonb) RETURNS jsonb
AS 'MODULE_PATHNAME', 'mc_jmap_apply' LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION mailcluster._apply(bigint, jsonb) FROM PUBLIC;

-- op account_create {name} -> {"id"}: the account and its six standard
-- mailboxes, with one Mailbox change row each, in one statement (C,
-- jmap_op_account.c).  The mailbox ids are those _next_id('M') would give
-- as the command's first six ids: M || base32(idx) || '-' || base32(1..6).
CREATE FUNCTION mailcluster._op_account_create(idx bigint, cmd jsonb) RETURNS jsonb
AS 'MODULE_PATHNAME', 'mc_jmap_op_account_create' LANGUAGE C VOLATILE;

-- Store blob bytes under their content address, once.  Contract: raises
-- invalid_parameter_value when the bytes do not hash to blob_id: an error
-- of the command, the same on every node, answered like any other (it was
-- data_corrupted, a class the apply worker takes for a fault of its own
-- node: it restarted and met it again, and the log stopped there).
CREATE FUNCTION mailcluster._blob_store(blob_id text, data bytea) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF blob_id IS DISTINCT FROM 'B' || encode(sha256(data), 'hex') THEN
        RAISE EXCEPTION 'blob % does not match its content', blob_id
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The bytes hash to B%s.', encode(sha256(data), 'hex'));
    END IF;
    INSERT INTO mailcluster.blobs (id, size, data) VALUES (blob_id, length(data), data)
    ON CONFLICT (id) DO NOTHING;
END $$;

-- Store the bytes a command (or an import item) carries for blob: inline
-- ("data", base64) or in "parts" earlier blob_part entries of "part_size"
-- bytes each, which are then deleted (the parts of the blob at any size).
-- Returns false when it carries none, or when its parts are not all there
-- (purged): the caller answers blobNotFound unless the blob is already
-- stored.
CREATE FUNCTION mailcluster._blob_take(blob text, c jsonb) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    whole bytea;
    n bigint;
BEGIN
    IF c ? 'data' THEN
        PERFORM mailcluster._blob_store(blob, decode(c->>'data', 'base64'));
        RETURN true;
    END IF;
    IF NOT c ? 'parts' THEN
        RETURN false;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM mailcluster.blobs b WHERE b.id = blob) THEN
        SELECT string_agg(p.data, ''::bytea ORDER BY p.seq), count(*) INTO whole, n
          FROM mailcluster._blob_parts p
         WHERE p.blob_id = blob AND p.part_size = coalesce((c->>'part_size')::int, 0);
        IF n IS DISTINCT FROM (c->>'parts')::bigint THEN
            RETURN false;
        END IF;
        PERFORM mailcluster._blob_store(blob, whole);
    END IF;
    DELETE FROM mailcluster._blob_parts p WHERE p.blob_id = blob;
    RETURN true;
END $$;

-- op blob_part {blob_id, part_size, seq, at, data (base64)}: one part of a
-- big blob, kept until the command that uses the blob arrives.
CREATE FUNCTION mailcluster._op_blob_part(idx bigint, cmd jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    INSERT INTO mailcluster._blob_parts (blob_id, part_size, seq, idx, at, data)
    VALUES (cmd->>'blob_id', coalesce((cmd->>'part_size')::int, 0), (cmd->>'seq')::int, idx,
            (cmd->>'at')::timestamptz, decode(cmd->>'data', 'base64'))
    ON CONFLICT (blob_id, part_size, seq) DO NOTHING;
    RETURN jsonb_build_object('blob_id', cmd->>'blob_id', 'seq', (cmd->>'seq')::int);
END $$;

-- Make blob readable by account (blob must exist); at is the proposer's time.
CREATE FUNCTION mailcluster._blob_grant(account text, blob text, typ text, at timestamptz) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    INSERT INTO mailcluster.account_blobs (account_id, blob_id, type, idx, granted_at)
    VALUES (account, blob, coalesce(typ, 'application/octet-stream'), mailcluster._cur_idx(), at)
    ON CONFLICT (account_id, blob_id) DO UPDATE SET idx = excluded.idx, granted_at = excluded.granted_at;
END $$;

-- op blob_put {account_id, blob_id, type, at, data (base64, absent when
-- the blob is already stored)} -> RFC 8620 upload response.
CREATE FUNCTION mailcluster._op_blob_put(idx bigint, cmd jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    blob text := cmd->>'blob_id';
    sz bigint;
BEGIN
    PERFORM mailcluster._blob_take(blob, cmd);
    SELECT size INTO sz FROM mailcluster.blobs WHERE id = blob;
    IF sz IS NULL THEN
        RETURN jsonb_build_object('error', 'blobNotFound');
    END IF;
    PERFORM mailcluster._blob_grant(cmd->>'account_id', blob, cmd->>'type', (cmd->>'at')::timestamptz);
    RETURN jsonb_build_object('accountId', cmd->>'account_id', 'blobId', blob,
                              'type', cmd->>'type', 'size', sz);
END $$;

-- op purge_changes {before_idx}: forget change rows older than before_idx
-- (keeping the newest row of each type so states stay put) and the stored
-- responses of older requests; /changes from an older state then answers
-- cannotCalculateChanges.
--
-- It looks only at the types (account, type) with a row at or after the
-- highest horizon of any purge before, H (_purge_state): a row older than
-- before_idx that another row of its type outdates either is itself at or
-- after H, or was its type's newest when the purge with horizon H ran (that
-- purge removed every outdated row below H), and the row outdating it came
-- later, at an index above H.  So the work follows the writes since the
-- last purge, not the size of the table (every type of every account keeps
-- its newest rows for ever).
CREATE FUNCTION mailcluster._op_purge_changes(idx bigint, cmd jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    before bigint := (cmd->>'before_idx')::bigint;
    since bigint := (SELECT p.changes_before FROM mailcluster._purge_state p);
    n bigint;
BEGIN
    -- the horizon moves only for accounts that lost change rows: the others
    -- still hold every row they had, and rewriting every account row each
    -- round left as many dead rows as accounts, slowing every later lookup
    -- a touched type's newest row is at or after the horizon, so the max
    -- over those rows is its max: one aggregate, not a lookup per row
    WITH touched AS (
        SELECT t.account_id, t.type, max(t.idx) AS top
          FROM mailcluster.changes t WHERE t.idx >= since GROUP BY t.account_id, t.type),
    gone AS (
        DELETE FROM mailcluster.changes c USING touched g
         WHERE c.account_id = g.account_id AND c.type = g.type
           AND c.idx < before AND c.idx < g.top
        RETURNING c.account_id),
    moved AS (
        UPDATE mailcluster.accounts a SET purged_before = before
         WHERE a.id IN (SELECT account_id FROM gone) AND a.purged_before < before)
    SELECT count(*) INTO n FROM gone;
    UPDATE mailcluster._purge_state SET changes_before = greatest(changes_before, before);
    -- stored responses of requests older than the horizon: their retries are long over
    DELETE FROM mailcluster._responses WHERE _responses.idx < before;
    RETURN jsonb_build_object('deleted', n);
END $$;

-- op purge_blobs {before_idx | before_time}: drop upload grants older than
-- the cut (log index, or the proposer's time of the grant) that no email of
-- the account uses, then blobs nothing references.
--
-- It looks only at the grants that can have become droppable since its last
-- round (_purge_state), not at every grant: those that passed the cut since
-- then (granted_at from the last before_time, idx from the last before_idx),
-- those granted since the last time round with a time already past the cut,
-- and those whose email was destroyed since (_blob_candidates; a candidate
-- whose grant is younger than the cut stays for a later round).  A grant
-- older than the last cut that an email used then is still used unless that
-- email was destroyed, which put it in _blob_candidates.  Blobs are looked at
-- when one of their grants went or an email let go of them.  So a round costs
-- what was uploaded and destroyed since the last one, not the size of the
-- store (it scanned blobs and account_blobs whole, on every node).
CREATE FUNCTION mailcluster._op_purge_blobs(idx bigint, cmd jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    before bigint := (cmd->>'before_idx')::bigint;
    before_t timestamptz := (cmd->>'before_time')::timestamptz;
    st mailcluster._purge_state;
    blob_ids text[];
    n bigint;
BEGIN
    SELECT * INTO st FROM mailcluster._purge_state;
    -- the grants dropped and the blobs let go of, for the blob pass (a second
    -- statement: one statement's NOT EXISTS would still see the grants)
    WITH look AS (
        SELECT ab.account_id, ab.blob_id FROM mailcluster.account_blobs ab
         WHERE ab.granted_at >= st.blobs_time AND ab.granted_at < before_t
        UNION
        SELECT ab.account_id, ab.blob_id FROM mailcluster.account_blobs ab
         WHERE ab.idx > st.blobs_time_idx AND ab.granted_at < before_t
        UNION
        SELECT ab.account_id, ab.blob_id FROM mailcluster.account_blobs ab
         WHERE ab.idx >= st.blobs_before AND ab.idx < before
        UNION
        -- (no join here: with an unanalysed candidates table the planner
        -- hashed it against a parallel scan of every grant)
        SELECT c.account_id, c.blob_id FROM mailcluster._blob_candidates c),
    gone AS (
        DELETE FROM mailcluster.account_blobs ab USING look l
         WHERE ab.account_id = l.account_id AND ab.blob_id = l.blob_id
           AND (ab.idx < before OR ab.granted_at < before_t)
           AND NOT EXISTS (SELECT 1 FROM mailcluster.emails e
                            WHERE e.account_id = ab.account_id AND e.blob_id = ab.blob_id)
        RETURNING ab.blob_id)
    SELECT coalesce(array_agg(DISTINCT x.blob_id), '{}') INTO blob_ids
      FROM (SELECT g.blob_id FROM gone g
            UNION ALL SELECT c.blob_id FROM mailcluster._blob_candidates c) x;
    DELETE FROM mailcluster.blobs b
     WHERE b.id = ANY (blob_ids)
       AND NOT EXISTS (SELECT 1 FROM mailcluster.emails e WHERE e.blob_id = b.id)
       AND NOT EXISTS (SELECT 1 FROM mailcluster.account_blobs ab WHERE ab.blob_id = b.id);
    GET DIAGNOSTICS n = ROW_COUNT;
    -- candidates are done with unless a grant of theirs is still younger
    -- than this cut (a cut behind an earlier one, from a clock behind): those
    -- wait for a later round
    DELETE FROM mailcluster._blob_candidates c
     WHERE NOT EXISTS (SELECT 1 FROM mailcluster.account_blobs ab
                        WHERE ab.account_id = c.account_id AND ab.blob_id = c.blob_id
                          AND NOT (coalesce(ab.idx < before, false) OR coalesce(ab.granted_at < before_t, false)));
    -- the horizons only move forward (another proposer's clock may be
    -- behind).  blobs_time_idx moves with blobs_time: every grant at or
    -- below it older than blobs_time has been looked at, which a round with
    -- a lower cut cannot say of the grants between its cut and blobs_time.
    IF before_t IS NOT NULL AND before_t >= st.blobs_time THEN
        UPDATE mailcluster._purge_state SET blobs_time = before_t, blobs_time_idx = idx;
    END IF;
    IF before IS NOT NULL THEN
        UPDATE mailcluster._purge_state SET blobs_before = greatest(blobs_before, before);
    END IF;
    -- parts of a blob whose command never came (it failed or timed out)
    DELETE FROM mailcluster._blob_parts p WHERE p.idx < before OR p.at < before_t;
    RETURN jsonb_build_object('deleted', n);
END $$;

-- op record_response {response}: stores a whole jmap() response under the
-- request's request_id, so a retry returns it verbatim.  Built into the
-- dispatcher (apply_dispatch.c): its result is cmd->'response', and
-- _apply stores it like any op's; it has no row in _ops.

INSERT INTO mailcluster._ops VALUES
    ('account_create',  'mailcluster._op_account_create', true),
    ('blob_put',        'mailcluster._op_blob_put',       true),
    ('blob_part',       'mailcluster._op_blob_part',      true),
    ('purge_changes',   'mailcluster._op_purge_changes',  false),   -- deletes old responses
    ('purge_blobs',     'mailcluster._op_purge_blobs',    false);
