# 003_gossip_partition.pl — G10 over real sockets: fault_isolate splits
# three nodes into {1,2} | {3}; each side marks the other dead and keeps
# serving its views; after fault_clear the views converge again.  Also
# checks fault_isolate needs mailcluster.enable_fault_injection.  Gossip
# UDP ports 21301-21303.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $key = 'tap-secret-0123456789abcdef';
my @gport = (21301, 21302, 21303);

sub make_node
{
	my ($i) = @_;
	my $id = $i + 1;
	my $node = PostgreSQL::Test::Cluster->new("node$id");
	$node->init;
	$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'mailcluster'
mailcluster.node_id = $id
mailcluster.bind_addr = '127.0.0.1'
mailcluster.bind_port = $gport[$i]
mailcluster.rpc_port = @{[ $gport[$i] + 100 ]}
mailcluster.key = '$key'
mailcluster.seed_nodes = '127.0.0.1:$gport[0], 127.0.0.1:$gport[1]'
mailcluster.heartbeat = 200
mailcluster.enable_fault_injection = on
mailcluster.roles = 'purge.stores = 3, 2'
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

my @nodes = map { make_node($_) } 0 .. 2;
$_->start for @nodes;
$_->safe_psql('postgres', 'CREATE EXTENSION mailcluster') for @nodes;

my $all_alive = "SELECT count(*) = 3 FROM mailcluster.members WHERE state = 'alive'";
ok(wait_for($_, $all_alive, 30), $_->name . ' sees 3 alive before the partition') for @nodes;

# roles: the lowest configured node alive in gossip holds purge.stores
is($nodes[0]->safe_psql('postgres', "SELECT holder FROM mailcluster.roles WHERE role = 'purge.stores'"),
	'2', 'purge.stores is held by node 2 (lowest of 3, 2 alive)');
is($nodes[1]->safe_psql('postgres', "SELECT mailcluster.has_role('purge.stores')"), 't',
	'node 2 has purge.stores');
is($nodes[2]->safe_psql('postgres', "SELECT mailcluster.has_role('purge.stores')"), 'f',
	'node 3 does not');

# partition {1,2} | {3}
$nodes[0]->safe_psql('postgres', 'SELECT mailcluster.fault_isolate(ARRAY[3])');
$nodes[1]->safe_psql('postgres', 'SELECT mailcluster.fault_isolate(ARRAY[3])');
$nodes[2]->safe_psql('postgres', 'SELECT mailcluster.fault_isolate(ARRAY[1, 2])');

ok(wait_for($nodes[0], "SELECT state = 'dead' FROM mailcluster.members WHERE node_id = 3", 60),
	'majority side: node 1 sees node 3 dead');
ok(wait_for($nodes[1], "SELECT state = 'dead' FROM mailcluster.members WHERE node_id = 3", 60),
	'majority side: node 2 sees node 3 dead');
ok(wait_for($nodes[2],
		"SELECT count(*) = 2 FROM mailcluster.members WHERE node_id IN (1, 2) AND state = 'dead'", 60),
	'minority side: node 3 sees nodes 1 and 2 dead');

# both sides keep working: their own views, each other alive inside a side
is($nodes[0]->safe_psql('postgres', "SELECT state FROM mailcluster.members WHERE node_id = 2"),
	'alive', 'node 1 still sees node 2 alive');
is($nodes[2]->safe_psql('postgres', "SELECT state FROM mailcluster.members WHERE is_self"),
	'alive', 'node 3 still serves its view and sees itself alive');
cmp_ok($nodes[0]->safe_psql('postgres',
		"SELECT value FROM mailcluster.metrics WHERE name = 'gossip_packets_dropped_fault_injected_total'"),
	'>', 0, 'dropped packets are counted as fault_injected');
# on its side node 3 is the only configured node alive, so it takes the role
is($nodes[2]->safe_psql('postgres', "SELECT holder FROM mailcluster.roles WHERE role = 'purge.stores'"),
	'3', 'minority side: node 3 holds purge.stores (lowest configured node alive there)');

# heal
$_->safe_psql('postgres', 'SELECT mailcluster.fault_clear()') for @nodes;
ok(wait_for($_, $all_alive, 60), $_->name . ' sees 3 alive after the partition healed') for @nodes;
is($nodes[2]->safe_psql('postgres', "SELECT holder FROM mailcluster.roles WHERE role = 'purge.stores'"),
	'2', 'after healing node 2 holds purge.stores again');

# fault injection refuses to run when disabled
$nodes[0]->append_conf('postgresql.conf', 'mailcluster.enable_fault_injection = off');
$nodes[0]->reload;
ok(wait_for($nodes[0], "SELECT current_setting('mailcluster.enable_fault_injection') = 'off'", 30),
	'fault injection turned off by reload');
my ($rc, $out, $err) = $nodes[0]->psql('postgres', 'SELECT mailcluster.fault_isolate(ARRAY[2])');
like($err, qr/requires mailcluster.enable_fault_injection/, 'fault_isolate refused when disabled');

$_->stop for @nodes;
done_testing();
