# 003_gossip_partition.pl — G10 over real sockets: fault_isolate splits
# three nodes into {1,2} | {3}; each side marks the other dead and keeps
# serving its views; after fault_clear the views converge again.  Also
# checks fault_isolate needs mailcluster.enable_fault_injection.  Gossip
# UDP ports 21030-21032, Raft RPC TCP 21530-21532, both + MC_TAP_PORT_SHIFT
# (test/tap/MCTest.pm).
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
my @gport = ports(21030, 3);

# Node $i+1: gossip on $gport[$i], seeded with nodes 1 and 2, fault
# injection on, purge.stores configured as "3, 2".
sub node
{
	my ($i) = @_;
	return make_node(name => 'node' . ($i + 1), id => $i + 1, gossip => $gport[$i], key => $key,
		seed_nodes => "127.0.0.1:$gport[0], 127.0.0.1:$gport[1]",
		conf => "mailcluster.enable_fault_injection = on\nmailcluster.roles = 'purge.stores = 3, 2'\n");
}

my @nodes = map { node($_) } 0 .. 2;
$_->start for @nodes;
$_->safe_psql('postgres', 'CREATE EXTENSION mailcluster') for @nodes;

my $all_alive = "SELECT count(*) = 3 FROM mailcluster.members WHERE state = 'alive'";
ok(defined wait_for($_, $all_alive, 30, strict => 1), $_->name . ' sees 3 alive before the partition') for @nodes;

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

ok(defined wait_for($nodes[0], "SELECT state = 'dead' FROM mailcluster.members WHERE node_id = 3", 60, strict => 1),
	'majority side: node 1 sees node 3 dead');
ok(defined wait_for($nodes[1], "SELECT state = 'dead' FROM mailcluster.members WHERE node_id = 3", 60, strict => 1),
	'majority side: node 2 sees node 3 dead');
ok(defined wait_for($nodes[2],
		"SELECT count(*) = 2 FROM mailcluster.members WHERE node_id IN (1, 2) AND state = 'dead'", 60, strict => 1),
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
ok(defined wait_for($_, $all_alive, 60, strict => 1), $_->name . ' sees 3 alive after the partition healed') for @nodes;
is($nodes[2]->safe_psql('postgres', "SELECT holder FROM mailcluster.roles WHERE role = 'purge.stores'"),
	'2', 'after healing node 2 holds purge.stores again');

# fault injection refuses to run when disabled
$nodes[0]->append_conf('postgresql.conf', 'mailcluster.enable_fault_injection = off');
$nodes[0]->reload;
ok(defined wait_for($nodes[0], "SELECT current_setting('mailcluster.enable_fault_injection') = 'off'", 30, strict => 1),
	'fault injection turned off by reload');
my ($rc, $out, $err) = $nodes[0]->psql('postgres', 'SELECT mailcluster.fault_isolate(ARRAY[2])');
like($err, qr/requires mailcluster.enable_fault_injection/, 'fault_isolate refused when disabled');

$_->stop for @nodes;
done_testing();
