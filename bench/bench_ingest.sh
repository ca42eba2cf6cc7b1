#!/usr/bin/env bash
# bench/bench_ingest.sh — issue 2's benchmarks, in one run on one private server:
#   1. cleaning: pinpipe.clean_pin (C) vs the same rules as SQL expressions (bench/sql_cleaning.sql)
#   2. writing:  pinpipe.ingest() on batches vs the SQL-only path (text → jsonb → SQL cleaning →
#                INSERT raw log, pins, aggregates) vs COPY of already-cleaned rows into pins (ceiling)
# Data: the real sample (../shared/data/pins_sample.jsonl) repeated with fresh unique_ids.
# BENCH_PINS (default 1000000) pins; BENCH_BATCH (default 5000) pins per ingest() call.
# Prints rows/s and ratios; decides nothing (tests never assert timings).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${BENCH_PINS:-1000000}
BATCH=${BENCH_BATCH:-5000}
PP_PGBIN=$(bash scripts/tmp_install.sh)
export PP_PGBIN
source test/lib.sh
source scripts/local_server.sh
source bench/bench_lib.sh
pp_cluster_start "shared_buffers = 1GB" "max_wal_size = 8GB" "checkpoint_timeout = 30min" \
	"max_parallel_workers_per_gather = 0" "jit = off" >/dev/null
pp_psql -c "CREATE EXTENSION pinpipe"

echo "bench_ingest: preparing $N pins from the real sample..."
pp_psql -c "CREATE TABLE sample(line text)"
pp_psql -c "\\copy sample FROM '$PP_SHARED_DATA/pins_sample.jsonl' WITH (FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01')"
pp_psql -c "CREATE TABLE bench_lines AS
    SELECT row_number() OVER () AS n,
           (s.line::jsonb || jsonb_build_object('unique_id', gen_random_uuid()))::text AS line
    FROM generate_series(1, ceil($N / 3852.0)::int) g, sample s LIMIT $N;
  CREATE TABLE bench_json AS SELECT n, line::jsonb AS j FROM bench_lines"
pp_psql -c "VACUUM ANALYZE bench_lines" -c "VACUUM ANALYZE bench_json"

# Seconds taken by one SQL command (wall clock on the client).
timed() {
	local t0 t1
	t0=$(date +%s.%N)
	pp_psql -c "$1" >/dev/null
	t1=$(date +%s.%N)
	echo "$t1 - $t0" | bc -l
}
rate() { echo "$N / $1" | bc -l | xargs printf '%.0f'; }
ratio() { echo "$1 / $2" | bc -l | xargs printf '%.2f'; }

echo "bench_ingest: 1. cleaning"
# Both sides build the same 13-column row, so every column is computed and nothing more.
cols() { echo "$1.ind, $1.unique_id, $1.title, $1.description, $1.poster_name, $1.follower_count, $1.tag_list,
    $1.is_image_or_video, $1.image_src, $1.downloaded, $1.save_location, $1.category, $1.error_fields"; }
t_c=$(timed "SELECT count(ROW($(cols c))) FROM bench_json b, LATERAL pinpipe.clean_pin(b.j) c")
t_sql=$(timed "SELECT count(ROW($(cols x))) FROM ($(sql_clean bench_json)) x")
same=$(pp_sql "SELECT count(*) FROM ($(sql_clean bench_json)) x, LATERAL pinpipe.clean_pin(x.j) c
    WHERE (c.ind, c.unique_id, c.title, c.description, c.poster_name, c.follower_count, c.tag_list,
           c.is_image_or_video, c.image_src, c.downloaded, c.save_location, c.category, c.error_fields)
      IS DISTINCT FROM (x.ind, x.unique_id, x.title, x.description, x.poster_name, x.follower_count,
           x.tag_list, x.is_image_or_video, x.image_src, x.downloaded, x.save_location, x.category, x.error_fields)")

echo "bench_ingest: 2. writing (ingest on batches of $BATCH)"
# Touch all of shared_buffers first, so no write path pays the first-touch page faults alone.
pp_psql -c "CREATE EXTENSION pg_prewarm" -c "SELECT pg_prewarm('bench_json')" -c "SELECT pg_prewarm('bench_lines')" >/dev/null
truncate_all() { pp_psql -c "TRUNCATE pinpipe.raw_pins, pinpipe.pins, pinpipe.category_minute, pinpipe.dead_letters" -c "CHECKPOINT"; }
truncate_all
t_ingest=$(timed "SELECT sum(i.accepted)
    FROM (SELECT jsonb_agg(line::jsonb ORDER BY n) AS p FROM bench_lines GROUP BY (n - 1) / $BATCH) b,
         LATERAL pinpipe.ingest(b.p) i")
accepted=$(pp_sql "SELECT count(*) FROM pinpipe.pins")
truncate_all
t_itext=$(timed "SELECT sum(i.accepted)
    FROM (SELECT string_agg(line, E'\\n' ORDER BY n) AS p FROM bench_lines GROUP BY (n - 1) / $BATCH) b,
         LATERAL pinpipe.ingest_text(b.p) i")
accepted_text=$(pp_sql "SELECT count(*) FROM pinpipe.pins")

# COPY ceiling: the same cleaned rows, already cleaned, into the same pins table.
pp_psql -c "COPY pinpipe.pins TO '$PP_DIR/pins.copy'"
truncate_all
t_copy=$(timed "COPY pinpipe.pins FROM '$PP_DIR/pins.copy'")

# SQL-only path: the same writes (raw log, cleaned rows, aggregates) without pinpipe's C.
truncate_all
t_sqlpath=$(timed "$(sql_only_path bench_lines)")

cat <<REPORT

pinpipe bench_ingest: $N pins (real sample with fresh unique_ids), one server, one session,
no parallel query; PostgreSQL $(pp_sql "SHOW server_version"), $(nproc) cores.

1. Cleaning                        seconds     rows/s
   C  pinpipe.clean_pin()        $(printf '%8.2f %10s' "$t_c" "$(rate "$t_c")")
   SQL expressions (baseline)    $(printf '%8.2f %10s' "$t_sql" "$(rate "$t_sql")")
   ratio C / SQL                 $(ratio "$t_sql" "$t_c")x      (goal >= 5x)
   rows where the two disagree:  $same

2. Writing (raw log + pins + live aggregates)
   ingest(jsonb) x $BATCH         $(printf '%8.2f %10s' "$t_ingest" "$(rate "$t_ingest")")   ($accepted accepted; text -> jsonb -> sink)
   ingest_text(text) x $BATCH     $(printf '%8.2f %10s' "$t_itext" "$(rate "$t_itext")")   ($accepted_text accepted; text -> sink, as the workers)
   SQL-only path (baseline)      $(printf '%8.2f %10s' "$t_sqlpath" "$(rate "$t_sqlpath")")
   COPY cleaned rows into pins   $(printf '%8.2f %10s' "$t_copy" "$(rate "$t_copy")")   (ceiling: pins only, one table)
   ratio ingest(jsonb) / SQL-only    $(ratio "$t_sqlpath" "$t_ingest")x   (goal >= 3x)
   ratio ingest_text / SQL-only      $(ratio "$t_sqlpath" "$t_itext")x
   ratio ingest(jsonb) / COPY        $(ratio "$t_copy" "$t_ingest")x   (goal >= 0.5x)
   ratio ingest_text / COPY          $(ratio "$t_copy" "$t_itext")x
REPORT
