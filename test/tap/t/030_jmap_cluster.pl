# 030_jmap_cluster.pl — the JMAP layer on a three-node cluster: every write
# is a Raft entry, so writes through any node (leader or follower,
# write_mode = forward) give the same jmap() answers, the same states and
# the same state_checksum() on every node; a request retried with the same
# request_id (on the same or another node) is applied once; Email/changes
# asked on a follower after a leader change returns exactly the changes
# made since the state it was given; a write whose first try went to a
# leader cut off from the others (outcome unknown) and is retried through
# another node is applied exactly once; only responses someone can ask for
# again are kept in _responses.
# Gossip UDP ports 21300-21302, Raft RPC TCP ports 21800-21802, both
# + MC_TAP_PORT_SHIFT (test/tap/MCTest.pm).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use FindBin;
use lib "$FindBin::RealBin/..";
use MCTest qw(ports make_node wait_for agreed_leader checksums metric jmap jget eml);

my $key = 'tap-jmap-secret-0123456789abcdef';
my @gport = ports(21300, 3);

# Node $i+1: gossip on $gport[$i], seeded with nodes 1 and 2.
sub node
{
	my ($i) = @_;
	return make_node(name => 'jmap' . ($i + 1), id => $i + 1, gossip => $gport[$i], key => $key,
		seeds => [ @gport[0, 1] ], conf => q{mailcluster.raft_election_timeout = 1000
mailcluster.raft_heartbeat_interval = 100
mailcluster.raft_commit_timeout = 10000
mailcluster.enable_fault_injection = on
});
}

my @nodes = map { node($_) } 0 .. 2;
$_->start for @nodes;
$_->safe_psql('postgres', 'CREATE EXTENSION mailcluster') for @nodes;

