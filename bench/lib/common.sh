# bench/lib/common.sh — sourced by bench/*.sh.  Starts and stops the three
# systems the benchmarks compare, all on 127.0.0.1:
#
#   mailcluster   3 PostgreSQL nodes with the extension (mc_start / mc_stop)
#   pgsync        PostgreSQL primary + 2 synchronous standbys, streaming
#                 replication, synchronous_standby_names = 'ANY 1 (s1, s2)'
#                 (pgsync_start / pgsync_stop)
#   etcd          3-member etcd 3.4 cluster (etcd_start / etcd_stop)
#
# Run as root: the servers run as the unprivileged user $BENCH_USER (created
# if missing), clients (pgbench, psql, wrk) as root over TCP.  Everything
# lives under $BENCH_ROOT and is removed by the *_stop functions.
#
# Ports (override with the variables):  mailcluster SQL 26001-3, gossip
# 26101-3, Raft RPC 26201-3; pgsync 26301-3; etcd client 26401-3, peer 26501-3.

set -u

BENCH_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_USER=${BENCH_USER:-mcbench}
BENCH_ROOT=${BENCH_ROOT:-/tmp/mcbench}
PGBIN=${PGBIN:-$(pg_config --bindir)}
PY=${PY:-/usr/bin/python3}

MC_SQL_BASE=${MC_SQL_BASE:-26000}
MC_GOSSIP_BASE=${MC_GOSSIP_BASE:-26100}
MC_RPC_BASE=${MC_RPC_BASE:-26200}
PGS_BASE=${PGS_BASE:-26300}
ETCD_CLIENT_BASE=${ETCD_CLIENT_BASE:-26400}
ETCD_PEER_BASE=${ETCD_PEER_BASE:-26500}

# same election timeout / heartbeat for mailcluster and etcd
ELECTION_MS=${ELECTION_MS:-1000}
HEARTBEAT_MS=${HEARTBEAT_MS:-100}
MC_COMMIT_TIMEOUT_MS=${MC_COMMIT_TIMEOUT_MS:-5000}
MC_KEY=${MC_KEY:-bench-secret-0123456789abcdef-mailcluster}

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }

as_user() { runuser -u "$BENCH_USER" -- "$@"; }

bench_prepare() {
	[ "$(id -u)" = 0 ] || die "run as root (servers run as $BENCH_USER)"
	id "$BENCH_USER" >/dev/null 2>&1 || useradd -m "$BENCH_USER"
	mkdir -p "$BENCH_ROOT/sock"
	chown "$BENCH_USER" "$BENCH_ROOT" "$BENCH_ROOT/sock"
}

# load / cpu line for the report
bench_env() {
	echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')  host: $(nproc) cores  $(uptime | sed 's/.*load/load/')"
	echo "bench scripts at: $(git -C "$BENCH_LIB/../.." log -1 --format='%h' 2>/dev/null); mailcluster built from: ${BENCH_SRC:-/tmp/mcbench-src} at $(git -C "${BENCH_SRC:-/tmp/mcbench-src}" log -1 --format='%h %ad' --date=format:%H:%M 2>/dev/null)"
	echo "installed mailcluster: $(ls -l --time-style=+%H:%M "$(pg_config --pkglibdir)/mailcluster.so" 2>/dev/null | awk '{print $6}') (mtime of mailcluster.so)"
}

# psql as a client: psql_at PORT SQL...
psql_at() {
	local port=$1; shift
	PGCONNECT_TIMEOUT=3 "$PGBIN/psql" -X -q -At -h 127.0.0.1 -p "$port" -U "$BENCH_USER" -d postgres -v ON_ERROR_STOP=1 "$@"
}

# wait until the pid is gone (kill -9 zombies are reaped slowly here)
wait_pid_gone() {
	local pid=$1 i
	for i in $(seq 1 600); do
		kill -0 "$pid" 2>/dev/null || return 0
		# a zombie counts as gone for kill -0 only once reaped; check state
		[ "$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1)" = Z ] && { sleep 0.1; continue; }
		sleep 0.1
	done
	return 1
}

