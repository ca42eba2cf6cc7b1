#!/usr/bin/env bash
# Kafka → tables, exactly once: 100,000 real pins (1% malformed) over 4 partitions
# through the dev broker; then a kill -9 of the consumer worker mid-stream and an
# immediate-mode stop of the whole server mid-stream. After each, every message is
# in pins or dead_letters exactly once, and the stored offsets match.
# (The dev broker retains ~5 MB per partition, so producers pace themselves.)
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../kafka_lib.sh"

N1=${KAFKA_TEST_PINS:-100000}
N2=$((N1 / 2))
N3=$((N1 / 2))
pp_scratch DIR kafka

kafka_broker_start 4 || { fail "dev broker"; pp_done; }
bad1=$(kafka_make_pins "$DIR/p1.jsonl" "$N1" 1 100)
bad2=$(kafka_make_pins "$DIR/p2.jsonl" "$N2" 2 100)
bad3=$(kafka_make_pins "$DIR/p3.jsonl" "$N3" 3 100)
check "generator wrote 1% malformed" "$bad1" "$((N1 / 100))"

pp_cluster_start "pinpipe.kafka_brokers = '$KAFKA_BOOTSTRAP'" "pinpipe.batch_size = 2000"
pp_psql -c "CREATE EXTENSION pinpipe"

# --- phase 1: 100,000 messages
kafka_produce_paced "$DIR/p1.jsonl" 0 4 && ok "produced $N1 messages" || fail "produce 1"
pp_wait_for "[ \$(kafka_consumed) -ge $N1 ]" 150 "$N1 messages consumed" || fail "phase 1 timed out at $(kafka_consumed)"
kafka_check_exact "$N1" "100k messages"
check "malformed messages are dead letters" \
	"$(pp_sql "SELECT count(*) >= $bad1 FROM pinpipe.dead_letters WHERE source = 'kafka'")" t
check "dead letters say why" \
	"$(pp_sql "SELECT count(*) FROM pinpipe.dead_letters WHERE error IS NULL OR sqlstate IS NULL OR \"offset\" IS NULL")" 0
check "worker counters match the tables" \
	"$(pp_sql "SELECT sum(rows) + sum(dead_letters) FROM pinpipe.workers WHERE kind = 'consumer'")" "$N1"
pp_wait_for "[ \"\$(pp_sql \"SELECT lag FROM pinpipe.workers WHERE kind = 'consumer'\")\" = 0 ]" 10 "lag 0" &&
	ok "lag is zero at the end" || fail "lag: $(pp_sql "SELECT lag FROM pinpipe.workers")"
check "per-partition view: 4 partitions, committed = high watermark" \
	"$(pp_sql "SELECT count(*) FROM pinpipe.consumer_partition_status WHERE committed_offset = high_watermark")" 4

# --- phase 2: kill -9 of the consumer worker mid-stream (the postmaster then resets everything)
total=$((N1 + N2))
kafka_produce_paced "$DIR/p2.jsonl" "$N1" 4 5000 &
producer=$!
pp_wait_for "[ \$(kafka_consumed) -gt $((N1 + 6000)) ]" 60 "phase 2 under way" || fail "phase 2 did not start"
pid=$(pp_sql "SELECT pid FROM pinpipe.workers WHERE kind = 'consumer'")
mid=$(kafka_consumed)
kill -9 "$pid" && ok "kill -9 consumer $pid at $mid/$total" || fail "kill -9"
wait "$producer" && ok "phase 2 produced" || fail "produce 2"
pp_wait_for "[ \$(kafka_consumed) -ge $total ]" 120 "$total messages consumed" || fail "phase 2 timed out at $(kafka_consumed)"
kafka_check_exact "$total" "after kill -9"
check "a new consumer process" "$(pp_sql "SELECT pid <> $pid FROM pinpipe.workers WHERE kind = 'consumer'")" t

# --- phase 3: immediate stop of the whole server mid-stream, then start
base=$total
total=$((total + N3))
kafka_produce_paced "$DIR/p3.jsonl" "$base" 4 5000 &
producer=$!
pp_wait_for "[ \$(kafka_consumed) -gt $((base + 6000)) ]" 60 "phase 3 under way" || fail "phase 3 did not start"
mid=$(kafka_consumed)
pp_cluster_stop immediate
ok "immediate stop at $mid/$total"
pp_cluster_up
wait "$producer" && ok "phase 3 produced" || fail "produce 3"
pp_wait_for "[ \$(kafka_consumed) -ge $total ]" 120 "$total messages consumed" || fail "phase 3 timed out at $(kafka_consumed)"
kafka_check_exact "$total" "after immediate stop"
check "all malformed messages dead-lettered" \
	"$(pp_sql "SELECT count(*) >= $((bad1 + bad2 + bad3)) FROM pinpipe.dead_letters WHERE source = 'kafka'")" t

pp_done
