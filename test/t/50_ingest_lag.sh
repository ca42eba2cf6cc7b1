#!/usr/bin/env bash
# 50_ingest_lag.sh — the end-to-end lag of DESIGN §10 (issue 12 item 2):
# pinpipe_ingest_lag_seconds{source} in /metrics is a valid histogram (promtool) with
# increasing bounds, cumulative counts and +Inf = _count; it counts every committed
# HTTP request (embedded mode, one observation per request) and every row a
# consumer committed (one per message); pinpipe.workers shows each worker's latest value.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../http_lib.sh"
source "$(dirname "$0")/../kafka_lib.sh"

pp_scratch T lag
DATA=$PP_SHARED_DATA/pins_sample.jsonl
[ -f "$DATA" ] || { fail "sample data missing at $DATA"; pp_done; }
command -v pinpipe-devbroker >/dev/null || { fail "tools/pinpipe-devbroker not built"; pp_done; }

HP=$(pp_free_port)
H=http://127.0.0.1:$HP
pp_cluster_start "pinpipe.http_port = $HP" "pinpipe.consumer_workers = 0" || { fail "cluster did not start"; pp_done; }
pp_sql "create extension pinpipe" >/dev/null
pp_wait_for "http_healthz_is 200" 60 "healthz 200" || { fail "healthz never 200"; pp_done; }

metrics() { curl -s "$H/metrics" >"$T/metrics.txt"; }
# value of one sample line of the lag family, e.g. lag_sample http _count
lag_sample() { grep "^pinpipe_ingest_lag_seconds$2{source=\"$1\"${3:-}}" "$T/metrics.txt" | awk '{print $2}'; }
fresh_pin() { sed -n "${1}p" "$DATA" | jq -c --arg u "$(cat /proc/sys/kernel/random/uuid)" '.unique_id = $u'; }

# the family is there before any write, with a zero count for the running HTTP worker
metrics
check "family declared as a histogram" "$(grep -c '^# TYPE pinpipe_ingest_lag_seconds histogram$' "$T/metrics.txt")" 1
check "http series before any request: count 0" "$(lag_sample http _count)" 0
check "no kafka series without consumers" "$(grep -c 'pinpipe_ingest_lag_seconds.*source="kafka"' "$T/metrics.txt")" 0
check "workers: no lag before the first commit" "$(pp_sql "select ingest_lag_seconds is null from pinpipe.workers where kind = 'http'")" t

# --- embedded HTTP: 7 single pins, 3 requests of 5 pins, 2 invalid pins (422: not committed)
sent=0
for i in $(seq 1 7); do
	[ "$(req POST /pin/ --data-binary "$(fresh_pin "$i")")" = 200 ] && sent=$((sent + 1))
done
for i in 1 2 3; do
	body5=$(for j in 1 2 3 4 5; do fresh_pin $((10 * i + j)); done | jq -c -s .)
	[ "$(req POST /pins --data-binary "$body5")" = 200 ] && sent=$((sent + 1))
done
check "10 requests answered 200" "$sent" 10
for i in 1 2; do req POST /pin/ --data-binary "$(fresh_pin 40 | jq -c '.index = "abc"')" >/dev/null; done
check "the pins are in pinpipe.pins" "$(pp_sql "select count(*) from pinpipe.pins where source = 'http'")" 22

metrics
if promtool check metrics <"$T/metrics.txt" >"$T/promtool.out" 2>&1; then ok "promtool check metrics"; else fail "promtool: $(cat "$T/promtool.out")"; fi
check "http: one observation per committed request" "$(lag_sample http _count)" 10
check "http: +Inf bucket = count" "$(lag_sample http _bucket ',le="+Inf"')" 10
bounds=$(grep '^pinpipe_ingest_lag_seconds_bucket{source="http"' "$T/metrics.txt" | sed 's/.*le="\([^"]*\)".*/\1/')
check "buckets: increasing bounds from 1 ms, 20 ms among them, up to +Inf" \
	"$(echo "$bounds" | awk 'NR == 1 { first = $1 } $1 == "0.02" { g = 1 } $1 != "+Inf" { if (NR > 1 && $1 + 0 <= prev) bad = 1; prev = $1 + 0 } END { print first, g + 0, bad + 0, $1 }')" \
	"0.001 1 0 +Inf"
check "buckets: cumulative counts never decrease" \
	"$(grep '^pinpipe_ingest_lag_seconds_bucket{source="http"' "$T/metrics.txt" | awk '{ if ($2 < prev) bad = 1; prev = $2 } END { print bad + 0 }')" 0
check "http: sum is a plausible total (0 <= sum < 10 * 60 s)" \
	"$(awk -v s="$(lag_sample http _sum)" 'BEGIN { print (s >= 0 && s < 600) ? "yes" : s }')" yes
check "workers: the http worker shows its latest lag (0 <= lag < 60 s)" \
	"$(pp_sql "select ingest_lag_seconds >= 0 and ingest_lag_seconds < 60 from pinpipe.workers where kind = 'http'")" t
check "workers: the latest lag is one of the observations (<= sum)" \
	"$(pp_sql "select ingest_lag_seconds <= $(lag_sample http _sum) from pinpipe.workers where kind = 'http'")" t

# --- Kafka: one consumer worker, 1,000 pins from the dev broker in batches of at most 100
kafka_broker_start 2 || { fail "dev broker did not start"; pp_done; }
kafka_make_pins "$T/pins.jsonl" 1000 50 >/dev/null
pp_cluster_stop fast
pp_conf "pinpipe.kafka_brokers = '$KAFKA_BOOTSTRAP'" "pinpipe.consumer_workers = 1" "pinpipe.batch_size = 100"
pp_cluster_up || { fail "restart with a consumer"; pp_done; }
kafka_produce "$T/pins.jsonl" 2 || fail "produce"
pp_wait_for "[ \"\$(kafka_consumed)\" = 1000 ]" 180 "1000 pins consumed" || fail "consumed only $(kafka_consumed)"
pp_wait_for "http_healthz_is 200" 60 "healthz 200" || fail "healthz never 200 after restart"
batches=$(pp_sql "select batches from pinpipe.workers where kind = 'consumer'")
metrics
if promtool check metrics <"$T/metrics.txt" >"$T/promtool.out" 2>&1; then ok "promtool check metrics (with a consumer)"; else fail "promtool: $(cat "$T/promtool.out")"; fi
check "kafka: at least 10 batches for 1000 pins of batch_size 100" "$([ "${batches:-0}" -ge 10 ] && echo yes || echo "$batches")" yes
check "kafka: one observation per committed row, not per batch" "$(lag_sample kafka _count)" 1000
check "kafka: +Inf bucket = count" "$(lag_sample kafka _bucket ',le="+Inf"')" 1000
check "workers: the consumer shows its latest lag (0 <= lag < 600 s)" \
	"$(pp_sql "select ingest_lag_seconds >= 0 and ingest_lag_seconds < 600 from pinpipe.workers where kind = 'consumer'")" t
check "http series still there (count restarted with the server)" "$(lag_sample http _count)" 0
pp_done
