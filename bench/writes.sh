#!/bin/bash
# bench/writes.sh — small-write throughput and p50/p99 latency at 1, 8, 32
# clients, in one run on this machine, for:
#
#   pgsync       PostgreSQL 15 primary + 2 synchronous standbys
#                (synchronous_standby_names = 'ANY 1 (s1, s2)', synchronous_commit = on):
#                pgbench, bench/pgsync_write.sql (INSERT of a small row into a plain table)
#   pgsync-flag  same cluster: bench/pgsync_flag.sql, mc-jmap-flag's mail write done
#                by hand in SQL (UPDATE of one email row's keywords + a change row);
#                MC_FLAG=0 skips it
#   etcd         3-member etcd 3.4 cluster: wrk + bench/etcd_put.lua, a v3 put
#                through the JSON gateway (POST /v3/kv/put) to the leader
#   mailcluster  3 nodes: pgbench, bench/mc_write.sql (SELECT mailcluster.account_create(...),
#                the lightest replicated write the SQL API offers), on the leader
#   mc-jmap-flag same cluster: bench/mc_flag.sql, JMAP Email/set of
#                keywords/$seen on one of 200 emails (mark read/unread, the
#                commonest small mail write) through mailcluster.jmap();
#                MC_FLAG=0 skips it
#   mc-raft-raw  same cluster, measured first: bench/mc_write_raw.sql, the internal
#                _raft_submit() of a record_response entry (no JMAP apply work);
#                MC_RAW=0 skips it
#
# Each system runs alone (started, measured at 1/8/32 clients, stopped).
# pgbench latencies come from its -l transaction logs, wrk's from its own
# histogram.  Usage (as root):  bench/writes.sh [seconds per cell, default 10]
#   CLIENTS="1 8 32" SYSTEMS="pgsync etcd mailcluster" WARMUP=2
#   PGB_MODE=prepared: every pgbench cell (pgsync and mailcluster alike) uses
#   the extended protocol with prepared statements (pgbench -M prepared), as
#   an application's driver does, and mc-jmap-flag sends ready request
#   documents (bench/mc_flag_req.sql) instead of building them in SQL; the
#   default, simple, sends each statement as text to be parsed and planned.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib/common.sh"

DUR=${1:-${DUR:-10}}
WARMUP=${WARMUP:-2}
CLIENTS=${CLIENTS:-"1 8 32"}
SYSTEMS=${SYSTEMS:-"pgsync etcd mailcluster"}
PGB_MODE=${PGB_MODE:-simple}
case "$PGB_MODE" in simple|prepared) ;; *) echo "PGB_MODE must be simple or prepared" >&2; exit 2;; esac
OUTDIR=${OUTDIR:-/tmp/mcbench-results}
mkdir -p "$OUTDIR"
RES=$OUTDIR/writes-$(date -u +%Y%m%dT%H%M%S).txt
tmp=$(mktemp -d /tmp/mcbench-writes.XXXXXX)
chmod 755 "$tmp"
trap 'mc_stop; pgsync_stop; etcd_stop; rm -rf "$tmp"' EXIT

declare -A REF=( [pgsync,1]=2300 [pgsync,8]=9000 [pgsync,32]=16800 [etcd,1]=1400 [etcd,8]=4000 [etcd,32]=7200 )
rows=()

threads_for() { [ "$1" -ge 2 ] && echo 2 || echo 1; }

