# bench/bench_lib.sh — SQL shared by the benchmarks (source it).

# The cleaning rules as plain SQL expressions over relation $1 (a column j jsonb).
sql_clean() { sed "s/__SRC__/$1/" "$(dirname "${BASH_SOURCE[0]}")/sql_cleaning.sql" | grep -v '^--'; }

# The SQL-only write path over staging relation $1 (a column line text): the same writes
# as pinpipe's sink (raw log, cleaned rows, live aggregates) without pinpipe's C, one
# set-based statement per table, in one transaction. OFFSET 0 keeps the planner from
# flattening the subquery, which would re-parse the payload for every j->>'field'
# and make the baseline look several times slower than it is.
sql_only_path() {
	cat <<SQL
BEGIN;
INSERT INTO pinpipe.raw_pins (source, payload) SELECT 'sql', line FROM $1;
INSERT INTO pinpipe.pins (raw_id, received_at, source, ind, unique_id, title, description, poster_name,
    follower_count, tag_list, is_image_or_video, image_src, downloaded, save_location, category, error_fields)
SELECT x.id, x.received_at, 'sql', x.ind, x.unique_id, x.title, x.description, x.poster_name,
    x.follower_count, x.tag_list, x.is_image_or_video, x.image_src, x.downloaded, x.save_location,
    x.category, x.error_fields
FROM ($(sql_clean "(SELECT id, received_at, payload::jsonb AS j FROM pinpipe.raw_pins OFFSET 0)")) x;
INSERT INTO pinpipe.category_minute AS c
SELECT date_trunc('minute', now()), coalesce(category, '(none)'), count(*),
       count(*) FILTER (WHERE error_fields <> '{}'), coalesce(sum(follower_count), 0), count(follower_count),
       count(*) FILTER (WHERE is_image_or_video = 'image'), count(*) FILTER (WHERE is_image_or_video = 'video'),
       count(*) FILTER (WHERE is_image_or_video LIKE 'multi-video%'),
       count(*) FILTER (WHERE is_image_or_video IS NULL OR is_image_or_video NOT IN ('image', 'video')
                              AND is_image_or_video NOT LIKE 'multi-video%'),
       count(*) FILTER (WHERE downloaded <> 0)
FROM pinpipe.pins GROUP BY 1, 2
ON CONFLICT (minute, category) DO UPDATE SET posts = c.posts + EXCLUDED.posts;
COMMIT;
SQL
}

# bench_make_lines N: table sample (the real pins) and bench_lines (n, line): N pins from
# the sample, repeated, each with a fresh unique_id.
bench_make_lines() {
	pp_psql -c "CREATE TABLE sample(line text)"
	pp_psql -c "\\copy sample FROM '$PP_SHARED_DATA/pins_sample.jsonl' WITH (FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01')"
	pp_psql -c "CREATE TABLE bench_lines AS
	    SELECT row_number() OVER () AS n,
	           (s.line::jsonb || jsonb_build_object('unique_id', gen_random_uuid()))::text AS line
	    FROM generate_series(1, ceil($1 / 3852.0)::int) g, sample s LIMIT $1"
}

# bench_make_batches BATCH: tables bench_text (NDJSON) and bench_jsonb (arrays) of BATCH
# pins each from bench_lines, as a client sends them (EXTERNAL: not compressed in TOAST).
bench_make_batches() {
	pp_psql -c "CREATE TABLE bench_text (p text); ALTER TABLE bench_text ALTER p SET STORAGE EXTERNAL;
	  CREATE TABLE bench_jsonb (p jsonb); ALTER TABLE bench_jsonb ALTER p SET STORAGE EXTERNAL;
	  INSERT INTO bench_text SELECT string_agg(line, E'\\n' ORDER BY n) FROM bench_lines GROUP BY (n - 1) / $1;
	  INSERT INTO bench_jsonb SELECT jsonb_agg(line::jsonb ORDER BY n) FROM bench_lines GROUP BY (n - 1) / $1" >/dev/null
}

# SQL for the CPU time (utime + stime, in clock ticks) of the backend running it, from
# /proc (superuser): a measure that other work on a shared machine disturbs far less
# than the wall clock.
BENCH_CPU_TICKS="(split_part(pg_read_file('/proc/self/stat'), ' ', 14)::bigint + split_part(pg_read_file('/proc/self/stat'), ' ', 15)::bigint)"
BENCH_CLK_TCK=$(getconf CLK_TCK)

# bench_timed SQL: "wall_seconds cpu_seconds" of running SQL in one backend.
bench_timed() {
	pp_psql -A -t -f - <<SQL | tail -n 1
SELECT extract(epoch FROM clock_timestamp()) AS t0, $BENCH_CPU_TICKS AS c0 \\gset
$1;
SELECT round((extract(epoch FROM clock_timestamp()) - :t0)::numeric, 3) || ' ' || round(($BENCH_CPU_TICKS - :c0) / $BENCH_CLK_TCK.0, 3);
SQL
}

# bench_lag_hist PORT SOURCE: the server's lag histogram pinpipe_ingest_lag_seconds{source=SOURCE}
# (commit minus arrival (http) or minus the Kafka message's timestamp (kafka)) from the
# /metrics of the HTTP worker on PORT, as "le count" lines.
bench_lag_hist() {
	curl -s "http://127.0.0.1:$1/metrics" |
		sed -n "s/^pinpipe_ingest_lag_seconds_bucket{source=\"$2\",le=\"\([^\"]*\)\"} \([0-9]*\)\$/\1 \2/p"
}

# bench_lag_q BEFORE AFTER Q: quantile Q in ms of the difference of two bench_lag_hist
# snapshots (linear within a bucket, as PromQL's histogram_quantile).
bench_lag_q() {
	awk -v q="$3" 'FNR == NR { before[FNR] = $2; next }
		{ le[FNR] = $1; c[FNR] = $2 - before[FNR]; n = FNR }
		END {
			if (n == 0 || c[n] == 0) { print "n/a"; exit }
			t = q * c[n]; lo = 0; prev = 0
			for (i = 1; i <= n; i++) {
				if (c[i] >= t) {
					if (le[i] == "+Inf") { printf ">%.0f", lo * 1000; exit }
					printf "%.1f", (lo + (le[i] - lo) * (t - prev) / (c[i] - prev > 0 ? c[i] - prev : 1)) * 1000; exit
				}
				lo = le[i]; prev = c[i]
			}
		}' "$1" "$2"
}

# bench_valid_pins IN OUT: the pins of JSONL file IN that pinpipe and the reference API both
# accept (a string unique_id that is a UUID), one per line, into OUT.
bench_valid_pins() {
	jq -c 'select((.unique_id|type) == "string" and (.unique_id|test("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")))' \
		"$1" >"$2"
}
