# 004_gossip_rejoin_from_disk.pl — the membership survives a restart: a
# node whose only seed is down rejoins through the members it saved in
# $PGDATA/pg_mailcluster/members (G8: it left cleanly, comes back alive
# with a higher incarnation).  Gossip UDP ports 21040-21042, Raft RPC TCP
# 21540-21542, both + MC_TAP_PORT_SHIFT (test/tap/MCTest.pm).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use FindBin;
use lib "$FindBin::RealBin/..";
use MCTest qw(ports make_node wait_for wait_log);

my $key = 'tap-secret-0123456789abcdef';
my @gport = ports(21040, 3);

# Node $i+1: gossip on $gport[$i]; every node's only seed is node 1.
sub node
{
	my ($i) = @_;
	return make_node(name => 'node' . ($i + 1), id => $i + 1, gossip => $gport[$i],
		key => $key, seeds => [ $gport[0] ]);
}

my @nodes = map { node($_) } 0 .. 2;
$_->start for @nodes;
$_->safe_psql('postgres', 'CREATE EXTENSION mailcluster') for @nodes;
my $all_alive = "SELECT count(*) = 3 FROM mailcluster.members WHERE state = 'alive'";
ok(defined wait_for($_, $all_alive, 30, strict => 1), $_->name . ' sees 3 alive') for @nodes;

# the member file is written (at most a second after a change)
my $file = $nodes[2]->data_dir . '/pg_mailcluster/members';
my $t0 = time;
usleep(100_000) while !-s $file && time - $t0 < 10;
ok(-s $file, 'node 3 keeps its members in pg_mailcluster/members');

my $inc_before = $nodes[1]->safe_psql('postgres',
	'SELECT incarnation FROM mailcluster.members WHERE node_id = 3');

# the seed goes away, then node 3 restarts
$nodes[0]->stop;
ok(defined wait_for($nodes[2], "SELECT state IN ('left', 'dead') FROM mailcluster.members WHERE node_id = 1", 30, strict => 1),
	'node 3 saw its seed (node 1) go');
$nodes[2]->stop;
ok(defined wait_for($nodes[1], "SELECT state = 'left' FROM mailcluster.members WHERE node_id = 3", 30, strict => 1),
	'node 2 saw node 3 leave');
$nodes[2]->start;

ok(defined wait_for($nodes[1], "SELECT state = 'alive' FROM mailcluster.members WHERE node_id = 3", 30, strict => 1),
	'node 2 sees node 3 alive again although its only seed is down');
ok(defined wait_for($nodes[2], "SELECT state = 'alive' FROM mailcluster.members WHERE node_id = 2", 30, strict => 1),
	'restarted node 3 found node 2 through its member file');
cmp_ok($nodes[1]->safe_psql('postgres', 'SELECT incarnation FROM mailcluster.members WHERE node_id = 3'),
	'>', $inc_before, 'node 3 came back with a higher incarnation');
ok($nodes[2]->log_contains('restored \d+ members from the member file'),
	'node 3 logged that it restored members from disk');

# a damaged member file is ignored, not fatal
$nodes[2]->stop;
open(my $fh, '>', $file) or die "open $file: $!";
print $fh "garbage";
close($fh);
$nodes[2]->start;
# the worker starts just after the server accepts connections: poll the log
wait_log($nodes[2], 'ignoring damaged member file', 10);
ok($nodes[2]->log_contains('ignoring damaged member file'), 'a damaged member file is reported and ignored');
is($nodes[2]->safe_psql('postgres', "SELECT state FROM mailcluster.members WHERE is_self"),
	'alive', 'node 3 runs with a damaged member file');

$_->stop for @nodes[1, 2];
done_testing();
