#!/usr/bin/env bash
# 46_http_restproxy.sh — the two foreign produce APIs of the HTTP worker (DESIGN §10):
# Confluent's Kafka REST Proxy v2 (POST /topics/{topic}) and Kinesis PutRecord through
# an API Gateway (PUT /streams/{name}/record), in embedded mode (offsets = raw log ids)
# and in Kafka mode through the dev broker (real partitions and offsets, checked in the
# broker with kcat), with every answer and error shape: 200 offsets, per-record errors,
# 40401, 415, 422 (42201, 42202, malformed records), 400, 405, 413, 401, 503.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
HTTP_REQ_TIMEOUT=30
source "$(dirname "$0")/../http_lib.sh"
source "$(dirname "$0")/../kafka_lib.sh"

pp_scratch T restproxy
PINS=$PP_SHARED_DATA/pins_sample.jsonl
GEO=$PP_SHARED_DATA/geo_sample.jsonl
USERS=$PP_SHARED_DATA/user_sample.jsonl
for f in "$PINS" "$GEO" "$USERS"; do [ -f "$f" ] || { fail "sample data missing: $f"; pp_done; }; done

HP=$(pp_free_port)
pp_cluster_start "pinpipe.http_port = $HP" "pinpipe.consumer_workers = 0" \
	"pinpipe.http_max_body = 1048576" || { fail "cluster did not start"; pp_done; }
pp_sql "create extension pinpipe" >/dev/null
H=http://127.0.0.1:$HP
pp_wait_for "http_healthz_is 200" 60 "healthz 200" || { fail "worker never healthy"; pp_done; }

KJSON='Content-Type: application/vnd.kafka.json.v2+json'
AJSON='Content-Type: application/json'
# a real pin with a fresh unique_id; a real geo / user record with a fresh ind
pin() { sed -n "${1}p" "$PINS" | jq -c --arg u "$(cat /proc/sys/kernel/random/uuid)" '.unique_id = $u'; }
geo() { sed -n "${1}p" "$GEO" | jq -c --argjson i "$2" '.ind = $i'; }
usr() { sed -n "${1}p" "$USERS" | jq -c --argjson i "$2" '.ind = $i'; }
records() { jq -c -s '{records: map({value: .})}'; }
uid() { echo "$1" | jq -r .unique_id; }
# the output of several commands as one line (status, header, body field)
flat() { tr -d '\n'; }

# ============================== embedded mode ==============================
P1=$(pin 1)
P2=$(pin 2)
BAD=$(pin 3 | jq -c '.index = "abc"')
jq -c -n --argjson a "$P1" --argjson b "$P2" --argjson c "$BAD" \
	'{records: [{value: $a}, {value: $b, key: "k2", partition: 0}, {value: $c}]}' >"$T/p.json"
check "REST proxy: POST /topics/<id>.pin: 200" "$(req POST /topics/0a1b2c.pin -H "$KJSON" --data-binary @"$T/p.json")" 200
check "REST proxy: answer type" "$(hdr Content-Type)" "application/vnd.kafka.v2+json"
check "REST proxy: answer shape" "$(body | jq -c 'keys_unsorted')" '["offsets","key_schema_id","value_schema_id"]'
check "REST proxy: schema ids null" "$(body | jq -c '[.key_schema_id, .value_schema_id]')" '[null,null]'
check "REST proxy: one entry per record" "$(body | jq '.offsets|length')" 3
check "REST proxy: stored records: partition 0, no error" "$(body | jq -c '[.offsets[0,1]|[.partition, .error_code, .error]]')" '[[0,null,null],[0,null,null]]'
RAW1=$(pp_sql "select id from pinpipe.raw_pins where payload::jsonb->>'unique_id' = '$(uid "$P1")'")
RAW2=$(pp_sql "select id from pinpipe.raw_pins where payload::jsonb->>'unique_id' = '$(uid "$P2")'")
check "embedded: offsets are the raw log ids" "$(body | jq -c '[.offsets[0,1].offset]')" "[$RAW1,$RAW2]"
check "REST proxy: the invalid record: error_code 1, no partition/offset" "$(body | jq -c '.offsets[2]|[.partition, .offset, .error_code]')" '[null,null,1]'
check "REST proxy: its error names the field" "$(body | jq -r '.offsets[2].error' | grep -c 'invalid pin: field "index"')" 1
check "both pins in pinpipe.pins" "$(pp_sql "select count(*) from pinpipe.pins where unique_id in ('$(uid "$P1")', '$(uid "$P2")')")" 2
check "the invalid one is not" "$(pp_sql "select count(*) from pinpipe.pins where unique_id = '$(uid "$BAD")'")" 0
check "raw log: the value as sent, source http" "$(pp_sql "select source || ' ' || (payload::jsonb = '$P1'::jsonb) from pinpipe.raw_pins where id = $RAW1")" "http true"

