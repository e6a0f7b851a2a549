# 006_gossip_duplicate_id.pl — G7 over real sockets: a second server
# started with a live member's node id, from another address, is refused
# and reported (WARNING in the log, gossip_id_conflicts_total), and the
# members view keeps the original node.  Also a node claiming the
# observer's own id is dropped (gossip_packets_dropped_self_total).
# Gossip UDP ports 21060-21063, Raft RPC TCP 21560-21563, both
# + MC_TAP_PORT_SHIFT (test/tap/MCTest.pm).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use FindBin;
use lib "$FindBin::RealBin/..";
use MCTest qw(ports make_node wait_for);

my $key = 'tap-secret-0123456789abcdef';
# node 1, node 2, the impostor of node 2, the impostor of node 1
my @gport = ports(21060, 4);

# A node called $name with node id $id, gossip on $port, seeded with node 1.
sub node
{
	my ($name, $id, $port) = @_;
	return make_node(name => $name, id => $id, gossip => $port, key => $key, seeds => [ $gport[0] ]);
}

my $n1 = node('node1', 1, $gport[0]);
my $n2 = node('node2', 2, $gport[1]);
$_->start for $n1, $n2;
$_->safe_psql('postgres', 'CREATE EXTENSION mailcluster') for $n1, $n2;
ok(defined wait_for($n1, "SELECT count(*) = 2 FROM mailcluster.members WHERE state = 'alive'", 30, strict => 1),
	'nodes 1 and 2 see each other');

# an impostor with node 2's id on another port
my $dup = node('dup2', 2, $gport[2]);
$dup->start;
ok(defined wait_for($n1,
		"SELECT value > 0 FROM mailcluster.metrics WHERE name = 'gossip_id_conflicts_total'", 30, strict => 1),
	'node 1 counts the id conflict');
ok($n1->log_contains("node id 2 is claimed by 127.0.0.1 port $gport[2]"),
	'node 1 logs which address claimed node id 2');
usleep(1_000_000);
is($n1->safe_psql('postgres', 'SELECT gossip_port FROM mailcluster.members WHERE node_id = 2'),
	$gport[1], 'node 1 keeps the original node 2 (its address is not taken over)');
$dup->stop;

# After the impostor stops, the real node 2 is (still, or again) alive at
# node 1 and its packets go through: the replay windows are kept per
# (node id, source address), so the impostor's higher sequence numbers did
# not push node 2's window ahead (doc/security.md §3).
my $replayed_sql =
  "SELECT coalesce(sum(value), 0) FROM mailcluster.metrics WHERE name = 'gossip_packets_dropped_replayed_total'";
my $n2_heard = "SELECT state = 'alive' AND gossip_port = $gport[1] AND last_seen > now() - interval '2 seconds' "
  . "FROM mailcluster.members WHERE node_id = 2";
my $replayed_before = $n1->safe_psql('postgres', $replayed_sql);
ok(defined wait_for($n1, $n2_heard, 30, strict => 1),
	'after the impostor stops, node 1 sees the real node 2 alive and hears from it');
usleep(3_000_000);
is($n1->safe_psql('postgres', $replayed_sql), $replayed_before,
	"node 1 drops none of node 2's packets as replayed after the impostor stopped");
ok(defined wait_for($n1, $n2_heard, 5, strict => 1), 'node 2 is still alive at node 1 3 s later');
ok(defined wait_for($n2, "SELECT state = 'alive' FROM mailcluster.members WHERE node_id = 1", 10, strict => 1),
	'node 2 sees node 1 alive');
note('replayed drops at node 1: ' . $n1->safe_psql('postgres', $replayed_sql));

# an impostor with the observer's own id
my $dup1 = node('dup1', 1, $gport[3]);
$dup1->start;
ok(defined wait_for($n1,
		"SELECT value > 0 FROM mailcluster.metrics WHERE name = 'gossip_packets_dropped_self_total'", 30, strict => 1),
	"node 1 drops packets from a node claiming its own id");
is($n1->safe_psql('postgres', 'SELECT count(*) FROM mailcluster.members WHERE node_id = 1'),
	'1', 'node 1 still lists itself once');
$dup1->stop;

$_->stop for $n1, $n2;
done_testing();
