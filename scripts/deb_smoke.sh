#!/usr/bin/env bash
# scripts/deb_smoke.sh — run inside a clean root (scripts/package.sh): install the
# postgresql-MAJOR-pinpipe .deb with apt (which must find every dependency), start a
# server preloading pg_cron and pinpipe, CREATE EXTENSION, one pin through ingest.
# Usage: deb_smoke.sh MAJOR DEB PINFILE      (prints TAP lines and "N passed, N failed")
set -u
major=$1 deb=$2 pinfile=$3
passed=0 failed=0
check() {
	local what=$1
	shift
	if "$@"; then
		passed=$((passed + 1)); echo "ok - $what"
	else
		failed=$((failed + 1)); echo "not ok - $what"
	fi
}
bin=/usr/lib/postgresql/$major/bin
d=/tmp/pinpipe-smoke
check "apt installs $(basename "$deb") and its dependencies" \
	env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$deb"
check "pinpipe.so in the server's library directory" test -f "$("$bin/pg_config" --pkglibdir)/pinpipe.so"
check "pinpipe.control in the server's extension directory" \
	test -f "$("$bin/pg_config" --sharedir)/extension/pinpipe.control"
check "the tools are installed" test -x "$bin/pinpipe-emulate" -a -x "$bin/pinpipe-devbroker"
install -d -o postgres "$d"
as_pg() { runuser -u postgres -- "$@"; }
check "initdb" as_pg "$bin/initdb" -D "$d/data" -U postgres -E UTF8 --locale=C.UTF-8 -A trust -N >"$d/initdb.log" 2>&1
cat >>"$d/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$d'
shared_preload_libraries = 'pg_cron,pinpipe'
cron.database_name = 'postgres'
pinpipe.http_port = 0
CONF
check "the server starts with pg_cron and pinpipe preloaded" \
	as_pg "$bin/pg_ctl" -D "$d/data" -l "$d/server.log" -w -t 60 start
sql() { as_pg "$bin/psql" -h "$d" -U postgres -d postgres -X -At -v ON_ERROR_STOP=1 "$@"; }
check "CREATE EXTENSION pinpipe" sql -c 'CREATE EXTENSION pinpipe'
pin=$(head -n 1 "$pinfile")
got=$(sql -c "SELECT accepted || '/' || dead_lettered FROM pinpipe.ingest_text(\$pin\$$pin\$pin\$)")
check "one pin through ingest_text (accepted/dead-lettered: $got)" test "$got" = 1/0
got=$(sql -c 'SELECT count(*) FROM pinpipe.pins')
check "the pin is in pinpipe.pins ($got)" test "$got" = 1
as_pg "$bin/pg_ctl" -D "$d/data" -m fast -w stop >/dev/null 2>&1 || true
[ "$failed" -eq 0 ] || tail -n 30 "$d/server.log" 2>/dev/null
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
