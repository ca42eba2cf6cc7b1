-- pinpipe 0.1.0 -> 0.2.0 (ALTER EXTENSION pinpipe UPDATE TO '0.2.0')
--
-- Every schema change of 0.2.0 lands twice: in the install fragments
-- (sql/install/NN_*.sql, which build pinpipe--0.2.0.sql) and here, so that an
-- updated 0.1.0 database ends up identical to a fresh 0.2.0 install (the upgrade
-- test compares their catalogs). Keep the sections in the order of the fragments.
\echo Use "ALTER EXTENSION pinpipe UPDATE TO '0.2.0'" to load this file. \quit

-- ---- sink (issue 10.3): one copy of each rule --------------------------------------
-- The cleaned columns become one composite type, pinpipe.cleaned_pin, returned by both
-- clean_pin overloads (same column names and types as before), and the media class
-- moves into C (pinpipe.media_class), used by the batch rollup and the serving view so
-- that they count media exactly as the live category_minute does.

-- The cleaned columns of a pin, in this order: clean_pin's result, and the names of the
-- cleaned part of pinpipe.pins (src/pin_datum.c fills them in this order).
CREATE TYPE pinpipe.cleaned_pin AS (
    ind               integer,
    unique_id         uuid,
    title             text,
    description       text,
    poster_name       text,
    follower_count    bigint,
    tag_list          text[],
    is_image_or_video text,
    image_src         text,
    downloaded        integer,
    save_location     text,
    category          text,
    error_fields      text[]
);
COMMENT ON TYPE pinpipe.cleaned_pin IS 'A cleaned pin: the result of clean_pin and the cleaned columns of pinpipe.pins';

-- clean_pin returned a record with OUT parameters; its result type cannot be changed
-- in place. Nothing in the extension depends on it (plpgsql bodies are not tracked).
DROP FUNCTION pinpipe.clean_pin(jsonb);
DROP FUNCTION pinpipe.clean_pin(text);

CREATE FUNCTION pinpipe.clean_pin(pin jsonb) RETURNS pinpipe.cleaned_pin
    AS 'MODULE_PATHNAME', 'pinpipe_clean_pin'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pinpipe.clean_pin(jsonb) IS 'Validate and clean one pin; structural errors raise with a SQLSTATE naming the field';

-- The same over the message text as received (what raw_pins.payload holds).
CREATE FUNCTION pinpipe.clean_pin(pin text) RETURNS pinpipe.cleaned_pin
    AS 'MODULE_PATHNAME', 'pinpipe_clean_pin_text'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pinpipe.clean_pin(text) IS 'clean_pin over JSON text, e.g. pinpipe.raw_pins.payload';

-- The media class behind every media count, live (category_minute) and batch
-- (category_daily, the serving views): one rule, in src/clean.c.
CREATE FUNCTION pinpipe.media_class(is_image_or_video text) RETURNS text
    AS 'MODULE_PATHNAME', 'pinpipe_media_class'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pinpipe.media_class(text) IS 'Media class of a cleaned is_image_or_video: image, video, story (any multi-video… value) or other; NULL for NULL, which the counts take as other';

-- batch_apply (40_batch.sql): the rollup's media counts through pinpipe.media_class.
-- A later section that replaces batch_apply again must keep these expressions.
CREATE OR REPLACE FUNCTION pinpipe.batch_apply(run_id bigint, full_rebuild boolean, lo xid8, hi xid8,
        OUT raw_rows bigint, OUT rejected_rows bigint, OUT pins_written bigint,
        OUT days_recomputed integer)
    RETURNS record
    LANGUAGE plpgsql
    -- the dedup and top-tag sorts of a large run stay in memory
    SET search_path = pg_catalog, pg_temp SET work_mem = '128MB'
AS $$
DECLARE
    days   date[];
    d      date;
    rec    record;
    cp     record;
    rstate text;
    rmsg   text;
