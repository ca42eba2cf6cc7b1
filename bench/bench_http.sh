#!/usr/bin/env bash
# bench/bench_http.sh — HTTP ingestion throughput and latency, pinpipe vs the reference
# FastAPI + pydantic + confluent_kafka API, in one run on this machine.
#
# Runs wrk (BENCH_SECONDS each, default 10) with real pins from $PP_SHARED_DATA against:
#   pinpipe embedded mode   POST /pin/  and  POST /pins (BENCH_BATCH pins per request)
#   pinpipe Kafka mode      the same, producing to the dev broker; 2xx after the ack
#   reference (uvicorn, 1 worker)  the same, producing to the same dev broker with
#                           delivery confirmed (flush per request), and fire-and-forget
# and prints requests/s, pins/s, p50/p99 latency and the ratios against the reference.
# Every run also reports non-2xx answers: a run with errors is flagged, not hidden.
#
#   bash bench/bench_http.sh            (BENCH_SECONDS=10 BENCH_CONNS=64 BENCH_BATCH=100)
set -uo pipefail
source "$(dirname "$0")/bench_env.sh"
REPO=$(pwd)

SECS=${BENCH_SECONDS:-10}
CONNS=${BENCH_CONNS:-64}
THREADS=${BENCH_THREADS:-2}
BATCH=${BENCH_BATCH:-100}
PY=/usr/bin/python3	# Debian's, with python3-fastapi/uvicorn/confluent-kafka
DATA=$PP_SHARED_DATA/pins_sample.jsonl
pp_scratch W bench-http

# Request bodies: the real pins both APIs accept (pinpipe also checks the UUID), one per
# line, and the same pins as JSON arrays of BATCH.
bench_valid_pins "$DATA" "$W/pins.jsonl"
jq -c -s "[range(0; length; $BATCH) as \$i | .[\$i:\$i+$BATCH] | select(length == $BATCH)] | .[]" \
	"$W/pins.jsonl" >"$W/batches.jsonl"
echo "bench: $(wc -l <"$W/pins.jsonl") pins, $(wc -l <"$W/batches.jsonl") batches of $BATCH; wrk -t$THREADS -c$CONNS -d${SECS}s"

pinpipe-devbroker --partitions 3 >"$W/broker.out" 2>"$W/broker.err" &
BROKER=$!
pp_cleanup "kill $BROKER"
pp_wait_for "[ -s '$W/broker.out' ]" 30 "dev broker" || exit 1
BOOT=$(head -n 1 "$W/broker.out")

declare -A RPS P99 P50 ERRS
# run NAME URL BODIES PINS_PER_REQUEST
run() {
	local name=$1 url=$2 bodies=$3 per=$4 line req dur
	line=$(WRK_BODIES=$bodies wrk -t"$THREADS" -c"$CONNS" -d"${SECS}s" --timeout 30s -s bench/wrk_post.lua "$url" | grep '^BENCH ')
	req=$(sed 's/.*requests=\([0-9]*\).*/\1/' <<<"$line")
	dur=$(sed 's/.*duration_us=\([0-9]*\).*/\1/' <<<"$line")
	ERRS[$name]=$(( $(sed 's/.*errors_status=\([0-9]*\).*/\1/' <<<"$line") + $(sed 's/.*errors_other=\([0-9]*\).*/\1/' <<<"$line") ))
	RPS[$name]=$(awk -v r="$req" -v d="$dur" 'BEGIN { printf "%.0f", r / (d / 1e6) }')
	P50[$name]=$(awk -v v="$(sed 's/.*p50_us=\([0-9]*\).*/\1/' <<<"$line")" 'BEGIN { printf "%.1f", v / 1000 }')
	P99[$name]=$(awk -v v="$(sed 's/.*p99_us=\([0-9]*\).*/\1/' <<<"$line")" 'BEGIN { printf "%.1f", v / 1000 }')
	PER[$name]=$per
	echo "bench: $name: ${RPS[$name]} req/s, p99 ${P99[$name]} ms, non-2xx/errors ${ERRS[$name]}"
}
declare -A PER LAG50 LAG99

lag_hist() { bench_lag_hist "$HP" http; }
# lag_run NAME ARGS...: run() with the server's lag quantiles of that run beside the client's
lag_run() {
	local name=$1
	lag_hist >"$W/lag.before"
	run "$@"
	lag_hist >"$W/lag.after"
	LAG50[$name]=$(bench_lag_q "$W/lag.before" "$W/lag.after" 0.5)
	LAG99[$name]=$(bench_lag_q "$W/lag.before" "$W/lag.after" 0.99)
	echo "bench: $name: server-side ingest lag p50 ${LAG50[$name]} ms, p99 ${LAG99[$name]} ms"
}

# --- pinpipe, embedded mode
HP=$(pp_free_port)
pp_cluster_start "pinpipe.http_port = $HP" "pinpipe.consumer_workers = 0" "fsync = on" \
	"synchronous_commit = on" "pinpipe.http_max_connections = 1024" "pinpipe.http_max_connections_per_client = 1024" || exit 1
pp_sql "create extension pinpipe" >/dev/null
pp_wait_for "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$HP/healthz)\" = 200 ]" 30 "pinpipe healthz" || exit 1
lag_run "pinpipe embedded /pin/" "http://127.0.0.1:$HP/pin/" "$W/pins.jsonl" 1
lag_run "pinpipe embedded /pins" "http://127.0.0.1:$HP/pins" "$W/batches.jsonl" "$BATCH"
echo "bench: embedded rows written: $(pp_sql 'select count(*) from pinpipe.pins')"

