# 037_jmap_fuzz.pl — jmap() never raises for a bad request (SPEC §5:
# inside jmap(), method errors are returned in the Response, not raised;
# every bad argument gets a clear error, never a crash).  A standalone node
# answers a few thousand requests made by mutating valid ones of every
# method (values of the wrong type, missing and unknown arguments, odd
# ids, broken back-references, huge and empty strings, deep nesting), some
# with a request_id.  Each must come back as a Response or a request-level
# problem, with no serverFail (what jmap_call.c makes of an error a handler
# did not turn into a JMAP error); the node must stay up; and the run must
# have reached the handlers (successful responses of many methods, many
# kinds of error), so it cannot pass by being rejected at the door.
#
# The requests are seeded: MC_FUZZ_SEED=N reproduces a run (default 1),
# MC_FUZZ_N sets how many (default 3000).  Standalone: no gossip or RPC port.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP;
use FindBin;
use lib "$FindBin::RealBin/..";
use MCTest qw(eml standalone_node run_sql_script);

my $seed = $ENV{MC_FUZZ_SEED} // 1;
my $n = $ENV{MC_FUZZ_N} // 3000;
srand($seed);

my $node = standalone_node('jfuzz');

my $acct = $node->safe_psql('postgres', q{SELECT mailcluster.account_create('fuzz')});
my $email = $node->safe_psql('postgres', "SELECT mailcluster.deliver('$acct', " . eml('attachment') . ')');
my $mbox = $node->safe_psql('postgres',
	"SELECT id FROM mailcluster.mailboxes WHERE account_id = '$acct' AND role = 'inbox'");
my $blob = $node->safe_psql('postgres',
	qq{SELECT mailcluster.blob_upload('$acct', convert_to(E'From: c\@d.example\\r\\nSubject: imp\\r\\n\\r\\nx\\r\\n', 'UTF8')) ->> 'blobId'});
my $thread = $node->safe_psql('postgres', "SELECT thread_id FROM mailcluster.emails WHERE id = '$email'");
ok($email =~ /^E/ && $mbox =~ /^M/ && $blob =~ /^B/ && $thread =~ /^T/,
	"an account with an email, its thread, the Inbox and an upload: $email $thread $mbox $blob");
