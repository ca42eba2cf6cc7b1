#!/usr/bin/env bash
# 41_http_kafka.sh — the HTTP worker in Kafka mode, end to end through the dev broker
# (librdkafka's mock cluster, a real Kafka-protocol broker) and the consumer worker:
# a 2xx is sent only after the broker acknowledged; pins reach pinpipe.pins; during a
# broker outage requests get 503 + Retry-After, and afterwards every pin that was
# answered 2xx is in pinpipe.pins. Then a broker that was never reachable: 503.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../http_lib.sh"

pp_scratch T httpk
DATA=$PP_SHARED_DATA/pins_sample.jsonl
[ -f "$DATA" ] || { fail "sample data missing at $DATA"; pp_done; }
command -v pinpipe-devbroker >/dev/null || { fail "tools/pinpipe-devbroker not built"; pp_done; }

pinpipe-devbroker --partitions 3 >"$T/broker.out" 2>"$T/broker.err" &
BROKER_PID=$!
pp_cleanup "kill $BROKER_PID"
pp_wait_for "[ -s '$T/broker.out' ]" 30 "dev broker address" || { fail "dev broker did not start: $(cat "$T/broker.err")"; pp_done; }
BOOT=$(head -n 1 "$T/broker.out")

HP=$(pp_free_port)
pp_cluster_start "pinpipe.http_port = $HP" "pinpipe.kafka_brokers = '$BOOT'" \
	"pinpipe.consumer_workers = 1" "pinpipe.batch_timeout_ms = 50" || { fail "cluster did not start"; pp_done; }
pp_sql "create extension pinpipe" >/dev/null
H=http://127.0.0.1:$HP

pins_with() { pp_sql "select count(*) from pinpipe.pins where unique_id = '$1'"; }
# a real pin with a fresh unique_id
fresh_pin() { sed -n "${1}p" "$DATA" | jq -c --arg u "$(cat /proc/sys/kernel/random/uuid)" '.unique_id = $u'; }
# post_until_stop FIRST ANSWERS BACKOFF: POST /pin/ fresh pins from line FIRST on, one at a
# time, until $T/stop exists; each answer goes to ANSWERS as "<code> <unique_id>"; after a
# 503 wait BACKOFF seconds (0: none). Run it in the background.
post_until_stop() {
	local i=$1 p u c
	while [ ! -f "$T/stop" ]; do
		p=$(fresh_pin "$i")
		u=$(echo "$p" | jq -r .unique_id)
		c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 60 -X POST "$H/pin/" --data-binary "$p")
		echo "$c $u" >>"$2"
		i=$((i + 1))
		[ "$c" = 503 ] && [ "$3" != 0 ] && sleep "$3"
	done
}

pp_wait_for "http_healthz_is 200" 60 "healthz 200" || fail "healthz never 200"
check "healthz: kafka mode" "$(req GET /healthz; body | jq -r .mode)" "200kafka"

# --- a single pin: 200 after the ack, then the consumer writes it
P=$(fresh_pin 1)
U=$(echo "$P" | jq -r .unique_id)
check "POST /pin/ (Kafka): 200" "$(req POST /pin/ --data-binary "$P")" 200
check "echo" "$(body | jq -r .unique_id)" "$U"
pp_wait_for "[ \"\$(pins_with $U)\" = 1 ]" 60 "pin via Kafka in pins" && ok "pin reached pinpipe.pins through Kafka" || fail "pin never reached pins"
check "raw log says kafka" "$(pp_sql "select source from pinpipe.raw_pins where payload::text like '%$U%' limit 1")" kafka

# --- half-closed with the request (bytes and end of input in one segment): the answer
# waits for the broker's acknowledgement, and still comes (libmicrohttpd read the end of
# input on resumption and closed without it)
for i in $(seq 1 20); do
	fresh_pin $((i + 1)) >"$T/hc.json"
	{ printf 'POST /pin/ HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n' "$(wc -c <"$T/hc.json")"; cat "$T/hc.json"; } >"$T/hc$i"
done
check "20 concurrent /pin/ (Kafka), each half-closed with its request: all 200, then closed" \
	"$(python3 "$PP_REPO/test/halfclose.py" "$HP" "$T"/hc[0-9]*)" "20 200 closed"

# --- /pins: 200 real pins + 1 invalid
for i in $(seq 200 399); do fresh_pin "$i"; done >"$T/batch.jsonl"
echo '{"index": "nope"}' >>"$T/batch.jsonl"
BEFORE=$(pp_sql "select count(*) from pinpipe.pins")
check "/pins (Kafka): 200" "$(req POST /pins --data-binary @"$T/batch.jsonl")" 200
ACC=$(body | jq .accepted)
check "/pins (Kafka): invalid one rejected at its position" "$(body | jq -c '[.rejected, .errors[-1].index]')" "[$(body | jq .rejected),200]"
pp_wait_for "[ \"\$(pp_sql 'select count(*) from pinpipe.pins')\" -ge $((BEFORE + ACC)) ]" 60 "batch in pins" &&
	ok "/pins: all $ACC accepted pins reached pinpipe.pins" || fail "/pins: pins missing after Kafka"

