# 006_gossip_duplicate_id.pl — G7 over real sockets: a second server
# started with a live member's node id, from another address, is refused
# and reported (WARNING in the log, gossip_id_conflicts_total), and the
# members view keeps the original node.  Also a node claiming the
# observer's own id is dropped (gossip_packets_dropped_self_total).
# Gossip UDP ports 21601-21604.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $key = 'tap-secret-0123456789abcdef';

sub make_node
{
	my ($name, $id, $port) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'mailcluster'
mailcluster.node_id = $id
mailcluster.bind_addr = '127.0.0.1'
mailcluster.bind_port = $port
mailcluster.rpc_port = @{[ $port + 100 ]}
mailcluster.key = '$key'
mailcluster.seed_nodes = '127.0.0.1:21601'
mailcluster.heartbeat = 200
});
	return $node;
}

sub wait_for
{
	my ($node, $sql, $limit) = @_;
	my $t0 = time;
	while (time - $t0 < $limit)
	{
		return 1 if $node->safe_psql('postgres', $sql) eq 't';
		usleep(100_000);
	}
	return 0;
}

my $n1 = make_node('node1', 1, 21601);
my $n2 = make_node('node2', 2, 21602);
$_->start for $n1, $n2;
$_->safe_psql('postgres', 'CREATE EXTENSION mailcluster') for $n1, $n2;
ok(wait_for($n1, "SELECT count(*) = 2 FROM mailcluster.members WHERE state = 'alive'", 30),
	'nodes 1 and 2 see each other');

# an impostor with node 2's id on another port
my $dup = make_node('dup2', 2, 21603);
$dup->start;
ok(wait_for($n1,
		"SELECT value > 0 FROM mailcluster.metrics WHERE name = 'gossip_id_conflicts_total'", 30),
	'node 1 counts the id conflict');
ok($n1->log_contains('node id 2 is claimed by 127.0.0.1 port 21603'),
	'node 1 logs which address claimed node id 2');
usleep(1_000_000);
is($n1->safe_psql('postgres', 'SELECT gossip_port FROM mailcluster.members WHERE node_id = 2'),
	'21602', 'node 1 keeps the original node 2 (its address is not taken over)');
$dup->stop;
# Not checked: that the original node 2 is alive again afterwards.  It is
# not today: the crypto layer's replay window is kept per sender id, and
# the impostor's higher sequence numbers make node 1 drop the real node 2's
# packets as replayed until one of them restarts (see the report on issue 2).

# an impostor with the observer's own id
my $dup1 = make_node('dup1', 1, 21604);
$dup1->start;
ok(wait_for($n1,
		"SELECT value > 0 FROM mailcluster.metrics WHERE name = 'gossip_packets_dropped_self_total'", 30),
	"node 1 drops packets from a node claiming its own id");
is($n1->safe_psql('postgres', 'SELECT count(*) FROM mailcluster.members WHERE node_id = 1'),
	'1', 'node 1 still lists itself once');
$dup1->stop;

$_->stop for $n1, $n2;
done_testing();
