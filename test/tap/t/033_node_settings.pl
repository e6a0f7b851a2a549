# 033_node_settings.pl — a node whose postgresql.conf differs from the
# others' in settings an operator may well choose per node applies every
# entry like them: equal state_checksum(), equal applied index.  Node 3
# runs with default_transaction_read_only = on (what one sets on a
# replica-like node to keep applications from writing; it stopped that
# node's apply for good), session_replication_role = replica (foreign keys
# would not cascade there), another time zone and other date, interval,
# float and bytea output styles, serializable transactions by default and
# lock_timeout = 1ms.  The workers pin their own values
# (src/pg/worker_session.c).  The writes go through nodes 1 and 3 and
# include an email destroy (ON DELETE CASCADE), a request kept under a
# request_id, an upload and a response too big for a proposal slot.
# Gossip UDP ports 21330-21332, Raft RPC TCP ports 21830-21832, both
# + MC_TAP_PORT_SHIFT (test/tap/MCTest.pm).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/..";
use MCTest qw(ports make_node agreed_leader jmap jget eml checksums);

my $key = 'tap-settings-secret-0123456789abcdef';
my @gport = ports(21330, 3);

my $odd = q{default_transaction_read_only = on
session_replication_role = replica
timezone = 'Asia/Kolkata'
datestyle = 'SQL, DMY'
intervalstyle = 'sql_standard'
extra_float_digits = -3
bytea_output = 'escape'
default_transaction_isolation = 'serializable'
lock_timeout = '1ms'
};

# Node $i+1: gossip on $gport[$i], seeded with nodes 1 and 2; node 3 odd.
sub node
{
	my ($i) = @_;
	return make_node(name => 'settings' . ($i + 1), id => $i + 1, gossip => $gport[$i], key => $key,
		seeds => [ @gport[0, 1] ], conf => q{mailcluster.raft_election_timeout = 1000
mailcluster.raft_heartbeat_interval = 100
mailcluster.raft_commit_timeout = 10000
} . ($i == 2 ? $odd : ''));
}

my @nodes = map { node($_) } 0 .. 2;
my $odd_node = $nodes[2];
$_->start for @nodes;
$nodes[$_]->safe_psql('postgres', 'CREATE EXTENSION mailcluster') for 0, 1;
$odd_node->safe_psql('postgres', 'SET default_transaction_read_only = off; CREATE EXTENSION mailcluster');
is($odd_node->safe_psql('postgres', 'SHOW default_transaction_read_only'), 'on',
	'node 3 runs read-only transactions by default');

