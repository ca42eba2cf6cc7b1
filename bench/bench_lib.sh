# bench/bench_lib.sh — SQL shared by the benchmarks (source it).

# The cleaning rules as plain SQL expressions over relation $1 (a column j jsonb).
sql_clean() { sed "s/__SRC__/$1/" "$(dirname "${BASH_SOURCE[0]}")/sql_cleaning.sql" | grep -v '^--'; }

# The SQL-only write path over staging relation $1 (a column line text): the same writes
# as pinpipe's sink (raw log, cleaned rows, live aggregates) without pinpipe's C, one
# set-based statement per table, in one transaction. OFFSET 0 keeps the planner from
# flattening the subquery, which would re-parse the payload for every j->>'field'
# and make the baseline look several times slower than it is.
sql_only_path() {
	cat <<SQL
BEGIN;
INSERT INTO pinpipe.raw_pins (source, payload) SELECT 'sql', line FROM $1;
INSERT INTO pinpipe.pins (raw_id, received_at, source, ind, unique_id, title, description, poster_name,
    follower_count, tag_list, is_image_or_video, image_src, downloaded, save_location, category, error_fields)
SELECT x.id, x.received_at, 'sql', x.ind, x.unique_id, x.title, x.description, x.poster_name,
    x.follower_count, x.tag_list, x.is_image_or_video, x.image_src, x.downloaded, x.save_location,
    x.category, x.error_fields
FROM ($(sql_clean "(SELECT id, received_at, payload::jsonb AS j FROM pinpipe.raw_pins OFFSET 0)")) x;
INSERT INTO pinpipe.category_minute AS c
SELECT date_trunc('minute', now()), coalesce(category, '(none)'), count(*),
       count(*) FILTER (WHERE error_fields <> '{}'), coalesce(sum(follower_count), 0), count(follower_count),
       count(*) FILTER (WHERE is_image_or_video = 'image'), count(*) FILTER (WHERE is_image_or_video = 'video'),
       count(*) FILTER (WHERE is_image_or_video LIKE 'multi-video%'),
       count(*) FILTER (WHERE is_image_or_video IS NULL OR is_image_or_video NOT IN ('image', 'video')
                              AND is_image_or_video NOT LIKE 'multi-video%'),
       count(*) FILTER (WHERE downloaded <> 0)
FROM pinpipe.pins GROUP BY 1, 2
ON CONFLICT (minute, category) DO UPDATE SET posts = c.posts + EXCLUDED.posts;
COMMIT;
SQL
}
