-- pinpipe 0.1.0 -> 0.2.0 (ALTER EXTENSION pinpipe UPDATE TO '0.2.0')
--
-- Every schema change of 0.2.0 lands twice: in the install fragments
-- (sql/install/NN_*.sql, which build pinpipe--0.2.0.sql) and here, so that an
-- updated 0.1.0 database ends up identical to a fresh 0.2.0 install (the upgrade
-- test compares their catalogs). Keep the sections in the order of the fragments.
\echo Use "ALTER EXTENSION pinpipe UPDATE TO '0.2.0'" to load this file. \quit

-- ---- Kafka offset gaps and reset_offsets (issue 8 items 3 and 4; fragments 30_workers, 35_kafka_gaps)
-- consumer_partitions() gains the paused column: its row type changes, so it and its view are recreated.
DROP VIEW pinpipe.consumer_partition_status;
DROP FUNCTION pinpipe.consumer_partitions();
CREATE FUNCTION pinpipe.consumer_partitions(
    OUT worker integer,          -- the consumer's number
    OUT pid integer,
    OUT topic text,
    OUT "partition" integer,
    OUT committed_offset bigint, -- next offset to read, as committed in PostgreSQL (NULL: none yet)
    OUT high_watermark bigint,   -- end of the partition as last seen from the broker
    OUT lag bigint,
    OUT paused boolean           -- stopped by pinpipe.offset_out_of_range = pause (docs/kafka.md)
) RETURNS SETOF record
LANGUAGE c VOLATILE STRICT
AS 'MODULE_PATHNAME', 'pinpipe_consumer_partitions';
COMMENT ON FUNCTION pinpipe.consumer_partitions() IS 'Per assigned partition: committed offset, high watermark and lag.';
CREATE VIEW pinpipe.consumer_partition_status AS
    SELECT * FROM pinpipe.consumer_partitions();
REVOKE ALL ON FUNCTION pinpipe.consumer_partitions() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pinpipe.consumer_partitions() TO pg_monitor;
GRANT SELECT ON pinpipe.consumer_partition_status TO pg_monitor;
-- Every range of offsets a consumer did not read: a stored offset outside the
-- partition's log (retention passed it, or the topic was re-created), or an
-- operator's reset_offsets that skipped forward. Written in the same
-- transaction as the offset jump over the range.
CREATE TABLE pinpipe.kafka_gaps (
    consumer_group text        NOT NULL,
    topic          text        NOT NULL,
    "partition"    integer     NOT NULL,
    from_offset    bigint      NOT NULL,  -- the stored offset that was out of range
    to_offset      bigint      NOT NULL,  -- where reading went on (exclusive end of the range)
    skipped        bigint      NOT NULL,  -- messages of the current log that were not read
    reason         text        NOT NULL CHECK (reason IN ('log_start_passed', 'log_end_passed', 'reset_offsets')),
    detected_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX kafka_gaps_partition ON pinpipe.kafka_gaps (consumer_group, topic, "partition", detected_at);
COMMENT ON TABLE pinpipe.kafka_gaps IS 'Kafka offset ranges the consumers skipped (log start passed, log re-created, reset_offsets); to_offset is exclusive; to_offset < from_offset means the log was re-created.';
SELECT pg_catalog.pg_extension_config_dump('pinpipe.kafka_gaps', '');

-- Replay or skip: move the stored offsets of a consumer group, by offset or by
-- the broker's offsets-for-times. Running consumers follow within a second.
CREATE FUNCTION pinpipe.reset_offsets(
    topic text,
    to_offset bigint DEFAULT NULL,
    to_timestamp timestamptz DEFAULT NULL,
    "partition" integer DEFAULT NULL,
    consumer_group text DEFAULT pg_catalog.current_setting('pinpipe.consumer_group')
) RETURNS TABLE (partition_id integer, previous_offset bigint, next_offset bigint)
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'pinpipe_reset_offsets';
COMMENT ON FUNCTION pinpipe.reset_offsets(text, bigint, timestamptz, integer, text) IS 'Move the stored Kafka offsets of a consumer group (all partitions of the topic, or one) to an offset or to the first message at or after a time; resumes paused partitions.';
REVOKE ALL ON FUNCTION pinpipe.reset_offsets(text, bigint, timestamptz, integer, text) FROM PUBLIC;

-- ---- restore: dump/restore of the batch layer; the watermark kept with its cluster
-- (docs/batch.md "The watermark across clusters", "Backup, restore and upgrade").
-- Existing raw rows and the existing watermark belong to this cluster: the new
-- columns' default says so (evaluated once, no table rewrite).
CREATE FUNCTION pinpipe.system_identifier() RETURNS bigint
    AS 'MODULE_PATHNAME', 'pinpipe_system_identifier'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pinpipe.system_identifier() IS 'The system identifier of this cluster (pg_control_system()), kept with every transaction id the batch layer compares';
ALTER TABLE pinpipe.raw_pins
    ADD COLUMN xact_cluster bigint NOT NULL DEFAULT pinpipe.system_identifier();
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('pinpipe.dead_letters', 'id')::regclass, '');

-- The archive's key moves from the parent to each partition.
ALTER TABLE pinpipe_archive.pins DROP CONSTRAINT pins_pkey;
DO $$
DECLARE
    part regclass;
BEGIN
    FOR part IN SELECT i.inhrelid::regclass FROM pg_catalog.pg_inherits i
                 WHERE i.inhparent = 'pinpipe_archive.pins'::regclass LOOP
        EXECUTE pg_catalog.format('ALTER TABLE %s ADD PRIMARY KEY (unique_id, day)', part);
    END LOOP;
END
$$;

ALTER TABLE pinpipe.batch_state
    ADD COLUMN watermark_cluster bigint NOT NULL DEFAULT pinpipe.system_identifier();
COMMENT ON TABLE pinpipe.batch_state IS 'Batch layer state: the watermark (raw rows of cluster watermark_cluster with xact_id below it are archived) and the retention setting';

CREATE FUNCTION pinpipe.batch_state_replace() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM pinpipe.batch_state;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION pinpipe.batch_state_replace() IS 'Trigger: an INSERT into pinpipe.batch_state (a restore) replaces the single state row';
REVOKE ALL ON FUNCTION pinpipe.batch_state_replace() FROM PUBLIC;
CREATE TRIGGER batch_state_replace BEFORE INSERT ON pinpipe.batch_state
    FOR EACH ROW EXECUTE FUNCTION pinpipe.batch_state_replace();

