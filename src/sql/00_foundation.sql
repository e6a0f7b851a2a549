-- 00_foundation.sql — cluster identity, membership, roles, metrics and
-- fault injection (SPEC §3).  First part of the install script
-- sql/mailcluster--0.1.sql; the schema mailcluster is created by
-- CREATE EXTENSION (mailcluster.control).

\echo Use "CREATE EXTENSION mailcluster" to load this file. \quit

GRANT USAGE ON SCHEMA mailcluster TO PUBLIC;

CREATE FUNCTION mailcluster.node_id() RETURNS int
	AS 'MODULE_PATHNAME', 'mc_sql_node_id' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION mailcluster.node_id() IS 'this node''s mailcluster.node_id';

CREATE FUNCTION mailcluster.leader() RETURNS int
	AS 'MODULE_PATHNAME', 'mc_sql_leader' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION mailcluster.leader() IS 'node id of the Raft leader, NULL while none is known';

CREATE FUNCTION mailcluster.is_leader() RETURNS bool
	AS 'MODULE_PATHNAME', 'mc_sql_is_leader' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION mailcluster.is_leader() IS 'true when this node is the leader';

CREATE FUNCTION mailcluster.has_role(role text) RETURNS bool
	AS 'MODULE_PATHNAME', 'mc_sql_has_role' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION mailcluster.has_role(text) IS 'true when this node holds the cluster role now';

CREATE FUNCTION mailcluster._members(
	OUT node_id int, OUT is_self bool, OUT addr text, OUT gossip_port int,
	OUT rpc_port int, OUT sql_port int, OUT state text, OUT incarnation bigint,
	OUT phi double precision, OUT last_seen timestamptz, OUT raft_role text,
	OUT voter bool, OUT replica bool, OUT roles text[])
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'mc_sql_members' LANGUAGE C VOLATILE;

CREATE VIEW mailcluster.members AS
	SELECT * FROM mailcluster._members() ORDER BY node_id;
COMMENT ON VIEW mailcluster.members IS 'cluster members as this node''s gossip sees them';

CREATE FUNCTION mailcluster._roles(
	OUT role text, OUT configured int[], OUT holder int, OUT is_local bool)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'mc_sql_roles' LANGUAGE C VOLATILE;

CREATE VIEW mailcluster.roles AS SELECT * FROM mailcluster._roles();
COMMENT ON VIEW mailcluster.roles IS 'cluster roles and the node that holds each now';

CREATE FUNCTION mailcluster._metrics(OUT name text, OUT value double precision)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'mc_sql_metrics' LANGUAGE C VOLATILE;

CREATE VIEW mailcluster.metrics AS SELECT * FROM mailcluster._metrics();
COMMENT ON VIEW mailcluster.metrics IS 'counters and gauges, named as their Prometheus metrics';

CREATE FUNCTION mailcluster.fault_isolate(node_ids int[]) RETURNS void
	AS 'MODULE_PATHNAME', 'mc_sql_fault_isolate' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION mailcluster.fault_isolate(int[]) IS 'tests only: drop all traffic with these nodes';

CREATE FUNCTION mailcluster.fault_clear() RETURNS void
	AS 'MODULE_PATHNAME', 'mc_sql_fault_clear' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION mailcluster.fault_clear() IS 'tests only: stop dropping traffic';

REVOKE ALL ON FUNCTION mailcluster.fault_isolate(int[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION mailcluster.fault_clear() FROM PUBLIC;
GRANT SELECT ON mailcluster.members, mailcluster.roles, mailcluster.metrics TO PUBLIC;
