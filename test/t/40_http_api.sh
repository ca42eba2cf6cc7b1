#!/usr/bin/env bash
# 40_http_api.sh — the HTTP contract of DESIGN §7 in embedded mode (no broker), with
# curl against a real server: every row's status code and body, pins landing in
# pinpipe.pins (and rejected ones not), auth, limits, hostile input, /metrics
# validated by promtool.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
HTTP_REQ_TIMEOUT=30
source "$(dirname "$0")/../http_lib.sh"

HP=$(pp_free_port)
pp_cluster_start "pinpipe.http_port = $HP" "pinpipe.consumer_workers = 0" \
	"pinpipe.http_max_body = 1048576" "pinpipe.http_timeout = 3" || { fail "cluster did not start"; pp_done; }
H=http://127.0.0.1:$HP
pp_scratch T http
DATA=$PP_SHARED_DATA/pins_sample.jsonl
[ -f "$DATA" ] || { fail "sample data missing at $DATA"; pp_done; }

worker_pid() { pp_sql "select pid from pg_stat_activity where backend_type = 'pinpipe http'"; }

pp_wait_for "curl -s -o /dev/null $H/healthz" 30 "http worker listening" || { fail "worker never listened"; pp_done; }
PID0=$(worker_pid)

# --- before CREATE EXTENSION: the pipeline is unavailable → 503 + Retry-After
check "healthz without extension: 503" "$(req GET /healthz)" 503
check "healthz says why" "$(body | jq -r .reason | grep -c 'not installed')" 1
PIN1=$(sed -n 1p "$DATA")
check "POST /pin/ without extension: 503" "$(req POST /pin/ --data-binary "$PIN1")" 503
check "503 carries Retry-After" "$(hdr Retry-After)" 1

pp_sql "create extension pinpipe" >/dev/null
pp_wait_for "http_healthz_is 200" 30 "healthz 200" || fail "healthz never became 200"
check "healthz: 200" "$(req GET /healthz)" 200
check "healthz body" "$(body | jq -c .)" '{"status":"ok","mode":"embedded"}'

# --- POST /pin/: 200 echo, row in pins
UID1=$(echo "$PIN1" | jq -r .unique_id)
check "POST /pin/ valid: 200" "$(req POST /pin/ -H 'Content-Type: application/json' --data-binary "$PIN1")" 200
check "echo has the pin's unique_id" "$(body | jq -r .unique_id)" "$UID1"
check "echo has the pin's index as int" "$(body | jq -r '.index|type')" number
check "echo keeps the model's fields" "$(body | jq -r 'keys|length')" "$(echo "$PIN1" | jq -r 'keys|length')"
check "the pin is in pinpipe.pins" "$(pp_sql "select count(*) from pinpipe.pins where unique_id = '$UID1'")" 1
PIN2=$(sed -n 2p "$DATA")
check "POST /pin (no slash): 200" "$(req POST /pin --data-binary "$PIN2")" 200
# pydantic v1 lax coercion: an int field accepts "5"
COERCE=$(sed -n 3p "$DATA" | jq -c '.index = "77"')
check "lax int \"77\": 200" "$(req POST /pin/ --data-binary "$COERCE")" 200
check "echo coerced to 77" "$(body | jq -c .index)" 77

# --- 422: FastAPI-shaped errors, nothing stored
BAD=$(sed -n 4p "$DATA" | jq -c '.index = "abc" | del(.category)')
BADUID=$(echo "$BAD" | jq -r .unique_id)
check "invalid fields: 422" "$(req POST /pin/ --data-binary "$BAD")" 422
check "422 names index" "$(body | jq -c '[.detail[].loc]|map(select(.==["body","index"]))|length')" 1
check "422 names the missing category" "$(body | jq -r '.detail[]|select(.loc==["body","category"])|.type')" value_error.missing
check "422 entries have msg and type" "$(body | jq -r '[.detail[]|has("msg") and has("type")]|all')" true
check "rejected pin not stored" "$(pp_sql "select count(*) from pinpipe.pins where unique_id = '$BADUID'")" 0
check "bad uuid: 422" "$(req POST /pin/ --data-binary "$(echo "$PIN1" | jq -c '.unique_id = "nope"')")" 422

