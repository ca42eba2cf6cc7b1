# test/http_lib.sh — HTTP helpers for tests and the demo. Source after test/lib.sh;
# set H (base URL, e.g. http://127.0.0.1:PORT) and, for req/hdr/body, T (a scratch dir).
#   req METHOD PATH [curl args...]   prints the status code; body in $T/body, headers in $T/hdr
#   hdr NAME / body                  a header of / the body of the last req
#   http_status PATH                 status code of GET PATH
#   http_healthz_is CODE             true when GET /healthz answers CODE (for pp_wait_for)
HTTP_REQ_TIMEOUT=${HTTP_REQ_TIMEOUT:-60}

req() {
	local m=$1 p=$2
	shift 2
	curl -s -o "$T/body" -D "$T/hdr" -w '%{http_code}' --max-time "$HTTP_REQ_TIMEOUT" -X "$m" "$H$p" "$@"
}
hdr() { grep -i "^$1:" "$T/hdr" | head -n 1 | cut -d: -f2- | tr -d ' \r'; }
body() { cat "$T/body"; }
http_status() { curl -s -o /dev/null -w '%{http_code}' "$H$1"; }
http_healthz_is() { [ "$(http_status /healthz)" = "$1" ]; }
