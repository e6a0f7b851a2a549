# 027_raft_snapshot_stream.pl — streamed snapshots (doc/raft-in-postgres.md,
# "Snapshots and log compaction"): with snapshot_after_entries = 40 and
# raft_batch_max = 64 kB, a node stopped while the others take mail (a
# 1.5 MB message among them) and compact their logs comes back behind the
# compaction point and installs a snapshot of many chunks, one blob
# spanning many of them.  Checked: the kept snapshot is rows of at most one
# Raft chunk each, at contiguous offsets; the returning node counts an
# installed snapshot, keeps it (its own chunk rows, nothing left staged),
# reads the big message back byte for byte, and all three end with equal
# state_checksum(), again after writes and after a restart of that node.
# Gossip UDP ports(21270, 3), RPC rpc_port() of each (MCTest: shifted by
# $MC_TAP_PORT_SHIFT).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use FindBin;
use lib "$FindBin::RealBin/..";
use MCTest qw(wait_for agreed_leader checksums eml ports rpc_port);

my $key = 'tap-snap-stream-0123456789abcdef';
my ($base) = ports(21270, 3);
my $chunk = 65536;

# Node $id: gossip on $base+$id-1, RPC on rpc_port() of that.
sub make_node
{
	my ($id) = @_;
	my $node = PostgreSQL::Test::Cluster->new("stream$id");
	my $g = $base + $id - 1;
	$node->init;
	$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'mailcluster'
mailcluster.node_id = $id
mailcluster.bind_addr = '127.0.0.1'
mailcluster.bind_port = $g
mailcluster.rpc_port = @{[ rpc_port($g) ]}
mailcluster.key = '$key'
mailcluster.seed_nodes = '127.0.0.1:$base,127.0.0.1:@{[ $base + 1 ]}'
mailcluster.heartbeat = 200
mailcluster.raft_election_timeout = 1000
mailcluster.raft_commit_timeout = 10000
mailcluster.snapshot_after_entries = 40
mailcluster.snapshot_after_duration = 0
mailcluster.raft_batch_max = $chunk
});
	return $node;
}

sub metric
{
	my ($node, $name) = @_;
	return $node->safe_psql('postgres',
		"SELECT coalesce((SELECT value FROM mailcluster._raft_metrics() WHERE name = '$name'), 0)");
}

# The kept snapshot of $node: "idx size chunks made", its rows checked:
# every chunk at most one Raft chunk, offsets contiguous from 0 to size.
sub kept
{
	my ($node) = @_;
	return $node->safe_psql('postgres', q{
		SELECT s.idx || ' ' || s.size || ' ' || s.chunks || ' ' || s.made || ' ' ||
		       (SELECT count(*) = s.chunks
		               AND bool_and(length(c.data) <= } . $chunk . q{)
		               AND bool_and(c.off = c.prev_end)
		               AND max(c.off + length(c.data)) = s.size
		          FROM (SELECT off, data, coalesce(lag(off + length(data)) OVER (ORDER BY off), 0) AS prev_end
		                  FROM mailcluster._raft_snap_chunk WHERE NOT staged AND idx = s.idx) c)
		  FROM mailcluster._raft_snapshot s ORDER BY s.idx DESC LIMIT 1});
}