# --- 400: not JSON, not UTF-8, truncated, NUL bytes, deep nesting
check "not JSON: 400" "$(req POST /pin/ --data-binary 'hello')" 400
check "400 body is JSON with detail" "$(body | jq -r '.detail|type')" array
printf '{"category": "\xff\xfe"}' >"$T/bad_utf8"
check "not UTF-8: 400" "$(req POST /pin/ --data-binary @"$T/bad_utf8")" 400
check "not UTF-8 says so" "$(body | jq -r '.detail[0].msg' | grep -c UTF-8)" 1
check "truncated: 400" "$(req POST /pin/ --data-binary "${PIN1:0:100}")" 400
printf '{"category": "a\0b", "index": 1}' >"$T/nul"
check "NUL byte: 400" "$(req POST /pin/ --data-binary @"$T/nul")" 400
python3 -c 'print("[" * 5000 + "]" * 5000)' >"$T/deep"
check "deep nesting: 400" "$(req POST /pin/ --data-binary @"$T/deep")" 400
HUGE=$(echo "$PIN1" | jq -c '.index = 1' | sed 's/"index":1/"index":123456789012345678901234567890/')
check "huge number: 422" "$(req POST /pin/ --data-binary "$HUGE")" 422
check "empty body: 400" "$(req POST /pin/ --data-binary '')" 400

# --- POST /pins: JSON array and NDJSON, per-record results
BEFORE=$(pp_sql "select count(*) from pinpipe.pins")
sed -n 10,14p "$DATA" | jq -s -c '.[2].downloaded = "x"' >"$T/arr.json"
check "/pins array: 200" "$(req POST /pins --data-binary @"$T/arr.json")" 200
check "/pins array accepted" "$(body | jq .accepted)" 4
check "/pins array rejected" "$(body | jq .rejected)" 1
check "/pins array error position" "$(body | jq -c '[.errors[].index]')" "[2]"
check "/pins array error detail" "$(body | jq -r '.errors[0].detail[0].loc[1]')" downloaded
check "/pins array: 4 rows" "$(pp_sql "select count(*) - $BEFORE from pinpipe.pins")" 4
BEFORE=$(pp_sql "select count(*) from pinpipe.pins")
{ sed -n 20,22p "$DATA"; echo '{"broken": '; echo; sed -n 23,24p "$DATA"; } >"$T/nd.jsonl"
check "/pins NDJSON: 200" "$(req POST /pins --data-binary @"$T/nd.jsonl")" 200
check "/pins NDJSON counts" "$(body | jq -c '[.accepted,.rejected,[.errors[].index]]')" "[5,1,[3]]"
check "/pins NDJSON: 5 rows" "$(pp_sql "select count(*) - $BEFORE from pinpipe.pins")" 5
BEFORE=$(pp_sql "select count(*) from pinpipe.pins")
check "/pins malformed array: 400" "$(req POST /pins --data-binary "[$PIN1, {\"x\": ")" 400
check "/pins malformed array stores nothing" "$(pp_sql "select count(*) - $BEFORE from pinpipe.pins")" 0
check "/pins empty array: 200" "$(req POST /pins --data-binary '[]')" 200
check "/pins empty array body" "$(body | jq -c .)" '{"accepted":0,"rejected":0,"errors":[]}'
check "/pins empty body: 400" "$(req POST /pins --data-binary '')" 400
printf '%s\n\xff\n' "$PIN1" >"$T/nd_bad"
check "/pins not UTF-8: 400" "$(req POST /pins --data-binary @"$T/nd_bad")" 400

# --- bulk: 500 real pins through /pins (chunked upload), all land
BEFORE=$(pp_sql "select count(*) from pinpipe.pins")
sed -n 100,599p "$DATA" >"$T/bulk.jsonl"
WANT=$(jq -s '[.[]|select(.unique_id|test("^[0-9a-fA-F-]{36}$"))]|length' "$T/bulk.jsonl")
check "/pins 500 (chunked): 200" "$(req POST /pins -H 'Transfer-Encoding: chunked' --data-binary @"$T/bulk.jsonl")" 200
GOT=$(body | jq .accepted)
check "/pins 500: accepted + rejected = 500" "$(body | jq '.accepted + .rejected')" 500
check "/pins 500: accepted rows are in pins" "$(pp_sql "select count(*) - $BEFORE from pinpipe.pins")" "$GOT"
[ "$GOT" -ge "$((WANT - 5))" ] && ok "/pins 500: most real pins accepted ($GOT of $WANT)" || fail "/pins 500: only $GOT accepted of $WANT"
check "pinpipe.workers shows the http worker with its rows" \
	"$(pp_sql "select state, rows > 500, batches > 0 from pinpipe.workers where kind = 'http'")" "listening|t|t"

# --- the extension dropped under the running worker: 503, then back after CREATE
pp_sql "drop extension pinpipe" >/dev/null
check "extension dropped: POST /pin/ 503" "$(req POST /pin/ --data-binary "$(sed -n 800p "$DATA")")" 503
check "extension dropped: Retry-After" "$(hdr Retry-After)" 1
pp_sql "create extension pinpipe" >/dev/null
pp_wait_for "http_healthz_is 200" 30 "healthz 200 again" || fail "not healthy after re-create"
check "extension re-created: POST /pin/ 200" "$(req POST /pin/ --data-binary "$(sed -n 801p "$DATA")")" 200
check "extension re-created: the pin is stored" "$(pp_sql "select count(*) from pinpipe.pins")" 1

# --- 404 / 405
check "unknown path: 404" "$(req GET /nope)" 404
check "404 body" "$(body | jq -r .detail)" "Not Found"
check "GET /pin/: 405" "$(req GET /pin/)" 405
check "405 Allow: POST" "$(hdr Allow)" POST
check "POST /healthz: 405" "$(req POST /healthz --data-binary x)" 405
check "405 Allow: GET, HEAD" "$(hdr Allow)" "GET,HEAD"
check "DELETE /pins: 405" "$(req DELETE /pins)" 405

# --- 413: by Content-Length, and while streaming a chunked body
head -c 1100000 /dev/zero | tr '\0' ' ' >"$T/big"
check "over http_max_body: 413" "$(req POST /pin/ --data-binary @"$T/big")" 413
check "413 chunked: 413" "$(req POST /pins -H 'Transfer-Encoding: chunked' --data-binary @"$T/big")" 413
check "413 body is JSON" "$(body | jq -r '.detail|type')" string

# --- slow client: a connection that stops sending is closed after pinpipe.http_timeout
exec 3<>/dev/tcp/127.0.0.1/$HP
printf 'POST /pin/ HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"cat' >&3
if timeout 20 cat <&3 >/dev/null; then ok "slow client disconnected by the server"; else fail "slow client still connected after 20s"; fi
exec 3<&-

# --- hostile input in bulk: random bytes, truncated uploads, aborted clients; no crash, no leak
rss() { awk '/^RssAnon/{print $2}' "/proc/$(worker_pid)/status"; }
RSS0=$(rss)
bad=0
for i in $(seq 1 150); do
	head -c $((RANDOM % 3000 + 1)) /dev/urandom >"$T/rand"
	c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 -X POST "$H/pin/" --data-binary @"$T/rand")
	case $c in 400 | 422) ;; *) bad=$((bad + 1)) ;; esac
	c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 -X POST "$H/pins" --data-binary @"$T/rand")
	case $c in 200 | 400) ;; *) bad=$((bad + 1)) ;; esac
