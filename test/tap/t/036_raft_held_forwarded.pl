# 036_raft_held_forwarded.pl — a write that group commit held on a leader
# which then lost its leadership reaches the new leader once one is known,
# and succeeds there.
#
# The leader is cut off from both followers.  A first write is appended to
# its log (a replication round is open, never to commit); a second one
# arrives during that round and is held, not appended (raft_requests.c).
# The leader steps down (check-quorum) with no leader known, so the held
# write stays pending; the other two elect a new leader; the cut is lifted
# within the commit timeout.  Then the held write is forwarded to the new
# leader, commits and is applied everywhere once; the first write, whose
# entry the new leader's log replaces, ends in MC001 and is nowhere.
# (TAP 023 covers the other outcome: no leader known before the timeout.)
# Gossip UDP ports 21360-21362, RPC + MC_TAP_PORT_SHIFT (test/tap/MCTest.pm).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use FindBin;
use lib "$FindBin::RealBin/..";
use MCTest qw(ports make_node wait_for agreed_leader checksums);

my $key = 'tap-raft-secret-0123456789abcdef';
my @gport = ports(21360, 3);

sub node
{
	my ($id) = @_;
	return make_node(name => "held$id", id => $id, gossip => $gport[ $id - 1 ], key => $key,
		seeds => [ @gport[0, 1] ], conf => q{mailcluster.raft_election_timeout = 1000
mailcluster.raft_commit_timeout = 8000
mailcluster.enable_fault_injection = on
});
}

# A write of account $name on $node in the background; its psql harness
# and where its stdout and stderr go.
sub bg_write
{
	my ($node, $name) = @_;
	my %w = (out => '', err => '');
	$w{h} = IPC::Run::start(
		[
			$node->installed_command('psql'), '-XAt', '-v', 'VERBOSITY=verbose', '-d',
			$node->connstr('postgres'), '-c',
			qq{SELECT mailcluster._raft_submit('{"op":"account_create","name":"$name"}', 'h-$name')}
		],
		'<', \'', '>', \$w{out}, '2>', \$w{err});
	return \%w;
}

my @nodes = map { node($_) } 1 .. 3;
$_->start for @nodes;
$_->safe_psql('postgres', 'CREATE EXTENSION mailcluster') for @nodes;
my $lid = agreed_leader(\@nodes, 90);
ok(defined $lid, 'the three nodes agree on a leader: ' . ($lid // 'none'));
my $L = $nodes[ $lid - 1 ];
my @M = grep { $_ != $L } @nodes;
my @mid = map { $_->safe_psql('postgres', 'SELECT mailcluster.node_id()') } @M;
like($L->safe_psql('postgres', q{SELECT mailcluster._raft_submit('{"op":"account_create","name":"before"}', 'h-before')}),
	qr/"id"/, 'a write before the cut');

$L->safe_psql('postgres', "SELECT mailcluster.fault_isolate(ARRAY[$mid[0], $mid[1]])");
$_->safe_psql('postgres', "SELECT mailcluster.fault_isolate(ARRAY[$lid])") for @M;

my $first = bg_write($L, 'appended');
ok(defined wait_for($L, 'SELECT last_log_index > commit_index FROM mailcluster.raft_status', 10),
	'the first write is appended on the cut-off leader');
my $last = $L->safe_psql('postgres', 'SELECT last_log_index FROM mailcluster.raft_status');
my $second = bg_write($L, 'held');
ok(defined wait_for($L, q{SELECT count(*) = 2 FROM pg_stat_activity
                          WHERE query LIKE '%_raft_submit%' AND state = 'active' AND pid <> pg_backend_pid()}, 10),
	'the second write is waiting too');
is($L->safe_psql('postgres', 'SELECT last_log_index FROM mailcluster.raft_status'), $last,
	'it was held, not appended (a round was open)');

ok(defined wait_for($L, q{SELECT role <> 'leader' AND leader_id IS NULL FROM mailcluster.raft_status}, 10),
	'the cut-off leader steps down and knows no leader');
ok(defined wait_for($M[0], "SELECT leader_id IS NOT NULL AND leader_id <> $lid FROM mailcluster.raft_status", 20),
	'the other two elect a new leader');
is($L->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity
                               WHERE query LIKE '%_raft_submit%' AND state = 'active' AND pid <> pg_backend_pid()}),
	'2', 'both writes still wait (no MC003 for the held one)');

$_->safe_psql('postgres', 'SELECT mailcluster.fault_clear()') for @nodes;
$second->{h}->finish;
like($second->{out}, qr/"id"/, 'the held write succeeds through the new leader: ' . ($second->{err} || $second->{out}));
$first->{h}->finish;
like($first->{err}, qr/ERROR:\s+MC001:/, 'the appended write, replaced by the new leader\'s log, ends in MC001');

my %sums = checksums(\@nodes, 60);
is(scalar(keys %sums), 1, 'equal state_checksum on all three: ' . join(' | ', keys %sums));
for my $n (@nodes)
{
	is($n->safe_psql('postgres', q{SELECT string_agg(name || ':' || n, ',' ORDER BY name) FROM
		(SELECT name, count(*) AS n FROM mailcluster.accounts WHERE name IN ('appended', 'held') GROUP BY name) c}),
		'held:1', 'node ' . $n->safe_psql('postgres', 'SELECT mailcluster.node_id()') . ': the held write once, the replaced one nowhere');
}

$_->stop for @nodes;
done_testing();
