#!/usr/bin/env bash
# bench/bench_batch.sh — the batch layer over a large raw log.
#
#   BENCH_PINS=1000000 bash bench/bench_batch.sh
#
# Loads BENCH_PINS raw pins (default 1,000,000) into a private server, made from
# the real sample ($PP_SHARED_DATA/pins_sample.jsonl) with fresh unique_ids; every
# 10th event resends the previous pin (dedup work) and received_at spreads over 30
# days (30 partitions). Then measures, each against a baseline from the same run:
#   1. the first incremental run over the whole raw log (rows/s), against the
#      cost of just cleaning those rows (SELECT … FROM raw_pins, clean_pin(payload));
#   2. a run with nothing new (ms; median of BENCH_NOOP_RUNS, default 10);
#   3. a run over 1% new events (half of them resends of archived pins);
#   4. a full rebuild (run_batch(full => true)), which must equal the incremental archive.
set -uo pipefail
source "$(dirname "$0")/../test/lib.sh"
source "$(dirname "$0")/../scripts/local_server.sh"
N=${BENCH_PINS:-1000000}
NOOP_RUNS=${BENCH_NOOP_RUNS:-10}
SAMPLE=$PP_SHARED_DATA/pins_sample.jsonl
[ -r "$SAMPLE" ] || { echo "bench_batch: $SAMPLE not readable"; exit 1; }

pp_cluster_start "shared_buffers = '512MB'" "max_wal_size = '4GB'" "checkpoint_timeout = '30min'" || exit 1
pp_psql -c 'CREATE EXTENSION pinpipe' >/dev/null || exit 1

# millisecond timing of one statement, measured by the server
ms() { pp_sql "SELECT round(extract(epoch FROM clock_timestamp() - '$1'::timestamptz) * 1000, 1)"; }

echo "bench_batch: loading $N raw pins"
t0=$(pp_sql 'SELECT clock_timestamp()')
pp_psql >/dev/null <<SQL || exit 1
CREATE TABLE bench_sample (n serial PRIMARY KEY, uid text, payload text);
\copy bench_sample (payload) FROM '$SAMPLE' WITH (FORMAT csv, QUOTE e'\x01', DELIMITER e'\x02')
UPDATE bench_sample SET uid = payload::jsonb ->> 'unique_id';
-- event g: pin g, except every 10th event resends pin g-1
INSERT INTO pinpipe.raw_pins (source, received_at, payload)
SELECT 'sql',
       timestamptz '2024-01-01 00:00+00' + (g::float8 / $N) * interval '30 days',
       replace(s.payload, s.uid, md5((CASE WHEN g % 10 = 0 THEN g - 1 ELSE g END)::text)::uuid::text)
  FROM generate_series(1, $N) g
  JOIN bench_sample s ON s.n = (CASE WHEN g % 10 = 0 THEN g - 1 ELSE g END) % (SELECT count(*) FROM bench_sample) + 1;
VACUUM ANALYZE pinpipe.raw_pins;
SQL
echo "bench_batch: loaded in $(ms "$t0") ms; raw log $(pp_sql "SELECT pg_size_pretty(pg_total_relation_size('pinpipe.raw_pins'))")"

# Baseline: cleaning every raw row, nothing written.
t0=$(pp_sql 'SELECT clock_timestamp()')
pp_sql 'SELECT count(c.unique_id) FROM pinpipe.raw_pins r CROSS JOIN LATERAL pinpipe.clean_pin(r.payload) c' >/dev/null
clean_ms=$(ms "$t0")

# 1. the first run over the whole log
pp_psql -c 'CALL pinpipe.run_batch()' || exit 1
read -r rows pins days first_ms <<<"$(pp_sql "SELECT raw_rows, pins_written, days_recomputed,
    round(extract(epoch FROM finished_at - started_at) * 1000, 1) FROM pinpipe.batch_runs ORDER BY id DESC LIMIT 1" | tr '|' ' ')"