# the states after setup, for the /changes calls to start from
my ($mstate, $estate, $tstate) = map {
	$node->safe_psql('postgres', qq{SELECT mailcluster.jmap('{"using": ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"],
		"methodCalls": [["$_/get", {"accountId": "$acct", "ids": []}, "s"]]}') #>> '{methodResponses,0,1,state}'})
} qw(Mailbox Email Thread);
ok($mstate =~ /^\d+$/ && $estate =~ /^\d+$/ && $tstate =~ /^\d+$/, "states $mstate $estate $tstate");

my ($T, $F) = (JSON::PP::true, JSON::PP::false);
my @base = (
	[ 'Core/echo', { hello => [ 1, 2 ] } ],
	[ 'Mailbox/get', { accountId => $acct, ids => undef, properties => [qw(name role totalEmails unreadThreads myRights)] } ],
	[ 'Mailbox/get', { accountId => $acct, ids => [ $mbox, 'Mnone' ] } ],
	[ 'Mailbox/changes', { accountId => $acct, sinceState => $mstate, maxChanges => 5 } ],
	[ 'Mailbox/query', { accountId => $acct, filter => { role => 'inbox', hasAnyRole => $T, parentId => undef, name => 'In' },
		sort => [ { property => 'name', isAscending => $F } ], position => 0, limit => 10, sortAsTree => $T, filterAsTree => $T } ],
	[ 'Mailbox/set', { accountId => $acct, create => { k => { name => 'F', parentId => undef, sortOrder => 3, isSubscribed => $T } },
		update => { $mbox => { sortOrder => 1 } }, destroy => ['Mnone'], onDestroyRemoveEmails => $T } ],
	[ 'Email/get', { accountId => $acct, ids => [$email],
		properties => [qw(subject from to bodyStructure bodyValues textBody htmlBody attachments preview keywords mailboxIds size
			receivedAt messageId inReplyTo references sender cc bcc replyTo sentAt hasAttachment blobId threadId),
			'header:Subject:asText', 'header:From:asAddresses:all'],
		bodyProperties => [qw(partId type size name headers)], fetchTextBodyValues => $T, fetchHTMLBodyValues => $T,
		fetchAllBodyValues => $T, maxBodyValueBytes => 10 } ],
	[ 'Email/changes', { accountId => $acct, sinceState => $estate, maxChanges => 3 } ],
	[ 'Email/query', { accountId => $acct, filter => { inMailbox => $mbox, text => 'report' },
		sort => [ { property => 'receivedAt', isAscending => $F }, { property => 'size' } ], position => 0, limit => 5,
		collapseThreads => $T, calculateTotal => $T } ],
	[ 'Email/query', { accountId => $acct, filter => { operator => 'AND', conditions => [
		{ after => '2020-01-01T00:00:00Z', before => '2030-01-01T00:00:00Z', minSize => 1, maxSize => 1000000 },
		{ operator => 'NOT', conditions => [ { hasKeyword => '$flagged' } ] },
		{ from => 'a', subject => 'r', header => [ 'Subject', 'x' ], hasAttachment => $T } ] },
		anchor => $email, anchorOffset => -1, limit => 5 } ],
	[ 'Email/set', { accountId => $acct, create => { e => { mailboxIds => { $mbox => $T }, keywords => { '$draft' => $T },
		subject => 'hi', from => [ { name => 'A', email => 'a@b.example' } ], to => [ { email => 'x@y.example' } ],
		bodyValues => { 1 => { value => 'text', isTruncated => $F } }, textBody => [ { partId => '1', type => 'text/plain' } ],
		'header:X-Foo' => ' bar', receivedAt => '2026-01-01T00:00:00Z' } },
		update => { $email => { 'keywords/$seen' => $T, "mailboxIds/$mbox" => $T } }, destroy => ['Enone'] } ],
	[ 'Email/import', { accountId => $acct, emails => { i => { blobId => $blob, mailboxIds => { $mbox => $T },
		keywords => { '$seen' => $T }, receivedAt => '2026-01-01T00:00:00Z' } } } ],
	[ 'Thread/get', { accountId => $acct, ids => [ $thread, 'Tnone' ] } ],
	[ 'Thread/changes', { accountId => $acct, sinceState => $tstate } ],
);
my @weird = (undef, $T, $F, 0, -1, 1, 2**31, 2**53, -9.2e18, 1.5, 1e300, '', 'x', 'x' x 3000, '#k', '#none',
	"\x{e9}\x{1F600}", [], [undef], [ 1, 'a' ], [ [ [ [] ] ] ], {}, { a => undef }, { '' => 1 },
	{ resultOf => 'c0', name => 'Mailbox/get', path => '/ids' }, { resultOf => 'zz', name => 'X', path => '/*/id' },
	'2026-13-45T99:00:00Z', '9' x 40, '-5', '$seen', $acct, $email, $mbox, $blob, $thread);
my @keys = ('a', 'name', 'ids', '#ids', 'keywords/$x', "mailboxIds/$mbox", 'operator', 'conditions', 'property', $email, 'id');
my @args = qw(bogus #ids #accountId ids properties filter sort position limit anchor create update destroy sinceState);
my $scale = 1;

sub pick { return $_[ int(rand(scalar @_)) ]; }

sub rand_val
{
	my ($depth) = @_;
	if ($depth < 3 && rand() < 0.2)
	{
		return [ map { rand_val($depth + 1) } 1 .. int(rand(4)) ] if rand() < 0.5;
		return { map { (pick(@keys) => rand_val($depth + 1)) } 1 .. int(rand(4)) };
	}
	return pick(@weird);
}

sub mutate
{
	my ($v) = @_;
	if (ref $v eq 'HASH')
	{
		my %o = %$v;
		for my $k (sort keys %o)
		{
			my $r = rand();
			if ($r < 0.12 * $scale) { $o{$k} = rand_val(0); }
			elsif ($r < 0.18 * $scale) { delete $o{$k}; }
			elsif ($r < 0.6) { $o{$k} = mutate($o{$k}); }
		}
		$o{ pick(@args) } = rand_val(0) if rand() < 0.1 * $scale;
		return \%o;
	}
	if (ref $v eq 'ARRAY')
	{
		my @l = map { rand() < 0.5 ? mutate($_) : $_ } @$v;
		push @l, rand_val(0) if rand() < 0.1 * $scale;
		splice(@l, int(rand(@l)), 1) if @l && rand() < 0.1 * $scale;
		return \@l;
	}
	return rand_val(0) if rand() < 0.15 * $scale;
	return $v;
}

my $json = JSON::PP->new->canonical->allow_nonref;
my $sql = '';
for my $i (1 .. $n)
{
	$scale = pick(1, 0.3, 0.1);
	my @calls;
	for my $c (0 .. int(rand(3)))
	{
		my ($name, $a) = @{ pick(@base) };
		$name = pick('Mailbox/get', 'Email/set', 'x', '', 'Email/get/x') if rand() < 0.05;
		push @calls, [ $name, mutate($a), "c$c" ];
	}
	my $req = { using => (rand() < 0.95 ? [ 'urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail' ]
			: pick([], ['urn:x'], undef, 'x')), methodCalls => \@calls };
	$req = mutate($req) if rand() < 0.03;
	$req->{createdIds} = rand_val(0) if ref $req eq 'HASH' && rand() < 0.05;
	my $text = $json->encode($req);
	$text =~ s/\$j\$//g;
	my $rid = rand() < 0.3 ? "'fz-$seed-$i'" : 'NULL';
	$sql .= "SELECT 'Q$i|' || coalesce((SELECT string_agg(coalesce(m->1->>'type'"
	  . " || CASE WHEN m->1->>'type' LIKE 'server%' THEN ': ' || translate(coalesce(m->1->>'description', ''), ',|', ';/') ELSE '' END,"
	  . " m->>0), ',')"
	  . " FROM jsonb_array_elements(CASE WHEN jsonb_typeof(r->'methodResponses') = 'array' THEN r->'methodResponses' END) m),"
	  . " r->>'type', '?') FROM mailcluster.jmap(\$j\$$text\$j\$::jsonb, $rid) r;\n";
}
utf8::encode($sql);
my ($out, @errors) = run_sql_script($node, "jfuzz_$seed.sql", $sql);
is(scalar(@errors), 0, "seed $seed: no jmap() call raised an error or lost its connection"
	  . (@errors ? ' (first: ' . join(' / ', @errors[ 0 .. ($#errors < 2 ? $#errors : 2) ]) . ')' : ''));
my @rows = grep { /^Q\d+\|/ } split /\n/, $out;
is(scalar(@rows), $n, "all $n requests were answered");

my (%ok, %errs);
for my $row (@rows)
{
	my (undef, $kinds) = split /\|/, $row, 2;
	for my $k (split /,/, $kinds)
	{
		if ($k =~ m{^[A-Z][a-z]+/[a-z]+$}) { $ok{$k}++; }
		else { $errs{$k}++; }
	}
}
note('answered: ' . join(', ', map { "$_ $ok{$_}" } sort keys %ok));
note('errors: ' . join(', ', map { "$_ $errs{$_}" } sort keys %errs));
my @server = grep { /^server/ } sort keys %errs;
is(scalar(@server), 0, 'no call failed inside the server (serverFail and the like: an error the handler did not'
	  . ' turn into a JMAP error)' . (@server ? ': ' . join(' / ', @server[ 0 .. ($#server < 2 ? $#server : 2) ]) : ''));
cmp_ok(scalar(keys %ok), '>=', 11, 'successful responses of at least eleven methods: ' . join(' ', sort keys %ok));
ok($errs{invalidArguments} && $errs{unknownMethod} && $errs{'urn:ietf:params:jmap:error:notRequest'},
	'and the errors of bad arguments, unknown methods and malformed requests among them');
is($node->safe_psql('postgres', 'SELECT count(*) FROM pg_stat_activity WHERE backend_type IN (\'mailcluster raft\', \'mailcluster apply\')'),
	'2', 'the node is up with both workers');
ok(!grep({ /terminated by signal|server process .* was terminated/ } split /\n/, slurp_file($node->logfile)),
	'no server process crashed');

$node->stop('fast');
done_testing();