my $leader = agreed_leader(\@nodes, 90);
ok(defined $leader, 'the three nodes agree on a leader: ' . ($leader // 'none'));

my $acct = $nodes[0]->safe_psql('postgres', q{SELECT mailcluster.account_create('settings')});
my @emails = map {
	$nodes[ $_ % 2 == 0 ? 0 : 2 ]->safe_psql('postgres', "SELECT mailcluster.deliver('$acct', " . eml($_) . ')')
} qw(plain reply attachment thread-a);
is(scalar(grep { /^E/ } @emails), 4, 'four emails delivered, through nodes 1 and 3');

my $set = jmap($odd_node, qq([["Email/set", {"accountId": "$acct",
	"update": {"$emails[0]": {"keywords/\$seen": true}}, "destroy": ["$emails[1]"]}, "0"],
	["Mailbox/set", {"accountId": "$acct", "create": {"n": {"name": "Odd node's folder"}}}, "1"]]), 'settings-1');
is(jget($odd_node, $set, '{methodResponses,0,1,destroyed}'), qq(["$emails[1]"]),
	'Email/set through node 3 destroyed an email');
ok(jget($odd_node, $set, '{methodResponses,1,1,created,n,id}') =~ /^M/, 'and created a mailbox');
# A later call of the same request sees what an earlier one wrote, though
# node 3's serializable transaction took its snapshot before that write.
my $seq = jmap($odd_node, qq([["Mailbox/set", {"accountId": "$acct", "create": {"m": {"name": "Seen at once"}}}, "0"],
	["Mailbox/get", {"accountId": "$acct", "ids": ["#m"], "properties": ["name"]}, "1"]]));
is(jget($odd_node, $seq, '{methodResponses,1,1,list,0,name}'), 'Seen at once',
	'Mailbox/get after Mailbox/set in one request on node 3 sees the new mailbox: ' . jget($odd_node, $seq, '{methodResponses,1,1}'));
# A retried request_id inside one serializable transaction is answered
# from the response stored by the first try, which the apply committed
# after the transaction's snapshot: a mailbox renamed in between must not
# show in the retry's Mailbox/get.
my $using = q{'["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"]'::jsonb};
my $rr_req = qq{jsonb_build_object('using', $using, 'methodCalls', \$j\$[["Mailbox/set", {"accountId": "$acct", "create": {"m": {"name": "First name"}}}, "0"],
	["Mailbox/get", {"accountId": "$acct", "ids": ["#m"], "properties": ["name"]}, "1"]]\$j\$::jsonb)};
my $rr = $odd_node->safe_psql('postgres', qq{BEGIN;
SELECT mailcluster.jmap($rr_req, 'rr-1') AS r1 \\gset
SELECT mailcluster.jmap(jsonb_build_object('using', $using, 'methodCalls', jsonb_build_array(jsonb_build_array('Mailbox/set',
	jsonb_build_object('accountId', '$acct', 'update', jsonb_build_object(:'r1'::jsonb #>> '{methodResponses,0,1,created,m,id}',
		'{"name": "Renamed"}'::jsonb)), 'u')))) #>> '{methodResponses,0,1,updated}' IS NOT NULL AS renamed;
SELECT (mailcluster.jmap($rr_req, 'rr-1') #>> '{methodResponses,1,1,list,0,name}') || ' ' || current_setting('transaction_isolation');
COMMIT;});
is($rr, "t\nFirst name serializable",
	'a request_id retried in the same serializable transaction on node 3 returns the stored response, not a rerun');
my $up = $odd_node->safe_psql('postgres', qq{SELECT mailcluster.blob_upload('$acct', '\\x00ff10'::bytea, 'application/x-test')});
like($up, qr/"size": 3/, 'an upload through node 3');

my %sums = checksums(\@nodes, 30);
is(scalar(keys %sums), 1, 'equal state_checksum on the three nodes: ' . join(' | ', keys %sums));
is(join(',', map { $_->safe_psql('postgres', "SELECT count(*) FROM mailcluster.email_mailboxes WHERE account_id = '$acct'") } @nodes),
	'3,3,3', 'the destroyed email left no mailbox membership on any node (the cascade ran on node 3 too)');
is(join(',', map { $_->safe_psql('postgres', "SELECT count(*) FROM mailcluster._responses WHERE request_id LIKE 'jmap:settings-1%'") } @nodes),
	'3,3,3', 'the request kept under its request_id on every node (two calls and the whole)');
is($odd_node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'mailcluster apply'"), '1',
	'node 3 runs its apply worker');

# raft_batch_max is taken on reload (sighup): the leader's batches shrink to
# 64 kB at once, and a write of 300 kB more than that still replicates.
my ($lnode) = grep { $_->safe_psql('postgres', 'SELECT mailcluster.is_leader()') eq 't' } @nodes;
my $log_pos = -s $lnode->logfile;
$lnode->safe_psql('postgres', "ALTER SYSTEM SET mailcluster.raft_batch_max = '64kB'; SELECT pg_reload_conf();");
ok($lnode->wait_for_log(qr/Raft batches of at most 65536 bytes/, $log_pos),
	'the leader takes a reloaded raft_batch_max');
my $big = $lnode->safe_psql('postgres',
	qq{SELECT count(mailcluster._raft_submit(jsonb_build_object('op', 'record_response', 'response', jsonb_build_object('pad', repeat('x', 100000))))) FROM generate_series(1, 3)});
is($big, '3', 'three writes of 100 kB each commit with 64 kB batches');
# A response too big for the proposer's slot is read back from
# _responses once applied: node 3's serializable transactions must see it
# (the transaction's snapshot predates the apply's commit).
my (undef, $big_out, $big_err) = $odd_node->psql('postgres',
	qq{SELECT mailcluster._raft_submit(jsonb_build_object('op', 'record_response', 'response', jsonb_build_object('pad', repeat('y', 20000))))::text});
like($big_out, qr/^\{"pad": "y{20000}"\}$/,
	'a 20 kB response comes back through node 3, serializable by default' . ($big_err ? ": $big_err" : ''));
my %sums2 = checksums(\@nodes, 30);
is(scalar(keys %sums2), 1, 'equal state_checksum after them: ' . join(' | ', keys %sums2));

done_testing();
