\set ECHO none
-- The fixture the batch regression tests share (sql/batch_*.sql, sql/55_analyses.sql):
-- an empty pipeline and the helpers that write raw events with a fixed received_at
-- (so days are deterministic). A test opens with
--     \i sql/include/batch_fixture.sql
-- and ends with \i sql/include/batch_fixture_end.sql. The path is relative to
-- pg_regress's working directory, the repository (make installcheck, test/regress.sh
-- and the 17/18 roots all run it there). ECHO is off in here, so the expected output
-- shows the \i line and this file's first line only.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pinpipe;

-- An empty pipeline: no raw rows, no speed-layer rows, nothing archived, the
-- watermark at the start. (A procedure: CALL prints nothing.)
CREATE PROCEDURE pp_reset()
LANGUAGE sql AS $$
  TRUNCATE pinpipe.raw_pins, pinpipe.pins, pinpipe.geo, pinpipe.users, pinpipe.category_minute,
           pinpipe.dead_letters, pinpipe.batch_runs, pinpipe.batch_rejects, pinpipe_archive.pins,
           pinpipe_archive.category_daily, pinpipe.archive_pin_days, pinpipe_archive.geo,
           pinpipe_archive.users;
  UPDATE pinpipe.batch_state SET watermark = '0', watermark_moved_at = NULL, last_run_id = NULL,
         retention_days = NULL, raw_purged_before = NULL;
$$;
CALL pp_reset();

-- A pin as the API receives it; uid n is its index and becomes unique_id
-- 00000000-0000-0000-0000-00000000000n.
CREATE FUNCTION pp_pin(uid int, cat text DEFAULT 'art', title text DEFAULT 'T',
                       followers text DEFAULT '5k', tags text DEFAULT 'a,b',
                       media text DEFAULT 'image', poster text DEFAULT 'p') RETURNS text
LANGUAGE sql AS $$
  SELECT json_build_object('index', uid,
      'unique_id', '00000000-0000-0000-0000-' || lpad(uid::text, 12, '0'),
      'title', title, 'description', 'd', 'poster_name', poster, 'follower_count', followers,
      'tag_list', tags, 'is_image_or_video', media, 'image_src', 'https://i.pinimg.com/x.jpg',
      'downloaded', 1, 'save_location', 'Local save in /data/' || cat, 'category', cat)::text
$$;

-- A raw event of a stream ('pin', 'geo', 'user'), or of a pin, received at a given time.
CREATE FUNCTION pp_raw(at timestamptz, stream text, payload text) RETURNS void
LANGUAGE sql AS $$
  INSERT INTO pinpipe.raw_pins (source, received_at, stream, payload) VALUES ('sql', at, stream, payload)
$$;
CREATE FUNCTION pp_raw(at timestamptz, payload text) RETURNS void
LANGUAGE sql AS $$
  SELECT pp_raw(at, 'pin', payload)
$$;

-- A pin's raw row plus its speed-layer row, in one transaction, as the ingest path
-- writes them (at a given time).
CREATE FUNCTION pp_ingest(at timestamptz, payload text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    rid bigint;
BEGIN
    INSERT INTO pinpipe.raw_pins (source, received_at, payload) VALUES ('sql', at, payload)
        RETURNING id INTO rid;
    INSERT INTO pinpipe.pins (raw_id, received_at, source, ind, unique_id, title, description,
           poster_name, follower_count, tag_list, is_image_or_video, image_src, downloaded,
           save_location, category, error_fields)
    SELECT rid, at, 'sql', c.ind, c.unique_id, c.title, c.description, c.poster_name,
           c.follower_count, c.tag_list, c.is_image_or_video, c.image_src, c.downloaded,
           c.save_location, c.category, c.error_fields
      FROM pinpipe.clean_pin(payload) c;
END $$;
\set ECHO all
