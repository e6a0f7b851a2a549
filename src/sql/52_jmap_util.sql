-- 52_jmap_util.sql — small deterministic helpers of the JMAP state machine:
-- ids derived from the Raft index, change records and states, subject
-- normalisation for threading, JMAP error raising, JSON pointers.

-- Lower-case RFC 4648 base32 (no padding) of a non-negative integer.
CREATE FUNCTION mailcluster._b32(n bigint) RETURNS text
AS 'MODULE_PATHNAME', 'mc_apply_b32' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- Raft index of the command being applied (C, apply_dispatch.c).
-- Contract: only inside _apply; raises object_not_in_prerequisite_state
-- elsewhere.
CREATE FUNCTION mailcluster._cur_idx() RETURNS bigint
AS 'MODULE_PATHNAME', 'mc_apply_cur_idx' LANGUAGE C VOLATILE;

-- Next object id of the command being applied: prefix, base32 of the Raft
-- index, '-', base32 of a per-command counter starting at 1 (C,
-- apply_dispatch.c).  Equal on every node because commands apply in the
-- same order with the same counters.  Contract: only inside _apply.
CREATE FUNCTION mailcluster._next_id(prefix text) RETURNS text
AS 'MODULE_PATHNAME', 'mc_apply_next_id' LANGUAGE C VOLATILE;

-- Record that obj of type in account changed (kind c/u/d) at the current index.
-- Within one index, a create stays a create and a destroy wins (C,
-- jmap_changes.c: one kept plan).  Contract: only inside _apply.
CREATE FUNCTION mailcluster._change(account text, typ text, obj text, kind char)
RETURNS void AS 'MODULE_PATHNAME', 'mc_jmap_change' LANGUAGE C VOLATILE;

-- JMAP state string of a type in an account: the Raft index of its last
-- change there (the account's creation index when it never changed).  C
-- (jmap_changes.c): one kept plan, one step down the changes key.
CREATE FUNCTION mailcluster._state(account text, typ text) RETURNS text
AS 'MODULE_PATHNAME', 'mc_jmap_state' LANGUAGE C STABLE;

-- Subject normalised for threading: prefixes (Re:, Fwd:, Fw:, Aw:, Sv:,
-- [list] tags) and "(fwd)" removed, white space collapsed, lower-cased.
CREATE FUNCTION mailcluster._norm_subject(s text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE prev text;
BEGIN
    s := lower(regexp_replace(coalesce(s, ''), '\s+', ' ', 'g'));
    LOOP
        prev := s;
        s := regexp_replace(s, '^\s*((re|fwd?|aw|sv|antw)(\[\d+\])?\s*:|\[[^]]*\])\s*', '', 'i');
        s := regexp_replace(s, '\s*\(fwd\)\s*$', '', 'i');
        EXIT WHEN s = prev;
    END LOOP;
    RETURN btrim(s);
END $$;

-- Raise a JMAP method-level error (caught by jmap() and turned into an
-- ["error", {type, description}] response).  SQLSTATE MJ000.
CREATE FUNCTION mailcluster._jerr(typ text, description text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%', typ USING ERRCODE = 'MJ000', DETAIL = coalesce(description, '');
END $$;

-- SetError object.
CREATE FUNCTION mailcluster._seterr(typ text, description text DEFAULT NULL, props text[] DEFAULT NULL)
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object('type', typ, 'description', description,
                                                'properties', to_jsonb(props)));
$$;

-- Evaluate an RFC 6901 JSON pointer with the RFC 8620 §3.7 '*' extension
-- (map over an array, flattening array results).  NULL when it does not resolve.
CREATE FUNCTION mailcluster._json_pointer(doc jsonb, path text) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    toks text[];
    tok text;
    rest text;
    item jsonb;
    r jsonb;
    acc jsonb := '[]';
BEGIN
    IF path IS NULL OR doc IS NULL THEN RETURN NULL; END IF;
    IF path = '' THEN RETURN doc; END IF;
    IF left(path, 1) <> '/' THEN RETURN NULL; END IF;
    toks := string_to_array(substr(path, 2), '/');
    tok := replace(replace(toks[1], '~1', '/'), '~0', '~');
    rest := CASE WHEN array_length(toks, 1) > 1
                 THEN '/' || array_to_string(toks[2:], '/') ELSE '' END;
    IF tok = '*' THEN
        IF jsonb_typeof(doc) <> 'array' THEN RETURN NULL; END IF;
        FOR item IN SELECT value FROM jsonb_array_elements(doc) LOOP
            r := mailcluster._json_pointer(item, rest);
            IF r IS NULL THEN RETURN NULL; END IF;
            IF jsonb_typeof(r) = 'array' THEN acc := acc || r;
            ELSE acc := acc || jsonb_build_array(r); END IF;
        END LOOP;
        RETURN acc;
    ELSIF jsonb_typeof(doc) = 'array' THEN
        IF tok !~ '^(0|[1-9][0-9]{0,8})$' THEN RETURN NULL; END IF;
        RETURN mailcluster._json_pointer(doc -> tok::int, rest);
    ELSIF jsonb_typeof(doc) = 'object' THEN
        RETURN mailcluster._json_pointer(doc -> tok, rest);
    END IF;
    RETURN NULL;
END $$;

-- jsonb array of strings -> text[] (NULL stays NULL).
CREATE FUNCTION mailcluster._text_array(j jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN j IS NULL OR jsonb_typeof(j) <> 'array' THEN NULL
                ELSE ARRAY(SELECT jsonb_array_elements_text(j)) END;
$$;

-- Drop the top-level keys whose value is NULL or JSON null (nested nulls,
-- such as "keywords/$seen": null in a patch, are kept).
CREATE FUNCTION mailcluster._compact(o jsonb) RETURNS jsonb
AS 'MODULE_PATHNAME', 'mc_jmap_compact' LANGUAGE C IMMUTABLE PARALLEL SAFE;   -- jmap_json.c