[ "$rows" = "$N" ] || { echo "bench_batch: the run read $rows rows, not $N"; exit 1; }

# 2. nothing new: median of client-observed CALL durations
noop=()
for _ in $(seq 1 "$NOOP_RUNS"); do
	t=$( { TIMEFORMAT=%R; time pp_psql -c 'CALL pinpipe.run_batch()' >/dev/null; } 2>&1 )
	noop+=("$t")
done
noop_client_ms=$(printf '%s\n' "${noop[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)] * 1000}')
noop_server_ms=$(pp_sql "SELECT round((percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - started_at)) * 1000)::numeric, 2)
    FROM (SELECT * FROM pinpipe.batch_runs ORDER BY id DESC LIMIT $NOOP_RUNS) r WHERE raw_rows = 0")
# baseline: a connection running an empty statement
base=$( { TIMEFORMAT=%R; time pp_psql -c 'SELECT 1' >/dev/null; } 2>&1 )

# 3. 1% new events, half of them resends of archived pins (on new days)
M=$((N / 100))
pp_psql >/dev/null <<SQL || exit 1
INSERT INTO pinpipe.raw_pins (source, received_at, payload)
SELECT 'sql', timestamptz '2024-02-01 00:00+00' + (g::float8 / $M) * interval '1 day',
       replace(s.payload, s.uid, md5((CASE WHEN g % 2 = 0 THEN g ELSE $N + g END)::text)::uuid::text)
  FROM generate_series(1, $M) g
  JOIN bench_sample s ON s.n = g % (SELECT count(*) FROM bench_sample) + 1;
SQL
pp_psql -c 'CALL pinpipe.run_batch()' || exit 1
read -r inc_rows inc_pins inc_days inc_ms <<<"$(pp_sql "SELECT raw_rows, pins_written, days_recomputed,
    round(extract(epoch FROM finished_at - started_at) * 1000, 1) FROM pinpipe.batch_runs ORDER BY id DESC LIMIT 1" | tr '|' ' ')"

# 4. full rebuild equals the incremental archive
digest() { pp_sql "SELECT md5(string_agg(a::text, '|' ORDER BY unique_id)) FROM pinpipe_archive.pins a"; }
d1=$(digest)
pp_psql -c 'CALL pinpipe.run_batch(full => true)' || exit 1
read -r full_rows full_ms <<<"$(pp_sql "SELECT raw_rows, round(extract(epoch FROM finished_at - started_at) * 1000, 1)
    FROM pinpipe.batch_runs ORDER BY id DESC LIMIT 1" | tr '|' ' ')"
d2=$(digest)
same=no; [ "$d1" = "$d2" ] && same=yes

awk -v n="$N" -v first="$first_ms" -v clean="$clean_ms" -v pins="$pins" -v days="$days" \
	-v noopc="$noop_client_ms" -v noops="$noop_server_ms" -v base="$base" \
	-v m="$inc_rows" -v incms="$inc_ms" -v incpins="$inc_pins" -v incdays="$inc_days" \
	-v frows="$full_rows" -v fms="$full_ms" -v same="$same" 'BEGIN {
	printf "first run:   %d raw pins -> %d archived pins, %d days in %.0f ms = %.0f rows/s (cleaning alone: %.0f ms = %.0f rows/s; batch/clean time %.2fx)\n",
		n, pins, days, first, n / first * 1000, clean, n / clean * 1000, first / clean
	printf "nothing new: %.2f ms in the server, %.1f ms per CALL from a new psql (psql running SELECT 1: %.1f ms)\n",
		noops, noopc, base * 1000
	printf "1%% new:      %d raw pins (half resends) -> %d pins written, %d days recomputed in %.0f ms = %.0f rows/s\n",
		m, incpins, incdays, incms, m / incms * 1000
	printf "full:        %d raw pins rebuilt in %.0f ms = %.0f rows/s; equals incremental archive: %s\n",
		frows, fms, frows / fms * 1000, same
}'
[ "$same" = yes ]
