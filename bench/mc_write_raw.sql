-- bench/mc_write_raw.sql — pgbench script for bench/writes.sh (row
-- "mc-raft-raw"): the smallest command the Raft write path carries, a
-- record_response entry through the internal mailcluster._raft_submit()
-- (no JMAP work in the apply).  Not part of the public API: it shows what
-- the log itself costs, next to account_create.
SELECT mailcluster._raft_submit('{"op": "record_response", "response": {"ok": true}}');