# geo and user records by their topics' suffix, and by the configured topic names
{ geo 1 910001; geo 2 910002; } | records >"$T/g.json"
check "REST proxy: /topics/<id>.geo: 200" "$(req POST /topics/0a1b2c.geo -H "$KJSON" --data-binary @"$T/g.json")" 200
check "geo: both stored" "$(body | jq -c '[.offsets[].error_code]')" '[null,null]'
GOFF=$(body | jq -r '.offsets[0].offset')
check "geo: rows in pinpipe.geo" "$(pp_sql "select count(*) from pinpipe.geo where ind in (910001, 910002)")" 2
check "geo: offset is the geo row's raw log id" "$(pp_sql "select ind from pinpipe.geo where raw_id = $GOFF")" 910001
check "geo: raw log stream geo" "$(pp_sql "select stream from pinpipe.raw_pins where id = $GOFF")" geo
usr 1 920001 | records >"$T/u.json"
check "REST proxy: /topics/<id>.user (application/json): 200" "$(req POST /topics/x.user -H "$AJSON" --data-binary @"$T/u.json")" 200
check "user: row in pinpipe.users" "$(pp_sql "select count(*) from pinpipe.users where ind = 920001")" 1
geo 3 910003 | records >"$T/g3.json"
check "REST proxy: the configured topic pinterest.geo: 200" "$(req POST /topics/pinterest.geo -H "$KJSON" --data-binary @"$T/g3.json")" 200
check "pinterest.geo: geo row" "$(pp_sql "select count(*) from pinpipe.geo where ind = 910003")" 1
pin 4 | records >"$T/p4.json"
check "REST proxy: the configured topic pinterest.pins: 200" "$(req POST /topics/pinterest.pins -H "$KJSON; charset=utf-8" --data-binary @"$T/p4.json")" 200
# a geo record posted to a pin topic is validated as a pin
geo 4 910004 | records >"$T/g4.json"
check "geo record to a .pin topic: 200, error_code 1" "$(req POST /topics/a.pin -H "$KJSON" --data-binary @"$T/g4.json"; body | jq -c '.offsets[0].error_code')" "2001"
check "embedded: partition 5 refused per record" "$(jq -c -n --argjson p "$(pin 5)" '{records:[{value:$p, partition: 5}]}' |
	req POST /topics/a.pin -H "$KJSON" --data-binary @-; body | jq -c '.offsets[0]|[.error_code, (.error|test("partition"))]')" '200[1,true]'

