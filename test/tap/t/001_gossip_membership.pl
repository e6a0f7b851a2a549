# 001_gossip_membership.pl — three nodes on loopback find each other from
# their seeds within a few heartbeats (G9 join by full-state merge), show
# the gossip worker in pg_stat_activity, and see a kill -9'd node as dead
# and its restart as alive again (G3/G5 failure detection, refutation with
# a higher incarnation).  Gossip UDP ports 21010-21012, Raft RPC TCP
# 21510-21512, both + MC_TAP_PORT_SHIFT (test/tap/MCTest.pm).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use FindBin;
use lib "$FindBin::RealBin/..";
use MCTest qw(ports rpc_port make_node wait_for wait_pid_gone wait_port_free);

my $key = 'tap-secret-0123456789abcdef';
my @gport = ports(21010, 3);

# Node $i+1: gossip on $gport[$i], seeded with node 1.
sub node
{
	my ($i) = @_;
	return make_node(name => 'node' . ($i + 1), id => $i + 1, gossip => $gport[$i],
		key => $key, seeds => [ $gport[0] ]);
}

my @nodes = map { node($_) } 0 .. 2;
my $t_start = time;
$_->start for @nodes;
$_->safe_psql('postgres', 'CREATE EXTENSION mailcluster') for @nodes;

# the worker is visible under its name
is($nodes[0]->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'mailcluster gossip'"),
	'1', 'gossip worker shows in pg_stat_activity as "mailcluster gossip"');

# (a) all three see all three alive, within a few heartbeats of the last
# start (the clock started before the three servers did)
my $all_alive = "SELECT count(*) = 3 FROM mailcluster.members WHERE state = 'alive'";
for my $n (@nodes)
{
	my $took = wait_for($n, $all_alive, 30, strict => 1);
	my $since_start = time - $t_start;
	ok(defined $took, $n->name . ' sees 3 alive members');
	ok(defined $took && $since_start < 8, $n->name . ' joined within 8 s of starting the servers: '
		  . sprintf('%.2f s', $since_start));
}

# the members view carries what gossip says about each node
my $rows = $nodes[0]->safe_psql('postgres',
	"SELECT node_id, is_self, addr, gossip_port, rpc_port, sql_port IS NOT NULL, state, replica
	   FROM mailcluster.members ORDER BY node_id");
is($rows, join("\n",
		"1|t|127.0.0.1|$gport[0]|@{[ rpc_port($gport[0]) ]}|t|alive|f",
		"2|f|127.0.0.1|$gport[1]|@{[ rpc_port($gport[1]) ]}|t|alive|f",
		"3|f|127.0.0.1|$gport[2]|@{[ rpc_port($gport[2]) ]}|t|alive|f"),
	'members rows on node 1');
is($nodes[0]->safe_psql('postgres',
		"SELECT sql_port FROM mailcluster.members WHERE node_id = 2"),
	$nodes[1]->port, 'sql_port of node 2 is its PostgreSQL port');
ok($nodes[0]->safe_psql('postgres',
		"SELECT value > 0 FROM mailcluster.metrics WHERE name = 'gossip_packets_sent_total'") eq 't'
	  && $nodes[0]->safe_psql('postgres',
		"SELECT value > 0 FROM mailcluster.metrics WHERE name = 'gossip_packets_received_total'") eq 't',
	'packets sent and received are counted');
is($nodes[0]->safe_psql('postgres',
		"SELECT value FROM mailcluster.metrics WHERE name = 'gossip_packets_dropped_auth_failed_total'"),
	'0', 'no packet failed authentication among nodes sharing the key');

# (b) kill -9 of node 3: the others see it dead
my $inc_before = $nodes[0]->safe_psql('postgres',
	"SELECT incarnation FROM mailcluster.members WHERE node_id = 3");
my $pid = $nodes[2]->{_pid};
$nodes[2]->kill9;
ok(wait_pid_gone($pid), 'killed postmaster is gone');
ok(wait_port_free($gport[2]), "killed node's gossip port is free again");
for my $n (@nodes[0, 1])
{
	ok(defined wait_for($n,
			"SELECT state = 'dead' FROM mailcluster.members WHERE node_id = 3", 60, strict => 1),
		$n->name . ' sees node 3 dead after kill -9');
}

# ... and its restart as alive again, with a higher incarnation
$nodes[2]->start;
for my $n (@nodes)
{
	ok(defined wait_for($n, $all_alive, 60, strict => 1), $n->name . ' sees node 3 alive again');
}
my $inc_after = $nodes[0]->safe_psql('postgres',
	"SELECT incarnation FROM mailcluster.members WHERE node_id = 3");
cmp_ok($inc_after, '>', $inc_before, "restarted node 3 came back with a higher incarnation ($inc_before -> $inc_after)");

# a clean stop is seen as 'left', not 'dead' (G8)
$nodes[1]->stop;
ok(defined wait_for($nodes[0],
		"SELECT state = 'left' FROM mailcluster.members WHERE node_id = 2", 30, strict => 1),
	'node 1 sees cleanly stopped node 2 as left');

$_->stop for @nodes[0, 2];
done_testing();
