#!/usr/bin/env bash
# Two consumer workers share 4 partitions (both consume), and a rebalance in the
# middle of the stream (one worker terminated, its partitions move to the other,
# then it comes back and takes some again) loses and doubles nothing.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../kafka_lib.sh"

N=${KAFKA_TEST_PINS:-40000}
pp_scratch DIR kafka

kafka_broker_start 4 || { fail "dev broker"; pp_done; }
kafka_make_pins "$DIR/p1.jsonl" "$N" 11 100 >/dev/null
kafka_make_pins "$DIR/p2.jsonl" "$N" 12 100 >/dev/null
kafka_make_pins "$DIR/p3.jsonl" "$N" 13 100 >/dev/null

pp_cluster_start "pinpipe.kafka_brokers = '$KAFKA_BOOTSTRAP'" "pinpipe.consumer_workers = 2" \
	"pinpipe.batch_size = 500"
pp_psql -c "CREATE EXTENSION pinpipe"

# Both workers must hold partitions before data arrives, so both consume.
pp_wait_for "[ \"\$(pp_sql \"SELECT count(*) FROM pinpipe.workers WHERE kind = 'consumer' AND partitions = 2\")\" = 2 ]" 60 \
	"both consumers assigned 2 partitions" || fail "assignment: $(pp_sql "SELECT string_agg(number || ':' || partitions, ' ') FROM pinpipe.workers")"
kafka_produce "$DIR/p1.jsonl" 4 || fail "produce 1"
pp_wait_for "[ \$(kafka_consumed) -ge $N ]" 120 "$N consumed" || fail "phase 1 timed out at $(kafka_consumed)"
kafka_check_exact "$N" "two workers"
check "both workers consumed" \
	"$(pp_sql "SELECT count(*) FROM pinpipe.workers WHERE kind = 'consumer' AND rows > 0")" 2
check "each partition written by exactly one worker's batches (offsets cover it)" \
	"$(pp_sql "SELECT count(*) FROM pinpipe.consumer_partition_status WHERE lag = 0")" 4

# Rebalance mid-stream: terminate worker 1 while a backlog is being consumed.
kafka_produce "$DIR/p2.jsonl" 4 || fail "produce 2"
total=$((2 * N))
pp_wait_for "[ \$(kafka_consumed) -gt $((N + 1000)) ]" 60 "phase 2 under way" || fail "phase 2 did not start"
pid1=$(pp_sql "SELECT pid FROM pinpipe.workers WHERE kind = 'consumer' AND number = 1")
check "terminate consumer 1" "$(pp_sql "SELECT pg_terminate_backend($pid1)")" t
# Worker 0 takes all 4 partitions when the group drops worker 1, or worker 1 is restarted
# (bgw_restart_time 5 s) and the group rebalances again; either way consumption completes.
pp_wait_for "[ \$(kafka_consumed) -ge $total ]" 150 "$total consumed" || fail "phase 2 timed out at $(kafka_consumed)"
kafka_check_exact "$total" "after a rebalance"

# Once worker 1 is back, both share the partitions again and a third backlog is split.
pp_wait_for "[ \"\$(pp_sql \"SELECT count(*) FROM pinpipe.workers WHERE kind = 'consumer' AND partitions = 2 AND pid <> $pid1\")\" = 2 ]" 90 \
	"both consumers assigned again" || fail "reassignment: $(pp_sql "SELECT string_agg(number || ':' || partitions || ':' || state, ' ') FROM pinpipe.workers")"
before=$(pp_sql "SELECT string_agg(rows::text, ',' ORDER BY number) FROM pinpipe.workers WHERE kind = 'consumer'")
kafka_produce "$DIR/p3.jsonl" 4 || fail "produce 3"
total=$((3 * N))
pp_wait_for "[ \$(kafka_consumed) -ge $total ]" 120 "$total consumed" || fail "phase 3 timed out at $(kafka_consumed)"
kafka_check_exact "$total" "after rejoining"
check "restarted worker consumes again" \
	"$(pp_sql "SELECT rows > 0 FROM pinpipe.workers WHERE kind = 'consumer' AND number = 1")" t
echo "# rows per worker before phase 3: $before; after: $(pp_sql "SELECT string_agg(rows::text, ',' ORDER BY number) FROM pinpipe.workers WHERE kind = 'consumer'")"
echo "# batch errors per worker: $(pp_sql "SELECT string_agg(number || ':' || errors || ' ' || coalesce(last_error, ''), '; ') FROM pinpipe.workers WHERE kind = 'consumer'")"

pp_done
