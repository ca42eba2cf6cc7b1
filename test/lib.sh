# test/lib.sh — shared helpers for integration tests, benchmarks and the demo.
#
# Source it, then:
#   pp_cluster_start [postgresql.conf lines...]   this test's server (a PostgreSQL::Test::Cluster
#                                                 node from test/run_shell.pl) with these lines
#   pp_psql -c '...'                              psql as the cluster's superuser, ON_ERROR_STOP
#   pp_sql 'query'                                one value, unaligned, no headers
#   pp_cluster_stop / pp_cluster_restart / pp_cluster_reload
#   pp_conf 'line'...                             append to postgresql.conf (then reload/restart)
#   pp_free_port                                  a free TCP port on 127.0.0.1
#   pp_scratch VAR NAME                           a scratch directory in $VAR, removed at exit
#   pp_wait_for 'cmd' [seconds] [what]            retry cmd until it succeeds (never decides by timing)
#   pp_build_emulate_asan FILE                    pinpipe-emulate under ASan/UBSan (45, 48)
#   ok / fail / check / pp_done                   TAP: "ok N - ...", "not ok N - ...", the plan
#                                                 "1..N" at the end (prove runs test/t/*.sh)
#
# test/integration.sh runs each test/t/*.sh through test/run_shell.pl under prove: the
# runner owns the server (PostgreSQL::Test::Cluster: initdb, Unix socket only, preloads
# pg_cron and pinpipe, stopped and removed at the end unless the test failed) and reads
# the TAP printed here. Scratch directories are removed on exit unless PP_KEEP=1.

