-- Serving layer: category_daily_stats / category_stats = archive rollups + speed-layer
-- rows newer than the watermark, with nothing counted twice before or after a run.
\i sql/include/batch_fixture.sql

-- Raw row plus its speed-layer row, in one transaction, as the ingest path writes them.
CREATE FUNCTION pp_ingest_at(uid int, cat text, at timestamptz, followers text DEFAULT '1k',
                             media text DEFAULT 'image') RETURNS void
LANGUAGE sql AS $$
  SELECT pp_ingest(at, pp_pin(uid, cat, 't', followers, 'a', media))
$$;

-- Before any run everything is live.
SELECT pp_ingest_at(1, 'art', '2024-06-01 10:00+00', '1k');
SELECT pp_ingest_at(2, 'art', '2024-06-01 11:00+00', '3k', 'video');
SELECT pp_ingest_at(2, 'art', '2024-06-01 12:00+00', '5k', 'video');  -- resend: latest wins
SELECT pp_ingest_at(3, 'travel', '2024-06-01 12:00+00', 'User Info Error');
SELECT day, category, posts, distinct_pins, error_pins, follower_known, follower_sum, follower_avg,
       follower_max, image_pins, video_pins, live_posts
  FROM pinpipe.category_daily_stats ORDER BY day, category;

-- After a run the same totals come from the archive.
CALL pinpipe.run_batch();
SELECT day, category, posts, distinct_pins, error_pins, follower_known, follower_sum, follower_avg,
       follower_max, image_pins, video_pins, live_posts
  FROM pinpipe.category_daily_stats ORDER BY day, category;

-- New live rows: a new pin and a resend of archived pin 1 on the next day. The resend
-- adds a post but not a second pin; the new pin adds both.
SELECT pp_ingest_at(4, 'art', '2024-06-02 09:00+00', '10');
SELECT pp_ingest_at(1, 'art', '2024-06-02 10:00+00', '1k');
SELECT day, category, posts, distinct_pins, follower_sum, live_posts
  FROM pinpipe.category_daily_stats ORDER BY day, category;
SELECT category, posts, distinct_pins, error_pins, error_rate, follower_sum, live_posts, first_day, last_day
  FROM pinpipe.category_stats ORDER BY category;
CREATE TEMP TABLE before_run AS SELECT category, posts, distinct_pins FROM pinpipe.category_stats;

-- After the run: per category, the same posts and pins (pin 1 now lives on day 2).
CALL pinpipe.run_batch();
SELECT day, category, posts, distinct_pins, follower_sum, live_posts
  FROM pinpipe.category_daily_stats ORDER BY day, category;
SELECT (SELECT array_agg(b ORDER BY b.category) FROM before_run b) =
       (SELECT array_agg(row(s.category, s.posts, s.distinct_pins)::before_run ORDER BY s.category)
          FROM pinpipe.category_stats s) AS same_totals;

-- The real ingest path (today's date): live at once, archived by the next run.
SELECT * FROM pinpipe.ingest('{"index": 9, "unique_id": "00000000-0000-0000-0000-000000000009", "title": "t",
  "description": "d", "poster_name": "p", "follower_count": "2k", "tag_list": "a", "is_image_or_video": "image",
  "image_src": "https://i.pinimg.com/x.jpg", "downloaded": 1, "save_location": "Local save in /data/art",
  "category": "art"}');
SELECT day = (now() AT TIME ZONE 'UTC')::date AS today, posts, distinct_pins, live_posts
  FROM pinpipe.category_daily_stats WHERE day > '2024-12-31';
SELECT pending_raw_rows FROM pinpipe.batch_status;
CALL pinpipe.run_batch();
SELECT day = (now() AT TIME ZONE 'UTC')::date AS today, posts, distinct_pins, live_posts
  FROM pinpipe.category_daily_stats WHERE day > '2024-12-31';
SELECT pending_raw_rows, last_run_status FROM pinpipe.batch_status;

DROP FUNCTION pp_ingest_at(int, text, timestamptz, text, text);
\i sql/include/batch_fixture_end.sql
