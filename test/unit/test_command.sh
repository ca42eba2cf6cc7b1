#!/usr/bin/env bash
# test/unit/test_command.sh — the test command's argument handling (scripts/test.sh), run
# with PP_TEST_PLAN=1 so that it stops after deciding what it would run: nothing is built
# or started. The whole suite (no layer named, CI's command) refuses PP_TAP_FILES, which
# would narrow its tap layer without a word; naming the layers keeps PP_TAP_FILES working.
# Each run is bounded by a timeout, so a guard that stopped working cannot start the suite.
set -u
cd "$(dirname "$0")/../.."
passed=0 failed=0

# check WHAT WANT_STATUS PATTERN [env and arguments...]: run scripts/test.sh under env(1).
check() {
	local what=$1 want=$2 pattern=$3 out status
	shift 3
	out=$(timeout 60 env -u PP_TAP_FILES -u PP_PG_VERSIONS -u PP_IN_ROOT PP_TEST_PLAN=1 "$@" 2>&1)
	status=$?
	if [ "$status" = "$want" ] && grep -qE -- "$pattern" <<<"$out"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		echo "not ok - $what: exit $status (want $want), output:"
		sed 's/^/#   /' <<<"$out"
	fi
}

check "the whole suite refuses PP_TAP_FILES" 1 "^test: PP_TAP_FILES is set" \
	PP_TAP_FILES=020_kafka_gaps bash scripts/test.sh
check "... and stops before planning anything" 1 "^0 passed, 1 failed$" \
	PP_TAP_FILES=020_kafka_gaps bash scripts/test.sh
check "... also with versions chosen" 1 "^test: PP_TAP_FILES is set" \
	PP_TAP_FILES=020_kafka_gaps PP_PG_VERSIONS=15 bash scripts/test.sh
check "the tap layer named: PP_TAP_FILES works" 0 "^test plan: 15: tap$" \
	PP_TAP_FILES=020_kafka_gaps bash scripts/test.sh tap
check "... and the narrowing is named" 0 "^test plan: tap: only PP_TAP_FILES=020_kafka_gaps$" \
	PP_TAP_FILES=020_kafka_gaps bash scripts/test.sh tap
check "the whole suite without PP_TAP_FILES: every layer on 15" 0 \
	"^test plan: 15: format unit fuzz regress isolation tap integration package$" \
	bash scripts/test.sh
check "an empty PP_TAP_FILES narrows nothing" 0 "^test plan: 18: unit regress isolation tap package$" \
	PP_TAP_FILES= bash scripts/test.sh

echo "test_command: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
