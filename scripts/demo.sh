#!/usr/bin/env bash
# scripts/demo.sh — the main job: set-up, then the whole pipeline end to end on one
# private PostgreSQL server (run by an unprivileged user), with the real records of the
# 2023 data set from ../shared/data (pins, geolocation, users; a row's three records
# share its index):
#
#   1. embedded defaults (no Kafka): every row's pin, geo and user record over HTTP in the
#      REST Proxy shape, random rows in the Kinesis shape, the pins in the FastAPI shape
#      (/pin/ and /pins) → sink → raw log, pins/geo/users, live aggregates, dead letters;
#      batch layer (run_batch, scheduled by pg_cron) → archive → serving view
#   2. Kafka: the same server restarted with pinpipe.kafka_brokers pointing at the dev
#      broker: the three streams over HTTP → Kafka (answered after the broker's ack) →
#      consumer workers → tables, plus the raw records produced straight into their topics
#   3. the analyses of the data set (the pinpipe.* analysis views over the archive)
#
# Every stream's records must land exactly once (checked per table, per part); a view of
# the analyses that does not exist is named. Either makes the exit status non-zero, after
# a summary of what passed and what did not.
#
# Options: --embedded-only skips part 2; --keep leaves the server (and broker) running.
set -euo pipefail
cd "$(dirname "$0")/.."
KEEP= EMBEDDED_ONLY=
for a in "$@"; do
	case $a in
		--keep) KEEP=1 ;;
		--embedded-only) EMBEDDED_ONLY=1 ;;
		*) echo "usage: scripts/demo.sh [--embedded-only] [--keep]" >&2; exit 2 ;;
	esac
done

bash scripts/setup.sh
PP_PGBIN=$(bash scripts/tmp_install.sh)
export PP_PGBIN
[ -n "$KEEP" ] && export PP_KEEP=1
source test/lib.sh
source scripts/local_server.sh
source test/http_lib.sh
DATA=$PP_SHARED_DATA
PINS=$DATA/pins_sample.jsonl
NPINS=$(grep -c . "$PINS")
HTTP_PORT=$(pp_free_port)
URL=http://127.0.0.1:$HTTP_PORT
H=$URL

say() { printf '\n== %s\n' "$*"; }
show() { pp_psql -c "$1"; }

# The verdicts, printed again at the end; any failure makes the exit status 1.
PASSED=() FAILED=()
verdict() { # verdict "what" got want
	if [ "$2" == "$3" ]; then
		PASSED+=("$1"); echo "   PASS $1: $2"
	else
		FAILED+=("$1: got $2, expected $3"); echo "   FAIL $1: got $2, expected $3"
	fi
}

# pinpipe-emulate with a JSON report in $PP_DIR/NAME.json; its exit status is judged by
# the checks, not by set -e. accepted NAME [STREAM]: the accepted count of the report.
emulate() {
	local name=$1
	shift
	pinpipe-emulate --json "$@" >"$PP_DIR/$name.json" || true
	[ -s "$PP_DIR/$name.json" ] || echo '{}' >"$PP_DIR/$name.json"
}
# (0 for a run that did not happen).
accepted() { if [ -s "$PP_DIR/$1.json" ]; then jq -r "${2:+.streams.$2}.accepted // 0" "$PP_DIR/$1.json"; else echo 0; fi; }
sent() { if [ -s "$PP_DIR/$1.json" ]; then jq -r "${2:+.streams.$2}.sent // 0" "$PP_DIR/$1.json"; else echo 0; fi; }

# The tables of the streams and their rows (all, or of one source).
declare -A TABLE=([pin]=pinpipe.pins [geo]=pinpipe.geo [user]=pinpipe.users)
rows() { pp_sql "SELECT count(*) FROM ${TABLE[$1]}${2:+ WHERE source = '$2'}"; }

# A route this build does not serve answers 404 without a REST-Proxy/Kinesis error_code.
served() { # served METHOD PATH CONTENT-TYPE
	local code
	code=$(curl -s -o "$PP_DIR/probe" -w '%{http_code}' -X "$1" -H "Content-Type: $3" --data-binary '{}' "$URL$2")
	! { [ "$code" = 404 ] && ! grep -q error_code "$PP_DIR/probe"; }
}

