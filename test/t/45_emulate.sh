#!/usr/bin/env bash
# test/t/45_emulate.sh — pinpipe-emulate: realistic pins, and posting them for real.
#
#  (a) --print: valid JSONL, reproducible with --seed, fresh UUIDs; the placeholder rates
#      of 20,000 generated pins match the real data's (computed here from
#      $PP_SHARED_DATA/pins_sample.jsonl, not hard-coded); every generated pin passes
#      pinpipe.clean_pin() and is flagged like the real pins are; --invalid-rate pins fail it.
#  (b) end to end against the embedded HTTP worker: 2,000 pins posted → 2,000 accepted and
#      exactly those 2,000 pins in pinpipe.pins; invalid pins rejected; /pins batches.
#      A worker that does not listen is a failure.
#  (c) the emulator's own accounting against a scripted HTTP/1.1 server (python3):
#      4xx/5xx/transport classes, batch answers, --retries with Retry-After, exit status.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"

EMU=$PP_REPO/tools/pinpipe-emulate
REAL=$PP_SHARED_DATA/pins_sample.jsonl
N=20000
pp_scratch W emu

[ -x "$EMU" ] || { fail "tools/pinpipe-emulate is not built"; pp_done; }
[ -f "$REAL" ] || { fail "real data not found at $REAL"; pp_done; }

# ---------------------------------------------------------------- (a) generated pins

"$EMU" --print --count $N --seed 42 >"$W/gen.jsonl"
check "--print writes --count lines" "$(wc -l <"$W/gen.jsonl")" "$N"
if jq -e -c 'select(type != "object")' "$W/gen.jsonl" >"$W/notobj" 2>"$W/jqerr" || [ -s "$W/jqerr" ]; then
	fail "--print output is not JSONL of objects: $(head -c 300 "$W/jqerr" "$W/notobj")"
else
	ok "--print output is JSONL, one object per line"
fi
check "same --seed, same pins" "$("$EMU" --print --count 500 --seed 42 | md5sum)" "$(head -n 500 "$W/gen.jsonl" | md5sum)"
if [ "$("$EMU" --print --count 500 --seed 43 | md5sum)" != "$(head -n 500 "$W/gen.jsonl" | md5sum)" ]; then
	ok "another --seed, other pins"
else
	fail "--seed 43 produced the same pins as --seed 42"
fi
check "every unique_id is a fresh v4 UUID" \
	"$(jq -r .unique_id "$W/gen.jsonl" | grep -E '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$' | sort -u | wc -l)" "$N"
check "every pin has the model's fields with the model's JSON types" \
	"$(jq -r '[(.index|type), (.downloaded|type)] + ([.category, .unique_id, .title, .description, .follower_count, .tag_list, .is_image_or_video, .image_src, .save_location] | map(type)) | unique | join(",")' "$W/gen.jsonl" | sort -u | tr '\n' ' ')" \
	"number,string "

# The rates a generator must reproduce, measured the same way on both files.
cat >"$W/rates.jq" <<'EOF'
length as $n |
def rate(f): (map(select(f)) | length) / $n;
{
  follower_count_user_info_error: rate(.follower_count == "User Info Error"),
  follower_count_plain: rate(.follower_count | test("^[0-9]+$")),
  follower_count_k: rate(.follower_count | test("^[0-9]+k$")),
  follower_count_M: rate(.follower_count | test("^[0-9]+M$")),
  tag_list_placeholder: rate(.tag_list == "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e"),
  title_placeholder: rate(.title == "No Title Data Available"),
  description_story_format: rate(.description == "No description available Story format"),
  description_not_available: rate(.description == "No description available"),
  description_ends_ellipsis_nbsp: rate(.description | endswith("…\u00a0")),
  image_src_error: rate(.image_src == "Image src error."),
  not_downloaded: rate(.downloaded == 0),
  poster_name_user_info_error: rate(.poster_name == "User Info Error"),
  media_video: rate(.is_image_or_video == "video"),
  media_story: rate(.is_image_or_video == "multi-video(story page format)"),
  story_description_on_story_page: rate(.description != "No description available Story format" or .is_image_or_video == "multi-video(story page format)"),
  image_src_error_iff_not_downloaded: rate((.image_src == "Image src error.") == (.downloaded == 0)),
  save_location_of_category: rate(.save_location == "Local save in /data/" + .category),
  follower_count_in_real_ranges: rate(.follower_count | test("^([0-9]{1,3}|[0-9]{1,3}k|[0-9]{1,2}M|User Info Error)$"))
}
EOF
jq -s -c -f "$W/rates.jq" "$REAL" >"$W/real_rates.json"
jq -s -c -f "$W/rates.jq" "$W/gen.jsonl" >"$W/gen_rates.json"
# Within 5 standard errors of a 20,000-pin sample at the real rate, plus 0.2 points.
while read -r name real gen verdict; do
	if [ "$verdict" = ok ]; then
		ok "rate of $name: generated $gen, real $real"
	else
		fail "rate of $name: generated $gen, real $real (outside the bound)"
	fi
