-- 60_jmap_api.sql — the SQL entry points beside jmap() (SPEC §4):
-- account_create, blob_upload, blob_download, deliver.  Each write is one
-- command through _submit; parsing and hashing happen here, on the proposer.

-- Largest message deliver/import accept (bytes): mcjmap.max_email_size,
-- default 64 MB.
CREATE FUNCTION mailcluster._max_email_size() RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('mcjmap.max_email_size', true), '')::bigint, 67108864);
$$;

-- Content address of bytes.
CREATE FUNCTION mailcluster._blob_id(data bytea) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT 'B' || encode(sha256(data), 'hex') $$;

-- Now as a JMAP UTCDate (the proposer's clock; apply never reads clocks).
CREATE FUNCTION mailcluster._utc_now() RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"');
$$;

-- Largest blob carried inline in one command (bytes): 1 MB, or half of
-- mailcluster.raft_batch_max if that is less (base64 makes it 4/3 bigger),
-- so that every entry fits one AppendEntries batch and one RPC frame and
-- commits well within raft_commit_timeout; bigger blobs travel in parts of
-- this size (a 50 MB message: 50 parts by default).
CREATE FUNCTION mailcluster._blob_part_size() RETURNS int
LANGUAGE sql STABLE AS $$
    SELECT (greatest(65536, least(1048576,
               coalesce((SELECT setting::bigint FROM pg_catalog.pg_settings
                          WHERE name = 'mailcluster.raft_batch_max'), 10485760) / 2)) / 3 * 3)::int;
$$;

-- The bytes of blob for a command: {"data": base64} when they fit one
-- entry; else proposes them first as blob_part entries (one each) and
-- returns {"parts": n, "part_size": size} for the command, whose apply
-- joins them.
CREATE FUNCTION mailcluster._blob_carry(blob text, data bytea) RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    sz int := mailcluster._blob_part_size();
    n int := (length(data) + sz - 1) / sz;
    at text := mailcluster._utc_now();
BEGIN
    IF length(data) <= sz THEN
        RETURN jsonb_build_object('data', encode(data, 'base64'));
    END IF;
    FOR i IN 0 .. n - 1 LOOP
        PERFORM mailcluster._submit(jsonb_build_object('op', 'blob_part', 'blob_id', blob,
                    'part_size', sz, 'seq', i,
                    'at', at, 'data', encode(substring(data FROM i * sz + 1 FOR sz), 'base64')));
    END LOOP;
    RETURN jsonb_build_object('parts', n, 'part_size', sz);
END $$;
REVOKE ALL ON FUNCTION mailcluster._blob_carry(text, bytea) FROM PUBLIC;

-- Raise undefined_object unless the account exists.
CREATE FUNCTION mailcluster._need_account(account text) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF account IS NULL OR NOT EXISTS (SELECT 1 FROM mailcluster.accounts WHERE id = account) THEN
        RAISE EXCEPTION 'account "%" does not exist', account
            USING ERRCODE = 'undefined_object',
                  HINT = 'Create accounts with mailcluster.account_create(name).';
    END IF;
END $$;

-- Create an account with its standard mailboxes; returns the account id.
CREATE FUNCTION mailcluster.account_create(name text) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF name IS NULL OR btrim(name) = '' THEN
        RAISE EXCEPTION 'account name must not be empty'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN mailcluster._submit(jsonb_build_object('op', 'account_create', 'name', name)) ->> 'id';
END $$;

-- Upload bytes as a blob of the account; returns the RFC 8620 upload
-- response {accountId, blobId, type, size}.  Bytes already stored (by any
-- account) are not carried in the command again.
CREATE FUNCTION mailcluster.blob_upload(account_id text, data bytea, type text DEFAULT 'message/rfc822')
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    blob text;
    cmd jsonb;
    res jsonb;
BEGIN
    PERFORM mailcluster._need_account(account_id);
    IF data IS NULL THEN
        RAISE EXCEPTION 'blob data must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF length(data) > mailcluster._max_email_size() THEN
        RAISE EXCEPTION 'blob of % bytes is too large', length(data)
            USING ERRCODE = 'program_limit_exceeded',
                  DETAIL = format('The limit (mcjmap.max_email_size) is %s bytes.', mailcluster._max_email_size());
    END IF;
    blob := mailcluster._blob_id(data);
    cmd := jsonb_build_object('op', 'blob_put', 'account_id', account_id, 'blob_id', blob,
                              'type', coalesce(type, 'application/octet-stream'),
                              'at', mailcluster._utc_now());
    IF NOT EXISTS (SELECT 1 FROM mailcluster.blobs b WHERE b.id = blob) THEN
        cmd := cmd || mailcluster._blob_carry(blob, data);
    END IF;
    res := mailcluster._submit(cmd);
    IF res ? 'error' THEN
        -- the blob was purged between our look and the apply: send the bytes
        res := mailcluster._submit((cmd - 'parts' - 'part_size') || mailcluster._blob_carry(blob, data));
    END IF;
    RETURN res;
END $$;

-- Bytes of a blob the account may read: an upload or message of the
-- account, or a part "B<hash>_<partId>" of one of its messages.
CREATE FUNCTION mailcluster.blob_download(account_id text, blob_id text) RETURNS bytea
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    base text := split_part(blob_id, '_', 1);
    part text := nullif(split_part(blob_id, '_', 2), '');
    data bytea;
BEGIN
    PERFORM mailcluster._need_account(account_id);
    SELECT b.data INTO data FROM mailcluster.blobs b
      JOIN mailcluster.account_blobs ab ON ab.blob_id = b.id AND ab.account_id = blob_download.account_id
     WHERE b.id = base;
    IF data IS NOT NULL AND part IS NOT NULL THEN
        data := CASE WHEN part ~ '^[0-9]{1,6}$' THEN mailcluster._message_part(data, part::int) END;
    END IF;
    IF data IS NULL THEN
        RAISE EXCEPTION 'blob "%" not found in account "%"', blob_id, account_id
            USING ERRCODE = 'undefined_object';
    END IF;
    RETURN data;
END $$;

-- Deliver a message into a mailbox (by name or role, default the Inbox) in
-- one replicated step: blob, parsed message and email.  Returns the email id.
CREATE FUNCTION mailcluster.deliver(account_id text, message bytea, mailbox text DEFAULT 'Inbox')
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    blob text;
    cmd jsonb;
    res jsonb;
BEGIN
    PERFORM mailcluster._need_account(account_id);
    IF message IS NULL OR length(message) = 0 THEN
        RAISE EXCEPTION 'message must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF length(message) > mailcluster._max_email_size() THEN
        RAISE EXCEPTION 'message of % bytes is too large', length(message)
            USING ERRCODE = 'program_limit_exceeded',
                  DETAIL = format('The limit (mcjmap.max_email_size) is %s bytes.', mailcluster._max_email_size());
    END IF;
    blob := mailcluster._blob_id(message);
    cmd := jsonb_build_object('op', 'deliver', 'account_id', account_id, 'blob_id', blob,
                              'parsed', mailcluster._parse_message(message, blob),
                              'mailbox', coalesce(mailbox, 'Inbox'),
                              'received_at', mailcluster._utc_now());
    IF NOT EXISTS (SELECT 1 FROM mailcluster.blobs b WHERE b.id = blob) THEN
        cmd := cmd || mailcluster._blob_carry(blob, message);
    END IF;
    res := mailcluster._submit(cmd);
    IF res->'error'->>'type' = 'blobNotFound' THEN
        -- the blob was purged between our look and the apply: send the bytes
        res := mailcluster._submit((cmd - 'parts' - 'part_size') || mailcluster._blob_carry(blob, message));
    END IF;
    IF res ? 'error' THEN
        RAISE EXCEPTION 'delivery failed: %', res->'error'->>'type'
            USING ERRCODE = 'undefined_object', DETAIL = coalesce(res->'error'->>'description', '');
    END IF;
    RETURN res->>'id';
END $$;

-- Is this node the holder of role right now?  False while the cluster layer
-- cannot say (then this node does not purge).
CREATE FUNCTION mailcluster._holds_role(role text) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RETURN coalesce(mailcluster.has_role(role), false);
EXCEPTION WHEN OTHERS THEN
    RETURN false;
END $$;

-- One purge round, for a periodic caller on every node: the holder of
-- purge.accounts proposes purge_changes keeping the last keep_entries log
-- indexes of /changes history; the holder of purge.stores proposes
-- purge_blobs for uploads older than blob_grace that no email uses.  The
-- defaults are the settings mailcluster.purge_keep_entries and
-- mailcluster.purge_blob_grace (read at the call; SHOW prints the grace
-- with a unit interval input takes: '1h', '90s').
-- Returns {"changes": response|null, "blobs": response|null}.
CREATE FUNCTION mailcluster.purge_run(
    keep_entries bigint DEFAULT current_setting('mailcluster.purge_keep_entries')::bigint,
    blob_grace interval DEFAULT current_setting('mailcluster.purge_blob_grace')::interval)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    cur bigint;
    out jsonb := '{"changes": null, "blobs": null}';
BEGIN
    IF keep_entries IS NULL OR keep_entries < 0 OR blob_grace IS NULL OR blob_grace < interval '0' THEN
        RAISE EXCEPTION 'keep_entries and blob_grace must not be negative'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT applied_index INTO cur FROM mailcluster._raft_applied;
    IF mailcluster._holds_role('purge.accounts') AND coalesce(cur, 0) - keep_entries > 1 THEN
        out := out || jsonb_build_object('changes', mailcluster._submit(jsonb_build_object(
            'op', 'purge_changes', 'before_idx', cur - keep_entries)));
    END IF;
    IF mailcluster._holds_role('purge.stores') THEN
        out := out || jsonb_build_object('blobs', mailcluster._submit(jsonb_build_object(
            'op', 'purge_blobs', 'before_time', to_char((now() - blob_grace) AT TIME ZONE 'UTC',
                                                        'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))));
    END IF;
    RETURN out;
END $$;
REVOKE ALL ON FUNCTION mailcluster.purge_run(bigint, interval) FROM PUBLIC;
