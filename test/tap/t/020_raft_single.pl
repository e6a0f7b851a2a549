# 020_raft_single.pl — a standalone node (no bind_addr, no key) is a
# one-voter Raft cluster and its own leader (R4: a 1-node cluster elects
# itself).  Writes go through mailcluster._raft_submit: the raft worker
# appends them durably, the apply worker applies them through _apply; a
# retried request_id is applied once and returns the first result (R31);
# term, log and applied state survive kill -9 (R32); read_barrier,
# wait_for_index and state_checksum behave as SPEC §3 says.  No gossip or
# RPC port (standalone).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use FindBin;
use lib "$FindBin::RealBin/..";
use MCTest qw(wait_for wait_pid_gone standalone_node);

my $node = standalone_node('single');

ok(defined wait_for($node, "SELECT role = 'leader' FROM mailcluster.raft_status", 30, strict => 1),
	'standalone node becomes its own leader');
is($node->safe_psql('postgres',
		"SELECT string_agg(backend_type, ',' ORDER BY backend_type) FROM pg_stat_activity"
		  . " WHERE backend_type IN ('mailcluster raft', 'mailcluster apply')"),
	'mailcluster apply,mailcluster raft', 'both workers show in pg_stat_activity');
is($node->safe_psql('postgres', "SELECT mailcluster.is_leader() AND mailcluster.leader() = leader_id FROM mailcluster.raft_status"),
	't', 'leader() and is_leader() follow the Raft state');
is($node->safe_psql('postgres', "SELECT raft_role || ' ' || voter FROM mailcluster.members WHERE is_self"),
	'leader true', 'members shows this node as the voting leader');
is($node->safe_psql('postgres',
		"SELECT array_length(voters, 1) = 1 AND cluster_id IS NOT NULL AND term >= 1"
		  . " FROM mailcluster.raft_status"),
	't', 'one voter, a cluster id, a term');

# a write: committed, applied, the response of _apply handed back
my $r1 = $node->safe_psql('postgres',
	q{SELECT mailcluster._raft_submit('{"op":"account_create","name":"alice"}', 'req-1')});
like($r1, qr/"id"/, "account_create returns the new id: $r1");
is($node->safe_psql('postgres', "SELECT count(*) FROM mailcluster.accounts WHERE name = 'alice'"),
	'1', 'the account exists after the write returns');

# R31: the same request id again returns the first response, applies nothing new
my $r1b = $node->safe_psql('postgres',
	q{SELECT mailcluster._raft_submit('{"op":"account_create","name":"alice"}', 'req-1')});
is($r1b, $r1, 'a retried request_id returns the first response');
is($node->safe_psql('postgres', "SELECT count(*) FROM mailcluster.accounts WHERE name = 'alice'"),
	'1', 'a retried request_id changes nothing');

# a NULL request id gets a generated one
my $r2 = $node->safe_psql('postgres',
	q{SELECT mailcluster._raft_submit('{"op":"account_create","name":"bob"}', NULL)});
like($r2, qr/"id"/, 'write without a request_id');
isnt($r2, $r1, 'a different account id');

# the log holds the entries, durably; commit = last index; applied caught up
is($node->safe_psql('postgres',
		"SELECT s.commit_index = s.last_log_index AND s.applied_index = s.commit_index"
		  . " AND s.last_log_index = (SELECT max(idx) FROM mailcluster._raft_log)"
		  . " FROM mailcluster.raft_status s"),
	't', 'log, commit and applied indexes agree');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM mailcluster._raft_log WHERE type = 0"),
	'3', 'three normal entries in the log (two writes and the retry)');

# a command _apply refuses: an error with its SQLSTATE, and the log goes on
my ($rc, $out, $err) = $node->psql('postgres',
	q{SELECT mailcluster._raft_submit('{"op":"no_such_op"}', 'req-bad')});
