-- foundation.sql — pg_regress for the foundation on a standalone node
-- (test/regress.conf: node 7, no bind_addr, mailcluster.roles =
-- 'purge.stores = 3, 7; acme.renew = 2', fault injection on).  Covers every view and function
-- of SPEC §3 that the foundation owns, their bad arguments, who may see
-- mailcluster.key, and the check hooks of every setting (via ALTER SYSTEM,
-- which runs them without changing the running server).

-- identity: standalone node 7 is its own leader.  With the Raft side linked
-- in, the one-node cluster elects itself within a few election timeouts:
-- wait for that (at most 30 s) before looking.
DO $$
BEGIN
	FOR i IN 1..300 LOOP
		EXIT WHEN mailcluster.leader() IS NOT NULL;
		PERFORM pg_sleep(0.1);
	END LOOP;
END $$;
SELECT mailcluster.node_id();
SELECT mailcluster.leader() = mailcluster.node_id() AS self_leader,
       mailcluster.is_leader();

-- members: one row, this node, alive
SELECT node_id, is_self, addr, gossip_port, rpc_port, sql_port > 0 AS has_sql_port,
       state, incarnation, phi, last_seen > now() - interval '1 minute' AS seen_now,
       raft_role IN ('none', 'leader') AS raft_role_ok, replica, roles
  FROM mailcluster.members;
-- columns exactly as SPEC §3
SELECT attname, format_type(atttypid, atttypmod)
  FROM pg_attribute WHERE attrelid = 'mailcluster.members'::regclass AND attnum > 0
 ORDER BY attnum;

-- roles: the lowest configured node alive holds it (7 of '3, 7': 3 is not
-- alive); acme.renew's only node 2 is not alive, so the leader (7) holds it;
-- unconfigured roles go to the leader
SELECT role, configured, holder, is_local FROM mailcluster.roles ORDER BY role;
SELECT attname, format_type(atttypid, atttypmod)
  FROM pg_attribute WHERE attrelid = 'mailcluster.roles'::regclass AND attnum > 0
 ORDER BY attnum;
SELECT mailcluster.has_role('purge.stores') AS purge_stores,
       mailcluster.has_role('acme.renew') AS acme_renew,
       mailcluster.has_role('metrics.push') AS metrics_push;
SELECT mailcluster.has_role(NULL);
-- NULL arguments of the operations are errors too
SELECT mailcluster.add_node(NULL);
SELECT mailcluster.add_node(2, NULL);
SELECT mailcluster.remove_node(NULL);
-- a voter that could never answer would leave this one-voter node without a
-- majority for good: refused (it used to stay a candidate of {7, 2})
SELECT mailcluster.add_node(2);
SELECT voters, role FROM mailcluster.raft_status;
-- bad role names
SELECT mailcluster.has_role('no.such.role');
SELECT mailcluster.has_role('');
SELECT mailcluster.has_role('PURGE.STORES');

-- metrics: unique Prometheus-valid names, all the drop reasons, all zero
-- on a standalone node that never opened a gossip socket
SELECT count(*) >= 40 AS many, count(DISTINCT name) = count(*) AS unique_names
  FROM mailcluster.metrics;
SELECT name FROM mailcluster.metrics WHERE name !~ '^[a-z_:][a-z0-9_:]*$';
SELECT name, value FROM mailcluster.metrics
 WHERE name LIKE 'gossip_packets_%' ORDER BY name;
SELECT attname, format_type(atttypid, atttypmod)
  FROM pg_attribute WHERE attrelid = 'mailcluster.metrics'::regclass AND attnum > 0
 ORDER BY attnum;

