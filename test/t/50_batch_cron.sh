#!/usr/bin/env bash
# test/t/50_batch_cron.sh — pg_cron itself runs the scheduled batch in the private
# server: schedule_batch registers the job (stable name, rescheduling updates it),
# cron.job_run_details shows a succeeded run of it, batch_runs agrees and the
# archive holds every pin; unschedule_batch removes the job.
# pg_cron 1.4 has no seconds syntax, so the job runs every minute (the wait is
# bounded at 150 s; a condition, never a sleep, decides).
set -uo pipefail
source "$(dirname "$0")/../lib.sh"

pp_cluster_start || { fail "cluster start"; pp_done; }
# pg_cron connects with libpq; the test server has only its Unix socket.
pp_conf "cron.host = '$PP_SOCK'"
pp_cluster_restart || { fail "cluster restart"; pp_done; }

pp_psql -c 'CREATE EXTENSION pg_cron' -c 'CREATE EXTENSION pinpipe' >/dev/null || { fail "create extensions"; pp_done; }

# The real sample through the real ingest path, in arrays of 200 pins.
pp_psql >/dev/null <<SQL || fail "load sample"
CREATE TEMP TABLE s (n serial, payload text);
\copy s (payload) FROM '$PP_SHARED_DATA/pins_sample.jsonl' WITH (FORMAT csv, QUOTE e'\x01', DELIMITER e'\x02')
SELECT sum(i.accepted)
  FROM generate_series(0, (SELECT count(*) FROM s) / 200) g,
       LATERAL pinpipe.ingest((SELECT jsonb_agg(payload::jsonb ORDER BY n) FROM s WHERE n > g * 200 AND n <= g * 200 + 200)) i;
SQL
total=$(pp_sql "SELECT count(*) FROM pinpipe.raw_pins")
uniq=$(pp_sql "SELECT count(DISTINCT unique_id) FROM pinpipe.pins")
check "sample ingested" "$total" "$(wc -l <"$PP_SHARED_DATA/pins_sample.jsonl")"
check "nothing archived before cron ran" "$(pp_sql 'SELECT count(*) FROM pinpipe_archive.pins')" 0

job=$(pp_sql "SELECT pinpipe.schedule_batch('*/5 * * * *')")
check "job registered" "$(pp_sql "SELECT schedule || ' | ' || command || ' | ' || database FROM cron.job WHERE jobid = $job")" \
	"*/5 * * * * | CALL pinpipe.run_batch() | postgres"
job2=$(pp_sql "SELECT pinpipe.schedule_batch('* * * * *')")
check "rescheduling keeps the job id" "$job2" "$job"
check "rescheduling updates the schedule" "$(pp_sql "SELECT count(*) || ' ' || min(schedule) FROM cron.job WHERE jobname = 'pinpipe-run-batch'")" "1 * * * * *"

if pp_wait_for "[ \"\$(pp_sql \"SELECT count(*) FROM cron.job_run_details WHERE jobid = $job AND status IN ('succeeded', 'failed')\")\" -ge 1 ]" 150 "a finished pg_cron run of job $job"; then
	ok "pg_cron ran the job"
else
	fail "pg_cron did not run the job"
fi
check "cron.job_run_details: succeeded" \
	"$(pp_sql "SELECT status || ' ' || command FROM cron.job_run_details WHERE jobid = $job AND status <> 'running' ORDER BY runid LIMIT 1")" \
	"succeeded CALL pinpipe.run_batch()"
pp_sql "SELECT status, return_message FROM cron.job_run_details WHERE jobid = $job" | head -n 3
check "batch_runs: a succeeded run that read every raw pin" \
	"$(pp_sql "SELECT status || ' ' || raw_rows FROM pinpipe.batch_runs WHERE raw_rows > 0 ORDER BY id LIMIT 1")" "succeeded $total"
check "archive: one row per unique_id" "$(pp_sql 'SELECT count(*) FROM pinpipe_archive.pins')" "$uniq"
check "rollups: every post counted once" "$(pp_sql 'SELECT sum(posts) FROM pinpipe_archive.category_daily')" "$total"
check "13 categories rolled up" "$(pp_sql 'SELECT count(DISTINCT category) FROM pinpipe_archive.category_daily')" 13
check "nothing pending after the run" "$(pp_sql 'SELECT pending_raw_rows FROM pinpipe.batch_status')" 0
check "serving view equals the archive" \
	"$(pp_sql "SELECT sum(posts) || ' ' || sum(distinct_pins) || ' ' || sum(live_posts) FROM pinpipe.category_stats")" "$total $uniq 0"

check "unschedule_batch removes the job" "$(pp_sql 'SELECT pinpipe.unschedule_batch()')" t
check "job gone" "$(pp_sql "SELECT count(*) FROM cron.job WHERE jobname = 'pinpipe-run-batch'")" 0
check "unschedule_batch again: false" "$(pp_sql 'SELECT pinpipe.unschedule_batch()')" f

pp_done
