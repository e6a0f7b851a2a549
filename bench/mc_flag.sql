-- bench/mc_flag.sql — pgbench script for bench/writes.sh (row "mc-jmap-flag"):
-- the commonest small mail write, marking a message read or unread — one
-- JMAP Email/set that sets or clears keywords/$seen of one of 200 emails,
-- through the public mailcluster.jmap() (one Raft log entry, applied by the
-- JMAP state machine on every node).  :acct is passed with -D.
\set n random(1, 200)
\set v random(0, 1)
SELECT mailcluster.jmap(jsonb_build_object(
    'using', jsonb_build_array('urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail'),
    'methodCalls', jsonb_build_array(jsonb_build_array('Email/set',
        jsonb_build_object('accountId', ':acct', 'update', jsonb_build_object(f.id,
            jsonb_build_object('keywords/$seen', CASE WHEN :v = 1 THEN 'true'::jsonb ELSE 'null'::jsonb END))),
        'c0'))))
  FROM bench_flag f WHERE f.n = :n;