CREATE TABLE pinpipe.batch_watermarks (
    xact_cluster bigint PRIMARY KEY,
    watermark    xid8   NOT NULL
);
COMMENT ON TABLE pinpipe.batch_watermarks IS 'Batch layer: for raw rows written in another cluster (restored here), the watermark below which they are archived';
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('pinpipe.batch_runs', 'id')::regclass, '');
SELECT pg_catalog.pg_extension_config_dump('pinpipe.batch_watermarks', '');

CREATE FUNCTION pinpipe.foreign_raw_pins(except_cluster bigint, with_payload boolean,
        OUT id bigint, OUT received_at timestamptz, OUT xact_cluster bigint, OUT xact_id xid8,
        OUT payload text)
    RETURNS SETOF record
    LANGUAGE plpgsql STABLE ROWS 1 SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY
    SELECT r.id, r.received_at, r.xact_cluster, r.xact_id, CASE WHEN with_payload THEN r.payload END
      FROM pinpipe.raw_pins r
     WHERE r.xact_cluster <> except_cluster
       AND r.xact_id >= coalesce((SELECT w.watermark FROM pinpipe.batch_watermarks w
                                   WHERE w.xact_cluster = r.xact_cluster), '0');
END
$$;
COMMENT ON FUNCTION pinpipe.foreign_raw_pins(bigint, boolean) IS 'Internal: raw events written in other clusters (restored here) and not archived yet';

-- Raw rows not archived yet (the rule above, stated once: the serving views,
-- batch_status and retention read it). The first branch is an index range on
-- raw_pins_xact_id; the second runs only while the state comes from another
-- cluster (after a logical restore there, until the first run_batch).
CREATE VIEW pinpipe.pending_raw_pins AS
SELECT r.id, r.received_at, r.xact_cluster, r.xact_id
  FROM pinpipe.raw_pins r
 WHERE r.xact_id >= (SELECT s.watermark FROM pinpipe.batch_state s)
   AND r.xact_cluster = (SELECT s.watermark_cluster FROM pinpipe.batch_state s)
UNION ALL
SELECT f.id, f.received_at, f.xact_cluster, f.xact_id
  FROM pinpipe.foreign_raw_pins((SELECT s.watermark_cluster FROM pinpipe.batch_state s), false) f
 WHERE (SELECT s.watermark_cluster <> pinpipe.system_identifier() FROM pinpipe.batch_state s);
COMMENT ON VIEW pinpipe.pending_raw_pins IS 'Raw events the batch layer has not archived yet (newer than the watermark of their cluster)';

-- The raw rows a run archives: this cluster's with lo <= xact_id < hi and, when
-- settle is set (a full run, or the first run after a restore from another
-- cluster), every row of another cluster not archived yet (all of those
-- transactions finished before the dump). Inlined into its callers.
CREATE FUNCTION pinpipe.batch_raw_rows(xact_cluster bigint, lo xid8, hi xid8, settle boolean,
        OUT id bigint, OUT received_at timestamptz, OUT payload text)
    RETURNS SETOF record
    LANGUAGE sql STABLE
AS $$
SELECT r.id, r.received_at, r.payload
  FROM pinpipe.raw_pins r
 WHERE r.xact_cluster = $1 AND r.xact_id >= $2 AND r.xact_id < $3
UNION ALL
SELECT f.id, f.received_at, f.payload
  FROM pinpipe.foreign_raw_pins($1, true) f
 WHERE $4
$$;
COMMENT ON FUNCTION pinpipe.batch_raw_rows(bigint, xid8, xid8, boolean) IS 'Internal to run_batch: the raw events a run archives';
REVOKE ALL ON FUNCTION pinpipe.batch_raw_rows(bigint, xid8, xid8, boolean) FROM PUBLIC;

CREATE OR REPLACE FUNCTION pinpipe.archive_ensure_partition(d date) RETURNS regclass
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    part text := 'pins_' || to_char(d, 'YYYYMMDD');
    rel  regclass := to_regclass(format('pinpipe_archive.%I', part));
BEGIN
    IF rel IS NULL THEN
        EXECUTE format('CREATE TABLE pinpipe_archive.%I PARTITION OF pinpipe_archive.pins (PRIMARY KEY (unique_id, day)) FOR VALUES FROM (%L) TO (%L)',
                       part, d, d + 1);
        rel := format('pinpipe_archive.%I', part)::regclass;
    END IF;
    RETURN rel;
END
$$;

-- (apply_retention, run_batch and batch_status change again in the streams section; they are
-- replaced once, there, with every 0.2.0 change, instead of here and again there.)

-- ---- sink (issue 10.3): one copy of each rule --------------------------------------
-- The cleaned columns become one composite type, pinpipe.cleaned_pin, returned by both
-- clean_pin overloads (same column names and types as before), and the media class
-- moves into C (pinpipe.media_class), used by the batch rollup and the serving view so
-- that they count media exactly as the live category_minute does.

-- The cleaned columns of a pin, in this order: clean_pin's result, and the names of the
-- cleaned part of pinpipe.pins (src/write/pin_datum.c fills them in this order).
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
-- (category_daily, the serving views): one rule, in src/core/clean.c.
CREATE FUNCTION pinpipe.media_class(is_image_or_video text) RETURNS text
    AS 'MODULE_PATHNAME', 'pinpipe_media_class'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pinpipe.media_class(text) IS 'Media class of a cleaned is_image_or_video: image, video, story (any multi-video… value) or other; NULL for NULL, which the counts take as other';

