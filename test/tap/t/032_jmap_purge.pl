# 032_jmap_purge.pl — the "mailcluster maintenance" worker on a three-node
# cluster: it runs mailcluster.purge_run() every interval, so the holder of
# purge.accounts (node 2 here) proposes purge_changes and the holder of
# purge.stores (node 3) proposes purge_blobs, and nobody else does.  Change
# rows older than the retention go on every node (equal state_checksum),
# /changes from a purged state answers cannotCalculateChanges, an uploaded
# blob nothing references disappears, a referenced one stays.
# The worker's period and purge_run's retention are settings: a round every
# 2 s, keep 10 log entries of /changes history, a 2 s grace for uploads.
# Gossip UDP ports 21320-21322, Raft RPC TCP ports 21820-21822, both
# + MC_TAP_PORT_SHIFT (test/tap/MCTest.pm).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use FindBin;
use lib "$FindBin::RealBin/..";
use MCTest qw(ports make_node agreed_leader jmap jget eml wait_all checksums);

my $key = 'tap-purge-secret-0123456789abcdef';
my @gport = ports(21320, 3);
my $keep = 10;

# Node $i+1: gossip on $gport[$i], seeded with nodes 1 and 2.
sub node
{
	my ($i) = @_;
	return make_node(name => 'purge' . ($i + 1), id => $i + 1, gossip => $gport[$i], key => $key,
		seeds => [ @gport[0, 1] ], conf => qq{mailcluster.maintenance_interval = '2s'
mailcluster.purge_keep_entries = $keep
mailcluster.purge_blob_grace = 2
mailcluster.raft_election_timeout = 1000
mailcluster.raft_heartbeat_interval = 100
mailcluster.raft_commit_timeout = 10000
mailcluster.roles = 'purge.accounts = 2; purge.stores = 3'
});
}

my @nodes = map { node($_) } 0 .. 2;
$_->start for @nodes;

# the worker is there before the extension is, and waits for it
ok(wait_all(\@nodes, q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'mailcluster maintenance'}, 30, interval => 0.2),
	'a "mailcluster maintenance" worker runs on every node');
$_->safe_psql('postgres', 'CREATE EXTENSION mailcluster') for @nodes;

