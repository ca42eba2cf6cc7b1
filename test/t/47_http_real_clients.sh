#!/usr/bin/env bash
# 47_http_real_clients.sh — issue 11's "Done when": real client shapes work unchanged.
# Python's requests posts real rows of the 2023 data set (a pin, its geolocation and
# its user record per row, as the posting emulators in the wild read them) exactly as
# those emulators do:
#   FastAPI:      requests.post(f"{url}/pin/", json=payload) and data=json.dumps(payload)
#   REST proxy:   requests.post(f"{url}/topics/<id>.pin|.geo|.user", data=json.dumps(
#                     {"records": [{"value": row}]}), headers={'Content-Type':
#                     'application/vnd.kafka.json.v2+json'}), and with json=
#   Kinesis:      requests.request("PUT", f"{url}/streams/streaming-<id>-pin/record",
#                     headers={'Content-Type': 'application/json'},
#                     data=json.dumps({"StreamName": …, "Data": row, "PartitionKey": …}))
# Embedded mode: every record is in its table (pins, geo, users) exactly once and the
# offsets / sequence numbers answered are its raw log ids. Kafka mode: every record
# answered 200 is in the broker exactly once, at the partition and offset answered
# (read back with kcat), and every record reaches its stream's table exactly once through
# the consumer (the streams' topics and the REST proxy's <id>.pin|.geo|.user alike).
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../http_lib.sh"
source "$(dirname "$0")/../kafka_lib.sh"

pp_scratch T realclients
for f in pins_sample.jsonl geo_sample.jsonl user_sample.jsonl; do
	[ -f "$PP_SHARED_DATA/$f" ] || { fail "sample data missing: $PP_SHARED_DATA/$f"; pp_done; }
done
# Debian's python3 with python3-requests (scripts/setup.sh), whatever else is first in PATH
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
"$PY" -c 'import requests' 2>/dev/null || { fail "python3-requests missing (scripts/setup.sh installs it)"; pp_done; }

# post.py URL OUT FIRST_ROW N: N rows from FIRST_ROW on, each row's pin, geo and user record
# posted once, the client shape rotating per row; one JSON line per record posted into OUT.
cat >"$T/post.py" <<'PY'
import json, os, sys
import requests

url, out, first, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
data = os.environ["PP_SHARED_DATA"]
rows = {s: [json.loads(l) for l in open(f"{data}/{f}", encoding="utf-8")]
        for s, f in (("pin", "pins_sample.jsonl"), ("geo", "geo_sample.jsonl"), ("user", "user_sample.jsonl"))}
uid = "0a1b2c3d4e5f"
kafka_ct = {'Content-Type': 'application/vnd.kafka.json.v2+json'}
seen = set()
with open(out, "w") as f:
    i = first
    posted = 0
    while posted < n:
        pin = rows["pin"][i]
        i += 1
        if pin["unique_id"] in seen:   # the sample repeats a few pins: post each one once
            continue
        seen.add(pin["unique_id"])
        k = posted % 5
        posted += 1
        for stream in ("pin", "geo", "user"):
            rec = pin if stream == "pin" else rows[stream][i]
            entry = {"stream": stream, "record": rec}
            if stream == "pin" and k == 0:
                r = requests.post(f"{url}/pin/", json=rec)
                entry["shape"] = "fastapi json="
            elif stream == "pin" and k == 1:
                r = requests.post(f"{url}/pin/", data=json.dumps(rec))
                entry["shape"] = "fastapi data="
            elif k in (0, 1, 2):
                payload = {"records": [{"value": rec}]}
                r = requests.post(f"{url}/topics/{uid}.{stream}", data=json.dumps(payload), headers=kafka_ct)
                entry["shape"] = "restproxy data="
                entry["topic"] = f"{uid}.{stream}"
            elif k == 3:
                r = requests.post(f"{url}/topics/{uid}.{stream}", json={"records": [{"value": rec}]})
                entry["shape"] = "restproxy json="
                entry["topic"] = f"{uid}.{stream}"
            else:
                name = f"streaming-{uid}-{stream}"
                payload = json.dumps({"StreamName": name, "Data": rec, "PartitionKey": f"partition-{stream}"})
                r = requests.request("PUT", f"{url}/streams/{name}/record",
                                     headers={'Content-Type': 'application/json'}, data=payload)
                entry["shape"] = "kinesis"
            entry["status"] = r.status_code
            try:
                entry["answer"] = r.json()
            except ValueError:
                entry["answer"] = r.text
            f.write(json.dumps(entry) + "\n")
