-- bench/pgsync_flag.sql — pgbench script for bench/writes.sh (row
-- "pgsync-flag"): the mail write of mc-jmap-flag done by hand on the
-- synchronous-replication primary, as an application on plain PostgreSQL
-- would: set or clear $seen in the keywords of one of 200 email rows and
-- record the change for /changes, in one statement (one transaction).  No
-- JMAP request is parsed and no response kept: it is the floor of that
-- write on PostgreSQL's own replication.
\set n random(1, 200)
\set v random(0, 1)
WITH u AS (
    UPDATE bench_email
       SET keywords = CASE WHEN :v = 1 THEN keywords || jsonb_build_object('$seen', true)
                           ELSE keywords - '$seen' END
     WHERE n = :n
 RETURNING n)
INSERT INTO bench_change (obj, kind) SELECT n, 'u' FROM u;
