#!/usr/bin/env bash
# test/integration.sh — the shell contract tests test/t/*.sh (curl, jq, promtool) under
# prove: each prints TAP through test/lib.sh (ok / not ok N, then the plan 1..N) and
# starts its own private server; prove's summary is the result.
# Usage: test/integration.sh [test/t/NN_name.sh ...]     (default: all)
set -uo pipefail
cd "$(dirname "$0")/.."
tests=("$@")
[ ${#tests[@]} -gt 0 ] || mapfile -t tests < <(ls test/t/*.sh | sort)
exec prove -v --exec bash "${tests[@]}"
