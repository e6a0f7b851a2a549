-- 80_jmap_request.sql — mailcluster.jmap(request, request_id): RFC 8620 §3
-- request processing.  Checks the Request object and `using`, runs the
-- method calls in order, resolves back-references (#arg with resultOf /
-- name / path) and creation ids across calls, maps errors to JMAP error
-- responses, and makes a retried request_id return the first response.

-- The methods: name -> handler (args jsonb, ctx jsonb) and its capability.
CREATE TABLE mailcluster._jmap_methods (
    name        text PRIMARY KEY,
    fn          text NOT NULL,
    capability  text NOT NULL,
    writes      boolean NOT NULL DEFAULT false
);
INSERT INTO mailcluster._jmap_methods VALUES
    ('Core/echo',       'mailcluster._m_core_echo',       'urn:ietf:params:jmap:core', false),
    ('Mailbox/get',     'mailcluster._m_mailbox_get',     'urn:ietf:params:jmap:mail', false),
    ('Mailbox/changes', 'mailcluster._m_mailbox_changes', 'urn:ietf:params:jmap:mail', false),
    ('Mailbox/query',   'mailcluster._m_mailbox_query',   'urn:ietf:params:jmap:mail', false),
    ('Mailbox/set',     'mailcluster._m_mailbox_set',     'urn:ietf:params:jmap:mail', true),
    ('Email/get',       'mailcluster._m_email_get',       'urn:ietf:params:jmap:mail', false),
    ('Email/changes',   'mailcluster._m_email_changes',   'urn:ietf:params:jmap:mail', false),
    ('Email/query',     'mailcluster._m_email_query',     'urn:ietf:params:jmap:mail', false),
    ('Email/set',       'mailcluster._m_email_set',       'urn:ietf:params:jmap:mail', true),
    ('Email/import',    'mailcluster._m_email_import',    'urn:ietf:params:jmap:mail', true),
    ('Thread/get',      'mailcluster._m_thread_get',      'urn:ietf:params:jmap:mail', false),
    ('Thread/changes',  'mailcluster._m_thread_changes',  'urn:ietf:params:jmap:mail', false),
    ('Mailbox/queryChanges', 'mailcluster._m_query_changes', 'urn:ietf:params:jmap:mail', false),
    ('Email/queryChanges',   'mailcluster._m_query_changes', 'urn:ietf:params:jmap:mail', false);

