#!/usr/bin/env bash
# run-demo.sh — README's demo: builds and installs mailcluster, starts a
# 3-node cluster on loopback as an unprivileged user, and walks through what
# it does (membership, failure detection, recovery).  Run as root after
# scripts/install-deps.sh.  `--keep` leaves the nodes running afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

KEEP=0
[ "${1:-}" = "--keep" ] && KEEP=1
DEMO_USER=${DEMO_USER:-mcdemo}
DIR=${DEMO_DIR:-/tmp/mailcluster-demo}
BIN=$(pg_config --bindir)
PORTS=(5541 5542 5543)
GOSSIP=(1180 1181 1182)
RPC=(7921 7922 7923)
KEY='demo shared secret, change me in production'

# initdb -U postgres below: every psql connects as that role
export PGUSER=postgres

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
as_user() { runuser -u "$DEMO_USER" -- "$@"; }
sql() { as_user "$BIN/psql" -X -q -h "$DIR" -p "${PORTS[$1]}" -d postgres -v ON_ERROR_STOP=1 -c "$2"; }

say "building and installing the extension"
make -s >/dev/null
make -s install >/dev/null

id "$DEMO_USER" >/dev/null 2>&1 || useradd -m "$DEMO_USER"
if [ -d "$DIR" ]; then
	for i in 0 1 2; do
		[ -f "$DIR/node$((i+1))/postmaster.pid" ] && as_user "$BIN/pg_ctl" -D "$DIR/node$((i+1))" -m immediate stop >/dev/null 2>&1 || true
	done
	rm -rf "$DIR"
fi
mkdir -p "$DIR"
chown "$DEMO_USER" "$DIR"

seeds="127.0.0.1:${GOSSIP[0]},127.0.0.1:${GOSSIP[1]},127.0.0.1:${GOSSIP[2]}"
say "initialising three nodes in $DIR"
for i in 0 1 2; do
	n=$((i+1))
	as_user "$BIN/initdb" -D "$DIR/node$n" -A trust -U postgres >/dev/null
	cat >> "$DIR/node$n/postgresql.conf" <<CONF
port = ${PORTS[$i]}
listen_addresses = ''
unix_socket_directories = '$DIR'
shared_preload_libraries = 'mailcluster'
mailcluster.node_id = $n
mailcluster.bind_addr = '127.0.0.1'
mailcluster.bind_port = ${GOSSIP[$i]}
mailcluster.rpc_port = ${RPC[$i]}
mailcluster.key = '$KEY'
mailcluster.seed_nodes = '$seeds'
mailcluster.heartbeat = 300
CONF
done

start() { as_user "$BIN/pg_ctl" -D "$DIR/node$1" -l "$DIR/node$1.log" -w start >/dev/null; }
for n in 1 2 3; do start $n; done
for i in 0 1 2; do sql $i "CREATE EXTENSION IF NOT EXISTS mailcluster" 2>/dev/null || true; done

members() { sql "$1" "SELECT node_id, is_self, addr, gossip_port, state, incarnation, round(phi::numeric, 2) AS phi FROM mailcluster.members ORDER BY node_id"; }
wait_for() { # node-index sql-condition seconds
	local t=0
	until [ "$(as_user "$BIN/psql" -X -Atq -h "$DIR" -p "${PORTS[$1]}" -d postgres -c "SELECT ($2)::int" 2>/dev/null)" = 1 ]; do
		sleep 0.5; t=$((t+1))
		[ $t -gt $(($3*2)) ] && { echo "(timed out waiting for: $2)"; return 1; }
	done
}

say "the nodes find each other from their seeds (node 1's view)"
wait_for 0 "(SELECT count(*) FROM mailcluster.members WHERE state = 'alive') = 3" 20 || true
members 0

