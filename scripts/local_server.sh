# shellcheck shell=bash
# scripts/local_server.sh — a private server for the demo and the benchmarks (not the tests:
# their servers come from PostgreSQL::Test::Cluster through test/run_shell.pl).
# Source after test/lib.sh; it replaces lib.sh's pp_cluster_start:
#   pp_cluster_start [postgresql.conf lines...]   initdb as the unprivileged server user, listen
#       on a Unix socket in its own directory only, preload pg_cron and pinpipe, start; the
#       directory ($PP_DIR) is removed and the server stopped at exit unless PP_KEEP=1.
# lib.sh's pp_conf, pp_cluster_up/stop/restart/reload work on it as on a test's node.

pp_cluster_start() {
	PP_DIR=$(mktemp -d /tmp/pinpipe-server.XXXXXX)
	chmod 755 "$PP_DIR"
	chown "$PP_OS_USER" "$PP_DIR" 2>/dev/null || true
	PP_DATA=$PP_DIR/data
	PP_SOCK=$PP_DIR
	PP_PORT=${PP_PORT:-5432}
	PP_LOG=$PP_DIR/server.log
	pp_as_owner "$PP_PGBIN/initdb" -D "$PP_DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$PP_DIR/initdb.log" 2>&1 ||
		{ cat "$PP_DIR/initdb.log"; return 1; }
	pp_conf "listen_addresses = ''" "unix_socket_directories = '$PP_SOCK'" "port = $PP_PORT" \
		"shared_preload_libraries = 'pg_cron,pinpipe'" "cron.database_name = 'postgres'" \
		"max_worker_processes = 32" "fsync = off" "log_min_messages = info" "pinpipe.http_port = 0" "$@"
	[ -n "${PP_KEEP:-}" ] || pp_cleanup "rm -rf '$PP_DIR'"
	pp_cleanup "pp_cluster_stop immediate"
	pp_cluster_up
	export PGHOST=$PP_SOCK PGPORT=$PP_PORT PGUSER=postgres PGDATABASE=postgres
}
