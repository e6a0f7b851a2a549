# 026_raft_snapshot.pl — log compaction and snapshot transfer (R28): with
# snapshot_after_entries = 100 the log is compacted as writes go on; a
# node that was down for 1,000 writes is behind the compaction point and
# catches up through a snapshot streamed in chunks, then through the log;
# all three end with equal state_checksum(), also after a restart of the
# node that installed the snapshot.  snapshot() forces one.
# Gossip UDP 21260-21262, RPC 21760-21762, both + MC_TAP_PORT_SHIFT
# (test/tap/MCTest.pm).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use FindBin;
use lib "$FindBin::RealBin/..";
use MCTest qw(ports make_node wait_for checksums);

my $key = 'tap-raft-secret-0123456789abcdef';
my @gport = ports(21260, 3);

# Node $id: gossip on $gport[$id-1], seeded with nodes 1 and 2, a snapshot
# every 100 entries.
sub node
{
	my ($id) = @_;
	return make_node(name => "snap$id", id => $id, gossip => $gport[ $id - 1 ], key => $key,
		seeds => [ @gport[0, 1] ], conf => q{mailcluster.raft_election_timeout = 1000
mailcluster.raft_commit_timeout = 5000
mailcluster.snapshot_after_entries = 100
mailcluster.snapshot_after_duration = 0
mailcluster.raft_batch_max = 65536
mailcluster.enable_fault_injection = on
});
}

# The distinct "applied_index checksum" values of @nodes once all applied
# what the furthest one has (30 s each), joined by ' | ' (no '|': equal).
sub converged
{
	my @nodes = @_;
	my %sums = checksums(\@nodes, 30);
	return join(' | ', keys %sums);
}

my @nodes = map { node($_) } 1 .. 3;
$_->start for @nodes;
$_->safe_psql('postgres', 'CREATE EXTENSION mailcluster') for @nodes;
ok(defined wait_for($nodes[0], "SELECT leader_id IS NOT NULL AND array_length(voters, 1) = 3 FROM mailcluster.raft_status", 60, interval => 0.2),
	'cluster formed');
my $lid = $nodes[0]->safe_psql('postgres', 'SELECT leader_id FROM mailcluster.raft_status');
my $L = $nodes[ $lid - 1 ];
my ($down) = grep { $_ != $L } @nodes;
my ($up) = grep { $_ != $L && $_ != $down } @nodes;

$L->safe_psql('postgres',
	q{SELECT mailcluster._raft_submit(jsonb_build_object('op','account_create','name','pre-' || i), 'pre-' || i) FROM generate_series(1, 10) i});
my $down_id = $down->safe_psql('postgres', 'SELECT node_id FROM mailcluster.members WHERE is_self');
$down->stop('fast');

# 1,000 writes while one node is down
my $t0 = time;
$L->safe_psql('postgres',
	q{SELECT count(mailcluster._raft_submit(jsonb_build_object('op','account_create','name','w-' || i), 'w-' || i)) FROM generate_series(1, 1000) i});
diag(sprintf('1000 writes with one follower down: %.1f s', time - $t0));
ok(defined wait_for($L, 'SELECT snapshot_index >= 900 FROM mailcluster.raft_status', 30, interval => 0.2),
	'the leader compacted its log: snapshot_index ' . $L->safe_psql('postgres', 'SELECT snapshot_index FROM mailcluster.raft_status'));
ok($L->safe_psql('postgres', 'SELECT min(idx) > 100 FROM mailcluster._raft_log') eq 't',
	'compacted entries are gone from _raft_log');
ok(defined wait_for($up, 'SELECT snapshot_index >= 900 FROM mailcluster.raft_status', 30, interval => 0.2),
	'the live follower compacts too');

# With one of three voters down, a fourth voter that is not running would
# make a majority of 3 out of 2 live voters: add_node refuses it (55000)
# and the configuration stays as it was.
ok(defined wait_for($L, "SELECT state <> 'alive' FROM mailcluster.members WHERE node_id = $down_id", 30, interval => 0.2),
	'gossip on the leader sees the stopped node gone');
my (undef, undef, $add_err) = $L->psql('postgres', "\\set VERBOSITY verbose\nSELECT mailcluster.add_node(9)");
like($add_err, qr/ERROR:\s+55000:.*adding node 9 as a voter would leave the cluster without a majority/s,
	'add_node of an absent voter while a voter is down: refused with 55000');
like($add_err, qr/DETAIL:\s+2 of the 4 voters it would have are alive in gossip here; a majority is 3/,
	'the refusal counts the live voters');
