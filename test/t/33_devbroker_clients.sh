#!/usr/bin/env bash
# The dev broker serves independent clients (not only librdkafka): kafkajs's admin client
# lists and creates topics and fetches metadata; kafkajs's idempotent producer and then
# kafka-python's producer each send N real pins into pinpipe through tools/pinpipe-devbroker,
# and every record lands exactly once in pinpipe.pins (count, distinct unique_ids and
# indexes, distinct (partition, offset), offsets stored); kafka-python's admin client
# creates a topic; with --direct (no proxy) librdkafka's producer and kcat reach the mock
# itself. The clients live in test/clients (kafkajs from npm, installed by
# scripts/setup.sh; kafka-python is Debian's python3-kafka).
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../kafka_lib.sh"

N=${DEVBROKER_CLIENT_PINS:-5000}
CLIENTS=$PP_REPO/test/clients
# Debian's interpreter, the one python3-kafka installs into (another python3 may come first on PATH).
PY=/usr/bin/python3

# Missing clients are a failure, not a skip: the test would otherwise pass by not running.
command -v node >/dev/null || { fail "node is not installed (scripts/setup.sh installs it)"; pp_done; }
[ -f "$CLIENTS/node_modules/kafkajs/package.json" ] ||
	{ fail "kafkajs is not installed: run bash scripts/setup.sh (npm ci in test/clients)"; pp_done; }
"$PY" -c 'import kafka' 2>/dev/null || { fail "kafka-python is not installed (Debian python3-kafka)"; pp_done; }
pp_scratch DIR devbroker-clients

kafka_broker_start 4 || { fail "dev broker"; pp_done; }
pp_cluster_start "pinpipe.kafka_brokers = '$KAFKA_BOOTSTRAP'" "pinpipe.batch_size = 1000"
pp_psql -c "CREATE EXTENSION pinpipe"

# A client that hangs is a failure too (kafkajs's idempotent producer retries without end).
CLIENT_TIMEOUT=${DEVBROKER_CLIENT_TIMEOUT:-300}
client() { timeout "$CLIENT_TIMEOUT" "$@"; }

# Pins of one client: all N, each once, nothing else with its seed.
# check_client SEED WHAT: kafka_make_pins gave unique_ids "<seed as %08x>-…" and indexes 1..N.
check_client() {
	local prefix what=$2
	prefix=$(printf '%08x-' "$1")
	check "$what: $N pins, $N distinct unique_ids, indexes 1..$N each once" "$(pp_sql "
		SELECT count(*) || ' ' || count(DISTINCT unique_id) || ' ' || count(DISTINCT ind)
		       || ' ' || min(ind) || ' ' || max(ind)
		FROM pinpipe.pins WHERE unique_id::text LIKE '$prefix%'")" "$N $N $N 1 $N"
}

# --- kafkajs admin client: the controller exists, topics can be listed, created, described
if out=$(client node "$CLIENTS/kafkajs_client.js" admin "$KAFKA_BOOTSTRAP" "$KAFKA_TOPIC" devbroker.kafkajs 2>"$DIR/admin.err"); then
	ok "kafkajs admin client ran"
else
	fail "kafkajs admin client: $(tail -n 3 "$DIR/admin.err")"
	out='{}'
fi
check "kafkajs listTopics sees the pins topic" "$(jq -c '.before' <<<"$out")" "[\"$KAFKA_TOPIC\"]"
check "kafkajs createTopics creates a topic, then reports it exists" "$(jq -c '[.created, .again]' <<<"$out")" "[true,false]"
check "kafkajs createTopics without a partition count" "$(jq -c '.created_default' <<<"$out")" true
check "kafkajs listTopics sees the new topics" "$(jq -c '.after' <<<"$out")" \
	"[\"devbroker.kafkajs\",\"devbroker.kafkajs.default\",\"$KAFKA_TOPIC\"]"
check "kafkajs fetchTopicMetadata: partitions and leaders" \
	"$(jq -c '[.metadata[] | [.name, .partitions, .with_leader]] | sort' <<<"$out")" \
	"[[\"devbroker.kafkajs\",3,3],[\"devbroker.kafkajs.default\",4,4],[\"$KAFKA_TOPIC\",4,4]]"
check "kafkajs describeCluster: the controller is one of the brokers" \
	"$(jq -c '[.brokers, (.controller as $c | .brokers | index($c) != null)]' <<<"$out")" "[[1],true]"

# --- kafkajs idempotent producer → pinpipe
kafka_make_pins "$DIR/kafkajs.jsonl" "$N" 101 >/dev/null
if out=$(client node "$CLIENTS/kafkajs_client.js" produce "$KAFKA_BOOTSTRAP" "$KAFKA_TOPIC" "$DIR/kafkajs.jsonl" 2>"$DIR/kafkajs.err"); then
	ok "kafkajs idempotent producer ran"
	expect=$N
else
	fail "kafkajs idempotent producer: $(tail -n 3 "$DIR/kafkajs.err")"
	out='{}'
	expect=0
