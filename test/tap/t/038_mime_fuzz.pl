# 038_mime_fuzz.pl — the mail parser never fails on bad mail.  deliver()
# and Email/import parse the message on the proposing node
# (mailcluster._parse_message, mime_parse.c over GMime) before anything
# is replicated; an MTA hands it whatever arrived.  A standalone node
# parses a few thousand messages made by mutating the sample mail of
# test/data/mail (bytes flipped, cut, repeated; boundaries, encoded words,
# broken base64 and quoted-printable, odd charsets, NUL and invalid UTF-8,
# 2,000-byte headers, multiparts nested up to 60 deep) and a few of random
# bytes.  Every one must parse (no error: a message that cannot be read as
# MIME is still delivered, as text); the node must stay up; and some of
# the mutants are then delivered for real and read back through jmap().
#
# Seeded: MC_FUZZ_SEED=N reproduces a run (default 1), MC_FUZZ_N sets how
# many messages (default 3000).  Standalone: no gossip or RPC port.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/..";
use MCTest qw(standalone_node run_sql_script);

my $seed = $ENV{MC_FUZZ_SEED} // 1;
my $n = $ENV{MC_FUZZ_N} // 3000;
srand($seed);

my @samples;
for my $f (sort glob("$FindBin::RealBin/../../data/mail/*.eml"))
{
	push @samples, slurp_file($f);
}
ok(@samples >= 5, scalar(@samples) . ' sample messages');

my @frag = ("\r\n", "\n", "\r", '--', 'boundary=', qq{Content-Type: multipart/mixed; boundary="b"\r\n}, "--b\r\n", "--b--\r\n",
	"Content-Transfer-Encoding: base64\r\n", "Content-Transfer-Encoding: quoted-printable\r\n", '=?utf-8?B?w6k=?=',
	'=?x?Q?=ZZ?=', '=?iso-8859-1?q?caf=E9?=', 'charset="utf-7"', 'charset=bogus', "Content-Type: text/html\r\n",
	"Content-Type: message/rfc822\r\n", '<a@b>', '<<<>>>', "\x00", "\xff\xfe", "\xc3", "\xe2\x82", "=\r\n", '=3D', '====',
	"\t", ' ', ':', ';', '"', '\\', "Date: Mon, 99 Foo 99999 99:99:99 +9999\r\n", qq{From: "A\\" <\@>, ,, <x\@>\r\n},
	'Subject: ' . ('x' x 2000) . "\r\n", 'References: ' . ('<a@b> ' x 200) . "\r\n",
	"Content-Disposition: attachment; filename*=utf-8''%E9%ZZ\r\n", qq{Content-Type: text/plain; name="\xe9"\r\n}, '&#0;',
	"\x1b\$B", "Message-ID: \r\n");

sub pick { return $_[ int(rand(scalar @_)) ]; }

sub mutate
{
	my ($m) = @_;
	for (1 .. 1 + int(rand(8)))
	{
		my $op = rand();
		my $len = length $m;
		if ($op < 0.25 && $len) { substr($m, int(rand($len)), 1) = chr(int(rand(256))); }
		elsif ($op < 0.5) { substr($m, int(rand($len + 1)), 0) = pick(@frag); }
		elsif ($op < 0.6 && $len) { substr($m, int(rand($len)), 1 + int(rand(200))) = ''; }
		elsif ($op < 0.7 && $len) { $m = substr($m, 0, int(rand($len + 1))); }
		elsif ($op < 0.8 && $len)
		{
			my $piece = substr($m, int(rand($len)), 1 + int(rand(300)));
			substr($m, int(rand($len + 1)), 0) = $piece;
		}
		elsif ($op < 0.85)
		{
			my $depth = 1 + int(rand(60));
			$m = "From: a\@b.example\r\nMIME-Version: 1.0\r\n"
			  . join('', map { qq{Content-Type: multipart/mixed; boundary="n$_"\r\n\r\n--n$_\r\n} } 1 .. $depth) . $m;
		}
		else { substr($m, int(rand($len + 1)), 0) = join('', map { chr(int(rand(256))) } 1 .. 1 + int(rand(50))); }
	}
	return $m;
}

my @msgs = map {
	rand() < 0.97 ? mutate(pick(@samples)) : join('', map { chr(int(rand(256))) } 1 .. int(rand(501)))
} 1 .. $n;

my $node = standalone_node('mfuzz');

my $sql = '';
for my $i (0 .. $#msgs)
{
	$sql .= "SELECT 'M$i|' || (mailcluster._parse_message('\\x" . unpack('H*', $msgs[$i])
	  . "'::bytea, 'B$i') ->> 'size');\n";
}
my ($out, @errors) = run_sql_script($node, "mfuzz_$seed.sql", $sql);
is(scalar(@errors), 0, "seed $seed: every message parsed"
	  . (@errors ? ' (first: ' . join(' / ', @errors[ 0 .. ($#errors < 2 ? $#errors : 2) ]) . ')' : ''));
my %size = map { /^M(\d+)\|(\d+)$/ ? ($1 => $2) : () } split /\n/, $out;
is(scalar(grep { defined $size{$_} && $size{$_} == length $msgs[$_] } 0 .. $#msgs), $n,
	"each of the $n parses reports the message's own size");

# some mutants delivered for real, then read back
my $acct = $node->safe_psql('postgres', q{SELECT mailcluster.account_create('mfuzz')});
my @ids;
for my $i (0 .. 19)
{
	push @ids, $node->safe_psql('postgres',
		"SELECT mailcluster.deliver('$acct', '\\x" . unpack('H*', $msgs[$i]) . "'::bytea)");
}
is(scalar(grep { /^E/ } @ids), 20, 'twenty mutants delivered');
my $got = $node->safe_psql('postgres', qq{SELECT jsonb_array_length(mailcluster.jmap(jsonb_build_object(
	'using', '["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"]'::jsonb,
	'methodCalls', jsonb_build_array(jsonb_build_array('Email/get', jsonb_build_object('accountId', '$acct',
		'ids', to_jsonb(string_to_array('@{[ join(',', @ids) ]}', ',')),
		'properties', '["subject", "from", "bodyStructure", "bodyValues", "preview"]'::jsonb,
		'fetchAllBodyValues', true), 'g')))) #> '{methodResponses,0,1,list}')});
is($got, '20', 'and all twenty read back with Email/get (subject, from, body structure, body values, preview)');
ok(!grep({ /terminated by signal|server process .* was terminated/ } split /\n/, slurp_file($node->logfile)),
	'no server process crashed');

$node->stop('fast');
done_testing();
