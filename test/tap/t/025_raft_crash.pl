# 025_raft_crash.pl — kill -9 of ALL three nodes at a random moment while
# writes are running, then restart: every acknowledged write is there, on
# every node (R32: log and hard state are durable before acks and votes
# leave the node; SPEC §6).  Three rounds.  Gossip 21250-21252, RPC
# 21750-21752, both + MC_TAP_PORT_SHIFT (test/tap/MCTest.pm).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use POSIX ();
use FindBin;
use lib "$FindBin::RealBin/..";
use MCTest qw(ports make_node wait_for wait_pid_gone checksums);

my $key = 'tap-raft-secret-0123456789abcdef';
my @gport = ports(21250, 3);

# Node $id: gossip on $gport[$id-1], seeded with nodes 1 and 2, no restart
# after a crash.
sub node
{
	my ($id) = @_;
	return make_node(name => "crash$id", id => $id, gossip => $gport[ $id - 1 ], key => $key,
		seeds => [ @gport[0, 1] ], conf => q{mailcluster.raft_election_timeout = 1000
mailcluster.raft_commit_timeout = 3000
restart_after_crash = off
});
}

my @nodes = map { node($_) } 1 .. 3;
$_->start for @nodes;
$_->safe_psql('postgres', 'CREATE EXTENSION mailcluster') for @nodes;
ok(defined wait_for($nodes[0], "SELECT leader_id IS NOT NULL AND array_length(voters, 1) = 3 FROM mailcluster.raft_status", 60),
	'cluster formed');

my @acked;
my $seq = 0;
for my $round (1 .. 3)
{
	ok(defined wait_for($_, "SELECT leader_id IS NOT NULL FROM mailcluster.raft_status", 60),
		"round $round: " . $_->name . ' knows a leader') for @nodes;
	my @pids = map { $_->{_pid} } @nodes;
	my $delay = 0.5 + rand(2.0);
	my $child = fork();
	if ($child == 0)
	{
		# the killer: all three postmasters at one random moment
		usleep(int($delay * 1_000_000));
		kill 'KILL', @pids;
		POSIX::_exit(0);    # no END blocks: they would stop the nodes
	}
	my $t0 = time;
	my $n_ok = 0;
	while (time - $t0 < $delay + 3)
	{
		my $node = $nodes[ $seq % 3 ];    # writes on leader and followers alike
		my $name = 'crash-' . $seq++;
		# psql may die with the server (broken pipe): that write is not acknowledged
		my ($rc, $out) = (1, '');
		eval {
			($rc, $out) = $node->psql('postgres',
				qq{SELECT mailcluster._raft_submit('{"op":"account_create","name":"$name"}', 'c-$name')});
		};
		if (!$@ && $rc == 0 && $out =~ /"id"/)
		{
			push @acked, $name;
			$n_ok++;
		}
	}
	waitpid($child, 0);
	wait_pid_gone($_) for @pids;
	ok($n_ok > 0, "round $round: $n_ok writes acknowledged before the kill at ${\ sprintf('%.2f', $delay)} s");
	$_->{_pid} = undef for @nodes;    # as kill9 leaves it
	$_->start for @nodes;
}

# every acknowledged write is on every node
ok(defined wait_for($_, "SELECT leader_id IS NOT NULL FROM mailcluster.raft_status", 60),
	$_->name . ' knows a leader after the last restart') for @nodes;
my $list = join(',', map { "'$_'" } @acked);
my $n = scalar(@acked);
for my $node (@nodes)
{
	ok(defined wait_for($node, "SELECT count(DISTINCT name) = $n FROM mailcluster.accounts WHERE name IN ($list)", 60),
		$node->name . " has all $n acknowledged writes");
}
my %sums = checksums(\@nodes, 20);
is(scalar(keys %sums), 1, 'equal state_checksum after the crashes: ' . join(' | ', keys %sums));

$_->stop for @nodes;
done_testing();
