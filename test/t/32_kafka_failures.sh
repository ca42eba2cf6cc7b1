#!/usr/bin/env bash
# Kafka consumer failure behaviour: broker unreachable at start (then available:
# consumption starts without a restart); broker down mid-stream and back; a poison
# record that fails at insert time (not at parsing) ends in dead letters while the
# rest continues; an oversize message is dead-lettered; SIGHUP reloads settings; a
# database error rolls the batch back and retries it; the extension dropped and
# created again makes the worker idle, then resume; SIGTERM ends it promptly.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../kafka_lib.sh"

N=${KAFKA_TEST_PINS:-5000}
pp_scratch DIR kafka
state() { pp_sql "SELECT state FROM pinpipe.workers WHERE kind = 'consumer'"; }

kafka_broker_start 4 || { fail "dev broker"; pp_done; }
kafka_make_pins "$DIR/p1.jsonl" "$N" 21 0 >/dev/null
kafka_make_pins "$DIR/p2.jsonl" "$N" 22 0 >/dev/null
kafka_produce "$DIR/p1.jsonl" 4 || fail "produce 1"

# --- broker unreachable at start
kafka_broker_down
pp_cluster_start "pinpipe.kafka_brokers = '$KAFKA_BOOTSTRAP'" "pinpipe.batch_size = 500" \
	"pinpipe.max_message_bytes = 2048"
pp_psql -c "CREATE EXTENSION pinpipe"
pp_wait_for "[ \"\$(state)\" = 'broker unreachable' ]" 60 "state 'broker unreachable'" || fail "state is '$(state)'"
check "nothing consumed while the broker is down" "$(kafka_consumed)" 0
check "state change logged once" "$(grep -c 'pinpipe consumer 0: broker unreachable' "$PP_LOG")" 1
kafka_broker_up
pp_wait_for "[ \$(kafka_consumed) -ge $N ]" 120 "$N consumed after the broker came up" || fail "timed out at $(kafka_consumed)"
kafka_check_exact "$N" "broker up late"
check "state consuming" "$(state)" consuming

# --- broker down mid-stream, then back
kafka_produce "$DIR/p2.jsonl" 4 || fail "produce 2"
kafka_broker_down
pp_wait_for "[ \"\$(state)\" = 'broker unreachable' ]" 60 "state 'broker unreachable' mid-stream" || fail "state is '$(state)'"
pid=$(pp_sql "SELECT pid FROM pinpipe.workers WHERE kind = 'consumer'")
kafka_broker_up
pp_wait_for "[ \$(kafka_consumed) -ge $((2 * N)) ]" 120 "$((2 * N)) consumed" || fail "timed out at $(kafka_consumed)"
kafka_check_exact "$((2 * N))" "broker outage"
check "same worker process throughout the outage" "$(pp_sql "SELECT pid FROM pinpipe.workers WHERE kind = 'consumer'")" "$pid"

# --- a poison record that fails at insert time, between good ones
pp_psql -c "ALTER TABLE pinpipe.pins ADD CONSTRAINT no_poison CHECK (title IS DISTINCT FROM 'POISON PIN')"
head -n 300 "$DIR/p1.jsonl" >"$DIR/p3.jsonl"
python3 - "$DIR/p3.jsonl" <<'PY'
import json, sys, uuid
path = sys.argv[1]
lines = open(path, encoding="utf-8").read().splitlines()
out = []
for i, l in enumerate(lines):
    p = json.loads(l)
    p["unique_id"] = str(uuid.uuid4())
    if i == 150:
        p["title"] = "POISON PIN"
    out.append(json.dumps(p))
open(path, "w", encoding="utf-8").write("\n".join(out) + "\n")
PY
kafka_produce "$DIR/p3.jsonl" 1 || fail "produce 3"
total=$((2 * N + 300))
pp_wait_for "[ \$(kafka_consumed) -ge $total ]" 60 "$total consumed" || fail "timed out at $(kafka_consumed)"
kafka_check_exact "$total" "poison record"
check "poison record dead-lettered with its SQLSTATE" \
	"$(pp_sql "SELECT sqlstate || ' ' || (payload LIKE '%POISON PIN%') FROM pinpipe.dead_letters WHERE sqlstate = '23514'")" "23514 true"