-- batch_apply and the serving views below also carry the sink's media expressions
-- (pinpipe.media_class) beside the restore section's watermark changes.
DROP FUNCTION pinpipe.batch_apply(bigint, boolean, xid8, xid8);
CREATE FUNCTION pinpipe.batch_apply(run_id bigint, full_rebuild boolean, xact_cluster bigint,
        lo xid8, hi xid8, settle boolean,
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
          FROM pinpipe.batch_raw_rows(xact_cluster, lo, hi, settle) r
         CROSS JOIN LATERAL pinpipe.clean_pin(r.payload) cl;
    EXCEPTION WHEN OTHERS THEN
        FOR rec IN SELECT r.id, r.received_at, r.payload
                     FROM pinpipe.batch_raw_rows(xact_cluster, lo, hi, settle) r LOOP
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
COMMENT ON FUNCTION pinpipe.batch_apply(bigint, boolean, bigint, xid8, xid8, boolean) IS 'Internal to run_batch: archive the raw events of batch_raw_rows() and recompute the touched days';
REVOKE ALL ON FUNCTION pinpipe.batch_apply(bigint, boolean, bigint, xid8, xid8, boolean) FROM PUBLIC;


CREATE OR REPLACE VIEW pinpipe.category_daily_stats AS
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


-- ---- streams: geo and user records (issue 11 item 1; fragments 00_schema, 15_streams, 20_ingest, 40_batch, 45_batch_streams)
-- The raw log and the dead letters tell the streams apart; existing rows are pins.
ALTER TABLE pinpipe.raw_pins
    ADD COLUMN stream text NOT NULL DEFAULT 'pin' CHECK (stream IN ('pin', 'geo', 'user'));
ALTER TABLE pinpipe.dead_letters ADD COLUMN stream text NOT NULL DEFAULT 'pin';
ALTER TABLE pinpipe.batch_runs ADD COLUMN geo_written bigint, ADD COLUMN users_written bigint;

-- The other two streams of the 2023 data set (DESIGN §10): geolocation and user
-- records, sharing ind with the pin they belong to. Same machinery as pins: the
-- C cleaning (src/core/clean.c), the one write path (src/write/sink.c), the raw log
-- (raw_pins.stream tells the streams apart), dead letters (dead_letters.stream).

-- The cleaned columns of a geo record, in this order: clean_geo's result and the
-- names of the cleaned part of pinpipe.geo (src/write/pin_datum.c fills them in this order).
CREATE TYPE pinpipe.cleaned_geo AS (
    ind          integer,
    "timestamp"  timestamptz,          -- UTC when the record gives no zone
    latitude     double precision,
    longitude    double precision,
    coordinates  double precision[],   -- {latitude, longitude}
    country      text,
    error_fields text[]
);
COMMENT ON TYPE pinpipe.cleaned_geo IS 'A cleaned geolocation record: the result of clean_geo and the cleaned columns of pinpipe.geo';

CREATE TYPE pinpipe.cleaned_user AS (
    ind          integer,
    first_name   text,
    last_name    text,
    user_name    text,                 -- first_name || ' ' || last_name
    age          integer,
    date_joined  timestamptz,          -- UTC when the record gives no zone
    error_fields text[]
);
COMMENT ON TYPE pinpipe.cleaned_user IS 'A cleaned user record: the result of clean_user and the cleaned columns of pinpipe.users';

CREATE FUNCTION pinpipe.clean_geo(geo jsonb) RETURNS pinpipe.cleaned_geo
    AS 'MODULE_PATHNAME', 'pinpipe_clean_geo'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pinpipe.clean_geo(jsonb) IS 'Validate and clean one geolocation record; structural errors raise with a SQLSTATE naming the field';
CREATE FUNCTION pinpipe.clean_geo(geo text) RETURNS pinpipe.cleaned_geo
    AS 'MODULE_PATHNAME', 'pinpipe_clean_geo_text'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pinpipe.clean_geo(text) IS 'clean_geo over JSON text, e.g. pinpipe.raw_pins.payload';

CREATE FUNCTION pinpipe.clean_user("user" jsonb) RETURNS pinpipe.cleaned_user
    AS 'MODULE_PATHNAME', 'pinpipe_clean_user'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pinpipe.clean_user(jsonb) IS 'Validate and clean one user record; structural errors raise with a SQLSTATE naming the field';
CREATE FUNCTION pinpipe.clean_user("user" text) RETURNS pinpipe.cleaned_user
    AS 'MODULE_PATHNAME', 'pinpipe_clean_user_text'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pinpipe.clean_user(text) IS 'clean_user over JSON text, e.g. pinpipe.raw_pins.payload';

-- Speed layer of the two streams: one cleaned row per accepted message, with the
-- source coordinates of pinpipe.pins (raw_id = raw_pins.id).
CREATE TABLE pinpipe.geo (
    raw_id       bigint      NOT NULL,
    received_at  timestamptz NOT NULL,
    source       text        NOT NULL,
    topic        text,
    "partition"  integer,
    "offset"     bigint,
    ind          integer     NOT NULL,
    "timestamp"  timestamptz,
    latitude     double precision,
    longitude    double precision,
    coordinates  double precision[],
    country      text,
    error_fields text[]      NOT NULL
);
CREATE INDEX geo_received_at_brin ON pinpipe.geo USING brin (received_at);
CREATE INDEX geo_raw_id_brin ON pinpipe.geo USING brin (raw_id);
CREATE INDEX geo_ind ON pinpipe.geo (ind);
COMMENT ON TABLE pinpipe.geo IS 'Speed layer: one cleaned geolocation row per accepted message; error_fields lists the fields that were empty or unparseable.';

CREATE TABLE pinpipe.users (
    raw_id       bigint      NOT NULL,
    received_at  timestamptz NOT NULL,
    source       text        NOT NULL,
    topic        text,
    "partition"  integer,
    "offset"     bigint,
    ind          integer     NOT NULL,
    first_name   text,
    last_name    text,
    user_name    text,
    age          integer     NOT NULL,
    date_joined  timestamptz,
    error_fields text[]      NOT NULL
);
CREATE INDEX users_received_at_brin ON pinpipe.users USING brin (received_at);
CREATE INDEX users_raw_id_brin ON pinpipe.users USING brin (raw_id);
CREATE INDEX users_ind ON pinpipe.users (ind);
COMMENT ON TABLE pinpipe.users IS 'Speed layer: one cleaned user row per accepted message; error_fields lists the fields that were empty or unparseable.';

SELECT pg_catalog.pg_extension_config_dump('pinpipe.geo', '');
SELECT pg_catalog.pg_extension_config_dump('pinpipe.users', '');

-- The same for the other streams (DESIGN §10): stream 'pin', 'geo' or 'user'.
-- Overloads rather than a defaulted parameter, so that ingest(jsonb) and
-- ingest_text(text) stay the functions (and grants) they were.
CREATE FUNCTION pinpipe.ingest(records jsonb, stream text, OUT accepted bigint, OUT dead_lettered bigint)
    RETURNS record
    AS 'MODULE_PATHNAME', 'pinpipe_ingest'
    LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION pinpipe.ingest(jsonb, text) IS 'ingest() for a stream: ''pin'', ''geo'' or ''user'' records (one or an array) into raw_pins and pins, geo or users';
REVOKE ALL ON FUNCTION pinpipe.ingest(jsonb, text) FROM PUBLIC;

CREATE FUNCTION pinpipe.ingest_text(payload text, stream text, OUT accepted bigint, OUT dead_lettered bigint)
    RETURNS record
    AS 'MODULE_PATHNAME', 'pinpipe_ingest_text'
    LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION pinpipe.ingest_text(text, text) IS 'ingest_text() for a stream: ''pin'', ''geo'' or ''user'' records as a JSON array, one record, or NDJSON';
REVOKE ALL ON FUNCTION pinpipe.ingest_text(text, text) FROM PUBLIC;

-- batch_raw_rows gains the stream (default 'pin', so batch_apply is unchanged).
DROP FUNCTION pinpipe.batch_raw_rows(bigint, xid8, xid8, boolean);
-- The raw rows of one stream (raw_pins.stream) a run archives: this cluster's
-- with lo <= xact_id < hi and, when settle is set (a full run, or the first run
-- after a restore from another cluster), every row of another cluster not
-- archived yet (all of those transactions finished before the dump). Inlined
-- into its callers.
CREATE FUNCTION pinpipe.batch_raw_rows(xact_cluster bigint, lo xid8, hi xid8, settle boolean,
        stream text DEFAULT 'pin',
        OUT id bigint, OUT received_at timestamptz, OUT payload text)
    RETURNS SETOF record
    LANGUAGE sql STABLE
AS $$
SELECT r.id, r.received_at, r.payload
  FROM pinpipe.raw_pins r
 WHERE r.xact_cluster = $1 AND r.xact_id >= $2 AND r.xact_id < $3 AND r.stream = $5
UNION ALL
SELECT f.id, f.received_at, f.payload
  FROM pinpipe.foreign_raw_pins($1, true) f
  JOIN pinpipe.raw_pins s ON s.id = f.id AND s.stream = $5
 WHERE $4
$$;
COMMENT ON FUNCTION pinpipe.batch_raw_rows(bigint, xid8, xid8, boolean, text) IS 'Internal to run_batch: the raw events of a stream a run archives';
REVOKE ALL ON FUNCTION pinpipe.batch_raw_rows(bigint, xid8, xid8, boolean, text) FROM PUBLIC;

-- Batch layer of the geo and user streams (DESIGN §10): raw_pins rows of stream
-- 'geo' and 'user' → pinpipe_archive.geo and pinpipe_archive.users, maintained
-- by run_batch in the same transaction, from the same raw-row selection
-- (batch_raw_rows, i.e. the same watermark) as the pins archive.
--
-- Archive semantics, as for pins with ind as the key: one row per ind (the
-- record's id, shared with the pin of the same index: what the analyses join
-- on); the latest event wins, "latest" being the greatest (received_at, raw
-- id); the row carries how many raw events it had and when it was first seen,
-- and lives in the partition of the UTC day of its latest event
-- (geo_YYYYMMDD, users_YYYYMMDD, each with PRIMARY KEY (ind, day)).

-- Only Trino-readable column types here (test: sql/batch_trino_types.sql).
CREATE TABLE pinpipe_archive.geo (
    day               date        NOT NULL,  -- UTC day of the latest event: the partition key
    raw_id            bigint      NOT NULL,  -- raw_pins.id of the latest event
    received_at       timestamptz NOT NULL,  -- of the latest event
    first_received_at timestamptz NOT NULL,  -- of the earliest event
    events            bigint      NOT NULL,  -- raw events carrying this ind
    -- the columns of pinpipe.cleaned_geo, in its order
    ind               integer     NOT NULL,
    "timestamp"       timestamptz,
    latitude          double precision,
    longitude         double precision,
    coordinates       double precision[],
    country           text,
    error_fields      text[]      NOT NULL,
    is_error          boolean     NOT NULL   -- error_fields is not empty
) PARTITION BY RANGE (day);
COMMENT ON TABLE pinpipe_archive.geo IS 'Batch layer: one cleaned geolocation row per ind (latest event wins), partitioned by the UTC day of that event; partitions geo_YYYYMMDD are created by run_batch';

CREATE TABLE pinpipe_archive.users (
    day               date        NOT NULL,
    raw_id            bigint      NOT NULL,
    received_at       timestamptz NOT NULL,
    first_received_at timestamptz NOT NULL,
    events            bigint      NOT NULL,
    -- the columns of pinpipe.cleaned_user, in its order
    ind               integer     NOT NULL,
    first_name        text,
    last_name         text,
    user_name         text,
    age               integer     NOT NULL,
    date_joined       timestamptz,
    error_fields      text[]      NOT NULL,
    is_error          boolean     NOT NULL
) PARTITION BY RANGE (day);
COMMENT ON TABLE pinpipe_archive.users IS 'Batch layer: one cleaned user row per ind (latest event wins), partitioned by the UTC day of that event; partitions users_YYYYMMDD are created by run_batch';

-- Archive one stream ('geo' or 'user') from batch_raw_rows(…, stream): the new
-- events and the archived versions of their inds together, the latest winning.
-- A payload that no longer cleans is recorded in batch_rejects, as for pins.
-- Only called by run_batch, with the batch lock held.
CREATE FUNCTION pinpipe.batch_apply_stream(stream text, run_id bigint, full_rebuild boolean,
        xact_cluster bigint, lo xid8, hi xid8, settle boolean,
        OUT raw_rows bigint, OUT rejected_rows bigint, OUT rows_written bigint)
    RETURNS record
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp SET work_mem = '128MB'
AS $$
DECLARE
    tbl    text;
    fn     text;
    cols   text;
    d      date;
    rec    record;
    rstate text;
    rmsg   text;
BEGIN
    raw_rows := 0; rejected_rows := 0; rows_written := 0;
    CASE stream
        WHEN 'geo' THEN tbl := 'geo'; fn := 'clean_geo';
        WHEN 'user' THEN tbl := 'users'; fn := 'clean_user';
        ELSE RAISE EXCEPTION 'unknown stream "%"', stream USING ERRCODE = 'invalid_parameter_value';
    END CASE;
    IF full_rebuild THEN
        EXECUTE format('TRUNCATE pinpipe_archive.%I', tbl);
    ELSIF NOT EXISTS (SELECT 1 FROM pinpipe.batch_raw_rows(xact_cluster, lo, hi, settle, stream)) THEN
        RETURN;  -- nothing new: no temporary tables for an idle run
    END IF;
    -- the cleaned columns, named by the composite type the clean function returns
    SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO cols
      FROM pg_attribute a
     WHERE a.attrelid = (SELECT t.typrelid FROM pg_type t
                          WHERE t.oid = format('pinpipe.cleaned_%s', stream)::regtype)
       AND a.attnum > 0 AND NOT a.attisdropped;

    -- New events, shaped like the archive (without day).
    EXECUTE format('CREATE TEMP TABLE pp_stream_new ON COMMIT DROP AS
        SELECT NULL::bigint AS raw_id, NULL::timestamptz AS received_at,
               NULL::timestamptz AS first_received_at, NULL::bigint AS events,
               c.*, NULL::boolean AS is_error
          FROM (SELECT (NULL::pinpipe.%I).*) c WITH NO DATA', 'cleaned_' || stream);
    BEGIN
        EXECUTE format('INSERT INTO pp_stream_new
            SELECT r.id, r.received_at, r.received_at, 1, c.*, cardinality(c.error_fields) > 0
              FROM pinpipe.batch_raw_rows($1, $2, $3, $4, $5) r
             CROSS JOIN LATERAL pinpipe.%I(r.payload) c', fn)
            USING xact_cluster, lo, hi, settle, stream;
    EXCEPTION WHEN OTHERS THEN
        -- as for pins: row by row, each reject recorded instead of failing the run
        FOR rec IN SELECT r.id, r.received_at, r.payload
                     FROM pinpipe.batch_raw_rows(xact_cluster, lo, hi, settle, stream) r LOOP
            BEGIN
                EXECUTE format('INSERT INTO pp_stream_new
                    SELECT $1, $2, $2, 1, c.*, cardinality(c.error_fields) > 0
                      FROM pinpipe.%I($3) c', fn)
                    USING rec.id, rec.received_at, rec.payload;
            EXCEPTION WHEN OTHERS THEN
                GET STACKED DIAGNOSTICS rstate = RETURNED_SQLSTATE, rmsg = MESSAGE_TEXT;
                INSERT INTO pinpipe.batch_rejects VALUES (run_id, rec.id, rstate, rmsg);
                rejected_rows := rejected_rows + 1;
            END;
        END LOOP;
    END;
    SELECT count(*) + rejected_rows INTO raw_rows FROM pp_stream_new;
    IF raw_rows = rejected_rows THEN
        DROP TABLE pp_stream_new;
        RETURN;
    END IF;
    ANALYZE pp_stream_new;

    -- Take the archived versions of the touched inds out (they may sit on another day).
    CREATE TEMP TABLE pp_stream_old ON COMMIT DROP AS SELECT * FROM pp_stream_new WITH NO DATA;
    IF NOT full_rebuild THEN
        EXECUTE format('WITH gone AS (DELETE FROM pinpipe_archive.%I a
                                       WHERE a.ind IN (SELECT n.ind FROM pp_stream_new n) RETURNING a.*)
            INSERT INTO pp_stream_old SELECT raw_id, received_at, first_received_at, events, %s, is_error
              FROM gone', tbl, cols);
    END IF;

    -- The latest (received_at, raw id) of each ind wins.
    EXECUTE format('CREATE TEMP TABLE pp_stream_merged ON COMMIT DROP AS
        SELECT DISTINCT ON (ind) (received_at AT TIME ZONE ''UTC'')::date AS day, raw_id, received_at,
               min(first_received_at) OVER w AS first_received_at,
               (sum(events) OVER w)::bigint AS events, %1$s, is_error
          FROM (SELECT raw_id, received_at, first_received_at, events, %1$s, is_error FROM pp_stream_new
                UNION ALL
                SELECT raw_id, received_at, first_received_at, events, %1$s, is_error FROM pp_stream_old) u
        WINDOW w AS (PARTITION BY ind ORDER BY received_at DESC, raw_id DESC
                     ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
         ORDER BY ind, received_at DESC, raw_id DESC', cols);

    FOR d IN SELECT DISTINCT m.day FROM pp_stream_merged m ORDER BY 1 LOOP
        PERFORM pinpipe.archive_ensure_stream_partition(tbl, d);
    END LOOP;
    EXECUTE format('INSERT INTO pinpipe_archive.%I SELECT * FROM pp_stream_merged ORDER BY day, ind', tbl);
    GET DIAGNOSTICS rows_written = ROW_COUNT;

    DROP TABLE pp_stream_new, pp_stream_old, pp_stream_merged;
END
$$;
COMMENT ON FUNCTION pinpipe.batch_apply_stream(text, bigint, boolean, bigint, xid8, xid8, boolean) IS 'Internal to run_batch: archive the geo or user raw events of batch_raw_rows() into pinpipe_archive.geo or .users';
REVOKE ALL ON FUNCTION pinpipe.batch_apply_stream(text, bigint, boolean, bigint, xid8, xid8, boolean) FROM PUBLIC;

-- Create pinpipe_archive.<tbl>_YYYYMMDD for a day unless it exists (lock holder only).
CREATE FUNCTION pinpipe.archive_ensure_stream_partition(tbl text, d date) RETURNS regclass
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    part text := tbl || '_' || to_char(d, 'YYYYMMDD');
    rel  regclass;
BEGIN
    IF tbl NOT IN ('geo', 'users') THEN
        RAISE EXCEPTION 'no archive of stream table "%"', tbl USING ERRCODE = 'invalid_parameter_value';
    END IF;
    rel := to_regclass(format('pinpipe_archive.%I', part));
    IF rel IS NULL THEN
        EXECUTE format('CREATE TABLE pinpipe_archive.%I PARTITION OF pinpipe_archive.%I (PRIMARY KEY (ind, day)) FOR VALUES FROM (%L) TO (%L)',
                       part, tbl, d, d + 1);
        rel := format('pinpipe_archive.%I', part)::regclass;
    END IF;
    RETURN rel;
END
$$;
COMMENT ON FUNCTION pinpipe.archive_ensure_stream_partition(text, date) IS 'Create pinpipe_archive.geo_YYYYMMDD or users_YYYYMMDD for a day if missing (used by run_batch)';
REVOKE ALL ON FUNCTION pinpipe.archive_ensure_stream_partition(text, date) FROM PUBLIC;

-- apply_retention drops the new speed-layer tables' rows too; run_batch archives the streams.
CREATE OR REPLACE FUNCTION pinpipe.apply_retention(days integer DEFAULT NULL,
        OUT raw_deleted bigint, OUT pins_deleted bigint, OUT minutes_deleted bigint)
    RETURNS record
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    st     pinpipe.batch_state;
    cutoff timestamptz;
    tbl    text;
    n      bigint;
BEGIN
    SELECT * INTO st FROM pinpipe.batch_state;
    days := coalesce(days, st.retention_days);
    raw_deleted := 0; pins_deleted := 0; minutes_deleted := 0;
    IF days IS NULL THEN
        RETURN;
    END IF;
    IF days < 1 THEN
        RAISE EXCEPTION 'retention must be at least 1 day, not %', days
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    cutoff := now() - make_interval(days => days);

    -- pins first: their link to the raw row (and its xact_id) goes with it
    DELETE FROM pinpipe.pins p
     USING pinpipe.raw_pins r
     WHERE r.id = p.raw_id
       AND p.received_at < cutoff AND r.received_at < cutoff
       AND NOT EXISTS (SELECT 1 FROM pinpipe.pending_raw_pins q WHERE q.id = r.id);
    GET DIAGNOSTICS pins_deleted = ROW_COUNT;
    -- the geo and user streams' speed-layer rows likewise (counted with the pins)
    FOR tbl IN SELECT unnest(ARRAY['geo', 'users']) LOOP
        EXECUTE format('DELETE FROM pinpipe.%I p USING pinpipe.raw_pins r
                         WHERE r.id = p.raw_id AND p.received_at < $1 AND r.received_at < $1
                           AND NOT EXISTS (SELECT 1 FROM pinpipe.pending_raw_pins q WHERE q.id = r.id)', tbl)
            USING cutoff;
        GET DIAGNOSTICS n = ROW_COUNT;
        pins_deleted := pins_deleted + n;
    END LOOP;

    DELETE FROM pinpipe.raw_pins r
     WHERE r.received_at < cutoff
       AND NOT EXISTS (SELECT 1 FROM pinpipe.pending_raw_pins q WHERE q.id = r.id);
    GET DIAGNOSTICS raw_deleted = ROW_COUNT;

    -- live minutes can go once no unarchived raw row is that old
    DELETE FROM pinpipe.category_minute m
     WHERE m.minute < cutoff
       AND NOT EXISTS (SELECT 1 FROM pinpipe.pending_raw_pins r
                        WHERE r.received_at < m.minute + interval '1 minute');
    GET DIAGNOSTICS minutes_deleted = ROW_COUNT;

    IF raw_deleted > 0 THEN
        UPDATE pinpipe.batch_state
           SET raw_purged_before = greatest(raw_purged_before, cutoff);
    END IF;
END
$$;

CREATE OR REPLACE PROCEDURE pinpipe.run_batch(full boolean DEFAULT false, wait boolean DEFAULT true)
    LANGUAGE plpgsql
AS $$
DECLARE
    -- BATCH_LOCK: pg_advisory_lock key pair ('pinp', 1) held by the running batch
    lock_key1 constant integer := 1886957936;
    lock_key2 constant integer := 1;
    is_full constant boolean := $1;
    run_id  bigint;
    lo      xid8;
    hi      xid8;
    here    bigint;
    settle  boolean;
    st      pinpipe.batch_state;
    res     record;
    geo     record;
    usr     record;
    ret     record;
    failed  boolean := false;
    estate  text;
    emsg    text;
    edetail text;
    ehint   text;
BEGIN
    -- Fail here, before any lock is taken, when called inside a transaction block
    -- (at top level the CALL started the transaction, so the timestamps agree).
    IF pg_catalog.now() <> pg_catalog.statement_timestamp() THEN
        RAISE EXCEPTION 'pinpipe.run_batch() cannot run inside a transaction block'
            USING ERRCODE = 'active_sql_transaction',
                  DETAIL = 'It commits its work in steps, so that a failed run is recorded and the watermark stays put.',
                  HINT = 'CALL it on its own, outside BEGIN ... COMMIT.';
    END IF;
    COMMIT;

    IF wait THEN
        PERFORM pg_advisory_lock(lock_key1, lock_key2);
    ELSIF NOT pg_try_advisory_lock(lock_key1, lock_key2) THEN
        INSERT INTO pinpipe.batch_runs (status, full_rebuild, finished_at)
        VALUES ('skipped', is_full, clock_timestamp());
        COMMIT;
        RETURN;
    END IF;

    -- Record the run (committed now, so a failure or a crash leaves a trace).
    BEGIN
        UPDATE pinpipe.batch_runs
           SET status = 'aborted', finished_at = clock_timestamp(),
               error = 'the session running this batch ended before it finished'
         WHERE status = 'running';
        INSERT INTO pinpipe.batch_runs (status, full_rebuild)
        VALUES ('running', is_full) RETURNING id INTO run_id;
    EXCEPTION WHEN OTHERS OR query_canceled THEN
        PERFORM pg_advisory_unlock(lock_key1, lock_key2);
        RAISE;
    END;
    COMMIT;

    BEGIN
        -- First statement of this transaction, before it has an xid of its own.
        hi := pg_snapshot_xmin(pg_current_snapshot());
        here := pinpipe.system_identifier();
        SELECT * INTO st FROM pinpipe.batch_state;
        -- Rows of other clusters are taken in full runs and in the first run
        -- after the state came here from another cluster (a logical restore).
        settle := is_full OR st.watermark_cluster <> here;
        IF is_full THEN
            IF st.raw_purged_before IS NOT NULL THEN
                RAISE EXCEPTION 'a full rebuild would lose archived pins'
                    USING ERRCODE = 'object_not_in_prerequisite_state',
                          DETAIL = format('Retention deleted raw events received before %s; the archive is the only copy of them.', st.raw_purged_before),
                          HINT = 'Run incremental batches only, or restore the raw log first.';
            END IF;
            DELETE FROM pinpipe.batch_watermarks;
            lo := '0';
        ELSIF settle THEN
            -- The watermark orders the other cluster's rows: file it under that
            -- cluster; this cluster's rows start from its own entry (rows written
            -- here before the data went away and came back) or from the start.
            INSERT INTO pinpipe.batch_watermarks AS w (xact_cluster, watermark)
            VALUES (st.watermark_cluster, st.watermark)
            ON CONFLICT (xact_cluster) DO UPDATE SET watermark = greatest(w.watermark, excluded.watermark);
            DELETE FROM pinpipe.batch_watermarks w WHERE w.xact_cluster = here RETURNING w.watermark INTO lo;
            lo := coalesce(lo, '0');
        ELSE
            lo := st.watermark;
        END IF;
        hi := greatest(hi, lo);

        IF is_full OR EXISTS (SELECT 1 FROM pinpipe.batch_raw_rows(here, lo, hi, settle)) THEN
            SELECT * INTO res FROM pinpipe.batch_apply(run_id, is_full, here, lo, hi, settle);
        ELSE
            SELECT 0::bigint AS raw_rows, 0::bigint AS rejected_rows, 0::bigint AS pins_written,
                   0 AS days_recomputed INTO res;
        END IF;
        -- The geo and user streams (45_batch_streams.sql), from the same raw rows.
        SELECT * INTO geo FROM pinpipe.batch_apply_stream('geo', run_id, is_full, here, lo, hi, settle);
        SELECT * INTO usr FROM pinpipe.batch_apply_stream('user', run_id, is_full, here, lo, hi, settle);

        IF settle THEN
            -- Every row of another cluster is archived now: its cluster's
            -- watermark goes above it (no new rows of that cluster can appear here).
            INSERT INTO pinpipe.batch_watermarks AS w (xact_cluster, watermark)
            SELECT r.xact_cluster, (max(r.xact_id::text::numeric) + 1)::text::xid8
              FROM pinpipe.raw_pins r
             WHERE r.xact_cluster <> here
             GROUP BY r.xact_cluster
            ON CONFLICT (xact_cluster) DO UPDATE SET watermark = greatest(w.watermark, excluded.watermark);
        END IF;

        UPDATE pinpipe.batch_state
           SET watermark = hi, watermark_cluster = here, last_run_id = run_id,
               watermark_moved_at = CASE WHEN hi <> watermark OR here <> watermark_cluster
                                         THEN clock_timestamp() ELSE watermark_moved_at END;

        SELECT * INTO ret FROM pinpipe.apply_retention();

        UPDATE pinpipe.batch_runs
           SET status = 'succeeded', finished_at = clock_timestamp(),
               watermark_from = lo, watermark_to = hi,
               raw_rows = res.raw_rows + geo.raw_rows + usr.raw_rows,
               rejected_rows = res.rejected_rows + geo.rejected_rows + usr.rejected_rows,
               pins_written = res.pins_written, days_recomputed = res.days_recomputed,
               geo_written = geo.rows_written, users_written = usr.rows_written,
               retention_deleted = ret.raw_deleted + ret.pins_deleted + ret.minutes_deleted
         WHERE id = run_id;
    EXCEPTION WHEN OTHERS OR query_canceled THEN
        -- Everything above is rolled back (the watermark stays); keep the why.
        GET STACKED DIAGNOSTICS estate = RETURNED_SQLSTATE, emsg = MESSAGE_TEXT,
                                edetail = PG_EXCEPTION_DETAIL, ehint = PG_EXCEPTION_HINT;
        failed := true;
        UPDATE pinpipe.batch_runs
           SET status = 'failed', finished_at = clock_timestamp(),
               watermark_from = lo, error = emsg, sqlstate = estate
         WHERE id = run_id;
    END;

    PERFORM pg_advisory_unlock(lock_key1, lock_key2);
    COMMIT;

    IF failed THEN
        RAISE EXCEPTION USING ERRCODE = estate, MESSAGE = emsg,
            DETAIL = coalesce(nullif(edetail, ''), format('Batch run %s failed; the watermark was not moved.', run_id)),
            HINT = coalesce(nullif(ehint, ''), 'See pinpipe.batch_runs.');
    END IF;
END
$$;

-- Its lateral SELECT * picks up batch_runs' new columns, as in a fresh install.
CREATE OR REPLACE VIEW pinpipe.batch_status AS
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

-- ---- analyses: serving views of the 2023 data set's questions (issue 11 item 4; fragment 55_analyses)
CREATE FUNCTION pinpipe.age_group(age integer) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT CASE
               WHEN age BETWEEN 18 AND 24 THEN '18-24'
               WHEN age BETWEEN 25 AND 35 THEN '25-35'
               WHEN age BETWEEN 36 AND 50 THEN '36-50'
               WHEN age > 50 THEN '+50'
           END
$$;
COMMENT ON FUNCTION pinpipe.age_group(integer) IS 'Age group of the analyses: 18-24, 25-35, 36-50, +50 (over 50); NULL under 18';

CREATE VIEW pinpipe.popular_category_by_country AS
WITH counts AS (
    SELECT g.country, p.category, count(*) AS category_count
      FROM pinpipe_archive.pins p
      JOIN pinpipe_archive.geo g ON g.ind = p.ind
     WHERE g.country IS NOT NULL AND p.category IS NOT NULL
     GROUP BY g.country, p.category),
ranked AS (
    SELECT c.*, rank() OVER (PARTITION BY c.country ORDER BY c.category_count DESC) AS r
      FROM counts c)
SELECT ranked.country, ranked.category, ranked.category_count
  FROM ranked
 WHERE ranked.r = 1;
COMMENT ON VIEW pinpipe.popular_category_by_country IS 'Analyses: the most posted category per country (pins joined to geo on ind; ties all kept)';

CREATE VIEW pinpipe.popular_category_by_year AS
WITH counts AS (
    SELECT extract(year FROM g."timestamp" AT TIME ZONE 'UTC')::integer AS post_year,
           p.category, count(*) AS category_count
      FROM pinpipe_archive.pins p
      JOIN pinpipe_archive.geo g ON g.ind = p.ind
     WHERE p.category IS NOT NULL
       AND extract(year FROM g."timestamp" AT TIME ZONE 'UTC') BETWEEN 2018 AND 2022
     GROUP BY 1, 2),
ranked AS (
    SELECT c.*, rank() OVER (PARTITION BY c.post_year ORDER BY c.category_count DESC) AS r
      FROM counts c)
SELECT ranked.post_year, ranked.category, ranked.category_count
  FROM ranked
 WHERE ranked.r = 1;
COMMENT ON VIEW pinpipe.popular_category_by_year IS 'Analyses: the most posted category per UTC year of the geo timestamp, 2018-2022 (ties all kept)';

CREATE VIEW pinpipe.top_user_by_country AS
WITH per_user AS (
    SELECT g.country, p.poster_name, max(p.follower_count) AS follower_count
      FROM pinpipe_archive.pins p
      JOIN pinpipe_archive.geo g ON g.ind = p.ind
     WHERE g.country IS NOT NULL AND p.poster_name IS NOT NULL AND p.follower_count IS NOT NULL
     GROUP BY g.country, p.poster_name),
ranked AS (
    SELECT u.*, rank() OVER (PARTITION BY u.country ORDER BY u.follower_count DESC) AS r
      FROM per_user u)
SELECT ranked.country, ranked.poster_name, ranked.follower_count
  FROM ranked
 WHERE ranked.r = 1;
COMMENT ON VIEW pinpipe.top_user_by_country IS 'Analyses: per country the poster with most followers (greatest follower_count of their pins there; ties all kept)';

CREATE VIEW pinpipe.popular_category_by_age_group AS
WITH counts AS (
    SELECT pinpipe.age_group(u.age) AS age_group, p.category, count(*) AS category_count
      FROM pinpipe_archive.pins p
      JOIN pinpipe_archive.users u ON u.ind = p.ind
     WHERE p.category IS NOT NULL AND pinpipe.age_group(u.age) IS NOT NULL
     GROUP BY 1, 2),
ranked AS (
    SELECT c.*, rank() OVER (PARTITION BY c.age_group ORDER BY c.category_count DESC) AS r
      FROM counts c)
SELECT ranked.age_group, ranked.category, ranked.category_count
  FROM ranked
 WHERE ranked.r = 1;
COMMENT ON VIEW pinpipe.popular_category_by_age_group IS 'Analyses: the most posted category per age group of the user record (ties all kept)';

CREATE VIEW pinpipe.median_followers_by_age_group AS
SELECT pinpipe.age_group(u.age) AS age_group,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY p.follower_count) AS median_follower_count
  FROM pinpipe_archive.pins p
  JOIN pinpipe_archive.users u ON u.ind = p.ind
 WHERE p.follower_count IS NOT NULL AND pinpipe.age_group(u.age) IS NOT NULL
 GROUP BY 1;
COMMENT ON VIEW pinpipe.median_followers_by_age_group IS 'Analyses: median follower_count (percentile_cont 0.5) of the pins per age group of their user record';

CREATE VIEW pinpipe.median_followers_by_join_year AS
SELECT extract(year FROM u.date_joined AT TIME ZONE 'UTC')::integer AS join_year,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY p.follower_count) AS median_follower_count
  FROM pinpipe_archive.pins p
  JOIN pinpipe_archive.users u ON u.ind = p.ind
 WHERE p.follower_count IS NOT NULL
   AND extract(year FROM u.date_joined AT TIME ZONE 'UTC') BETWEEN 2015 AND 2020
 GROUP BY 1;
COMMENT ON VIEW pinpipe.median_followers_by_join_year IS 'Analyses: median follower_count (percentile_cont 0.5) of the pins per UTC year their user joined, 2015-2020';

CREATE VIEW pinpipe.median_followers_by_join_year_age_group AS
SELECT pinpipe.age_group(u.age) AS age_group,
       extract(year FROM u.date_joined AT TIME ZONE 'UTC')::integer AS join_year,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY p.follower_count) AS median_follower_count
  FROM pinpipe_archive.pins p
  JOIN pinpipe_archive.users u ON u.ind = p.ind
 WHERE p.follower_count IS NOT NULL AND pinpipe.age_group(u.age) IS NOT NULL
   AND extract(year FROM u.date_joined AT TIME ZONE 'UTC') BETWEEN 2015 AND 2020
 GROUP BY 1, 2;
COMMENT ON VIEW pinpipe.median_followers_by_join_year_age_group IS 'Analyses: median follower_count (percentile_cont 0.5) of the pins per age group and UTC joining year (2015-2020) of their user';

-- A user is a person, not a record: the data set repeats a user's record (same
-- name, same date_joined) under every ind they posted with, so users are counted
-- by distinct (user_name, date_joined); a record without user_name is not counted.
CREATE VIEW pinpipe.users_joined_by_year AS
SELECT d.join_year, count(*) AS number_users_joined
  FROM (SELECT DISTINCT extract(year FROM u.date_joined AT TIME ZONE 'UTC')::integer AS join_year,
               u.user_name, u.date_joined
          FROM pinpipe_archive.users u
         WHERE u.user_name IS NOT NULL
           AND extract(year FROM u.date_joined AT TIME ZONE 'UTC') BETWEEN 2015 AND 2020) d
 GROUP BY d.join_year;
COMMENT ON VIEW pinpipe.users_joined_by_year IS 'Analyses: users (distinct user_name and date_joined) per UTC joining year, 2015-2020';

-- ---- ingest lag (issue 12 item 3; fragment 30_workers)
-- status() gains ingest_lag_seconds and pinpipe.workers shows it: the row type
-- changes, so the function and its view are recreated, with their grants.
DROP VIEW pinpipe.workers;
DROP FUNCTION pinpipe.status();
CREATE FUNCTION pinpipe.status(
    OUT kind text,            -- consumer | http
    OUT number integer,       -- 0.. within its kind
    OUT pid integer,
    OUT state text,           -- e.g. consuming, broker unreachable, waiting for extension, retrying batch
    OUT rows bigint,          -- messages accepted
    OUT dead_letters bigint,  -- messages dead-lettered
    OUT batches bigint,       -- transactions committed
    OUT errors bigint,        -- failed batch attempts (rolled back and retried)
    OUT last_error text,
    OUT last_error_at timestamptz,
    OUT started_at timestamptz,
    OUT topic text,           -- consumers: the topic
    OUT partitions integer,   -- consumers: partitions assigned
    OUT lag bigint,           -- consumers: messages behind the high watermarks (NULL if unknown)
    OUT batch_messages bigint, -- messages in committed batches (accepted + dead-lettered)
    OUT ingest_lag_seconds double precision -- latest ingest lag: commit time minus the HTTP request's arrival / the batch's oldest Kafka timestamp (NULL before the first)
) RETURNS SETOF record
LANGUAGE c VOLATILE STRICT
AS 'MODULE_PATHNAME', 'pinpipe_status';
COMMENT ON FUNCTION pinpipe.status() IS 'Every pinpipe background worker: state, counters, last error, consumer lag.';

CREATE VIEW pinpipe.workers AS
    SELECT kind, number, pid, state, rows, dead_letters, batches, errors,
           last_error, last_error_at, started_at, topic, partitions, lag, ingest_lag_seconds
      FROM pinpipe.status();
COMMENT ON VIEW pinpipe.workers IS 'Every pinpipe background worker: state, counters, last error, consumer lag.';
REVOKE ALL ON FUNCTION pinpipe.status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pinpipe.status() TO pg_monitor;
GRANT SELECT ON pinpipe.workers TO pg_monitor;