# post_rows NAME restproxy|kinesis PART ARGS...: sample rows in that shape when the build
# serves it (report in NAME.json), else a failure naming the missing route.
post_rows() {
	local name=$1 shape=$2 part=$3 route
	shift 3
	if [ "$shape" = restproxy ]; then
		route="POST /topics/{topic}"
		served POST /topics/pinterest.pin application/vnd.kafka.json.v2+json || route="!$route"
	else
		route="PUT /streams/{name}/record"
		served PUT /streams/pinterest.pin/record application/json || route="!$route"
	fi
	if [ "${route#!}" != "$route" ]; then
		FAILED+=("$part: ${route#!} is not served by this build (HTTP 404): the $shape shape did not run")
		echo "   MISSING: ${route#!} (404: $(head -c 100 "$PP_DIR/probe"))"
		return 0
	fi
	emulate "$name" --api "$shape" --url "$URL" --sample "$DATA" --concurrency 8 "$@"
	jq -c '{rows, accepted, rejected, errors, rate_pins_s, latency_p99_ms}' "$PP_DIR/$name.json"
}

say "1. embedded mode: a private PostgreSQL with shared_preload_libraries = 'pg_cron,pinpipe', HTTP on $URL"
pp_cluster_start "pinpipe.http_port = $HTTP_PORT"
[ -n "$KEEP" ] && PP_CLEANUPS=()
pp_psql -c "CREATE EXTENSION pinpipe" -c "CREATE EXTENSION pg_cron"
pp_wait_for "http_healthz_is 200" 60 "the HTTP worker's /healthz"
curl -s "$URL/healthz"; echo
NROWS=$(pinpipe-emulate --print --api restproxy --sample "$DATA" --all-rows | grep -c '^{"stream":"pin"')

say "POST /pin/ with one real pin: answered 200 once committed, with the validated pin echoed"
head -n 1 "$PINS" | curl -s -X POST -H 'Content-Type: application/json' --data-binary @- "$URL/pin/"; echo
say "an invalid pin: 422 with FastAPI-shaped errors"
curl -s -w '  (HTTP %{http_code})\n' -X POST -H 'Content-Type: application/json' \
	-d '{"index": "one", "unique_id": "not-a-uuid", "title": "t"}' "$URL/pin/"

say "the three streams of all $NROWS rows (pin, geo, user of one index) in the REST Proxy shape: POST /topics/pinterest.{pin,geo,user}"
post_rows e_rest restproxy embedded --all-rows --seed 1
say "300 random rows (the 2023 emulator's way) in the Kinesis shape: PUT /streams/pinterest.{pin,geo,user}/record"
post_rows e_kin kinesis embedded --count 300 --seed 2

say "all $NPINS real pins through POST /pin/ (the FastAPI shape) with pinpipe-emulate (8 connections)"
emulate e_pin --url "$URL/pin/" --replay "$PINS" --concurrency 8
jq -c '{accepted, rejected, errors, rate_pins_s, latency_p50_ms, latency_p99_ms}' "$PP_DIR/e_pin.json"
say "20,000 real pins again through POST /pins (100 per request), then 1,000 invalid ones (all rejected)"
emulate e_batch --url "$URL/pins" --replay "$PINS" --loop --count 20000 --batch 100 --concurrency 4
emulate e_bad --url "$URL/pins" --count 1000 --batch 100 --concurrency 4 --invalid-rate 1 --seed 7
jq -c '{accepted, rejected, errors, rate_pins_s}' "$PP_DIR/e_batch.json" "$PP_DIR/e_bad.json"

say "exactly once, embedded: each table holds every accepted record once"
verdict "embedded: FastAPI pins accepted" "$(accepted e_pin) $(accepted e_batch) $(accepted e_bad)" "$NPINS 20000 0"
for s in pin geo user; do
	want=$(($(accepted e_rest $s) + $(accepted e_kin $s)))
	[ $s = pin ] && want=$((want + 1 + $(accepted e_pin) + $(accepted e_batch))) # + the curl pin
	verdict "embedded: $s records sent over HTTP = accepted" "$(($(sent e_rest $s) + $(sent e_kin $s)))" \
		"$(($(accepted e_rest $s) + $(accepted e_kin $s)))"
	verdict "embedded: ${TABLE[$s]} rows = accepted $s records" "$(rows $s)" "$want"
done
verdict "embedded: every row's geo and user record (distinct ind in geo, users)" \
	"$(pp_sql "SELECT (SELECT count(DISTINCT ind) FROM pinpipe.geo) || ' ' || (SELECT count(DISTINCT ind) FROM pinpipe.users)")" "$NROWS $NROWS"