# wait until no process has PPID $1 (the children of a killed postmaster)
wait_children_gone() {
	local ppid=$1 i
	for i in $(seq 1 600); do
		[ -z "$(ps -o pid= --ppid "$ppid" 2>/dev/null)" ] && return 0
		sleep 0.1
	done
	return 1
}

# ---------------------------------------------------------------- mailcluster
mc_port()  { echo $((MC_SQL_BASE + $1)); }
mc_dir()   { echo "$BENCH_ROOT/mc/node$1"; }
mc_pid()   { head -1 "$(mc_dir "$1")/postmaster.pid" 2>/dev/null; }

# mc_start [N=3]: init (if needed) and start N nodes, create the extension,
# wait for one agreed leader.  Extra postgresql.conf lines in $MC_EXTRA_CONF.
mc_start() {
	local n=${1:-3} i seeds=""
	MC_N=$n
	bench_prepare
	for i in $(seq 1 "$n"); do
		seeds="$seeds${seeds:+,}127.0.0.1:$((MC_GOSSIP_BASE + i))"
	done
	for i in $(seq 1 "$n"); do
		local d; d=$(mc_dir "$i")
		if [ ! -f "$d/PG_VERSION" ]; then
			mkdir -p "$(dirname "$d")"; chown "$BENCH_USER" "$(dirname "$d")"
			as_user "$PGBIN/initdb" -D "$d" -A trust -U "$BENCH_USER" >/dev/null || die "initdb $d"
			cat >> "$d/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $(mc_port "$i")
unix_socket_directories = '$BENCH_ROOT/sock'
max_connections = 100
shared_buffers = 128MB
logging_collector = off
shared_preload_libraries = 'mailcluster'
mailcluster.node_id = $i
mailcluster.bind_addr = '127.0.0.1'
mailcluster.bind_port = $((MC_GOSSIP_BASE + i))
mailcluster.rpc_port = $((MC_RPC_BASE + i))
mailcluster.key = '$MC_KEY'
mailcluster.seed_nodes = '$seeds'
mailcluster.heartbeat = 200
mailcluster.bootstrap_expect = $n
mailcluster.raft_election_timeout = $ELECTION_MS
mailcluster.raft_heartbeat_interval = $HEARTBEAT_MS
mailcluster.raft_commit_timeout = $MC_COMMIT_TIMEOUT_MS
# Before commit 56e1e12 the SQL API (account_create, deliver, jmap) applied
# writes locally on the node asked, unreplicated, unless mcjmap.submit =
# 'raft' routed them through the Raft log.  Harmless (ignored) since then.
mcjmap.submit = 'raft'
${MC_EXTRA_CONF:-}
EOF
		fi
	done
	for i in $(seq 1 "$n"); do mc_start_node "$i" & done
	wait
	for i in $(seq 1 "$n"); do
		psql_at "$(mc_port "$i")" -c 'CREATE EXTENSION IF NOT EXISTS mailcluster' >/dev/null 2>&1 ||
			psql_at "$(mc_port "$i")" -c 'CREATE EXTENSION IF NOT EXISTS mailcluster' >/dev/null || die "create extension on node $i"
	done
	mc_wait_leader 120 >/dev/null || die "mailcluster: no agreed leader within 120 s"
}

mc_start_node() {
	local i=$1 d; d=$(mc_dir "$1")
	as_user "$PGBIN/pg_ctl" -D "$d" status >/dev/null 2>&1 && return 0   # already running
	as_user "$PGBIN/pg_ctl" -D "$d" -l "$d/server.log" -w -t 120 start >/dev/null || die "start mc node $i (see $d/server.log)"
}

