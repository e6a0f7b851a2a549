# 023_raft_partition.pl — a leader cut off from both followers
# (fault_isolate drops Raft traffic too): its writes fail with MC001
# (not committed by a majority), once it stepped down (check-quorum, R19)
# it answers MC003; the majority side elects a new leader and serves
# writes (R8); write_mode = redirect refuses with MC002 naming the
# leader's SQL host and port; after fault_clear all three converge with
# equal state_checksum() (R10, pre-vote keeps the returning node from
# deposing the leader, R21).  Finally a clean shutdown of the leader hands
# leadership over.  Gossip UDP ports 21230-21232, RPC 21730-21732, both
# + MC_TAP_PORT_SHIFT (test/tap/MCTest.pm).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time usleep);
use FindBin;
use lib "$FindBin::RealBin/..";
use MCTest qw(ports make_node wait_for checksums);

my $key = 'tap-raft-secret-0123456789abcdef';
my @gport = ports(21230, 3);

# Node $id: gossip on $gport[$id-1], seeded with nodes 1 and 2, fault
# injection on.
sub node
{
	my ($id) = @_;
	return make_node(name => "part$id", id => $id, gossip => $gport[ $id - 1 ], key => $key,
		seeds => [ @gport[0, 1] ], conf => q{mailcluster.raft_election_timeout = 1000
mailcluster.raft_commit_timeout = 2000
mailcluster.enable_fault_injection = on
});
}

# Run a write on $node under request id p-$name; returns the SQLSTATE of
# its error, or 'ok' (and, in list context, psql's stderr as well).
sub write_state
{
	my ($node, $name) = @_;
	my ($rc, $out, $err) = $node->psql('postgres',
		"\\set VERBOSITY verbose\n"
		  . qq{SELECT mailcluster._raft_submit('{"op":"account_create","name":"$name"}', 'p-$name')});
	my $state = $rc == 0 ? 'ok' : $err =~ /ERROR:\s+([0-9A-Z]{5}):/ ? $1 : "?? $err";
	return wantarray ? ($state, $err) : $state;
}

my @nodes = map { node($_) } 1 .. 3;
$_->start for @nodes;
$_->safe_psql('postgres', 'CREATE EXTENSION mailcluster') for @nodes;
ok(defined wait_for($nodes[0], "SELECT leader_id IS NOT NULL FROM mailcluster.raft_status", 60),
	'cluster formed');
ok(defined wait_for($nodes[0], "SELECT count(DISTINCT x) = 1 FROM (VALUES (1)) v, LATERAL (SELECT leader_id AS x FROM mailcluster.raft_status) s", 10),
	'leader known');
my $lid = $nodes[0]->safe_psql('postgres', 'SELECT leader_id FROM mailcluster.raft_status');
my $L = $nodes[ $lid - 1 ];
my @M = grep { $_ != $L } @nodes;
my @mid = map { $_->safe_psql('postgres', 'SELECT mailcluster.node_id()') } @M;
is(write_state($L, 'before'), 'ok', 'a write before the partition');

# cut the leader off from both others (both directions)
$L->safe_psql('postgres', "SELECT mailcluster.fault_isolate(ARRAY[$mid[0], $mid[1]])");
$_->safe_psql('postgres', "SELECT mailcluster.fault_isolate(ARRAY[$lid])") for @M;

# Two writes on the cut-off leader at once, one with a request id, one
# without: both time out with MC001.  The hint offers the caller's request
# id for a retry; a generated id is not offered (its response may not be
# kept: nobody can ask for it again), the hint says to check instead.
my ($bg_out, $bg_err) = ('', '');
my $bg = IPC::Run::start(
	[
		$L->installed_command('psql'), '-X', '-v', 'VERBOSITY=verbose', '-d', $L->connstr('postgres'), '-c',
		q{SELECT mailcluster._raft_submit('{"op":"account_create","name":"cut-leader-norid"}')}
	],
	'<', \'', '>', \$bg_out, '2>', \$bg_err);
# The second write comes once the first is in the leader's log: a round
# (not committed) is open, so group commit holds it (raft_requests.c).
ok(defined wait_for($L, "SELECT last_log_index > commit_index FROM mailcluster.raft_status", 10),
	'the first write is appended on the isolated leader');
my ($cut_state, $cut_err) = write_state($L, 'cut-leader');
$bg->finish;
is($cut_state, 'MC001', 'the isolated leader cannot commit: MC001');
is($L->safe_psql('postgres', "SELECT last_log_index - commit_index FROM mailcluster.raft_status"),
	'1', 'the write that came during an open round was held, not appended (group commit)');
like($cut_err, qr/HINT:\s+Retry with the same request_id \(p-cut-leader\)/,
	'MC001 with a request id: the hint offers it for a retry');
like($bg_err, qr/ERROR:\s+MC001:/, 'MC001 for the write without a request id too');
like($bg_err, qr/HINT:\s+Check whether it took effect before repeating it/,
	'MC001 with a generated request id: the hint says to check, not to retry');
