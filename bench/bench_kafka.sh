#!/usr/bin/env bash
# bench/bench_kafka.sh — Kafka → tables throughput of the consumer workers, with
# two baselines measured in the same run on the same rows:
#   COPY ceiling  COPY of the already-cleaned rows (raw log + pins) into the same tables
#   SQL-only      text → jsonb → SQL cleaning expressions → INSERT raw log, pins, aggregates
#                 (no pinpipe C code; the expressions are bench/sql_cleaning.sql, shared with
#                 bench/bench_ingest.sh), one set-based statement per table
# Prints a table with pins/s and ratios, and the consumer's peak RSS (VmHWM).
#
#   BENCH_PINS=1000000 bash bench/bench_kafka.sh       (default 1M; use e.g. 20000 to try it)
#   BENCH_PERF=1 ...     also profile the 1-worker run with perf (time by phase, top symbols)
#   BENCH_ROUNDS=3 ...   rounds of each consumer run and of COPY (default 3); the table shows
#                        each path's median, the rounds' figures are printed above it (one
#                        run of the same thing varies by ±20% on a shared 2-core machine)
#
# The whole backlog is produced into the dev broker before any consumer starts. The
# dev broker (librdkafka's mock cluster) keeps only ~5 MB of compressed message sets
# per partition, so the topic gets enough partitions to hold it (BENCH_PARTITIONS,
# default 64 for 1M pins), and the bench checks that every message was consumed.
set -uo pipefail
cd "$(dirname "$0")/.."
source test/lib.sh
source scripts/local_server.sh
source test/kafka_lib.sh

N=${BENCH_PINS:-1000000}
PARTS=${BENCH_PARTITIONS:-$(( N / 15000 > 4 ? N / 15000 : 4 ))}
BATCH=${BENCH_BATCH_SIZE:-5000}
ROUNDS=${BENCH_ROUNDS:-3}
DIR=$(mktemp -d /tmp/pinpipe-bench.XXXXXX)
chmod 755 "$DIR"
chown "$PP_OS_USER" "$DIR" 2>/dev/null || true
pp_cleanup "rm -rf '$DIR'"
now() { date +%s.%N; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }
die() { echo "bench: $*" >&2; exit 1; }
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
larger() { [ "$1" -gt "$2" ] && echo "$1" || echo "$2"; }

echo "# bench_kafka: $N pins, $PARTS partitions, batch_size $BATCH"
kafka_make_pins "$DIR/pins.jsonl" "$N" 77 0 >/dev/null
chmod 644 "$DIR/pins.jsonl"
kafka_broker_start "$PARTS" || die "dev broker"
t0=$(now)
kafka_produce "$DIR/pins.jsonl" "$PARTS" || die "produce"
echo "# preloaded $N messages in $(awk -v a="$t0" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}') s"

# utime + stime (clock ticks) summed over processes.
proc_cpu() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo "$t"; }

# Messages the group G has committed: its stored next offsets, summed (the topic starts at
# offset 0). The bench polls this ten times a second while a worker runs; counting the rows
# instead (kafka_consumed) is a scan of the growing pins table, which took a large part of
# one of the two cores away from the worker being measured.
committed() { pp_sql "SELECT coalesce(sum(next_offset), 0) FROM pinpipe.kafka_offsets WHERE consumer_group = '$1'"; }

