#!/bin/bash
# bench/failover.sh — the failover gap after kill -9 of the leader, for
# mailcluster and etcd at the same election timeout ($ELECTION_MS, default
# 1000 ms; heartbeat 100 ms for both).
#
# Per trial: bench/lib/failover_writer.py writes continuously through every
# node (one writer per node, one write at a time, 1.5 s timeouts, retry
# after 5 ms; mailcluster: SELECT mailcluster.account_create(...) with
# write_mode = forward; etcd: v3 put through the JSON gateway).  After
# $PRE s the leader is found (mailcluster: SELECT mailcluster.leader(), its
# postmaster pid from postmaster.pid; etcd: etcdctl endpoint status) and
# kill -9'd.  gap = first acknowledged write after the kill - last
# acknowledged write before it (any node).  The killed node is restarted and
# the cluster allowed to settle before the next trial.
#
# Usage (as root): bench/failover.sh [trials, default 5]
#   SYSTEMS="mailcluster etcd"  PRE=3  MC_COMMIT_TIMEOUT_MS=1000
set -u
here=$(cd "$(dirname "$0")" && pwd)
MC_COMMIT_TIMEOUT_MS=${MC_COMMIT_TIMEOUT_MS:-1000}
source "$here/lib/common.sh"

TRIALS=${1:-${TRIALS:-5}}
PRE=${PRE:-3}
SYSTEMS=${SYSTEMS:-"mailcluster etcd"}
OUTDIR=${OUTDIR:-/tmp/mcbench-results}
mkdir -p "$OUTDIR"
RES=$OUTDIR/failover-$(date -u +%Y%m%dT%H%M%S).txt
tmp=$(mktemp -d /tmp/mcbench-failover.XXXXXX)
wpid=""
trap '[ -n "$wpid" ] && kill "$wpid" 2>/dev/null; mc_stop; etcd_stop; rm -rf "$tmp"' EXIT

declare -A GAPS
now() { date +%s.%N; }

# start_writer SYSTEM PORTS -> sets $wpid, acks in $tmp/acks
start_writer() {
	: > "$tmp/acks"
	"$PY" "$here/lib/failover_writer.py" "$1" "$tmp/acks" "$2" --seconds 120 2>"$tmp/writer.err" &
	wpid=$!
}
stop_writer() {
	kill "$wpid" 2>/dev/null; wait "$wpid" 2>/dev/null; wpid=""
	sed 's/^/    /' "$tmp/writer.err" >&2
}

# wait_dead PID... : until every pid is gone (or a zombie); prints the time
wait_dead() {
	local p i
	for i in $(seq 1 600); do
		for p in "$@"; do proc_dead "$p" || continue 2; done
		now; return 0
	done
	now; return 1
}

# wait for an ack after time $1 (up to $2 s); then let it run 1 s more
wait_ack_after() {
	local tk=$1 limit=$2 t0=$SECONDS
	while [ $((SECONDS - t0)) -lt "$limit" ]; do
		awk -v tk="$tk" '$1 > tk { found = 1 } END { exit !found }' "$tmp/acks" && { sleep 1; return 0; }
		sleep 0.1
	done
	return 1
}

# gap_of TKILL TDEAD -> prints "gap_s gap_start-tkill first-ack-after-death-tkill acks_before"
# The gap is the longest time without any acknowledged write (on any node)
# from the last ack before the kill on.  (Writes can still be acknowledged
# for a moment after kill -9 of a postmaster: its children notice its death
# only on their next wait; so "last ack before the kill to first ack after"
# is taken as the longest silence, not as the two acks around the kill.)
gap_of() {
	sort -g "$tmp/acks" | awk -v tk="$1" -v td="$2" '
		$1 <= tk { last = $1; nb++; next }
		{
			if (prev == 0) prev = last
			if (prev > 0 && $1 - prev > gap) { gap = $1 - prev; gstart = prev }
			prev = $1
			if (fd == 0 && $1 > td) fd = $1
		}
		END {
			if (last == 0 || fd == 0) { print "none - - " nb + 0; exit }
			printf "%.3f %.3f %.3f %d\n", gap, gstart - tk, fd - tk, nb
		}'
}

{ echo "== bench/failover.sh  $TRIALS trials, election timeout $ELECTION_MS ms, heartbeat $HEARTBEAT_MS ms"; bench_env; } | tee "$RES" >&2