# the leader id all live nodes agree on (prints it), within $1 seconds
mc_wait_leader() {
	local limit=${1:-60} t0=$SECONDS i ids
	while [ $((SECONDS - t0)) -lt "$limit" ]; do
		ids=""
		for i in $(seq 1 "$MC_N"); do
			[ -n "$(mc_pid "$i")" ] || continue
			ids="$ids $(psql_at "$(mc_port "$i")" -c 'SELECT coalesce(mailcluster.leader(), 0)' 2>/dev/null || echo err)"
		done
		ids=$(echo $ids | tr ' ' '\n' | sort -u)
		if [ "$(echo "$ids" | wc -l)" = 1 ] && [ "$ids" != 0 ] && [ "$ids" != err ] && [ -n "$ids" ]; then
			echo "$ids"; return 0
		fi
		sleep 0.2
	done
	return 1
}

# all live nodes applied the same index (wait up to $1 s)
mc_wait_converged() {
	local limit=${1:-60} t0=$SECONDS i target=0 a
	for i in $(seq 1 "$MC_N"); do
		a=$(psql_at "$(mc_port "$i")" -c 'SELECT applied_index FROM mailcluster.raft_status' 2>/dev/null || echo 0)
		[ "$a" -gt "$target" ] && target=$a
	done
	for i in $(seq 1 "$MC_N"); do
		psql_at "$(mc_port "$i")" -c "SELECT mailcluster.wait_for_index($target, $((limit * 1000)))" >/dev/null 2>&1 || return 1
	done
}

