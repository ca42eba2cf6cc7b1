#!/usr/bin/env bash
# test/isolation.sh — the concurrency tests: specs/*.spec under PostgreSQL's
# isolation tester (pg_isolation_regress from the server dev package's PGXS tree),
# against a private, preloaded server; expected output in expected/NAME.out.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
cd "$PP_REPO"
pgxs=$(dirname "$(pg_config --pgxs)")
runner=$pgxs/../test/isolation/pg_isolation_regress
[ -x "$runner" ] || { echo "isolation: $runner not found"; echo "0 passed, 1 failed"; exit 1; }
pp_cluster_start || { echo "0 passed, 1 failed"; exit 1; }
tests=$(ls specs/*.spec | sed 's|specs/||; s|\.spec$||' | sort)
out=$PP_DIR/isolation
mkdir -p "$out"
"$runner" --inputdir=. --outputdir="$out" --bindir="$PP_PGBIN" \
	--host="$PP_SOCK" --port="$PP_PORT" --user=postgres --dbname=isolation_regression \
	--load-extension=pinpipe $tests 2>&1 | tee "$out/summary.txt"
status=${PIPESTATUS[0]}
[ -f "$out/regression.diffs" ] && cat "$out/regression.diffs"
n_ok=$(grep -cE '^(ok|test) .* ok' "$out/summary.txt")
n_bad=$(grep -cE ' (FAILED|failed)( |$)' "$out/summary.txt")
echo "$n_ok passed, $n_bad failed"
exit $status
