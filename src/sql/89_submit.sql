-- 89_submit.sql — _submit(cmd, request_id): the one write path of the JMAP
-- layer.  Every command goes through the Raft log (_raft_submit, 40_raft.sql):
-- on a clustered node it is committed by a majority; on a standalone node
-- (no bind_addr / key, SPEC §1) the node is a one-voter cluster and its own
-- leader, and the command goes through its Raft worker all the same.  The
-- entry is applied by the apply worker (_apply(idx, cmd)), never in the
-- caller's transaction, and its response comes back from the local apply.

-- Propose cmd and return its response.  Contract: with a request_id that
-- was applied before (and is known here), returns the stored response at
-- once; otherwise replicates cmd under request_id (generated when NULL) and
-- returns what _apply returned on this node.  Apply itself returns the
-- stored response of a request_id it has seen, so a retry after MC001 or a
-- leader change never applies twice.  Errors: MC001 (not committed in
-- time, outcome unknown), MC002 (redirect mode on a follower), MC003 (no
-- leader).
CREATE FUNCTION mailcluster._submit(cmd jsonb, request_id text DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    res jsonb;
BEGIN
    IF cmd IS NULL OR jsonb_typeof(cmd) <> 'object' OR NOT cmd ? 'op' THEN
        RAISE EXCEPTION 'a command must be a JSON object with an "op"'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF request_id IS NOT NULL THEN
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
    RETURN mailcluster._raft_submit(cmd, request_id);
END $$;
REVOKE ALL ON FUNCTION mailcluster._submit(jsonb, text) FROM PUBLIC;