-- fault injection: ids go into the blocked set (the gauge counts them)
SELECT mailcluster.fault_isolate(ARRAY[3, 4]);
SELECT value FROM mailcluster.metrics WHERE name = 'fault_isolated_nodes';
SELECT mailcluster.fault_isolate(ARRAY[4, 5]);
SELECT value FROM mailcluster.metrics WHERE name = 'fault_isolated_nodes';
SELECT mailcluster.fault_isolate('{}');
SELECT value FROM mailcluster.metrics WHERE name = 'fault_isolated_nodes';
-- bad arguments change nothing
SELECT mailcluster.fault_isolate(NULL);
SELECT mailcluster.fault_isolate(ARRAY[0]);
SELECT mailcluster.fault_isolate(ARRAY[-3]);
SELECT mailcluster.fault_isolate(ARRAY[65536]);
SELECT mailcluster.fault_isolate(ARRAY[6, 7]);
SELECT mailcluster.fault_isolate(ARRAY[6, NULL]);
SELECT mailcluster.fault_isolate(ARRAY[[1, 2], [3, 4]]);
SELECT value FROM mailcluster.metrics WHERE name = 'fault_isolated_nodes';
SELECT mailcluster.fault_clear();
SELECT value FROM mailcluster.metrics WHERE name = 'fault_isolated_nodes';

-- a non-superuser reads the views but never the key, and cannot inject faults
CREATE ROLE mc_regress_user;
GRANT EXECUTE ON FUNCTION mailcluster.fault_clear() TO mc_regress_user;
SET ROLE mc_regress_user;
SELECT count(*) AS members FROM mailcluster.members;
SELECT count(*) AS roles FROM mailcluster.roles;
SELECT count(*) AS raft_status FROM mailcluster.raft_status;
SELECT count(*) AS raft_progress FROM mailcluster.raft_progress;
SELECT mailcluster.node_id();
SHOW mailcluster.key;
SELECT current_setting('mailcluster.key');
SELECT count(*) AS key_rows FROM pg_settings WHERE name = 'mailcluster.key';
SELECT mailcluster.fault_isolate(ARRAY[3]);
SELECT mailcluster.fault_clear();
RESET ROLE;
REVOKE EXECUTE ON FUNCTION mailcluster.fault_clear() FROM mc_regress_user;
DROP ROLE mc_regress_user;
-- the superuser can see it, in pg_settings too
SELECT current_setting('mailcluster.key') = 'regress-secret-do-not-show-1234' AS superuser_sees_key;
SELECT count(*) AS key_rows_for_superuser FROM pg_settings WHERE name = 'mailcluster.key';

-- every setting of SPEC §2 is defined, with its context and default
SELECT name, setting, unit, context, vartype
  FROM pg_settings WHERE name LIKE 'mailcluster.%' AND name <> 'mailcluster.key'
 ORDER BY name;

