#!/bin/bash
# bench/snapshot_catchup.sh — a follower that was down catches up through a
# snapshot of a large mail store: how long the catch-up takes, how long the
# load into its tables takes, and the longest time the leader went without
# an ack from that follower meanwhile (raft_progress.last_ack, sampled every
# 50 ms from the follower's first ack on).
#
# The state is $MB MB of 2 MB blobs of random bytes (blob_upload, through
# the Raft log like any write), written on the leader while one follower is
# stopped; then snapshot() on the leader, and the follower starts.  The
# measured installation is the one in $(pg_config --pkglibdir): to compare
# builds, copy each build's mailcluster.so there and run once per build
# (doc/benchmarks.md).
#
# Usage (as root): bench/snapshot_catchup.sh [MB, default 100]
set -u
here=$(cd "$(dirname "$0")" && pwd)
MC_COMMIT_TIMEOUT_MS=${MC_COMMIT_TIMEOUT_MS:-60000}
source "$here/lib/common.sh"

MB=${1:-100}
BLOBS=$(( (MB + 1) / 2 ))
OUTDIR=${OUTDIR:-/tmp/mcbench-results}
mkdir -p "$OUTDIR"
RES=$OUTDIR/snapshot-catchup-$(date -u +%Y%m%dT%H%M%S).txt
trap 'mc_stop' EXIT
now() { date +%s.%N; }

MC_EXTRA_CONF="mailcluster.snapshot_after_entries = 100000
mailcluster.snapshot_after_duration = 0" mc_start 3
L=$(mc_wait_leader 60) || die "no leader"
F=$(( L % 3 + 1 ))
P=$(mc_port "$L")
FP=$(mc_port "$F")
log "leader node $L; stopping follower node $F"
as_user "$PGBIN/pg_ctl" -D "$(mc_dir "$F")" -m fast -t 60 stop >/dev/null || die "stop node $F"

acct=$(psql_at "$P" -c "SELECT mailcluster.account_create('snap-bench')") || die "account_create"
t0=$(now)
for i in $(seq 1 "$BLOBS"); do
	psql_at "$P" -c "SELECT mailcluster.blob_upload('$acct',
		decode((SELECT string_agg(md5(random()::text || g), '') FROM generate_series(1, 131072) g), 'hex'),
		'application/octet-stream')" >/dev/null || die "blob_upload $i"
done
log "$BLOBS blobs of 2 MB written in $(echo "$(now) - $t0" | bc) s"
snap=$(psql_at "$P" -c "SELECT mailcluster.snapshot()") || die "snapshot()"
size=$(psql_at "$P" -c "SELECT size FROM mailcluster._raft_snapshot WHERE idx = $snap")
log "snapshot at index $snap, $size bytes"

t_start=$(now)
mc_start_node "$F"
acking=0 max_gap=0 t_done=""
while :; do
	age=$(psql_at "$P" -c "SELECT coalesce(extract(epoch FROM clock_timestamp() - last_ack), 1e9)
		FROM mailcluster.raft_progress WHERE node_id = $F" 2>/dev/null)
	if [ -n "$age" ]; then
		if [ "$acking" = 0 ] && [ "$(echo "$age < 0.5" | bc)" = 1 ]; then acking=1; fi
		if [ "$acking" = 1 ] && [ "$(echo "$age > $max_gap" | bc)" = 1 ]; then max_gap=$age; fi
	fi
	applied=$(psql_at "$FP" -c "SELECT applied_index FROM mailcluster.raft_status" 2>/dev/null || echo 0)
	if [ "${applied:-0}" -ge "$snap" ]; then t_done=$(now); break; fi
	if [ "$(echo "$(now) - $t_start > 600" | bc)" = 1 ]; then die "no catch-up within 600 s"; fi
	sleep 0.05
done

# the load's own duration, from the follower's log (LOG lines of the build)
flog="$(mc_dir "$F")/server.log"
ts() { grep -m1 "$1" "$flog" | awk '{print $1" "$2}'; }
recv=$(ts "received a snapshot at index")
inst=$(ts "installed a snapshot at index")
load="-"
if [ -n "$recv" ] && [ -n "$inst" ]; then
	load=$(printf '%.2f' "$(echo "$(date -d "$inst" +%s.%N) - $(date -d "$recv" +%s.%N)" | bc)")
fi
{
	echo "snapshot catch-up: $BLOBS blobs of 2 MB, snapshot $size bytes at index $snap (build $(md5sum "$(pg_config --pkglibdir)/mailcluster.so" | cut -c1-8))"
	printf 'catch-up (start to applied)  %.2f s\n' "$(echo "$t_done - $t_start" | bc)"
	printf 'longest leader silence       %.2f s  (no ack from the follower, after its first)\n' "$max_gap"
	echo "load (received -> installed)  ${load} s  ('-': this build logs no 'received' line: its raft worker loads)"
} | tee "$RES"
