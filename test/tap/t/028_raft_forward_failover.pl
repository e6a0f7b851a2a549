# 028_raft_forward_failover.pl — a write a follower forwarded to a leader
# that is then lost (paused here; killed in bench/failover.sh) is proposed
# again to the next leader as soon as the follower learns of it, instead of
# waiting out raft_commit_timeout: it succeeds within a few seconds of the
# election, is applied exactly once (the command's request_id), and all
# nodes converge once the old leader resumes.  Gossip UDP ports 21280-21282,
# RPC 21780-21782, both + MC_TAP_PORT_SHIFT (test/tap/MCTest.pm).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use FindBin;
use lib "$FindBin::RealBin/..";
use MCTest qw(ports make_node wait_for checksums);

my $key = 'tap-raft-secret-0123456789abcdef';
my @gport = ports(21280, 3);
my $commit_timeout_s = 20;

# Node $id: gossip on $gport[$id-1], seeded with nodes 1 and 2, a commit
# timeout far longer than an election.
sub node
{
	my ($id) = @_;
	return make_node(name => "fwd$id", id => $id, gossip => $gport[ $id - 1 ], key => $key,
		seeds => [ @gport[0, 1] ], conf => qq{mailcluster.raft_election_timeout = 1000
mailcluster.raft_commit_timeout = @{[ $commit_timeout_s * 1000 ]}
});
}

my @nodes = map { node($_) } 1 .. 3;
$_->start for @nodes;
$_->safe_psql('postgres', 'CREATE EXTENSION mailcluster') for @nodes;
ok(defined wait_for($nodes[0], "SELECT leader_id IS NOT NULL FROM mailcluster.raft_status", 60),
	'cluster formed');
my $lid = $nodes[0]->safe_psql('postgres', 'SELECT leader_id FROM mailcluster.raft_status');
ok(defined wait_for($_, "SELECT leader_id = $lid FROM mailcluster.raft_status", 10),
	'every node follows node ' . $lid) for @nodes;
my $L = $nodes[ $lid - 1 ];
my @F = grep { $_ != $L } @nodes;
my @fid = map { $_->safe_psql('postgres', 'SELECT mailcluster.node_id()') } @F;
$F[0]->safe_psql('postgres',
	q{SELECT mailcluster._raft_submit('{"op":"account_create","name":"fwd-before"}', 'fwd-before')});
pass('a forwarded write before the partition');

# pause the leader's raft worker (SIGSTOP): its sockets stay open, so the
# followers get no hint and keep following it until the election timeout;
# at once, a write on a follower, forwarded into the paused leader's socket
my $pid = $L->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'mailcluster raft'");
ok($pid =~ /^\d+$/, "the leader's raft worker: pid $pid");
kill 'STOP', $pid;
my $t0 = time;
my ($rc, $out, $err) = $F[0]->psql('postgres',
	"\\set VERBOSITY verbose\n"
	  . q{SELECT mailcluster._raft_submit('{"op":"account_create","name":"fwd-during"}', 'fwd-during')});
my $took = time - $t0;
my $nl = $F[0]->safe_psql('postgres', 'SELECT leader_id FROM mailcluster.raft_status');
kill 'CONT', $pid;
is($rc, 0, "the write forwarded to the paused leader succeeds ($err)");
cmp_ok($took, '<', $commit_timeout_s / 2,
	sprintf('it is proposed again to the new leader: %.1f s, not raft_commit_timeout (%d s)',
		$took, $commit_timeout_s));
cmp_ok($took, '>', 0.5, 'it waited for the election (the leader was really followed)');
note(sprintf('forwarded write across the leader change: %.2f s', $took));
isnt($nl, $lid, "the other two elected a new leader (node $nl)");

# the resumed leader steps down and catches up; the write is there exactly once
ok(defined wait_for($L, "SELECT count(*) > 0 FROM mailcluster.accounts WHERE name = 'fwd-during'", 30),
	'the old leader catches up after it resumes');
my %sums = checksums(\@nodes, 20);
is(scalar(keys %sums), 1, 'equal state_checksum afterwards: ' . join(' | ', keys %sums));
is($_->safe_psql('postgres', "SELECT count(*) FROM mailcluster.accounts WHERE name = 'fwd-during'"),
	'1', 'applied exactly once on node ' . $_->safe_psql('postgres', 'SELECT mailcluster.node_id()'))
  for @nodes;

$_->stop('fast') for @nodes;
done_testing();