BEGIN
    raw_rows := 0; rejected_rows := 0; pins_written := 0; days_recomputed := 0;

    IF full_rebuild THEN
        TRUNCATE pinpipe_archive.pins, pinpipe_archive.category_daily, pinpipe.archive_pin_days;
    END IF;

    CREATE TEMP TABLE pp_batch_new (
        raw_id bigint, received_at timestamptz, ind integer, unique_id uuid, title text,
        description text, poster_name text, follower_count bigint, tag_list text[],
        is_image_or_video text, image_src text, downloaded integer, save_location text,
        category text, error_fields text[]
    ) ON COMMIT DROP;

    -- Fast path: clean the whole range in one statement. Should a payload no longer
    -- clean (the rules changed since it was accepted), redo the range row by row,
    -- recording each reject in pinpipe.batch_rejects instead of failing the run.
    BEGIN
        INSERT INTO pp_batch_new
        SELECT r.id, r.received_at, cl.ind, cl.unique_id, cl.title, cl.description, cl.poster_name,
               cl.follower_count, cl.tag_list, cl.is_image_or_video, cl.image_src, cl.downloaded,
               cl.save_location, cl.category, cl.error_fields
          FROM pinpipe.raw_pins r
         CROSS JOIN LATERAL pinpipe.clean_pin(r.payload) cl
         WHERE r.xact_id >= lo AND r.xact_id < hi;
    EXCEPTION WHEN OTHERS THEN
        FOR rec IN SELECT r.id, r.received_at, r.payload FROM pinpipe.raw_pins r
                    WHERE r.xact_id >= lo AND r.xact_id < hi LOOP
            BEGIN
                SELECT * INTO cp FROM pinpipe.clean_pin(rec.payload);
            EXCEPTION WHEN OTHERS THEN
                GET STACKED DIAGNOSTICS rstate = RETURNED_SQLSTATE, rmsg = MESSAGE_TEXT;
                INSERT INTO pinpipe.batch_rejects VALUES (run_id, rec.id, rstate, rmsg);
                rejected_rows := rejected_rows + 1;
                CONTINUE;
            END;
            INSERT INTO pp_batch_new VALUES (rec.id, rec.received_at, cp.ind, cp.unique_id, cp.title,
                cp.description, cp.poster_name, cp.follower_count, cp.tag_list, cp.is_image_or_video,
                cp.image_src, cp.downloaded, cp.save_location, cp.category, cp.error_fields);
        END LOOP;
    END;
    SELECT count(*) + rejected_rows INTO raw_rows FROM pp_batch_new;
    ANALYZE pp_batch_new;

    -- Take the archived versions of the touched pins out (they may sit on another day).
    CREATE TEMP TABLE pp_batch_old ON COMMIT DROP AS
        SELECT * FROM pinpipe_archive.pins WITH NO DATA;
    IF NOT full_rebuild THEN
        WITH gone AS (
            DELETE FROM pinpipe_archive.pins a
             USING pinpipe.archive_pin_days k
             WHERE k.unique_id IN (SELECT n.unique_id FROM pp_batch_new n)
               AND a.unique_id = k.unique_id AND a.day = k.day
            RETURNING a.*)
        INSERT INTO pp_batch_old SELECT * FROM gone;
    END IF;

    -- New events and archived versions together: the latest (received_at, raw id) wins.
    CREATE TEMP TABLE pp_batch_merged ON COMMIT DROP AS
    SELECT DISTINCT ON (unique_id)
           (received_at AT TIME ZONE 'UTC')::date AS day, unique_id, raw_id, received_at,
           min(first_received_at) OVER w AS first_received_at,
           (sum(events) OVER w)::bigint AS events,
           ind, title, description, poster_name, follower_count, tag_list, is_image_or_video,
           image_src, downloaded, save_location, category, error_fields,
           cardinality(error_fields) > 0 AS is_error
      FROM (SELECT unique_id, raw_id, received_at, received_at AS first_received_at, 1::bigint AS events,
                   ind, title, description, poster_name, follower_count, tag_list, is_image_or_video,
                   image_src, downloaded, save_location, category, error_fields
              FROM pp_batch_new
            UNION ALL
            SELECT unique_id, raw_id, received_at, first_received_at, events,
                   ind, title, description, poster_name, follower_count, tag_list, is_image_or_video,
                   image_src, downloaded, save_location, category, error_fields
              FROM pp_batch_old) u
    -- one sort serves both the window and DISTINCT ON
    WINDOW w AS (PARTITION BY unique_id ORDER BY received_at DESC, raw_id DESC
                 ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
     ORDER BY unique_id, received_at DESC, raw_id DESC;

    FOR d IN SELECT DISTINCT m.day FROM pp_batch_merged m ORDER BY 1 LOOP
        PERFORM pinpipe.archive_ensure_partition(d);
    END LOOP;

    INSERT INTO pinpipe_archive.pins
        (day, unique_id, raw_id, received_at, first_received_at, events, ind, title, description,
         poster_name, follower_count, tag_list, is_image_or_video, image_src, downloaded,
         save_location, category, error_fields, is_error)
    SELECT day, unique_id, raw_id, received_at, first_received_at, events, ind, title, description,
           poster_name, follower_count, tag_list, is_image_or_video, image_src, downloaded,
           save_location, category, error_fields, is_error
      FROM pp_batch_merged
     ORDER BY day, unique_id;
    GET DIAGNOSTICS pins_written = ROW_COUNT;

    INSERT INTO pinpipe.archive_pin_days (unique_id, day)
    SELECT m.unique_id, m.day FROM pp_batch_merged m
    ON CONFLICT (unique_id) DO UPDATE SET day = excluded.day
     WHERE archive_pin_days.day <> excluded.day;

    -- Recompute the rollup of every day that gained or lost a pin.
    SELECT coalesce(array_agg(DISTINCT x.day ORDER BY x.day), '{}') INTO days
      FROM (SELECT m.day FROM pp_batch_merged m UNION SELECT o.day FROM pp_batch_old o) x;
    days_recomputed := cardinality(days);
    IF days_recomputed > 0 THEN
        DELETE FROM pinpipe_archive.category_daily cd WHERE cd.day = ANY (days);
        INSERT INTO pinpipe_archive.category_daily
        WITH scope AS (
            SELECT a.*, coalesce(a.category, '(none)') AS cat
              FROM pinpipe_archive.pins a
             WHERE a.day = ANY (days)),
        tags AS (
            SELECT s.day, s.cat, t.tag, count(*) AS n
              FROM scope s CROSS JOIN LATERAL unnest(s.tag_list) AS t(tag)
             GROUP BY 1, 2, 3),
        ranked AS (
            SELECT tags.day, tags.cat, tags.tag,
                   row_number() OVER (PARTITION BY tags.day, tags.cat ORDER BY tags.n DESC, tags.tag) AS rn
              FROM tags),
        top AS (
            SELECT ranked.day, ranked.cat, array_agg(ranked.tag ORDER BY ranked.rn) AS top_tags
              FROM ranked WHERE ranked.rn <= 10
             GROUP BY 1, 2),
        agg AS (
            SELECT s.day, s.cat,
                   sum(s.events)::bigint AS posts,
                   count(*) AS distinct_pins,
                   count(*) FILTER (WHERE s.is_error) AS error_pins,
                   count(s.follower_count) AS follower_known,
                   sum(s.follower_count)::bigint AS follower_sum,
                   avg(s.follower_count)::double precision AS follower_avg,
                   max(s.follower_count) AS follower_max,
                   percentile_disc(0.5) WITHIN GROUP (ORDER BY s.follower_count) AS follower_p50,
                   percentile_disc(0.9) WITHIN GROUP (ORDER BY s.follower_count) AS follower_p90,
                   count(*) FILTER (WHERE pinpipe.media_class(s.is_image_or_video) = 'image') AS image_pins,
                   count(*) FILTER (WHERE pinpipe.media_class(s.is_image_or_video) = 'video') AS video_pins,
                   count(*) FILTER (WHERE pinpipe.media_class(s.is_image_or_video) = 'story') AS story_pins,
                   count(*) FILTER (WHERE coalesce(pinpipe.media_class(s.is_image_or_video), 'other') = 'other') AS other_media_pins,
                   count(*) FILTER (WHERE s.downloaded <> 0) AS downloaded_pins
              FROM scope s
             GROUP BY s.day, s.cat)
        SELECT agg.day, agg.cat, agg.posts, agg.distinct_pins, agg.error_pins, agg.follower_known,
               agg.follower_sum, agg.follower_avg, agg.follower_max, agg.follower_p50, agg.follower_p90,
               agg.image_pins, agg.video_pins, agg.story_pins, agg.other_media_pins, agg.downloaded_pins,
               coalesce(top.top_tags, '{}'), now()
          FROM agg LEFT JOIN top ON top.day = agg.day AND top.cat = agg.cat;
    END IF;

    DROP TABLE pp_batch_new, pp_batch_old, pp_batch_merged;
END
$$;

-- category_daily_stats (50_serving.sql): the live media counts through pinpipe.media_class.
-- A later section that replaces this view again must keep these expressions.
CREATE OR REPLACE VIEW pinpipe.category_daily_stats AS
WITH pending_raw AS (
    SELECT r.id, r.received_at
      FROM pinpipe.raw_pins r
     WHERE r.xact_id >= (SELECT s.watermark FROM pinpipe.batch_state s)),
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
