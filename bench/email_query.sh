#!/bin/bash
# bench/email_query.sh — Email/query latency over one large account on a
# 3-node mailcluster, side by side with the equivalent plain SQL query on
# the same tables of the same node (the baseline: what jmap() adds).
#
#   populate  fill the account "query-bench" through the API up to $TARGET
#             emails (default 100000) or for at most $POPULATE_SECONDS
#             (default 300), whichever comes first: JMAP Email/set calls
#             creating $BATCH emails each (bench/email_populate.sql, one Raft
#             log entry per call), $POP_CLIENTS clients.  Progress (emails,
#             emails/s) is printed every chunk.  POP_ANALYZE=1 (default) runs
#             ANALYZE on the replicated tables of every node after each chunk:
#             a workaround — the apply worker's inserts do not show in
#             pg_stat_user_tables (n_tup_ins stays 0), so autovacuum never
#             analyzes them, and with the stale statistics the thread lookup
#             of every new email scans the whole account (seen: a 50-email
#             Email/set took 5 s at 12,000 emails, 0.5 s after ANALYZE).
#   measure   each query below, 1 client, $QDUR s (default 10), on the leader
#             (read_consistency = linearizable, the default: every jmap()
#             read goes through a read index first), and Q1 also on a
#             follower: queries/s, p50, p99.
#
# The cluster lives in $EQ_ROOT (default /tmp/mcbench-eq) on its own ports
# and is kept between runs (KEEP=0 removes it at the end; NOSTOP=1 leaves
# the servers running), so a populated account can be measured again later:
#   bench/email_query.sh [populate|measure|all]      (default all)
# PRE_SQL=file.sql runs that file on every node before measuring (used to
# load a newer definition of a jmap SQL function into the populated cluster).
set -u
here=$(cd "$(dirname "$0")" && pwd)
BENCH_ROOT=${EQ_ROOT:-/tmp/mcbench-eq}
MC_SQL_BASE=${MC_SQL_BASE:-26600}
MC_GOSSIP_BASE=${MC_GOSSIP_BASE:-26700}
MC_RPC_BASE=${MC_RPC_BASE:-26800}
source "$here/lib/common.sh"

MODE=${1:-all}
TARGET=${TARGET:-100000}
POPULATE_SECONDS=${POPULATE_SECONDS:-300}
BATCH=${BATCH:-50}
POP_CLIENTS=${POP_CLIENTS:-2}
CHUNK=${CHUNK:-30}
POP_ANALYZE=${POP_ANALYZE:-1}
QDUR=${QDUR:-10}
KEEP=${KEEP:-1}
OUTDIR=${OUTDIR:-/tmp/mcbench-results}
mkdir -p "$OUTDIR"
RES=$OUTDIR/email_query-$(date -u +%Y%m%dT%H%M%S).txt
tmp=$(mktemp -d /tmp/mcbench-eq.XXXXXX)
chmod 755 "$tmp"
BENCH_KEEP=$KEEP
if [ "${NOSTOP:-0}" = 1 ]; then trap 'rm -rf "$tmp"' EXIT; else trap 'mc_stop; rm -rf "$tmp"' EXIT; fi
rows=()

{ echo "== bench/email_query.sh $MODE  target $TARGET emails, populate time-box ${POPULATE_SECONDS}s, ${QDUR}s per query"; bench_env; } | tee "$RES" >&2

log "starting mailcluster (3 nodes) in $BENCH_ROOT"
mc_start 3
L=$(mc_wait_leader 60)
P=$(mc_port "$L")
F=$(( L % 3 + 1 ))
log "leader node $L (port $P), follower node $F"
acct=$(psql_at "$P" -c "SELECT id FROM mailcluster.accounts WHERE name = 'query-bench'")
[ -n "$acct" ] || acct=$(psql_at "$P" -c "SELECT mailcluster.account_create('query-bench')") || die "account_create"
inbox=$(psql_at "$P" -c "SELECT id FROM mailcluster.mailboxes WHERE account_id = '$acct' AND role = 'inbox'")
count() { psql_at "$P" -c "SELECT count(*) FROM mailcluster.emails WHERE account_id = '$acct'"; }
log "account $acct, inbox $inbox, $(count) emails"

if [ "$MODE" = populate ] || [ "$MODE" = all ]; then
	t0=$SECONDS
	stalls=0
	n=$(count)
	while [ "$n" -lt "$TARGET" ] && [ $((SECONDS - t0)) -lt "$POPULATE_SECONDS" ]; do
		left=$((POPULATE_SECONDS - (SECONDS - t0)))
		d=$(( left < CHUNK ? left : CHUNK )); [ "$d" -lt 1 ] && break
		ts=$SECONDS
		"$PGBIN/pgbench" -n -h 127.0.0.1 -p "$P" -U "$BENCH_USER" -c "$POP_CLIENTS" -j 2 -T "$d" \
			-D acct="$acct" -D inbox="$inbox" -D batch="$BATCH" -f "$here/email_populate.sql" postgres \
			> "$tmp/pop.out" 2>&1 || { grep -iE 'error|abort' "$tmp/pop.out" | head -3 >&2; }
		if [ "$POP_ANALYZE" = 1 ]; then
			for i in 1 2 3; do
				psql_at "$(mc_port "$i")" -c 'ANALYZE mailcluster.emails, mailcluster.email_mailboxes, mailcluster.threads, mailcluster.changes, mailcluster.blobs, mailcluster.account_blobs' >/dev/null 2>&1
			done
		fi
		m=$(count)
		log "populate: $m emails (+$((m - n)) in $((SECONDS - ts)) s: $(( (m - n) / (SECONDS - ts > 0 ? SECONDS - ts : 1) )) emails/s)"
		if [ "$m" -eq "$n" ]; then
			stalls=$((stalls + 1))
			[ "$stalls" -ge 3 ] && { log "populate made no progress 3 times; stopping"; cat "$tmp/pop.out" >&2; break; }
		else
			stalls=0
		fi
		n=$m
	done
	echo "populate: $n emails in the account after $((SECONDS - t0)) s (target $TARGET, time-box ${POPULATE_SECONDS}s, Email/set batches of $BATCH, $POP_CLIENTS clients, ANALYZE after each chunk: $POP_ANALYZE)" | tee -a "$RES" >&2