for sys in $SYSTEMS; do
	GAPS[$sys]=""
	case $sys in
	mailcluster)
		log "starting mailcluster (3 nodes), raft_commit_timeout = $MC_COMMIT_TIMEOUT_MS ms"
		mc_start 3
		ports="$(mc_port 1),$(mc_port 2),$(mc_port 3)"
		for t in $(seq 1 "$TRIALS"); do
			L=$(mc_wait_leader 60) || { log "no leader before trial $t"; break; }
			mc_wait_converged 60
			FO_PREFIX=fo$t start_writer mc "$ports"
			sleep "$PRE"
			L=$(psql_at "$(mc_port 1)" -c 'SELECT mailcluster.leader()' 2>/dev/null)
			pid=$(mc_pid "$L")
			kids=$(ps -o pid= --ppid "$pid" | tr '\n' ' ')
			tk=$(now); kill -9 "$pid"
			td=$(wait_dead "$pid" $kids)
			log "trial $t: kill -9 of leader node $L (postmaster $pid); it and its children gone after $(echo "$td - $tk" | bc) s"
			wait_ack_after "$td" 60 || log "trial $t: no acknowledged write within 60 s after the kill"
			stop_writer
			cp "$tmp/acks" "$RES.mc-$t.acks"; echo "kill $tk dead $td" >> "$RES.mc-$t.acks"
			g=$(gap_of "$tk" "$td"); set -- $g
			newl=$(psql_at "$(mc_port $(( L % 3 + 1 )))" -c 'SELECT mailcluster.leader()' 2>/dev/null || echo '?')
			echo "mailcluster trial $t: killed leader $L; gap $1 s (from $2 s after the kill; first ack after the old leader's processes were gone: $3 s after the kill; new leader $newl; $4 acks before)" | tee -a "$RES" >&2
			GAPS[$sys]="${GAPS[$sys]} $1"
			wait_pid_gone "$pid"
			for k in $kids; do wait_pid_gone "$k"; done
			sleep 1
			while ss -lun | grep -q ":$((MC_GOSSIP_BASE + L)) "; do sleep 0.2; done
			mc_start_node "$L"
			# every acknowledged write must be there, on every node, the restarted one too
			mc_wait_leader 60 >/dev/null; mc_wait_converged 60
			nack=$(grep -vc kill "$RES.mc-$t.acks")
			for i in 1 2 3; do
				nrow=$(psql_at "$(mc_port "$i")" -c "SELECT count(*) FROM mailcluster.accounts WHERE name LIKE 'fo$t-%'")
				[ "$nrow" -ge "$nack" ] && r=ok || r=MISSING
				echo "  trial $t node $i: $nrow rows for $nack acknowledged writes: $r" | tee -a "$RES" >&2
			done
		done
		mc_wait_leader 60 >/dev/null
		mc_stop
		;;
	etcd)
		log "starting etcd (3 members)"
		etcd_start
		ports="$(etcd_cport 1),$(etcd_cport 2),$(etcd_cport 3)"
		for t in $(seq 1 "$TRIALS"); do
			etcd_wait_healthy 60 || { log "etcd not healthy before trial $t"; break; }
			start_writer etcd "$ports"
			sleep "$PRE"
			L=$(etcd_leader)
			pid=$(etcd_pid "$L")
			tk=$(now); kill -9 "$pid"
			td=$(wait_dead "$pid")
			log "trial $t: kill -9 of etcd leader m$L (pid $pid)"
			wait_ack_after "$td" 60 || log "trial $t: no acknowledged write within 60 s after the kill"
			stop_writer
			cp "$tmp/acks" "$RES.etcd-$t.acks"; echo "kill $tk dead $td" >> "$RES.etcd-$t.acks"
			g=$(gap_of "$tk" "$td"); set -- $g
			newl=$(etcd_leader || echo '?')
			echo "etcd trial $t: killed leader m$L; gap $1 s (from $2 s after the kill; first ack after the process was gone: $3 s after the kill; new leader m$newl; $4 acks before)" | tee -a "$RES" >&2
			GAPS[$sys]="${GAPS[$sys]} $1"
			wait_pid_gone "$pid"
			etcd_start_member "$L"
		done
		etcd_wait_healthy 30
		etcd_stop
		;;
	esac
done

{
	echo
	echo "failover gap after kill -9 of the leader, election timeout $ELECTION_MS ms ($(uptime | sed 's/.*load/load/'))"
	printf '%-12s %7s %9s %9s  %s\n' system trials "median s" "max s" "all (s)"
	for sys in $SYSTEMS; do
		echo "${GAPS[$sys]}" | tr ' ' '\n' | grep -v '^$' | sort -g | awk -v sys="$sys" -v ref="$( [ "$sys" = etcd ] && echo ' (ref 1.3 s)')" '
			{ v[NR] = $1; all = all " " $1 }
			END {
				if (NR == 0) { printf "%-12s %7d %9s %9s\n", sys, 0, "-", "-"; exit }
				med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
				printf "%-12s %7d %9.3f %9.3f %s%s\n", sys, NR, med, v[NR], all, ref
			}'
	done
} | tee -a "$RES"
log "results in $RES"
