# 034_raft_ahead_truncated.pl — a follower that applies entries ahead of
# their commit (a forwarded write waits on it: apply ahead, apply_worker.c)
# and then has those entries truncated by a new leader must show none of
# them and end with the same state as everyone else.
#
# Four voters and a replica (a learner: it never votes or leads, so which
# log wins is certain).  The leader is cut off from the other three voters
# but not from the replica; a write on the replica is forwarded to the
# cut-off leader, which appends it and replicates it to the replica only:
# stored there, never committed.  The other three elect a new leader whose
# log lacks that entry; its first appends make the replica truncate it.
# The replica waits up to a minute for an ahead transaction's commit
# (mailcluster.apply_ahead_wait = 60s, 200 ms by default), so its ahead
# transaction is still waiting when the truncation comes: only the raft
# worker's withdrawal (raft_ready.c) can end it before the new leader's
# entry at the same index commits.  Without that withdrawal it would then
# commit the old leader's entry there (the replica's state would differ).
# Gossip UDP ports 21340-21344, RPC + MC_TAP_PORT_SHIFT (test/tap/MCTest.pm).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use FindBin;
use lib "$FindBin::RealBin/..";
use MCTest qw(ports make_node wait_for checksums metric);

my $key = 'tap-raft-secret-0123456789abcdef';
my @gport = ports(21340, 5);

sub node
{
	my ($id, $extra) = @_;
	return make_node(name => "trunc$id", id => $id, gossip => $gport[ $id - 1 ], key => $key,
		seeds => [ @gport[0, 1] ], conf => qq{mailcluster.raft_election_timeout = 1000
mailcluster.raft_commit_timeout = 8000
mailcluster.enable_fault_injection = on
$extra
});
}

sub submit
{
	my ($node, $name, $rid) = @_;
	return $node->safe_psql('postgres',
		qq{SELECT mailcluster._raft_submit('{"op":"account_create","name":"$name"}', '$rid')});
}

my @nodes = map { node($_, '') } 1 .. 3;
$_->start for @nodes;
$_->safe_psql('postgres', 'CREATE EXTENSION mailcluster') for @nodes;
ok(defined wait_for($nodes[0], "SELECT leader_id IS NOT NULL AND array_length(voters, 1) = 3 FROM mailcluster.raft_status", 30, interval => 0.2),
	'three nodes formed a cluster');
push @nodes, node(4, '');
$nodes[3]->start;
$nodes[3]->safe_psql('postgres', 'CREATE EXTENSION mailcluster');
ok(defined wait_for($nodes[0], "SELECT 4 = ANY(voters) FROM mailcluster.raft_status", 30, interval => 0.2),
	'node 4 joined as a voter');
my $F = node(5, "mailcluster.replica = on\nmailcluster.apply_ahead_wait = '60s'");
push @nodes, $F;
$F->start;
$F->safe_psql('postgres', 'CREATE EXTENSION mailcluster');
ok(defined wait_for($nodes[0], "SELECT 5 = ANY(learners) FROM mailcluster.raft_status", 30, interval => 0.2),
	'node 5 (replica) joined as a learner');

# Forwarded writes from the replica, all applied: the replica's apply
# worker learns that commands take long enough to be worth applying ahead.
like(submit($F, "warm-$_", "w-$_"), qr/"id"/, "forwarded write $_ from the replica") for 1 .. 5;
ok(metric($F, 'raft_applied_ahead_total') > 0, 'the replica applies forwarded writes ahead of their commit');

my $lid = $nodes[0]->safe_psql('postgres', 'SELECT leader_id FROM mailcluster.raft_status');
ok($lid >= 1 && $lid <= 4, "the leader is a voter (node $lid)");
my $L = $nodes[ $lid - 1 ];
my @G = grep { $_ != $L && $_ != $F } @nodes;
my @gid = map { $_->safe_psql('postgres', 'SELECT mailcluster.node_id()') } @G;

# The replica is cut off from the other voters first, so it keeps
# following the old leader; then the leader is cut off from them.  They
# elect a new leader at once (the closed connections: fast failover), the
# old one keeps leading only the replica until check-quorum deposes it.
$F->safe_psql('postgres', 'SELECT mailcluster.fault_isolate(ARRAY[' . join(',', @gid) . '])');
$_->safe_psql('postgres', 'SELECT mailcluster.fault_isolate(ARRAY[5])') for @G;
$L->safe_psql('postgres', 'SELECT mailcluster.fault_isolate(ARRAY[' . join(',', @gid) . '])');
$_->safe_psql('postgres', "SELECT mailcluster.fault_isolate(ARRAY[$lid])") for @G;
my $abandoned_before = metric($F, 'raft_apply_ahead_abandoned_total');