my $leader = agreed_leader(\@nodes, 90);
ok(defined $leader, 'the three nodes agree on a leader: ' . ($leader // 'none'));
my $L = $nodes[ $leader - 1 ];
my ($F1, $F2) = grep { $_ != $L } @nodes;

# ---- writes through every node ------------------------------------------
my $acct = $F1->safe_psql('postgres', q{SELECT mailcluster.account_create('alice')});
like($acct, qr/^A[a-z2-7]+$/, "account created through a follower: $acct");

my $e1 = $L->safe_psql('postgres', "SELECT mailcluster.deliver('$acct', " . eml('thread-a') . ')');
my $e2 = $F1->safe_psql('postgres', "SELECT mailcluster.deliver('$acct', " . eml('thread-c') . ')');
my $e3 = $F2->safe_psql('postgres', "SELECT mailcluster.deliver('$acct', " . eml('alternative') . ", 'Archive')");
like("$e1 $e2 $e3", qr/^E\S+ E\S+ E\S+$/, "delivered on the leader and both followers: $e1 $e2 $e3");

my $set = jmap($F2, qq([["Mailbox/set", {"accountId": "$acct", "create": {"p": {"name": "Projects"}}}, "0"]]));
my $projects = jget($F2, $set, '{methodResponses,0,1,created,p,id}');
like($projects, qr/^M/, "Mailbox/set on a follower created $projects");
$set = jmap($F1, qq([["Email/set", {"accountId": "$acct", "update": {"$e1": {"keywords/\$seen": true, "mailboxIds/$projects": true}}}, "0"]]));
is(jget($F1, $set, '{methodResponses,0,1,updated}'), qq({"$e1": null}), 'Email/set on the other follower updated the email');

# ---- write-only requests and the read barrier ---------------------------
# A request of updates and destroys only takes no read barrier (its results
# come from the apply); any read takes one; an accountNotFound is answered
# only after one, so an account acknowledged elsewhere but not yet applied
# here is never reported missing.
sub read_indexes { return metric($_[0], 'raft_read_index_total') }
my $ri0 = read_indexes($F1);
my $upd = jmap($F1, qq([["Email/set", {"accountId": "$acct", "update": {"$e1": {"keywords/\$seen": true}}}, "0"]]));
is(jget($F1, $upd, '{methodResponses,0,1,updated}'), qq({"$e1": null}), 'a write-only Email/set on a follower updates');
is(read_indexes($F1), $ri0, 'a write-only request took no read barrier');
jmap($F1, qq([["Email/get", {"accountId": "$acct", "ids": ["$e1"], "properties": ["keywords"]}, "0"]]));
is(read_indexes($F1), $ri0 + 1, 'a read took one read barrier');
my $nope = jmap($F1, q([["Email/set", {"accountId": "Anope", "update": {"Ex": {"keywords/$seen": true}}}, "0"]]));
is(jget($F1, $nope, '{methodResponses,0,1,type}'), 'accountNotFound', 'a write-only request to an unknown account: accountNotFound');
is(read_indexes($F1), $ri0 + 2, 'that accountNotFound was confirmed by a read barrier first');
my @fresh_answers;
for my $k (1 .. 10)
{
	my $fresh = $L->safe_psql('postgres', qq{SELECT mailcluster.account_create('fresh-$k')});
	my $r = jmap($F1, qq([["Email/set", {"accountId": "$fresh", "update": {"Ex": {"keywords/\$seen": true}}}, "0"]]));
	push @fresh_answers, jget($F1, $r, '{methodResponses,0,0}') . ':' . (jget($F1, $r, '{methodResponses,0,1,notUpdated,Ex,type}') // '');
}
is(join(' ', sort { $a cmp $b } keys %{ { map { $_ => 1 } @fresh_answers } }), 'Email/set:notFound',
	'accounts just created through the leader are found by write-only requests on a follower (10 tries)');

# thread-b links thread-a and thread-c: their threads merge, on every node alike
my $e4 = $L->safe_psql('postgres', "SELECT mailcluster.deliver('$acct', " . eml('thread-b') . ')');

my %sums = checksums(\@nodes, 30);
is(scalar(keys %sums), 1, 'equal state_checksum() on all three nodes: ' . join(' / ', keys %sums));

# ---- identical jmap() answers everywhere ---------------------------------
my $reads = qq([
  ["Mailbox/get", {"accountId": "$acct", "ids": null}, "m"],
  ["Email/query", {"accountId": "$acct", "sort": [{"property": "receivedAt", "isAscending": false}, {"property": "subject"}],
                   "calculateTotal": true}, "q"],
  ["Email/get", {"accountId": "$acct", "#ids": {"resultOf": "q", "name": "Email/query", "path": "/ids"},
                 "properties": ["id", "blobId", "threadId", "mailboxIds", "keywords", "size", "receivedAt",
                                "subject", "from", "to", "sentAt", "preview", "hasAttachment", "bodyStructure",
                                "textBody", "htmlBody", "bodyValues"], "fetchAllBodyValues": true}, "g"],
  ["Thread/get", {"accountId": "$acct", "#ids": {"resultOf": "g", "name": "Email/get", "path": "/list/*/threadId"}}, "t"],
  ["Mailbox/changes", {"accountId": "$acct", "sinceState": "0"}, "mc"],
  ["Mailbox/query", {"accountId": "$acct", "sort": [{"property": "sortOrder"}, {"property": "name"}]}, "mq"]]);
my @answers = map { jmap($_, $reads) } @nodes;
is($answers[1], $answers[0], 'node 2 gives the same jmap() response as node 1');
is($answers[2], $answers[0], 'node 3 gives the same jmap() response as node 1');
is(jget($L, $answers[0], '{methodResponses,1,1,total}'), '4', 'four emails in the account');
is($L->safe_psql('postgres',
		qq{SELECT e->'keywords' FROM jsonb_array_elements(\$j\$$answers[0]\$j\$::jsonb #> '{methodResponses,2,1,list}') e
		    WHERE e->>'id' = '$e1'}),
	'{"$seen": true}', 'the email updated through a follower has its keyword');
is($L->safe_psql('postgres',
	qq{SELECT string_agg(n::text, ',' ORDER BY n) FROM (SELECT DISTINCT t->>'id', jsonb_array_length(t->'emailIds') AS n
	     FROM jsonb_array_elements(\$j\$$answers[0]\$j\$::jsonb #> '{methodResponses,3,1,list}') t) x}),
	'1,3', 'two threads: thread-b merged thread-a and thread-c into one of three; the lone message');

for my $type ('Mailbox', 'Email', 'Thread')
{
	my %states = map {
		jget($_, jmap($_, qq([["$type/get", {"accountId": "$acct", "ids": []}, "s"]])), '{methodResponses,0,1,state}') => 1
	} @nodes;
	is(scalar(keys %states), 1, "$type state equal on all nodes: " . join(',', keys %states));
}
my $last = $L->safe_psql('postgres', 'SELECT applied_index FROM mailcluster.raft_status');
my $estate = jget($L, jmap($L, qq([["Email/get", {"accountId": "$acct", "ids": []}, "s"]])), '{methodResponses,0,1,state}');
ok($estate > 0 && $estate <= $last, "the Email state ($estate) is a Raft index (applied $last)");

# ---- a retried request_id is applied once --------------------------------
my $once = qq([["Mailbox/set", {"accountId": "$acct", "create": {"o": {"name": "Once"}}}, "0"],
               ["Email/set", {"accountId": "$acct", "update": {"$e2": {"keywords/\$flagged": true}}}, "1"]]);
my $first = jmap($F1, $once, 'retry-1');
like(jget($F1, $first, '{methodResponses,0,1,created,o,id}'), qr/^M/, 'first try created the mailbox');
my $commit_before = $L->safe_psql('postgres', 'SELECT commit_index FROM mailcluster.raft_status');
$F1->safe_psql('postgres', "SELECT mailcluster.wait_for_index($commit_before, 10000)");
is(jmap($F1, $once, 'retry-1'), $first, 'retry on the same node returns the first response');
$L->safe_psql('postgres', "SELECT mailcluster.wait_for_index($commit_before, 10000)");
is(jmap($L, $once, 'retry-1'), $first, 'retry through the leader returns the first response');
$F2->safe_psql('postgres', "SELECT mailcluster.wait_for_index($commit_before, 10000)");
is(jmap($F2, $once, 'retry-1'), $first, 'retry through the other follower returns the first response');
is($L->safe_psql('postgres', 'SELECT commit_index FROM mailcluster.raft_status'), $commit_before,
	'the retries added no log entry');
%sums = checksums(\@nodes, 30);
is(scalar(keys %sums), 1, 'equal state_checksum() after the retries');
is(join(',', map { $_->safe_psql('postgres', "SELECT count(*) FROM mailcluster.mailboxes WHERE name = 'Once'") } @nodes),
	'1,1,1', 'one "Once" mailbox on every node');
# the same request under another request_id is a new request (and fails: the name is taken)
my $other = jmap($F2, $once, 'retry-2');
is(jget($F2, $other, '{methodResponses,0,1,notCreated,o,type}'), 'invalidProperties',
	'the same calls under a new request_id are applied again (sibling name taken)');

# ---- which responses are kept for retries --------------------------------
# A write without a request_id, proposed on the leader itself, can never be
# asked for again: no _responses row on any node.  One forwarded from a
# follower (it may be proposed again after a leader change) or carrying a
# request_id keeps its response on every node.  The rows stay equal
# everywhere: they are part of state_checksum().
sub response_counts
{
	my %s = checksums(\@nodes, 30);
	return 'checksums differ' if keys(%s) != 1;
	return join(',', map { $_->safe_psql('postgres', 'SELECT count(*) FROM mailcluster._responses') } @nodes);
}
sub plus { my ($c, $n) = @_; return join(',', map { $_ + $n } split(/,/, $c)); }
my $rc0 = response_counts();
like($rc0, qr/^(\d+),\1,\1$/, "as many stored responses on every node: $rc0");
jmap($L, qq([["Mailbox/set", {"accountId": "$acct", "create": {"k": {"name": "Kept-0"}}}, "0"]]));
is(response_counts(), $rc0, 'a write without request_id on the leader stores no response');
jmap($F1, qq([["Mailbox/set", {"accountId": "$acct", "create": {"k": {"name": "Kept-1"}}}, "0"]]));
is(response_counts(), plus($rc0, 1), 'one forwarded from a follower stores its response on every node');
jmap($L, qq([["Mailbox/set", {"accountId": "$acct", "create": {"k": {"name": "Kept-2"}}}, "0"]]), 'kept-2');
# two rows: the call's command (jmap:kept-2:1) and the whole response (jmap:kept-2)
is(response_counts(), plus($rc0, 3), 'one with a request_id on the leader stores its two responses on every node');
is(join(',', map { $_->safe_psql('postgres',
		"SELECT string_agg(request_id, ' ' ORDER BY request_id) FROM mailcluster._responses WHERE request_id LIKE 'jmap:kept-2%'") } @nodes),
	join(',', ('jmap:kept-2 jmap:kept-2:1') x 3), 'they are the call\'s and the request\'s responses, on every node');

# ---- Email/changes on a follower after a leader change --------------------
my $since = jget($F1, jmap($F1, qq([["Email/get", {"accountId": "$acct", "ids": []}, "s"]])), '{methodResponses,0,1,state}');
my $new_leader_id = ($leader % 3) + 1;
$L->safe_psql('postgres', "SELECT mailcluster.transfer_leadership($new_leader_id)");
my $now = agreed_leader(\@nodes, 30);
is($now, $new_leader_id, "leadership moved from node $leader to node $new_leader_id");
my $NL = $nodes[ $new_leader_id - 1 ];
my ($G) = grep { $_ != $NL && $_ != $L } @nodes;    # a follower under both leaders

my $e5 = $L->safe_psql('postgres', "SELECT mailcluster.deliver('$acct', " . eml('plain') . ')');
my $e6 = $G->safe_psql('postgres', "SELECT mailcluster.deliver('$acct', " . eml('reply') . ')');
$set = jmap($NL, qq([["Email/set", {"accountId": "$acct", "destroy": ["$e3"], "update": {"$e4": {"keywords/\$answered": true}}}, "0"]]));
is(jget($NL, $set, '{methodResponses,0,1,destroyed}'), qq(["$e3"]), 'Email/set through the new leader destroyed an email');

my $changes = jmap($G, qq([["Email/changes", {"accountId": "$acct", "sinceState": "$since"}, "c"],
                          ["Email/get", {"accountId": "$acct", "ids": []}, "s"]]));
my $created = $G->safe_psql('postgres',
	qq{SELECT string_agg(x, ',' ORDER BY x) FROM jsonb_array_elements_text(\$j\$$changes\$j\$::jsonb #> '{methodResponses,0,1,created}') x});
is($created, join(',', sort ($e5, $e6)), "Email/changes on a follower: created = the two new emails ($created)");
is(jget($G, $changes, '{methodResponses,0,1,destroyed}'), qq(["$e3"]), 'Email/changes: destroyed = the destroyed email');
is(jget($G, $changes, '{methodResponses,0,1,updated}'), qq(["$e4"]), 'Email/changes: updated = the email whose keywords changed');
is(jget($G, $changes, '{methodResponses,0,1,oldState}'), $since, 'Email/changes: oldState is the state asked for');
is(jget($G, $changes, '{methodResponses,0,1,newState}'), jget($G, $changes, '{methodResponses,1,1,state}'),
	'Email/changes: newState is the current Email state');
is(jget($G, $changes, '{methodResponses,0,1,hasMoreChanges}'), 'false', 'Email/changes: no more changes');
my @ch = map { jmap($_, qq([["Email/changes", {"accountId": "$acct", "sinceState": "$since"}, "c"]])) } @nodes;
is(scalar(keys %{ { map { $_ => 1 } @ch } }), 1, 'the same Email/changes answer on all three nodes');

# ---- first try on a leader cut off from the others, retry elsewhere ------
# The isolated leader reads locally (a read index needs the others), takes
# the write, cannot commit it: serverPartialFail (MC001) or, once it knows
# it lost the lead, serverUnavailable (MC003); the response is not stored.
$NL->safe_psql('postgres', q{ALTER SYSTEM SET mailcluster.read_consistency = 'local'; SELECT pg_reload_conf()});
my @others = map { $_ + 1 } grep { $_ != $new_leader_id - 1 } 0 .. 2;
$NL->safe_psql('postgres', "SELECT mailcluster.fault_isolate(ARRAY[@{[ join(',', @others) ]}])");
my $split = qq([["Mailbox/set", {"accountId": "$acct", "create": {"s": {"name": "Partitioned"}}}, "0"]]);
my $cut = jmap($NL, $split, 'split-1');
like(jget($NL, $cut, '{methodResponses,0,1,type}'), qr/^server(PartialFail|Unavailable)$/,
	'the write on the isolated leader fails with outcome unknown: ' . jget($NL, $cut, '{methodResponses,0,1,type}'));
my @rest = grep { $_ != $NL } @nodes;
my $rest_leader = agreed_leader(\@rest, 30);
ok(defined $rest_leader && $rest_leader != $new_leader_id, 'the other two elect a leader: ' . ($rest_leader // 'none'));
my $retry = jmap($G, $split, 'split-1');
my $pid = jget($G, $retry, '{methodResponses,0,1,created,s,id}');
like($pid, qr/^M/, "the retry through another node creates the mailbox: $pid");
$NL->safe_psql('postgres', 'SELECT mailcluster.fault_clear()');
$NL->safe_psql('postgres', q{ALTER SYSTEM RESET mailcluster.read_consistency; SELECT pg_reload_conf()});
%sums = checksums(\@nodes, 30);
is(scalar(keys %sums), 1, 'equal state_checksum() after the partition heals: ' . join(' / ', keys %sums));
is(join(',', map { $_->safe_psql('postgres', "SELECT count(*) FROM mailcluster.mailboxes WHERE name = 'Partitioned'") } @nodes),
	'1,1,1', 'the mailbox exists once on every node (the cut-off try was not applied on top)');
ok(defined wait_for($NL, 'SELECT mailcluster.leader() IS NOT NULL', 30), 'the healed node knows the leader');
is(jmap($NL, $split, 'split-1'), $retry, 'a third try on the healed node returns the stored response');

%sums = checksums(\@nodes, 30);
is(scalar(keys %sums), 1, 'equal state_checksum() at the end: ' . join(' / ', keys %sums));

$_->stop for @nodes;
done_testing();
