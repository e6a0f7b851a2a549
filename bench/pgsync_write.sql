-- bench/pgsync_write.sql — pgbench script for bench/writes.sh: one small
-- row into a plain table on the synchronous-replication primary.
INSERT INTO bench_kv (client, v) VALUES (:client_id, 'vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv');
