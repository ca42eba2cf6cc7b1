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
pp_regress_run "$runner" "$PP_DIR/isolation" isolation_regression $tests
