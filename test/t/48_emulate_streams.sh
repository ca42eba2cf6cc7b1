#!/usr/bin/env bash
# test/t/48_emulate_streams.sh — pinpipe-emulate's three streams (pin, geo, user of one row)
# in the three API shapes (--api fastapi | restproxy | kinesis).
#
#  (a) against a fake produce server (python3) that checks the exact request of each shape
#      (method, path, Content-Type, body keys) as the real clients send it and answers in the
#      documented shape (REST Proxy v2 offsets, Kinesis SequenceNumber/ShardId): every row's
#      three records arrive once, with the same row index, byte for byte the sample's records
#      (the rows computed here from the sample files with python3); per-record errors,
#      answers of the wrong shape and 503s are counted as documented; the same under ASan.
#  (b) against pinpipe's embedded HTTP worker: every record of each stream lands exactly
#      once in its table. FastAPI shape: pins. REST Proxy and Kinesis shapes: pins, geo and
#      users (a build that does not serve POST /topics/{topic} or PUT
#      /streams/{name}/record fails here, with the answer it gave).
set -uo pipefail
source "$(dirname "$0")/../lib.sh"

EMU=$PP_REPO/tools/pinpipe-emulate
DATA=$PP_SHARED_DATA
pp_scratch W emu-streams

[ -x "$EMU" ] || { fail "tools/pinpipe-emulate is not built"; pp_done; }
[ -f "$DATA/geo_sample.jsonl" ] || { fail "sample data not found in $DATA"; pp_done; }

# The rows, independently of the emulator: indexes present in all three files.
python3 - "$DATA" >"$W/rows.txt" 2>"$W/geo_user_rows" <<'EOF_PY'
import json, sys
d = sys.argv[1]
idx = lambda f, k: {json.loads(l)[k] for l in open(f"{d}/{f}") if l.strip()}
rows = idx("pins_sample.jsonl", "index") & idx("geo_sample.jsonl", "ind") & idx("user_sample.jsonl", "ind")
print("\n".join(str(i) for i in sorted(rows)))
print(len(idx("geo_sample.jsonl", "ind") & idx("user_sample.jsonl", "ind")), file=sys.stderr)
EOF_PY
NROWS=$(wc -l <"$W/rows.txt")
NPINS=$(grep -c . "$DATA/pins_sample.jsonl")
NGU=$(cat "$W/geo_user_rows") # rows of geo and user alone
echo "# $NROWS rows have a pin, a geo and a user record ($NPINS pins)"

# ---------------------------------------------------------------- (a) the fake produce server

cat >"$W/fake.py" <<'EOF_PY'
# A produce server of the REST Proxy v2 and Kinesis shapes that checks each request exactly,
# logs every record it accepts ({"api","name","value"} per line) and answers as documented.
# Topic/stream names choose behaviours: "err.*" rejects odd records (error_code 1) and
# fails records with value.ind % 3 == 0 as retriable (2); "odd.*" answers 200 in the wrong
# shape; "busy.*" answers every other request 503 with Retry-After: 0.
import json, sys, threading
from json_http import JsonHandler, serve
log = open(sys.argv[2], "a")
canon = lambda v: json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
lock = threading.Lock()
state = {"n": 0, "offset": 0}
def stream_of(name):
    for s in ("pin", "geo", "user"):
        if name.endswith("." + s):
            return s
def shape_ok(stream, v):
    keys = {"pin": {"index", "unique_id", "category"}, "geo": {"ind", "latitude", "country"},
            "user": {"ind", "first_name", "date_joined"}}[stream]
    return isinstance(v, dict) and keys <= v.keys()
