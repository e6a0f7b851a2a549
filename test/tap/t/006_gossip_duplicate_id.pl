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

# After the impostor stops, the real node 2 is (still, or again) alive at
# node 1 and its packets go through: the replay windows are kept per
# (node id, source address), so the impostor's higher sequence numbers did
# not push node 2's window ahead (doc/security.md §3).
my $replayed_sql =
  "SELECT coalesce(sum(value), 0) FROM mailcluster.metrics WHERE name = 'gossip_packets_dropped_replayed_total'";
my $n2_heard = "SELECT state = 'alive' AND gossip_port = 21602 AND last_seen > now() - interval '2 seconds' "
  . "FROM mailcluster.members WHERE node_id = 2";
my $replayed_before = $n1->safe_psql('postgres', $replayed_sql);
ok(wait_for($n1, $n2_heard, 30),
	'after the impostor stops, node 1 sees the real node 2 alive and hears from it');
usleep(3_000_000);
is($n1->safe_psql('postgres', $replayed_sql), $replayed_before,
	"node 1 drops none of node 2's packets as replayed after the impostor stopped");
ok(wait_for($n1, $n2_heard, 5), 'node 2 is still alive at node 1 3 s later');
ok(wait_for($n2, "SELECT state = 'alive' FROM mailcluster.members WHERE node_id = 1", 10),
	'node 2 sees node 1 alive');
note('replayed drops at node 1: ' . $n1->safe_psql('postgres', $replayed_sql));

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
