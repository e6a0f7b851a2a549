# 001_gossip_membership.pl — three nodes on loopback find each other from
# their seeds within a few heartbeats (G9 join by full-state merge), show
# the gossip worker in pg_stat_activity, and see a kill -9'd node as dead
# and its restart as alive again (G3/G5 failure detection, refutation with
# a higher incarnation).  Gossip UDP ports 21101-21103.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use IO::Socket::INET;

my $key = 'tap-secret-0123456789abcdef';
my @gport = (21101, 21102, 21103);

# A node with gossip on 127.0.0.1:$gport[$i], seeded with node 1.
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
mailcluster.seed_nodes = '127.0.0.1:$gport[0]'
mailcluster.heartbeat = 200
});
	return $node;
}

# Wait until $sql returns 't' on $node; returns the seconds it took, or
# undef after $limit seconds.
sub wait_for
{
	my ($node, $sql, $limit) = @_;
	my $t0 = time;
	while (time - $t0 < $limit)
	{
		my $r = $node->safe_psql('postgres', $sql);
		return time - $t0 if $r eq 't';
		usleep(100_000);
	}
	return undef;
}

# Wait until nobody holds UDP port $port (the killed node's gossip worker
# exits when it notices its postmaster died).
sub wait_port_free
{
	my ($port) = @_;
	for (1 .. 600)
	{
		my $s = IO::Socket::INET->new(Proto => 'udp', LocalAddr => '127.0.0.1', LocalPort => $port);
		if ($s) { close($s); return 1; }
		usleep(100_000);
	}
	return 0;
}

# Wait until a killed postmaster's pid is really gone (reaped).
sub wait_pid_gone
{
	my ($pid) = @_;
	for (1 .. 600)
	{
		return 1 unless kill(0, $pid);
		usleep(100_000);
	}
	return 0;
}

my @nodes = map { make_node($_) } 0 .. 2;
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
	my $took = wait_for($n, $all_alive, 30);
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
		"1|t|127.0.0.1|$gport[0]|@{[ $gport[0] + 100 ]}|t|alive|f",
		"2|f|127.0.0.1|$gport[1]|@{[ $gport[1] + 100 ]}|t|alive|f",
		"3|f|127.0.0.1|$gport[2]|@{[ $gport[2] + 100 ]}|t|alive|f"),
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
			"SELECT state = 'dead' FROM mailcluster.members WHERE node_id = 3", 60),
		$n->name . ' sees node 3 dead after kill -9');
}

# ... and its restart as alive again, with a higher incarnation
$nodes[2]->start;
for my $n (@nodes)
{
	ok(defined wait_for($n, $all_alive, 60), $n->name . ' sees node 3 alive again');
}
my $inc_after = $nodes[0]->safe_psql('postgres',
	"SELECT incarnation FROM mailcluster.members WHERE node_id = 3");
cmp_ok($inc_after, '>', $inc_before, "restarted node 3 came back with a higher incarnation ($inc_before -> $inc_after)");

# a clean stop is seen as 'left', not 'dead' (G8)
$nodes[1]->stop;
ok(defined wait_for($nodes[0],
		"SELECT state = 'left' FROM mailcluster.members WHERE node_id = 2", 30),
	'node 1 sees cleanly stopped node 2 as left');

$_->stop for @nodes[0, 2];
done_testing();
