-- Serving layer (DESIGN §4): the batch archive's rollups merged with the speed-layer
-- rows the batch has not archived yet, so a query sees up-to-the-minute totals.
--
-- "Newer than the watermark" is decided on the raw row, exactly as run_batch
-- decides it: a speed-layer row pins(raw_id) is live iff its raw_pins row is in
-- pinpipe.pending_raw_pins (newer than the watermark of the cluster that wrote
-- it, sql/install/40_batch.sql). The watermark and the archive are committed
-- in one transaction, so in any one snapshot every accepted event is counted
-- either by the archive or as live, never both and never neither.
--
-- Counting (docs/batch.md): posts counts events, so live events add to it
-- exactly. distinct_pins and the per-pin statistics count pins: a live pin is
-- added only if its unique_id is not archived yet (deduplicated among the live
-- rows, latest event wins, as the batch will do). A live resend of an archived
-- pin therefore adds a post but no pin until the next run folds it in.

CREATE VIEW pinpipe.category_daily_stats AS
WITH pending_raw AS (
    SELECT r.id, r.received_at
      FROM pinpipe.pending_raw_pins r),
live AS (
    SELECT p.raw_id, r.received_at, (r.received_at AT TIME ZONE 'UTC')::date AS day,
           coalesce(p.category, '(none)') AS category, p.unique_id, p.follower_count,
           p.is_image_or_video, p.downloaded, cardinality(p.error_fields) > 0 AS is_error
      FROM pinpipe.pins p
      JOIN pending_raw r ON r.id = p.raw_id
     -- a lower bound for the BRIN index on pins.raw_id
     WHERE p.raw_id >= (SELECT min(pr.id) FROM pending_raw pr)),
live_new AS (
    SELECT DISTINCT ON (l.unique_id) l.*
      FROM live l
     WHERE NOT EXISTS (SELECT 1 FROM pinpipe.archive_pin_days a WHERE a.unique_id = l.unique_id)
     ORDER BY l.unique_id, l.received_at DESC, l.raw_id DESC),
parts AS (
    SELECT cd.day, cd.category, cd.posts, cd.distinct_pins, cd.error_pins, cd.follower_known,
           cd.follower_sum, cd.follower_max, cd.image_pins, cd.video_pins, cd.story_pins,
           cd.other_media_pins, cd.downloaded_pins, 0::bigint AS live_posts
      FROM pinpipe_archive.category_daily cd
    UNION ALL
    SELECT l.day, l.category, count(*), 0, 0, 0, NULL, NULL, 0, 0, 0, 0, 0, count(*)
      FROM live l
     GROUP BY l.day, l.category
    UNION ALL
    SELECT n.day, n.category, 0, count(*),
           count(*) FILTER (WHERE n.is_error),
           count(n.follower_count), sum(n.follower_count)::bigint, max(n.follower_count),
           count(*) FILTER (WHERE pinpipe.media_class(n.is_image_or_video) = 'image'),
           count(*) FILTER (WHERE pinpipe.media_class(n.is_image_or_video) = 'video'),
           count(*) FILTER (WHERE pinpipe.media_class(n.is_image_or_video) = 'story'),
           count(*) FILTER (WHERE coalesce(pinpipe.media_class(n.is_image_or_video), 'other') = 'other'),
           count(*) FILTER (WHERE n.downloaded <> 0),
           0
      FROM live_new n
     GROUP BY n.day, n.category)
SELECT parts.day,
       parts.category,
       sum(parts.posts)::bigint AS posts,
       sum(parts.distinct_pins)::bigint AS distinct_pins,
       sum(parts.error_pins)::bigint AS error_pins,
       sum(parts.follower_known)::bigint AS follower_known,
       sum(parts.follower_sum)::bigint AS follower_sum,
       (sum(parts.follower_sum) / nullif(sum(parts.follower_known), 0))::double precision AS follower_avg,
       max(parts.follower_max) AS follower_max,
       sum(parts.image_pins)::bigint AS image_pins,
       sum(parts.video_pins)::bigint AS video_pins,
       sum(parts.story_pins)::bigint AS story_pins,
       sum(parts.other_media_pins)::bigint AS other_media_pins,
       sum(parts.downloaded_pins)::bigint AS downloaded_pins,
       sum(parts.live_posts)::bigint AS live_posts
  FROM parts
 GROUP BY parts.day, parts.category;
COMMENT ON VIEW pinpipe.category_daily_stats IS 'Serving layer: per UTC day and category, archive rollups plus speed-layer rows newer than the batch watermark (live_posts)';

CREATE VIEW pinpipe.category_stats AS
SELECT s.category,
       sum(s.posts)::bigint AS posts,
       sum(s.distinct_pins)::bigint AS distinct_pins,
       sum(s.error_pins)::bigint AS error_pins,
       (sum(s.error_pins)::double precision / nullif(sum(s.distinct_pins), 0)) AS error_rate,
       sum(s.follower_known)::bigint AS follower_known,
       sum(s.follower_sum)::bigint AS follower_sum,
       (sum(s.follower_sum) / nullif(sum(s.follower_known), 0))::double precision AS follower_avg,
       max(s.follower_max) AS follower_max,
       sum(s.image_pins)::bigint AS image_pins,
       sum(s.video_pins)::bigint AS video_pins,
       sum(s.story_pins)::bigint AS story_pins,
       sum(s.other_media_pins)::bigint AS other_media_pins,
       sum(s.downloaded_pins)::bigint AS downloaded_pins,
       sum(s.live_posts)::bigint AS live_posts,
       min(s.day) AS first_day,
       max(s.day) AS last_day
  FROM pinpipe.category_daily_stats s
 GROUP BY s.category;
COMMENT ON VIEW pinpipe.category_stats IS 'Serving layer: all-time totals per category, archive plus live rows newer than the batch watermark';

-- How far the batch layer is behind the raw log.
CREATE VIEW pinpipe.batch_status AS
SELECT s.watermark,
       s.watermark_moved_at,
       s.retention_days,
       s.raw_purged_before,
       (SELECT count(*) FROM pinpipe.pending_raw_pins r) AS pending_raw_rows,
       (SELECT min(r.received_at) FROM pinpipe.pending_raw_pins r) AS oldest_pending_at,
       lr.id AS last_run_id,
       lr.status AS last_run_status,
       lr.started_at AS last_run_started_at,
       lr.finished_at AS last_run_finished_at,
       lr.error AS last_run_error,
       s.watermark_cluster
  FROM pinpipe.batch_state s
  LEFT JOIN LATERAL (SELECT * FROM pinpipe.batch_runs br WHERE br.status <> 'skipped'
                      ORDER BY br.id DESC LIMIT 1) lr ON true;
COMMENT ON VIEW pinpipe.batch_status IS 'Batch layer lag: the watermark, raw rows not archived yet, and the last run';