# One consumer run: fresh extension, W workers, group G; sets RUN_RATE, RUN_HWM.
consume_run() {
	local workers=$1 group=$2 c0 t1 t2 pids hwm p
	pp_psql -c "DROP EXTENSION IF EXISTS pinpipe" >/dev/null
	pp_cluster_stop fast
	pp_conf "pinpipe.consumer_workers = $workers" "pinpipe.consumer_group = '$group'"
	pp_cluster_up || die "restart"
	pp_psql -c "CREATE EXTENSION pinpipe" >/dev/null
	# measured once every worker holds partitions (the group's first rebalance is not the subject)
	pp_wait_for "[ \$(committed $group) -gt 0 ] && [ \$(pp_sql \"SELECT count(*) FROM pinpipe.workers WHERE kind = 'consumer' AND partitions > 0\") -eq $workers ]" 120 \
		"consumption to start on $workers worker(s)" || die "no consumption"
	t1=$(now)
	c0=$(committed "$group")
	local perfpid='' cpids cpu1
	# the workers' CPU time (all threads: backend and librdkafka's) over the measured interval
	cpids=$(pp_sql "SELECT string_agg(pid::text, ' ') FROM pinpipe.workers WHERE kind = 'consumer'")
	cpu1=$(proc_cpu $cpids)
	if [ -n "${BENCH_PERF:-}" ] && [ "$group" = bench1_1 ]; then
		# profile the one worker (its backend and librdkafka's threads) while it consumes
		perf record -q -F 199 --call-graph dwarf -p "$(pp_sql "SELECT pid FROM pinpipe.workers WHERE kind = 'consumer'")" \
			-o "$DIR/consumer.perf" 2>/dev/null &
		perfpid=$!
	fi
	# the largest private memory (RssAnon) any worker had during the run, sampled twice a second
	(
		local m=0 a
		while :; do
			for p in $cpids; do
				a=$(awk '/RssAnon/ {print $2}' "/proc/$p/status" 2>/dev/null)
				[ "${a:-0}" -gt "$m" ] && m=$a && echo "$m" >"$DIR/anon.max"
			done
			sleep 0.5
		done
	) &
	local sampler=$!
	pp_wait_for "[ \$(committed $group) -ge $N ]" 3600 "$N consumed" || die "timed out at $(committed "$group")"
	t2=$(now)
	kill "$sampler"
	wait "$sampler" 2>/dev/null
	RUN_ANON_MAX=$(cat "$DIR/anon.max" 2>/dev/null || echo 0)
	rm -f "$DIR/anon.max"
	RUN_CPU=$(awk -v a="$cpu1" -v b="$(proc_cpu $cpids)" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", (b - a) / hz }')
	if [ -n "$perfpid" ]; then
		kill -INT "$perfpid"
		wait "$perfpid"
		echo "# profile of 1 worker (load:$(uptime | sed 's/.*load average://')), time by phase:"
		perf script -F ip,sym -i "$DIR/consumer.perf" 2>/dev/null | python3 bench/perf_phases.py | sed 's/^/#   /'
		echo "# top symbols (self):"
		perf report -q -i "$DIR/consumer.perf" --no-children --sort dso,symbol --stdio -g none 2>/dev/null |
			sed 's/ *-  *- *$//' | grep -v '^$' | head -n 15 | sed 's/^/#   /'
	fi
	[ "$(kafka_consumed)" = "$N" ] || die "consumed $(kafka_consumed), expected $N"
	[ "$(pp_sql "SELECT count(*) FROM pinpipe.dead_letters")" = 0 ] || die "unexpected dead letters"
	RUN_RATE=$(rate $((N - c0)) "$(awk -v a="$t1" -v b="$t2" 'BEGIN{print b-a}')")
	RUN_N=$((N - c0))
	RUN_HWM=0 RUN_ANON=0
	pids=$(pp_sql "SELECT string_agg(pid::text, ' ') FROM pinpipe.workers WHERE kind = 'consumer'")
	for p in $pids; do
		hwm=$(awk '/VmHWM/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
		[ "${hwm:-0}" -gt "$RUN_HWM" ] && RUN_HWM=$hwm
		hwm=$(awk '/RssAnon/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
		[ "${hwm:-0}" -gt "$RUN_ANON" ] && RUN_ANON=$hwm
	done
	RUN_WORKERS_ROWS=$(pp_sql "SELECT string_agg(rows::text, '+' ORDER BY number) FROM pinpipe.workers WHERE kind = 'consumer'")
}

pp_cluster_start "pinpipe.kafka_brokers = '$KAFKA_BOOTSTRAP'" "pinpipe.consumer_workers = 0" \
	"pinpipe.batch_size = $BATCH" "shared_buffers = '512MB'" "max_wal_size = '4GB'" "checkpoint_timeout = '30min'"

# rounds W: ROUNDS consumer runs with W workers, each printed; sets ROUNDS_RATE (the
# median), ROUNDS_CPU and ROUNDS_N (sums), ROUNDS_HWM and ROUNDS_ANON_MAX (the largest),
# ROUNDS_ANON (at the end of the last run).
rounds() {
	local w=$1 r rates=()
	ROUNDS_CPU=0 ROUNDS_N=0 ROUNDS_HWM=0 ROUNDS_ANON_MAX=0
	for ((r = 1; r <= ROUNDS; r++)); do
		consume_run "$w" "bench${w}_$r"
		rates+=("$RUN_RATE") ROUNDS_HWM=$(larger "$RUN_HWM" "$ROUNDS_HWM") ROUNDS_ANON=$RUN_ANON
		ROUNDS_ANON_MAX=$(larger "$RUN_ANON_MAX" "$ROUNDS_ANON_MAX")
		ROUNDS_CPU=$(awk -v a="$ROUNDS_CPU" -v b="$RUN_CPU" 'BEGIN { print a + b }') ROUNDS_N=$((ROUNDS_N + RUN_N))
		echo "# $w worker(s), round $r: $RUN_RATE pins/s (rows per worker $RUN_WORKERS_ROWS), CPU ${RUN_CPU} s for $RUN_N pins, VmHWM ${RUN_HWM} kB, RssAnon largest ${RUN_ANON_MAX} kB, at the end ${RUN_ANON} kB; load:$(uptime | sed 's/.*load average://')"
		if [ "$w" = 1 ] && [ "$r" = 1 ]; then
			# Pre-cleaned rows for the COPY ceiling: exactly what the worker wrote.
			pp_sql "COPY pinpipe.raw_pins TO '$DIR/raw.copy'" >/dev/null
			pp_sql "COPY pinpipe.pins TO '$DIR/pins.copy'" >/dev/null
		fi
	done
	ROUNDS_RATE=$(median "${rates[@]}")
}
rounds 1
RATE1=$ROUNDS_RATE CPU1=$ROUNDS_CPU N1=$ROUNDS_N HWM1=$ROUNDS_HWM ANON1=$ROUNDS_ANON ANONMAX1=$ROUNDS_ANON_MAX
rounds 2
RATE2=$ROUNDS_RATE HWM2=$ROUNDS_HWM ANONMAX2=$ROUNDS_ANON_MAX

# Baselines in a clean extension with the consumers idle (group with no partitions left to read).
# (no consumers at all: a consumer of a re-created extension has no stored offsets and
# would read the topic again into the tables being measured)
pp_cluster_stop fast
pp_conf "pinpipe.consumer_workers = 0"
pp_cluster_up || die "restart without consumers"
pp_psql -c "DROP EXTENSION pinpipe" -c "CREATE EXTENSION pinpipe" >/dev/null
source bench/bench_lib.sh
RATES_COPY=() CPU_COPY=0
for ((r = 1; r <= ROUNDS; r++)); do
	pp_sql "TRUNCATE pinpipe.raw_pins, pinpipe.pins, pinpipe.category_minute, pinpipe.dead_letters" >/dev/null
	pp_sql "CHECKPOINT" >/dev/null
	read -r wall cpu < <(bench_timed "COPY pinpipe.raw_pins FROM '$DIR/raw.copy'; COPY pinpipe.pins FROM '$DIR/pins.copy'")
	[ "$(pp_sql "SELECT count(*) FROM pinpipe.pins")" = "$N" ] || die "COPY loaded the wrong count"
	RATES_COPY+=("$(rate "$N" "$wall")")
	CPU_COPY=$(awk -v a="$CPU_COPY" -v b="$cpu" 'BEGIN { print a + b }')
	echo "# COPY ceiling, round $r: $(rate "$N" "$wall") pins/s, backend CPU ${cpu} s; load:$(uptime | sed 's/.*load average://')"
done
RATE_COPY=$(median "${RATES_COPY[@]}")

# SQL-only: the raw text is staged first (not timed), then cast and cleaned in SQL.
pp_sql "TRUNCATE pinpipe.raw_pins, pinpipe.pins, pinpipe.category_minute" >/dev/null
pp_psql -c "CREATE TABLE bench_stage (line text)" \
	-c "COPY bench_stage FROM '$DIR/pins.jsonl' WITH (FORMAT csv, QUOTE E'\x01', DELIMITER E'\x02')" >/dev/null
pp_sql "CHECKPOINT" >/dev/null
t1=$(now)
# The same cleaning expressions as bench/bench_ingest.sh (bench/sql_cleaning.sql), and the
# same writes as the worker: raw log, cleaned rows, live aggregates. OFFSET 0 keeps the
# subquery from being flattened, so each payload is cast to jsonb once, not once per
# j->>'field' reference (which would make this baseline several times slower).
source bench/bench_lib.sh
pp_psql -c "$(sql_only_path bench_stage)" >/dev/null || die "SQL-only path failed"
t2=$(now)
[ "$(pp_sql "SELECT count(*) FROM pinpipe.pins")" = "$N" ] || die "SQL-only loaded the wrong count"
RATE_SQL=$(rate "$N" "$(awk -v a="$t1" -v b="$t2" 'BEGIN{print b-a}')")
echo "# SQL-only: $RATE_SQL pins/s"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo
echo "Kafka -> tables, $N pins, $PARTS partitions, batch_size $BATCH; medians of $ROUNDS round(s) (SQL-only: one)"
printf '%-34s %12s %12s %12s\n' "path" "pins/s" "vs COPY" "vs SQL-only"
printf '%-34s %12s %12s %12s\n' "COPY of pre-cleaned rows (ceiling)" "$RATE_COPY" "1.00" "$(ratio "$RATE_COPY" "$RATE_SQL")"
printf '%-34s %12s %12s %12s\n' "SQL-only (jsonb + SQL cleaning)" "$RATE_SQL" "$(ratio "$RATE_SQL" "$RATE_COPY")" "1.00"
printf '%-34s %12s %12s %12s\n' "pinpipe consumer, 1 worker" "$RATE1" "$(ratio "$RATE1" "$RATE_COPY")" "$(ratio "$RATE1" "$RATE_SQL")"
printf '%-34s %12s %12s %12s\n' "pinpipe consumer, 2 workers" "$RATE2" "$(ratio "$RATE2" "$RATE_COPY")" "$(ratio "$RATE2" "$RATE_SQL")"
echo "2 workers / 1 worker: $(ratio "$RATE2" "$RATE1")"
echo "CPU per pin: 1 worker $(awk -v c="$CPU1" -v n="$N1" 'BEGIN { printf "%.1f", c * 1e6 / n }') µs (backend + librdkafka threads), COPY $(awk -v c="$CPU_COPY" -v n="$((N * ROUNDS))" 'BEGIN { printf "%.1f", c * 1e6 / n }') µs; COPY CPU / worker CPU per pin: $(awk -v a="$CPU_COPY" -v n="$((N * ROUNDS))" -v b="$CPU1" -v m="$N1" 'BEGIN { printf "%.2f", (a / n) / (b / m) }') (over all rounds)"
echo "load average at the end:$(uptime | sed 's/.*load average://')"
echo "consumer peak RSS (VmHWM, includes touched shared buffers, largest of the rounds): 1 worker ${HWM1} kB, 2 workers max ${HWM2} kB"
echo "consumer private memory (RssAnon): 1 worker largest during any round ${ANONMAX1} kB, at the end of the last ${ANON1} kB; 2 workers largest ${ANONMAX2} kB"
