#!/bin/bash
# bench/run_all.sh — the benchmarks in a row, each with its own table, load
# (uptime) before each.  Assumes email_query.sh's cluster was populated
# beforehand (bench/email_query.sh populate); otherwise its "all" mode
# populates within POPULATE_SECONDS first.
#   DUR=10 TRIALS=5 DDUR=15 bench/run_all.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
EQ_MODE=${EQ_MODE:-measure}
echo "== run_all $(date -u '+%F %T UTC')"
uptime; "$here/writes.sh" "${DUR:-10}"
uptime; "$here/failover.sh" "${TRIALS:-5}"
uptime; "$here/deliver.sh" "${DDUR:-15}"
uptime; "$here/email_query.sh" "$EQ_MODE"
uptime
