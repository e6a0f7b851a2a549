# 024_raft_formation.pl — three nodes with no Raft state started at the
# same instant always form exactly ONE cluster (one cluster id, the three
# nodes as its voters, one agreed leader), twenty times over
# (MC_FORMATION_ROUNDS overrides the count).  Between rounds the Raft state
# is wiped with the library not loaded.  Gossip UDP 21240-21242, RPC
# 21740-21742, both + MC_TAP_PORT_SHIFT (test/tap/MCTest.pm).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use FindBin;
use lib "$FindBin::RealBin/..";
use MCTest qw(ports make_node);

my $rounds = $ENV{MC_FORMATION_ROUNDS} // 20;
my $key = 'tap-raft-secret-0123456789abcdef';
my @gport = ports(21240, 3);

# Node $id: gossip on $gport[$id-1], seeded with all three.
sub node
{
	my ($id) = @_;
	return make_node(name => "form$id", id => $id, gossip => $gport[ $id - 1 ], key => $key,
		seeds => [@gport], conf => q{mailcluster.raft_election_timeout = 500
mailcluster.raft_heartbeat_interval = 50
});
}

# Start every node without waiting, then wait until each accepts connections.
sub start_together
{
	my @nodes = @_;
	for my $n (@nodes)
	{
		system('pg_ctl', '-W', '-D', $n->data_dir, '-l', $n->logfile,
			'-o', '--cluster-name=' . $n->name, 'start') == 0
		  or die 'pg_ctl start failed';
	}
	for my $n (@nodes)
	{
		$n->_update_pid(1) if $n->poll_query_until('postgres', 'SELECT true');
	}
}

# Wipe the Raft state of a stopped node (library not loaded meanwhile).
sub wipe
{
	my ($n) = @_;
	system('pg_ctl', '-w', '-D', $n->data_dir, '-l', $n->logfile,
		'-o', "--cluster-name=wipe -c shared_preload_libraries=''", 'start') == 0
	  or die 'pg_ctl start (wipe) failed';
	$n->_update_pid(1);
	$n->safe_psql('postgres', q{
TRUNCATE mailcluster._raft_log;
UPDATE mailcluster._raft_state SET cluster_id = 0, node_id = 0, term = 0, vote = 0,
    commit_idx = 0, snap_index = 0, snap_term = 0, snap_conf = NULL;
UPDATE mailcluster._raft_applied SET applied_index = 0;});
	$n->stop('fast');
}

# Until $limit s: every node names the same leader and has the same cluster id
# and 3 voters.  Returns "cluster leader" or undef.
sub one_cluster
{
	my ($nodes, $limit) = @_;
	my $t0 = time;
	while (time - $t0 < $limit)
	{
		my %seen;
		for my $n (@$nodes)
		{
			my ($rc, $r) = $n->psql('postgres',
				"SELECT coalesce(cluster_id, '-') || ' ' || coalesce(leader_id, 0) || ' '"
				  . " || coalesce(array_length(voters, 1), 0) FROM mailcluster.raft_status");
			$seen{ $rc == 0 ? $r : 'err' }++;
		}
		my @k = keys %seen;
		return $k[0] if @k == 1 && $k[0] =~ /^[0-9a-f]{16} [1-3] 3$/;
		usleep(100_000);
	}
	return undef;
}

my @nodes = map { node($_) } 1 .. 3;
$_->start for @nodes;
$_->safe_psql('postgres', 'CREATE EXTENSION mailcluster') for @nodes;
my %clusters;
for my $round (1 .. $rounds)
{
	if ($round > 1)
	{
		$_->stop('fast') for @nodes;
		wipe($_) for @nodes;
		start_together(@nodes);
	}
	my $t0 = time;
	my $c = one_cluster(\@nodes, 30);
	ok(defined $c, sprintf('round %d: one cluster, one leader, three voters (%s, %.1f s)',
			$round, $c // 'none', time - $t0));
	$clusters{ (split / /, $c // '- -')[0] }++;
}
is(scalar(keys %clusters), $rounds, 'every round formed its own fresh cluster id');

$_->stop for @nodes;
done_testing();