say "what the speed layer says"
show "SELECT source, count(*) AS pins, count(*) FILTER (WHERE error_fields <> '{}') AS flagged,
             count(*) FILTER (WHERE follower_count IS NULL) AS no_followers,
             count(*) FILTER (WHERE tag_list IS NULL) AS no_tags
      FROM pinpipe.pins GROUP BY source"
show "SELECT stream, count(*) AS raw_records FROM pinpipe.raw_pins GROUP BY stream ORDER BY stream"
show "SELECT count(*) AS dead_letters, sqlstate, left(min(error), 60) AS example
      FROM pinpipe.dead_letters GROUP BY sqlstate ORDER BY 1 DESC"
show "SELECT category, sum(posts) AS posts, sum(error_posts) AS error_posts,
             round(sum(follower_sum)::numeric / nullif(sum(follower_known), 0)) AS avg_followers,
             sum(image_posts) AS images, sum(video_posts) AS videos, sum(story_posts) AS stories
      FROM pinpipe.category_minute GROUP BY category ORDER BY posts DESC LIMIT 8"

say "batch layer: CALL pinpipe.run_batch() → pinpipe_archive, then the serving view"
pp_psql -c "CALL pinpipe.run_batch()"
show "SELECT * FROM pinpipe.batch_status"
show "SELECT (SELECT count(*) FROM pinpipe_archive.pins) AS archived_pins,
             (SELECT count(DISTINCT day) FROM pinpipe_archive.pins) AS days,
             (SELECT count(*) FROM pinpipe_archive.geo) AS archived_geo,
             (SELECT count(*) FROM pinpipe_archive.users) AS archived_users"
show "SELECT * FROM pinpipe.category_stats ORDER BY 2 DESC LIMIT 5"
say "scheduled with pg_cron"
show "SELECT pinpipe.schedule_batch('*/5 * * * *') AS job_id"
show "SELECT jobname, schedule, command FROM cron.job"

say "GET /metrics (excerpt)"
curl -s "$URL/metrics" | grep -E '^pinpipe_(pins|http_requests)_total' | head -8