done
check "300 random bodies answered 400/422 (/pins: 200 with rejections or 400)" "$bad" 0
for i in $(seq 1 20); do
	# announce 5000 bytes, send 10, hang up
	(exec 7<>/dev/tcp/127.0.0.1/$HP; printf 'POST /pins HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n[{"a": 1' >&7; exec 7<&-)
	# chunked, cut in the middle of a chunk
	(exec 7<>/dev/tcp/127.0.0.1/$HP; printf 'POST /pin/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n100\r\n{"cat' >&7; exec 7<&-)
done
check "healthz after aborted uploads" "$(req GET /healthz)" 200
seq 1 2000 | xargs -P 8 -I{} curl -s -o /dev/null -X POST "$H/pin/" --data-binary "$PIN1" >/dev/null
RSS1=$(rss)
[ $((RSS1 - RSS0)) -lt 10000 ] && ok "worker private memory stable after 2,700 requests (${RSS0} kB -> ${RSS1} kB)" ||
	fail "worker memory grew from ${RSS0} kB to ${RSS1} kB"

# --- header slowloris: header bytes trickled every 0.5 s (never idle) must not hold a
# connection past pinpipe.http_timeout (3 s) without completing the header
trap '' PIPE
exec 3<>/dev/tcp/127.0.0.1/$HP
printf 'POST /pin/ HTTP/1.1\r\nHost: x\r\n' >&3
n=0 closed=0
while [ $n -lt 40 ]; do
	printf 'X-Slow-%d: 1\r\n' "$n" >&3 2>/dev/null || { closed=1; break; }
	read -r -t 0.5 _ <&3
	rc=$?
	[ $rc -eq 1 ] && { closed=1; break; } # EOF: the server closed it
	n=$((n + 1))
