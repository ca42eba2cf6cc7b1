#!/usr/bin/env bash
# test/tap.sh — the TAP tests (test/tap/t/*.pl) under prove, with PostgreSQL's own
# PostgreSQL::Test::Cluster (from the server dev package) managing every server.
# prove runs as the unprivileged server user (PostgreSQL refuses root), in a scratch
# directory that holds the clusters and their logs (kept on failure: the path is printed).
# Usage: test/tap.sh [test/tap/t/NNN_name.pl ...]     (default: all, or those PP_TAP_FILES
#        names, e.g. PP_TAP_FILES="020_kafka_gaps 021_kafka_pause_all", also in a root;
#        a first line "tap: only PP_TAP_FILES=..." then says the run is narrowed)
set -uo pipefail
source "$(dirname "$0")/lib.sh"
cd "$PP_REPO"
tests=("$@")
if [ ${#tests[@]} -eq 0 ] && [ -n "${PP_TAP_FILES:-}" ]; then
	for f in $PP_TAP_FILES; do tests+=("test/tap/t/${f%.pl}.pl"); done
fi
if [ ${#tests[@]} -gt 0 ] && [ $# -eq 0 ]; then
	# scripts/test.sh repeats this on the layer's summary line
	echo "tap: only PP_TAP_FILES=$PP_TAP_FILES (${#tests[@]} of $(ls test/tap/t/*.pl | wc -l) files)"
fi
[ ${#tests[@]} -gt 0 ] || mapfile -t tests < <(ls test/tap/t/*.pl | sort)
pp_prove tap -v -- "${tests[@]}"
