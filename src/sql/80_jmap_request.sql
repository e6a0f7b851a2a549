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
-- With mailcluster.read_consistency = linearizable (the default) a request
-- reads after a read barrier (_jmap_fence), unless its calls only write
-- (_jmap_write_only); an accountNotFound of such a call is answered only
-- after a barrier.  C (jmap_driver.c), which calls the C forms of
-- _jmap_request_problem, _jmap_write_only and _jmap_call directly.
CREATE FUNCTION mailcluster.jmap(request jsonb, request_id text DEFAULT NULL) RETURNS jsonb
AS 'MODULE_PATHNAME', 'mc_jmap' LANGUAGE C VOLATILE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
GRANT EXECUTE ON FUNCTION mailcluster.jmap(jsonb, text) TO PUBLIC;