crash() { # node-number: kill -9 its postmaster, wait until all its processes are gone
	local pid children p
	pid=$(head -1 "$DIR/node$1/postmaster.pid")
	children=$(pgrep -P "$pid" || true)
	kill -9 "$pid"
	# the orphaned workers notice the postmaster's death and exit; a restart
	# must wait for all of them (and for the zombie to be reaped)
	for p in $pid $children; do while kill -0 "$p" 2>/dev/null; do sleep 0.2; done; done
	rm -f "$DIR/node$1/postmaster.pid"
}

say "kill -9 of node 3's postmaster"
crash 3
wait_for 0 "(SELECT state FROM mailcluster.members WHERE node_id = 3) = 'dead'" 30 || true
say "node 1 sees node 3 dead"
members 0

say "node 3 restarts and is seen alive again"
start 3
wait_for 0 "(SELECT state FROM mailcluster.members WHERE node_id = 3) = 'alive'" 30 || true
members 0

say "gossip counters on node 2"
sql 1 "SELECT name, value FROM mailcluster.metrics WHERE name LIKE 'gossip%' AND value <> 0 ORDER BY name"

raft() { sql "$1" "SELECT node_id, role, term, leader_id, commit_index, applied_index, voters, learners FROM mailcluster.raft_status"; }
say "Raft: the three nodes formed one group (each node's own status)"
wait_for 0 "mailcluster.leader() IS NOT NULL AND (SELECT count(*) FROM mailcluster.members WHERE raft_role <> 'none') = 3" 30 || true
for i in 0 1 2; do raft $i | sed -n 3p; done
leader=$(as_user "$BIN/psql" -X -Atq -h "$DIR" -p "${PORTS[0]}" -d postgres -c "SELECT mailcluster.leader()")
follower=$(( leader % 3 + 1 ))
say "a write on follower node $follower (forwarded to leader node $leader, committed by a majority)"
sql $((follower-1)) "SELECT mailcluster.account_create('written on a follower') AS account_id"
sql $((follower-1)) "SELECT applied_index, checksum FROM mailcluster.state_checksum()"

say "kill -9 of the leader, node $leader"
crash "$leader"
survivor=$(( leader % 3 ))
wait_for "$survivor" "mailcluster.leader() IS NOT NULL AND mailcluster.leader() <> $leader" 30 || true
newleader=$(as_user "$BIN/psql" -X -Atq -h "$DIR" -p "${PORTS[$survivor]}" -d postgres -c "SELECT mailcluster.leader()")
say "node $newleader took over; writes succeed again"
sql "$survivor" "SELECT mailcluster.account_create('written after the failover') AS account_id"
raft "$survivor"

say "node $leader restarts and catches up as a follower"
start "$leader"
idx=$(as_user "$BIN/psql" -X -Atq -h "$DIR" -p "${PORTS[$survivor]}" -d postgres -c "SELECT applied_index FROM mailcluster.raft_status")
wait_for $((leader-1)) "mailcluster.wait_for_index($idx, 100)" 30 || true
raft $((leader-1))
for i in 0 1 2; do
	echo "node $((i+1)): $(as_user "$BIN/psql" -X -Atq -h "$DIR" -p "${PORTS[$i]}" -d postgres -c "SELECT format('state_checksum() at index %s: %s', applied_index, checksum) FROM mailcluster.state_checksum()" 2>&1)"
done

