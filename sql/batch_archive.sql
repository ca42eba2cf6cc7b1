-- Batch layer: dedup (latest event wins), late data, idempotence, full rebuild
-- equals incremental, rejects, partitions on demand. Raw events are written
-- straight into the raw log with fixed received_at so days are deterministic.
\i sql/include/batch_fixture.sql

-- The archive and rollups as comparable text (computed_at left out).
CREATE FUNCTION pp_archive_digest() RETURNS text
LANGUAGE sql AS $$
  SELECT md5(coalesce((SELECT string_agg(a::text, '|' ORDER BY a.unique_id) FROM pinpipe_archive.pins a), '')
          || coalesce((SELECT string_agg(format('%s %s %s %s %s %s %s %s %s %s %s %s', c.day, c.category, c.posts,
                c.distinct_pins, c.error_pins, c.follower_known, c.follower_sum, c.follower_max,
                c.follower_p50, c.image_pins, c.story_pins, c.top_tags), '|' ORDER BY c.day, c.category)
             FROM pinpipe_archive.category_daily c), ''))
$$;

-- Day 1: pins 1..3; pin 2 twice the same day (the later title wins).
SELECT pp_raw('2024-03-01 08:00+00', pp_pin(1, 'art', 'one', '1k', 'x,y,z'));
SELECT pp_raw('2024-03-01 09:00+00', pp_pin(2, 'art', 'two-old', '2k', 'x'));
SELECT pp_raw('2024-03-01 10:00+00', pp_pin(2, 'art', 'two-new', '3k', 'x,y'));
SELECT pp_raw('2024-03-01 11:00+00', pp_pin(3, 'travel', 'three', 'User Info Error', 'N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e', 'video'));
-- Day 2: pin 1 again (it moves to day 2, its latest event), and pin 4.
SELECT pp_raw('2024-03-02 08:00+00', pp_pin(1, 'art', 'one-again', '1k', 'x'));
SELECT pp_raw('2024-03-02 09:00+00', pp_pin(4, 'travel', 'four', '15M', 'y', 'multi-video(story page format)'));

CALL pinpipe.run_batch();
SELECT status, full_rebuild, raw_rows, rejected_rows, pins_written, days_recomputed, error
  FROM pinpipe.batch_runs ORDER BY id;
SELECT day, right(unique_id::text, 2) AS uid, title, events, follower_count, tag_list, category,
       error_fields, is_error, first_received_at < received_at AS resent
  FROM pinpipe_archive.pins ORDER BY unique_id;
SELECT day, category, posts, distinct_pins, error_pins, follower_known, follower_sum, follower_avg,
       follower_max, follower_p50, image_pins, video_pins, story_pins, other_media_pins,
       downloaded_pins, top_tags
  FROM pinpipe_archive.category_daily ORDER BY day, category;
-- partitions were created on demand, one per day
SELECT inhrelid::regclass FROM pg_inherits
 WHERE inhparent = 'pinpipe_archive.pins'::regclass ORDER BY 1;

-- Idempotent: nothing new, nothing changes, nothing recomputed.
SELECT pp_archive_digest() AS digest1 \gset
CALL pinpipe.run_batch();
SELECT pp_archive_digest() = :'digest1' AS unchanged;
SELECT status, raw_rows, pins_written, days_recomputed FROM pinpipe.batch_runs ORDER BY id DESC LIMIT 1;

-- Late data: a new pin for day 1 (that day's rollup changes), and a late, older
-- duplicate of pin 3: it does not win, but counts as an event and moves first_received_at.
SELECT pp_raw('2024-03-01 12:00+00', pp_pin(5, 'art', 'five', '10', 'z'));
SELECT pp_raw('2024-02-28 23:00+00', pp_pin(3, 'travel', 'three-older', '7'));
CALL pinpipe.run_batch();
SELECT status, raw_rows, pins_written, days_recomputed FROM pinpipe.batch_runs ORDER BY id DESC LIMIT 1;
SELECT day, right(unique_id::text, 2) AS uid, title, events, first_received_at
  FROM pinpipe_archive.pins WHERE unique_id IN ('00000000-0000-0000-0000-000000000003', '00000000-0000-0000-0000-000000000005')
 ORDER BY unique_id;
SELECT day, category, posts, distinct_pins, top_tags FROM pinpipe_archive.category_daily ORDER BY day, category;
-- (no partition for 2024-02-28: pin 3's latest event is still on day 1)
SELECT count(*) AS partitions FROM pg_inherits WHERE inhparent = 'pinpipe_archive.pins'::regclass;

-- A payload the cleaning rules reject is recorded and skipped, not fatal.
SELECT pp_raw('2024-03-02 10:00+00', '{"index": "not a number"}');
SELECT pp_raw('2024-03-02 11:00+00', pp_pin(6, 'art'));
CALL pinpipe.run_batch();
SELECT status, raw_rows, rejected_rows, pins_written FROM pinpipe.batch_runs ORDER BY id DESC LIMIT 1;
SELECT r.sqlstate, r.error <> '' AS has_error, p.payload
  FROM pinpipe.batch_rejects r JOIN pinpipe.raw_pins p ON p.id = r.raw_id;
SELECT count(*) AS archived FROM pinpipe_archive.pins;

-- The pin → day index agrees with the incremental archive (pin 1 moved day).
SELECT count(*) AS pins, count(k.unique_id) AS indexed,
       (SELECT count(*) FROM pinpipe.archive_pin_days) AS index_rows
  FROM pinpipe_archive.pins a LEFT JOIN pinpipe.archive_pin_days k USING (unique_id, day);

-- A full rebuild from the raw log equals the incremental result.
SELECT pp_archive_digest() AS digest2 \gset
CALL pinpipe.run_batch(full => true);
SELECT status, full_rebuild, raw_rows, rejected_rows, pins_written, days_recomputed
  FROM pinpipe.batch_runs ORDER BY id DESC LIMIT 1;
SELECT pp_archive_digest() = :'digest2' AS full_equals_incremental;

-- The pin → day index agrees with the archive.
SELECT count(*) AS pins, count(k.unique_id) AS indexed,
       (SELECT count(*) FROM pinpipe.archive_pin_days) AS index_rows
  FROM pinpipe_archive.pins a LEFT JOIN pinpipe.archive_pin_days k USING (unique_id, day);

-- Every event read exactly once over the incremental runs.
SELECT sum(raw_rows) FILTER (WHERE NOT full_rebuild) AS incremental_rows,
       (SELECT count(*) FROM pinpipe.raw_pins) AS raw_log
  FROM pinpipe.batch_runs WHERE status = 'succeeded';
SELECT (SELECT watermark FROM pinpipe.batch_state) =
       (SELECT watermark_to FROM pinpipe.batch_runs ORDER BY id DESC LIMIT 1) AS watermark_recorded;

-- run_batch commits in steps: inside a transaction block it refuses, clearly.
BEGIN;
CALL pinpipe.run_batch();
ROLLBACK;

DROP FUNCTION pp_archive_digest();
\i sql/include/batch_fixture_end.sql