class H(JsonHandler):
    def refuse(self, why):
        with lock:
            log.write(json.dumps({"shape_error": why, "path": self.path, "method": self.command}) + "\n"); log.flush()
        self.answer(400, {"error_code": 400, "message": why})
    def body(self):
        return json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
    def busy(self, name):
        if not name.startswith("busy."):
            return False
        with lock:
            state["n"] += 1; n = state["n"]
        if n % 2 == 1:
            self.answer(503, {"error_code": 50301, "message": "busy"}, [("Retry-After", "0")])
            return True
        return False
    def do_POST(self):
        if not self.path.startswith("/prefix/topics/"):
            return self.refuse("POST to " + self.path)
        name = self.path[len("/prefix/topics/"):]
        if self.headers.get("Content-Type") != "application/vnd.kafka.json.v2+json":
            return self.refuse("Content-Type " + str(self.headers.get("Content-Type")))
        b = self.body()
        s = stream_of(name)
        if s is None or set(b) != {"records"} or not isinstance(b["records"], list) or not b["records"] \
                or any(set(r) != {"value"} or not shape_ok(s, r["value"]) for r in b["records"]):
            return self.refuse("body " + json.dumps(b)[:200])
        if self.busy(name):
            return
        if name.startswith("odd."):
            return self.answer(200, {"accepted": len(b["records"])})
        offsets = []
        with lock:
            for i, r in enumerate(b["records"]):
                v = r["value"]
                if name.startswith("err.") and i % 2 == 1:
                    offsets.append({"partition": None, "offset": None, "error_code": 1, "error": "rejected"})
                elif name.startswith("err.") and v.get("ind", v.get("index")) % 3 == 0:
                    offsets.append({"partition": None, "offset": None, "error_code": 2, "error": "retriable"})
                else:
                    log.write(json.dumps({"api": "restproxy", "name": name, "value": v, "canon": canon(v)}) + "\n")
                    offsets.append({"partition": 0, "offset": state["offset"], "error_code": None, "error": None})
                    state["offset"] += 1
            log.flush()
        self.answer(200, {"offsets": offsets, "key_schema_id": None, "value_schema_id": None})
    def do_PUT(self):
        p = self.path.split("/")
        if len(p) != 5 or p[:3] != ["", "prefix", "streams"] or p[4] != "record":
            return self.refuse("PUT to " + self.path)
        name = p[3]
        if self.headers.get("Content-Type") != "application/json":
            return self.refuse("Content-Type " + str(self.headers.get("Content-Type")))
        b = self.body()
        s = stream_of(name)
        if s is None or set(b) != {"StreamName", "Data", "PartitionKey"} or b["StreamName"] != name \
                or not isinstance(b["PartitionKey"], str) or not b["PartitionKey"] or not shape_ok(s, b["Data"]):
            return self.refuse("body " + json.dumps(b)[:200])
        if self.busy(name):
            return
        if name.startswith("odd."):
            return self.answer(200, {"SequenceNumber": 1})
        with lock:
            log.write(json.dumps({"api": "kinesis", "name": name, "value": b["Data"], "canon": canon(b["Data"])}) + "\n"); log.flush()
            state["offset"] += 1
            seq = str(state["offset"])
        self.answer(200, {"SequenceNumber": seq, "ShardId": "shardId-000000000000"})
serve(H, int(sys.argv[1]))
EOF_PY
FPORT=$(pp_free_port)
PYTHONPATH=$PP_REPO/test python3 "$W/fake.py" "$FPORT" "$W/fake.log" &
FPID=$!
pp_cleanup "kill $FPID"
F=http://127.0.0.1:$FPORT/prefix
pp_wait_for "curl -s -o /dev/null http://127.0.0.1:$FPORT/" 20 "the fake produce server" || fail "fake server did not start"

# The records of the fake log for one api and name prefix, as "stream index json" lines.
records() {
	jq -r --arg api "$1" --arg pre "$2" 'select(.api == $api and (.name | startswith($pre)))
		| "\(.name | sub(".*[.]"; "")) \(.value.index // .value.ind) \(.canon)"' "$W/fake.log" | LC_ALL=C sort
}
# What the sample files hold for the rows, in the same form (the server's canonical JSON).
python3 - "$DATA" "$W/rows.txt" >"$W/expected_records" <<'EOF_PY'
import json, sys
d, rows = sys.argv[1], {int(l) for l in open(sys.argv[2])}
for f, k, s in (("pins_sample.jsonl", "index", "pin"), ("geo_sample.jsonl", "ind", "geo"), ("user_sample.jsonl", "ind", "user")):
    for l in open(f"{d}/{f}"):
        if l.strip():
            v = json.loads(l)
            if v[k] in rows:
                print(s, v[k], json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False))