PY

# check.py POSTED ROWS MODE: compare what was posted with what is stored. ROWS: one JSON
# object per stored row {"where", "partition", "offset", "payload"} (where: a table in
# embedded mode, a topic in Kafka mode); prints one "ok …" / "not ok …" line per property.
cat >"$T/check.py" <<'PY'
import json, sys
from collections import Counter
posted = [json.loads(l) for l in open(sys.argv[1])]
rows = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
mode = sys.argv[3]
table = {"pin": "pins", "geo": "geo", "user": "users"}
topic = {"pin": "pinterest.pins", "geo": "pinterest.geo", "user": "pinterest.user"}
def where(p):
    # embedded and kafka-tables: the stream's table; Kafka: the REST proxy's named topic,
    # else the stream's topic
    return table[p["stream"]] if mode in ("embedded", "kafka-tables") else p.get("topic", topic[p["stream"]])
def key(v):
    return json.dumps(v, sort_keys=True)
def say(ok, what):
    print(("ok" if ok else "not ok") + " " + what)
def answered(p):
    # where the answer says the record is; None when it does not say it was stored
    a = p["answer"]
    try:
        if p["shape"].startswith("restproxy"):
            o = a["offsets"][0]
            return (o["partition"], o["offset"]) if o["error_code"] is None else None
        if p["shape"] == "kinesis":
            return (int(a["ShardId"].split("-")[1]), int(a["SequenceNumber"]))
        return "echo" if a.get("unique_id") == p["record"]["unique_id"] else None
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        return None
bad = [p for p in posted if p["status"] != 200]
say(not bad, f"{mode}: all {len(posted)} posts answered 200" + (f" (not: {[(p['shape'], p['status'], p['answer']) for p in bad[:3]]})" if bad else ""))
say(all(answered(p) is not None for p in posted), f"{mode}: every answer says stored (offsets without error_code, SequenceNumber, echo)")
shapes = Counter(p["shape"] for p in posted)
say(len(shapes) == 5, f"{mode}: all five client shapes used: {dict(sorted(shapes.items()))}")
for w in sorted({where(p) for p in posted}):
    stored = Counter(key(r["payload"]) for r in rows if r["where"] == w)
    mine = [p for p in posted if where(p) == w]
    want = Counter(key(p["record"]) for p in mine)
    say(stored == want, f"{mode}: {w}: {sum(want.values())} records posted, {sum(stored.values())} stored, each exactly once")
    if mode == "kafka-tables":
        continue  # the rows' Kafka coordinates are checked against the broker above
    at = {(r["partition"], r["offset"]): key(r["payload"]) for r in rows if r["where"] == w}
    offs = [p for p in mine if answered(p) not in (None, "echo")]
    say(all(at.get(tuple(answered(p))) == key(p["record"]) for p in offs),
        f"{mode}: {w}: the {len(offs)} answered offsets point at their records")
PY

# Run check.py and report its verdicts as TAP (a check.py that fails is a failure too).
verdicts() {
	local verdict rest out=$T/verdicts.$RANDOM
	"$PY" "$T/check.py" "$@" >"$out" || fail "check.py $3 failed (exit $?)"
	while read -r verdict rest; do
		if [ "$verdict" = ok ]; then ok "$rest"; else fail "${rest#ok }"; fi
	done <"$out"
}

# ============================== embedded mode ==============================
HP=$(pp_free_port)
pp_cluster_start "pinpipe.http_port = $HP" "pinpipe.consumer_workers = 0" || { fail "cluster did not start"; pp_done; }
pp_sql "create extension pinpipe" >/dev/null
H=http://127.0.0.1:$HP
pp_wait_for "http_healthz_is 200" 60 "healthz 200" || { fail "worker never healthy"; pp_done; }

