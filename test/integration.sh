#!/usr/bin/env bash
# test/integration.sh — the shell contract tests test/t/*.sh (curl, jq, promtool) under
# prove: test/run_shell.pl runs each against its own PostgreSQL::Test::Cluster node and
# reports the TAP it prints through test/lib.sh (ok / not ok N, then the plan 1..N).
# prove runs as the unprivileged server user (PostgreSQL refuses root); prove's summary
# is the result.
# Usage: test/integration.sh [test/t/NN_name.sh ...]     (default: all)
set -uo pipefail
source "$(dirname "$0")/lib.sh"
cd "$PP_REPO"
tests=("$@")
[ ${#tests[@]} -gt 0 ] || mapfile -t tests < <(ls test/t/*.sh | sort)
pp_prove integration -v --exec "perl $PP_REPO/test/run_shell.pl" -- "${tests[@]}"
