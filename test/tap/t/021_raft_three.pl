# 021_raft_three.pl — three nodes on loopback form ONE Raft cluster by
# themselves (bootstrap_expect = 3, lowest id proposes the voters); a write
# on the leader and a write on a follower (write_mode = forward, R16) are
# applied on all three with equal state_checksum(); kill -9 of the leader
# elects a new one (R2, R8: 3 nodes with 1 down still elect), writes
# succeed again, and the old leader restarts and catches up (R10/R11).
# Gossip UDP ports 21210-21212, Raft RPC TCP ports 21710-21712, both
# + MC_TAP_PORT_SHIFT (test/tap/MCTest.pm).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use FindBin;
use lib "$FindBin::RealBin/..";
use MCTest qw(ports make_node wait_for wait_pid_gone agreed_leader converged);

my $key = 'tap-raft-secret-0123456789abcdef';
my @gport = ports(21210, 3);

# Node $i+1: gossip on $gport[$i], seeded with nodes 1 and 2.
sub node
{
	my ($i) = @_;
	return make_node(name => 'raft' . ($i + 1), id => $i + 1, gossip => $gport[$i], key => $key,
		seeds => [ @gport[0, 1] ], conf => q{mailcluster.raft_election_timeout = 1000
mailcluster.raft_heartbeat_interval = 100
mailcluster.raft_commit_timeout = 5000
});
}

my @nodes = map { node($_) } 0 .. 2;
$_->start for @nodes;
$_->safe_psql('postgres', 'CREATE EXTENSION mailcluster') for @nodes;

ok(defined wait_for($nodes[0],
		"SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type IN ('mailcluster raft', 'mailcluster apply')", 10),
	'raft and apply workers show in pg_stat_activity');

# one cluster, one leader
my $leader = agreed_leader(\@nodes, 60);
ok(defined $leader, 'all three agree on a leader: ' . ($leader // 'none'));
my %cids = map { $_->safe_psql('postgres', 'SELECT cluster_id FROM mailcluster.raft_status') => 1 } @nodes;
is(scalar(keys %cids), 1, 'exactly one cluster id: ' . join(',', keys %cids));
is($nodes[0]->safe_psql('postgres',
		"SELECT array_to_string(array(SELECT unnest(voters) ORDER BY 1), ',') FROM mailcluster.raft_status"),
	'1,2,3', 'the three nodes are the voters');
is(scalar(grep { $_->safe_psql('postgres', "SELECT role FROM mailcluster.raft_status") eq 'leader' } @nodes),
	1, 'exactly one node says it is the leader');

my $L = $nodes[ $leader - 1 ];
my ($F) = grep { $_ != $L } @nodes;

# the leader's progress view: a row per node, its own included; none on a follower
ok(defined wait_for($L, q{SELECT array_agg(node_id ORDER BY node_id) = '{1,2,3}' FROM mailcluster.raft_progress}, 10),
	'raft_progress on the leader has a row for each of the three nodes');
is($L->safe_psql('postgres', qq{SELECT p.state || ' ' || (p.lag = 0) || ' ' || (p.match_index = s.last_log_index)
		FROM mailcluster.raft_progress p, mailcluster.raft_status s WHERE p.node_id = $leader}),
	'replicate true true', "the leader's own row: replicate, its last index, no lag");
is($F->safe_psql('postgres', 'SELECT count(*) FROM mailcluster.raft_progress'), '0',
	'raft_progress is empty on a follower');

# a write on the leader
like($L->safe_psql('postgres',
		q{SELECT mailcluster._raft_submit('{"op":"account_create","name":"on-leader"}', 'w-1')}),
	qr/"id"/, 'write on the leader');
# a write on a follower, forwarded to the leader
like($F->safe_psql('postgres',
		q{SELECT mailcluster._raft_submit('{"op":"account_create","name":"on-follower"}', 'w-2')}),
	qr/"id"/, 'write on a follower (forwarded)');
is($F->safe_psql('postgres',
		"SELECT count(*) FROM mailcluster.accounts WHERE name IN ('on-leader', 'on-follower')"),
	'2', 'the follower sees both writes as soon as its own returned');

ok(defined wait_for($F, "SELECT value >= 2 FROM mailcluster.metrics WHERE name = 'raft_commits_total'", 5),
	'Raft commits are counted in the metrics view');
ok($F->safe_psql('postgres',
		"SELECT value FROM mailcluster.metrics WHERE name = 'raft_rpc_messages_received_total'") > 0,
	'received Raft messages are counted');
my $sum = converged(\@nodes, 20);
ok($sum, "equal state_checksum on all three: $sum");
for my $n (@nodes)
{
	is($n->safe_psql('postgres',
			"SELECT count(*) FROM mailcluster.accounts WHERE name IN ('on-leader', 'on-follower')"),
		'2', $n->name . ' applied both writes');
}
# The apply worker reports its table statistics, so autovacuum sees the
# replicated tables grow (ANALYZE/VACUUM of them and of the log depend on it).
for my $n (@nodes)
{
	ok(defined wait_for($n,
			"SELECT n_tup_ins >= 2 FROM pg_stat_user_tables WHERE schemaname = 'mailcluster' AND relname = 'accounts'", 10),
		$n->name . ': inserts of the apply path reach pg_stat_user_tables');
}

# R23: a read index requested on a follower comes from the leader and covers
# every write acknowledged before it
my $last_write = $L->safe_psql('postgres',
	q{SELECT mailcluster._raft_submit('{"op":"account_create","name":"before-read"}', 'w-3')});
my $commit = $L->safe_psql('postgres', 'SELECT commit_index FROM mailcluster.raft_status');
my $ri = $F->safe_psql('postgres', 'SELECT mailcluster.read_barrier(5000)');
ok($ri >= $commit, "read_barrier on a follower ($ri) >= the leader's commit index ($commit)");
is($F->safe_psql('postgres', "SELECT count(*) FROM mailcluster.accounts WHERE name = 'before-read'"),
	'1', 'after read_barrier the follower has applied the acknowledged write');

# kill -9 of the leader: a new leader among the two others
my $old_pid = $L->{_pid};
my $t_kill = time;
$L->kill9;
ok(wait_pid_gone($old_pid), 'old leader postmaster is gone');
my @rest = grep { $_ != $L } @nodes;
my $new_leader = agreed_leader(\@rest, 30);
ok(defined $new_leader && $new_leader != $leader,
	'a new leader after kill -9: ' . ($new_leader // 'none'));
diag(sprintf('new leader known %.2f s after kill -9', time - $t_kill));

# writes succeed again, on the new leader and on the remaining follower
for my $n (@rest)
{
	my $name = 'after-' . $n->name;
	my $t0 = time;
	my ($rc, $out, $err);
	while (time - $t0 < 20)
	{
		($rc, $out, $err) = $n->psql('postgres',
			qq{SELECT mailcluster._raft_submit('{"op":"account_create","name":"$name"}', 'w-$name')});
		last if $rc == 0;
		usleep(200_000);
	}
	like($out, qr/"id"/, "write on " . $n->name . " after failover" . ($rc ? ": $err" : ''));
}

# the old leader restarts and catches up
$L->start;
ok(defined wait_for($L, "SELECT count(*) = 5 FROM mailcluster.accounts WHERE name LIKE 'on-%' OR name LIKE 'after-%' OR name = 'before-read'", 60),
	'the restarted old leader caught up');
$sum = converged(\@nodes, 30);
ok($sum, "equal state_checksum on all three after the restart: $sum");
ok(defined agreed_leader(\@nodes, 30), 'all three agree on the leader again');

$_->stop for @nodes;
done_testing();
