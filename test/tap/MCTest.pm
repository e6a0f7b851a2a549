# MCTest.pm — helpers shared by the TAP tests of the JMAP layer on a
# three-node cluster (030, 031, 032): waiting for a condition, the agreed
# leader, converged state checksums, jmap() calls and sample messages.
package MCTest;

use strict;
use warnings;
use Exporter 'import';
use Time::HiRes qw(time usleep);

our @EXPORT_OK = qw(wait_for agreed_leader checksums jmap jget eml);

# Wait until $sql returns 't' on $node; seconds taken, or undef after $limit s.
sub wait_for
{
	my ($node, $sql, $limit) = @_;
	my $t0 = time;
	while (time - $t0 < $limit)
	{
		my ($rc, $r) = $node->psql('postgres', $sql);
		return time - $t0 if $rc == 0 && $r eq 't';
		usleep(100_000);
	}
	return undef;
}

# The leader id every node agrees on, or undef within $limit seconds.
sub agreed_leader
{
	my ($nodes, $limit) = @_;
	my $t0 = time;
	while (time - $t0 < $limit)
	{
		my %seen;
		for my $n (@$nodes)
		{
			my ($rc, $r) = $n->psql('postgres',
				"SELECT coalesce(leader_id, 0) FROM mailcluster.raft_status");
			$seen{ $rc == 0 ? $r : 'err' }++;
		}
		my @ids = keys %seen;
		return $ids[0] if @ids == 1 && $ids[0] =~ /^\d+$/ && $ids[0] > 0;
		usleep(100_000);
	}
	return undef;
}

# Wait until every node applied what the furthest one has; then the
# "applied_index checksum" pairs of all nodes (one distinct value = equal).
sub checksums
{
	my ($nodes, $limit) = @_;
	my $target = 0;
	for my $n (@$nodes)
	{
		my $a = $n->safe_psql('postgres', 'SELECT applied_index FROM mailcluster.raft_status');
		$target = $a if $a > $target;
	}
	for my $n (@$nodes)
	{
		$n->safe_psql('postgres', "SELECT mailcluster.wait_for_index($target, @{[ $limit * 1000 ]})");
	}
	my %sums;
	$sums{ $_->safe_psql('postgres',
			q{SELECT applied_index || ' ' || checksum FROM mailcluster.state_checksum()}) }++
	  for @$nodes;
	return %sums;
}

# mailcluster.jmap() on $node: the Response as (canonical) jsonb text.
sub jmap
{
	my ($node, $calls, $rid) = @_;
	my $req = qq({"using": ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"], "methodCalls": $calls});
	my $r = defined $rid ? "'$rid'" : 'NULL';
	return $node->safe_psql('postgres', qq{SELECT mailcluster.jmap(\$j\$$req\$j\$::jsonb, $r)});
}

# One value out of a jsonb text, by a SQL path like '{methodResponses,0,1,state}'.
sub jget
{
	my ($node, $json, $path) = @_;
	return $node->safe_psql('postgres', qq{SELECT \$j\$$json\$j\$::jsonb #>> '$path'});
}

# A sample message of test/data/mail as a bytea literal.
sub eml
{
	my ($name) = @_;
	open(my $fh, '<:raw', "test/data/mail/$name.eml") or die "test/data/mail/$name.eml: $!";
	local $/;
	my $data = <$fh>;
	close $fh;
	return "'\\x" . unpack('H*', $data) . "'::bytea";
}

1;
