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
-- (C, raft_submit.c.)  Tests only: with mailcluster.enable_fault_injection
-- on, SET mcjmap.fault_submit = 'MC001' (or MC003) makes proposals fail
-- that way.
CREATE FUNCTION mailcluster._submit(cmd jsonb, request_id text DEFAULT NULL) RETURNS jsonb
AS 'MODULE_PATHNAME', 'mc_jmap_submit' LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION mailcluster._submit(jsonb, text) FROM PUBLIC;