if [ -z "$EMBEDDED_ONLY" ]; then
	say "2. Kafka mode: dev broker (librdkafka's mock cluster, 4 partitions)"
	BROKER_OUT=$PP_DIR/devbroker.out
	pinpipe-devbroker --partitions 4 >"$BROKER_OUT" 2>"$PP_DIR/devbroker.log" &
	BROKER_PID=$!
	[ -z "$KEEP" ] && pp_cleanup "kill $BROKER_PID"
	pp_wait_for "[ -s '$BROKER_OUT' ]" 30 "the dev broker's address"
	BOOTSTRAP=$(head -n 1 "$BROKER_OUT")
	echo "bootstrap: $BOOTSTRAP"

	# Before the consumers start, so that their subscription finds these topics at once.
	say "Kafka-native producers: the real geo and user records into pinterest.geo and pinterest.user, 100 pins into pinterest.pin (a *.pin topic)"
	head -n 100 "$PINS" >"$PP_DIR/pins100.jsonl"
	K_GEO=$(pinpipe-devbroker --produce "$DATA/geo_sample.jsonl" --bootstrap "$BOOTSTRAP" --topic pinterest.geo)
	K_USER=$(pinpipe-devbroker --produce "$DATA/user_sample.jsonl" --bootstrap "$BOOTSTRAP" --topic pinterest.user)
	K_PIN=$(pinpipe-devbroker --produce "$PP_DIR/pins100.jsonl" --bootstrap "$BOOTSTRAP" --topic pinterest.pin)
	echo "produced: geo $K_GEO, user $K_USER, pin $K_PIN"

	say "restarting PostgreSQL with pinpipe.kafka_brokers = '$BOOTSTRAP' and 2 consumer workers"
	pp_conf "pinpipe.kafka_brokers = '$BOOTSTRAP'" "pinpipe.consumer_workers = 2"
	pp_cluster_restart
	pp_wait_for "http_healthz_is 200" 60 "the HTTP worker's /healthz"

	say "HTTP → Kafka: the three streams of all $NROWS rows in the REST Proxy shape, each record answered only after the broker's ack"
	post_rows k_rest restproxy Kafka --all-rows --seed 3
	say "Kafka-native producers: the $NPINS real pins straight into pinterest.pins"
	K_PINS=$(pinpipe-devbroker --produce "$PINS" --bootstrap "$BOOTSTRAP")
	echo "produced: $K_PINS"

	declare -A WANT=(
		[pin]=$((K_PIN + K_PINS + $(accepted k_rest pin)))
		[geo]=$((K_GEO + $(accepted k_rest geo)))
		[user]=$((K_USER + $(accepted k_rest user))))
	say "waiting (bounded) for the consumers to write pins ${WANT[pin]}, geo ${WANT[geo]}, users ${WANT[user]}"
	pp_wait_for "[ \$(pp_sql \"SELECT (SELECT count(*) FROM pinpipe.pins WHERE source = 'kafka') >= ${WANT[pin]}
		AND (SELECT count(*) FROM pinpipe.geo WHERE source = 'kafka') >= ${WANT[geo]}
		AND (SELECT count(*) FROM pinpipe.users WHERE source = 'kafka') >= ${WANT[user]}\") = t ]" \
		120 "every Kafka record in its table" || true
	say "exactly once, Kafka: each table holds every produced record once (rows = distinct offsets = produced)"
	verdict "Kafka: records sent over HTTP = accepted" "$(sent k_rest)" "$(accepted k_rest)"
	for s in pin geo user; do
		verdict "Kafka: ${TABLE[$s]} rows from Kafka (distinct topic/partition/offset)" \
			"$(pp_sql "SELECT count(*) || ' (' || count(DISTINCT (topic, \"partition\", \"offset\")) || ')' FROM ${TABLE[$s]} WHERE source = 'kafka'")" \
			"${WANT[$s]} (${WANT[$s]})"
	done
	show "SELECT kind, number, state, rows, dead_letters, batches FROM pinpipe.workers ORDER BY kind, number"
	show "SELECT * FROM pinpipe.consumer_partition_status ORDER BY 1, 2, 3"
	show "SELECT stream, topic, count(*) AS kafka_records,
	             count(DISTINCT (\"partition\", \"offset\")) AS distinct_offsets
	      FROM pinpipe.raw_pins WHERE source = 'kafka' GROUP BY stream, topic ORDER BY 1, 2"
	show "SELECT topic, sum(next_offset) AS offsets_committed FROM pinpipe.kafka_offsets GROUP BY topic ORDER BY 1"
	pp_psql -c "CALL pinpipe.run_batch()"
	show "SELECT * FROM pinpipe.category_stats ORDER BY 2 DESC LIMIT 5"
fi

say "3. the analyses of the data set (archive, joined on ind)"
MISSING=()
analysis() { # analysis VIEW "ORDER BY ..." "what it answers"
	if [ "$(pp_sql "SELECT to_regclass('$1') IS NOT NULL")" = t ]; then
		echo "-- $3"
		show "SELECT * FROM $1 ORDER BY $2"
	else
		MISSING+=("$1")
		echo "   MISSING: view $1 ($3) does not exist in this build"
	fi
}
analysis pinpipe.popular_category_by_country "country, category" "the most popular category per country"
analysis pinpipe.popular_category_by_year "post_year, category" "the most popular category per year, 2018-2022"
analysis pinpipe.top_user_by_country "country, poster_name" "the user with most followers per country"
analysis pinpipe.popular_category_by_age_group "age_group, category" "the most popular category per age group"
analysis pinpipe.median_followers_by_age_group "age_group" "median follower count per age group"
analysis pinpipe.median_followers_by_join_year "join_year" "median follower count per joining year, 2015-2020"
analysis pinpipe.median_followers_by_join_year_age_group "age_group, join_year" "median follower count per joining year and age group"
analysis pinpipe.users_joined_by_year "join_year" "users joined per year"

if [ -n "$KEEP" ]; then
	say "left running: psql -h $PP_SOCK -p $PP_PORT -U postgres; HTTP $URL${BOOTSTRAP:+; broker $BOOTSTRAP (pid $BROKER_PID)}"
fi
say "summary: ${#PASSED[@]} checks passed, ${#FAILED[@]} failed, ${#MISSING[@]} analysis views missing"
for f in "${FAILED[@]}"; do echo "   FAIL $f"; done
for m in "${MISSING[@]}"; do echo "   MISSING view $m"; done
if [ ${#FAILED[@]} -gt 0 ] || [ ${#MISSING[@]} -gt 0 ]; then
	say "demo INCOMPLETE (see above)"
	exit 1
fi
say "demo finished"
