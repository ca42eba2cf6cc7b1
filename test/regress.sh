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
chown "$PP_OS_USER" "$out" 2>/dev/null || true
{ cat test/regress.conf; echo "pinpipe.http_port = $(pp_free_port)"; } >"$out/temp.conf"
pgxs=$(dirname "$("$PP_PGBIN/pg_config" --pgxs)")
# shellcheck disable=SC2086
pp_as_owner env LANG=C.UTF-8 LC_ALL=C.UTF-8 "$pgxs/../test/regress/pg_regress" \
	--temp-instance="$out/tmp_check" --temp-config="$out/temp.conf" --encoding=UTF8 \
	--inputdir=. --outputdir="$out" --bindir="$PP_PGBIN" \
	--dbname=contrib_regression --load-extension=pinpipe $tests 2>&1 | tee "$out/summary.txt"
status=${PIPESTATUS[0]}
[ -f "$out/regression.diffs" ] && cat "$out/regression.diffs"
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
