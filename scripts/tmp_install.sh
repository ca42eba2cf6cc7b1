#!/usr/bin/env bash
# scripts/tmp_install.sh — build and install pinpipe into a private copy of the
# PostgreSQL installation at ./tmp_install (like PostgreSQL's own "make check").
# Tests run the server from there, so they always test this tree's build and never
# depend on (or disturb) what is installed system-wide. Prints the bindir.
set -euo pipefail
cd "$(dirname "$0")/.."
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
bindir=$("$PG_CONFIG" --bindir)
sharedir=$("$PG_CONFIG" --sharedir)
pgroot=$(dirname "$bindir")            # /usr/lib/postgresql/15 (bin, lib)
T=$PWD/tmp_install
stamp="$("$PG_CONFIG" --version) $(ls -l --time-style=+%s "$pgroot/lib/pg_cron.so" 2>/dev/null | awk '{print $6}')"
if [ ! -f "$T/.stamp" ] || [ "$(cat "$T/.stamp")" != "$stamp" ]; then
	rm -rf "$T"
	mkdir -p "$T$(dirname "$pgroot")" "$T$(dirname "$sharedir")"
	cp -a "$pgroot" "$T$(dirname "$pgroot")/"
	cp -a "$sharedir" "$T$(dirname "$sharedir")/"
	echo "$stamp" >"$T/.stamp"
fi
make -s -j"$(nproc)" PG_CONFIG="$PG_CONFIG" >&2
make -s install DESTDIR="$T" PG_CONFIG="$PG_CONFIG" >/dev/null
echo "$T$bindir"
