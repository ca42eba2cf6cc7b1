#!/usr/bin/env bash
# scripts/demo.sh — the main job: set-up, then the whole pipeline end to end on one
# private PostgreSQL server (run by an unprivileged user), with the real pins from
# ../shared/data:
#
#   1. embedded defaults (no Kafka): HTTP worker → sink → raw log, pins, live aggregates,
#      dead letters; batch layer (run_batch, scheduled by pg_cron) → archive → serving view
#   2. Kafka: the same server restarted with pinpipe.kafka_brokers pointing at the dev
#      broker: HTTP → Kafka (answered after the broker's ack) → consumer workers → tables,
#      plus the raw sample produced straight into the topic
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
DATA=$PP_SHARED_DATA/pins_sample.jsonl
NPINS=$(wc -l <"$DATA")
HTTP_PORT=$(pp_free_port)
URL=http://127.0.0.1:$HTTP_PORT
H=$URL

say() { printf '\n== %s\n' "$*"; }
show() { pp_psql -c "$1"; }

say "1. embedded mode: a private PostgreSQL with shared_preload_libraries = 'pg_cron,pinpipe', HTTP on $URL"
pp_cluster_start "pinpipe.http_port = $HTTP_PORT"
[ -n "$KEEP" ] && PP_CLEANUPS=()
pp_psql -c "CREATE EXTENSION pinpipe" -c "CREATE EXTENSION pg_cron"
pp_wait_for "http_healthz_is 200" 60 "the HTTP worker's /healthz"
curl -s "$URL/healthz"; echo

say "POST /pin/ with one real pin: answered 200 once committed, with the validated pin echoed"
head -n 1 "$DATA" | curl -s -X POST -H 'Content-Type: application/json' --data-binary @- "$URL/pin/"; echo
say "an invalid pin: 422 with FastAPI-shaped errors"
curl -s -w '  (HTTP %{http_code})\n' -X POST -H 'Content-Type: application/json' \
	-d '{"index": "one", "unique_id": "not-a-uuid", "title": "t"}' "$URL/pin/"

say "replaying all $NPINS real pins through POST /pin/ with pinpipe-emulate (8 connections)"
pinpipe-emulate --url "$URL/pin/" --replay "$DATA" --concurrency 8
say "20,000 generated realistic pins through POST /pins (100 per request, 1% invalid)"
pinpipe-emulate --url "$URL/pins" --count 20000 --batch 100 --concurrency 4 --invalid-rate 0.01 --seed 7

say "what the speed layer says"
show "SELECT source, count(*) AS pins, count(*) FILTER (WHERE error_fields <> '{}') AS flagged,
             count(*) FILTER (WHERE follower_count IS NULL) AS no_followers,
             count(*) FILTER (WHERE tag_list IS NULL) AS no_tags
      FROM pinpipe.pins GROUP BY source"
show "SELECT count(*) AS dead_letters, sqlstate, left(min(error), 60) AS example
      FROM pinpipe.dead_letters GROUP BY sqlstate ORDER BY 1 DESC"
show "SELECT category, sum(posts) AS posts, sum(error_posts) AS error_posts,
             round(sum(follower_sum)::numeric / nullif(sum(follower_known), 0)) AS avg_followers,
             sum(image_posts) AS images, sum(video_posts) AS videos, sum(story_posts) AS stories
      FROM pinpipe.category_minute GROUP BY category ORDER BY posts DESC LIMIT 8"

say "batch layer: CALL pinpipe.run_batch() → pinpipe_archive, then the serving view"
pp_psql -c "CALL pinpipe.run_batch()"
show "SELECT * FROM pinpipe.batch_status"
show "SELECT count(*) AS archived_pins, count(DISTINCT day) AS days FROM pinpipe_archive.pins"
show "SELECT * FROM pinpipe.category_stats ORDER BY 2 DESC LIMIT 5"
say "scheduled with pg_cron"
show "SELECT pinpipe.schedule_batch('*/5 * * * *') AS job_id"
show "SELECT jobname, schedule, command FROM cron.job"

say "GET /metrics (excerpt)"
curl -s "$URL/metrics" | grep -E '^pinpipe_(pins|http_requests)_total' | head -8

if [ -n "$EMBEDDED_ONLY" ]; then
	say "demo finished (embedded only)"
	exit 0
fi

say "2. Kafka mode: dev broker (librdkafka's mock cluster, 4 partitions)"
BROKER_OUT=$PP_DIR/devbroker.out
pinpipe-devbroker --partitions 4 >"$BROKER_OUT" 2>"$PP_DIR/devbroker.log" &
BROKER_PID=$!
[ -z "$KEEP" ] && pp_cleanup "kill $BROKER_PID"
pp_wait_for "[ -s '$BROKER_OUT' ]" 30 "the dev broker's address"
BOOTSTRAP=$(head -n 1 "$BROKER_OUT")
echo "bootstrap: $BOOTSTRAP"

say "restarting PostgreSQL with pinpipe.kafka_brokers = '$BOOTSTRAP' and 2 consumer workers"
pp_conf "pinpipe.kafka_brokers = '$BOOTSTRAP'" "pinpipe.consumer_workers = 2"
pp_cluster_restart
pp_wait_for "http_healthz_is 200" 60 "the HTTP worker's /healthz"
before=$(pp_sql "SELECT count(*) FROM pinpipe.pins")

say "HTTP → Kafka: 10,000 generated pins, each answered 2xx only after the broker acknowledged it"
pinpipe-emulate --url "$URL/pins" --count 10000 --batch 100 --concurrency 4 --seed 11 --json >"$PP_DIR/emu.json"
cat "$PP_DIR/emu.json"; echo
accepted=$(jq -r .accepted "$PP_DIR/emu.json")
say "Kafka-native producers: the $NPINS real pins produced straight into the topic"
pinpipe-devbroker --produce "$DATA" --bootstrap "$BOOTSTRAP"

expected=$((before + accepted + NPINS))
say "waiting for the consumers to write all $expected pins (exactly once)"
pp_wait_for "[ \$(pp_sql 'SELECT count(*) FROM pinpipe.pins') -ge $expected ]" 120 "$expected pins"
show "SELECT kind, number, state, rows, dead_letters, batches FROM pinpipe.workers ORDER BY kind, number"
show "SELECT * FROM pinpipe.consumer_partition_status ORDER BY 1, 2, 3"
show "SELECT count(*) AS kafka_pins,
             count(DISTINCT (\"partition\", \"offset\")) AS distinct_offsets,
             (SELECT sum(next_offset) FROM pinpipe.kafka_offsets) AS offsets_committed
      FROM pinpipe.raw_pins WHERE source = 'kafka'"
pp_psql -c "CALL pinpipe.run_batch()"
show "SELECT * FROM pinpipe.category_stats ORDER BY 2 DESC LIMIT 5"

if [ -n "$KEEP" ]; then
	say "left running: psql -h $PP_SOCK -p $PP_PORT -U postgres; HTTP $URL; broker $BOOTSTRAP (pid $BROKER_PID)"
fi
say "demo finished"
