-- 40_raft.sql — Raft storage and SQL API (issue 4): the durable log and hard
-- state the "mailcluster raft" worker writes, the applied index the
-- "mailcluster apply" worker advances, and the functions and views over the
-- shared Raft state.  See doc/raft-in-postgres.md.

-- The log: one row per entry after the last snapshot.  Written only by the
-- raft worker, each batch in one synchronously committed transaction.
CREATE TABLE mailcluster._raft_log (
    idx         bigint   PRIMARY KEY,
    term        bigint   NOT NULL,
    type        smallint NOT NULL,       -- 0 normal, 1 no-op, 2 configuration
    client_id   bigint   NOT NULL,       -- node that proposed it (low 32 bits); bit 32: its
                                         -- response is kept only if too big for a reply slot
    request_id  bigint   NOT NULL,       -- unique per client_id
    data        bytea
);

-- Hard state and snapshot meta: exactly one row, written by the raft worker.
CREATE TABLE mailcluster._raft_state (
    one         boolean  PRIMARY KEY DEFAULT true CHECK (one),
    cluster_id  bigint   NOT NULL DEFAULT 0,   -- 0: not in a cluster yet
    node_id     integer  NOT NULL DEFAULT 0,   -- Raft id this state belongs to
    term        bigint   NOT NULL DEFAULT 0,
    vote        integer  NOT NULL DEFAULT 0,
    commit_idx  bigint   NOT NULL DEFAULT 0,
    snap_index  bigint   NOT NULL DEFAULT 0,
    snap_term   bigint   NOT NULL DEFAULT 0,
    snap_conf   bytea                          -- mc_raft_conf_encode(), NULL: none
);
INSERT INTO mailcluster._raft_state DEFAULT VALUES;

-- The applied index: its own row, written by the apply worker in the same
-- transaction as the entries it applies (so the raft worker never waits on it).
CREATE TABLE mailcluster._raft_applied (
    one            boolean PRIMARY KEY DEFAULT true CHECK (one),
    applied_index  bigint  NOT NULL DEFAULT 0
);
INSERT INTO mailcluster._raft_applied DEFAULT VALUES;

REVOKE ALL ON mailcluster._raft_log, mailcluster._raft_state,
              mailcluster._raft_applied FROM PUBLIC;

-- ---- write path ------------------------------------------------------------