# --- broker outage: 503 + Retry-After while down, and no pin answered 2xx is lost
: >"$T/answers"
post_until_stop 1000 "$T/answers" 0.2 &
LOADER=$!
pp_cleanup "touch '$T/stop'; kill $LOADER"
pp_wait_for "[ \$(grep -c '^200 ' '$T/answers') -ge 5 ]" 60 "posts before the outage" || fail "no 200s before the outage"
kill -USR1 "$BROKER_PID"
pp_wait_for "grep -q '^503 ' '$T/answers'" 60 "503 during the outage" && ok "outage: requests answered 503" || fail "outage: no 503"
check "outage: POST /pin/ 503" "$(req POST /pin/ --data-binary "$(fresh_pin 5)")" 503
check "outage: Retry-After" "$(hdr Retry-After)" 1
check "outage: healthz 503" "$(req GET /healthz)" 503
check "outage: healthz reason" "$(body | jq -r .reason | grep -c -i kafka)" 1
N503=$(grep -c '^503 ' "$T/answers")
kill -USR2 "$BROKER_PID"
pp_wait_for "[ \$(tail -n +\$(grep -n '^503 ' '$T/answers' | tail -n 1 | cut -d: -f1) '$T/answers' | grep -c '^200 ') -ge 5 ]" 90 "200s after the outage" &&
	ok "recovered: 200s again after the broker came back" || fail "never recovered after the outage"
touch "$T/stop"
wait "$LOADER" 2>/dev/null
grep '^200 ' "$T/answers" | cut -d' ' -f2 >"$T/acked"
NACK=$(wc -l <"$T/acked")
missing_acked() {
	pp_psql -At -c "create temp table acked (u uuid)" -c "\\copy acked from '$T/acked'" \
		-c "select count(*) from acked a where not exists (select 1 from pinpipe.pins p where p.unique_id = a.u)" | tail -n 1
}
pp_wait_for '[ "$(missing_acked)" = 0 ]' 90 "every acknowledged pin in pins" &&
	ok "no pin answered 200 is missing ($NACK acknowledged, $N503+ answered 503)" || fail "$(missing_acked) acknowledged pins missing from pinpipe.pins"
check "answers were only 200 or 503" "$(cut -d' ' -f1 "$T/answers" | sort -u | tr '\n' ' ')" "200 503 "

# --- /metrics in Kafka mode
check "GET /metrics: 200" "$(req GET /metrics)" 200
cp "$T/body" "$T/metrics.txt"
if promtool check metrics <"$T/metrics.txt" >"$T/promtool.out" 2>&1; then ok "promtool check metrics (Kafka mode)"; else fail "promtool: $(cat "$T/promtool.out")"; fi
check "metrics: deliveries counted" "$(awk '/^pinpipe_kafka_deliveries_total /{print ($2 > 200)}' "$T/metrics.txt")" 1
check "metrics: consumer lag per partition" "$(grep -c '^pinpipe_consumer_lag{worker="0",topic="pinterest.pins",partition="[0-9]"}' "$T/metrics.txt")" 3
check "metrics: consumer rows" "$(grep -c '^pinpipe_worker_rows_total{kind="consumer",worker="0"} [1-9]' "$T/metrics.txt")" 1
check "metrics: produce queue depth" "$(grep -c '^pinpipe_kafka_produce_queue_depth ' "$T/metrics.txt")" 1

# --- fast shutdown under load: in-flight requests are answered, acknowledged pins survive
rm -f "$T/stop"
: >"$T/answers2"
post_until_stop 1500 "$T/answers2" 0 &
LOADER=$!
pp_wait_for "[ \$(grep -c '^200 ' '$T/answers2') -ge 20 ]" 60 "posts before the stop" || fail "no 200s before the stop"
pp_cluster_stop fast
touch "$T/stop"
wait "$LOADER" 2>/dev/null
pp_cluster_up
grep '^200 ' "$T/answers2" | cut -d' ' -f2 >"$T/acked"
NACK=$(wc -l <"$T/acked")
pp_wait_for '[ "$(missing_acked)" = 0 ]' 90 "acknowledged pins in pins after the stop" &&
	ok "fast shutdown: all $NACK pins answered 200 reached pinpipe.pins" || fail "$(missing_acked) acknowledged pins missing after the stop"
check "fast shutdown: answers only 200, 503 or none" "$(cut -d' ' -f1 "$T/answers2" | grep -v -c -E '^(200|503|000)$')" 0
pp_wait_for "http_healthz_is 200" 60 "healthz after restart" || fail "not healthy after restart"

# --- local produce queue full: 503 + Retry-After; what was queued is still delivered
pp_conf "pinpipe.kafka_config = 'queue.buffering.max.messages=5'" "pinpipe.consumer_workers = 0"
pp_cluster_restart
pp_wait_for "http_healthz_is 200" 60 "healthz 200 again" || fail "healthz not 200 after restart"
for i in $(seq 500 519); do fresh_pin "$i"; done >"$T/twenty.jsonl"
check "queue full: /pins of 20 with a queue of 5: 503" "$(req POST /pins --data-binary @"$T/twenty.jsonl")" 503
check "queue full: Retry-After" "$(hdr Retry-After)" 1
check "queue full: says so" "$(body | jq -r .detail | grep -c 'queue full')" 1
check "queue full: a single pin still gets 200" "$(req POST /pin/ --data-binary "$(fresh_pin 530)")" 200

# --- a broker that is not there at all: 503 + Retry-After, nothing hangs
DEAD=$(pp_free_port)
pp_conf "pinpipe.kafka_brokers = '127.0.0.1:$DEAD'" "pinpipe.kafka_config = ''"
pp_cluster_restart
pp_wait_for "curl -s -o /dev/null $H/healthz" 60 "worker listening again" || fail "worker not listening after restart"
check "unreachable broker: 503" "$(req POST /pin/ --data-binary "$(fresh_pin 7)")" 503
check "unreachable broker: Retry-After" "$(hdr Retry-After)" 1
check "unreachable broker: JSON detail" "$(body | jq -r '.detail|type')" string
pp_wait_for "http_healthz_is 503" 60 "healthz 503" && ok "unreachable broker: healthz 503" || fail "healthz not 503"

pp_done
