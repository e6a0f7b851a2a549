# 007_gossip_reload.pl — SIGHUP handling of the gossip worker (node 1
# binds the wildcard address with an advertise_addr, node 2's seed is a
# host name, so both paths are exercised too): a new
# heartbeat rebuilds the SWIM core without losing members; a key file
# rotated in place is picked up; a key file made group-readable is refused
# at reload and the previous keys stay in use (G11: rotation never splits
# the cluster).  Gossip UDP ports 21701-21702.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $old = 'tap-keyfile-secret-0123456789';
my $new = 'tap-keyfile-secret-rotated-9876';
my @gport = (21701, 21702);

sub write_key
{
	my ($node, @keys) = @_;
	my $f = $node->data_dir . '/cluster.key';
	open(my $fh, '>', $f) or die "$f: $!";
	print $fh "# mailcluster keys, first encrypts\n", map { "$_\n" } @keys;
	close($fh);
	chmod 0600, $f;
	return $f;
}

sub make_node
{
	my ($i) = @_;
	my $id = $i + 1;
	my $node = PostgreSQL::Test::Cluster->new("node$id");
	$node->init;
	write_key($node, $old);
	$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'mailcluster'
mailcluster.node_id = $id
@{[ $i == 0 ? "mailcluster.bind_addr = '0.0.0.0'\nmailcluster.advertise_addr = '127.0.0.1'" : "mailcluster.bind_addr = '127.0.0.1'" ]}
mailcluster.bind_port = $gport[$i]
mailcluster.rpc_port = @{[ $gport[$i] + 100 ]}
mailcluster.key_file = 'cluster.key'
mailcluster.seed_nodes = '@{[ $i == 0 ? "127.0.0.1" : "localhost" ]}:$gport[0]'
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

sub metric
{
	my ($node, $name) = @_;
	return $node->safe_psql('postgres',
		"SELECT value::bigint FROM mailcluster.metrics WHERE name = '$name'");
}

my @nodes = map { make_node($_) } 0 .. 1;
$_->start for @nodes;
$_->safe_psql('postgres', 'CREATE EXTENSION mailcluster') for @nodes;
my $both = "SELECT count(*) = 2 FROM mailcluster.members WHERE state = 'alive'";
ok(wait_for($_, $both, 30), $_->name . ' sees both alive (key from key_file, seed by name)') for @nodes;

is($nodes[1]->safe_psql('postgres', 'SELECT addr FROM mailcluster.members WHERE node_id = 1'),
	'127.0.0.1', 'node 1 (bound to 0.0.0.0) is known by its advertise_addr');

# new heartbeat: the core is rebuilt, members kept
$nodes[0]->append_conf('postgresql.conf', 'mailcluster.heartbeat = 300');
$nodes[0]->reload;
ok(wait_for($nodes[0], "SELECT current_setting('mailcluster.heartbeat') = '300ms'", 30),
	'heartbeat reloaded');
my $t0 = time;
usleep(100_000) while !$nodes[0]->log_contains('gossip settings reloaded \(heartbeat 300 ms') && time - $t0 < 10;
ok($nodes[0]->log_contains('gossip settings reloaded \(heartbeat 300 ms'), 'gossip worker applied the new heartbeat');
is($nodes[0]->safe_psql('postgres', "SELECT count(*) FROM mailcluster.members WHERE state = 'alive'"),
	'2', 'members survive the rebuild');
usleep(1_500_000);
ok(wait_for($_, $both, 10), $_->name . ' still sees both alive after the heartbeat change') for @nodes;

# rotate the key file in place, in the three documented steps
for my $keys ([ $old, $new ], [ $new, $old ], [$new])
{
	for my $n (@nodes)
	{
		my $before = metric($n, 'gossip_key_reloads_total');
		write_key($n, @$keys);
		$n->reload;
		ok(wait_for($n, "SELECT value > $before FROM mailcluster.metrics WHERE name = 'gossip_key_reloads_total'", 30),
			$n->name . ' reloaded key file with ' . scalar(@$keys) . ' key(s)');
	}
	usleep(1_000_000);
	ok(wait_for($_, $both, 10), $_->name . ' sees both alive during the rotation') for @nodes;
}
is(metric($nodes[0], 'gossip_packets_dropped_auth_failed_total'), '0', 'no packet rejected during the rotation');

# a key file that became group-readable is refused at reload: old keys stay
my $f = $nodes[0]->data_dir . '/cluster.key';
chmod 0640, $f;
my $fail_before = metric($nodes[0], 'gossip_key_reload_failures_total');
$nodes[0]->reload;
ok(wait_for($nodes[0],
		"SELECT value > $fail_before FROM mailcluster.metrics WHERE name = 'gossip_key_reload_failures_total'", 30),
	'a group-readable key file is refused at reload');
ok($nodes[0]->log_contains('keeping the previous keys: key file .* group or world access'),
	'the log says why and that the previous keys stay');
usleep(1_000_000);
ok(wait_for($_, $both, 10), $_->name . ' still sees both alive with the previous keys') for @nodes;
chmod 0600, $f;

$_->stop for @nodes;
done_testing();