done < <(jq -n -r --slurpfile r "$W/real_rates.json" --slurpfile g "$W/gen_rates.json" --argjson n $N '
	$r[0] | to_entries[] | .key as $k | .value as $real | ($g[0][$k] // 0) as $gen |
	(5 * (($real * (1 - $real) / $n) | sqrt) + 0.002) as $tol |
	"\($k) \($real * 10000 | round / 10000) \($gen * 10000 | round / 10000) \(if (($gen - $real) | fabs) <= $tol then "ok" else "bad" end)"')
check "real and generated pins use the same 13 categories" \
	"$(jq -r .category "$W/gen.jsonl" | sort -u | tr '\n' ' ')" "$(jq -r .category "$REAL" | sort -u | tr '\n' ' ')"

# One private server for the rest; with the HTTP worker on when this build has one.
HTTP_PORT=$(pp_free_port)
pp_cluster_start "pinpipe.http_port = $HTTP_PORT" || { fail "server did not start"; pp_done; }
pp_psql -c "CREATE EXTENSION pinpipe" || { fail "CREATE EXTENSION pinpipe"; pp_done; }

load() { # load a JSONL file into a one-column table, bytes untouched
	pp_psql -c "CREATE TABLE $1 (n bigserial, line text)" &&
		pp_psql -c "\\copy $1 (line) FROM '$2' WITH (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')"
}
load gen "$W/gen.jsonl" && load real "$REAL" || fail "loading JSONL into the server"

if out=$(pp_sql "SELECT count(*) FROM gen, LATERAL pinpipe.clean_pin(line::jsonb) c" 2>&1); then
	check "every generated pin passes pinpipe.clean_pin(line::jsonb)" "$out" "$N"
else
	fail "a generated pin fails pinpipe.clean_pin: $out"
fi
check "every real pin passes pinpipe.clean_pin (the yardstick itself is sound)" \
	"$(pp_sql "SELECT count(*) FROM real, LATERAL pinpipe.clean_pin(line::jsonb) c" 2>&1)" "$(wc -l <"$REAL" | tr -d ' ')"

# Cleaning flags generated pins the way it flags real ones (per field, and clean pins).
pp_psql -A -t -F ' ' >"$W/flags" 2>&1 <<'EOF'
WITH g AS (SELECT c.error_fields FROM gen, LATERAL pinpipe.clean_pin(line::jsonb) c),
     r AS (SELECT c.error_fields FROM real, LATERAL pinpipe.clean_pin(line::jsonb) c),
     gf AS (SELECT f, count(*)::float8 / (SELECT count(*) FROM g) AS rate FROM g, unnest(error_fields) f GROUP BY f
            UNION ALL SELECT '(none: clean pin)', count(*) FILTER (WHERE error_fields = '{}')::float8 / count(*) FROM g),
     rf AS (SELECT f, count(*)::float8 / (SELECT count(*) FROM r) AS rate FROM r, unnest(error_fields) f GROUP BY f
            UNION ALL SELECT '(none: clean pin)', count(*) FILTER (WHERE error_fields = '{}')::float8 / count(*) FROM r)
SELECT replace(f, ' ', '_'), round(coalesce(rf.rate, 0)::numeric, 4), round(coalesce(gf.rate, 0)::numeric, 4),
       CASE WHEN abs(coalesce(gf.rate, 0) - coalesce(rf.rate, 0))
                 <= 5 * sqrt(coalesce(rf.rate, 0) * (1 - coalesce(rf.rate, 0)) / (SELECT count(*) FROM g)) + 0.002
            THEN 'ok' ELSE 'bad' END
FROM gf FULL JOIN rf USING (f) ORDER BY 1;
EOF
if [ "$(wc -l <"$W/flags")" -lt 3 ]; then
	fail "flag rates by clean_pin: $(head -c 500 "$W/flags")"
fi
while read -r f real gen verdict; do
	[ -n "$f" ] || continue
	if [ "$verdict" = ok ]; then ok "clean_pin flags $f: generated $gen, real $real"; else fail "clean_pin flags $f: generated $gen, real $real (outside the bound)"; fi
done <"$W/flags"

# --invalid-rate 1: every pin is broken on purpose, and clean_pin rejects every one.
"$EMU" --print --count 200 --seed 5 --invalid-rate 1 >"$W/invalid.jsonl"
load invalid "$W/invalid.jsonl"
check "--invalid-rate 1: every one of 200 pins fails clean_pin" "$(pp_sql "
	CREATE FUNCTION pg_temp.fails(t text) RETURNS boolean LANGUAGE plpgsql AS
	\$\$ BEGIN PERFORM pinpipe.clean_pin(t::jsonb); RETURN false; EXCEPTION WHEN OTHERS THEN RETURN true; END \$\$;
	SELECT count(*) FILTER (WHERE pg_temp.fails(line)) FROM invalid" 2>&1)" "200"
"$EMU" --print --count 2000 --seed 6 --invalid-rate 0.1 >"$W/some_invalid.jsonl"
nbad=$(jq -c 'select((.unique_id | type) != "string" or (.unique_id | test("^[0-9a-f-]{36}$") | not)
	or (.index | type) != "number" or (.downloaded | type) != "number" or (.title | type) != "string")' "$W/some_invalid.jsonl" | wc -l)
if [ "$nbad" -ge 140 ] && [ "$nbad" -le 260 ]; then ok "--invalid-rate 0.1 breaks about 10% of pins ($nbad of 2000)"; else fail "--invalid-rate 0.1 broke $nbad of 2000 pins"; fi

# ---------------------------------------------------------------- (b) against the HTTP worker

if pp_wait_for "curl -s -o /dev/null http://127.0.0.1:$HTTP_PORT/healthz" 20 "the HTTP worker on port $HTTP_PORT"; then
	URL=http://127.0.0.1:$HTTP_PORT/pin/
	pp_wait_for "curl -sf -o /dev/null http://127.0.0.1:$HTTP_PORT/healthz" 30 "/healthz to say 200" ||
		fail "/healthz never answered 200: $(curl -s http://127.0.0.1:$HTTP_PORT/healthz)"
	if "$EMU" --url "$URL" --count 2000 --concurrency 8 --seed 11 --json >"$W/b1.json" 2>"$W/b1.err"; then
		ok "emulate --count 2000 exits 0"
	else
		fail "emulate --count 2000 exited non-zero: $(cat "$W/b1.err")"
	fi
	check "report: 2000 sent" "$(jq .sent "$W/b1.json")" 2000
	check "report: 2000 accepted" "$(jq .accepted "$W/b1.json")" 2000
	check "report: 0 rejected, 0 errors" "$(jq -r '"\(.rejected) \(.errors)"' "$W/b1.json")" "0 0"
	check "report: 2000 requests answered 2xx" "$(jq .status_2xx "$W/b1.json")" 2000
	check "report has latency percentiles" "$(jq '.latency_p50_ms > 0 and .latency_p50_ms <= .latency_p95_ms and .latency_p95_ms <= .latency_p99_ms and .latency_p99_ms <= .latency_max_ms' "$W/b1.json")" true
	check "pinpipe.pins has 2000 rows" "$(pp_sql "SELECT count(*) FROM pinpipe.pins")" 2000
	"$EMU" --print --count 2000 --seed 11 | jq -r .unique_id | sort >"$W/b1.ids"
	pp_sql "SELECT unique_id FROM pinpipe.pins ORDER BY 1" | sort >"$W/b1.rows"
	if cmp -s "$W/b1.ids" "$W/b1.rows"; then ok "pinpipe.pins holds exactly the 2000 posted unique_ids"; else fail "pinpipe.pins unique_ids differ from the posted ones"; fi

	# invalid pins are answered 4xx, counted as rejected, and do not reach pins
	"$EMU" --url "$URL" --count 1000 --concurrency 4 --seed 12 --invalid-rate 0.2 --json >"$W/b2.json" 2>"$W/b2.err"
	inv=$(jq .invalid_sent "$W/b2.json")
	check "invalid pins are all rejected (rejected = invalid_sent = $inv)" "$(jq .rejected "$W/b2.json")" "$inv"
	check "valid pins are all accepted" "$(jq '.accepted + .rejected' "$W/b2.json")" 1000
	check "pinpipe.pins grew by the accepted ones" "$(pp_sql "SELECT count(*) FROM pinpipe.pins")" "$((2000 + 1000 - inv))"

	# POST /pins, 100 pins a request (array and NDJSON)
	"$EMU" --url "$URL" --batch 100 --count 2000 --concurrency 4 --seed 13 --json >"$W/b3.json" 2>"$W/b3.err"
	check "--batch 100: 2000 accepted in 20 requests" "$(jq -r '"\(.accepted) \(.requests) \(.unparsed_batches)"' "$W/b3.json")" "2000 20 0"
	"$EMU" --url "$URL" --batch 50 --ndjson --count 500 --concurrency 2 --seed 14 --invalid-rate 0.1 --json >"$W/b4.json" 2>"$W/b4.err"
	check "--batch 50 --ndjson: accepted + rejected = 500, rejected = invalid_sent" \
		"$(jq -r '"\(.accepted + .rejected) \(.rejected == .invalid_sent)"' "$W/b4.json")" "500 true"
	check "pinpipe.pins has every accepted pin" "$(pp_sql "SELECT count(*) FROM pinpipe.pins")" \
		"$((2000 + 1000 - inv + 2000 + $(jq .accepted "$W/b4.json")))"

	# --replay sends the real records as they are
	head -n 300 "$REAL" >"$W/replay.jsonl"
	"$EMU" --url "$URL" --replay "$W/replay.jsonl" --concurrency 4 --json >"$W/b5.json" 2>"$W/b5.err"
	check "--replay of 300 real pins: 300 accepted" "$(jq .accepted "$W/b5.json")" 300
	check "the replayed pins are in pinpipe.pins" \
		"$(pp_sql "SELECT count(DISTINCT unique_id) FROM pinpipe.pins WHERE unique_id = ANY ('{$(jq -r .unique_id "$W/replay.jsonl" | paste -sd,)}'::uuid[])")" \
		"$(jq -r .unique_id "$W/replay.jsonl" | sort -u | wc -l)"
	echo "# emulate against the embedded HTTP worker: $(jq -c '{rate_pins_s, latency_p50_ms, latency_p99_ms}' "$W/b1.json") (single), $(jq -c '{rate_pins_s, latency_p99_ms}' "$W/b3.json") (batch 100)"
else
	fail "the HTTP worker does not listen on pinpipe.http_port $HTTP_PORT"
fi

# ---------------------------------------------------------------- (c) accounting, scripted server

cat >"$W/server.py" <<'EOF'
# A scripted HTTP/1.1 keep-alive server that answers by path, to check the client's counting.
import json, sys, threading
from json_http import JsonHandler, serve
flaky = {"n": 0}
lock = threading.Lock()
class H(JsonHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path in ("/ok/pin/", "/ok/pin"):
            return self.answer(200, json.loads(body))
        if self.path == "/ok/pins":   # every 10th record rejected
            recs = json.loads(body) if body.startswith(b"[") else [json.loads(l) for l in body.splitlines() if l]
            rej = [{"index": i, "detail": []} for i in range(len(recs)) if i % 10 == 9]
            return self.answer(200, {"accepted": len(recs) - len(rej), "rejected": len(rej), "errors": rej})
        if self.path == "/auth/pin/":
            if self.headers.get("Authorization") != "Bearer s3cret":
                return self.answer(401, {"detail": "Not authenticated"})
            return self.answer(200, {})
        if self.path == "/422/pin/":
            return self.answer(422, {"detail": [{"loc": ["body", "unique_id"], "msg": "value is not a valid uuid", "type": "type_error.uuid"}]})
        if self.path == "/503/pin/":
            return self.answer(503, {"detail": "backlog full"}, [("Retry-After", "0")])
        if self.path == "/flaky/pin/":   # odd-numbered requests get 503
            with lock:
                flaky["n"] += 1; n = flaky["n"]
            if n % 2 == 1:
                return self.answer(503, {"detail": "backlog full"}, [("Retry-After", "0")])
            return self.answer(200, {})
        self.answer(404, {"detail": "Not Found"})
serve(H, int(sys.argv[1]))
EOF
SPORT=$(pp_free_port)
PYTHONPATH=$PP_REPO/test python3 "$W/server.py" "$SPORT" &
SPID=$!
pp_cleanup "kill $SPID"
pp_wait_for "curl -s -o /dev/null -X POST http://127.0.0.1:$SPORT/ok/pin/ -d '{}'" 20 "the scripted server" || fail "scripted server did not start"
S=http://127.0.0.1:$SPORT

emu() { "$EMU" --json --seed 3 "$@" 2>"$W/c.err"; }
emu --url $S/ok/pin/ --count 300 --concurrency 6 >"$W/c1.json"; rc=$?
check "200s: all accepted, exit 0" "$(jq -r '"\(.sent) \(.accepted) \(.rejected) \(.errors) \(.status_2xx)"' "$W/c1.json") $rc" "300 300 0 0 300 0"
emu --url $S/ok/pin/ --batch 20 --count 500 >"$W/c2.json"
check "batch answers: accepted/rejected read from the body (25 requests, 10% rejected)" \
	"$(jq -r '"\(.accepted) \(.rejected) \(.requests) \(.unparsed_batches)"' "$W/c2.json")" "450 50 25 0"
emu --url $S/ok/pin/ --batch 7 --count 50 --ndjson >"$W/c3.json"
check "NDJSON batches, last one short (7×7+1)" "$(jq -r '"\(.sent) \(.requests) \(.accepted + .rejected)"' "$W/c3.json")" "50 8 50"
emu --url $S/422/pin/ --count 40 >"$W/c4.json"; rc=$?
check "422s: all rejected, nothing accepted → exit 1" "$(jq -r '"\(.rejected) \(.accepted) \(.status_4xx)"' "$W/c4.json") $rc" "40 0 40 1"
check "the first failure is reported" "$(jq -r .first_failure "$W/c4.json" | grep -c 'HTTP 422.*valid uuid')" 1
emu --url $S/503/pin/ --count 10 --retries 2 >"$W/c5.json"; rc=$?
check "503s with --retries 2: 3 attempts each, then errors, exit 1" "$(jq -r '"\(.errors) \(.requests) \(.retries) \(.status_5xx)"' "$W/c5.json") $rc" "10 30 20 30 1"
emu --url $S/flaky/pin/ --count 30 --concurrency 1 --retries 1 >"$W/c6.json"
check "--retries 1 recovers every 503 (Retry-After: 0)" "$(jq -r '"\(.accepted) \(.errors) \(.retries)"' "$W/c6.json")" "30 0 30"
emu --url $S/auth/pin/ --count 5 >"$W/c7.json"
check "no --token: 401 rejected" "$(jq .rejected "$W/c7.json")" 5
emu --url $S/auth/pin/ --count 5 --token s3cret >"$W/c8.json"
check "--token sends Authorization: Bearer" "$(jq .accepted "$W/c8.json")" 5
emu --url "http://127.0.0.1:$(pp_free_port)/pin/" --count 5 --timeout 5 >"$W/c9.json"; rc=$?
check "nobody listening: transport errors, exit 1" "$(jq -r '"\(.errors) \(.transport_errors)"' "$W/c9.json") $rc" "5 5 1"
emu --url $S/ok/pin/ --rate 200 --duration 1 --concurrency 4 >"$W/c10.json"
# The schedule allows at most 200 pins in one second (k/200 s for k = 0..199); a broken
# limiter against this fast server sends thousands. (No lower bound: that would be timing.)
sent=$(jq .sent "$W/c10.json")
if [ "$sent" -ge 1 ] && [ "$sent" -le 201 ]; then ok "--rate 200 --duration 1 never exceeds the schedule ($sent pins)"; else fail "--rate 200 --duration 1 sent $sent pins"; fi
check "--rate reports how far behind schedule it ran" "$(jq '.schedule_lag_max_ms >= 0' "$W/c10.json")" true
# The same code under AddressSanitizer/UBSan (leaks included): generation with invalid pins,
# replay, and posting single pins, batches and retries.
if pp_build_emulate_asan "$W/emu-asan" 2>"$W/asan-build"; then
	asan_ok=1
	"$W/emu-asan" --print --count 3000 --seed 9 --invalid-rate 0.1 >/dev/null 2>"$W/asan1" || asan_ok=0
	"$W/emu-asan" --print --count 100 --replay "$REAL" >/dev/null 2>>"$W/asan1" || asan_ok=0
	"$W/emu-asan" --url $S/ok/pin/ --count 300 --concurrency 8 -q 2>>"$W/asan1" || asan_ok=0
	"$W/emu-asan" --url $S/ok/pin/ --batch 33 --ndjson --count 300 --concurrency 3 -q 2>>"$W/asan1" || asan_ok=0
	"$W/emu-asan" --url $S/flaky/pin/ --count 20 --concurrency 1 --retries 1 -q 2>>"$W/asan1" || asan_ok=0
	if [ $asan_ok = 1 ] && ! grep -q 'Sanitizer' "$W/asan1"; then ok "clean under ASan/UBSan/LSan"; else fail "sanitizers: $(head -c 1500 "$W/asan1")"; fi
else
	fail "ASan build: $(head -c 500 "$W/asan-build")"
fi
"$EMU" --count 1 --bogus >/dev/null 2>&1
check "unknown option: exit 2" "$?" 2
check "--help is a manual" "$("$EMU" --help | grep -cE '^(NAME|SYNOPSIS|DESCRIPTION|OPTIONS|OUTPUT|EXIT STATUS|EXAMPLES)$')" 7

pp_done
