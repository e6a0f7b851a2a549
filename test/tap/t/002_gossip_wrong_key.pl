# 002_gossip_wrong_key.pl — G11 over real sockets: a node holding the
# wrong key never appears in anyone's members view and its packets are
# counted as rejected (gossip_packets_dropped_auth_failed_total); then a
# key rotation done in the documented three steps (add, use, remove) with
# reloads never splits the cluster.  Gossip UDP ports 21020-21022, Raft
# RPC TCP 21520-21522, both + MC_TAP_PORT_SHIFT (test/tap/MCTest.pm).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use FindBin;
use lib "$FindBin::RealBin/..";
use MCTest qw(ports make_node wait_for metric);

my $key = 'tap-secret-0123456789abcdef';
my $new_key = 'tap-rotated-secret-fedcba9876543210';
my @gport = ports(21020, 3);

# Node $i+1 holding key $k: gossip on $gport[$i], seeded with node 1.
sub node
{
	my ($i, $k) = @_;
	return make_node(name => 'node' . ($i + 1), id => $i + 1, gossip => $gport[$i],
		key => $k, seeds => [ $gport[0] ]);
}

my @good = (node(0, $key), node(1, $key));
my $bad = node(2, 'a-completely-different-secret-xyz');
$_->start for @good, $bad;
$_->safe_psql('postgres', 'CREATE EXTENSION mailcluster') for @good, $bad;

ok(defined wait_for($good[0], "SELECT count(*) = 2 FROM mailcluster.members WHERE state = 'alive'", 30, strict => 1),
	'the two nodes with the right key see each other');
ok(defined wait_for($good[0],
		"SELECT value > 0 FROM mailcluster.metrics WHERE name = 'gossip_packets_dropped_auth_failed_total'", 30, strict => 1),
	"node 1 counts the wrong-key node's packets as failing authentication");

# give the intruder plenty of heartbeats to try
usleep(2_000_000);
for my $n (@good)
{
	is($n->safe_psql('postgres', 'SELECT count(*) FROM mailcluster.members WHERE node_id = 3'),
		'0', $n->name . ' never lists the wrong-key node');
}
is($bad->safe_psql('postgres', 'SELECT string_agg(node_id::text, \',\') FROM mailcluster.members'),
	'3', 'the wrong-key node sees only itself');
cmp_ok(metric($bad, 'gossip_packets_dropped_auth_failed_total'), '>=', 0,
	'wrong-key node exposes the counter too');
$bad->stop;

# key rotation without a split: each step is applied to both nodes, and
# both keep seeing each other alive with no authentication failure added
my $auth0 = metric($good[0], 'gossip_packets_dropped_auth_failed_total');
my $auth1 = metric($good[1], 'gossip_packets_dropped_auth_failed_total');
my @steps = (
	[ 'add the new key (old still encrypts)', "$key,$new_key" ],
	[ 'encrypt with the new key',             "$new_key,$key" ],
	[ 'remove the old key',                   $new_key ]);
for my $step (@steps)
{
	my ($what, $value) = @$step;
	for my $n (@good)
	{
		my $before = metric($n, 'gossip_key_reloads_total');
		$n->safe_psql('postgres', "ALTER SYSTEM SET mailcluster.key = '$value'");
		$n->safe_psql('postgres', 'SELECT pg_reload_conf()');
		ok(defined wait_for($n,
				"SELECT value > $before FROM mailcluster.metrics WHERE name = 'gossip_key_reloads_total'", 30, strict => 1),
			$n->name . " reloaded its keys: $what");
	}
	# a few heartbeats under the new keys
	usleep(1_500_000);
	for my $n (@good)
	{
		is($n->safe_psql('postgres',
				"SELECT count(*) FROM mailcluster.members WHERE state = 'alive'"),
			'2', $n->name . " still sees both nodes alive after: $what");
	}
}
is(metric($good[0], 'gossip_packets_dropped_auth_failed_total'), $auth0,
	'node 1 rejected no packet during the rotation');
is(metric($good[1], 'gossip_packets_dropped_auth_failed_total'), $auth1,
	'node 2 rejected no packet during the rotation');
is(metric($good[0], 'gossip_keyring_keys'), '1', 'node 1 ends with one key');

$_->stop for @good;
done_testing();