EOF_PY
LC_ALL=C sort -o "$W/expected_records" "$W/expected_records"

emu() { "$EMU" --json --seed 21 "$@" 2>"$W/emu.err"; }

# REST Proxy, every row once, 4 connections
emu --api restproxy --url "$F" --names 'all.{stream}' --sample "$DATA" --all-rows --concurrency 4 >"$W/a1.json"; rc=$?
check "restproxy --all-rows: exit 0, $NROWS rows, every record accepted" \
	"$(jq -r '"\(.rows) \(.sent) \(.accepted) \(.rejected) \(.errors) \(.unparsed_batches)"' "$W/a1.json") $rc" \
	"$NROWS $((3 * NROWS)) $((3 * NROWS)) 0 0 0 0"
check "restproxy: per stream, $NROWS sent and accepted in $NROWS requests" \
	"$(jq -r '[.streams[] | "\(.sent)/\(.accepted)/\(.requests)"] | join(" ")' "$W/a1.json")" \
	"$NROWS/$NROWS/$NROWS $NROWS/$NROWS/$NROWS $NROWS/$NROWS/$NROWS"
check "restproxy: the streams' URLs are <url>/topics/<name>" \
	"$(jq -r '[.streams | to_entries[] | "\(.key)=\(.value.url)"] | join(" ")' "$W/a1.json")" \
	"pin=$F/topics/all.pin geo=$F/topics/all.geo user=$F/topics/all.user"
check "the fake server saw no request of another shape" "$(grep -c shape_error "$W/fake.log")" 0
records restproxy all. >"$W/got_a1"
if cmp -s "$W/got_a1" "$W/expected_records"; then
	ok "restproxy: each row's pin, geo and user record arrived once, as in the sample files ($((3 * NROWS)) records)"
else
	fail "restproxy records differ from the sample rows: $(diff "$W/got_a1" "$W/expected_records" | head -c 600)"
fi

# Random rows (the 2023 emulator's way): one connection, so the server sees rows in order;
# every row's three records carry the same index.
emu --api restproxy --url "$F" --names 'rnd.{stream}' --sample "$DATA" --count 300 --concurrency 1 >"$W/a2.json"
check "restproxy --count 300 (random rows): 900 records accepted" "$(jq -r '"\(.rows) \(.accepted)"' "$W/a2.json")" "300 900"
jq -r 'select(.name | startswith("rnd.")) | "\(.name | sub(".*[.]"; "")) \(.value.index // .value.ind)"' "$W/fake.log" >"$W/rnd"
check "random rows: each posted as pin, geo, user of one index" \
	"$(paste -d' ' - - - <"$W/rnd" | awk '$1 != "pin" || $3 != "geo" || $5 != "user" || $2 != $4 || $4 != $6' | wc -l) $(wc -l <"$W/rnd")" "0 900"
check "random rows: every index is a row of all three files" \
	"$(awk '{print $2}' "$W/rnd" | sort -u | comm -23 - <(sort "$W/rows.txt") | wc -l)" 0
if [ "$(awk '{print $2}' "$W/rnd" | sort -u | wc -l)" -gt 150 ]; then ok "random rows: picked at random (not the first rows)"; else fail "random rows: only $(awk '{print $2}' "$W/rnd" | sort -u | wc -l) distinct of 300"; fi
"$EMU" --print --api restproxy --sample "$DATA" --count 50 --seed 21 >"$W/seed1"
check "same --seed, same rows (50 rows, 150 records)" \
	"$(wc -l <"$W/seed1") $("$EMU" --print --api restproxy --sample "$DATA" --count 50 --seed 21 | md5sum)" \
	"150 $(md5sum <"$W/seed1")"