fi
check "kafkajs: every message acknowledged" "$(jq '.acked' <<<"$out")" "$N"
check "kafkajs: the producer is idempotent (asked for a producer id)" "$(jq '.requests.InitProducerId >= 1' <<<"$out")" true
# What was acknowledged is consumed (waiting for nothing when the producer failed).
pp_wait_for "[ \$(kafka_consumed) -ge $expect ]" 120 "$N kafkajs pins consumed" || fail "kafkajs pins: consumed $(kafka_consumed) of $N"
kafka_check_exact "$N" "kafkajs"
check_client 101 "kafkajs"

# --- kafka-python producer → pinpipe
kafka_make_pins "$DIR/kafka-python.jsonl" "$N" 102 >/dev/null
if out=$(client "$PY" "$CLIENTS/kafka_python_client.py" produce "$KAFKA_BOOTSTRAP" "$KAFKA_TOPIC" "$DIR/kafka-python.jsonl" 2>"$DIR/kafka-python.err"); then
	ok "kafka-python producer ran"
	expect=$((expect + N))
else
	fail "kafka-python producer: $(tail -n 3 "$DIR/kafka-python.err")"
	out='{}'
fi
check "kafka-python: every message acknowledged" "$(jq '.acked' <<<"$out")" "$N"
# kafka-python has an idempotent producer from 2.2.0 on; the client uses it when it is there.
echo "# kafka-python $(jq -r '.version' <<<"$out"): idempotent producer $(jq -r 'if .idempotent then "used" else "not available" end' <<<"$out")"
pp_wait_for "[ \$(kafka_consumed) -ge $expect ]" 120 "$((2 * N)) pins consumed" ||
	fail "kafka-python pins: consumed $(kafka_consumed) of $((2 * N))"
kafka_check_exact "$((2 * N))" "kafkajs + kafka-python"
check_client 102 "kafka-python"
check "no dead letters" "$(pp_sql "SELECT count(*) FROM pinpipe.dead_letters")" 0

# --- a truncated and an impossible CreateTopics request (answered by the dev broker's proxy,
# not the mock) only close their connections
"$PY" - "$KAFKA_BOOTSTRAP" <<'PY' && ok "malformed CreateTopics requests sent" || fail "malformed CreateTopics requests"
import socket, struct, sys
host, port = sys.argv[1].split(",")[0].rsplit(":", 1)
def frame(version, body):
    header = struct.pack(">hhih", 19, version, 7, 2) + b"t3"
    return struct.pack(">i", len(header) + len(body)) + header + body
topic = struct.pack(">h", 5) + b"t3.ok" + struct.pack(">ihii", 2, 1, 0, 0)
for data in (frame(3, struct.pack(">i", 1) + topic[:9]), frame(1, struct.pack(">i", 2**30))):
    s = socket.create_connection((host, int(port)), timeout=10)
    s.sendall(data)
    assert s.recv(100) == b"", "the proxy answered a malformed request"
    s.close()
PY
check "the dev broker survives them" "$(kill -0 "$KAFKA_PID" && echo alive)" alive

# --- kafka-python admin client
if out=$(client "$PY" "$CLIENTS/kafka_python_client.py" admin "$KAFKA_BOOTSTRAP" "$KAFKA_TOPIC" devbroker.kafka-python 2>"$DIR/admin-py.err"); then
	ok "kafka-python admin client ran"
else
	fail "kafka-python admin client: $(tail -n 3 "$DIR/admin-py.err")"
	out='{}'
fi
check "kafka-python create_topics: no error" "$(jq -c '.create_errors' <<<"$out")" "[0]"
check "kafka-python list_topics sees it" "$(jq -c '.after | index("devbroker.kafka-python") != null' <<<"$out")" true
check "kafka-python describe_cluster: controller 1 of brokers [1]" "$(jq -c '[.controller, .brokers]' <<<"$out")" "[1,[1]]"

# --- --direct: the mock's own address, no proxy (bench/bench_latency.sh); librdkafka clients
listeners() { ss -Hltnp | grep -c "pid=$1,"; }
check "with the proxy: the mock's listener and the proxy's" "$(listeners "$KAFKA_PID")" 2
kafka_broker_start 2 --direct || { fail "dev broker --direct"; pp_done; }
check "--direct: only the mock's listener" "$(listeners "$KAFKA_PID")" 1
seq 1 100 >"$DIR/direct.txt"
check "--direct: librdkafka's producer delivers 100 messages" \
	"$(pinpipe-devbroker --produce "$DIR/direct.txt" --bootstrap "$KAFKA_BOOTSTRAP" --partitions 2 2>"$DIR/direct.err")" 100
check "--direct: kcat reads them back, each once" \
	"$(timeout 30 kcat -C -b "$KAFKA_BOOTSTRAP" -t "$KAFKA_TOPIC" -o beginning -e -q -f '%s\n' | sort -n | uniq | wc -l)" 100

pp_done
