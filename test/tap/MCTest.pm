# MCTest.pm — helpers shared by the TAP tests (test/tap/t/*.pl): the ports a
# script uses, nodes of a loopback cluster, waiting for a condition / a
# killed postmaster / a freed port, the agreed Raft leader, converged state
# checksums, metrics, jmap() calls and sample messages.
#
# Load it from a script with
#   use FindBin;
#   use lib "$FindBin::RealBin/..";
#   use MCTest qw(port ports make_node wait_for ...);
#
# Ports.  Every gossip (UDP) and Raft RPC (TCP) port a script uses comes from
# port()/ports(), which add $ENV{MC_TAP_PORT_SHIFT} (an integer, default 0)
# to the script's base ports.  All base ports lie in 21000-21999: script NNN
# uses gossip ports 21000 + 10*NNN .. +9 and the Raft RPC port of each is
# RPC_OFFSET (500) above it (rpc_port()), so no two scripts share a port and
# the whole suite fits in one 1000-port window.  Hence runs whose shifts
# differ by 1000 or more never collide: MC_TAP_PORT_SHIFT=1000 (or 3000, ...)
# can run next to an unshifted run on the same machine.  Keep the shifted
# ports below 65536 (and preferably clear of other services); the
# PostgreSQL servers' own ports are chosen by PostgreSQL::Test::Cluster.
package MCTest;

use strict;
use warnings;
use Exporter 'import';
use Time::HiRes qw(time usleep);
use IO::Socket::INET;
use IPC::Run;
use PostgreSQL::Test::Cluster;

our @EXPORT_OK = qw(port ports rpc_port port_shift make_node
  wait_for wait_all wait_log wait_pid_gone wait_port_free
  agreed_leader checksums converged metric
  jmap jget eml standalone_node run_sql_script);

use constant RPC_OFFSET => 500;
use constant { BASE_MIN => 21000, BASE_MAX => 21999 };

# The port shift of this run: $ENV{MC_TAP_PORT_SHIFT} as an integer (default
# 0).  Dies on anything that is not an integer.
sub port_shift
{
	my $s = $ENV{MC_TAP_PORT_SHIFT};
	return 0 if !defined $s || $s eq '';
	die "MC_TAP_PORT_SHIFT must be an integer, not '$s'\n" unless $s =~ /^-?\d+$/;
	return 0 + $s;
}

# The port to use for base port $base: $base + MC_TAP_PORT_SHIFT.  $base must
# be in 21000-21999 (see the top of this file) and the result a valid
# unprivileged port (1024-65535); dies otherwise.
sub port
{
	my ($base) = @_;
	die "MCTest::port: base port $base is outside "
	  . BASE_MIN . '-' . BASE_MAX . " (see test/tap/MCTest.pm)\n"
	  unless defined $base && $base =~ /^\d+$/ && $base >= BASE_MIN && $base <= BASE_MAX;
	my $p = $base + port_shift();
	die "MCTest::port: $base + MC_TAP_PORT_SHIFT = $p is not a port in 1024-65535\n"
	  if $p < 1024 || $p > 65535;
	return $p;
}

# $n consecutive ports from base port $base: port($base) .. port($base+$n-1).
sub ports
{
	my ($base, $n) = @_;
	return map { port($base + $_) } 0 .. $n - 1;
}

# The Raft RPC (TCP) port that goes with gossip port $gossip: RPC_OFFSET
# above it (shifted with it, since $gossip already is).
sub rpc_port
{
	my ($gossip) = @_;
	return $gossip + RPC_OFFSET;
}

