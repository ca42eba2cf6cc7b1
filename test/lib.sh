# test/lib.sh — shared helpers for integration tests, benchmarks and the demo.
#
# Source it, then:
#   pp_cluster_start [postgresql.conf lines...]   private cluster, run by an unprivileged user
#   pp_psql -c '...'                              psql as the cluster's superuser, ON_ERROR_STOP
#   pp_sql 'query'                                one value, unaligned, no headers
#   pp_cluster_stop / pp_cluster_restart / pp_cluster_reload
#   pp_free_port                                  a free TCP port on 127.0.0.1
#   pp_scratch VAR NAME                           a scratch directory in $VAR, removed at exit
#   pp_wait_for 'cmd' [seconds] [what]            retry cmd until it succeeds (never decides by timing)
#   ok / fail / check / pp_done                   TAP: "ok N - ...", "not ok N - ...", the plan
#                                                 "1..N" at the end (prove runs test/t/*.sh)
#   pp_regress_run RUNNER OUTDIR DB TEST...       pg_regress or pg_isolation_regress against the
#                                                 private cluster; its own summary closes the output
#
# The cluster listens on a Unix socket in its own directory only (no TCP port to
# collide with), with shared_preload_libraries = 'pg_cron,pinpipe'. Everything is
# removed on exit unless PP_KEEP=1.

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

pp_free_port() {
	local p
	for _ in $(seq 1 200); do
		p=$((20000 + RANDOM % 12000)) # below the kernel's ephemeral range (32768-60999)
		if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

pp_cluster_start() {
	PP_DIR=$(mktemp -d /tmp/pinpipe-test.XXXXXX)
	chmod 755 "$PP_DIR"
	chown "$PP_OS_USER" "$PP_DIR" 2>/dev/null || true
	PP_DATA=$PP_DIR/data
	PP_SOCK=$PP_DIR
	PP_PORT=${PP_PORT:-5432}
	PP_LOG=$PP_DIR/server.log
	pp_as_owner "$PP_PGBIN/initdb" -D "$PP_DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$PP_DIR/initdb.log" 2>&1 ||
		{ cat "$PP_DIR/initdb.log"; return 1; }
	{
		echo "listen_addresses = ''"
		echo "unix_socket_directories = '$PP_SOCK'"
		echo "port = $PP_PORT"
		echo "shared_preload_libraries = 'pg_cron,pinpipe'"
		echo "cron.database_name = 'postgres'"
		echo "max_worker_processes = 32"
		echo "fsync = off"
		echo "log_min_messages = info"
		echo "pinpipe.http_port = 0"
		for line in "$@"; do echo "$line"; done
	} >>"$PP_DATA/postgresql.conf"
	if [ -z "${PP_KEEP:-}" ]; then
		pp_cleanup "rm -rf '$PP_DIR'"
	fi
	pp_cleanup "pp_cluster_stop immediate"
	pp_cluster_up
	export PGHOST=$PP_SOCK PGPORT=$PP_PORT PGUSER=postgres PGDATABASE=postgres
}

# Append settings to postgresql.conf (take effect on reload or restart).
pp_conf() {
	local line
	for line in "$@"; do echo "$line" >>"$PP_DATA/postgresql.conf"; done
}

pp_cluster_up() {
	pp_as_owner "$PP_PGBIN/pg_ctl" -D "$PP_DATA" -l "$PP_LOG" -w -t 60 start >/dev/null ||
		{ tail -n 50 "$PP_LOG"; return 1; }
}

pp_cluster_stop() {
	local mode=${1:-fast}
	[ -n "${PP_DATA:-}" ] && [ -f "$PP_DATA/postmaster.pid" ] || return 0
	pp_as_owner "$PP_PGBIN/pg_ctl" -D "$PP_DATA" -m "$mode" -w -t 60 stop >/dev/null 2>&1 || true
}

pp_cluster_restart() { pp_cluster_stop "${1:-fast}"; pp_cluster_up; }

pp_cluster_reload() { pp_as_owner "$PP_PGBIN/pg_ctl" -D "$PP_DATA" reload >/dev/null; }

pp_psql() { "$PP_PGBIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
pp_sql() { "$PP_PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -A -t -c "$1"; }

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

# Run a pg_regress-family runner (pg_regress, pg_isolation_regress) over tests in this
# tree (inputs in sql/ or specs/, expected output in expected/) against the private
# cluster; print its diffs, then its own summary again as the closing lines; return its status.
pp_regress_run() {
	local runner=$1 out=$2 db=$3 status
	shift 3
	mkdir -p "$out"
	"$runner" --inputdir="$PP_REPO" --outputdir="$out" --bindir="$PP_PGBIN" \
		--host="$PP_SOCK" --port="$PP_PORT" --user=postgres --dbname="$db" --load-extension=pinpipe \
		"$@" >"$out/summary.txt" 2>&1
	status=$?
	[ -f "$out/regression.diffs" ] && cat "$out/regression.diffs"
	cat "$out/summary.txt"
	return "$status"
}
