# 031_jmap_large.pl — a 50 MB message delivered on a FOLLOWER of a
# three-node cluster is readable, byte for byte, on every node.  The
# message travels as 1 MB blob_part entries (each well within
# raft_batch_max and one RPC frame), forwarded to the leader, then the
# deliver entry joins them on every node.  raft_commit_timeout is raised
# to 120 s for the slow, loaded test machines.  Node 3 runs with a smaller
# raft_batch_max (1 MB) than the others (10 MB): a leader's batches (up to
# 4 MB, two parts) must still reach it; it used to accept no frame over
# its own raft_batch_max + 64 KB and never caught up.
# Gossip UDP ports 21310-21312, Raft RPC TCP ports 21810-21812, both
# + MC_TAP_PORT_SHIFT (test/tap/MCTest.pm).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use FindBin;
use lib "$FindBin::RealBin/..";
use MCTest qw(ports make_node wait_for agreed_leader checksums jmap jget eml);

my $key = 'tap-jmap-big-secret-0123456789abcdef';
my @gport = ports(21310, 3);

# Node $i+1: gossip on $gport[$i], seeded with nodes 1 and 2; node 3
# with raft_batch_max = 1MB.
sub node
{
	my ($i) = @_;
	return make_node(name => 'big' . ($i + 1), id => $i + 1, gossip => $gport[$i], key => $key,
		seeds => [ @gport[0, 1] ], conf => q{mailcluster.raft_election_timeout = 1000
mailcluster.raft_heartbeat_interval = 100
mailcluster.raft_commit_timeout = 120000
} . ($i == 2 ? "mailcluster.raft_batch_max = '1MB'\n" : ''));
}

my @nodes = map { node($_) } 0 .. 2;
$_->start for @nodes;
$_->safe_psql('postgres', 'CREATE EXTENSION mailcluster') for @nodes;

my $leader = agreed_leader(\@nodes, 90);
ok(defined $leader, 'the three nodes agree on a leader: ' . ($leader // 'none'));
my $L = $nodes[ $leader - 1 ];
my ($F1, $F2) = grep { $_ != $L } @nodes;

my $acct = $F1->safe_psql('postgres', q{SELECT mailcluster.account_create('big')});

# a multipart message: a text part and a ~50 MB base64 attachment
# (795,000 lines of 64 characters: 38,160,000 bytes decoded)
$F1->safe_psql('postgres', q{
CREATE TABLE bigmsg AS
SELECT convert_to(
    E'Message-ID: <big.50mb@example.com>\r\n'
 || E'Date: Mon, 23 Nov 2026 12:00:00 +0000\r\n'
 || E'From: Big Sender <big@example.com>\r\n'
 || E'To: big@example.org\r\n'
 || E'Subject: fifty megabytes\r\n'
 || E'MIME-Version: 1.0\r\n'
 || E'Content-Type: multipart/mixed; boundary="b50"\r\n\r\n'
 || E'--b50\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe data is attached.\r\n'
 || E'--b50\r\nContent-Type: application/octet-stream; name="data.bin"\r\n'
 || E'Content-Disposition: attachment; filename="data.bin"\r\n'
 || E'Content-Transfer-Encoding: base64\r\n\r\n'
 || (SELECT string_agg(encode(decode(md5(i::text) || md5((-i)::text) || md5((2 * i)::text), 'hex'), 'base64'), E'\r\n')
       FROM generate_series(1, 795000) i)
 || E'\r\n--b50--\r\n', 'UTF8') AS m});
my ($size, $sha) = split /\|/, $F1->safe_psql('postgres', q{SELECT length(m), encode(sha256(m), 'hex') FROM bigmsg});
ok($size > 50_000_000, "the message is $size bytes");

my $t0 = time;
my ($rc, $eid, $err) = $F1->psql('postgres', "SELECT mailcluster.deliver('$acct', m) FROM bigmsg");
my $secs = time - $t0;
is($rc, 0, sprintf('deliver() of %d bytes on a follower returned in %.1f s%s', $size, $secs, $rc ? ": $err" : ''));
like($eid, qr/^E/, "the email id: $eid");
diag(sprintf('deliver of %.1f MB on a follower: %.1f s', $size / 1e6, $secs));

my %sums = checksums(\@nodes, 300);
is(scalar(keys %sums), 1, 'equal state_checksum() on all three nodes: ' . join(' / ', keys %sums));

for my $n (@nodes)
{
	my $name = $n->name;
	my $get = jmap($n, qq([["Email/get", {"accountId": "$acct", "ids": ["$eid"],
		"properties": ["size", "blobId", "subject", "hasAttachment", "attachments", "textBody", "bodyValues"],
		"fetchTextBodyValues": true}, "g"]]));
	is(jget($n, $get, '{methodResponses,0,1,list,0,size}'), $size, "$name: Email/get size");
	is(jget($n, $get, '{methodResponses,0,1,list,0,blobId}'), "B$sha", "$name: blobId is the sha256 of the message");
	is(jget($n, $get, '{methodResponses,0,1,list,0,hasAttachment}'), 'true', "$name: hasAttachment");
	is(jget($n, $get, '{methodResponses,0,1,list,0,attachments,0,name}'), 'data.bin', "$name: the attachment");
	like(jget($n, $get, '{methodResponses,0,1,list,0,bodyValues,1,value}'), qr/^The data is attached\./,
		"$name: the text part");
	my $part = jget($n, $get, '{methodResponses,0,1,list,0,attachments,0,blobId}');
	is($n->safe_psql('postgres', "SELECT encode(sha256(mailcluster.blob_download('$acct', 'B$sha')), 'hex')"),
		$sha, "$name: blob_download gives the message byte for byte");
	is($n->safe_psql('postgres', "SELECT length(mailcluster.blob_download('$acct', '$part'))"),
		795000 * 48, "$name: the decoded attachment has its 38,160,000 bytes");
	is($n->safe_psql('postgres', 'SELECT count(*) FROM mailcluster._blob_parts'), '0', "$name: no parts left over");
}

$_->stop for @nodes;
done_testing();
