-- bench/mc_flag_req.sql — pgbench script for bench/writes.sh with
-- PGB_MODE=prepared (row "mc-jmap-flag"): the same write as mc_flag.sql
-- (Email/set of keywords/$seen on one of 200 emails, set or cleared), but
-- the client sends a ready JMAP request document, as an application does,
-- instead of building it with jsonb_build_object in the statement.  The
-- 400 requests (200 emails x set/clear) are made once, before the run, into
-- bench_flag_req.  Colon-free, so pgbench -M prepared can bind :k.
\set k random(1, 400)
SELECT mailcluster.jmap(r.req) FROM bench_flag_req r WHERE r.k = :k;
