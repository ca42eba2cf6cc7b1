#!/usr/bin/env bash
# test/isolation.sh — the concurrency tests: specs/*.spec under PostgreSQL's isolation
# tester (pg_isolation_regress from the server dev package's PGXS tree) on a temporary
# instance it starts itself (--temp-instance), configured by test/regress.conf
# (--temp-config: pg_cron and pinpipe preloaded; no HTTP listener); expected output in
# expected/NAME.out. pg_isolation_regress's own summary closes the output.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
cd "$PP_REPO"
pgxs=$(dirname "$("$PP_PGBIN/pg_config" --pgxs)")
runner=$pgxs/../test/isolation/pg_isolation_regress
[ -x "$runner" ] || { echo "isolation: $runner not found"; echo "0 passed, 1 failed"; exit 1; }
pp_scratch out isolation
{ cat test/regress.conf; echo "pinpipe.http_port = 0"; } >"$out/temp.conf"
tests=$(ls specs/*.spec | sed 's|specs/||; s|\.spec$||' | sort)
# shellcheck disable=SC2086
pp_regress_temp "$runner" "$out" "$out/temp.conf" isolation_regression $tests
