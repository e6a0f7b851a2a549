#!/bin/bash
# bench/cpu_per_write.sh — CPU time each server process role spends per
# committed write, for mailcluster and for PostgreSQL synchronous
# replication, on this machine in one run.  Where throughput is bound by
# CPU (2 cores, 32 clients), this says where a write's cost goes.
#
# It sums utime+stime of every process of the three postmasters (ended
# backends through the postmaster's cutime/cstime) before and after one
# pgbench run, and divides by the writes pgbench counted.
#
# Usage (as root):  bench/cpu_per_write.sh [seconds, default 8] [clients, default 32]
#   SYSTEMS="pgsync pgsync-flag mc-raft-raw mailcluster mc-jmap-flag"
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib/common.sh"

DUR=${1:-8}
C=${2:-32}
SYSTEMS=${SYSTEMS:-"pgsync mc-raft-raw mailcluster"}
tmp=$(mktemp -d /tmp/mcbench-cpw.XXXXXX)
chmod 755 "$tmp"
trap 'mc_stop; pgsync_stop; rm -rf "$tmp"' EXIT

# measure LABEL PORT SCRIPT PIDS... (pgbench args in $PGB_ARGS)
measure() {
	local label=$1 port=$2 script=$3; shift 3
	"$PGBIN/pgbench" -n -h 127.0.0.1 -p "$port" -U "$BENCH_USER" -c "$C" -j 2 -T 2 -f "$script" ${PGB_ARGS:-} postgres >/dev/null 2>&1
	sleep 0.5
	"$PY" "$here/lib/cpu_roles.py" snap "$@" > "$tmp/before"
	local out n
	out=$("$PGBIN/pgbench" -n -h 127.0.0.1 -p "$port" -U "$BENCH_USER" -c "$C" -j 2 -T "$DUR" -f "$script" ${PGB_ARGS:-} postgres 2>&1)
	sleep 0.5
	"$PY" "$here/lib/cpu_roles.py" snap "$@" > "$tmp/after"
	n=$(echo "$out" | sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p')
	echo "== $label, $C clients, ${DUR}s: $n writes, $(echo "$out" | sed -n 's/^tps = \([0-9.]*\) (without.*/\1/p') writes/s"
	"$PY" "$here/lib/cpu_roles.py" diff "$tmp/before" "$tmp/after" "$n"
}

bench_env
for sys in $SYSTEMS; do
	case $sys in
	pgsync)
		pgsync_start
		psql_at "$(pgs_port 1)" -c 'CREATE TABLE IF NOT EXISTS bench_kv (id bigserial PRIMARY KEY, client int, v text)'
		measure pgsync "$(pgs_port 1)" "$here/pgsync_write.sql" \
			"$(head -1 "$(pgs_dir 1)/postmaster.pid")" "$(head -1 "$(pgs_dir 2)/postmaster.pid")" "$(head -1 "$(pgs_dir 3)/postmaster.pid")"
		pgsync_stop
		;;
	pgsync-flag)
		# writes.sh's pgsync-flag: mc-jmap-flag's mail write by hand on pgsync
		pgsync_start
		pgsync_flag_setup "$(pgs_port 1)"
		measure pgsync-flag "$(pgs_port 1)" "$here/pgsync_flag.sql" \
			"$(head -1 "$(pgs_dir 1)/postmaster.pid")" "$(head -1 "$(pgs_dir 2)/postmaster.pid")" "$(head -1 "$(pgs_dir 3)/postmaster.pid")"
		pgsync_stop
		;;
	mailcluster | mc-raft-raw | mc-jmap-flag)
		if [ -z "$(mc_pid 1)" ]; then mc_start 3; fi
		L=$(mc_wait_leader 30)
		P=$(mc_port "$L")
		case $sys in
		mailcluster) measure "mailcluster account_create (leader node $L)" "$P" "$here/mc_write.sql" "$(mc_pid 1)" "$(mc_pid 2)" "$(mc_pid 3)" ;;
		mc-raft-raw) measure "mailcluster raw _raft_submit (leader node $L)" "$P" "$here/mc_write_raw.sql" "$(mc_pid 1)" "$(mc_pid 2)" "$(mc_pid 3)" ;;
		mc-jmap-flag)
			# the ready request documents (mc_flag_req.sql): no colon in the
			# script, so PGB_ARGS (-M prepared) applies as given
			mc_flag_setup "$P" requests >/dev/null
			measure "mailcluster Email/set \$seen (leader node $L)" "$P" "$here/mc_flag_req.sql" "$(mc_pid 1)" "$(mc_pid 2)" "$(mc_pid 3)"
			;;
		esac
		;;
	esac
done