# --- REST proxy errors
check "unknown topic: 404" "$(req POST /topics/nothing -H "$KJSON" --data-binary @"$T/p4.json")" 404
check "unknown topic: 40401" "$(body | jq -c .)" '{"error_code":40401,"message":"Topic not found."}'
check "invalid topic name: 404" "$(req POST '/topics/a%20b.pin' -H "$KJSON" --data-binary @"$T/p4.json"; body | jq -c .error_code)" 40440401
check "wrong content type: 415" "$(req POST /topics/a.pin -H 'Content-Type: text/plain' --data-binary @"$T/p4.json")" 415
check "415 body" "$(body | jq -c .error_code)" 415
check "no content type: 415" "$(req POST /topics/a.pin -H 'Content-Type:' --data-binary @"$T/p4.json")" 415
check "binary embedded format: 415" "$(req POST /topics/a.pin -H 'Content-Type: application/vnd.kafka.binary.v2+json' --data-binary @"$T/p4.json")" 415
AVRO='Content-Type: application/vnd.kafka.avro.v2+json'
check "avro without value schema: 422 42202" "$(req POST /topics/a.pin -H "$AVRO" --data-binary @"$T/p4.json"; body | jq -c .error_code)" 42242202
check "avro with keys, no key schema: 422 42201" "$(req POST /topics/a.pin -H "$AVRO" --data-binary '{"value_schema_id": 1, "records": [{"key": 1, "value": {}}]}'; body | jq -c .error_code)" 42242201
check "avro with schemas: 415 (no schema registry)" "$(req POST /topics/a.pin -H "$AVRO" --data-binary '{"value_schema": "\"int\"", "records": [{"value": 1}]}')" 415
check "records empty: 422" "$(req POST /topics/a.pin -H "$KJSON" --data-binary '{"records": []}')" 422
check "records empty: the reference's message" "$(body | jq -c .)" '{"error_code":422,"message":"records may not be empty"}'
check "records missing: 422" "$(req POST /topics/a.pin -H "$KJSON" --data-binary '{"value_schema_id": null}'; body | jq -c .error_code)" 422422
check "records not an array: 422" "$(req POST /topics/a.pin -H "$KJSON" --data-binary '{"records": {"value": {}}}'; body | jq -c .error_code)" 422422
check "a record not an object: 422" "$(req POST /topics/a.pin -H "$KJSON" --data-binary '{"records": [1]}'; body | jq -c .error_code)" 422422
check "partition not an integer: 422" "$(req POST /topics/a.pin -H "$KJSON" --data-binary '{"records": [{"value": {}, "partition": "x"}]}'; body | jq -r .message)" "422records[0].partition must be a non-negative integer"
check "body a JSON array: 422" "$(req POST /topics/a.pin -H "$KJSON" --data-binary '[{"value": {}}]')" 422
check "not JSON: 400" "$(req POST /topics/a.pin -H "$KJSON" --data-binary '{"records": [')" 400
check "400 body" "$(body | jq -c .error_code)" 400
printf '{"records": [{"value": "\xff"}]}' >"$T/bad_utf8"
check "not UTF-8: 400" "$(req POST /topics/a.pin -H "$KJSON" --data-binary @"$T/bad_utf8"; body | jq -c .error_code)" 400400
check "GET /topics/<t>: 405 Allow POST" "$({ req GET /topics/a.pin; hdr Allow; body | jq -c .error_code; } | flat)" 405POST405
python3 -c 'import json; print(json.dumps({"records": [{"value": {"x": "y" * 1100000}}]}))' >"$T/huge.json"
check "over pinpipe.http_max_body: 413" "$(req POST /topics/a.pin -H "$KJSON" --data-binary @"$T/huge.json"; body | jq -c .error_code)" 413413
check "nothing stored by the refused requests" "$(pp_sql "select count(*) from pinpipe.dead_letters")" 0

# ============================== Kinesis ==============================
kin() { jq -c -n --arg s "$1" --argjson d "$2" --arg k "$3" '{StreamName: $s, Data: $d, PartitionKey: $k}'; }
P6=$(pin 6)
check "Kinesis: PUT /streams/streaming-<id>-pin/record: 200" "$(kin streaming-0a1b2c-pin "$P6" p1 |
	req PUT /streams/streaming-0a1b2c-pin/record -H "$AJSON" --data-binary @-)" 200
