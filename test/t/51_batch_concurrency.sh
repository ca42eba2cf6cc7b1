#!/usr/bin/env bash
# test/t/51_batch_concurrency.sh — run_batch under concurrency, made deterministic
# with locks rather than timing:
#  1. two connections CALL run_batch at once: the second waits on the batch's
#     advisory lock while the first is held up mid-run, then archives only what
#     arrived after the first run's snapshot; nothing is counted twice;
#     run_batch(wait => false) meanwhile returns at once, recorded as skipped;
#  2. a transaction still open when a run starts (it has written raw pins) is not
#     skipped: its rows are archived by the first run after it commits, although
#     later transactions committed and were archived before it.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"

pp_cluster_start || { fail "cluster start"; pp_done; }
pp_psql -c 'CREATE EXTENSION pinpipe' >/dev/null || { fail "create extension"; pp_done; }

FIFOS=()
# A psql session fed through a FIFO: sess_open NAME; sess NAME 'sql'; sess_close NAME.
sess_open() {
	local f=$PP_DIR/$1.fifo
	mkfifo "$f"
	PGAPPNAME=$1 "$PP_PGBIN/psql" -X -q -v ON_ERROR_STOP=1 <"$f" >"$PP_DIR/$1.out" 2>&1 &
	eval "exec {fd_$1}>\"$f\""
	pp_cleanup "kill $! 2>/dev/null"
}
sess() { local v="fd_$1"; echo "$2" >&"${!v}"; }
sess_close() { local v="fd_$1"; eval "exec ${!v}>&-"; }
# wait_event of the backend with application_name $1
wait_event_of() { pp_sql "SELECT wait_event_type || ':' || wait_event FROM pg_stat_activity WHERE application_name = '$1'"; }
# state (active, idle, idle in transaction) of that backend
state_of() { pp_sql "SELECT state FROM pg_stat_activity WHERE application_name = '$1'"; }

# $1 pins with ids from $2 via pinpipe.ingest in the caller's transaction, in categories
# ${3:-art,travel,quotes} (an open ingesting transaction holds its category_minute rows)
pins_sql() {
	local cats=${3:-art,travel,quotes}
	echo "SELECT pinpipe.ingest(jsonb_agg(jsonb_build_object('index', g, 'unique_id', '00000000-0000-4000-8000-' || lpad(g::text, 12, '0'),
	  'title', 't', 'description', 'd', 'poster_name', 'p', 'follower_count', (g % 1000)::text || 'k', 'tag_list', 'a,b',
	  'is_image_or_video', 'image', 'image_src', 'https://i.pinimg.com/x.jpg', 'downloaded', 1,
	  'save_location', 'Local save in /data/art', 'category', (string_to_array('$cats', ','))[g % 3 + 1])))
	  FROM generate_series($2, $2 + $1 - 1) g;"
}

# ---- 1. two concurrent runs
pp_psql -c "$(pins_sql 150 1)" -c "$(pins_sql 150 1)" >/dev/null   # 300 events, 150 pins

# H holds the rollup table, so run A stops mid-run while holding the batch lock.
sess_open H
sess H "BEGIN; LOCK TABLE pinpipe_archive.category_daily IN ACCESS EXCLUSIVE MODE; SELECT 'locked';"
pp_wait_for "[ \"\$(state_of H)\" = 'idle in transaction' ]" 30 "H holds the lock" || fail "H did not lock"

PGAPPNAME=A pp_psql -c 'CALL pinpipe.run_batch()' >"$PP_DIR/A.out" 2>&1 &
pid_a=$!
pp_wait_for "[ \"\$(wait_event_of A)\" = 'Lock:relation' ]" 30 "run A blocked mid-run" && ok "run A is mid-run, holding the batch lock"

# New events after A's snapshot: they are B's to archive.
pp_psql -c "$(pins_sql 50 1000)" >/dev/null

PGAPPNAME=B pp_psql -c 'CALL pinpipe.run_batch()' >"$PP_DIR/B.out" 2>&1 &
pid_b=$!
pp_wait_for "[ \"\$(wait_event_of B)\" = 'Lock:advisory' ]" 30 "run B waiting for the batch lock" && ok "run B waits on the advisory lock"

