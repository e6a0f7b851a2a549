# 022_raft_membership.pl — growing the cluster from gossip: three nodes
# form it; a fourth node started later joins as a learner and is promoted
# to voter (voters < max_voters); a replica = on node joins as a learner
# and never votes or leads (R25); a node holding the wrong key is never
# let in, neither by gossip nor by Raft RPC.  Writes made before and after
# the joins are applied everywhere with equal state_checksum().
# Gossip UDP ports 21220-21225, Raft RPC TCP ports 21720-21725, both
# + MC_TAP_PORT_SHIFT (test/tap/MCTest.pm).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use FindBin;
use lib "$FindBin::RealBin/..";
use MCTest qw(ports make_node wait_for wait_pid_gone checksums);

my $key = 'tap-raft-secret-0123456789abcdef';
my @gport = ports(21220, 6);

# Node $id: gossip on $gport[$id-1], seeded with nodes 1 and 2, plus the
# postgresql.conf line(s) $extra.
sub node
{
	my ($id, $extra) = @_;
	return make_node(name => "member$id", id => $id, gossip => $gport[ $id - 1 ], key => $key,
		seeds => [ @gport[0, 1] ], conf => qq{mailcluster.raft_election_timeout = 1000
mailcluster.raft_commit_timeout = 5000
$extra
});
}

# Sorted id list of a raft_status array column on $node.
sub ids
{
	my ($node, $col) = @_;
	return $node->safe_psql('postgres',
		"SELECT coalesce(array_to_string(array(SELECT unnest($col) ORDER BY 1), ','), '')"
		  . " FROM mailcluster.raft_status");
}

my @nodes = map { node($_, '') } 1 .. 3;
$_->start for @nodes;
$_->safe_psql('postgres', 'CREATE EXTENSION mailcluster') for @nodes;
ok(defined wait_for($nodes[0], "SELECT leader_id IS NOT NULL AND array_length(voters, 1) = 3 FROM mailcluster.raft_status", 30, interval => 0.2),
	'three nodes formed a cluster');
like($nodes[0]->safe_psql('postgres',
		q{SELECT mailcluster._raft_submit('{"op":"account_create","name":"before-join"}', 'm-1')}),
	qr/"id"/, 'a write before the joins');

# node 4 joins later: learner first, then promoted (3 voters < max_voters 5)
my $n4 = node(4, '');
$n4->start;
$n4->safe_psql('postgres', 'CREATE EXTENSION mailcluster');
ok(defined wait_for($nodes[0], "SELECT 4 = ANY(voters) FROM mailcluster.raft_status", 30, interval => 0.2),
	'node 4 joined and was promoted to voter');
is(ids($nodes[0], 'voters'), '1,2,3,4', 'voters are now 1,2,3,4');
ok(defined wait_for($n4, "SELECT count(*) = 1 FROM mailcluster.accounts WHERE name = 'before-join'", 30, interval => 0.2),
	'node 4 caught up with the write made before it joined');

# node 5 is a replica: joins as learner, never promoted
my $n5 = node(5, 'mailcluster.replica = on');
$n5->start;
$n5->safe_psql('postgres', 'CREATE EXTENSION mailcluster');
ok(defined wait_for($nodes[0], "SELECT 5 = ANY(learners) FROM mailcluster.raft_status", 30, interval => 0.2),
	'the replica joined as a learner');
ok(defined wait_for($n5, "SELECT count(*) = 1 FROM mailcluster.accounts WHERE name = 'before-join'", 30, interval => 0.2),
	'the replica receives the log');

# node 6 has the wrong key: never let in
my $n6 = node(6, '');
$n6->append_conf('postgresql.conf', "mailcluster.key = 'a-completely-different-secret-0000'");
$n6->start;
$n6->safe_psql('postgres', 'CREATE EXTENSION mailcluster');

# writes on the replica are forwarded and applied everywhere
like($n5->safe_psql('postgres',
		q{SELECT mailcluster._raft_submit('{"op":"account_create","name":"from-replica"}', 'm-2')}),
	qr/"id"/, 'a write on the replica is forwarded to the leader');
sleep 4;    # several promotion rounds: the replica must stay a learner
is(ids($nodes[0], 'learners'), '5', 'the replica is still only a learner');
is(ids($nodes[0], 'voters'), '1,2,3,4', 'node 6 (wrong key) is not a member');
is($n6->safe_psql('postgres', "SELECT coalesce(cluster_id, 'none') FROM mailcluster.raft_status"),
	'none', 'node 6 (wrong key) never joined a cluster');
is($n5->safe_psql('postgres', "SELECT role FROM mailcluster.raft_status"),
	'learner', 'the replica reports itself as learner');

# kill the leader: a replica never becomes leader, voters elect a new one
my ($L) = grep { $_->safe_psql('postgres', 'SELECT role FROM mailcluster.raft_status') eq 'leader' } (@nodes, $n4);
my $lid = $L->safe_psql('postgres', 'SELECT mailcluster.node_id()');
my $pid = $L->{_pid};
$L->kill9;
my @live = grep { $_ != $L } (@nodes, $n4);
ok(defined wait_for($live[0], "SELECT leader_id IS NOT NULL AND leader_id <> $lid FROM mailcluster.raft_status", 30, interval => 0.2),
	'the voters elect a new leader');