# --batch: N records per request, still every record once; rows of the selected streams only
emu --api restproxy --url "$F" --names 'bat.{stream}' --sample "$DATA" --all-rows --streams geo,user --batch 250 >"$W/a3.json"
check "restproxy --batch 250 --streams geo,user: records and requests" \
	"$(jq -r '"\(.accepted) \(.requests) \(.streams | keys | join(","))"' "$W/a3.json")" \
	"$((2 * NGU)) $((2 * ((NGU + 249) / 250))) geo,user"
check "batched geo and user records each arrived once ($NGU indexes have both)" \
	"$(records restproxy bat. | awk '{print $1, $2}' | sort -u | wc -l) $(records restproxy bat. | wc -l)" "$((2 * NGU)) $((2 * NGU))"

# Kinesis shape: PUT, one record per request, StreamName = the path's name
emu --api kinesis --url "$F/" --names 'kin.{stream}' --sample "$DATA" --all-rows --concurrency 4 >"$W/k1.json"; rc=$?
check "kinesis --all-rows: exit 0, every record accepted, one request each" \
	"$(jq -r '"\(.accepted) \(.requests) \(.errors) \(.unparsed_batches)"' "$W/k1.json") $rc" "$((3 * NROWS)) $((3 * NROWS)) 0 0 0"
check "kinesis: the streams' URLs are <url>/streams/<name>/record" \
	"$(jq -r '.streams.geo.url' "$W/k1.json")" "$F/streams/kin.geo/record"
records kinesis kin. >"$W/got_k1"
if cmp -s "$W/got_k1" "$W/expected_records"; then ok "kinesis: each row's three records arrived once, as in the sample files"; else fail "kinesis records differ: $(diff "$W/got_k1" "$W/expected_records" | head -c 600)"; fi
check "still no request of another shape" "$(grep -c shape_error "$W/fake.log")" 0

# Generated rows: a pin and a geo and a user record with the pin's index
emu --api restproxy --url "$F" --names 'gen.{stream}' --count 200 --concurrency 1 >"$W/g1.json"
check "generated rows through restproxy: 600 accepted" "$(jq .accepted "$W/g1.json")" 600
jq -r 'select(.name | startswith("gen.")) | "\(.name | sub(".*[.]"; "")) \(.value.index // .value.ind)"' "$W/fake.log" >"$W/gen"
check "generated rows: pin, geo, user of one index" \
	"$(paste -d' ' - - - <"$W/gen" | awk '$2 != $4 || $4 != $6' | wc -l) $(wc -l <"$W/gen")" "0 600"

# The accounting of answers: per-record errors, wrong shapes, 503 + Retry-After
emu --api restproxy --url "$F" --names 'err.{stream}' --sample "$DATA" --streams geo --count 100 --batch 10 >"$W/e1.json"; rc=$?
exp=$(jq -r 'select(.name == "err.geo") | .value.ind' "$W/fake.log" | wc -l)
check "per-record errors: rejected = odd records (error_code 1), errors = retriable (error_code 2)" \
	"$(jq -r '"\(.rejected) \(.accepted) \(.accepted + .errors + .rejected) \(.unparsed_batches)"' "$W/e1.json") $rc" "50 $exp 100 0 0"
check "the first per-record error is reported" "$(jq -r .first_failure "$W/e1.json" | grep -c 'records with an error_code (first [12]: ')" 1
emu --api restproxy --url "$F" --names 'odd.{stream}' --count 20 >"$W/e2.json"; rc=$?
check "a 2xx REST Proxy answer without offsets: every record an error, none accepted, exit 1" \
	"$(jq -r '"\(.errors) \(.accepted) \(.unparsed_batches)"' "$W/e2.json") $rc" "60 0 60 1"
