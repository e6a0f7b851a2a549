# 035_raft_load_apart.pl — a follower that receives a snapshot keeps
# answering the leader while its apply worker loads the snapshot into the
# tables: the raft worker only keeps the received chunks, stores the meta,
# acks, and goes on storing entries; the load comes after, in the apply
# worker (doc/raft-in-postgres.md, "Snapshots and log compaction").
#
# The load is held up on purpose: a session on the follower holds a SHARE
# lock on mailcluster.accounts, which the load's DELETE must wait for.  The
# third node is stopped, so the leader commits only with that follower's
# acks: a write during the held load succeeds only if the follower's raft
# worker is not the one waiting.  Then the follower's apply worker is
# killed with -9 before the load ends: after the node's crash restart it
# must load the kept snapshot first (its log before it is gone) and end
# with everyone's checksum.
# Gossip UDP ports 21350-21352, RPC + MC_TAP_PORT_SHIFT (test/tap/MCTest.pm).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/..";
use MCTest qw(ports make_node wait_for agreed_leader checksums);

my $key = 'tap-raft-secret-0123456789abcdef';
my @gport = ports(21350, 3);

sub node
{
	my ($id) = @_;
	return make_node(name => "load$id", id => $id, gossip => $gport[ $id - 1 ], key => $key,
		seeds => [ @gport[0, 1] ], conf => q{mailcluster.raft_election_timeout = 1000
mailcluster.raft_commit_timeout = 8000
mailcluster.snapshot_after_entries = 100
mailcluster.snapshot_after_duration = 0
mailcluster.raft_batch_max = 65536
mailcluster.enable_fault_injection = on
restart_after_crash = on
});
}

sub status
{
	my ($n, $col) = @_;
	return $n->safe_psql('postgres', "SELECT $col FROM mailcluster.raft_status");
}

# Snapshots this node's apply worker loaded since its processes started.
sub installed
{
	my ($n) = @_;
	return $n->safe_psql('postgres',
		q{SELECT value::bigint FROM mailcluster._raft_metrics() WHERE name = 'raft_snapshots_installed_total'});
}

my @nodes = map { node($_) } 1 .. 3;
$_->start for @nodes;
$_->safe_psql('postgres', 'CREATE EXTENSION mailcluster') for @nodes;
my $lid = agreed_leader(\@nodes, 90);
ok(defined $lid, 'the three nodes agree on a leader: ' . ($lid // 'none'));
my $L = $nodes[ $lid - 1 ];
my ($F, $O) = grep { $_ != $L } @nodes;
my $fid = $F->safe_psql('postgres', 'SELECT mailcluster.node_id()');

$L->safe_psql('postgres',
	q{SELECT count(mailcluster._raft_submit(jsonb_build_object('op','account_create','name','pre-' || i), 'pre-' || i)) FROM generate_series(1, 10) i});
ok(defined wait_for($F, "SELECT count(*) = 10 FROM mailcluster.accounts WHERE name LIKE 'pre-%'", 30),
	'the follower applied the first writes');

# ---- the follower falls behind the leader's compaction point ---------------
for my $n (@nodes)
{
	my $cut = $n == $F ? join(',', grep { $_ != $fid } 1 .. 3) : $fid;
	$n->safe_psql('postgres', "SELECT mailcluster.fault_isolate(ARRAY[$cut])");
}
my $f_applied = status($F, 'applied_index');
$L->safe_psql('postgres',
	q{SELECT count(mailcluster._raft_submit(jsonb_build_object('op','account_create','name','cut-' || i), 'cut-' || i)) FROM generate_series(1, 300) i});
my $snap = $L->safe_psql('postgres', 'SELECT mailcluster.snapshot()');
ok(defined wait_for($L, "SELECT coalesce(min(idx), $snap + 1) > $f_applied + 1 FROM mailcluster._raft_log", 30),
	"the leader compacted past the follower's $f_applied: only snapshot $snap brings it back");

# ---- the load is held up; the leader needs the follower's acks -------------
my $locker = $F->background_psql('postgres');
$locker->query_safe('BEGIN; LOCK TABLE mailcluster.accounts IN SHARE MODE');
$O->stop('fast');
$_->safe_psql('postgres', 'SELECT mailcluster.fault_clear()') for ($L, $F);

ok(defined wait_for($F, "SELECT snapshot_index >= $snap FROM mailcluster.raft_status", 60),
	'the follower received and kept the snapshot: snapshot_index ' . status($F, 'snapshot_index'));
ok(defined wait_for($F, q{SELECT count(*) = 1 FROM pg_stat_activity
                           WHERE application_name = 'mailcluster apply' AND wait_event_type = 'Lock'}, 30),
	'its apply worker waits for the lock to load it');
my $received = status($F, 'snapshot_index');
cmp_ok(status($F, 'applied_index'), '<', $received, 'the tables are not loaded yet');

my $lid2 = agreed_leader([ $L, $F ], 60);
ok(defined $lid2, 'the two live voters agree on a leader: ' . ($lid2 // 'none'));
my $L2 = (grep { $_->safe_psql('postgres', 'SELECT mailcluster.node_id()') == ($lid2 // 0) } ($L, $F))[0] // $L;
my ($ok, $out, $err) = (0, '', '');
my $rc = $L2->psql('postgres',
	q{SELECT mailcluster._raft_submit('{"op":"account_create","name":"during-load"}', 'during-load')},
	stdout => \$out, stderr => \$err);
is($rc, 0, "a write commits with the loading follower's ack: " . ($err || $out));
my $committed = status($L2, 'commit_index');
ok(defined wait_for($F, "SELECT commit_index >= $committed FROM mailcluster.raft_status", 10),
	"the follower stored and acked the log after the snapshot (commit_index >= $committed)");
cmp_ok(status($F, 'applied_index'), '<', $received, 'while its load still waits');
is($F->safe_psql('postgres', q{SELECT count(*) FROM mailcluster.accounts WHERE name = 'during-load'}), '0',
	'and shows none of it');

# ---- a crash before the load: it loads the kept snapshot after it ---------
is(installed($F), 0, 'no snapshot loaded so far');
# kill -9 of its apply worker: the postmaster restarts all of the node's
# processes (crash recovery), the lock holder's session with them
my $apid = $F->safe_psql('postgres', q{SELECT pid FROM pg_stat_activity WHERE application_name = 'mailcluster apply'});
ok(kill(9, $apid), "kill -9 of the follower's apply worker ($apid)");
eval { $locker->quit };
ok(defined wait_for($F, "SELECT applied_index >= $committed FROM mailcluster.raft_status", 90),
	'after the crash it loaded the snapshot and applied the rest: applied_index ' . status($F, 'applied_index'));
is(installed($F), 1, 'through the kept snapshot, loaded once after the restart');
is($F->safe_psql('postgres', q{SELECT count(*) FROM mailcluster.accounts WHERE name = 'during-load' OR name LIKE 'cut-%'}),
	'301', 'it has the 300 writes it missed and the one during the load');

$O->start;
my %sums = checksums(\@nodes, 60);
is(scalar(keys %sums), 1, 'equal state_checksum on all three: ' . join(' | ', keys %sums));

$_->stop for @nodes;
done_testing();
