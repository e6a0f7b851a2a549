# 024_raft_formation.pl — three nodes with no Raft state started at the
# same instant always form exactly ONE cluster (one cluster id, the three
# nodes as its voters, one agreed leader), twenty times over
# (MC_FORMATION_ROUNDS overrides the count).  Between rounds the Raft state
# is wiped with the library not loaded.  Gossip UDP 23031-23033, RPC 23131-23133.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $rounds = $ENV{MC_FORMATION_ROUNDS} // 20;
my $key = 'tap-raft-secret-0123456789abcdef';
my $base = 23031;

# Node $id: gossip on $base+$id-1, RPC 100 above.
sub make_node
{
	my ($id) = @_;
	my $node = PostgreSQL::Test::Cluster->new("form$id");
	my $g = $base + $id - 1;
	$node->init;
	$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'mailcluster'
mailcluster.node_id = $id
mailcluster.bind_addr = '127.0.0.1'
mailcluster.bind_port = $g
mailcluster.rpc_port = @{[ $g + 100 ]}
mailcluster.key = '$key'
mailcluster.seed_nodes = '127.0.0.1:$base,127.0.0.1:@{[ $base + 1 ]},127.0.0.1:@{[ $base + 2 ]}'
mailcluster.heartbeat = 200
mailcluster.raft_election_timeout = 500
mailcluster.raft_heartbeat_interval = 50
});
	return $node;
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

my @nodes = map { make_node($_) } 1 .. 3;
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