RAW6=$(pp_sql "select id from pinpipe.raw_pins where payload::jsonb->>'unique_id' = '$(uid "$P6")'")
check "Kinesis: SequenceNumber (raw log id) and ShardId" "$(body | jq -c .)" "{\"SequenceNumber\":\"$RAW6\",\"ShardId\":\"shardId-000000000000\"}"
check "Kinesis: the pin in pinpipe.pins" "$(pp_sql "select count(*) from pinpipe.pins where unique_id = '$(uid "$P6")'")" 1
check "Kinesis: streaming-<id>-geo: 200" "$(kin streaming-0a1b2c-geo "$(geo 5 910005)" g | req PUT /streams/streaming-0a1b2c-geo/record -H "$AJSON" --data-binary @-)" 200
check "Kinesis: geo row" "$(pp_sql "select count(*) from pinpipe.geo where ind = 910005")" 1
check "Kinesis: streaming-<id>-user: 200" "$(kin streaming-0a1b2c-user "$(usr 5 920005)" u | req PUT /streams/streaming-0a1b2c-user/record -H "$AJSON" --data-binary @-)" 200
check "Kinesis: user row" "$(pp_sql "select count(*) from pinpipe.users where ind = 920005")" 1
check "Kinesis: a topic-style name <id>.geo, no Content-Type: 200" "$(kin x "$(geo 6 910006)" g | req PUT /streams/0a1b2c.geo/record -H 'Content-Type:' --data-binary @-)" 200
check "Kinesis: the path names the stream (body StreamName ignored)" "$(pp_sql "select count(*) from pinpipe.geo where ind = 910006")" 1
# --- Kinesis errors
check "Kinesis: unknown stream: 400 ResourceNotFoundException" "$(kin nope "$P6" k | req PUT /streams/nope/record -H "$AJSON" --data-binary @-; body | jq -r .__type)" 400ResourceNotFoundException
check "Kinesis: answer type" "$(hdr Content-Type)" application/json
check "Kinesis: no PartitionKey: 400 ValidationException" "$(req PUT /streams/s-pin/record -H "$AJSON" --data-binary "{\"Data\": $(pin 7)}"; body | jq -r .__type)" 400ValidationException
check "Kinesis: no Data: 400 ValidationException" "$(req PUT /streams/s-pin/record -H "$AJSON" --data-binary '{"PartitionKey": "k"}'; body | jq -r '.__type + " " + (.message|test("data")|tostring)')" "400ValidationException true"
check "Kinesis: not JSON: 400 SerializationException" "$(req PUT /streams/s-pin/record -H "$AJSON" --data-binary '{"Data": ')" 400
check "Kinesis: SerializationException" "$(body | jq -r .__type)" SerializationException
check "Kinesis: invalid record: 400 InvalidArgumentException naming the field" "$(kin s "$(usr 8 1 | jq -c '.age = "old"')" k |
	req PUT /streams/s-user/record -H "$AJSON" --data-binary @-; body | jq -r '.__type + " " + (.message|test("field \"age\"")|tostring)')" "400InvalidArgumentException true"
check "Kinesis: POST: 405 Allow PUT" "$({ req POST /streams/s-pin/record -H "$AJSON" --data-binary '{}'; hdr Allow; body | jq -r .__type; } | flat)" 405PUTUnknownOperationException
check "Kinesis: text/plain: 415" "$(kin s "$P6" k | req PUT /streams/s-pin/record -H 'Content-Type: text/plain' --data-binary @-)" 415

# --- auth: the bearer token guards both APIs, in their error shapes
pp_conf "pinpipe.http_auth_token = 's3cret'"
pp_cluster_reload
pp_wait_for "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -X POST $H/topics/a.pin -H '$KJSON' --data-binary @$T/p4.json)\" = 401 ]" 30 "token in force" || fail "token never in force"
check "REST proxy without token: 401 error_code 401" "$(req POST /topics/a.pin -H "$KJSON" --data-binary @"$T/p4.json"; body | jq -c .error_code)" 401401
check "Kinesis without token: 401 UnrecognizedClientException" "$(kin s "$P6" k | req PUT /streams/s-pin/record -H "$AJSON" --data-binary @-; body | jq -r .__type)" 401UnrecognizedClientException
check "REST proxy with the token: 200" "$(req POST /topics/a.pin -H "$KJSON" -H 'Authorization: Bearer s3cret' --data-binary "$(pin 9 | records)")" 200
pp_conf "pinpipe.http_auth_token = ''"
pp_cluster_reload
pp_wait_for "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -X POST $H/topics/a.pin -H '$KJSON' --data-binary '{\"records\":[]}')\" = 422 ]" 30 "token off" || fail "token never off"