# run_pgbench SYSTEM PORT SCRIPT CLIENTS [pgbench args]
run_pgbench() {
	local sys=$1 port=$2 script=$3 c=$4; shift 4
	local j; j=$(threads_for "$c")
	"$PGBIN/pgbench" -n -M "$PGB_MODE" -h 127.0.0.1 -p "$port" -U "$BENCH_USER" -c "$c" -j "$j" -T "$WARMUP" \
		-f "$script" "$@" postgres >/dev/null 2>&1
	rm -f "$tmp"/log.*
	local out
	out=$("$PGBIN/pgbench" -n -M "$PGB_MODE" -h 127.0.0.1 -p "$port" -U "$BENCH_USER" -c "$c" -j "$j" -T "$DUR" \
		-f "$script" -l --log-prefix="$tmp/log" "$@" postgres 2>&1)
	echo "$out" > "$tmp/pgbench-$sys-$c.out"
	local tps failed pcts
	tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\) (without.*/\1/p')
	failed=$(echo "$out" | sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p')
	echo "$out" | grep -iE 'error|abort' | head -3 >&2
	pcts=$(pgbench_log_pcts "$tmp"/log.*)
	add_row "$sys" "$c" "${tps:-0}" $pcts "${failed:-?}"
}

# add_row SYSTEM CLIENTS WRITES/S P50 P99 COUNT ERRORS
add_row() {
	local ref=${REF[$1,$2]:-}
	rows+=("$(printf '%-12s %7s %10.0f %8s %8s %9s %7s %10s' "$1" "$2" "$3" "$4" "$5" "$6" "$7" "${ref:--}")")
	log "$1 c=$2: $3 writes/s p50 $4 ms p99 $5 ms ($6 writes, $7 errors)"
}

{ echo "== bench/writes.sh  ${DUR}s per cell, warm-up ${WARMUP}s, pgbench -M $PGB_MODE"; bench_env; } | tee "$RES" >&2

for sys in $SYSTEMS; do
	case $sys in
	pgsync)
		log "starting pgsync"
		pgsync_start
		psql_at "$(pgs_port 1)" -c 'CREATE TABLE IF NOT EXISTS bench_kv (id bigserial PRIMARY KEY, client int, v text)'
		for c in $CLIENTS; do run_pgbench pgsync "$(pgs_port 1)" "$here/pgsync_write.sql" "$c"; done
		if [ "${MC_FLAG:-1}" = 1 ]; then
			pgsync_flag_setup "$(pgs_port 1)"
			for c in $CLIENTS; do run_pgbench pgsync-flag "$(pgs_port 1)" "$here/pgsync_flag.sql" "$c"; done
		fi
		psql_at "$(pgs_port 1)" -c "SELECT 'pgsync sync_state: ' || string_agg(application_name || '=' || sync_state, ' ') FROM pg_stat_replication" >&2
		pgsync_stop
		;;
	etcd)
		log "starting etcd"
		etcd_start
		L=$(etcd_leader)
		for c in $CLIENTS; do
			t=$(threads_for "$c")
			wrk -t"$t" -c"$c" -d"${WARMUP}s" -s "$here/etcd_put.lua" "http://127.0.0.1:$(etcd_cport "$L")" >/dev/null 2>&1
			out=$(wrk -t"$t" -c"$c" -d"${DUR}s" --timeout 5s -s "$here/etcd_put.lua" "http://127.0.0.1:$(etcd_cport "$L")" 2>&1)
			echo "$out" > "$tmp/wrk-$c.out"
			set -- $(echo "$out" | sed -n 's/^WRKRESULT //p')
			if [ $# -eq 6 ]; then
				add_row etcd "$c" "$(echo "$1 / ($2 / 1000000)" | bc -l)" \
					"$(echo "scale=2; $3 / 1000" | bc)" "$(echo "scale=2; $4 / 1000" | bc)" "$1" "$(($5 + $6))"
			else
				echo "$out" >&2; add_row etcd "$c" 0 - - 0 wrk-failed
			fi
		done
		etcd_stop
		;;
	mailcluster)
		log "starting mailcluster (3 nodes)"
		mc_start 3
		L=$(mc_wait_leader 30)
		log "mailcluster leader: node $L"
		# The raw log write first, on the fresh cluster, as pgsync's INSERT runs
		# first on its own.  Run after the Email/set cells (as until 6 Dec 2026),
		# its first 10 s at 8 clients did 2,559 writes/s against 3,117-3,247 in
		# the cells before and after: the clean-up of those cells' ~50,000
		# outdated change rows (purge_changes of the next maintenance round,
		# then autovacuum) runs on each of the three nodes.
		if [ "${MC_RAW:-1}" = 1 ]; then
			for c in $CLIENTS; do run_pgbench mc-raft-raw "$(mc_port "$L")" "$here/mc_write_raw.sql" "$c"; done
		fi
		for c in $CLIENTS; do run_pgbench mailcluster "$(mc_port "$L")" "$here/mc_write.sql" "$c"; done
		if [ "${MC_FLAG:-1}" = 1 ]; then
			# 200 small emails in one account; each write sets or clears $seen on one
			P=$(mc_port "$L")
			if [ "$PGB_MODE" = prepared ]; then
				mc_flag_setup "$P" requests >/dev/null
				for c in $CLIENTS; do run_pgbench mc-jmap-flag "$P" "$here/mc_flag_req.sql" "$c"; done
			else
				acct=$(mc_flag_setup "$P") || die "the mail write benchmark data failed"
				for c in $CLIENTS; do run_pgbench mc-jmap-flag "$P" "$here/mc_flag.sql" "$c" -D acct="$acct"; done
			fi
		fi
		log "leader after the run: node $(mc_wait_leader 10)"
		# replication check: every node holds every account written
		mc_wait_converged 60
		chk=""
		for i in 1 2 3; do
			chk="$chk node$i=$(psql_at "$(mc_port "$i")" -c "SELECT count(*) || '@' || (SELECT applied_index FROM mailcluster.raft_status) FROM mailcluster.accounts WHERE name LIKE 'bench-%'")"
		done
		echo "mailcluster replication check (accounts@applied_index per node):$chk" | tee -a "$RES" >&2
		mc_stop
		;;
	esac
done

{
	echo
	echo "small writes, ${DUR}s per cell ($(uptime | sed 's/.*load/load/'))"
	printf '%-12s %7s %10s %8s %8s %9s %7s %10s\n' system clients writes/s "p50 ms" "p99 ms" writes errors "ref w/s"
	printf '%s\n' "${rows[@]}"
} | tee -a "$RES"
log "results in $RES"
