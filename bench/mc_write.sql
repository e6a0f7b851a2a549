-- bench/mc_write.sql — pgbench script for bench/writes.sh: the lightest
-- replicated write of mailcluster's SQL API, account_create (one Raft log
-- entry: the account row and its six standard mailboxes), committed by a
-- majority and applied locally before it returns.
SELECT mailcluster.account_create('bench-' || :client_id || '-' || random());