-- check hooks and ranges: each bad value is refused, naming the setting
ALTER SYSTEM SET mailcluster.node_id = 65536;
ALTER SYSTEM SET mailcluster.node_id = -1;
ALTER SYSTEM SET mailcluster.bind_addr = 'not-an-ip';
ALTER SYSTEM SET mailcluster.bind_addr = '10.0.0.300';
ALTER SYSTEM SET mailcluster.bind_addr = 'localhost';
ALTER SYSTEM SET mailcluster.bind_port = 0;
ALTER SYSTEM SET mailcluster.bind_port = 65536;
ALTER SYSTEM SET mailcluster.advertise_addr = '0.0.0.0';
ALTER SYSTEM SET mailcluster.advertise_addr = '::';
ALTER SYSTEM SET mailcluster.advertise_addr = 'node1.example';
ALTER SYSTEM SET mailcluster.rpc_port = 0;
ALTER SYSTEM SET mailcluster.rpc_port = 70000;
ALTER SYSTEM SET mailcluster.key = 'a-long-enough-secret-1,';
ALTER SYSTEM SET mailcluster.key = 'a-long-enough-secret-1,,a-long-enough-secret-2';
ALTER SYSTEM SET mailcluster.key = 'a-long-enough-secret-1,a-long-enough-secret-1';
ALTER SYSTEM SET mailcluster.key_file = 'no/such/key/file';
ALTER SYSTEM SET mailcluster.key_file = 'base';
ALTER SYSTEM SET mailcluster.heartbeat = 0;
ALTER SYSTEM SET mailcluster.heartbeat = '2 min';
ALTER SYSTEM SET mailcluster.seed_nodes = 'a:0';
ALTER SYSTEM SET mailcluster.seed_nodes = 'a:70000';
ALTER SYSTEM SET mailcluster.seed_nodes = 'a:port';
ALTER SYSTEM SET mailcluster.seed_nodes = 'a,,b';
ALTER SYSTEM SET mailcluster.seed_nodes = 'a,';
ALTER SYSTEM SET mailcluster.seed_nodes = '::1:1180';
ALTER SYSTEM SET mailcluster.seed_nodes = '[::1:1180';
ALTER SYSTEM SET mailcluster.seed_nodes = '[10.0.0.1]:1180';
ALTER SYSTEM SET mailcluster.seed_nodes = 'bad host:1180';
ALTER SYSTEM SET mailcluster.phi_threshold = 0.5;
ALTER SYSTEM SET mailcluster.phi_threshold = 1000;
ALTER SYSTEM SET mailcluster.bootstrap_expect = 0;
ALTER SYSTEM SET mailcluster.max_voters = 0;
ALTER SYSTEM SET mailcluster.replica = 'perhaps';
ALTER SYSTEM SET mailcluster.database = '';
ALTER SYSTEM SET mailcluster.raft_election_timeout = 10;
ALTER SYSTEM SET mailcluster.raft_heartbeat_interval = 0;
ALTER SYSTEM SET mailcluster.raft_commit_timeout = 0;
ALTER SYSTEM SET mailcluster.raft_batch_max = 100;
ALTER SYSTEM SET mailcluster.snapshot_after_entries = 0;
ALTER SYSTEM SET mailcluster.snapshot_after_duration = -1;
ALTER SYSTEM SET mailcluster.apply_ahead_wait = 0;
ALTER SYSTEM SET mailcluster.apply_ahead_wait = '61s';
ALTER SYSTEM SET mailcluster.write_mode = 'sometimes';
ALTER SYSTEM SET mailcluster.read_consistency = 'eventual';
ALTER SYSTEM SET mailcluster.roles = 'purge.stores=1,x';
ALTER SYSTEM SET mailcluster.roles = 'purge.accounts=0';
ALTER SYSTEM SET mailcluster.roles = 'acme.renew=1, 1';
ALTER SYSTEM SET mailcluster.roles = 'metrics.calculate=65536';
ALTER SYSTEM SET mailcluster.roles = 'metrics.push=1,,2';
ALTER SYSTEM SET mailcluster.roles = 'metrics.push=1; metrics.push=2';
ALTER SYSTEM SET mailcluster.roles = 'no.such.role=1';
ALTER SYSTEM SET mailcluster.roles = 'purge.stores';
-- the two-dot SPEC names cannot be read back from postgresql.auto.conf by
-- PostgreSQL 15, so ALTER SYSTEM refuses them even with a good value
ALTER SYSTEM SET mailcluster.roles.purge.stores = '1,2';
ALTER SYSTEM SET mailcluster.roles.metrics.push = '1,x';
ALTER SYSTEM SET mailcluster.enable_fault_injection = 'sometimes';
ALTER SYSTEM SET mailcluster.no_such_setting = 1;
-- good values pass the same hooks (and are reset at once)
ALTER SYSTEM SET mailcluster.seed_nodes = '127.0.0.1:1180, [::1]:1181, seed-3.example.com';
ALTER SYSTEM SET mailcluster.roles = ' metrics.push = 4 , 2,9 ; acme.renew=1;';
ALTER SYSTEM SET mailcluster.advertise_addr = '2001:db8::5';
ALTER SYSTEM RESET mailcluster.seed_nodes;
ALTER SYSTEM RESET mailcluster.roles;
ALTER SYSTEM RESET mailcluster.advertise_addr;
-- settings only a reload or restart may change
SET mailcluster.heartbeat = 500;
SET mailcluster.node_id = 3;