my @nodes = map { make_node($_) } 1 .. 3;
$_->start for @nodes;
$_->safe_psql('postgres', 'CREATE EXTENSION mailcluster') for @nodes;
my $lid = agreed_leader(\@nodes, 90);
ok(defined $lid, 'the three nodes agree on a leader: ' . ($lid // 'none'));
my $L = $nodes[ $lid - 1 ];
my ($down, $up) = grep { $_ != $L } @nodes;

my $acct = $L->safe_psql('postgres', q{SELECT mailcluster.account_create('stream')});
$down->safe_psql('postgres', "SELECT mailcluster.wait_for_index(" .
	$L->safe_psql('postgres', 'SELECT applied_index FROM mailcluster.raft_status') . ", 30000)");
my $down_applied = $down->safe_psql('postgres', 'SELECT applied_index FROM mailcluster.raft_status');
$down->stop('fast');

# ---- while it is away: mail, a 1.5 MB message, compaction -----------------
my $t0 = time;
for my $i (1 .. 10)
{
	for my $m (qw(plain thread-a thread-b reply attachment))
	{
		$L->safe_psql('postgres', "SELECT mailcluster.deliver('$acct', " . eml($m) . ')');
	}
}
$L->safe_psql('postgres', q{SELECT count(mailcluster.account_create('s-' || i)) FROM generate_series(1, 60) i});
# a message of ~1.5 MB (a 1.1 MB attachment in base64): carried in
# blob_part entries, stored as one blob
my $big = $L->safe_psql('postgres', qq{
	SELECT mailcluster.deliver('$acct', convert_to(
		E'From: Big Sender <big\@example.org>\r\nTo: stream\@example.org\r\n' ||
		E'Subject: a big one\r\nMessage-ID: <big-027\@example.org>\r\nMIME-Version: 1.0\r\n' ||
		E'Date: Sun, 06 Dec 2026 03:00:00 +0000\r\nContent-Type: multipart/mixed; boundary="b027"\r\n\r\n' ||
		E'--b027\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nSee the attachment.\r\n' ||
		E'--b027\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n' ||
		E'Content-Disposition: attachment; filename="big.bin"\r\n\r\n' ||
		encode((SELECT decode(string_agg(md5(g::text), ''), 'hex') FROM generate_series(1, 70000) g), 'base64') ||
		E'\r\n--b027--\r\n', 'UTF8'))});
like($big, qr/^E/, "the 1.5 MB message was delivered: $big");
my ($blob, $bsize, $bmd5) = split /\|/, $L->safe_psql('postgres', qq{
	SELECT b.id, b.size, md5(b.data) FROM mailcluster.emails e JOIN mailcluster.blobs b ON b.id = e.blob_id
	 WHERE e.account_id = '$acct' AND e.id = '$big'});
ok($bsize > 20 * $chunk, "its blob ($bsize bytes) is longer than 20 chunks");
$L->safe_psql('postgres', q{SELECT count(mailcluster.account_create('t-' || i)) FROM generate_series(1, 60) i});
diag(sprintf('writes while one node is down: %.1f s', time - $t0));

ok(defined wait_for($L, 'SELECT snapshot_index > 150 FROM mailcluster.raft_status', 30),
	'the leader compacted its log: snapshot_index ' . $L->safe_psql('postgres', 'SELECT snapshot_index FROM mailcluster.raft_status'));
ok(defined wait_for($L, "SELECT min(idx) > $down_applied + 1 FROM mailcluster._raft_log", 30),
	"the leader no longer holds the entries after $down_applied: only a snapshot can bring the node back");
# force one at the applied index, so the big message is in it
my $snap = $L->safe_psql('postgres', 'SELECT mailcluster.snapshot()');
my ($sidx, $ssize, $schunks, $smade, $sok) = split / /, kept($L);
is($sidx, $snap, "the leader keeps the snapshot at $snap");
is($smade, 'taken', 'which it took itself');
ok($schunks >= 25, "in many chunks: $schunks for $ssize bytes");
is($sok, 'true', "each at most $chunk bytes, at contiguous offsets 0 .. size");

# ---- the node comes back and installs it ---------------------------------
my $sent0 = metric($L, 'raft_snapshot_chunks_sent_total');
$down->start;
ok(defined wait_for($down, "SELECT value >= 1 FROM mailcluster._raft_metrics() WHERE name = 'raft_snapshots_installed_total'", 90),
	'the returning node installed a snapshot');
ok(metric($L, 'raft_snapshot_chunks_sent_total') - $sent0 >= $schunks,
	'the leader sent it chunk by chunk: ' . (metric($L, 'raft_snapshot_chunks_sent_total') - $sent0) . " chunks for $schunks rows");
my %sums = checksums(\@nodes, 60);
is(scalar(keys %sums), 1, 'equal state_checksum on all three: ' . join(' | ', keys %sums));
ok($down->safe_psql('postgres', 'SELECT snapshot_index FROM mailcluster.raft_status') >= $snap,
	'its raft_status shows the snapshot index');
my (undef, undef, $dchunks, $dmade, $dok) = split / /, kept($down);
is($dmade, 'installed', 'it keeps the installed snapshot to serve others');
is($dok, 'true', "kept as the chunk rows it received ($dchunks), at contiguous offsets");
is($down->safe_psql('postgres', 'SELECT count(*) FROM mailcluster._raft_snap_chunk WHERE staged'), '0',
	'nothing is left staged');
is($down->safe_psql('postgres', qq{SELECT md5(data) FROM mailcluster.blobs WHERE id = '$blob'}), $bmd5,
	'the big message reads back byte for byte on it');
my $nmail = $L->safe_psql('postgres', qq{SELECT count(*) FROM mailcluster.emails WHERE account_id = '$acct'});
is($down->safe_psql('postgres', qq{SELECT count(*) FROM mailcluster.emails WHERE account_id = '$acct'}), $nmail,
	"it has all $nmail emails");

# ---- after the install: the log again, a restart ------------------------
like($down->safe_psql('postgres', qq{SELECT mailcluster.deliver('$acct', } . eml('thread-c') . ')'),
	qr/^E/, 'a delivery through the node that installed the snapshot');
%sums = checksums(\@nodes, 60);
is(scalar(keys %sums), 1, 'equal state_checksum after it: ' . join(' | ', keys %sums));
$down->stop('fast');
$down->start;
ok(defined wait_for($down, 'SELECT leader_id IS NOT NULL FROM mailcluster.raft_status', 60),
	'the node restarts after the install');
%sums = checksums(\@nodes, 60);
is(scalar(keys %sums), 1, 'equal state_checksum after its restart: ' . join(' | ', keys %sums));

$_->stop for @nodes;
done_testing();