-- Replicate `cmd` (a state-machine command, dispatched on cmd->>'op') under
-- `request_id` (generated when NULL): returns the response the local apply
-- of the committed entry produced.  MC001 timeout, MC002 redirect, MC003 no leader.
CREATE FUNCTION mailcluster._raft_submit(cmd jsonb, request_id text DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'mc_raft_submit'
LANGUAGE C VOLATILE;
-- Only the JMAP entry points (SECURITY DEFINER) and superusers write.
REVOKE ALL ON FUNCTION mailcluster._raft_submit(jsonb, text) FROM PUBLIC;

-- ---- status ----------------------------------------------------------------

CREATE FUNCTION mailcluster._raft_status(
    OUT node_id int, OUT cluster_id text, OUT role text, OUT term bigint,
    OUT leader_id int, OUT voted_for int, OUT commit_index bigint,
    OUT applied_index bigint, OUT last_log_index bigint, OUT last_log_term bigint,
    OUT snapshot_index bigint, OUT voters int[], OUT learners int[],
    OUT last_leader_contact timestamptz)
RETURNS record
AS 'MODULE_PATHNAME', 'mc_raft_status_sql'
LANGUAGE C VOLATILE STRICT;

CREATE VIEW mailcluster.raft_status AS
    SELECT * FROM mailcluster._raft_status();

CREATE FUNCTION mailcluster._raft_progress(
    OUT node_id int, OUT match_index bigint, OUT next_index bigint,
    OUT state text, OUT last_ack timestamptz, OUT lag bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'mc_raft_progress_sql'
LANGUAGE C VOLATILE STRICT;

CREATE VIEW mailcluster.raft_progress AS
    SELECT * FROM mailcluster._raft_progress();

-- Raft counters and gauges as (name, value) rows, for the metrics view.
CREATE FUNCTION mailcluster._raft_metrics(OUT name text, OUT value double precision)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'mc_raft_metrics_sql'
LANGUAGE C VOLATILE STRICT;

-- ---- operations ------------------------------------------------------------

-- NULL arguments are errors (null_value_not_allowed), not a NULL result
CREATE FUNCTION mailcluster.add_node(node_id int, voter bool DEFAULT true)
RETURNS bigint
AS 'MODULE_PATHNAME', 'mc_raft_add_node'
LANGUAGE C VOLATILE;

CREATE FUNCTION mailcluster.remove_node(node_id int)
RETURNS bigint
AS 'MODULE_PATHNAME', 'mc_raft_remove_node'
LANGUAGE C VOLATILE;

CREATE FUNCTION mailcluster.transfer_leadership(node_id int DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'mc_raft_transfer_leadership'
LANGUAGE C VOLATILE;

CREATE FUNCTION mailcluster.snapshot()
RETURNS bigint
AS 'MODULE_PATHNAME', 'mc_raft_snapshot_sql'
LANGUAGE C VOLATILE;

CREATE FUNCTION mailcluster.read_barrier(timeout_ms int DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'mc_raft_read_barrier'
LANGUAGE C VOLATILE;

CREATE FUNCTION mailcluster.wait_for_index(idx bigint, timeout_ms int DEFAULT NULL)
RETURNS bool
AS 'MODULE_PATHNAME', 'mc_raft_wait_for_index'
LANGUAGE C VOLATILE;

REVOKE ALL ON FUNCTION mailcluster.add_node(int, bool), mailcluster.remove_node(int),
    mailcluster.transfer_leadership(int), mailcluster.snapshot() FROM PUBLIC;
-- the Raft state is as readable as members, roles and metrics
GRANT SELECT ON mailcluster.raft_status, mailcluster.raft_progress TO PUBLIC;

-- ---- state checksum --------------------------------------------------------

-- Tables whose contents are replicated state: every table of the schema
-- except the Raft machinery itself.  Written only by applying log entries.
CREATE FUNCTION mailcluster._replicated_tables()
RETURNS SETOF name
LANGUAGE sql STABLE
AS $$
    SELECT c.relname
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'mailcluster' AND c.relkind IN ('r', 'p')
       AND c.relname NOT LIKE '\_raft\_%'
       AND c.relname NOT LIKE '\_local\_%'
     ORDER BY c.relname COLLATE "C"
$$;

-- Digest of all replicated state and the applied index it corresponds to.
-- STABLE: every query inside sees the one snapshot of the calling statement,
-- and the apply worker moves the tables and _raft_applied in one transaction,
-- so the pair is consistent.  Rows are digested as text, so the settings
-- that change how values print are fixed here: equal data gives an equal
-- checksum whatever the caller's session or the node's configuration says.
CREATE FUNCTION mailcluster.state_checksum(OUT applied_index bigint, OUT checksum text)
RETURNS record
LANGUAGE plpgsql STABLE
SET TimeZone = 'UTC'
SET DateStyle = 'ISO, YMD'
SET IntervalStyle = 'postgres'
SET extra_float_digits = 1
SET bytea_output = 'hex'
AS $$
DECLARE
    t name;
    part text;
    acc text := '';
BEGIN
    SELECT a.applied_index INTO applied_index FROM mailcluster._raft_applied a;
    FOR t IN SELECT * FROM mailcluster._replicated_tables() LOOP
        EXECUTE format(
            'SELECT encode(sha256(convert_to(coalesce(string_agg(r::text, E''\n'' ORDER BY r::text COLLATE "C"), ''''), ''UTF8'')), ''hex'') FROM mailcluster.%I r',
            t) INTO part;
        acc := acc || t || ':' || part || E'\n';
    END LOOP;
    checksum := encode(sha256(convert_to(acc, 'UTF8')), 'hex');
    RETURN;
END
$$;

-- ---- snapshots: see 42_raft_snapshot.sql ---------------------------------

-- ---- reads -----------------------------------------------------------------

-- For the JMAP read path: with mailcluster.read_consistency = linearizable,
-- wait for a read index confirmed by the leader (read_barrier) and return
-- it; with local, return what this node has applied.  Call it once at the
-- start of a request that reads.
CREATE FUNCTION mailcluster._read_fence()
RETURNS bigint
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    IF coalesce(current_setting('mailcluster.read_consistency', true), 'linearizable') = 'local' THEN
        RETURN (SELECT applied_index FROM mailcluster._raft_applied);
    END IF;
    RETURN mailcluster.read_barrier();
END
$$;