done
exec 3<&-
trap - PIPE
[ $closed = 1 ] && ok "slow header sender cut off (after $n header lines)" || fail "slow header sender held the connection for 20 s"
check "healthz after the slow clients" "$(req GET /healthz)" 200

# --- /metrics: valid Prometheus text
check "GET /metrics: 200" "$(req GET /metrics)" 200
cp "$T/body" "$T/metrics.txt"
if promtool check metrics <"$T/metrics.txt" >"$T/promtool.out" 2>&1; then ok "promtool check metrics"; else fail "promtool: $(cat "$T/promtool.out")"; fi
check "metrics count /pin/ 200s" "$(grep -c '^pinpipe_http_requests_total{endpoint="/pin/",code="200"} [1-9]' "$T/metrics.txt")" 1
check "metrics count 422s" "$(grep -c '^pinpipe_http_requests_total{endpoint="/pin/",code="422"} [1-9]' "$T/metrics.txt")" 1
check "metrics: latency histogram" "$(grep -c '^pinpipe_http_request_duration_seconds_bucket{endpoint="/pin/",le="+Inf"}' "$T/metrics.txt")" 1
check "metrics: accepted pins" "$(awk '/^pinpipe_http_pins_accepted_total /{print ($2 > 300)}' "$T/metrics.txt")" 1
check "metrics: http worker batches" "$(grep -c '^pinpipe_batch_duration_seconds_count{kind="http",worker="0"} [1-9]' "$T/metrics.txt")" 1

# --- auth: with a token, 401 without or with a wrong one
pp_conf "pinpipe.http_auth_token = 's3cret-token'"
pp_cluster_reload
pp_wait_for "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -X POST $H/pin/ --data-binary x)\" = 401 ]" 30 "token in force" || fail "token never in force"
check "no token: 401" "$(req POST /pin/ --data-binary "$PIN1")" 401
check "401 WWW-Authenticate" "$(hdr WWW-Authenticate)" Bearer
check "wrong token: 401" "$(req POST /pin/ -H 'Authorization: Bearer s3cret-tokem' --data-binary "$PIN1")" 401
check "prefix of token: 401" "$(req POST /pin/ -H 'Authorization: Bearer s3cret' --data-binary "$PIN1")" 401
check "right token: 200" "$(req POST /pin/ -H 'Authorization: Bearer s3cret-token' --data-binary "$(sed -n 700p "$DATA")")" 200
check "metrics needs the token: 401" "$(req GET /metrics)" 401
check "healthz stays open: 200" "$(req GET /healthz)" 200
check "auth token hidden from non-superusers" "$(pp_psql -At -c "create role pp_nosu login" -c "set role pp_nosu" -c "show pinpipe.http_auth_token" 2>&1 | grep -c 'permission denied\|must be superuser')" 1

check "same http worker pid (no crash)" "$(worker_pid)" "$PID0"

# --- connection limit: pinpipe.http_max_connections holds across the server
pp_conf "pinpipe.http_max_connections = 3" "pinpipe.http_auth_token = ''" "pinpipe.http_listen_addresses = '*'"
pp_cluster_restart
pp_wait_for "http_healthz_is 200" 30 "worker back" || fail "worker not back after restart"
# listen_addresses '*': every address, IPv6 too where the machine has it
if grep -qs . /proc/net/if_inet6; then
	check "'*' listens on ::1 too" "$(curl -s -o /dev/null -w '%{http_code}' "http://[::1]:$HP/healthz")" 200
fi
# three keep-alive connections, each proven accepted by an answer, then left open
for fd in 4 5 6; do
	eval "exec $fd<>/dev/tcp/127.0.0.1/$HP"
	printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n' >&$fd
	read -r -t 20 status <&$fd
	check "keep-alive connection $fd answered" "${status%$'\r'}" "HTTP/1.1 200 OK"
done
# MHD stops accepting at the limit and closes idle keep-alive connections to make room:
# a 4th client is served, but never more than 3 connections are open at once.
N=$(curl -s --max-time 20 $H/metrics | awk '/^pinpipe_http_open_connections /{print $2}')
[ -n "$N" ] && [ "$N" -le 3 ] && ok "connection limit holds with a 4th client ($N open)" || fail "connection limit: '$N' open with limit 3"
exec 4<&- 5<&- 6<&-
pp_wait_for "http_healthz_is 200" 30 "connections freed" &&
	ok "connections accepted again once the others closed" || fail "connections never freed"

# --- the worker survived everything above without a restart
check "no server crash in the log" "$(grep -c 'terminated by signal\|server process .* was terminated' "$PP_LOG")" 0

pp_done
