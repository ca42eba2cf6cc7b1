#!/usr/bin/env bash
# test/fuzz/run.sh — a fixed-seed, fixed-count libFuzzer run over the pin reader,
# seeded with real pins and hand-made edge cases. Deterministic: same seed, same runs.
# FUZZ_RUNS overrides the number of executions (default 300000).
set -uo pipefail
cd "$(dirname "$0")/../.."
source test/lib.sh >/dev/null
make -s test/fuzz/fuzz_pin || { echo "fuzz: build failed"; echo "0 passed, 1 failed"; exit 1; }
corpus=$(mktemp -d)
pp_cleanup "rm -rf '$corpus'"
head -n 200 "$PP_SHARED_DATA/pins_sample.jsonl" | split -l 1 - "$corpus/pin-"
printf '[%s]' "$(head -n 3 "$PP_SHARED_DATA/pins_sample.jsonl" | paste -sd,)" >"$corpus/array"
printf '{"index": "1_0", "title": 1e5, "unique_id": "{79DBCEDB4F964FCCBCB270DC82F646E1}"}' >"$corpus/coerce"
printf '{"a": "\\ud83d\\ude00\\u00a0", "b": [[[{"c": null}]]], "d": -0.0e-5}' >"$corpus/escapes"
printf '{"ind": 2, "timestamp": "2022-03-14 04:34:13", "latitude": 17.5632, "longitude": "112.276", "country": "Gambia"}' >"$corpus/geo"
printf '{"ind": "0", "first_name": "Adam", "last_name": "Acosta", "age": 20, "date_joined": "2015-10-21T21:26:45.5+01:30"}' >"$corpus/user"
runs=${FUZZ_RUNS:-300000}
if ./test/fuzz/fuzz_pin -seed=1 -runs="$runs" -max_len=4096 -timeout=10 "$corpus" >"$corpus.log" 2>&1; then
	tail -n 2 "$corpus.log"
	echo "fuzz: $runs executions without a crash or a broken property"
	echo "1 passed, 0 failed"
else
	tail -n 40 "$corpus.log"
	echo "0 passed, 1 failed"
	exit 1
fi