# wait => false returns at once and says so
PGAPPNAME=C pp_psql -c 'CALL pinpipe.run_batch(wait => false)' >/dev/null 2>&1
check "run_batch(wait => false) recorded as skipped" "$(pp_sql "SELECT count(*) FROM pinpipe.batch_runs WHERE status = 'skipped'")" 1
check "only one run is running" "$(pp_sql "SELECT count(*) FROM pinpipe.batch_runs WHERE status = 'running'")" 1

sess H "COMMIT;"
wait $pid_a; st_a=$?
wait $pid_b; st_b=$?
check "run A succeeded" "$st_a" 0
check "run B succeeded" "$st_b" 0
cat "$PP_DIR/A.out" "$PP_DIR/B.out"
check "runs: A read the first 300 events, B the 50 that came after A's snapshot" \
	"$(pp_sql "SELECT string_agg(status || ':' || raw_rows, ' ' ORDER BY id) FROM pinpipe.batch_runs WHERE status <> 'skipped'")" \
	"succeeded:300 succeeded:50"
check "archive: one row per pin" "$(pp_sql 'SELECT count(*) FROM pinpipe_archive.pins')" 200
check "archive: every event counted once" "$(pp_sql 'SELECT sum(events) FROM pinpipe_archive.pins')" 350
check "rollups: posts and pins" "$(pp_sql "SELECT sum(posts) || ' ' || sum(distinct_pins) FROM pinpipe_archive.category_daily")" "350 200"
sess_close H

# ---- 2. an in-flight transaction is not skipped by the watermark
sess_open T
sess T "BEGIN; $(pins_sql 20 5000) SELECT 'written';"
pp_wait_for "[ \"\$(state_of T)\" = 'idle in transaction' ]" 30 "T wrote and stays open" || fail "T did not write"
# committed after T started (other categories: T holds its live-minute rows)
pp_psql -c "$(pins_sql 30 6000 tattoos,vehicles,finance)" >/dev/null
pp_psql -c 'CALL pinpipe.run_batch()' >/dev/null || fail "run during T"
check "run during T: T's rows and everything after T's xid wait" \
	"$(pp_sql "SELECT raw_rows FROM pinpipe.batch_runs ORDER BY id DESC LIMIT 1")" 0
check "serving view: the committed live rows count, T's do not" \
	"$(pp_sql "SELECT sum(posts) || ' ' || sum(live_posts) FROM pinpipe.category_stats")" "380 30"
sess T "COMMIT;"
pp_wait_for "[ \"\$(state_of T)\" = 'idle' ]" 30 "T committed" || fail "T did not commit"
pp_psql -c 'CALL pinpipe.run_batch()' >/dev/null || fail "run after T"
check "run after T: T's 20 rows and the 30 later ones" \
	"$(pp_sql "SELECT raw_rows FROM pinpipe.batch_runs ORDER BY id DESC LIMIT 1")" 50
check "archive: pins and events" "$(pp_sql "SELECT count(*) || ' ' || sum(events) FROM pinpipe_archive.pins")" "250 400"
check "the pin → day index agrees with the archive" \
	"$(pp_sql "SELECT count(*) FILTER (WHERE k.day = a.day) || ' ' || (SELECT count(*) FROM pinpipe.archive_pin_days) FROM pinpipe_archive.pins a LEFT JOIN pinpipe.archive_pin_days k USING (unique_id)")" "250 250"
check "raw log and archive agree" "$(pp_sql 'SELECT count(*) FROM pinpipe.raw_pins')" 400
# a full rebuild equals what the incremental runs built
before=$(pp_sql "SELECT md5(string_agg(a::text, '|' ORDER BY unique_id)) FROM pinpipe_archive.pins a")
pp_psql -c 'CALL pinpipe.run_batch(full => true)' >/dev/null || fail "full rebuild"
check "full rebuild equals the incremental archive" \
	"$(pp_sql "SELECT md5(string_agg(a::text, '|' ORDER BY unique_id)) FROM pinpipe_archive.pins a")" "$before"
sess_close T

pp_done