ids=$(python3 -c "
import json
print(','.join(\"'%s'\" % json.loads(l)['unique_id'] for l in open('$DIR/p3.jsonl') if 'POISON' not in l))")
check "the 299 around it accepted" "$(pp_sql "SELECT count(*) FROM pinpipe.pins WHERE unique_id IN ($ids)")" 299

# --- SIGHUP: settings reload in the running worker, which keeps consuming
pp_conf "pinpipe.batch_size = 100"
pp_cluster_reload
pp_wait_for "grep -q 'parameter \"pinpipe.batch_size\" changed to \"100\"' '$PP_LOG'" 30 "reload logged" || fail "reload not logged"

# --- oversize message (pinpipe.max_message_bytes = 2048 here)
python3 -c "
import json
p = json.loads(open('$DIR/p1.jsonl').readline())
p['description'] = 'x' * 4000
p['unique_id'] = '00000000-0000-4000-8000-0000000000aa'
print(json.dumps(p))" >"$DIR/big.jsonl"
kafka_produce "$DIR/big.jsonl" 1 || fail "produce big"
total=$((total + 1))
pp_wait_for "[ \$(kafka_consumed) -ge $total ]" 60 "$total consumed" || fail "timed out at $(kafka_consumed)"
check "oversize message dead-lettered, first KiB kept" \
	"$(pp_sql "SELECT sqlstate || ' ' || length(payload_bytes) FROM pinpipe.dead_letters WHERE sqlstate = '54000'")" "54000 1024"
check "same worker process after the reload" "$(pp_sql "SELECT pid FROM pinpipe.workers WHERE kind = 'consumer'")" "$pid"

# --- a database error that is not about a record: the batch rolls back and is retried
pp_psql -c "CREATE FUNCTION test_block_offsets() RETURNS trigger LANGUAGE plpgsql AS
              \$\$ BEGIN RAISE EXCEPTION 'offsets blocked by the test' USING ERRCODE = '55P03'; END \$\$" \
	-c "CREATE TRIGGER block_offsets BEFORE INSERT OR UPDATE ON pinpipe.kafka_offsets
	    FOR EACH ROW EXECUTE FUNCTION test_block_offsets()"
errors0=$(pp_sql "SELECT errors FROM pinpipe.workers WHERE kind = 'consumer'")
head -n 50 "$DIR/p2.jsonl" | python3 -c "
import json, sys, uuid
for l in sys.stdin:
    p = json.loads(l); p['unique_id'] = str(uuid.uuid4()); print(json.dumps(p))" >"$DIR/p4.jsonl"
kafka_produce "$DIR/p4.jsonl" 4 || fail "produce 4"
pp_wait_for "[ \$(pp_sql \"SELECT errors FROM pinpipe.workers WHERE kind = 'consumer'\") -ge $((errors0 + 2)) ]" 60 \
	"failed attempts counted" || fail "no retries counted"
check "state while failing" "$(state)" "retrying batch"
check "last_error recorded" "$(pp_sql "SELECT last_error FROM pinpipe.workers WHERE kind = 'consumer'")" "offsets blocked by the test"
check "nothing of the failing batch committed" "$(kafka_consumed)" "$total"
pp_psql -c "DROP TRIGGER block_offsets ON pinpipe.kafka_offsets"
total=$((total + 50))
pp_wait_for "[ \$(kafka_consumed) -ge $total ]" 60 "$total consumed after the retry" || fail "timed out at $(kafka_consumed)"
kafka_check_exact "$total" "retried batch"
check "same worker process through the retries" "$(pp_sql "SELECT pid FROM pinpipe.workers WHERE kind = 'consumer'")" "$pid"

# --- extension dropped: the worker idles; created again: it consumes the topic again
idle_logs=$(grep -c 'pinpipe consumer 0: waiting for extension' "$PP_LOG")
pp_psql -c "DROP EXTENSION pinpipe"
pp_wait_for "[ \$(grep -c 'pinpipe consumer 0: waiting for extension' '$PP_LOG') -gt $idle_logs ]" 60 \
	"worker idles without the extension" || fail "worker did not idle"
pp_psql -c "CREATE EXTENSION pinpipe"
pp_wait_for "[ \$(kafka_consumed) -ge $total ]" 90 "$total consumed again" || fail "timed out at $(kafka_consumed)"
check "the topic re-read exactly once into the new tables" "$(kafka_consumed)" "$total"
# --- SIGTERM: the worker exits promptly even with the broker down (it does not wait for it)
kafka_broker_down
pid=$(pp_sql "SELECT pid FROM pinpipe.workers WHERE kind = 'consumer'")
pp_sql "SELECT pg_terminate_backend($pid)" >/dev/null
pp_wait_for "! kill -0 $pid" 5 "consumer $pid to exit after SIGTERM" && ok "consumer exits on SIGTERM with the broker down" ||
	fail "consumer still running after SIGTERM"
kafka_broker_up
check "no consumer crash in the log" "$(grep -c 'terminated by signal' "$PP_LOG")" 0

pp_done