isnt($rc, 0, 'an unknown op fails');
like($err, qr/unknown state machine command/, "the apply error is reported: $err");
like($node->safe_psql('postgres',
		q{SELECT mailcluster._raft_submit('{"op":"account_create","name":"carol"}', 'req-3')}),
	qr/"id"/, 'the next write after a failed one succeeds');

# bad arguments
($rc, $out, $err) = $node->psql('postgres', q{SELECT mailcluster._raft_submit('[1,2]', 'x')});
like($err, qr/must be a JSON object/, 'a non-object command is refused');

# many writes of the same five request ids at once: several copies of a
# request id meet in one apply batch or in later ones.  The apply worker's
# first pass stores responses at the end of the batch without looking them
# up; a copy fails that store on the primary key, and the batch is applied
# again entry by entry, where the copy answers the stored response.
$node->pgbench('--no-vacuum --client=16 --jobs=2 --transactions=20',
	0, [qr{processed: 320/320}], [qr{^$}], 'concurrent copies of five request ids',
	{ 'mc_dup' => q{\set k random(1, 5)
SELECT mailcluster._raft_submit(jsonb_build_object('op', 'account_create', 'name', 'dup' || :k), 'dup-' || :k);
} });
is($node->safe_psql('postgres',
		"SELECT count(*) || ' ' || count(DISTINCT name) FROM mailcluster.accounts WHERE name LIKE 'dup_'"),
	'5 5', '320 writes of five request ids created five accounts');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM mailcluster._responses WHERE request_id LIKE 'dup-_'"),
	'5', 'one stored response per request id');
ok($node->log_contains(qr/applying entries \d+\.\.\d+ together failed/),
	'copies sent a batch down the entry-by-entry pass');

# a command bigger than the inline slot travels through a DSM segment
my $big = 'x' x 20000;
like($node->safe_psql('postgres',
		qq{SELECT mailcluster._raft_submit(jsonb_build_object('op','account_create','name','$big'), 'req-big')}),
	qr/"id"/, 'a 20 kB command is replicated');
is($node->safe_psql('postgres', "SELECT length(name) FROM mailcluster.accounts WHERE name LIKE 'xxx%'"),
	'20000', 'the big command arrived intact');

# read_barrier / wait_for_index
my $applied = $node->safe_psql('postgres', 'SELECT applied_index FROM mailcluster.raft_status');
my $rb = $node->safe_psql('postgres', 'SELECT mailcluster.read_barrier()');
ok($rb >= $applied - 0 && $rb > 0, "read_barrier returns an index ($rb) >= applied ($applied)");
is($node->safe_psql('postgres', "SELECT mailcluster.wait_for_index($applied, 1000)"),
	't', 'wait_for_index of an applied index is true');
my $t0 = time;
is($node->safe_psql('postgres', "SELECT mailcluster.wait_for_index($applied + 1000, 300)"),
	'f', 'wait_for_index of a future index times out with false');
ok(time - $t0 >= 0.25, 'wait_for_index waited for its timeout');

# the JMAP read fence: a read index in linearizable mode
ok($node->safe_psql('postgres', 'SELECT mailcluster._read_fence()') >= $applied,
	'_read_fence() returns a read index >= applied');

# state_checksum: matches applied_index, changes with the state
my $c1 = $node->safe_psql('postgres',
	'SELECT applied_index || \' \' || checksum FROM mailcluster.state_checksum()');
like($c1, qr/^\d+ [0-9a-f]{64}$/, "state_checksum: $c1");
$node->safe_psql('postgres',
	q{SELECT mailcluster._raft_submit('{"op":"account_create","name":"dave"}', 'req-4')});
my $c2 = $node->safe_psql('postgres',
	'SELECT applied_index || \' \' || checksum FROM mailcluster.state_checksum()');
isnt((split / /, $c2)[1], (split / /, $c1)[1], 'a write changes the checksum');
is($node->safe_psql('postgres', 'SELECT checksum FROM mailcluster.state_checksum()'),
	(split / /, $c2)[1], 'the checksum is stable without writes');
