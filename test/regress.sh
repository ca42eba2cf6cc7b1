#!/usr/bin/env bash
# test/regress.sh — pg_regress over sql/*.sql (the Makefile's REGRESS) on a temporary
# instance it starts itself (--temp-instance), configured by test/regress.conf
# (--temp-config: pg_cron and pinpipe preloaded) plus a free port for the HTTP worker.
# pg_regress runs as the unprivileged server user (PostgreSQL refuses root).
set -uo pipefail
source "$(dirname "$0")/lib.sh"
cd "$PP_REPO"
tests=$(make -s --no-print-directory regress-list PG_CONFIG="$PP_PGBIN/pg_config") || exit 1
pp_scratch out regress
{ cat test/regress.conf; echo "pinpipe.http_port = $(pp_free_port)"; } >"$out/temp.conf"
pgxs=$(dirname "$("$PP_PGBIN/pg_config" --pgxs)")
# shellcheck disable=SC2086
pp_regress_temp "$pgxs/../test/regress/pg_regress" "$out" "$out/temp.conf" contrib_regression $tests
status=$?
# The HTTP worker ran during the suite (else this run says nothing about installcheck).
if ! grep -q "pinpipe http worker listening" "$out"/log/postmaster.log 2>/dev/null; then
	echo "regress: the HTTP worker did not run during the suite"
	status=1
	echo "not ok - HTTP worker running" >>"$out/summary.txt"
fi
# pg_regress prints "ok N - name" / "not ok N - name" (PG16+) or "test name ... ok" /
# "... FAILED" (PG15): count both spellings.
n_ok=$(grep -cE '^ok [0-9]+ |^test .* \.\.\. ok' "$out/summary.txt")
n_bad=$(grep -cE '^not ok|^test .* \.\.\. FAILED' "$out/summary.txt")
echo "$n_ok passed, $n_bad failed"
exit $status