# make_node(name => ..., id => ..., gossip => ..., key => ..., ...): a new,
# initialised, not yet started PostgreSQL::Test::Cluster called `name`, with
# mailcluster preloaded and clustered on loopback.  postgresql.conf gets, in
# this order:
#   mailcluster.node_id          = id
#   mailcluster.bind_addr        = bind_addr (default '127.0.0.1')
#   mailcluster.advertise_addr   = advertise_addr (only if given)
#   mailcluster.bind_port        = gossip
#   mailcluster.rpc_port         = rpc (default rpc_port(gossip))
#   mailcluster.key              = key   (or mailcluster.key_file = key_file)
#   mailcluster.seed_nodes       = seed_nodes, a string taken verbatim, or
#                                  seeds, a list of gossip ports on 127.0.0.1
#                                  joined by ','
#   mailcluster.heartbeat        = heartbeat (default 200)
# then the lines of `conf` (optional) verbatim.
sub make_node
{
	my (%o) = @_;
	for my $k (qw(name id gossip))
	{
		die "make_node: $k is required\n" unless defined $o{$k};
	}
	die "make_node: one of key and key_file is required\n"
	  unless defined($o{key}) != defined($o{key_file});
	die "make_node: one of seeds and seed_nodes is required\n"
	  unless defined($o{seeds}) != defined($o{seed_nodes});
	my $seeds = $o{seed_nodes} // join(',', map { "127.0.0.1:$_" } @{ $o{seeds} });
	my $conf = "
shared_preload_libraries = 'mailcluster'
mailcluster.node_id = $o{id}
mailcluster.bind_addr = '" . ($o{bind_addr} // '127.0.0.1') . "'\n"
	  . (defined $o{advertise_addr} ? "mailcluster.advertise_addr = '$o{advertise_addr}'\n" : '')
	  . "mailcluster.bind_port = $o{gossip}
mailcluster.rpc_port = " . ($o{rpc} // rpc_port($o{gossip})) . "\n"
	  . (defined $o{key} ? "mailcluster.key = '$o{key}'\n" : "mailcluster.key_file = '$o{key_file}'\n")
	  . "mailcluster.seed_nodes = '$seeds'
mailcluster.heartbeat = " . ($o{heartbeat} // 200) . "\n"
	  . ($o{conf} // '');
	my $node = PostgreSQL::Test::Cluster->new($o{name});
	$node->init;
	$node->append_conf('postgresql.conf', $conf);
	return $node;
}

# Wait until $sql returns 't' on $node, polling every `interval` seconds
# (default 0.1) for at most $limit seconds.  Returns the seconds it took
# (defined) or undef at the time limit.  A query error counts as "not yet",
# unless strict => 1: then it dies (safe_psql).
sub wait_for
{
	my ($node, $sql, $limit, %o) = @_;
	my $interval = $o{interval} // 0.1;
	my $t0 = time;
	while (time - $t0 < $limit)
	{
		if ($o{strict})
		{
			return time - $t0 if $node->safe_psql('postgres', $sql) eq 't';
		}
		else
		{
			my ($rc, $r) = $node->psql('postgres', $sql);
			return time - $t0 if $rc == 0 && $r eq 't';
		}
		usleep(int($interval * 1_000_000));
	}
	return undef;
}

# Wait until $sql returns 't' on every node of @$nodes in the same round,
# polling every `interval` seconds (default 0.1) for at most $limit seconds;
# a query error counts as "not yet".  1 if it did, 0 at the time limit.
sub wait_all
{
	my ($nodes, $sql, $limit, %o) = @_;
	my $interval = $o{interval} // 0.1;
	my $t0 = time;
	while (time - $t0 < $limit)
	{
		my $ok = 1;
		for my $n (@$nodes)
		{
			my ($rc, $r) = $n->psql('postgres', $sql);
			$ok = 0 unless $rc == 0 && $r eq 't';
		}
		return 1 if $ok;
		usleep(int($interval * 1_000_000));
	}
	return 0;
}

# Wait until $node's server log matches the regular expression (string)
# $re (PostgreSQL::Test::Cluster::log_contains), checking every 0.1 s, at
# most $limit seconds.  1 if it does, 0 if not.
sub wait_log
{
	my ($node, $re, $limit) = @_;
	my $t0 = time;
	while (!$node->log_contains($re))
	{
		return 0 if time - $t0 >= $limit;
		usleep(100_000);
	}
	return 1;
}

# Wait until process $pid (a killed postmaster) is really gone (kill 0
# fails), checking every 0.1 s, at most $limit seconds (default 60).
# 1 if it is gone, 0 if not.
sub wait_pid_gone
{
	my ($pid, $limit) = @_;
	for (1 .. int(($limit // 60) * 10))
	{
		return 1 unless kill(0, $pid);
		usleep(100_000);
	}
	return 0;
}

# Wait until UDP port $port on 127.0.0.1 can be bound again (a killed node's
# gossip worker exits when it notices its postmaster died), trying every
# 0.1 s, at most $limit seconds (default 60).  1 if free, 0 if not.
sub wait_port_free
{
	my ($port, $limit) = @_;
	for (1 .. int(($limit // 60) * 10))
	{
		my $s = IO::Socket::INET->new(Proto => 'udp', LocalAddr => '127.0.0.1', LocalPort => $port);
		if ($s) { close($s); return 1; }
		usleep(100_000);
	}
	return 0;
}

# The leader id every node of @$nodes agrees on (raft_status.leader_id, the
# same positive id on all, no query error), polling every 0.1 s; undef if
# there is none within $limit seconds.
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

# One round of convergence: the furthest applied_index of @$nodes is the
# target; every node waits (wait_for_index) up to $limit s for it; then each
# node's "applied_index checksum" of state_checksum().  Returns (\%sums,
# $all_reached): the count per distinct value and whether every wait
# returned true.
sub _converge_once
{
	my ($nodes, $limit) = @_;
	my $target = 0;
	for my $n (@$nodes)
	{
		my $a = $n->safe_psql('postgres', 'SELECT applied_index FROM mailcluster.raft_status');
		$target = $a if $a > $target;
	}
	my $reached = 1;
	for my $n (@$nodes)
	{
		$reached = 0
		  unless $n->safe_psql('postgres',
			"SELECT mailcluster.wait_for_index($target, @{[ $limit * 1000 ]})") eq 't';
	}
	my %sums;
	$sums{ $_->safe_psql('postgres',
			q{SELECT applied_index || ' ' || checksum FROM mailcluster.state_checksum()}) }++
	  for @$nodes;
	return (\%sums, $reached);
}

# Wait until every node of @$nodes applied what the furthest one has (at
# most $limit s each); then the "applied_index checksum" pairs of all nodes
# as a hash value => count (one key = equal state).  With retry => $secs the
# round is repeated, `interval` seconds apart (default 0.3), until the
# values are equal or $secs seconds have passed (for entries that may still
# be arriving); the values of the last round.
sub checksums
{
	my ($nodes, $limit, %o) = @_;
	my $t0 = time;
	while (1)
	{
		my ($sums) = _converge_once($nodes, $limit);
		return %$sums
		  if !defined $o{retry} || keys %$sums == 1 || time - $t0 > $o{retry};
		usleep(int(($o{interval} // 0.3) * 1_000_000));
	}
}

# Like checksums, one round: the single "applied_index checksum" of all
# nodes if every node reached the target within $limit s and all values are
# equal, else 0.
sub converged
{
	my ($nodes, $limit) = @_;
	my ($sums, $reached) = _converge_once($nodes, $limit);
	return ($reached && keys %$sums == 1) ? (keys %$sums)[0] : 0;
}

# The value of metric $name in mailcluster.metrics on $node, as bigint text
# ('' if there is no such metric).
sub metric
{
	my ($node, $name) = @_;
	return $node->safe_psql('postgres',
		"SELECT value::bigint FROM mailcluster.metrics WHERE name = '$name'");
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

# A started standalone node (no gossip, no RPC: its own one-voter cluster)
# with the extension created, once it leads; dies if it does not within 30 s.
sub standalone_node
{
	my ($name) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'mailcluster'
mailcluster.raft_commit_timeout = 5000
});
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION mailcluster');
	defined wait_for($node, "SELECT role = 'leader' FROM mailcluster.raft_status", 30)
	  or die "standalone node $name did not lead within 30 s\n";
	return $node;
}

# Run the SQL text $sql on $node as one psql script (one statement per line,
# going on after errors) through file $name in the test's tmp_check.
# Returns (stdout, a list of its error lines: ERROR, FATAL, PANIC or a lost
# connection, with SQLSTATEs).
sub run_sql_script
{
	my ($node, $name, $sql) = @_;
	my $file = "$PostgreSQL::Test::Utils::tmp_check/$name";
	open(my $fh, '>', $file) or die "open $file: $!";
	print $fh $sql;
	close($fh);
	my ($out, $err) = ('', '');
	IPC::Run::run([ $node->installed_command('psql'), '-X', '-q', '-t', '-A', '-v', 'ON_ERROR_STOP=0',
			'-v', 'VERBOSITY=verbose', '-d', $node->connstr('postgres'), '-f', $file ],
		'>', \$out, '2>', \$err);
	return ($out, grep { /ERROR|FATAL|PANIC|server closed/ } split /\n/, $err);
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
