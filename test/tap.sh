#!/usr/bin/env bash
# test/tap.sh — the TAP tests (test/tap/t/*.pl) under prove, with PostgreSQL's own
# PostgreSQL::Test::Cluster (from the server dev package) managing every server.
# prove runs as the unprivileged server user (PostgreSQL refuses root), in a scratch
# directory that holds the clusters and their logs (kept on failure: the path is printed).
# Usage: test/tap.sh [test/tap/t/NNN_name.pl ...]     (default: all)
set -uo pipefail
source "$(dirname "$0")/lib.sh"
cd "$PP_REPO"
pgxs=$(dirname "$("$PP_PGBIN/pg_config" --pgxs)")
perl_lib=$pgxs/../test/perl
[ -f "$perl_lib/PostgreSQL/Test/Cluster.pm" ] || { echo "tap: PostgreSQL::Test::Cluster not found in $perl_lib"; exit 1; }
tests=("$@")
[ ${#tests[@]} -gt 0 ] || mapfile -t tests < <(ls test/tap/t/*.pl | sort)
work=$(mktemp -d /tmp/pinpipe-tap.XXXXXX)
chmod 755 "$work"
chown "$PP_OS_USER" "$work" 2>/dev/null || true
abs=()
for t in "${tests[@]}"; do abs+=("$(cd "$(dirname "$t")" && pwd)/$(basename "$t")"); done
echo "tap: clusters and logs in $work (kept when a test fails)"
# PG15 reads TESTDIR; PG17+ read TESTDATADIR and TESTLOGDIR. prove's summary closes the output.
(cd "$work" && pp_as_owner env PATH="$PP_PGBIN:$PP_REPO/tools:$PATH" PP_REPO="$PP_REPO" \
	PP_SHARED_DATA="$(cd "$PP_SHARED_DATA" && pwd)" PG_REGRESS="$pgxs/../test/regress/pg_regress" \
	TESTDIR="$work" TESTDATADIR="$work/tmp_check" TESTLOGDIR="$work/tmp_check/log" \
	prove -v -I "$perl_lib" -I "$PP_REPO/test/tap" "${abs[@]}")
status=$?
[ "$status" -ne 0 ] || rm -rf "$work"
exit "$status"
