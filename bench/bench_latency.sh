#!/usr/bin/env bash
# bench/bench_latency.sh — end-to-end latency: from a request's arrival (embedded mode) or
# the message's produce (Kafka mode) to the row being visible (the commit), at the
# maximum rate and at half of it, on a durable server (fsync and synchronous_commit on).
#
# Load: pinpipe-emulate posting real pins to POST /pin/ on an open-loop schedule (requests
# due at fixed times, BENCH_CONNS connections). First as fast as it can (the maximum
# rate), then at half that rate. Reported per run: the achieved rate, the client's request
# latency p50/p99 (emulator), and the server's own lag histogram p50/p99
# (pinpipe_ingest_lag_seconds: source "http" = commit minus the request's arrival, one
# observation per request; source "kafka" = commit minus the message's timestamp, one
# observation per row).
#
# Kafka mode also runs a reference consumer during each load: kcat (librdkafka, no
# PostgreSQL) reading the same topic with the same fetch wait, each message's arrival
# minus its timestamp. It is the part of the lag that the producer, the dev broker and
# the fetch take on this machine before any consumer can write, measured in the same run.
#
#   bash bench/bench_latency.sh        (BENCH_SECONDS=10 BENCH_CONNS=32; BENCH_KAFKA_CONFIG=k=v,...
#                                       adds to pinpipe.kafka_config in Kafka mode)
set -uo pipefail
source "$(dirname "$0")/bench_env.sh"
source test/kafka_lib.sh
source test/http_lib.sh

SECS=${BENCH_SECONDS:-10}
CONNS=${BENCH_CONNS:-32}
pp_scratch W bench-lat
bench_valid_pins "$PP_SHARED_DATA/pins_sample.jsonl" "$W/pins.jsonl"
# --direct: no proxy in front of the mock (every client here is librdkafka): at 2,800
# pins/s the proxy took 60% of a core and two more hops per request and response.
kafka_broker_start 4 --direct || exit 1

declare -A RATE CP50 CP99 LAG50 LAG99 ERRS REF50 REF99
# ref_start / ref_stop NAME: the reference consumer around one Kafka-mode load; the lags
# (ms) go to $W/ref.ms, one per message, and their p50/p99 to REF50/REF99.
ref_start() {
	kcat -C -b "$KAFKA_BOOTSTRAP" -t "$KAFKA_TOPIC" -o end -u -q -f '%T\n' -X fetch.wait.max.ms=5 |
		python3 -u -c 'import sys, time
for line in sys.stdin:
    print("%.1f" % (time.time() * 1000 - int(line)))' >"$W/ref.ms" &
	REF_PID=$!
	sleep 1 # kcat's assignment and first fetch
}
ref_stop() {
	pkill -P $$ -x kcat 2>/dev/null # its parent is this shell, as python3's
	wait "$REF_PID" 2>/dev/null
	read -r "REF50[$1]" "REF99[$1]" < <(sort -n "$W/ref.ms" |
		awk '{ v[NR] = $1 } END { if (NR) print v[int(NR * 0.5) + 1], v[int(NR * 0.99) + 1]; else print "n/a n/a" }')
}
# load NAME SOURCE RATE: SECS of POST /pin/ at RATE pins/s (0: as fast as possible);
# for Kafka mode, waits until every accepted pin is a row before reading the histogram.
load() {
	local name=$1 source=$2 rate=$3 json rows0
	rows0=$(pp_sql "SELECT count(*) FROM pinpipe.pins")
	bench_lag_hist "$HP" "$source" >"$W/lag.before"
	REF50[$name]=-
	REF99[$name]=-
	[ "$source" = kafka ] && ref_start
	json=$("$EMU" --url "http://127.0.0.1:$HP/pin/" --replay "$W/pins.jsonl" --loop --rate "$rate" \
		--concurrency "$CONNS" --duration "$SECS" --json --quiet)
	local accepted
	accepted=$(jq -r .accepted <<<"$json")
	pp_wait_for "[ \$(pp_sql 'SELECT count(*) FROM pinpipe.pins') -ge $((rows0 + accepted)) ]" 120 \
		"$name: $accepted rows" || echo "bench: $name: rows missing"
	[ "$source" = kafka ] && sleep 1.5 # the consumer publishes its histogram at its next tick
	[ "$source" = kafka ] && ref_stop "$name"
	bench_lag_hist "$HP" "$source" >"$W/lag.after"
	RATE[$name]=$(jq -r '.rate_pins_s | floor' <<<"$json")
	CP50[$name]=$(jq -r .latency_p50_ms <<<"$json")
	CP99[$name]=$(jq -r .latency_p99_ms <<<"$json")
	ERRS[$name]=$(jq -r '.errors + .rejected' <<<"$json")
	LAG50[$name]=$(bench_lag_q "$W/lag.before" "$W/lag.after" 0.5)
	LAG99[$name]=$(bench_lag_q "$W/lag.before" "$W/lag.after" 0.99)
	echo "bench: $name: ${RATE[$name]} pins/s, client p50 ${CP50[$name]} p99 ${CP99[$name]} ms," \
		"server lag p50 ${LAG50[$name]} p99 ${LAG99[$name]} ms, reference consumer p50 ${REF50[$name]}" \
		"p99 ${REF99[$name]} ms, not accepted ${ERRS[$name]}"
}
# pair MODE SOURCE: the maximum, then half of it
pair() {
	load "$1, maximum" "$2" 0
	load "$1, half the maximum" "$2" $((RATE["$1, maximum"] / 2))
}

