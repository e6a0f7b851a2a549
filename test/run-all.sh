#!/usr/bin/env bash
# run-all.sh — README's test command: builds mailcluster and runs every suite
# (core unit tests, simulators, fuzzers, mutation check, pg_regress, TAP).
# Run as root after scripts/install-deps.sh; PostgreSQL suites run as an
# unprivileged user (test/run-pg-tests.sh).  Exits non-zero if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
SEEDS=${SEEDS:-2000}
FUZZ_SECONDS=${FUZZ_SECONDS:-15}
failed=()

step() {
	local name=$1; shift
	echo "=== $name: $*"
	local t0=$SECONDS
	if "$@"; then
		echo "=== $name: ok ($((SECONDS - t0)) s)"
	else
		echo "=== $name: FAILED ($((SECONDS - t0)) s)"
		failed+=("$name")
	fi
}

step build make -s
step unit make -s unit
step sim make -s sim SEEDS="$SEEDS"
step fuzz make -s fuzz FUZZ_SECONDS="$FUZZ_SECONDS"
[ -x test/mutation/run.sh ] && step mutation test/mutation/run.sh
step install make -s install
step postgres bash test/run-pg-tests.sh "$PWD"

echo
if [ ${#failed[@]} -eq 0 ]; then
	echo "all suites passed"
	exit 0
fi
echo "failed suites: ${failed[*]}"
exit 1
