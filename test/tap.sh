#!/usr/bin/env bash
# test/tap.sh — the TAP tests (test/tap/t/*.pl) under prove, with PostgreSQL's own
# PostgreSQL::Test::Cluster (from the server dev package) managing every server.
# prove runs as the unprivileged server user (PostgreSQL refuses root), in a scratch
# directory that holds the clusters and their logs (kept on failure: the path is printed).
# Usage: test/tap.sh [test/tap/t/NNN_name.pl ...]     (default: all)
set -uo pipefail
source "$(dirname "$0")/lib.sh"
cd "$PP_REPO"
tests=("$@")
[ ${#tests[@]} -gt 0 ] || mapfile -t tests < <(ls test/tap/t/*.pl | sort)
pp_prove tap -v -- "${tests[@]}"