fi

if [ "$MODE" = measure ] || [ "$MODE" = all ]; then
	if [ -n "${PRE_SQL:-}" ]; then
		# e.g. a newer definition of a jmap function, into the running cluster
		for i in 1 2 3; do psql_at "$(mc_port "$i")" -f "$PRE_SQL" >/dev/null || die "PRE_SQL on node $i"; done
		echo "PRE_SQL $PRE_SQL run on every node before measuring" | tee -a "$RES" >&2
	fi
	mc_wait_converged 120
	n=$(count)
	S='"sort": [{"property": "receivedAt", "isAscending": false}]'
	declare -A Q=(
		[Q1_inbox_newest50]="{\"filter\": {\"inMailbox\": \"$inbox\"}, $S, \"limit\": 50}"
		[Q2_inbox_total]="{\"filter\": {\"inMailbox\": \"$inbox\"}, $S, \"limit\": 50, \"calculateTotal\": true}"
		[Q3_collapse_threads]="{\"filter\": {\"inMailbox\": \"$inbox\"}, $S, \"limit\": 50, \"collapseThreads\": true}"
		[Q4_unread]="{\"filter\": {\"operator\": \"AND\", \"conditions\": [{\"inMailbox\": \"$inbox\"}, {\"notKeyword\": \"\$seen\"}]}, $S, \"limit\": 50}"
		[Q5_from]="{\"filter\": {\"from\": \"sender17@\"}, $S, \"limit\": 50}"
		[Q6_text]="{\"filter\": {\"text\": \"word4242 \"}, $S, \"limit\": 50}"
		[Q7_page_at_10000]="{\"filter\": {\"inMailbox\": \"$inbox\"}, $S, \"position\": 10000, \"limit\": 50}"
	)
	# baseline: Q1 as plain SQL on the same tables, same node
	cat > "$tmp/Q0_sql_inbox_newest50.sql" <<EOF
SELECT array_agg(id) FROM (SELECT e.id FROM mailcluster.emails e
 WHERE e.account_id = '$acct' AND EXISTS (SELECT 1 FROM mailcluster.email_mailboxes em
       WHERE em.account_id = e.account_id AND em.email_id = e.id AND em.mailbox_id = '$inbox')
 ORDER BY e.received_at DESC, e.id LIMIT 50) s;
EOF
	for q in $(printf '%s\n' "${!Q[@]}" | sort); do
		req="{\"using\": [\"urn:ietf:params:jmap:core\", \"urn:ietf:params:jmap:mail\"], \"methodCalls\": [[\"Email/query\", {\"accountId\": \"$acct\", ${Q[$q]#\{}, \"0\"]]}"
		printf "SELECT mailcluster.jmap('%s'::jsonb);\n" "$req" > "$tmp/$q.sql"
	done
	cp "$tmp"/Q*.sql "$OUTDIR/" 2>/dev/null
	measure() {   # measure NAME PORT NODE-LABEL
		local name=$1 port=$2 where=$3 out info
		info=$(psql_at "$port" -f "$tmp/$name.sql" 2>&1 | "$PY" -c '
import json, sys
t = sys.stdin.read()
try:
    j = json.loads(t)
except Exception:
    print(t.strip().replace("\n", " ")[:60] if t.strip().startswith("ERROR") else "sql"); sys.exit()
r = j["methodResponses"][0]
print("%s: %d ids%s" % (r[0], len(r[1].get("ids", [])), (", total %d" % r[1]["total"]) if "total" in r[1] else "") if r[0] != "error" else "error " + r[1].get("type", "?"))')
		rm -f "$tmp"/log.*
		out=$("$PGBIN/pgbench" -n -h 127.0.0.1 -p "$port" -U "$BENCH_USER" -c 1 -T "$QDUR" -f "$tmp/$name.sql" \
			-l --log-prefix="$tmp/log" postgres 2>&1)
		echo "$out" | grep -iE 'error|abort' | head -2 >&2
		local tps; tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\) (without.*/\1/p')
		set -- $(pgbench_log_pcts "$tmp"/log.*)
		rows+=("$(printf '%-22s %-9s %8s %9.1f %8s %8s  %s' "$name" "$where" "$n" "${tps:-0}" "$1" "$2" "$info")")
		log "$name on $where: ${tps:-0} q/s p50 $1 ms p99 $2 ms ($info)"
	}
	measure Q0_sql_inbox_newest50 "$P" "leader"
	for q in $(printf '%s\n' "${!Q[@]}" | sort); do measure "$q" "$P" leader; done
	measure Q1_inbox_newest50 "$(mc_port "$F")" follower
	{
		echo
		echo "Email/query over one account, 1 client, ${QDUR}s per query ($(uptime | sed 's/.*load/load/'))"
		printf '%-22s %-9s %8s %9s %8s %8s  %s\n' query node emails "queries/s" "p50 ms" "p99 ms" "answer"
		printf '%s\n' "${rows[@]}"
	} | tee -a "$RES"
fi
log "results in $RES"