# A write on the replica: forwarded to the old leader, which appends it and
# replicates it to the replica only.
my ($out, $err) = ('', '');
my $bg = IPC::Run::start(
	[
		$F->installed_command('psql'), '-X', '-v', 'VERBOSITY=verbose', '-d', $F->connstr('postgres'), '-c',
		q{SELECT mailcluster._raft_submit('{"op":"account_create","name":"trunc-fwd"}', 't-1')}
	],
	'<', \'', '>', \$out, '2>', \$err);
ok(defined wait_for($F, "SELECT last_log_index > commit_index FROM mailcluster.raft_status", 10),
	'the replica stored the forwarded entry, uncommitted');
is($F->safe_psql('postgres', "SELECT count(*) FROM mailcluster.accounts WHERE name = 'trunc-fwd'"),
	'0', 'the replica shows none of the uncommitted entry');
my $ahead_open = q{SELECT count(*) > 0 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                    WHERE a.backend_type = 'mailcluster apply' AND l.relation = 'mailcluster.accounts'::regclass};
ok(defined wait_for($F, $ahead_open, 10),
	'the replica runs it ahead: its apply transaction holds its lock on accounts, waiting for the commit');
sleep 1;
is(metric($F, 'raft_apply_ahead_abandoned_total'), $abandoned_before,
	'and has not given up a second later (apply_ahead_wait = 60s)');
my ($k, $kterm) = split /\|/, $F->safe_psql('postgres',
	'SELECT idx || \'|\' || term FROM mailcluster._raft_log ORDER BY idx DESC LIMIT 1');

ok(defined wait_for($G[0], "SELECT leader_id IS NOT NULL AND leader_id <> $lid FROM mailcluster.raft_status", 30),
	'the other voters elect a new leader');
my $nl = $G[0]->safe_psql('postgres', 'SELECT leader_id FROM mailcluster.raft_status');
isnt($nl, $lid, 'the new leader is not the old one');

# the replica reaches the new leader again: its first appends truncate the
# entry the replica stored from the old leader
$F->safe_psql('postgres', 'SELECT mailcluster.fault_clear()');
$_->safe_psql('postgres', "SELECT mailcluster.fault_clear(); SELECT mailcluster.fault_isolate(ARRAY[$lid])") for @G;
ok(defined wait_for($F, "SELECT leader_id = $nl FROM mailcluster.raft_status", 30),
	'the replica follows the new leader');
ok(defined wait_for($F, "SELECT term > $kterm FROM mailcluster._raft_log WHERE idx = $k", 30),
	"the replica's entry $k of term $kterm was replaced by the new leader's");
ok(defined wait_for($F, "SELECT value > $abandoned_before FROM mailcluster.metrics WHERE name = 'raft_apply_ahead_abandoned_total'", 10),
	'the truncation withdrew the waiting ahead transaction: rolled back');
ok(defined wait_for($F, "SELECT NOT ($ahead_open)", 10), 'its lock on accounts is gone');
$bg->finish;
my $state = $? == 0 ? 'ok' : $err =~ /ERROR:\s+([0-9A-Z]{5}):/ ? $1 : "?? $err";
like($state, qr/^(ok|MC001)$/, "the forwarded write ended ($state): re-proposed to the new leader, or timed out");

$_->safe_psql('postgres', 'SELECT mailcluster.fault_clear()') for @nodes;
my %sums = checksums(\@nodes, 30, retry => 10);
is(scalar(keys %sums), 1, 'equal state_checksum on all five nodes: ' . join(' | ', keys %sums));
my %n = map { $_->safe_psql('postgres', "SELECT count(*) FROM mailcluster.accounts WHERE name = 'trunc-fwd'") => 1 } @nodes;
is(scalar(keys %n), 1, 'all nodes agree on the forwarded write');
my ($count) = keys %n;
ok($count <= 1, 'the forwarded write is there at most once');
is($count, '1', 'acknowledged, so present') if $state eq 'ok';
is(scalar(() = $F->safe_psql('postgres', "SELECT name FROM mailcluster.accounts WHERE name LIKE 'warm-%'") =~ /warm-/g),
	5, 'the committed writes before are all there on the replica');

$_->stop('immediate') for @nodes;
done_testing();
