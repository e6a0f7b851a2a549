# 004_gossip_rejoin_from_disk.pl — the membership survives a restart: a
# node whose only seed is down rejoins through the members it saved in
# $PGDATA/pg_mailcluster/members (G8: it left cleanly, comes back alive
# with a higher incarnation).  Gossip UDP ports 21401-21403.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $key = 'tap-secret-0123456789abcdef';
my @gport = (21401, 21402, 21403);

sub make_node
{
	my ($i) = @_;
	my $id = $i + 1;
	my $node = PostgreSQL::Test::Cluster->new("node$id");
	$node->init;
	# every node's only seed is node 1
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
ok(wait_for($_, $all_alive, 30), $_->name . ' sees 3 alive') for @nodes;

# the member file is written (at most a second after a change)
my $file = $nodes[2]->data_dir . '/pg_mailcluster/members';
my $t0 = time;
usleep(100_000) while !-s $file && time - $t0 < 10;
ok(-s $file, 'node 3 keeps its members in pg_mailcluster/members');

my $inc_before = $nodes[1]->safe_psql('postgres',
	'SELECT incarnation FROM mailcluster.members WHERE node_id = 3');

# the seed goes away, then node 3 restarts
$nodes[0]->stop;
ok(wait_for($nodes[2], "SELECT state IN ('left', 'dead') FROM mailcluster.members WHERE node_id = 1", 30),
	'node 3 saw its seed (node 1) go');
$nodes[2]->stop;
ok(wait_for($nodes[1], "SELECT state = 'left' FROM mailcluster.members WHERE node_id = 3", 30),
	'node 2 saw node 3 leave');
$nodes[2]->start;

ok(wait_for($nodes[1], "SELECT state = 'alive' FROM mailcluster.members WHERE node_id = 3", 30),
	'node 2 sees node 3 alive again although its only seed is down');
ok(wait_for($nodes[2], "SELECT state = 'alive' FROM mailcluster.members WHERE node_id = 2", 30),
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
$t0 = time;
usleep(100_000) while !$nodes[2]->log_contains('ignoring damaged member file') && time - $t0 < 10;
ok($nodes[2]->log_contains('ignoring damaged member file'), 'a damaged member file is reported and ignored');
is($nodes[2]->safe_psql('postgres', "SELECT state FROM mailcluster.members WHERE is_self"),
	'alive', 'node 3 runs with a damaged member file');

$_->stop for @nodes[1, 2];
done_testing();
