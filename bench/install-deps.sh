#!/bin/bash
# bench/install-deps.sh — the Debian packages the benchmarks need beyond
# what scripts/install-deps.sh installs for building and testing: etcd
# (the baseline), wrk (its load generator), psycopg2 (failover writers), bc.
# Run as root.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq etcd-server etcd-client wrk python3-psycopg2 bc >/dev/null
echo "bench dependencies installed: $(etcd --version | head -1); $(wrk --version 2>&1 | head -1)"