isnt($n5->safe_psql('postgres', "SELECT role FROM mailcluster.raft_status"), 'leader',
	'the replica did not become leader');
# the replica learns of the new leader from its first append (it may still
# answer MC003 just before): wait for that, then write through it
ok(defined wait_for($n5, "SELECT leader_id IS NOT NULL AND leader_id <> $lid FROM mailcluster.raft_status", 30, interval => 0.2),
	'the replica follows the new leader');
like($n5->safe_psql('postgres',
		q{SELECT mailcluster._raft_submit('{"op":"account_create","name":"after-kill"}', 'm-3')}),
	qr/"id"/, 'writes go on after the leader died');
wait_pid_gone($pid);
$L->start;

# everyone (but node 6) converges
my @members = (@nodes, $n4, $n5);
for my $n (@members)
{
	ok(defined wait_for($n, "SELECT count(*) = 3 FROM mailcluster.accounts WHERE name IN ('before-join', 'from-replica', 'after-kill')", 30, interval => 0.2),
		$n->name . ' has all three writes');
}
my %sums = checksums(\@members, 20);
is(scalar(keys %sums), 1, 'equal state_checksum on all five members: ' . join(' | ', keys %sums));
is($n6->safe_psql('postgres', "SELECT count(*) FROM mailcluster.accounts"), '0',
	'node 6 (wrong key) received nothing');

# operator functions: transfer leadership to a chosen voter (R29), remove a member
my ($cur) = grep { $_->safe_psql('postgres', 'SELECT role FROM mailcluster.raft_status') eq 'leader' } (@nodes, $n4);
my $cur_id = $cur->safe_psql('postgres', 'SELECT mailcluster.node_id()');
my ($tgt) = grep { $_ != $cur } (@nodes, $n4);
my $tgt_id = $tgt->safe_psql('postgres', 'SELECT mailcluster.node_id()');
$cur->safe_psql('postgres', "SELECT mailcluster.transfer_leadership($tgt_id)");
ok(defined wait_for($tgt, "SELECT role = 'leader' FROM mailcluster.raft_status", 10, interval => 0.2),
	"transfer_leadership($tgt_id) made node $tgt_id the leader");
my ($fol) = grep { $_ != $tgt } (@nodes, $n4);    # a follower: the change is forwarded
my $ridx = $fol->safe_psql('postgres', 'SELECT mailcluster.remove_node(5)');
ok($ridx > 0, "remove_node(5) returned the configuration entry index $ridx");
ok(defined wait_for($tgt, "SELECT coalesce(array_length(learners, 1), 0) = 0 FROM mailcluster.raft_status", 10, interval => 0.2),
	'the replica is no longer a learner');
my ($rc, $out, $err) = $tgt->psql('postgres', 'SELECT mailcluster.remove_node(77)');
isnt($rc, 0, "removing a stranger is refused: $err");

# the leader removes itself (R27): it commits the change, hands over, and
# stays out (it is not added back), while the other three go on
my @voters4 = (@nodes, $n4);
my ($old) = grep { $_->safe_psql('postgres', 'SELECT role FROM mailcluster.raft_status') eq 'leader' } @voters4;
my $old_id = $old->safe_psql('postgres', 'SELECT mailcluster.node_id()');
my @rest = grep { $_ != $old } @voters4;
my $cidx = $old->safe_psql('postgres', "SELECT mailcluster.remove_node($old_id)");
ok($cidx > 0, "the leader (node $old_id) removed itself at index $cidx");
ok(defined wait_for($rest[0], "SELECT leader_id IS NOT NULL AND leader_id <> $old_id FROM mailcluster.raft_status", 15, interval => 0.2),
	'another node leads: ' . $rest[0]->safe_psql('postgres', 'SELECT leader_id FROM mailcluster.raft_status'));
usleep(3_000_000);    # six membership rounds of the new leader
my $new_lead = $rest[0]->safe_psql('postgres', 'SELECT leader_id FROM mailcluster.raft_status');
my ($nl) = grep { $_->safe_psql('postgres', 'SELECT mailcluster.node_id()') eq $new_lead } @rest;
is($nl->safe_psql('postgres', "SELECT $old_id = ANY(voters) OR $old_id = ANY(coalesce(learners, '{}')) FROM mailcluster.raft_status"),
	'f', "three seconds later node $old_id is neither voter nor learner");
is(join(',', sort map { $_->safe_psql('postgres', 'SELECT mailcluster.node_id()') } @rest), ids($nl, 'voters'),
	'the voters are the other three');
my $after = $rest[1]->safe_psql('postgres', "SELECT mailcluster.account_create('after-removal')");
like($after, qr/^A/, "a write through a follower after the removal: $after");
%sums = checksums(\@rest, 20, retry => 20);
is(scalar(keys %sums), 1, 'the remaining voters agree on state_checksum()');

$_->stop for (@members, $n6);
done_testing();
