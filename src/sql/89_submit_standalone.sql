-- 89_submit_standalone.sql — TEMPORARY standalone proposer: _submit(cmd,
-- request_id) takes the next index from _standalone_log (serialised by a
-- table lock) and applies the command in the caller's transaction.  To be
-- replaced by the Raft write path (hand cmd to the Raft worker, wait for
-- commit and local apply); see doc/jmap.md.

CREATE TABLE mailcluster._standalone_log (
    idx     bigint PRIMARY KEY,
    cmd     jsonb NOT NULL
);
REVOKE ALL ON mailcluster._standalone_log FROM PUBLIC;

-- Propose cmd and return its response.  Contract: with a request_id that
-- was applied before, returns the stored response and changes nothing;
-- otherwise appends cmd at the next index and returns _apply's response.
-- SET mcjmap.submit = 'raft' sends it through _raft_submit instead.
CREATE FUNCTION mailcluster._submit(cmd jsonb, request_id text DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    next_idx bigint;
    res jsonb;
BEGIN
    IF cmd IS NULL OR jsonb_typeof(cmd) <> 'object' OR NOT cmd ? 'op' THEN
        RAISE EXCEPTION 'a command must be a JSON object with an "op"'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF request_id IS NOT NULL THEN
        cmd := cmd || jsonb_build_object('request_id', request_id);
        SELECT r.response INTO res FROM mailcluster._responses r WHERE r.request_id = _submit.request_id;
        IF FOUND THEN RETURN res; END IF;
    END IF;
    -- tests only: with mailcluster.enable_fault_injection on, SET
    -- mcjmap.fault_submit = 'MC001' (or MC003) makes proposals fail that way
    IF coalesce(current_setting('mcjmap.fault_submit', true), '') IN ('MC001', 'MC003')
       AND current_setting('mailcluster.enable_fault_injection', true) = 'on' THEN
        RAISE EXCEPTION 'injected failure % of a proposal', current_setting('mcjmap.fault_submit')
            USING ERRCODE = current_setting('mcjmap.fault_submit');
    END IF;
    -- opt-in to the Raft write path while this file is still in place
    IF current_setting('mcjmap.submit', true) = 'raft' THEN
        RETURN mailcluster._raft_submit(cmd, request_id);
    END IF;
    LOCK TABLE mailcluster._standalone_log IN EXCLUSIVE MODE;
    SELECT coalesce(max(idx), 0) + 1 INTO next_idx FROM mailcluster._standalone_log;
    INSERT INTO mailcluster._standalone_log (idx, cmd) VALUES (next_idx, cmd);
    RETURN mailcluster._apply(next_idx, cmd);
END $$;
REVOKE ALL ON FUNCTION mailcluster._submit(jsonb, text) FROM PUBLIC;
