#!/bin/sh
# test/mutation/run.sh — the Raft simulator's mutation check.
#
# Copies the tree's src/core to a temporary directory, builds the simulator
# against it unchanged (the baseline), then for each test/mutation/*.patch
# plants that known bug in a fresh copy, builds the simulator against the
# mutant and runs it over a seed budget.  A mutant is "caught" when the
# simulator reports a violation on a seed (and size) where the baseline
# passes.  Prints one line per mutant and a closing line
# "mutation: P passed, F failed"; exits 1 unless every mutant is caught.
#
#   test/mutation/run.sh                 budget: 300 seeds per size 3,5,7
#   MUTATION_SEEDS=1000 test/mutation/run.sh
#   test/mutation/run.sh test/mutation/b_*.patch     only some mutants
#   MUTATION_SIMFLAGS=--no-rule-checks test/mutation/run.sh
#                        only the end-to-end checkers (no R4/R12/R32 rules)
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SEEDS=${MUTATION_SEEDS:-300}
CORE_SRC=${MUTATION_CORE:-$ROOT/src/core}	# another core tree, for trying patches
CC=${CC:-cc}
CFLAGS="-std=gnu11 -O2 -w"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/raft_mutation.XXXXXX")
trap 'rm -rf "$TMP"' EXIT INT TERM

if [ $# -gt 0 ]; then
	PATCHES="$*"
else
	PATCHES=$(ls "$ROOT"/test/mutation/*.patch 2>/dev/null)
fi
if [ -z "$PATCHES" ]; then
	echo "mutation: no patches found"
	echo "mutation: 0 passed, 1 failed"
	exit 1
fi

build() {	# build <core dir> <output binary>
	$CC $CFLAGS -I"$1" -I"$ROOT/test/unit" -I"$ROOT/test/sim" -o "$2" \
		"$ROOT/test/sim/raft_sim.c" $(ls "$ROOT"/test/sim/rsim_*.c) \
		$(ls "$1"/*.c) -lsodium -lm
}

# One pristine copy of the core: baseline and mutants all start from it,
# so edits made in the tree while this runs do not mix in.
mkdir -p "$TMP/pristine/src/core"
cp "$CORE_SRC"/*.c "$CORE_SRC"/*.h "$TMP/pristine/src/core/"
if ! build "$TMP/pristine/src/core" "$TMP/raft_sim_base" 2>"$TMP/base.log"; then
	cat "$TMP/base.log"
	echo "mutation: the unmutated core does not build"
	echo "mutation: 0 passed, 1 failed"
	exit 1
fi

passed=0
failed=0
for p in $PATCHES; do
	name=$(basename "$p" .patch)
	rm -rf "$TMP/m"
	cp -r "$TMP/pristine" "$TMP/m"
	if ! patch -s -p1 -d "$TMP/m" <"$p" >"$TMP/patch.log" 2>&1; then
		echo "mutant $name: NOT caught — patch does not apply:"
		sed 's/^/    /' "$TMP/patch.log"
		failed=$((failed + 1))
		continue
	fi
	if ! build "$TMP/m/src/core" "$TMP/raft_sim_mut" 2>"$TMP/build.log"; then
		echo "mutant $name: NOT caught — mutant does not build:"
		head -20 "$TMP/build.log" | sed 's/^/    /'
		failed=$((failed + 1))
		continue
	fi
	start=$(date +%s)
	"$TMP/raft_sim_mut" --seeds "$SEEDS" --max-fail 5 ${MUTATION_SIMFLAGS:-} >"$TMP/out.log" 2>&1
	caught=""
	cseed=""
	cnodes=""
	# each failing run prints: raft seed S nodes N: VIOLATION ...
	grep '^raft seed [0-9]* nodes [0-9]*: VIOLATION' "$TMP/out.log" >"$TMP/fails.log"
	while read -r _ _ seed _ nodes rest; do
		nodes=${nodes%:}
		if "$TMP/raft_sim_base" --seed "$seed" --nodes "$nodes" ${MUTATION_SIMFLAGS:-} >/dev/null 2>&1; then
			caught="seed $seed nodes $nodes:${rest#VIOLATION}"
			cseed=$seed
			cnodes=$nodes
			break
		fi
	done <"$TMP/fails.log"
	secs=$(( $(date +%s) - start ))
	if [ -n "$caught" ]; then
		echo "mutant $name: caught (${secs}s) — $caught"
		echo "    replay: raft_sim built against the mutant, --seed $cseed --nodes $cnodes -v"
		passed=$((passed + 1))
	else
		n=$(wc -l <"$TMP/fails.log")
		echo "mutant $name: NOT caught in $SEEDS seeds x sizes 3,5,7 (${secs}s; $n failing runs, all failing on the baseline too)"
		failed=$((failed + 1))
	fi
done
echo "mutation: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