-- NULL when request is a Request object jmap() can run, else its problem
-- object: notRequest, or unknownCapability for the first capability of
-- "using" not implemented here (C, jmap_request.c).
CREATE FUNCTION mailcluster._jmap_request_problem(request jsonb) RETURNS jsonb
AS 'MODULE_PATHNAME', 'mc_jmap_request_problem' LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- Do a method call's arguments hold a "#name" back-reference? (C)
CREATE FUNCTION mailcluster._jmap_has_backrefs(args jsonb) RETURNS boolean
AS 'MODULE_PATHNAME', 'mc_jmap_has_backrefs' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- Resolve the back-references ("#name": ResultReference) of one call's
-- arguments against the responses so far.  Raises invalidArguments when
-- both "name" and "#name" are given, invalidResultReference when a
-- reference does not resolve.
CREATE FUNCTION mailcluster._jmap_backrefs(args jsonb, responses jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    k text;
    ref jsonb;
    resp jsonb;
    val jsonb;
BEGIN
    FOR k, ref IN SELECT key, value FROM jsonb_each(args) WHERE left(key, 1) = '#' LOOP
        IF args ? substr(k, 2) THEN
            PERFORM mailcluster._jerr('invalidArguments',
                                      format('both "%s" and "%s" given', substr(k, 2), k));
        END IF;
        IF jsonb_typeof(ref) <> 'object' OR jsonb_typeof(ref->'resultOf') <> 'string'
           OR jsonb_typeof(ref->'name') <> 'string' OR jsonb_typeof(ref->'path') <> 'string' THEN
            PERFORM mailcluster._jerr('invalidResultReference', format('"%s" is not a ResultReference', k));
        END IF;
        SELECT r INTO resp FROM jsonb_array_elements(responses) WITH ORDINALITY AS x(r, n)
         WHERE r->>2 = ref->>'resultOf' ORDER BY n LIMIT 1;
        IF resp IS NULL OR resp->>0 <> ref->>'name' THEN
            PERFORM mailcluster._jerr('invalidResultReference',
                format('no "%s" response with call id "%s"', ref->>'name', ref->>'resultOf'));
        END IF;
        val := mailcluster._json_pointer(resp->1, ref->>'path');
        IF val IS NULL THEN
            PERFORM mailcluster._jerr('invalidResultReference',
                                      format('path "%s" does not resolve', ref->>'path'));
        END IF;
        args := (args - k) || jsonb_build_object(substr(k, 2), val);
    END LOOP;
    RETURN args;
END $$;

-- Run one method call; returns {"name","args","createdIds"?} — an
-- ["error", ...] response for method-level errors, never raises for them
-- (C, jmap_call.c: the handler from _jmap_methods, cached per process,
-- called through fmgr in a subtransaction).  MC002 propagates.
CREATE FUNCTION mailcluster._jmap_call(method text, args jsonb, ctx jsonb, responses jsonb) RETURNS jsonb
AS 'MODULE_PATHNAME', 'mc_jmap_call' LANGUAGE C VOLATILE;

-- The read barrier of a linearizable jmap() request: NULL once a read
-- index confirmed by the leader is applied here, else the message of the
-- MC001/MC003 that prevented it (the request's calls then answer
-- serverUnavailable).
CREATE FUNCTION mailcluster._jmap_fence() RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    msg text;
BEGIN
    PERFORM mailcluster.read_barrier();
    RETURN NULL;
EXCEPTION WHEN SQLSTATE 'MC001' OR SQLSTATE 'MC003' THEN
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
    RETURN msg;
END $$;
REVOKE ALL ON FUNCTION mailcluster._jmap_fence() FROM PUBLIC;

-- May jmap() skip its up-front read barrier for these method calls?  True
-- when every call is an Email/set or a Mailbox/set without "create": their
-- results come from the apply of their command (C, jmap_request.c).
CREATE FUNCTION mailcluster._jmap_write_only(calls jsonb) RETURNS boolean
AS 'MODULE_PATHNAME', 'mc_jmap_write_only' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- Process an RFC 8620 Request; returns the Response (or a request-level
-- problem object for notRequest / unknownCapability).  Each write method
-- is one command; with a request_id, a retry returns the first response
-- (a response with serverFail/serverPartialFail/serverUnavailable in it is
-- not stored: its retry completes the calls that did not go through).
CREATE FUNCTION mailcluster.jmap(request jsonb, request_id text DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    call jsonb;
    n int := 0;
    created jsonb;
    responses jsonb := '[]';
    res jsonb;
    ctx jsonb;
    wrote boolean := false;
    incomplete boolean := false;
    out jsonb;
    stored jsonb;
    fence_err text;
    fence_owed boolean;
BEGIN
    IF request_id IS NOT NULL THEN
        SELECT r.response INTO stored FROM mailcluster._responses r
         WHERE r.request_id = 'jmap:' || jmap.request_id;
        IF FOUND THEN RETURN stored; END IF;
    END IF;
    out := mailcluster._jmap_request_problem(request);   -- notRequest / unknownCapability
    IF out IS NOT NULL THEN
        RETURN out;
    END IF;
    -- mailcluster.read_consistency = linearizable (the default): before any
    -- method reads, wait for a read index confirmed by the leader and applied
    -- here (read_barrier), so a read sees every write acknowledged before the
    -- request started, on any node.  local: read what this node has applied.
    -- A request of updates and destroys only (_jmap_write_only) reads nothing
    -- before its proposals but whether the account exists: it skips the
    -- barrier, and an accountNotFound is answered only after one.
    fence_owed := jsonb_array_length(request->'methodCalls') > 0
       AND coalesce(current_setting('mailcluster.read_consistency', true), 'linearizable') = 'linearizable';
    IF fence_owed AND NOT mailcluster._jmap_write_only(request->'methodCalls') THEN
        fence_err := mailcluster._jmap_fence();
        fence_owed := false;
    END IF;
    created := coalesce(request->'createdIds', '{}');
    FOR call IN SELECT value FROM jsonb_array_elements(request->'methodCalls') LOOP
        n := n + 1;
        ctx := jsonb_build_object('using', request->'using', 'createdIds', created,
                                  'request_id', CASE WHEN request_id IS NOT NULL
                                                     THEN 'jmap:' || request_id || ':' || n END);
        IF fence_err IS NOT NULL THEN
            res := jsonb_build_object('name', 'error', 'args',
                       jsonb_build_object('type', 'serverUnavailable', 'description', fence_err));
        ELSE
            res := mailcluster._jmap_call(call->>0, call->1, ctx, responses);
            IF fence_owed AND res->>'name' = 'error' AND res->'args'->>'type' = 'accountNotFound' THEN
                -- the account may exist but not be applied here yet: a write-only
                -- call raises this before proposing anything, so it is re-run
                fence_err := mailcluster._jmap_fence();
                fence_owed := false;
                IF fence_err IS NULL THEN
                    res := mailcluster._jmap_call(call->>0, call->1, ctx, responses);
                ELSE
                    res := jsonb_build_object('name', 'error', 'args',
                               jsonb_build_object('type', 'serverUnavailable', 'description', fence_err));
                END IF;
            END IF;
        END IF;
        IF res ? 'createdIds' AND jsonb_typeof(res->'createdIds') = 'object' THEN
            created := created || (res->'createdIds');
        END IF;
        IF request_id IS NOT NULL AND NOT wrote THEN
            wrote := EXISTS (SELECT 1 FROM mailcluster._jmap_methods WHERE name = call->>0 AND writes);
        END IF;
        -- a call that may not have completed must be retried, not replayed
        incomplete := incomplete OR (res->>'name' = 'error' AND res->'args'->>'type'
                                     IN ('serverPartialFail', 'serverUnavailable', 'serverFail'));
        responses := responses || jsonb_build_array(jsonb_build_array(res->>'name', res->'args', call->>2));
    END LOOP;
    out := jsonb_build_object('methodResponses', responses,
                              'sessionState', coalesce((SELECT a.created_idx FROM mailcluster.accounts a
                                                         ORDER BY a.created_idx DESC LIMIT 1), 0)::text);
    IF request ? 'createdIds' THEN
        out := out || jsonb_build_object('createdIds', created);
    END IF;
    IF request_id IS NOT NULL AND wrote AND NOT incomplete THEN
        BEGIN
            PERFORM mailcluster._submit(jsonb_build_object('op', 'record_response', 'response', out),
                                        'jmap:' || request_id);
        EXCEPTION WHEN SQLSTATE 'MC001' OR SQLSTATE 'MC003' THEN
            -- the writes themselves are stored per call: a retry gives the same answers
            NULL;
        END;
    END IF;
    RETURN out;
END $$;
GRANT EXECUTE ON FUNCTION mailcluster.jmap(jsonb, text) TO PUBLIC;