say "JMAP: an account on node 1, a thread delivered on node 1 and one on node 2"
# writes are Raft entries: any node takes them (followers forward to the leader)
wait_for 2 "mailcluster.leader() IS NOT NULL" 30 || true
q() { as_user "$BIN/psql" -X -Atq -h "$DIR" -p "${PORTS[$1]}" -d postgres -v ON_ERROR_STOP=1 -c "$2"; }
ACCT=$(q 0 "SELECT mailcluster.account_create('alice@example.org')")
echo "account: $ACCT"
deliver() { # node-index message-text
	q "$1" "SELECT mailcluster.deliver('$ACCT', convert_to(\$msg\$$2\$msg\$, 'UTF8'))"
}
e1=$(deliver 0 "Message-ID: <plan.1@example.net>
Date: Mon, 23 Nov 2026 09:00:00 +0100
From: =?UTF-8?Q?Andr=C3=A9_Lef=C3=A8vre?= <andre@example.net>
To: Alice <alice@example.org>
Subject: =?UTF-8?Q?R=C3=A9union?= on Friday
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary=\"alt\"

--alt
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Shall we meet on Friday at ten?
--alt
Content-Type: text/html; charset=utf-8

<p>Shall we meet on <b>Friday</b> at ten?</p>
--alt--
")
e2=$(deliver 0 "Message-ID: <plan.2@example.org>
Date: Mon, 23 Nov 2026 09:30:00 +0100
From: Alice <alice@example.org>
To: =?UTF-8?Q?Andr=C3=A9?= <andre@example.net>
Subject: Re: =?UTF-8?Q?R=C3=A9union?= on Friday
In-Reply-To: <plan.1@example.net>
References: <plan.1@example.net>
Content-Type: text/plain; charset=utf-8

Friday at ten is fine.
")
e3=$(deliver 1 "Message-ID: <report.1@example.com>
Date: Mon, 23 Nov 2026 10:00:00 +0000
From: Bob <bob@example.com>
To: Alice <alice@example.org>
Subject: Quarterly report
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=\"mix\"

--mix
Content-Type: text/plain; charset=utf-8

The report is attached.
--mix
Content-Type: text/csv; name=\"q4.csv\"
Content-Disposition: attachment; filename=\"q4.csv\"

quarter,revenue
Q4,42
--mix--
")
e4=$(deliver 1 "Message-ID: <report.2@example.org>
Date: Mon, 23 Nov 2026 10:15:00 +0000
From: Alice <alice@example.org>
To: Bob <bob@example.com>
Subject: RE: Quarterly report
In-Reply-To: <report.1@example.com>
References: <report.1@example.com>

Thanks, looks good.
")
echo "delivered on node 1: $e1 $e2   on node 2: $e3 $e4"

say "node 3 reads them with their threads through jmap() (Email/query + Email/get + Thread/get, back-references)"
REQ='{"using": ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"], "methodCalls": [
  ["Email/query", {"accountId": "'$ACCT'", "sort": [{"property": "receivedAt", "isAscending": true}],
                   "collapseThreads": true, "calculateTotal": true}, "q"],
  ["Email/get", {"accountId": "'$ACCT'", "#ids": {"resultOf": "q", "name": "Email/query", "path": "/ids"},
                 "properties": ["threadId"]}, "t"],
  ["Thread/get", {"accountId": "'$ACCT'", "#ids": {"resultOf": "t", "name": "Email/get", "path": "/list/*/threadId"}}, "th"],
  ["Email/get", {"accountId": "'$ACCT'", "#ids": {"resultOf": "th", "name": "Thread/get", "path": "/list/*/emailIds"},
                 "properties": ["threadId", "from", "subject", "sentAt", "preview", "hasAttachment"]}, "m"]]}'
RESP=$(q 2 "SELECT mailcluster.jmap(\$req\$$REQ\$req\$)")
if command -v jq >/dev/null 2>&1; then
	echo "$RESP" | jq -c '.methodResponses[]'
else
	q 2 "SELECT r::text FROM jsonb_array_elements(\$r\$$RESP\$r\$::jsonb -> 'methodResponses') r"
fi
say "the same answer and state on every node"
for i in 0 1 2; do
	ans=$(q $i "SELECT md5(mailcluster.jmap(\$req\$$REQ\$req\$)::text)")
	q $i "SELECT 'node ' || mailcluster.node_id() || ': response md5 $ans, state_checksum() at index ' || applied_index || ': ' || left(checksum, 16) FROM mailcluster.state_checksum()"
done

if [ $KEEP = 1 ]; then
	say "nodes left running: psql -h $DIR -p ${PORTS[0]} -U postgres  (stop: pg_ctl -D $DIR/nodeN stop, as $DEMO_USER)"
else
	say "stopping the nodes"
	for n in 1 2 3; do as_user "$BIN/pg_ctl" -D "$DIR/node$n" -m fast stop >/dev/null || true; done
fi