# --- pinpipe, Kafka mode (same server, restarted with the broker)
pp_conf "pinpipe.kafka_brokers = '$BOOT'"
pp_cluster_restart
pp_wait_for "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$HP/healthz)\" = 200 ]" 30 "pinpipe healthz (Kafka)" || exit 1
run "pinpipe kafka /pin/" "http://127.0.0.1:$HP/pin/" "$W/pins.jsonl" 1
run "pinpipe kafka /pins" "http://127.0.0.1:$HP/pins" "$W/batches.jsonl" "$BATCH"
pp_cluster_stop

# --- reference: FastAPI + pydantic on uvicorn (1 worker), confluent_kafka to the same broker
ref() {
	local confirm=$1 port
	port=$(pp_free_port)
	(cd bench && REF_BROKERS=$BOOT REF_CONFIRM=$confirm exec $PY -m uvicorn reference_api:app \
		--host 127.0.0.1 --port "$port" --workers 1 --no-access-log --log-level warning) \
		>"$W/ref.log" 2>&1 &
	REF_PID=$!
	pp_wait_for "curl -s -o /dev/null http://127.0.0.1:$port/docs" 60 "reference API" || { cat "$W/ref.log"; exit 1; }
	REF_PORT=$port
}
ref 1
run "reference confirmed /pin/" "http://127.0.0.1:$REF_PORT/pin/" "$W/pins.jsonl" 1
run "reference confirmed /pins" "http://127.0.0.1:$REF_PORT/pins" "$W/batches.jsonl" "$BATCH"
kill "$REF_PID"; wait "$REF_PID" 2>/dev/null
ref 0
run "reference fire-and-forget /pin/" "http://127.0.0.1:$REF_PORT/pin/" "$W/pins.jsonl" 1
kill "$REF_PID"; wait "$REF_PID" 2>/dev/null

# --- table
echo
echo "HTTP ingestion, wrk -t$THREADS -c$CONNS -d${SECS}s, $(nproc) cores, real pins; reference = FastAPI $($PY -c 'import fastapi; print(fastapi.__version__)') + pydantic $($PY -c 'import pydantic; print(pydantic.VERSION)') on uvicorn $($PY -c 'import uvicorn; print(uvicorn.__version__)') (1 worker)"
echo "(p50/p99: client-measured by wrk; lag p50/p99: the server's pinpipe_ingest_lag_seconds{source=\"http\"}, commit minus arrival,"
echo " embedded mode only: in Kafka mode the 2xx follows the broker's ack and the row is written by a consumer)"
printf '| %-34s | %10s | %10s | %9s | %9s | %10s | %10s | %8s |\n' run "req/s" "pins/s" "p50 ms" "p99 ms" "lag p50 ms" "lag p99 ms" "non-2xx"
printf '|%s|%s|%s|%s|%s|%s|%s|%s|\n' "------------------------------------" "------------" "------------" "-----------" "-----------" "------------" "------------" "----------"
for name in "pinpipe embedded /pin/" "pinpipe embedded /pins" "pinpipe kafka /pin/" "pinpipe kafka /pins" \
	"reference confirmed /pin/" "reference confirmed /pins" "reference fire-and-forget /pin/"; do
	printf '| %-34s | %10s | %10s | %9s | %9s | %10s | %10s | %8s |\n' "$name" "${RPS[$name]}" "$((RPS[$name] * PER[$name]))" \
		"${P50[$name]}" "${P99[$name]}" "${LAG50[$name]:--}" "${LAG99[$name]:--}" "${ERRS[$name]}"
done
echo "load average at the end:$(uptime | sed 's/.*load average://')"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "n/a" }'; }
REF1=${RPS["reference confirmed /pin/"]}
REFB=$((RPS["reference confirmed /pins"] * BATCH))
echo
echo "ratios against the reference with delivery confirmed:"
echo "  single pin req/s, embedded:  $(ratio "${RPS["pinpipe embedded /pin/"]}" "$REF1")   (goal >= 10x)"
echo "  single pin req/s, Kafka:     $(ratio "${RPS["pinpipe kafka /pin/"]}" "$REF1")   (goal >= 10x)"
echo "  /pins pins/s, embedded:      $(ratio "$((RPS["pinpipe embedded /pins"] * BATCH))" "$REFB")   vs reference /pins; $(ratio "$((RPS["pinpipe embedded /pins"] * BATCH))" "$REF1") vs reference single-pin pins/s (goal >= 50x)"
echo "  /pins pins/s, Kafka:         $(ratio "$((RPS["pinpipe kafka /pins"] * BATCH))" "$REFB")   vs reference /pins; $(ratio "$((RPS["pinpipe kafka /pins"] * BATCH))" "$REF1") vs reference single-pin pins/s (goal >= 50x)"
echo "  single pin vs fire-and-forget reference: embedded $(ratio "${RPS["pinpipe embedded /pin/"]}" "${RPS["reference fire-and-forget /pin/"]}"), Kafka $(ratio "${RPS["pinpipe kafka /pin/"]}" "${RPS["reference fire-and-forget /pin/"]}")"
