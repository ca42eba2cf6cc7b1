#!/usr/bin/env bash
# scripts/demo.sh — the main job: set-up, then the pipeline end to end on the embedded
# defaults, on a private PostgreSQL server run by an unprivileged user.
#   real pins (../shared/data) → pinpipe.ingest_text → raw log, cleaned pins, live aggregates
# Options: --keep leaves the server running and prints how to connect.
set -euo pipefail
cd "$(dirname "$0")/.."
KEEP=
for a in "$@"; do
	case $a in
		--keep) KEEP=1 ;;
		*) echo "usage: scripts/demo.sh [--keep]" >&2; exit 2 ;;
	esac
done

bash scripts/setup.sh
PP_PGBIN=$(bash scripts/tmp_install.sh)
export PP_PGBIN
[ -n "$KEEP" ] && export PP_KEEP=1
source test/lib.sh
[ -n "$KEEP" ] && PP_CLEANUPS=()
DATA=$PP_SHARED_DATA/pins_sample.jsonl

say() { printf '\n== %s\n' "$*"; }

say "starting a private PostgreSQL with shared_preload_libraries = 'pg_cron,pinpipe'"
pp_cluster_start
pp_psql -c "CREATE EXTENSION pinpipe"

say "ingesting $(wc -l <"$DATA") real pins from $DATA"
pp_psql -c "CREATE TEMP TABLE lines(n serial, line text)" \
	-c "\\copy lines(line) FROM '$DATA' WITH (FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01')" \
	-c "SELECT sum(i.accepted) AS accepted, sum(i.dead_lettered) AS dead_lettered
	    FROM (SELECT string_agg(line, E'\\n' ORDER BY n) AS batch FROM lines GROUP BY (n - 1) / 1000) b,
	         LATERAL pinpipe.ingest_text(b.batch) i"

say "a bad record never drops the good ones: one valid pin, one invalid, one not JSON"
pp_psql -c "SELECT * FROM pinpipe.ingest_text(
    '{\"index\": 1, \"unique_id\": \"00000000-0000-4000-8000-000000000001\", \"title\": \"ok\", \"description\": \"d\", \"follower_count\": \"1.5k\", \"tag_list\": \"a,b\", \"is_image_or_video\": \"image\", \"image_src\": \"x\", \"downloaded\": 1, \"save_location\": \"Local save in /data/demo\", \"category\": \"demo\"}' || E'\\n' ||
    '{\"index\": \"one\", \"unique_id\": \"nope\"}' || E'\\n' || 'not json')"
pp_psql -c "SELECT id, left(payload, 40) AS payload, left(error, 70) AS error, field, sqlstate FROM pinpipe.dead_letters"

say "cleaned pins (speed layer)"
pp_psql -c "SELECT ind, left(title, 40) AS title, follower_count, cardinality(tag_list) AS tags, save_location, error_fields
            FROM pinpipe.pins ORDER BY raw_id LIMIT 8"
pp_psql -c "SELECT count(*) AS pins,
                   count(*) FILTER (WHERE error_fields <> '{}') AS flagged,
                   count(*) FILTER (WHERE title IS NULL) AS no_title,
                   count(*) FILTER (WHERE description IS NULL) AS no_description,
                   count(*) FILTER (WHERE follower_count IS NULL) AS no_followers,
                   count(*) FILTER (WHERE tag_list IS NULL) AS no_tags
            FROM pinpipe.pins"

say "live per-minute aggregates"
pp_psql -c "SELECT category, sum(posts) AS posts, sum(error_posts) AS error_posts,
                   round(sum(follower_sum)::numeric / nullif(sum(follower_known), 0)) AS avg_followers,
                   sum(image_posts) AS images, sum(video_posts) AS videos, sum(story_posts) AS stories
            FROM pinpipe.category_minute GROUP BY category ORDER BY posts DESC"

if [ -n "$KEEP" ]; then
	say "server left running: psql -h $PP_SOCK -p $PP_PORT -U postgres   (stop: pg_ctl -D $PP_DATA stop)"
fi
say "demo finished"