PP_SHARED_DATA=$PP_SHARED_DATA "$PY" "$T/post.py" "$H" "$T/posted.jsonl" 100 50 || fail "post.py failed"
check "embedded: 150 records posted (50 rows x pin, geo, user)" "$(wc -l <"$T/posted.jsonl")" 150
# what each table holds, with its raw log id as the "offset" (partition 0)
pp_sql "select json_build_object('where', t, 'partition', 0, 'offset', r.id, 'payload', r.payload::jsonb)
        from (select 'pins' t, raw_id from pinpipe.pins union all select 'geo', raw_id from pinpipe.geo
              union all select 'users', raw_id from pinpipe.users) s join pinpipe.raw_pins r on r.id = s.raw_id" >"$T/stored.jsonl"
verdicts "$T/posted.jsonl" "$T/stored.jsonl" embedded
check "embedded: no dead letters" "$(pp_sql "select count(*) from pinpipe.dead_letters")" 0

# ============================== Kafka mode ==============================
command -v pinpipe-devbroker >/dev/null || { fail "tools/pinpipe-devbroker not built"; pp_done; }
command -v kcat >/dev/null || { fail "kcat missing (scripts/setup.sh installs it)"; pp_done; }
kafka_broker_start 3 || { fail "dev broker did not start"; pp_done; }
BOOT=$KAFKA_BOOTSTRAP
pp_conf "pinpipe.kafka_brokers = '$BOOT'" "pinpipe.consumer_workers = 1" "pinpipe.batch_timeout_ms = 50"
pp_cluster_restart
pp_psql -c "truncate pinpipe.raw_pins, pinpipe.pins, pinpipe.geo, pinpipe.users" >/dev/null
pp_wait_for "http_healthz_is 200" 60 "healthz 200 in Kafka mode" || { fail "Kafka mode never healthy"; pp_done; }

PP_SHARED_DATA=$PP_SHARED_DATA "$PY" "$T/post.py" "$H" "$T/kposted.jsonl" 1000 50 || fail "post.py failed (Kafka)"
check "Kafka: 150 records posted" "$(wc -l <"$T/kposted.jsonl")" 150
# every message of the topics the records went to, as the broker has it (REST proxy: the
# named topics; FastAPI and Kinesis: the streams' configured topics)
: >"$T/broker.jsonl"
for t in 0a1b2c3d4e5f.pin 0a1b2c3d4e5f.geo 0a1b2c3d4e5f.user pinterest.pins pinterest.geo pinterest.user; do
	timeout 60 kcat -C -b "$BOOT" -t "$t" -o beginning -e -q -f '%p\t%o\t%s\n' |
		"$PY" -c 'import json, sys
for l in sys.stdin:
    p, o, s = l.rstrip("\n").split("\t", 2)
    print(json.dumps({"where": sys.argv[1], "partition": int(p), "offset": int(o), "payload": json.loads(s)}))' "$t" >>"$T/broker.jsonl"
done
verdicts "$T/kposted.jsonl" "$T/broker.jsonl" kafka

# every record, whichever topic it went to (the streams' topics and the REST proxy's
# <id>.pin|.geo|.user), through the consumer into its stream's table, exactly once
stored_kafka() {
	pp_sql "select json_build_object('where', t, 'partition', r.partition, 'offset', r.offset, 'payload', r.payload::jsonb)
	        from (select 'pins' t, raw_id from pinpipe.pins union all select 'geo', raw_id from pinpipe.geo
	              union all select 'users', raw_id from pinpipe.users) s join pinpipe.raw_pins r on r.id = s.raw_id"
}
written() { pp_sql "select (select count(*) from pinpipe.pins) + (select count(*) from pinpipe.geo) + (select count(*) from pinpipe.users)"; }
pp_wait_for '[ "$(written)" -ge 150 ]' 120 "the consumer to write the 150 records" || true
stored_kafka >"$T/kstored.jsonl"
verdicts "$T/kposted.jsonl" "$T/kstored.jsonl" kafka-tables
check "Kafka: no dead letters" "$(pp_sql "select count(*) from pinpipe.dead_letters")" 0
check "Kafka: every stored row's (topic, partition, offset) once" \
	"$(pp_sql "select count(*) - count(distinct (topic, \"partition\", \"offset\")) from pinpipe.raw_pins")" 0

pp_done