PP_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PP_SHARED_DATA=${PP_SHARED_DATA:-$PP_REPO/../shared/data}
# The server comes from ./tmp_install (scripts/tmp_install.sh) when it exists, so a test
# runs this tree's build; set PP_PGBIN to use another installation.
if [ -z "${PP_PGBIN:-}" ]; then
	PP_PGBIN=$(ls -d "$PP_REPO"/tmp_install/usr/lib/postgresql/*/bin 2>/dev/null | head -n 1)
	[ -n "$PP_PGBIN" ] || PP_PGBIN=$(pg_config --bindir)
fi
export PATH="$PP_PGBIN:$PP_REPO/tools:$PATH"
PP_OS_USER=${PP_OS_USER:-postgres}
PP_PASSED=0
PP_FAILED=0
PP_CLEANUPS=()

# Run a command as the unprivileged OS user that owns the cluster (PostgreSQL refuses root).
pp_as_owner() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u "$PP_OS_USER" -- "$@"
	else
		"$@"
	fi
}

pp_on_exit() {
	local i
	for ((i = ${#PP_CLEANUPS[@]} - 1; i >= 0; i--)); do
		eval "${PP_CLEANUPS[$i]}" >/dev/null 2>&1 || true
	done
}
trap pp_on_exit EXIT

# Register a command to run at exit (last registered runs first).
pp_cleanup() { PP_CLEANUPS+=("$1"); }

# A scratch directory the server's OS user can read, removed at exit unless PP_KEEP=1;
# its path goes into the variable named $1 (a function in $(...) could not register cleanup).
pp_scratch() {
	local d
	d=$(mktemp -d "/tmp/pinpipe-$2.XXXXXX")
	chmod 755 "$d"
	[ -n "${PP_KEEP:-}" ] || pp_cleanup "rm -rf '$d'"
	printf -v "$1" '%s' "$d"
}

# A free TCP port on 127.0.0.1. Under test/run_shell.pl: the next of the ports it reserved
# with PostgreSQL::Test::Cluster::get_free_port (a counter file, since callers use $(...));
# elsewhere (pg_regress's temp.conf, the demo, the benchmarks): one the kernel picks.
pp_free_port() {
	if [ -n "${PP_FREE_PORTS:-}" ]; then
		local ports n
		read -ra ports <<<"$PP_FREE_PORTS"
		n=$(cat "$PP_FREE_PORTS_USED" 2>/dev/null || echo 0)
		[ "$n" -lt ${#ports[@]} ] || { echo "pp_free_port: all ${#ports[@]} reserved ports used" >&2; return 1; }
		echo $((n + 1)) >"$PP_FREE_PORTS_USED"
		echo "${ports[$n]}"
	else
		perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1", LocalPort => 0)->sockport, "\n"'
	fi
}

# The server of a shell test is a PostgreSQL::Test::Cluster node that test/run_shell.pl
# created, configured (PinpipeTest::node) and started; it exports PGHOST, PGPORT, PGUSER,
# PGDATABASE, PP_DATA (data directory) and PP_LOG (server log). pp_cluster_start adds this
# test's postgresql.conf lines and restarts the node with pg_ctl to apply them.
# (scripts/local_server.sh replaces it for the demo and the benchmarks.)
pp_cluster_start() {
	if [ -z "${PP_DATA:-}" ] || [ ! -f "$PP_DATA/PG_VERSION" ]; then
		echo "pp_cluster_start: no server; run the test through test/integration.sh" >&2
		return 1
	fi
	[ $# -eq 0 ] && return 0
	pp_conf "$@"
	pp_cluster_restart
}

# Append settings to postgresql.conf (take effect on reload or restart).
pp_conf() {
	local line
	for line in "$@"; do echo "$line" >>"$PP_DATA/postgresql.conf"; done
}

# Start, stop, restart, reload: PostgreSQL's pg_ctl on the data directory, logging to PP_LOG.
pp_cluster_up() {
	pp_as_owner "$PP_PGBIN/pg_ctl" -D "$PP_DATA" -l "$PP_LOG" -w -t 180 start >/dev/null ||
		{ tail -n 50 "$PP_LOG"; return 1; }
}

pp_cluster_stop() {
	local mode=${1:-fast}
	[ -n "${PP_DATA:-}" ] && [ -f "$PP_DATA/postmaster.pid" ] || return 0
	pp_as_owner "$PP_PGBIN/pg_ctl" -D "$PP_DATA" -m "$mode" -w -t 180 stop >/dev/null 2>&1 || true
}

pp_cluster_restart() { pp_cluster_stop "${1:-fast}"; pp_cluster_up; }

pp_cluster_reload() { pp_as_owner "$PP_PGBIN/pg_ctl" -D "$PP_DATA" reload >/dev/null; }

pp_psql() { "$PP_PGBIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
pp_sql() { "$PP_PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -A -t -c "$1"; }

# pinpipe-emulate built into $1 under AddressSanitizer/UBSan (leaks included), from the
# tree's sources and the Makefile's pure modules (make pure-srcs); compiler errors on stderr.
pp_build_emulate_asan() {
	cc -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -Wall -Wextra -Werror -std=gnu99 \
		-I"$PP_REPO/tools/emulate" -I"$PP_REPO/src/core" -o "$1" "$PP_REPO/tools/pinpipe-emulate.c" "$PP_REPO"/tools/emulate/*.c \
		$(cd "$PP_REPO" && make -s --no-print-directory pure-srcs | sed "s|[^ ]*|$PP_REPO/&|g") -lcurl -lm
}

# Retry a condition (a shell command) until it holds; a timeout is a failure with a message.
pp_wait_for() {
	local cond=$1 secs=${2:-60} what=${3:-$1} i
	for ((i = 0; i < secs * 10; i++)); do
		if eval "$cond" >/dev/null 2>&1; then return 0; fi
		sleep 0.1
	done
	echo "timed out after ${secs}s waiting for: $what" >&2
	return 1
}

# TAP, as prove reads it: one line per check, numbered; diagnostics start with "#".
ok() { PP_PASSED=$((PP_PASSED + 1)); echo "ok $((PP_PASSED + PP_FAILED)) - $*"; }
fail() { PP_FAILED=$((PP_FAILED + 1)); echo "not ok $((PP_PASSED + PP_FAILED)) - $*"; }

# check "description" actual expected
check() {
	if [ "$2" == "$3" ]; then ok "$1"; else fail "$1: got '$2', expected '$3'"; fi
}

# End of a test file: the plan (prove checks that every planned check ran), and the exit
# status; on failure the server log's tail as TAP diagnostics.
pp_done() {
	echo "1..$((PP_PASSED + PP_FAILED))"
	if [ "$PP_FAILED" -gt 0 ] || [ "$PP_PASSED" -eq 0 ]; then
		[ -n "${PP_LOG:-}" ] && [ -f "$PP_LOG" ] && { echo "# --- server log (tail)"; tail -n 40 "$PP_LOG" | sed 's/^/# /'; }
		exit 1
	fi
	exit 0
}

# pp_prove NAME [prove options] -- TEST...: prove, run as the unprivileged server user with
# PostgreSQL::Test::Cluster (the server dev package's PGXS tree) and test/tap on PERL5LIB,
# in a scratch directory for the nodes and their logs, kept when a test fails (its path is
# printed). prove's summary closes the output; returns prove's status.
pp_prove() {
	local name=$1 pgxs perl_lib work status opts=() abs=() t
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
	shift
	for t in "$@"; do abs+=("$(cd "$(dirname "$t")" && pwd)/$(basename "$t")"); done
	pgxs=$(dirname "$("$PP_PGBIN/pg_config" --pgxs)")
	perl_lib=$pgxs/../test/perl
	[ -f "$perl_lib/PostgreSQL/Test/Cluster.pm" ] ||
		{ echo "$name: PostgreSQL::Test::Cluster not found in $perl_lib"; return 1; }
	work=$(mktemp -d "/tmp/pinpipe-$name.XXXXXX")
	chmod 755 "$work"
	chown "$PP_OS_USER" "$work" 2>/dev/null || true
	echo "$name: clusters and logs in $work (kept when a test fails)"
	# PG15 reads TESTDIR; PG17+ read TESTDATADIR and TESTLOGDIR.
	(cd "$work" && pp_as_owner env PATH="$PP_PGBIN:$PP_REPO/tools:$PATH" PP_REPO="$PP_REPO" \
		PP_PGBIN="$PP_PGBIN" PP_SHARED_DATA="$(cd "$PP_SHARED_DATA" && pwd)" \
		PERL5LIB="$perl_lib:$PP_REPO/test/tap" PG_REGRESS="$pgxs/../test/regress/pg_regress" \
		TESTDIR="$work" TESTDATADIR="$work/tmp_check" TESTLOGDIR="$work/tmp_check/log" \
		prove "${opts[@]}" "${abs[@]}")
	status=$?
	[ "$status" -ne 0 ] || rm -rf "$work"
	return "$status"
}

# pp_regress_temp RUNNER OUTDIR CONF DB TEST...: a pg_regress-family runner (pg_regress,
# pg_isolation_regress) on a temporary instance it starts itself (--temp-instance in
# OUTDIR/tmp_check, --temp-config CONF), as the unprivileged server user, over tests in this
# tree (sql/ or specs/, expected/); prints its output and diffs; returns its status.
pp_regress_temp() {
	local runner=$1 out=$2 conf=$3 db=$4 status
	shift 4
	chown "$PP_OS_USER" "$out" 2>/dev/null || true
	pp_as_owner env LANG=C.UTF-8 LC_ALL=C.UTF-8 "$runner" \
		--temp-instance="$out/tmp_check" --temp-config="$conf" --encoding=UTF8 \
		--inputdir="$PP_REPO" --outputdir="$out" --bindir="$PP_PGBIN" \
		--dbname="$db" --load-extension=pinpipe "$@" 2>&1 | tee "$out/summary.txt"
	status=${PIPESTATUS[0]}
	[ -f "$out/regression.diffs" ] && cat "$out/regression.diffs"
	return "$status"
}
