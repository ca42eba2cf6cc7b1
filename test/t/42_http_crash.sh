#!/usr/bin/env bash
# 42_http_crash.sh — "a 2xx means the pin will not be lost", embedded mode, under the
# worst stops: clients post pins concurrently while the server is killed with kill -9
# (postmaster and every child), and again while it is stopped with a fast shutdown.
# After each restart every pin that was answered 200 must be in pinpipe.pins, and
# every answer must be 200, 503, or no answer at all (connection cut).
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../http_lib.sh"

pp_scratch T httpc
DATA=$PP_SHARED_DATA/pins_sample.jsonl
[ -f "$DATA" ] || { fail "sample data missing at $DATA"; pp_done; }

HP=$(pp_free_port)
pp_cluster_start "pinpipe.http_port = $HP" "pinpipe.consumer_workers = 0" || { fail "cluster did not start"; pp_done; }
pp_sql "create extension pinpipe" >/dev/null
H=http://127.0.0.1:$HP
pp_wait_for "http_healthz_is 200" 60 "healthz 200" || { fail "worker never healthy"; pp_done; }

# 4 clients, each posting real pins with fresh unique_ids until told to stop;
# each answer is logged as "<code> <unique_id>".
jq -c 'select(.unique_id|test("^[0-9a-f-]{36}$"))' "$DATA" | head -n 400 >"$T/pins.jsonl"
start_clients() {
	rm -f "$T/stop"
	for c in 1 2 3 4; do
		(
			while [ ! -f "$T/stop" ]; do
				while IFS= read -r line && [ ! -f "$T/stop" ]; do
					u=$(cat /proc/sys/kernel/random/uuid)
					p=$(jq -c --arg u "$u" '.unique_id = $u' <<<"$line")
					code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 -X POST "$H/pin/" --data-binary "$p")
					echo "$code $u" >>"$T/answers.$c"
				done <"$T/pins.jsonl"
			done
		) &
		CLIENTS+=($!)
	done
}
stop_clients() {
	touch "$T/stop"
	for pid in "${CLIENTS[@]}"; do wait "$pid" 2>/dev/null; done
	CLIENTS=()
}
CLIENTS=()
pp_cleanup 'touch "$T/stop"'
count200() { cat "$T"/answers.* 2>/dev/null | grep -c '^200 '; }
missing() {
	cat "$T"/answers.* | awk '$1 == 200 { print $2 }' >"$T/acked"
	pp_psql -At -c "create temp table acked (u uuid)" -c "\\copy acked from '$T/acked'" \
		-c "select count(*) from acked a where not exists (select 1 from pinpipe.pins p where p.unique_id = a.u)" | tail -n 1
}

for round in kill9 fast; do
	start_clients
	base=$(count200)
	pp_wait_for "[ \$(count200) -ge $((base + 100)) ]" 120 "100 pins acknowledged" || fail "$round: clients got no 200s"
	if [ "$round" = kill9 ]; then pp_cluster_kill9; else pp_cluster_stop fast; fi
	sleep 0.5 # clients keep trying against the dead server for a moment (answers 000)
	stop_clients
	pp_cluster_up
	pp_wait_for "http_healthz_is 200" 60 "healthz 200 after $round" || fail "$round: worker not healthy after restart"
	check "$round: every pin answered 200 is in pinpipe.pins ($(count200) acknowledged)" "$(missing)" 0
	check "$round: answers only 200, 503 or none" \
		"$(cat "$T"/answers.* | cut -d' ' -f1 | grep -v -c -E '^(200|503|000)$')" 0
done
check "no duplicate rows for acknowledged pins" \
	"$(pp_sql "select count(*) from (select unique_id from pinpipe.pins group by 1 having count(*) > 1) d")" 0

pp_done
