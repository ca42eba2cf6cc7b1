#!/usr/bin/env bash
# 43_http_framing.sh — hostile HTTP framing and connection abuse (embedded mode), with
# raw sockets from python3: ambiguous body lengths are refused at once and the connection
# closed, idle sockets cannot starve a new client, the per-client cap, a half-closed
# client still gets its answer, malformed requests are counted and their log lines
# rate-limited; and a /pins body whose first line starts with '[' is NDJSON.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
HTTP_REQ_TIMEOUT=30
source "$(dirname "$0")/../http_lib.sh"

HP=$(pp_free_port)
# http_timeout 20: anything answered "at once" below is answered long before it
pp_cluster_start "pinpipe.http_port = $HP" "pinpipe.consumer_workers = 0" \
	"pinpipe.http_timeout = 20" "pinpipe.http_max_connections = 100" \
	"pinpipe.http_max_connections_per_client = 50" || { fail "cluster did not start"; pp_done; }
H=http://127.0.0.1:$HP
pp_scratch T http-framing
DATA=$PP_SHARED_DATA/pins_sample.jsonl
pp_sql "create extension pinpipe" >/dev/null
pp_wait_for "http_healthz_is 200" 30 "healthz 200" || { fail "worker never became healthy"; pp_done; }
PIN1=$(sed -n 1p "$DATA")

# raw REQUEST_FILE [half|corkhalf] [max_seconds]: send the file's bytes on one connection
# (then half-close if asked; corkhalf: with TCP_CORK, so that the bytes and the end of
# input arrive in one segment) and print "<status> <closed|open>" of the first answer, or
# "none". After a complete answer it waits 2 s (5 s when half-closed) for the server to close.
cat >"$T/raw.py" <<'PY'
import socket, sys
port, path = int(sys.argv[1]), sys.argv[2]
half = len(sys.argv) > 3 and sys.argv[3] in ('half', 'corkhalf')
wait = float(sys.argv[4]) if len(sys.argv) > 4 else 15.0
s = socket.create_connection(('127.0.0.1', port))
if len(sys.argv) > 3 and sys.argv[3] == 'corkhalf':
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
s.sendall(open(path, 'rb').read())
if half:
    s.shutdown(socket.SHUT_WR)
s.settimeout(wait)
got, closed = b'', False
try:
    while True:
        b = s.recv(65536)
        if not b:
            closed = True
            break
        got += b
        head, sep, rest = got.partition(b'\r\n\r\n')
        if sep:
            n = [int(l.split(b':')[1]) for l in head.split(b'\r\n') if l.lower().startswith(b'content-length:')]
            if n and len(rest) >= n[0]:
                break
except (socket.timeout, ConnectionResetError):
    pass
status = got.split(b' ')[1].decode() if got.startswith(b'HTTP/') else 'none'
if status != 'none' and not closed:
    s.settimeout(5.0 if half else 2.0)  # after a complete answer: does the server close?
    try:
        closed = s.recv(1) == b''
    except socket.timeout:
        pass
    except ConnectionResetError:
        closed = True
print(status, 'closed' if closed else 'open')
PY
raw() { python3 "$T/raw.py" "$HP" "$@"; }
LEN=$(printf %s "$PIN1" | wc -c)

# --- item 5: a /pins body starting with '[' that is not one JSON array is NDJSON
BEFORE=$(pp_sql "select count(*) from pinpipe.pins")
{ echo '[1]'; sed -n 2,3p "$DATA"; } >"$T/nd1"
check "/pins '[1]' then 2 pins: 200" "$(req POST /pins --data-binary @"$T/nd1")" 200
check "/pins '[1]' line rejected beside 2 accepted" "$(body | jq -c '[.accepted,.rejected,[.errors[].index]]')" "[2,1,[0]]"
{ echo '[{"index": 7,'; sed -n 4p "$DATA"; } >"$T/nd2"
check "/pins truncated '[' line then a pin: 200" "$(req POST /pins --data-binary @"$T/nd2")" 200
check "/pins truncated '[' line rejected, pin accepted" "$(body | jq -c '[.accepted,.rejected]')" "[1,1]"
check "/pins NDJSON fallback: 3 rows" "$(pp_sql "select count(*) - $BEFORE from pinpipe.pins")" 3
{ echo '['; sed -n 5p "$DATA"; echo ','; sed -n 6p "$DATA"; echo ']'; } >"$T/arr"
check "/pins multi-line array is still one array" "$(req POST /pins --data-binary @"$T/arr"; body | jq -c '[.accepted,.rejected]')" "200[2,0]"