# --- the pipeline unavailable: 503 + Retry-After in each API's shape, nothing promised
pp_sql "drop extension pinpipe" >/dev/null
check "REST proxy, extension missing: 503" "$({ req POST /topics/a.pin -H "$KJSON" --data-binary "$(pin 10 | records)"; hdr Retry-After; body | jq -c .error_code; } | flat)" 5031503
check "Kinesis, extension missing: 503 ServiceUnavailableException" "$(kin s "$P6" k | req PUT /streams/s-pin/record -H "$AJSON" --data-binary @-; body | jq -r .__type)" 503ServiceUnavailableException
pp_sql "create extension pinpipe" >/dev/null
pp_wait_for "http_healthz_is 200" 30 "healthz 200 again" || fail "healthz never 200 again"

check "GET /metrics: both endpoints labelled" "$(req GET /metrics; body | grep -c -E '^pinpipe_http_requests_total\{endpoint="(/topics/\{topic\}|/streams/\{name\}/record)",code="200"\}')" 2002

# ============================== Kafka mode ==============================
command -v pinpipe-devbroker >/dev/null || { fail "tools/pinpipe-devbroker not built"; pp_done; }
command -v kcat >/dev/null || { fail "kcat missing (scripts/setup.sh installs it)"; pp_done; }
kafka_broker_start 3 || { fail "dev broker did not start"; pp_done; }
BOOT=$KAFKA_BOOTSTRAP
pp_conf "pinpipe.kafka_brokers = '$BOOT'" "pinpipe.consumer_workers = 1" "pinpipe.batch_timeout_ms = 50"
pp_cluster_restart
pp_wait_for "http_healthz_is 200" 60 "healthz 200 in Kafka mode" || { fail "Kafka mode never healthy"; pp_done; }
# the message at topic/partition/offset, as the broker has it: "key<TAB>value"
at() { timeout 30 kcat -C -b "$BOOT" -t "$1" -p "$2" -o "$3" -c 1 -e -q -f '%k\t%s\n'; }

K1=$(pin 11)
K2=$(pin 12)
jq -c -n --argjson a "$K1" --argjson b "$K2" --argjson c "$(pin 13 | jq -c 'del(.category)')" \
	'{records: [{value: $a, key: "key-1"}, {value: $b, partition: 2}, {value: $c}]}' >"$T/k.json"
check "Kafka: POST /topics/pinterest.pins: 200" "$(req POST /topics/pinterest.pins -H "$KJSON" --data-binary @"$T/k.json")" 200
cp "$T/body" "$T/k.answer"
KP1=$(jq -r '.offsets[0].partition' "$T/k.answer")
KO1=$(jq -r '.offsets[0].offset' "$T/k.answer")
check "Kafka: record 2 in the partition it asked for" "$(jq -c '.offsets[1]|[.partition, .error_code]' "$T/k.answer")" '[2,null]'
check "Kafka: the invalid record: error_code 1" "$(jq -c '.offsets[2]|[.partition, .error_code]' "$T/k.answer")" '[null,1]'
check "Kafka: the broker has record 1 at the reported partition/offset, with its key" \
	"$(at pinterest.pins "$KP1" "$KO1" | awk -F'\t' '{print $1}')|$(at pinterest.pins "$KP1" "$KO1" | cut -f2- | jq -r .unique_id)" "key-1|$(uid "$K1")"
check "Kafka: ... and record 2" "$(at pinterest.pins 2 "$(jq -r '.offsets[1].offset' "$T/k.answer")" | cut -f2- | jq -r .unique_id)" "$(uid "$K2")"
pp_wait_for "[ \"\$(pp_sql \"select count(*) from pinpipe.pins where unique_id in ('$(uid "$K1")', '$(uid "$K2")')\")\" = 2 ]" 60 "consumer wrote both" &&
	ok "Kafka: both pins consumed into pinpipe.pins" || fail "Kafka: pins not consumed"
