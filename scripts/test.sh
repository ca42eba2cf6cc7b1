#!/usr/bin/env bash
# scripts/test.sh — the whole test suite (the README's test command; .ci/run calls it).
#
# Layers, in order; every one must run and report at least one passing test:
#   unit         pure-C tests of the cleaning core under ASan/UBSan (make unit)
#   fuzz         a fixed-seed, fixed-count libFuzzer run over the pin parser
#   regress      pg_regress (sql/, expected/) against a private server
#   isolation    pg_isolation_regress (specs/, expected/): concurrency, against a private server
#   tap          test/tap/t/*.pl under prove, servers run by PostgreSQL::Test::Cluster
#   integration  every test/t/*.sh (shell contract tests printing TAP) under prove
# Each layer's output closes with its runner's own summary (prove's "Result:", pg_regress's
# "All N tests passed."); the last line here adds them up as "N passed, N failed".
# Usage: scripts/test.sh [layer ...]    (default: all layers)
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)

bash scripts/setup.sh || { echo "test: setup failed"; exit 1; }
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
# Tests run this tree's build from a private installation (scripts/tmp_install.sh).
PP_PGBIN=$(bash scripts/tmp_install.sh) || { echo "test: build failed"; exit 1; }
export PP_PGBIN
export PATH="$PP_PGBIN:$REPO/tools:$PATH"

ALL_LAYERS=(unit fuzz regress isolation tap integration)
LAYERS=("$@")
[ ${#LAYERS[@]} -gt 0 ] || LAYERS=("${ALL_LAYERS[@]}")
OUT=$(mktemp -d /tmp/pinpipe-results.XXXXXX)
chmod 755 "$OUT"
declare -A RESULT

# A layer's result is the last summary its runner printed: prove's ("Files=N, Tests=N, ..."
# with "(Wstat: .. Tests: N Failed: N)" per failed file, then "Result: PASS|FAIL"; a file
# that exited non-zero without a failed check, e.g. without its plan, counts as one failure),
# pg_regress's ("All N tests passed." / "N of N tests failed."), or the unit and fuzz
# runners' "N passed, N failed"; none means the layer did not run.
tally() {
	awk '/^([A-Za-z0-9_-]+: )?[0-9]+ passed, [0-9]+ failed/ {
	        for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p = $i; if ($(i+1) ~ /^failed/) f = $i }
	        seen = 1 }
	     /Tests: [0-9]+ Failed: [0-9]+\)/ { s = $0; sub(/.*Failed: /, "", s); s += 0
	        if (s == 0 && $0 !~ /Wstat: 0 /) s = 1   # a file that failed without a failed check
	        pf += s }
	     /^Files=[0-9]+, Tests=[0-9]+,/ { s = $0; sub(/^Files=[0-9]+, Tests=/, "", s); pt = s + 0; inprove = 1 }
	     inprove && /^Result: / { p = pt - pf; f = pf; if ($2 != "PASS" && f == 0) f = 1; seen = 1; pf = 0; inprove = 0 }
	     /All [0-9]+ tests passed/ { s = $0; sub(/.*All /, "", s); p = s + 0; f = 0; seen = 1 }
	     /[0-9]+ of [0-9]+ tests failed/ { s = $0; sub(/^[^0-9]*/, "", s); split(s, a, / of /); f = a[1] + 0; p = a[2] - f; seen = 1 }
	     END { if (!seen) print "none"; else print p + 0, f + 0 }' "$1"
}

run_layer() {
	local layer=$1 log=$OUT/$1.log status
	echo "=== layer: $layer"
	case $layer in
		unit) make -s unit PG_CONFIG="$PG_CONFIG" ;;
		fuzz) bash test/fuzz/run.sh ;;
		regress) bash test/regress.sh ;;
		isolation) bash test/isolation.sh ;;
		tap) bash test/tap.sh ;;
		integration) bash test/integration.sh ;;
		*) echo "unknown layer $layer"; false ;;
	esac 2>&1 | tee "$log"
	status=${PIPESTATUS[0]}
	read -r passed failed <<<"$(tally "$log")"
	if [ "$passed" = none ]; then
		RESULT[$layer]="FAILED (reported no tests: the layer did not run)"
	elif [ "$status" -ne 0 ] || [ "$failed" -gt 0 ] || [ "$passed" -eq 0 ]; then
		RESULT[$layer]="FAILED ($passed passed, $failed failed, exit $status)"
	else
		RESULT[$layer]="ok ($passed passed)"
	fi
}

for l in "${LAYERS[@]}"; do run_layer "$l"; done

echo "=== summary"
total_p=0 total_f=0 bad=0
for l in "${LAYERS[@]}"; do
	echo "$l: ${RESULT[$l]}"
	read -r p f <<<"$(tally "$OUT/$l.log")"
	[ "$p" = none ] && { p=0; f=1; }
	total_p=$((total_p + p)); total_f=$((total_f + f))
	case ${RESULT[$l]} in ok*) ;; *) bad=1 ;; esac
done
echo "$total_p passed, $total_f failed"
exit $bad
