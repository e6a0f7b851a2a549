# 026_raft_snapshot.pl — log compaction and snapshot transfer (R28): with
# snapshot_after_entries = 100 the log is compacted as writes go on; a
# node that was down for 1,000 writes is behind the compaction point and
# catches up through a snapshot streamed in chunks, then through the log;
# all three end with equal state_checksum(), also after a restart of the
# node that installed the snapshot.  snapshot() forces one.
# Gossip UDP 23051-23053, RPC 23151-23153.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $key = 'tap-raft-secret-0123456789abcdef';
my $base = 23051;

# Node $id: gossip on $base+$id-1, RPC 100 above.
sub make_node
{
	my ($id) = @_;
	my $node = PostgreSQL::Test::Cluster->new("snap$id");
	my $g = $base + $id - 1;
	$node->init;
	$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'mailcluster'
mailcluster.node_id = $id
mailcluster.bind_addr = '127.0.0.1'
mailcluster.bind_port = $g
mailcluster.rpc_port = @{[ $g + 100 ]}
mailcluster.key = '$key'
mailcluster.seed_nodes = '127.0.0.1:$base,127.0.0.1:@{[ $base + 1 ]}'
mailcluster.heartbeat = 200
mailcluster.raft_election_timeout = 1000
mailcluster.raft_commit_timeout = 5000
mailcluster.snapshot_after_entries = 100
mailcluster.snapshot_after_duration = 0
mailcluster.raft_batch_max = 65536
});
	return $node;
}

# Wait until $sql returns 't' on $node; seconds taken, or undef after $limit s.
sub wait_for
{
	my ($node, $sql, $limit) = @_;
	my $t0 = time;
	while (time - $t0 < $limit)
	{
		my ($rc, $r) = $node->psql('postgres', $sql);
		return time - $t0 if $rc == 0 && $r eq 't';
		usleep(200_000);
	}
	return undef;
}

# Equal checksums at one index on all nodes?
sub converged
{
	my @nodes = @_;
	my $target = 0;
	for my $n (@nodes)
	{
		my $a = $n->safe_psql('postgres', 'SELECT applied_index FROM mailcluster.raft_status');
		$target = $a if $a > $target;
	}
	my %sums;
	for my $n (@nodes)
	{
		$n->safe_psql('postgres', "SELECT mailcluster.wait_for_index($target, 30000)");
		$sums{ $n->safe_psql('postgres', "SELECT applied_index || ' ' || checksum FROM mailcluster.state_checksum()") }++;
	}
	return join(' | ', keys %sums);
}

my @nodes = map { make_node($_) } 1 .. 3;
$_->start for @nodes;
$_->safe_psql('postgres', 'CREATE EXTENSION mailcluster') for @nodes;
ok(defined wait_for($nodes[0], "SELECT leader_id IS NOT NULL AND array_length(voters, 1) = 3 FROM mailcluster.raft_status", 60),
	'cluster formed');
my $lid = $nodes[0]->safe_psql('postgres', 'SELECT leader_id FROM mailcluster.raft_status');
my $L = $nodes[ $lid - 1 ];
my ($down) = grep { $_ != $L } @nodes;
my ($up) = grep { $_ != $L && $_ != $down } @nodes;

$L->safe_psql('postgres',
	q{SELECT mailcluster._raft_submit(jsonb_build_object('op','account_create','name','pre-' || i), 'pre-' || i) FROM generate_series(1, 10) i});
$down->stop('fast');

# 1,000 writes while one node is down
my $t0 = time;
$L->safe_psql('postgres',
	q{SELECT count(mailcluster._raft_submit(jsonb_build_object('op','account_create','name','w-' || i), 'w-' || i)) FROM generate_series(1, 1000) i});
diag(sprintf('1000 writes with one follower down: %.1f s', time - $t0));
ok(defined wait_for($L, 'SELECT snapshot_index >= 900 FROM mailcluster.raft_status', 30),
	'the leader compacted its log: snapshot_index ' . $L->safe_psql('postgres', 'SELECT snapshot_index FROM mailcluster.raft_status'));
ok($L->safe_psql('postgres', 'SELECT min(idx) > 100 FROM mailcluster._raft_log') eq 't',
	'compacted entries are gone from _raft_log');
ok(defined wait_for($up, 'SELECT snapshot_index >= 900 FROM mailcluster.raft_status', 30),
	'the live follower compacts too');

# the node that was away catches up through a snapshot
$down->start;
ok(defined wait_for($down, "SELECT count(*) = 1010 FROM mailcluster.accounts WHERE name LIKE 'w-%' OR name LIKE 'pre-%'", 90),
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
ok(defined wait_for($down, "SELECT leader_id IS NOT NULL FROM mailcluster.raft_status", 30),
	'the node restarts after installing a snapshot');
$sum = converged(@nodes);
unlike($sum, qr/\|/, "equal state_checksum after its restart: $sum");

$_->stop for @nodes;
done_testing();