check "... and the report says why" "$(jq -r .first_failure "$W/e2.json" | grep -c 'REST Proxy answer not of the documented shape (no "offsets")')" 1
emu --api kinesis --url "$F" --names 'odd.{stream}' --count 5 --streams pin >"$W/e3.json"
check "a Kinesis answer without a string SequenceNumber: errors" "$(jq -r '"\(.errors) \(.accepted)"' "$W/e3.json")" "5 0"
emu --api kinesis --url "$F" --names 'busy.{stream}' --count 20 --concurrency 1 --retries 1 >"$W/e4.json"
check "503 + Retry-After: 0 retried once, then every record accepted" "$(jq -r '"\(.accepted) \(.retries) \(.errors)"' "$W/e4.json")" "60 60 0"

# Usage errors
"$EMU" --api fastapi --streams geo --count 1 >/dev/null 2>"$W/u1"
check "--api fastapi --streams geo: usage error (no FastAPI-style geo route)" "$? $(grep -c 'restproxy or --api kinesis' "$W/u1")" "2 1"
usage() { # usage "what" "message part" ARGS...: exit 2 with that message
	local what=$1 msg=$2 rc
	shift 2
	"$EMU" "$@" >/dev/null 2>"$W/usage"
	rc=$?
	check "$what: usage error" "$rc $(grep -cF -- "$msg" "$W/usage")" "2 1"
}
usage "--api kinesis --batch" "one record per request (PutRecord)" --api kinesis --batch 5 --count 1
usage "--streams with an unknown stream" 'invalid value for --streams: "geo,pins"' --api restproxy --streams geo,pins --count 1
usage "--names that is not a topic name" "a/pin is not a topic name" --api restproxy --names 'a/{stream}' --url "$F" --count 1
usage "--replay with --sample" "exclude each other" --replay "$DATA/pins_sample.jsonl" --sample "$DATA" --count 1
usage "--sample of a directory without the files" "cannot open $W/pins_sample.jsonl" --api restproxy --sample "$W" --count 1

# The same code under ASan/UBSan/LSan: both shapes, batches, errors, retries.
if pp_build_emulate_asan "$W/emu-asan" 2>"$W/asan-build"; then
	asan_ok=1
	"$W/emu-asan" --api restproxy --url "$F" --names 'asan.{stream}' --sample "$DATA" --count 300 --batch 7 -q 2>>"$W/asan" || asan_ok=0
	"$W/emu-asan" --api kinesis --url "$F" --names 'asan.{stream}' --count 100 -q 2>>"$W/asan" || asan_ok=0
	"$W/emu-asan" --api restproxy --url "$F" --names 'err.{stream}' --sample "$DATA" --all-rows --streams user --batch 40 -q 2>>"$W/asan" || asan_ok=0
	"$W/emu-asan" --api restproxy --url "$F" --names 'odd.{stream}' --count 10 -q 2>>"$W/asan"
	"$W/emu-asan" --api kinesis --url "$F" --names 'busy.{stream}' --count 10 --retries 1 -q 2>>"$W/asan" || asan_ok=0
	"$W/emu-asan" --print --api kinesis --sample "$DATA" --streams pin,geo,user --all-rows >/dev/null 2>>"$W/asan" || asan_ok=0
	if [ $asan_ok = 1 ] && ! grep -q 'Sanitizer' "$W/asan"; then ok "three-stream modes clean under ASan/UBSan/LSan"; else fail "sanitizers: $(head -c 1500 "$W/asan")"; fi
else
	fail "ASan build: $(head -c 500 "$W/asan-build")"
fi

# ---------------------------------------------------------------- (b) pinpipe, embedded mode

HTTP_PORT=$(pp_free_port)
pp_cluster_start "pinpipe.http_port = $HTTP_PORT" || { fail "server did not start"; pp_done; }
pp_psql -c "CREATE EXTENSION pinpipe" || { fail "CREATE EXTENSION pinpipe"; pp_done; }
U=http://127.0.0.1:$HTTP_PORT
pp_wait_for "curl -sf -o /dev/null $U/healthz" 60 "/healthz to say 200" || { fail "the HTTP worker never became healthy"; pp_done; }

