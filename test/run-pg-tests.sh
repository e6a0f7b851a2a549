#!/usr/bin/env bash
# run-pg-tests.sh — runs the PostgreSQL suites (pg_regress, then TAP) of a
# mailcluster source tree as an unprivileged user, because PostgreSQL
# refuses to run as root.  The extension must already be installed
# (make install, as root).
#
#   test/run-pg-tests.sh [SRC_DIR]
#
# Copies SRC_DIR (default: the tree this script is in) to a scratch
# directory owned by $MC_TEST_USER (default mctest, created if missing),
# runs `make installcheck` there for pg_regress and for TAP separately so
# both always run, prints their output (and regression.diffs / TAP logs on
# failure) and exits non-zero if either failed.
#
# Environment: MC_TEST_USER, MC_SUITES ("regress tap", the default, or one
# of them), PROVE_TESTS (a subset of TAP scripts, e.g. test/tap/t/001_x.pl),
# PROVE_FLAGS (e.g. -v), MC_KEEP=1 keeps the scratch directory, PG_CONFIG
# (default pg_config: the PostgreSQL installation whose servers the suites
# start and whose mailcluster.so they test), MC_TAP_PORT_SHIFT (default 0:
# added to every gossip/Raft port of the TAP tests, whose base ports lie in
# 21000-21999, so runs whose shifts differ by 1000 or more, e.g. 0 and 1000,
# can run at the same time on one machine; see test/tap/MCTest.pm).
set -uo pipefail

src=$(cd "${1:-$(dirname "$0")/..}" && pwd)
user=${MC_TEST_USER:-mctest}
suites=${MC_SUITES:-regress tap}
pgc=${PG_CONFIG:-pg_config}

if [ "$(id -u)" -eq 0 ]; then
	id "$user" >/dev/null 2>&1 || useradd -m "$user" || exit 1
	as_user() { runuser -u "$user" -- "$@"; }
else
	as_user() { "$@"; }
fi

# The suites test the *installed* library: say so if it is not this tree's
# build (someone else may have installed theirs on a shared machine).
installed="$("$pgc" --pkglibdir)/mailcluster.so"
if [ -f "$src/mailcluster.so" ] && ! cmp -s "$src/mailcluster.so" "$installed"; then
	echo "WARNING: $installed is not the build in $src (run make install there first)" >&2
fi

scratch=$(mktemp -d /tmp/mailcluster-pgtest.XXXXXX) || exit 1
# Only sources travel: no VCS data, build outputs or old test results.
tar -C "$src" --exclude=.git --exclude=build --exclude=tmp_check \
	--exclude=results --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
	--exclude=log --exclude=regression.diffs --exclude=regression.out \
	-cf - . | tar -C "$scratch" -xf - || exit 1
[ "$(id -u)" -eq 0 ] && chown -R "$user" "$scratch"
chmod 755 "$scratch"

rc=0
for suite in $suites; do
	case $suite in
	regress)
		echo "=== pg_regress (sql/*.sql vs expected/*.out)"
		if ! as_user make -C "$scratch" -s installcheck PG_CONFIG="$pgc" TAP_TESTS=; then
			rc=1
			[ -f "$scratch/regression.diffs" ] && cat "$scratch/regression.diffs"
			for f in "$scratch"/log/postmaster.log; do
				[ -f "$f" ] && { echo "--- tail of $f"; tail -40 "$f"; }
			done
		fi
		;;
	tap)
		echo "=== TAP (test/tap/t/*.pl)"
		if ! as_user make -C "$scratch" -s installcheck PG_CONFIG="$pgc" REGRESS= \
				${PROVE_TESTS:+PROVE_TESTS="$PROVE_TESTS"} \
				PROVE_FLAGS="${PROVE_FLAGS:-}"; then
			rc=1
			for f in "$scratch"/tmp_check/log/regress_log_*; do
				[ -f "$f" ] && { echo "--- tail of $f"; tail -60 "$f"; }
			done
		fi
		;;
	*)
		echo "unknown suite $suite" >&2
		rc=1
		;;
	esac
done

if [ -f "$src/mailcluster.so" ] && ! cmp -s "$src/mailcluster.so" "$installed"; then
	echo "WARNING: $installed changed while the suites ran (another install?)" >&2
fi
if [ "${MC_KEEP:-0}" = 1 ] || [ $rc -ne 0 ]; then
	echo "scratch directory kept: $scratch"
else
	rm -rf "$scratch"
fi
exit $rc