my $leader = agreed_leader(\@nodes, 90);
ok(defined $leader, 'the three nodes agree on a leader: ' . ($leader // 'none'));
ok(wait_all(\@nodes, q{SELECT bool_and(CASE role WHEN 'purge.accounts' THEN holder = 2 WHEN 'purge.stores' THEN holder = 3 ELSE true END)
                         FROM mailcluster.roles}, 60, interval => 0.2),
	'every node sees node 2 holding purge.accounts and node 3 purge.stores');
my ($N1, $N2, $N3) = @nodes;

# ---- history to purge ------------------------------------------------------
my $acct = $N1->safe_psql('postgres', q{SELECT mailcluster.account_create('alice')});
like($acct, qr/^A[a-z2-7]+$/, "account created: $acct");
my $e1 = $N1->safe_psql('postgres', "SELECT mailcluster.deliver('$acct', " . eml('thread-a') . ')');
my $get = jmap($N1, qq([["Email/get", {"accountId": "$acct", "ids": []}, "g"]]));
my $s1 = jget($N1, $get, '{methodResponses,0,1,state}');
like($s1, qr/^\d+$/, "Email state after the first delivery: $s1");
my $blob1 = $N1->safe_psql('postgres', "SELECT blob_id FROM mailcluster.emails WHERE id = '$e1'");

my $c = jmap($N1, qq([["Email/changes", {"accountId": "$acct", "sinceState": "$s1"}, "c"]]));
is(jget($N1, $c, '{methodResponses,0,0}'), 'Email/changes', "Email/changes from $s1 answers before the purge");

my $e2 = $N2->safe_psql('postgres', "SELECT mailcluster.deliver('$acct', " . eml('thread-c') . ')');
for my $i (1 .. $keep + 5)
{
	my $v = $i % 2 ? 'true' : 'null';
	jmap($nodes[ $i % 3 ], qq([["Email/set", {"accountId": "$acct", "update": {"$e2": {"keywords/\$flagged": $v}}}, "s"]]));
}
my $s2 = jget($N1, jmap($N1, qq([["Email/get", {"accountId": "$acct", "ids": []}, "g"]])), '{methodResponses,0,1,state}');
cmp_ok($s2, '>', $s1 + $keep + 2, "Email state after @{[ $keep + 6 ]} more writes: $s2");

# ---- purge of changes ------------------------------------------------------
ok(wait_all(\@nodes, qq{SELECT purged_before > $s1 + 1 FROM mailcluster.accounts WHERE id = '$acct'}, 60, interval => 0.2),
	"every node moved the /changes horizon of $acct past $s1");
ok(wait_all(\@nodes, qq{SELECT count(*) = 0 FROM mailcluster.changes WHERE account_id = '$acct' AND type = 'Email' AND idx <= $s1}, 30, interval => 0.2),
	"every node dropped the Email change rows up to $s1");
ok(wait_all(\@nodes, qq{SELECT count(*) > 0 FROM mailcluster.changes WHERE account_id = '$acct' AND type = 'Email' AND idx = $s2}, 5, interval => 0.2),
	'the newest Email change row stays');
for my $n (@nodes)
{
	my $r = jmap($n, qq([["Email/changes", {"accountId": "$acct", "sinceState": "$s1"}, "c"]]));
	is(jget($n, $r, '{methodResponses,0,0}') . ' ' . jget($n, $r, '{methodResponses,0,1,type}'),
		'error cannotCalculateChanges', "Email/changes from the purged state $s1 on " . $n->name . ': cannotCalculateChanges');
}
my $now = jget($N3, jmap($N3, qq([["Email/get", {"accountId": "$acct", "ids": []}, "g"]])), '{methodResponses,0,1,state}');
my $r = jmap($N3, qq([["Email/changes", {"accountId": "$acct", "sinceState": "$now"}, "c"]]));
is(jget($N3, $r, '{methodResponses,0,0}'), 'Email/changes', 'Email/changes from the current state still answers');

# ---- purge of blobs --------------------------------------------------------
my $up = $N1->safe_psql('postgres',
	q{SELECT mailcluster.blob_upload('} . $acct . q{', convert_to('nobody uses these bytes ' || clock_timestamp()::text, 'UTF8'), 'text/plain')});
my $blob2 = jget($N1, $up, '{blobId}');
like($blob2, qr/^B/, "an upload nothing references: $blob2");
is($N1->safe_psql('postgres', "SELECT count(*) FROM mailcluster.blobs WHERE id = '$blob2'"), '1',
	'the uploaded blob is stored');
ok(wait_all(\@nodes, qq{SELECT count(*) = 0 FROM mailcluster.blobs WHERE id = '$blob2'}, 60, interval => 0.2),
	'the unreferenced blob disappears on every node');
ok(wait_all(\@nodes, qq{SELECT count(*) = 0 FROM mailcluster.account_blobs WHERE blob_id = '$blob2'}, 5, interval => 0.2),
	'and its upload grant too');
ok(wait_all(\@nodes, qq{SELECT count(*) = 1 FROM mailcluster.blobs WHERE id = '$blob1'}, 5, interval => 0.2),
	'the blob of a delivered email stays');
is($N2->safe_psql('postgres', "SELECT length(mailcluster.blob_download('$acct', '$blob1')) > 0"), 't',
	'and can still be downloaded');

# ---- equal state, and who proposed ---------------------------------------
my %sums = checksums(\@nodes, 10, retry => 30);
is(scalar(keys %sums), 1, 'equal state_checksum on all three nodes: ' . join(' | ', keys %sums));

for my $n (@nodes)
{
	my $who = $n->safe_psql('postgres', q{
		SELECT coalesce(string_agg(DISTINCT (client_id & 4294967295)::text, ',') FILTER (WHERE position(convert_to('"purge_changes"', 'UTF8') in data) > 0), '-')
		    || ' ' ||
		       coalesce(string_agg(DISTINCT (client_id & 4294967295)::text, ',') FILTER (WHERE position(convert_to('"purge_blobs"', 'UTF8') in data) > 0), '-')
		  FROM mailcluster._raft_log WHERE type = 0});
	is($who, '2 3', 'on ' . $n->name . ': purge_changes entries proposed only by node 2, purge_blobs only by node 3');
}

# ---- an idle cluster proposes no purge -------------------------------------
# Two rounds (2 s apart) for the last purge the writes above call for; then
# three more rounds on node 2 and node 3 must find nothing to propose, so
# the log does not grow.  (A purge is a log entry itself: rounds that
# counted it as a write went on proposing one purge apiece, keep_entries
# rounds long.)
sleep(5);
my $last0 = $N1->safe_psql('postgres', 'SELECT last_log_index FROM mailcluster.raft_status');
sleep(7);
is($N1->safe_psql('postgres', 'SELECT last_log_index FROM mailcluster.raft_status'), $last0,
	"idle for three rounds: the log stays at index $last0")
  or diag($N1->safe_psql('postgres', qq{SELECT idx, type, client_id, convert_from(data, 'UTF8')
		FROM mailcluster._raft_log WHERE idx > $last0 ORDER BY idx}));

# the worker survives SIGHUP
$N2->reload;
usleep(500_000);
ok(wait_all([$N2], q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'mailcluster maintenance'}, 10, interval => 0.2),
	'the maintenance worker is still there after a reload');

# ---- the settings follow a reload ---------------------------------------
# purge_changes entries in the log (same on every node): [idx, before_idx]
sub purges
{
	return map { [ split /\|/ ] } split /\n/, $N1->safe_psql('postgres', q{
		SELECT idx, (convert_from(data, 'UTF8')::jsonb->>'before_idx')
		  FROM mailcluster._raft_log
		 WHERE type = 0 AND position(convert_to('"purge_changes"', 'UTF8') in data) > 0 ORDER BY idx});
}

# maintenance_interval = 0 on node 2: no more rounds there, whatever is written
$N2->append_conf('postgresql.conf', "mailcluster.maintenance_interval = 0\n");
$N2->reload;
sleep(3);    # a round already under way has ended
my $n_purges = scalar(purges());
$N1->safe_psql('postgres', qq{SELECT mailcluster.account_create('quiet' || i) FROM generate_series(1, 15) i});
sleep(6);
is(scalar(purges()), $n_purges, "maintenance_interval = 0 after a reload: node 2 proposes no purge ($n_purges before, as many after)");

# back to a round every 2 s, keeping 3 entries: the next purge cuts 3 behind
$N2->append_conf('postgresql.conf', "mailcluster.maintenance_interval = '2s'\nmailcluster.purge_keep_entries = 3\n");
$N2->reload;
ok(wait_all([$N1], qq{SELECT count(*) > $n_purges FROM mailcluster._raft_log
                       WHERE type = 0 AND position(convert_to('"purge_changes"', 'UTF8') in data) > 0}, 30, interval => 0.2),
	'rounds again after maintenance_interval = 2s');
my ($idx, $before) = @{ (purges())[$n_purges] };
# before_idx = applied index at the round - 3; the entry lands right after
ok($idx - $before >= 4 && $idx - $before <= 6,
	"purge_keep_entries = 3 after a reload: the purge at index $idx cuts at $before");

$_->stop for @nodes;
done_testing();