# a delivered message puts timestamptz and bytea values into the state: the
# digest of their text must not depend on how the caller's session prints them
$node->safe_psql('postgres',
	q{SELECT mailcluster.deliver(mailcluster.account_create('tz'),
		convert_to(E'From: a@example.com\r\nSubject: tz\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\nhello\r\n', 'UTF8'))});
my $c3 = $node->safe_psql('postgres', 'SELECT checksum FROM mailcluster.state_checksum()');
is($node->safe_psql('postgres',
		"SET TimeZone = 'Pacific/Chatham'; SET DateStyle = 'SQL, DMY'; SET bytea_output = 'escape'; "
		  . 'SELECT checksum FROM mailcluster.state_checksum()'),
	$c3, 'the checksum does not depend on the session\'s TimeZone, DateStyle or bytea_output');

# metrics
ok($node->safe_psql('postgres',
		"SELECT value FROM mailcluster._raft_metrics() WHERE name = 'raft_commits_total'") >= 5,
	'raft_commits_total counts commits');

# R32: kill -9, restart: term, log and applied state survive; nothing re-applied twice
my $term = $node->safe_psql('postgres', 'SELECT term FROM mailcluster.raft_status');
my $accounts = $node->safe_psql('postgres', 'SELECT count(*) FROM mailcluster.accounts');
my $last = $node->safe_psql('postgres', 'SELECT last_log_index FROM mailcluster.raft_status');
my $pid = $node->{_pid};
$node->kill9;
ok(wait_pid_gone($pid), 'postmaster killed');
$node->start;
ok(defined wait_for($node, "SELECT role = 'leader' FROM mailcluster.raft_status", 30, strict => 1),
	'leader again after the crash');
ok($node->safe_psql('postgres', 'SELECT term FROM mailcluster.raft_status') >= $term,
	'the term did not go back');
ok($node->safe_psql('postgres', 'SELECT last_log_index FROM mailcluster.raft_status') >= $last,
	'no log entry was lost');
is($node->safe_psql('postgres', 'SELECT count(*) FROM mailcluster.accounts'),
	$accounts, 'no entry applied twice after the crash');
is($node->safe_psql('postgres',
		q{SELECT mailcluster._raft_submit('{"op":"account_create","name":"alice"}', 'req-1')}),
	$r1, 'a retried request_id still returns its first response after the crash');
like($node->safe_psql('postgres',
		q{SELECT mailcluster._raft_submit('{"op":"account_create","name":"erin"}', 'req-5')}),
	qr/"id"/, 'writes work after the crash');

# operator functions on a one-node cluster: clear errors
($rc, $out, $err) = $node->psql('postgres', 'SELECT mailcluster.add_node(0)');
like($err, qr/between 1 and 65535/, 'add_node refuses a bad node id');
($rc, $out, $err) = $node->psql('postgres', 'SELECT mailcluster.transfer_leadership(1)');
isnt($rc, 0, 'transfer_leadership to itself is refused');

# a reload applies new Raft timeouts; a heartbeat not below the election
# timeout is refused (as at start) and the old pair kept
my $off = -s $node->logfile;
$node->append_conf('postgresql.conf', "mailcluster.raft_election_timeout = 2500\n");
$node->reload;
ok($node->wait_for_log(qr/Raft election timeout 2500 ms, heartbeat \d+ ms/, $off),
	'a reload applies the new election timeout');
$off = -s $node->logfile;
$node->append_conf('postgresql.conf', "mailcluster.raft_heartbeat_interval = 3000\n");
$node->reload;
ok($node->wait_for_log(qr/ignoring the reloaded Raft timeouts/, $off),
	'a reloaded heartbeat above the election timeout is refused');
ok(defined wait_for($node, "SELECT role = 'leader' FROM mailcluster.raft_status", 10, strict => 1),
	'still the leader after the reloads');

$node->stop;
done_testing();
