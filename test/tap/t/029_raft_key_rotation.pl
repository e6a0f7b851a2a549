# 029_raft_key_rotation.pl — the documented key rotation (doc/operations.md:
# add the new key, encrypt with it, drop the old one; each step reloaded on
# all nodes) as seen by the Raft RPC: after every step one node is
# restarted, so its connections are new handshakes with the rings of that
# step, and writes still commit and replicate to it; at the end a node
# started with only the old key is refused by the others' RPC (counted as
# failed authentication) and never catches up.  Gossip UDP ports
# 21290-21292, RPC 21790-21792, both + MC_TAP_PORT_SHIFT (test/tap/MCTest.pm).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use FindBin;
use lib "$FindBin::RealBin/..";
use MCTest qw(ports make_node wait_for checksums metric);

my $old = 'tap-raft-rotate-old-0123456789abcdef';
my $new = 'tap-raft-rotate-new-fedcba9876543210';
my @gport = ports(21290, 3);

my @nodes = map {
	make_node(name => "rot$_", id => $_, gossip => $gport[ $_ - 1 ], key => $old,
		seeds => [ @gport[0, 1] ], conf => q{mailcluster.raft_election_timeout = 1000
mailcluster.raft_commit_timeout = 5000
})
} 1 .. 3;
$_->start for @nodes;
$_->safe_psql('postgres', 'CREATE EXTENSION mailcluster') for @nodes;
ok(defined wait_for($nodes[0], "SELECT leader_id IS NOT NULL FROM mailcluster.raft_status", 60),
	'cluster formed');

# a write through node 1 (forwarded if it is not the leader), then every
# node has applied it
sub write_everywhere
{
	my ($name, $nodes) = @_;
	my ($rc, $out, $err) = $nodes[0]->psql('postgres',
		qq{SELECT mailcluster._raft_submit('{"op":"account_create","name":"$name"}', '$name')});
	return "write failed: $err" if $rc != 0;
	for my $n (@$nodes)
	{
		return 'not applied on ' . $n->name
		  unless defined wait_for($n,
			"SELECT count(*) = 1 FROM mailcluster.accounts WHERE name = '$name'", 30);
	}
	return 'ok';
}

is(write_everywhere('before', \@nodes), 'ok', 'a write before the rotation reaches all nodes');

my @steps = (
	[ 'add the new key (old still encrypts)', "$old,$new" ],
	[ 'encrypt with the new key',             "$new,$old" ],
	[ 'remove the old key',                   $new ]);
my $i = 0;
for my $step (@steps)
{
	my ($what, $value) = @$step;
	for my $n (@nodes)
	{
		$n->safe_psql('postgres', "ALTER SYSTEM SET mailcluster.key = '$value'");
		$n->safe_psql('postgres', 'SELECT pg_reload_conf()');
	}
	usleep(500_000);
	# new handshakes under this step's rings: restart one node (in turn)
	my $r = $nodes[ $i++ % 3 ];
	$r->restart;
	# as a client would (MC003's hint): write once every node knows a
	# leader; the restarted node may have been the leader, then one is elected
	ok(!grep({ !defined wait_for($_, 'SELECT mailcluster.leader() IS NOT NULL', 30) } @nodes),
		"$what: every node knows a leader after restarting " . $r->name);
	is(write_everywhere("step$i", \@nodes), 'ok',
		"$what: after restarting " . $r->name . ', a write commits and reaches all nodes');
}
my %sums = checksums(\@nodes, 20);
is(scalar(keys %sums), 1, 'equal state_checksum after the rotation: ' . join(' | ', keys %sums));

# a node still holding only the old key is refused
my $stale = $nodes[2];
$stale->stop('fast');
$stale->append_conf('postgresql.conf', "mailcluster.key = '$old'\n");
unlink($stale->data_dir . '/postgresql.auto.conf');
$stale->start;
my $before = metric($nodes[0], 'raft_rpc_dropped_auth_failed_total')
  + metric($nodes[1], 'raft_rpc_dropped_auth_failed_total');
is(write_everywhere('after', [ @nodes[0, 1] ]), 'ok', 'the two nodes with the new key still commit');
usleep(3_000_000);
my $after = metric($nodes[0], 'raft_rpc_dropped_auth_failed_total')
  + metric($nodes[1], 'raft_rpc_dropped_auth_failed_total');
cmp_ok($after, '>', $before, "the old-key node's RPC fails authentication ($before -> $after)");
is($stale->safe_psql('postgres', "SELECT count(*) FROM mailcluster.accounts WHERE name = 'after'"),
	'0', 'the old-key node never receives the new write');

$_->stop('fast') for @nodes;
done_testing();