HP=$(pp_free_port)
H=http://127.0.0.1:$HP # test/http_lib.sh's base URL
pp_cluster_start "pinpipe.http_port = $HP" "pinpipe.consumer_workers = 0" "fsync = on" \
	"synchronous_commit = on" "shared_buffers = '256MB'" || exit 1
pp_sql "CREATE EXTENSION pinpipe" >/dev/null
pp_wait_for "http_healthz_is 200" 30 "healthz" || exit 1
pair "embedded" http

# Kafka mode: the HTTP worker produces (2xx after the broker's acknowledgement), one
# consumer worker writes; its lag starts at the produce. The dev broker (librdkafka's mock)
# holds a fetch that finds no new data for the whole fetch.wait.max.ms (500 ms) even when
# data arrives meanwhile; a real broker answers as soon as fetch.min.bytes (1) are there.
# A 5 ms wait makes the dev broker answer as a real one would (within 5 ms of the data).
pp_conf "pinpipe.kafka_brokers = '$KAFKA_BOOTSTRAP'" "pinpipe.consumer_workers = 1" \
	"pinpipe.kafka_config = 'fetch.wait.max.ms=5${BENCH_KAFKA_CONFIG:+,$BENCH_KAFKA_CONFIG}'"
pp_cluster_restart
pp_wait_for "http_healthz_is 200" 30 "healthz (Kafka)" || exit 1
pp_wait_for "[ \$(pp_sql \"SELECT count(*) FROM pinpipe.workers WHERE kind = 'consumer' AND partitions > 0\") -eq 1 ]" 60 \
	"the consumer to hold the partitions" || exit 1
pair "Kafka mode" kafka
pp_cluster_stop

echo
echo "End-to-end latency, POST /pin/, $CONNS connections, ${SECS} s per run, $(nproc) cores, fsync on;"
echo "pinpipe settings at their defaults (batch_size, batch_timeout_ms, the consumer's librdkafka properties)"
printf '| %-28s | %9s | %13s | %13s | %14s | %14s | %13s | %13s | %12s |\n' run "pins/s" "client p50 ms" "client p99 ms" \
	"row lag p50 ms" "row lag p99 ms" "ref. p50 ms" "ref. p99 ms" "not accepted"
printf '|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n' "------------------------------" "-----------" "---------------" "---------------" \
	"----------------" "----------------" "---------------" "---------------" "--------------"
for name in "embedded, maximum" "embedded, half the maximum" "Kafka mode, maximum" "Kafka mode, half the maximum"; do
	printf '| %-28s | %9s | %13s | %13s | %14s | %14s | %13s | %13s | %12s |\n' "$name" "${RATE[$name]}" "${CP50[$name]}" \
		"${CP99[$name]}" "${LAG50[$name]}" "${LAG99[$name]}" "${REF50[$name]}" "${REF99[$name]}" "${ERRS[$name]}"
done
echo "(row lag: the server's pinpipe_ingest_lag_seconds; embedded: commit minus arrival, per request;"
echo " Kafka mode: commit minus the message timestamp, per row; ref.: the reference consumer, kcat"
echo " without PostgreSQL on the same topic at the same time, each message's arrival minus its timestamp)"
echo "load average at the end:$(uptime | sed 's/.*load average://')"
