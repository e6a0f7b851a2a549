# 007_gossip_reload.pl — SIGHUP handling of the gossip worker (node 1
# binds the wildcard address with an advertise_addr, node 2's seed is a
# host name, so both paths are exercised too): a new
# heartbeat rebuilds the SWIM core without losing members; a key file
# rotated in place is picked up; a key file made group-readable is refused
# at reload and the previous keys stay in use (G11: rotation never splits
# the cluster).  Gossip UDP ports 21070-21071, Raft RPC TCP 21570-21571,
# both + MC_TAP_PORT_SHIFT (test/tap/MCTest.pm).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use FindBin;
use lib "$FindBin::RealBin/..";
use MCTest qw(ports make_node wait_for wait_log metric);

my $old = 'tap-keyfile-secret-0123456789';
my $new = 'tap-keyfile-secret-rotated-9876';
my @gport = ports(21070, 2);

# Write @keys (first encrypts) to $node's $PGDATA/cluster.key, mode 0600;
# returns the file name.
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

# Node $i+1 with key_file cluster.key holding $old, gossip on $gport[$i]:
# node 1 binds 0.0.0.0 and advertises 127.0.0.1, node 2 binds 127.0.0.1
# and has node 1 as seed by the name localhost.
sub node
{
	my ($i) = @_;
	my $node = make_node(name => 'node' . ($i + 1), id => $i + 1, gossip => $gport[$i],
		$i == 0 ? (bind_addr => '0.0.0.0', advertise_addr => '127.0.0.1') : (),
		key_file => 'cluster.key',
		seed_nodes => ($i == 0 ? '127.0.0.1' : 'localhost') . ":$gport[0]");
	write_key($node, $old);
	return $node;
}

my @nodes = map { node($_) } 0 .. 1;
$_->start for @nodes;
$_->safe_psql('postgres', 'CREATE EXTENSION mailcluster') for @nodes;
my $both = "SELECT count(*) = 2 FROM mailcluster.members WHERE state = 'alive'";
ok(defined wait_for($_, $both, 30, strict => 1), $_->name . ' sees both alive (key from key_file, seed by name)') for @nodes;

is($nodes[1]->safe_psql('postgres', 'SELECT addr FROM mailcluster.members WHERE node_id = 1'),
	'127.0.0.1', 'node 1 (bound to 0.0.0.0) is known by its advertise_addr');

# new heartbeat: the core is rebuilt, members kept
$nodes[0]->append_conf('postgresql.conf', 'mailcluster.heartbeat = 300');
$nodes[0]->reload;
ok(defined wait_for($nodes[0], "SELECT current_setting('mailcluster.heartbeat') = '300ms'", 30, strict => 1),
	'heartbeat reloaded');
wait_log($nodes[0], 'gossip settings reloaded \(heartbeat 300 ms', 10);
ok($nodes[0]->log_contains('gossip settings reloaded \(heartbeat 300 ms'), 'gossip worker applied the new heartbeat');
is($nodes[0]->safe_psql('postgres', "SELECT count(*) FROM mailcluster.members WHERE state = 'alive'"),
	'2', 'members survive the rebuild');
usleep(1_500_000);
ok(defined wait_for($_, $both, 10, strict => 1), $_->name . ' still sees both alive after the heartbeat change') for @nodes;

# rotate the key file in place, in the three documented steps
for my $keys ([ $old, $new ], [ $new, $old ], [$new])
{
	for my $n (@nodes)
	{
		my $before = metric($n, 'gossip_key_reloads_total');
		write_key($n, @$keys);
		$n->reload;
		ok(defined wait_for($n, "SELECT value > $before FROM mailcluster.metrics WHERE name = 'gossip_key_reloads_total'", 30, strict => 1),
			$n->name . ' reloaded key file with ' . scalar(@$keys) . ' key(s)');
	}
	usleep(1_000_000);
	ok(defined wait_for($_, $both, 10, strict => 1), $_->name . ' sees both alive during the rotation') for @nodes;
}
is(metric($nodes[0], 'gossip_packets_dropped_auth_failed_total'), '0', 'no packet rejected during the rotation');

# a key file that became group-readable is refused at reload: old keys stay
my $f = $nodes[0]->data_dir . '/cluster.key';
chmod 0640, $f;
my $fail_before = metric($nodes[0], 'gossip_key_reload_failures_total');
$nodes[0]->reload;
ok(defined wait_for($nodes[0],
		"SELECT value > $fail_before FROM mailcluster.metrics WHERE name = 'gossip_key_reload_failures_total'", 30, strict => 1),
	'a group-readable key file is refused at reload');
ok($nodes[0]->log_contains('keeping the previous keys: key file .* group or world access'),
	'the log says why and that the previous keys stay');
usleep(1_000_000);
ok(defined wait_for($_, $both, 10, strict => 1), $_->name . ' still sees both alive with the previous keys') for @nodes;
chmod 0600, $f;

$_->stop for @nodes;
done_testing();