check "Kafka: the consumer stored record 1 at the reported coordinates" \
	"$(pp_sql "select \"partition\" || '/' || \"offset\" from pinpipe.pins where unique_id = '$(uid "$K1")'")" "$KP1/$KO1"
check "Kafka: partition 7 of a 3-partition topic: error_code 1" "$(jq -c -n --argjson p "$(pin 14)" '{records:[{value:$p, partition: 7}]}' |
	req POST /topics/pinterest.pins -H "$KJSON" --data-binary @-; body | jq -c '.offsets[0]|[.partition, .error_code]')" '200[null,1]'

{ geo 7 930007; geo 8 930008; } | records >"$T/kg.json"
check "Kafka: POST /topics/<id>.geo: 200" "$(req POST /topics/0a1b2c.geo -H "$KJSON" --data-binary @"$T/kg.json")" 200
GP=$(body | jq -r '.offsets[1].partition')
GO=$(body | jq -r '.offsets[1].offset')
check "Kafka: the named topic 0a1b2c.geo holds the geo record at the reported offset" "$(at 0a1b2c.geo "$GP" "$GO" | cut -f2- | jq -c .ind)" 930008

check "Kafka: Kinesis PUT streaming-<id>-user: 200" "$(kin streaming-0a1b2c-user "$(usr 9 940009)" pk-9 | req PUT /streams/streaming-0a1b2c-user/record -H "$AJSON" --data-binary @-)" 200
SN=$(body | jq -r .SequenceNumber)
SH=$(body | jq -r .ShardId)
check "Kafka: ShardId names a partition" "$(echo "$SH" | grep -c -E '^shardId-[0-9]{12}$')" 1
check "Kafka: Kinesis records go to the stream's topic (pinterest.user), keyed by PartitionKey" \
	"$(at pinterest.user "$((10#${SH#shardId-}))" "$SN" | awk -F'\t' '{print $1}')|$(at pinterest.user "$((10#${SH#shardId-}))" "$SN" | cut -f2- | jq -c .ind)" "pk-9|940009"

# --- broker down: 503 + Retry-After in both shapes
kafka_broker_down
pp_wait_for "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -X POST $H/topics/pinterest.pins -H '$KJSON' --data-binary @$T/p4.json)\" = 503 ]" 90 "503 while the broker is down" &&
	ok "Kafka down: REST proxy 503" || fail "Kafka down: no 503"
check "Kafka down: REST proxy 503 body and Retry-After" "$({ req POST /topics/pinterest.pins -H "$KJSON" --data-binary @"$T/p4.json"; hdr Retry-After; body | jq -c .error_code; } | flat)" 5031503
check "Kafka down: Kinesis 503 ServiceUnavailableException" "$(kin s "$P6" k | req PUT /streams/s-pin/record -H "$AJSON" --data-binary @-; body | jq -r .__type)" 503ServiceUnavailableException
kafka_broker_up
pp_wait_for "http_healthz_is 200" 90 "healthz after the outage" || fail "not healthy after the outage"

# --- a record over the producer's message.max.bytes: error_code 1 (REST proxy), 413 (Kinesis)
pp_conf "pinpipe.kafka_config = 'message.max.bytes=3000'"
pp_cluster_restart
pp_wait_for "http_healthz_is 200" 60 "healthz 200 with the small limit" || fail "not healthy with the small limit"
BIG=$(pin 15 | jq -c '.description = ("x" * 4000)')
check "Kafka: over message.max.bytes: 200 with error_code 1 beside a stored record" "$(jq -c -n --argjson a "$BIG" --argjson b "$(pin 16)" '{records:[{value:$a},{value:$b}]}' |
	req POST /topics/pinterest.pins -H "$KJSON" --data-binary @-; body | jq -c '[.offsets[].error_code]')" '200[1,null]'
check "Kafka: Kinesis over message.max.bytes: 413 ValidationException" "$(kin s "$BIG" k | req PUT /streams/s-pin/record -H "$AJSON" --data-binary @-; body | jq -r .__type)" 413ValidationException

pp_done
