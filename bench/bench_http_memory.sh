#!/usr/bin/env bash
# bench/bench_http_memory.sh — the HTTP worker's private memory (RssAnon) under a long
# load: is it flat? (issue 12: "the HTTP worker's flat under a 10-minute load")
#
# Per mode (embedded, then Kafka mode: the worker produces to the dev broker, no consumer),
# BENCH_SECONDS (default 600) of two emulators at once:
#   - the REST Proxy shape, the pin, geo and user record of each generated row, each its
#     own request (POST /topics/pinterest.{pin,geo,user}), BENCH_ROWS rows/s (default 300);
#   - POST /pins, 100 generated pins per request, 2% of them invalid (dead letters in
#     embedded mode, rejected in Kafka mode), BENCH_PINS_RATE pins/s (default 2000).
# The worker's RssAnon and VmHWM are sampled every 10 s. Printed per mode: RssAnon after a
# minute of warm-up, at the end, the largest, and the least-squares slope from the first
# minute on (kB per minute), with what the emulators were answered.
#
#   bash bench/bench_http_memory.sh     (BENCH_SECONDS=600 BENCH_MODES="embedded kafka")
set -uo pipefail
source "$(dirname "$0")/bench_env.sh"
source test/kafka_lib.sh
source test/http_lib.sh

SECS=${BENCH_SECONDS:-600}
ROWS=${BENCH_ROWS:-300}
PINS_RATE=${BENCH_PINS_RATE:-2000}
MODES=${BENCH_MODES:-embedded kafka}
pp_scratch W bench-mem

HP=$(pp_free_port)
H=http://127.0.0.1:$HP # test/http_lib.sh's base URL
pp_cluster_start "pinpipe.http_port = $HP" "pinpipe.consumer_workers = 0" "fsync = off" \
	"max_wal_size = '4GB'" || exit 1
pp_sql "CREATE EXTENSION pinpipe" >/dev/null

declare -A SUMMARY
# measure MODE: the load above for SECS, sampling the HTTP worker; fills SUMMARY[MODE].
measure() {
	local mode=$1 pid t0 e1 e2 now
	pp_wait_for "http_healthz_is 200" 60 "healthz ($mode)" || exit 1
	pid=$(pp_sql "SELECT pid FROM pinpipe.workers WHERE kind = 'http'")
	[ -n "$pid" ] || { echo "bench: no HTTP worker"; exit 1; }
	"$EMU" --api restproxy --streams pin,geo,user --url "$H" --rate "$ROWS" --duration "$SECS" \
		--json --quiet >"$W/$mode.restproxy.json" 2>"$W/$mode.restproxy.err" &
	e1=$!
	"$EMU" --url "$H/pins" --batch 100 --invalid-rate 0.02 --rate "$PINS_RATE" --duration "$SECS" \
		--json --quiet >"$W/$mode.pins.json" 2>"$W/$mode.pins.err" &
	e2=$!
	t0=$(date +%s)
	: >"$W/$mode.samples"
	while kill -0 "$e1" 2>/dev/null || kill -0 "$e2" 2>/dev/null; do
		now=$(($(date +%s) - t0))
		awk -v t="$now" '/^RssAnon:/ { a = $2 } /^VmHWM:/ { h = $2 } END { print t, a, h }' \
			"/proc/$pid/status" >>"$W/$mode.samples" 2>/dev/null || { echo "bench: the HTTP worker is gone"; exit 1; }
		sleep 10
	done
	wait "$e1" "$e2"
	[ "$(pp_sql "SELECT pid FROM pinpipe.workers WHERE kind = 'http'")" = "$pid" ] ||
		echo "bench: $mode: the HTTP worker restarted during the run"
	SUMMARY[$mode]=$(awk '$1 >= 60 { n++; x += $1; y += $2; xx += $1 * $1; xy += $1 * $2; if (!first) first = $2; last = $2 }
		{ if ($2 > max) max = $2 }
		END { slope = n > 1 ? (n * xy - x * y) / (n * xx - x * x) * 60 : 0
		      printf "RssAnon after 1 min %d kB, at the end %d kB, largest %d kB, slope %.1f kB/min (%d samples)", first, last, max, slope, n }' \
		"$W/$mode.samples")
	SUMMARY[$mode]+=$(printf '; REST Proxy: %s accepted, %s rejected, %s errors; /pins: %s accepted, %s rejected, %s errors' \
		"$(jq -r .accepted "$W/$mode.restproxy.json")" "$(jq -r .rejected "$W/$mode.restproxy.json")" \
		"$(jq -r .errors "$W/$mode.restproxy.json")" "$(jq -r .accepted "$W/$mode.pins.json")" \
		"$(jq -r .rejected "$W/$mode.pins.json")" "$(jq -r .errors "$W/$mode.pins.json")")
	echo "bench: $mode: ${SUMMARY[$mode]}"
	sed 's/^/# /' "$W/$mode.samples"
}

for mode in $MODES; do
	case $mode in
		embedded) measure embedded ;;
		kafka)
			kafka_broker_start 3 || exit 1
			pp_conf "pinpipe.kafka_brokers = '$KAFKA_BOOTSTRAP'"
			pp_cluster_restart
			measure kafka
			;;
		*) echo "bench: unknown mode $mode"; exit 1 ;;
	esac
done
pp_cluster_stop

echo
echo "HTTP worker private memory, ${SECS} s per mode, $ROWS REST Proxy rows/s (3 requests each) + $PINS_RATE pins/s"
echo "in POST /pins of 100 (2% invalid), $(nproc) cores:"
for mode in $MODES; do echo "  $mode: ${SUMMARY[$mode]}"; done
echo "load average at the end:$(uptime | sed 's/.*load average://')"