is($L->safe_psql('postgres', 'SELECT array_length(voters, 1) FROM mailcluster.raft_status'), '3',
	'the voters are unchanged');
is($L->safe_psql('postgres', q{SELECT count(mailcluster._raft_submit('{"op":"account_create","name":"after-refusal"}', 'after-refusal'))}),
	'1', 'writes go on after the refusal');

# the node that was away catches up through a snapshot
$down->start;
ok(defined wait_for($down, "SELECT count(*) = 1010 FROM mailcluster.accounts WHERE name LIKE 'w-%' OR name LIKE 'pre-%'", 90, interval => 0.2),
	'the returning node has all 1,010 writes');
ok($down->safe_psql('postgres',
		"SELECT value FROM mailcluster._raft_metrics() WHERE name = 'raft_snapshots_installed_total'") >= 1,
	'it installed a snapshot');
ok($L->safe_psql('postgres',
		"SELECT value FROM mailcluster._raft_metrics() WHERE name = 'raft_snapshot_chunks_sent_total'") >= 2,
	'the leader streamed it in several chunks');
my $sum = converged(@nodes);
unlike($sum, qr/\|/, "equal state_checksum on all three: $sum");

# writes after the install reach it through the log
like($down->safe_psql('postgres',
		q{SELECT mailcluster._raft_submit('{"op":"account_create","name":"after-install"}', 'after-install')}),
	qr/"id"/, 'a write on the node that installed the snapshot');

# snapshot() forces one at the applied index
my $applied = $up->safe_psql('postgres', 'SELECT applied_index FROM mailcluster.raft_status');
my $s = $up->safe_psql('postgres', 'SELECT mailcluster.snapshot()');
ok($s >= $applied, "snapshot() returned $s >= applied $applied");

# a restart after install loads the snapshot meta and the log after it
$down->stop('fast');
$down->start;
ok(defined wait_for($down, "SELECT leader_id IS NOT NULL FROM mailcluster.raft_status", 30, interval => 0.2),
	'the node restarts after installing a snapshot');
$sum = converged(@nodes);
unlike($sum, qr/\|/, "equal state_checksum after its restart: $sum");

# ---- the session state after a snapshot install without a restart ---------
# Every jmap() answers sessionState, the newest account's creation index,
# which a node publishes from its own applies.  $down is cut off while the
# others create accounts and compact past them, then let back: it installs
# a snapshot without restarting and must answer the snapshot's newest
# account, not the one it published before the cut.
my $sess_ok = q{SELECT (mailcluster.jmap('{"using": ["urn:ietf:params:jmap:core"], "methodCalls": []}')->>'sessionState')::bigint
                       = (SELECT max(created_idx) FROM mailcluster.accounts)};
# (an account applied since its restart, so that it has published one)
my $before_cut = $L->safe_psql('postgres',
	q{SELECT (mailcluster._raft_submit('{"op":"account_create","name":"before-cut"}', 'before-cut')->>'id')});
ok(defined wait_for($down, "SELECT count(*) = 1 FROM mailcluster.accounts WHERE id = '$before_cut'", 30, interval => 0.1),
	'the node applied an account before the cut');
is($down->safe_psql('postgres', $sess_ok), 't', 'sessionState is the newest account before the cut');
my $did = $down->safe_psql('postgres', 'SELECT mailcluster.node_id()');
my $installed0 = $down->safe_psql('postgres', q{SELECT value FROM mailcluster._raft_metrics() WHERE name = 'raft_snapshots_installed_total'});
for my $n (@nodes)
{
	my $cut = $n == $down ? join(',', grep { $_ != $did } 1 .. 3) : $did;
	$n->safe_psql('postgres', "SELECT mailcluster.fault_isolate(ARRAY[$cut])");
}
$L->safe_psql('postgres',
	q{SELECT count(mailcluster._raft_submit(jsonb_build_object('op','account_create','name','cut-' || i), 'cut-' || i)) FROM generate_series(1, 300) i});
my $s2 = $L->safe_psql('postgres', 'SELECT mailcluster.snapshot()');
$_->safe_psql('postgres', 'SELECT mailcluster.fault_clear()') for @nodes;
ok(defined wait_for($down, "SELECT applied_index >= $s2 FROM mailcluster.raft_status", 60, interval => 0.2),
	"the cut-off node caught up to the snapshot at $s2");
ok($down->safe_psql('postgres', q{SELECT value FROM mailcluster._raft_metrics() WHERE name = 'raft_snapshots_installed_total'}) > $installed0,
	'through a snapshot');
is($down->safe_psql('postgres', $sess_ok), 't', 'sessionState is the newest account of the installed snapshot');

$_->stop for @nodes;
done_testing();