# --- item 7: framing
m_before=$(curl -s $H/metrics | awk '/^pinpipe_http_malformed_requests_total /{print $2}')
printf 'POST /pin/ HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nContent-Length: 5\r\n\r\n%s' "$LEN" "$PIN1" >"$T/dupcl"
check "two different Content-Length: 400 and close" "$(raw "$T/dupcl")" "400 closed"
printf 'POST /pin/ HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nContent-Length: %d\r\n\r\n%s' "$LEN" "$LEN" "$PIN1" >"$T/samecl"
check "the same Content-Length twice is one length: 200" "$(raw "$T/samecl" | cut -d' ' -f1)" 200
printf 'POST /pin/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nabc' >"$T/gzip"
check "Transfer-Encoding gzip: 501 at once and close" "$(raw "$T/gzip" '' 5)" "501 closed"
printf 'POST /pin/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n5\r\nabcde\r\n' >"$T/cc"
check "Transfer-Encoding 'chunked, chunked': 400 at once and close" "$(raw "$T/cc" '' 5)" "400 closed"
printf 'POST /pin/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nabcde\r\n0\r\n\r\n' >"$T/tecl"
check "Transfer-Encoding with Content-Length: 400 and close" "$(raw "$T/tecl" '' 5)" "400 closed"
{ printf 'POST /pin/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;'; head -c 51200 /dev/zero | tr '\0' a; } >"$T/ext"
check "50 KB chunk extension: 400 at once and close" "$(raw "$T/ext" '' 5)" "400 closed"
printf 'POST /pin/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1FFFFFFFFFFFFFFFF\r\nabc' >"$T/chunk65"
check "a chunk size over 64 bits: 413 at once and close (libmicrohttpd's own check)" "$(raw "$T/chunk65" '' 5)" "413 closed"
# a chunk size that fits in 64 bits but declares more than pinpipe.http_max_body, with a
# few bytes after it: libmicrohttpd alone waited for the rest until pinpipe.http_timeout
printf 'POST /pin/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFF\r\nabc' >"$T/chunk64"
check "a 64-bit chunk size and 3 bytes: 413 at once and close" "$(raw "$T/chunk64" '' 5)" "413 closed"
printf 'POST /pins HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1000001\r\n{"a":1}' >"$T/chunkmax"
check "a chunk of pinpipe.http_max_body + 1: 413 at once and close" "$(raw "$T/chunkmax" '' 5)" "413 closed"
# ... also on the second request of a keep-alive connection, after a good chunked one
{ printf 'POST /pin/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n' "$LEN" "$PIN1"
  printf 'POST /pin/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n7FFFFFFFFFFFFFFF\r\nabc'; } >"$T/chunk2nd"
check "a 64-bit chunk size on a keep-alive connection: 200, then 413 at once and close" \
	"$(python3 "$PP_REPO/test/halfclose.py" --no-half-close "$HP" "$T/chunk2nd")" "1 200 413 closed"
printf 'POST /pin/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n' "$LEN" "$PIN1" >"$T/chunked_ok"
check "a well-formed chunked pin: 200" "$(raw "$T/chunked_ok" | cut -d' ' -f1)" 200
m_after=$(curl -s $H/metrics | awk '/^pinpipe_http_malformed_requests_total /{print $2}')
[ -n "$m_after" ] && [ "$((m_after - ${m_before:-0}))" -ge 5 ] &&
	ok "malformed requests counted in /metrics (+$((m_after - ${m_before:-0})))" ||
	fail "pinpipe_http_malformed_requests_total: '$m_before' -> '$m_after'"

# --- half-close after a complete valid POST: the answer still comes
printf 'POST /pin/ HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s' "$LEN" "$PIN1" >"$T/one"
check "half-closed client after a complete /pin/: 200" "$(raw "$T/one" half | cut -d' ' -f1)" 200
sed -n 10,1009p "$DATA" >"$T/k.jsonl"
{ printf 'POST /pins HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n' "$(wc -c <"$T/k.jsonl")"; cat "$T/k.jsonl"; } >"$T/bulk"
check "half-closed client after a complete 1000-pin /pins: 200" "$(raw "$T/bulk" half | cut -d' ' -f1)" 200
# the end of input arriving with the request: the answer, then the connection closed
# (libmicrohttpd alone kept it open until pinpipe.http_timeout after an answer it gave
# at once, and closed it without an answer that waited for the commit)
printf 'POST /pin/ HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n[1,2]' >"$T/badpin"
check "half-closed with the request, invalid /pin/: 422, then closed" "$(raw "$T/badpin" corkhalf)" "422 closed"
printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n' >"$T/hz"
check "half-closed with the request, GET /healthz: 200, then closed" "$(raw "$T/hz" corkhalf)" "200 closed"
check "half-closed with the request, valid /pin/: 200, then closed" "$(raw "$T/one" corkhalf)" "200 closed"
# a half-close arriving with the request whose answer waits for its commit: on resumption
# libmicrohttpd read the end of input before answering and closed without the answer
check "20 concurrent /pin/, each half-closed with its request: all 200, then closed" \
	"$(python3 "$PP_REPO/test/halfclose.py" "$HP" $(yes "$T/one" | head -n 20))" "20 200 closed"
