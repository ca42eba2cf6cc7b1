#!/usr/bin/env bash
# test/regress.sh — pg_regress over sql/*.sql against a private, preloaded server.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
cd "$PP_REPO"
pp_cluster_start || exit 1
tests=$(ls sql/*.sql | grep -v "^sql/pinpipe--" | sed 's|sql/||; s|\.sql$||' | sort)
out=$PP_DIR/regress
mkdir -p "$out"
pgxs=$(dirname "$(pg_config --pgxs)")
"$pgxs/../test/regress/pg_regress" --inputdir=. --outputdir="$out" --bindir="$PP_PGBIN" \
	--host="$PP_SOCK" --port="$PP_PORT" --user=postgres --dbname=contrib_regression --load-extension=pinpipe \
	$tests 2>&1 | tee "$out/summary.txt"
status=${PIPESTATUS[0]}
[ -f "$out/regression.diffs" ] && cat "$out/regression.diffs"
n_ok=$(grep -cE '^(ok|test) .* ok' "$out/summary.txt")
n_bad=$(grep -cE ' (FAILED|failed)( |$)' "$out/summary.txt")
# pg_regress prints "ok N - name" (PG15: "test name ... ok"); count both spellings.
echo "$n_ok passed, $n_bad failed"
exit $status