mc_stop() {
	local i d
	for i in $(seq 1 "${MC_N:-3}"); do
		d=$(mc_dir "$i")
		[ -f "$d/postmaster.pid" ] && as_user "$PGBIN/pg_ctl" -D "$d" -m fast -t 60 stop >/dev/null 2>&1
	done
	for i in $(seq 1 "${MC_N:-3}"); do
		d=$(mc_dir "$i")
		local pid; pid=$(mc_pid "$i")
		if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
			as_user "$PGBIN/pg_ctl" -D "$d" -m immediate stop >/dev/null 2>&1
		fi
	done
	[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$BENCH_ROOT/mc"
}

# ---------------------------------------------------------------- pgsync
pgs_port() { echo $((PGS_BASE + $1)); }   # 1 = primary, 2,3 = standbys s1,s2
pgs_dir()  { echo "$BENCH_ROOT/pgsync/n$1"; }

pgsync_start() {
	bench_prepare
	local p d i
	p=$(pgs_dir 1)
	mkdir -p "$BENCH_ROOT/pgsync"; chown "$BENCH_USER" "$BENCH_ROOT/pgsync"
	if [ ! -f "$p/PG_VERSION" ]; then
		as_user "$PGBIN/initdb" -D "$p" -A trust -U "$BENCH_USER" >/dev/null || die "initdb primary"
		cat >> "$p/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $(pgs_port 1)
unix_socket_directories = '$BENCH_ROOT/sock'
max_connections = 100
shared_buffers = 128MB
wal_level = replica
max_wal_senders = 10
synchronous_commit = on
synchronous_standby_names = 'ANY 1 (s1, s2)'
${PGS_EXTRA_CONF:-}
EOF
		echo "host replication all 127.0.0.1/32 trust" >> "$p/pg_hba.conf"
	fi
	as_user "$PGBIN/pg_ctl" -D "$p" -l "$p/server.log" -w start >/dev/null || die "start primary"
	for i in 2 3; do
		d=$(pgs_dir $i)
		if [ ! -f "$d/PG_VERSION" ]; then
			as_user "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$(pgs_port 1)" -U "$BENCH_USER" -D "$d" -X stream -R \
				-d "application_name=s$((i - 1))" >/dev/null || die "basebackup s$((i - 1))"
			cat >> "$d/postgresql.conf" <<EOF
port = $(pgs_port $i)
unix_socket_directories = '$BENCH_ROOT/sock'
hot_standby = on
EOF
			# pg_basebackup -R writes primary_conninfo; make sure the name is there
			sed -i "s/^primary_conninfo = '/primary_conninfo = 'application_name=s$((i - 1)) /" "$d/postgresql.auto.conf"
		fi
		as_user "$PGBIN/pg_ctl" -D "$d" -l "$d/server.log" -w start >/dev/null || die "start standby s$((i - 1))"
	done
	local t0=$SECONDS
	until [ "$(psql_at "$(pgs_port 1)" -c "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'quorum' AND state = 'streaming'")" = 2 ]; do
		[ $((SECONDS - t0)) -gt 60 ] && die "pgsync: standbys not streaming as quorum"
		sleep 0.3
	done
}

pgsync_stop() {
	local i d
	for i in 1 2 3; do
		d=$(pgs_dir $i)
		[ -f "$d/postmaster.pid" ] && as_user "$PGBIN/pg_ctl" -D "$d" -m fast -t 60 stop >/dev/null 2>&1
	done
	[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$BENCH_ROOT/pgsync"
}

# ---------------------------------------------------------------- etcd
etcd_cport() { echo $((ETCD_CLIENT_BASE + $1)); }
etcd_pport() { echo $((ETCD_PEER_BASE + $1)); }
etcd_pidfile() { echo "$BENCH_ROOT/etcd/m$1.pid"; }
ETCD_ENDPOINTS="127.0.0.1:$((ETCD_CLIENT_BASE + 1)),127.0.0.1:$((ETCD_CLIENT_BASE + 2)),127.0.0.1:$((ETCD_CLIENT_BASE + 3))"

etcd_start_member() {
	local i=$1 cluster="" j
	for j in 1 2 3; do cluster="$cluster${cluster:+,}m$j=http://127.0.0.1:$(etcd_pport $j)"; done
	local state=new
	[ -d "$BENCH_ROOT/etcd/m$i.etcd/member" ] && state=existing
	as_user /usr/bin/etcd --name "m$i" --data-dir "$BENCH_ROOT/etcd/m$i.etcd" \
		--listen-client-urls "http://127.0.0.1:$(etcd_cport "$i")" \
		--advertise-client-urls "http://127.0.0.1:$(etcd_cport "$i")" \
		--listen-peer-urls "http://127.0.0.1:$(etcd_pport "$i")" \
		--initial-advertise-peer-urls "http://127.0.0.1:$(etcd_pport "$i")" \
		--initial-cluster "$cluster" --initial-cluster-state "$state" \
		--initial-cluster-token mcbench \
		--election-timeout "$ELECTION_MS" --heartbeat-interval "$HEARTBEAT_MS" \
		>"$BENCH_ROOT/etcd/m$i.log" 2>&1 &
	echo $! > "$(etcd_pidfile "$i")"
}

etcd_start() {
	bench_prepare
	mkdir -p "$BENCH_ROOT/etcd"; chown "$BENCH_USER" "$BENCH_ROOT/etcd"
	local i
	for i in 1 2 3; do etcd_start_member "$i"; done
	etcd_wait_healthy 60 || die "etcd: cluster not healthy (see $BENCH_ROOT/etcd/m*.log)"
}

etcd_pid() {
	# the etcd process itself (not the runuser / subshell above it): the
	# etcd process of $BENCH_USER whose command line names this member's data dir
	local p
	for p in $(pgrep -u "$BENCH_USER" -x etcd); do
		tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | grep -q -- "--data-dir $BENCH_ROOT/etcd/m$1.etcd " && { echo "$p"; return 0; }
	done
	return 1
}

# true when the pid is gone or a zombie
proc_dead() {
	! kill -0 "$1" 2>/dev/null || [ "$(ps -o stat= -p "$1" 2>/dev/null | cut -c1)" = Z ]
}

etcd_wait_healthy() {
	local limit=${1:-30} t0=$SECONDS
	while [ $((SECONDS - t0)) -lt "$limit" ]; do
		ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINTS" --dial-timeout=1s --command-timeout=2s endpoint health >/dev/null 2>&1 &&
			[ -n "$(etcd_leader)" ] && return 0
		sleep 0.3
	done
	return 1
}

# member number (1..3) of the etcd leader
etcd_leader() {
	local i
	for i in 1 2 3; do
		ETCDCTL_API=3 etcdctl --endpoints "127.0.0.1:$(etcd_cport "$i")" --dial-timeout=1s --command-timeout=2s \
			endpoint status -w json 2>/dev/null | "$PY" 2>/dev/null -c '
import json, sys
s = json.load(sys.stdin)[0]["Status"]
sys.exit(0 if s["leader"] == s["header"]["member_id"] else 1)' && { echo "$i"; return 0; }
	done
	return 1
}

etcd_stop() {
	local i pid
	for i in 1 2 3; do
		pid=$(etcd_pid "$i" 2>/dev/null) && [ -n "$pid" ] && kill "$pid" 2>/dev/null
	done
	for i in 1 2 3; do
		pid=$(etcd_pid "$i" 2>/dev/null) && [ -n "$pid" ] && wait_pid_gone "$pid"
	done
	[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$BENCH_ROOT/etcd"
}

# ---------------------------------------------------------------- figures
# percentiles of a pgbench -l log set (microseconds in column 3): prints
# "p50_ms p99_ms count"
pgbench_log_pcts() {
	cat "$@" | awk '{print $3}' | sort -n | awk '
		{ v[NR] = $1 }
		END {
			if (NR == 0) { print "- - 0"; exit }
			i50 = int(NR * 0.50); if (i50 < 1) i50 = 1
			i99 = int(NR * 0.99); if (i99 < 1) i99 = 1
			printf "%.2f %.2f %d\n", v[i50] / 1000, v[i99] / 1000, NR
		}'
}

# mc_flag_setup PORT [requests]: the mail write benchmarks' data on the
# mailcluster node at PORT — an account 'flag-bench' with 200 small emails
# (table bench_flag: n -> email id) and, with "requests", the 400 ready
# JMAP request documents of mc_flag_req.sql (table bench_flag_req: k = 2n-1
# sets $seen on email n, 2n clears it).  Prints the account id.
mc_flag_setup() {
	local P=$1 acct
	acct=$(psql_at "$P" -c "SELECT mailcluster.account_create('flag-bench')") || die "account_create failed"
	psql_at "$P" -c "CREATE TABLE bench_flag (n int PRIMARY KEY, id text NOT NULL)" >/dev/null
	psql_at "$P" -c "INSERT INTO bench_flag SELECT n, mailcluster.deliver('$acct', convert_to(format(E'From: a@example.com\\r\\nTo: b@example.com\\r\\nSubject: flag %s\\r\\nMessage-ID: <flag%s@example.com>\\r\\n\\r\\nbody %s\\r\\n', n, n, n), 'UTF8')) FROM generate_series(1, 200) n" >/dev/null || die "deliver failed"
	if [ "${2:-}" = requests ]; then
		psql_at "$P" -c "CREATE TABLE bench_flag_req AS SELECT 2 * f.n - 1 + v AS k,
			jsonb_build_object('using', jsonb_build_array('urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail'),
			  'methodCalls', jsonb_build_array(jsonb_build_array('Email/set',
			    jsonb_build_object('accountId', '$acct', 'update', jsonb_build_object(f.id,
			      jsonb_build_object('keywords/\$seen', CASE WHEN v = 0 THEN 'true'::jsonb ELSE 'null'::jsonb END))),
			    'c0'))) AS req
			FROM bench_flag f, generate_series(0, 1) v;
			ALTER TABLE bench_flag_req ADD PRIMARY KEY (k)" >/dev/null || die "bench_flag_req failed"
	fi
	echo "$acct"
}

# pgsync_flag_setup PORT: pgsync-flag's data on the pgsync primary at PORT —
# the same 200 small emails as mc_flag_setup's, as plain rows (bench_email),
# and the change table of pgsync_flag.sql (bench_change).
pgsync_flag_setup() {
	psql_at "$1" -c "CREATE TABLE IF NOT EXISTS bench_email (n int PRIMARY KEY, keywords jsonb NOT NULL, subject text, body text);
		CREATE TABLE IF NOT EXISTS bench_change (idx bigserial PRIMARY KEY, obj int NOT NULL, kind char(1) NOT NULL);
		INSERT INTO bench_email SELECT n, '{}', 'flag ' || n, 'body ' || n FROM generate_series(1, 200) n ON CONFLICT DO NOTHING" >/dev/null
}