cat "$T/one" "$T/badpin" "$T/hz" >"$T/three"
check "three pipelined requests, half-closed with them: 3 answers, then closed" \
	"$(python3 "$PP_REPO/test/halfclose.py" "$HP" "$T/three")" "1 200 422 200 closed"

# --- idle sockets cannot starve a new client
cat >"$T/idle.py" <<'PY'
import socket, sys, time, urllib.request
port, n = int(sys.argv[1]), int(sys.argv[2])
idle = []
for i in range(n):
    idle.append(socket.create_connection(('127.0.0.1', port)))
    if i % 3 == 0:  # some keep-alive connections that had one request, the rest never spoke
        idle[-1].sendall(b'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n')
time.sleep(1.0)
worst = 0.0
codes = []
for _ in range(5):
    t0 = time.monotonic()
    try:
        r = urllib.request.urlopen('http://127.0.0.1:%d/healthz' % port, timeout=10)
        codes.append(r.status)
    except urllib.error.HTTPError as e:
        codes.append(e.code if e.code != 503 or e.headers.get('Retry-After') else -503)
    except Exception:
        codes.append(0)
    worst = max(worst, time.monotonic() - t0)
print(' '.join(str(c) for c in codes), 'slow' if worst > 3.0 else 'fast')
PY
# 300 idle sockets against a limit of 100 connections (50 per client)
check "with 300 idle sockets a new client is answered (5 tries)" "$(python3 "$T/idle.py" "$HP" 300)" "200 200 200 200 200 fast"
closed=$(curl -s $H/metrics | awk '/^pinpipe_http_idle_connections_closed_total /{print $2}')
[ "${closed:-0}" -ge 200 ] && ok "idle connections were closed to make room ($closed)" ||
	fail "pinpipe_http_idle_connections_closed_total: '$closed'"

# --- the per-client cap: 50 connections of one client, all busy (mid-request), then one more
cat >"$T/busy.py" <<'PY'
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
busy = []
for i in range(n):
    s = socket.create_connection(('127.0.0.1', port))
    s.sendall(b'POST /pins HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n[')  # body pending
    busy.append(s)
time.sleep(1.0)
s = socket.create_connection(('127.0.0.1', port))
s.settimeout(10)
s.sendall(b'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n')
got = b''
try:
    while b'\r\n\r\n' not in got:
        b = s.recv(4096)
        if not b:
            break
        got += b
except socket.timeout:
    pass
head = got.split(b'\r\n\r\n')[0].lower()
print(got.split(b' ')[1].decode() if got else 'none', 'retry-after' if b'\r\nretry-after: 1' in head else 'no-retry-after')
PY
check "over the per-client cap with none idle: 503 + Retry-After" "$(python3 "$T/busy.py" "$HP" 50)" "503 retry-after"
pp_wait_for "http_healthz_is 200" 30 "healthz after the busy clients left" && ok "served again once they left" || fail "not served after the busy clients left"

# --- the log line of malformed requests is rate-limited
nlog0=$(grep -c 'pinpipe http: ' "$PP_LOG")
python3 -c "
import socket
for _ in range(60):
    s = socket.create_connection(('127.0.0.1', $HP))
    s.sendall(b'GARBAGE\\r\\n\\r\\n')
    s.close()
"
pp_wait_for "[ \$(curl -s $H/metrics | awk '/^pinpipe_http_malformed_requests_total /{print \$2}') -ge \$((m_after + 30)) ]" 30 "garbage counted"
sleep 1
nlog1=$(grep -c 'pinpipe http: ' "$PP_LOG")
m_junk=$(curl -s $H/metrics | awk '/^pinpipe_http_malformed_requests_total /{print $2}')
[ "$((m_junk - m_after))" -ge 30 ] && ok "garbage requests counted ($((m_junk - m_after)))" || fail "garbage counted: $m_after -> $m_junk"
[ "$((nlog1 - nlog0))" -le 12 ] && ok "but logged at most 12 lines ($((nlog1 - nlog0)))" || fail "60 garbage requests wrote $((nlog1 - nlog0)) log lines"

check "healthz at the end" "$(req GET /healthz)" 200
check "no server crash in the log" "$(grep -c 'terminated by signal' "$PP_LOG")" 0
pp_done