# Rows of each table, distinct row indexes, and indexes that are not rows of the sample.
counts() { # counts TABLE COLUMN [ROWSFILE]: "rows distinct outside"
	pp_sql "SELECT count(*) || ' ' || count(DISTINCT $2) || ' ' ||
	        count(*) FILTER (WHERE NOT $2 = ANY ('{$(paste -sd, "${3:-$W/rows.txt}")}'::int[])) FROM $1"
}
tables_empty() { check "$1: the tables are empty before" "$(pp_sql "SELECT (SELECT count(*) FROM pinpipe.pins) + (SELECT count(*) FROM pinpipe.geo) + (SELECT count(*) FROM pinpipe.users)")" 0; }

# FastAPI shape: pins only, every pin of the sample once
tables_empty "fastapi"
"$EMU" --api fastapi --url "$U/pin/" --sample "$DATA" --all-rows --concurrency 4 --seed 5 --json >"$W/r1.json" 2>"$W/r1.err"
check "fastapi --sample --all-rows: every sample pin accepted" "$(jq -r '"\(.accepted) \(.errors) \(.rejected)"' "$W/r1.json")" "$NPINS 0 0"
grep -o '"index": *[0-9]*' "$DATA/pins_sample.jsonl" | grep -o '[0-9]*$' | sort -n >"$W/pin_indexes"
check "fastapi: each sample pin exactly once in pinpipe.pins" "$(counts pinpipe.pins ind "$W/pin_indexes")" "$NPINS $NPINS 0"
pp_psql -c "TRUNCATE pinpipe.pins, pinpipe.raw_pins"

# REST Proxy and Kinesis shapes. The probe sends no record: a route that does not exist
# answers 404 without a REST-Proxy/Kinesis error_code; an existing one anything else.
probe() { curl -s -o "$W/probe" -w '%{http_code}' -X "$1" -H "Content-Type: $2" --data-binary '{}' "$U$3"; }
for shape in restproxy kinesis; do
	if [ $shape = restproxy ]; then code=$(probe POST application/vnd.kafka.json.v2+json /topics/pinterest.pin); route="POST /topics/{topic}"
	else code=$(probe PUT application/json /streams/pinterest.pin/record); route="PUT /streams/{name}/record"; fi
	if [ "$code" = 404 ] && ! grep -q 'error_code' "$W/probe"; then
		fail "$shape shape into pinpipe: this build does not serve $route (HTTP 404: $(head -c 120 "$W/probe"))"
		continue
	fi
	tables_empty "$shape"
	"$EMU" --api $shape --url "$U" --sample "$DATA" --all-rows --concurrency 4 --seed 6 --json >"$W/r_$shape.json" 2>"$W/r_$shape.err"
	check "$shape --all-rows into pinpipe: every record accepted" \
		"$(jq -r '"\(.accepted) \(.rejected) \(.errors) \(.unparsed_batches)"' "$W/r_$shape.json")" "$((3 * NROWS)) 0 0 0"
	check "$shape: each row's pin exactly once in pinpipe.pins" "$(counts pinpipe.pins ind)" "$NROWS $NROWS 0"
	check "$shape: each row's geo record exactly once in pinpipe.geo" "$(counts pinpipe.geo ind)" "$NROWS $NROWS 0"
	check "$shape: each row's user record exactly once in pinpipe.users" "$(counts pinpipe.users ind)" "$NROWS $NROWS 0"
	check "$shape: the raw log tells the streams apart" \
		"$(pp_sql "SELECT string_agg(stream || ' ' || n, ', ' ORDER BY stream) FROM (SELECT stream, count(*) n FROM pinpipe.raw_pins GROUP BY stream) s")" \
		"geo $NROWS, pin $NROWS, user $NROWS"
	pp_psql -c "TRUNCATE pinpipe.pins, pinpipe.geo, pinpipe.users, pinpipe.raw_pins"
done

pp_done