unlike($bg_err, qr/Retry with the same request_id/, 'a generated request id is not offered for a retry');
# The leader applies the entries it stores ahead of their commit (apply
# ahead, apply_worker.c): the cut-off leader ran these two and must have
# rolled them back, not shown them.
is($L->safe_psql('postgres',
		"SELECT count(*) FROM mailcluster.accounts WHERE name IN ('cut-leader', 'cut-leader-norid')"),
	'0', 'the isolated leader shows none of its uncommitted writes');
ok($L->safe_psql('postgres',
		"SELECT value FROM mailcluster.metrics WHERE name = 'raft_apply_ahead_abandoned_total'") > 0,
	'the isolated leader applied them ahead and rolled them back');
ok($L->safe_psql('postgres',
		"SELECT applied_index <= commit_index FROM mailcluster.raft_status") eq 't',
	'the isolated leader applied nothing past its commit index');
ok(defined wait_for($L, "SELECT role <> 'leader' FROM mailcluster.raft_status", 10),
	'the isolated leader steps down (check quorum)');
my ($min_state, $min_err) = write_state($L, 'cut-minority');
is($min_state, 'MC003', 'the minority side answers MC003');
like($min_err, qr/HINT:\s+Retry with the same request_id \(p-cut-minority\) once mailcluster.leader\(\) is not NULL/,
	'MC003 for a write: the hint offers its request id');
my (undef, undef, $rb_err) = $L->psql('postgres', "\\set VERBOSITY verbose\nSELECT mailcluster.read_barrier()");
like($rb_err, qr/ERROR:\s+MC003:.*HINT:\s+Retry once mailcluster.leader\(\) is not NULL/s,
	'MC003 for a read barrier: the hint names no request id');
ok($L->safe_psql('postgres',
		"SELECT value FROM mailcluster.metrics WHERE name = 'raft_rpc_dropped_fault_injected_total'") > 0,
	'dropped Raft traffic is counted in the metrics view');

ok(defined wait_for($M[0], "SELECT leader_id IS NOT NULL AND leader_id <> $lid FROM mailcluster.raft_status", 20),
	'the majority side elects a new leader');
my $nl = $M[0]->safe_psql('postgres', 'SELECT leader_id FROM mailcluster.raft_status');
my ($NL) = grep { $_->safe_psql('postgres', 'SELECT mailcluster.node_id()') == $nl } @M;
my ($NF) = grep { $_ != $NL } @M;
is(write_state($NL, 'majority-leader'), 'ok', 'the majority leader serves writes');
is(write_state($NF, 'majority-follower'), 'ok', 'the majority follower forwards writes');

# redirect mode on the follower: MC002 naming the leader's SQL address
$NF->safe_psql('postgres', "ALTER SYSTEM SET mailcluster.write_mode = 'redirect'");
$NF->reload;
usleep(300_000);
my ($rc, $out, $err) = $NF->psql('postgres',
	"\\set VERBOSITY verbose\n"
	  . q{SELECT mailcluster._raft_submit('{"op":"account_create","name":"redirected"}', 'p-redir')});
like($err, qr/MC002/, 'redirect mode: MC002 on a follower');
my $port = $NL->port;
like($err, qr/host=127\.0\.0\.1 port=$port/, "MC002 names the leader's host and port: $err");
$NF->safe_psql('postgres', "ALTER SYSTEM RESET mailcluster.write_mode");
$NF->reload;
usleep(300_000);

# heal: everyone converges on the majority's log
$_->safe_psql('postgres', 'SELECT mailcluster.fault_clear()') for @nodes;
ok(defined wait_for($L, "SELECT count(*) = 1 FROM mailcluster.accounts WHERE name = 'majority-follower'", 30),
	'the old leader catches up after the partition heals');
is($M[0]->safe_psql('postgres', 'SELECT leader_id FROM mailcluster.raft_status'), $nl,
	'the returning node did not depose the new leader (pre-vote)');
my %sums = checksums(\@nodes, 20);
is(scalar(keys %sums), 1, 'equal state_checksum after healing: ' . join(' | ', keys %sums));
my %cut = map { $_->safe_psql('postgres', "SELECT count(*) FROM mailcluster.accounts WHERE name = 'cut-leader'") => 1 } @nodes;
is(scalar(keys %cut), 1, 'all nodes agree on the fate of the MC001 write');
my %cut2 = map { $_->safe_psql('postgres', "SELECT count(*) FROM mailcluster.accounts WHERE name = 'cut-leader-norid'") => 1 } @nodes;
is(scalar(keys %cut2), 1, 'all nodes agree on the fate of the MC001 write without a request id');

# a clean shutdown of the leader hands leadership over first
my $t0 = time;
$NL->stop('fast');
my $took = wait_for($NF, "SELECT leader_id IS NOT NULL AND leader_id <> $nl FROM mailcluster.raft_status", 10);
ok(defined $took, 'a new leader after the clean shutdown of the old one');
ok(slurp_file($NL->logfile) =~ /handing leadership over before shutdown/,
	'the leader handed leadership over before shutting down');
is(write_state($NF, 'after-handover'), 'ok', 'writes go on after the handover');

$_->stop for grep { $_ != $NL } @nodes;
done_testing();
