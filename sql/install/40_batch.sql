-- Batch layer (DESIGN §1, §4, §5): the raw log → the deduplicated, day-partitioned
-- archive pinpipe_archive.pins and its daily rollups pinpipe_archive.category_daily.
--
-- The watermark. raw_pins.xact_id is the writing transaction. A row whose
-- xact_id is below pg_snapshot_xmin(pg_current_snapshot()) belongs to a transaction
-- that has finished, so it is either visible to every later snapshot or never
-- will be: a batch run takes the rows with watermark <= xact_id < that xmin and
-- then moves the watermark to the xmin. Every accepted row is archived exactly
-- once, whatever order transactions commit in; timestamps and sequence ids,
-- which race with in-flight transactions, are never used for this.
--
-- Transaction ids only order transactions of one cluster, so every one is kept
-- with its cluster's system identifier (raw_pins.xact_cluster, batch_state.
-- watermark_cluster; xid8 already carries the epoch). A raw row is archived iff
--   xact_cluster = watermark_cluster AND xact_id < watermark, or
--   xact_cluster <> watermark_cluster AND xact_id < batch_watermarks' entry of its
--   cluster (none: nothing archived).
-- A logical restore into another cluster brings the rows and the state as they
-- were; the first run there files the old cluster's watermark under
-- batch_watermarks, archives every foreign row not archived yet (all of them
-- finished before the dump), records for each foreign cluster a watermark above
-- its rows, and from then on moves the watermark of the new cluster. Rows of the
-- old cluster are thus all below their watermark and the new cluster's rows all
-- above theirs, whatever the two counters say (docs/batch.md).
--
-- Locking. run_batch holds a session-level advisory lock (BATCH_LOCK below) from
-- before it records its run until after its last commit; the second caller waits
-- for it (or, with wait => false, records a 'skipped' run and returns at once).
-- Only the lock holder writes pinpipe_archive, batch_state and 'running' rows.
--
-- Archive semantics (docs/batch.md). One row per unique_id: the latest event
-- wins, "latest" being the greatest (received_at, raw id) of its raw events;
-- the row carries how many raw events the pin had and when it was first seen,
-- and lives in the partition of the day (UTC) of its latest event. The rollups
-- are recomputed from the archive for every day a run touched, never
-- incremented, so a late event (an old day) or a replayed one cannot skew them.

CREATE SCHEMA pinpipe_archive;
COMMENT ON SCHEMA pinpipe_archive IS 'Batch layer: deduplicated archive of pins and daily rollups (read by Trino''s PostgreSQL connector)';

-- Only Trino-readable column types here (test: sql/batch_trino_types.sql).
CREATE TABLE pinpipe_archive.pins (
    day               date        NOT NULL,  -- UTC day of the latest event: the partition key
    unique_id         uuid        NOT NULL,
    raw_id            bigint      NOT NULL,  -- raw_pins.id of the latest event
    received_at       timestamptz NOT NULL,  -- of the latest event
    first_received_at timestamptz NOT NULL,  -- of the earliest event
    events            bigint      NOT NULL,  -- raw events carrying this unique_id
    ind               integer     NOT NULL,
    title             text,
    description       text,
    poster_name       text,
    follower_count    bigint,
    tag_list          text[],
    is_image_or_video text,
    image_src         text,
    downloaded        integer     NOT NULL,
    save_location     text,
    category          text,
    error_fields      text[]      NOT NULL,
    is_error          boolean     NOT NULL   -- error_fields is not empty
    -- No key on the parent: each partition gets PRIMARY KEY (unique_id, day) from
    -- archive_ensure_partition. The partitions are not extension members, so
    -- pg_dump dumps them with their keys; a key on the (never dumped) parent would
    -- make ATTACH PARTITION create a second one during the restore.
) PARTITION BY RANGE (day);
COMMENT ON TABLE pinpipe_archive.pins IS 'Batch layer: one cleaned row per unique_id (latest event wins), partitioned by the UTC day of that event; partitions pins_YYYYMMDD are created by run_batch';

CREATE TABLE pinpipe_archive.category_daily (
    day               date             NOT NULL,
    category          text             NOT NULL,  -- '(none)' when the pin has no category
    posts             bigint           NOT NULL,  -- raw events behind the day's pins (resends included)
    distinct_pins     bigint           NOT NULL,  -- archived pins whose latest event is on this day
    error_pins        bigint           NOT NULL,  -- of those, pins with a non-empty error_fields
    follower_known    bigint           NOT NULL,  -- pins with a known follower_count
    follower_sum      bigint,
    follower_avg      double precision,
    follower_max      bigint,
    follower_p50      bigint,
    follower_p90      bigint,
    image_pins        bigint           NOT NULL,
    video_pins        bigint           NOT NULL,
    story_pins        bigint           NOT NULL,  -- multi-video(story page format)
    other_media_pins  bigint           NOT NULL,
    downloaded_pins   bigint           NOT NULL,
    top_tags          text[]           NOT NULL,  -- the 10 most used tags, most used first (ties: by name)
    computed_at       timestamptz      NOT NULL,
    PRIMARY KEY (day, category)
);
COMMENT ON TABLE pinpipe_archive.category_daily IS 'Batch layer: per-day, per-category rollup of pinpipe_archive.pins, recomputed for every day a batch run touches';

-- Where each archived pin lives: one probe finds a pin's partition (the archive's
-- primary key has to include the partition key, so it cannot answer that alone).
-- Written only by run_batch, in the same transaction as the archive.
CREATE TABLE pinpipe.archive_pin_days (
    unique_id uuid PRIMARY KEY,
    day       date NOT NULL
);
COMMENT ON TABLE pinpipe.archive_pin_days IS 'The day partition of every pin in pinpipe_archive.pins (maintained by run_batch)';

-- Batch state: a single row.
CREATE TABLE pinpipe.batch_state (
    singleton         boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    -- every raw_pins row with xact_id < watermark is in the archive
    watermark         xid8        NOT NULL DEFAULT '0',
    watermark_moved_at timestamptz,
    last_run_id       bigint,
    -- retention setting: raw log and speed layer rows older than this many days are
    -- dropped by each successful run once archived; NULL keeps them forever
    retention_days    integer     CHECK (retention_days IS NULL OR retention_days >= 1),
    -- set once retention has deleted raw rows: a full rebuild is then refused
    raw_purged_before timestamptz,
    -- the cluster (system identifier) whose transaction ids the watermark orders
    watermark_cluster bigint      NOT NULL DEFAULT pinpipe.system_identifier()
);
COMMENT ON TABLE pinpipe.batch_state IS 'Batch layer state: the watermark (raw rows of cluster watermark_cluster with xact_id below it are archived) and the retention setting';

-- The row is dumped (pg_extension_config_dump) and CREATE EXTENSION seeds one
-- before a restore loads it: an inserted row replaces the existing one, so a
-- restore (COPY) brings back the dumped state instead of failing on the key.
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
INSERT INTO pinpipe.batch_state DEFAULT VALUES;

-- Watermarks of other clusters: raw rows written in cluster xact_cluster (before
-- a logical restore brought them here) with xact_id < watermark are archived.
CREATE TABLE pinpipe.batch_watermarks (
    xact_cluster bigint PRIMARY KEY,
    watermark    xid8   NOT NULL
);
COMMENT ON TABLE pinpipe.batch_watermarks IS 'Batch layer: for raw rows written in another cluster (restored here), the watermark below which they are archived';

-- Raw rows of clusters other than except_cluster that are not archived yet
-- (payload only when asked for). A function, not a subquery, so that the plans
-- that include it only when the state came from another cluster are costed
-- without a scan of the raw log (which would make every serving query JIT-compile).
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

CREATE TABLE pinpipe.batch_runs (
    id                bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at       timestamptz,
    status            text        NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'skipped', 'aborted')),
    full_rebuild      boolean     NOT NULL,
    watermark_from    xid8,
    watermark_to      xid8,
    raw_rows          bigint,     -- raw events read
    rejected_rows     bigint,     -- raw events that no longer clean (pinpipe.batch_rejects)
    pins_written      bigint,     -- archive rows inserted or replaced
    days_recomputed   integer,    -- category_daily days recomputed
    retention_deleted bigint,     -- raw + speed-layer rows dropped by retention
    error             text,
    sqlstate          text,
    pid               integer     NOT NULL DEFAULT pg_backend_pid(),
    geo_written       bigint,     -- pinpipe_archive.geo rows inserted or replaced
    users_written     bigint      -- pinpipe_archive.users rows inserted or replaced
);
COMMENT ON TABLE pinpipe.batch_runs IS 'One row per run_batch call: running, succeeded, failed (error, sqlstate), skipped (another run held the lock, wait => false) or aborted (the session died)';

-- Raw events the current cleaning rules reject (recorded, skipped, never fatal).
CREATE TABLE pinpipe.batch_rejects (
    run_id   bigint NOT NULL,
    raw_id   bigint NOT NULL,
    sqlstate text   NOT NULL,
    error    text   NOT NULL,
    PRIMARY KEY (run_id, raw_id)
);
COMMENT ON TABLE pinpipe.batch_rejects IS 'Raw events that raised in clean_pin during a batch run; skipped, not archived';

-- Incremental runs find their rows through this index (no BRIN opclass exists for
-- xid8); one writing transaction gives many equal keys, which btree deduplicates.
CREATE INDEX raw_pins_xact_id ON pinpipe.raw_pins (xact_id);
-- The serving views find the speed-layer rows newer than the watermark by raw id.
CREATE INDEX pins_raw_id_brin ON pinpipe.pins USING brin (raw_id);

SELECT pg_catalog.pg_extension_config_dump('pinpipe.batch_state', '');
SELECT pg_catalog.pg_extension_config_dump('pinpipe.batch_runs', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('pinpipe.batch_runs', 'id')::regclass, '');
SELECT pg_catalog.pg_extension_config_dump('pinpipe.batch_watermarks', '');
SELECT pg_catalog.pg_extension_config_dump('pinpipe.batch_rejects', '');
SELECT pg_catalog.pg_extension_config_dump('pinpipe.archive_pin_days', '');
SELECT pg_catalog.pg_extension_config_dump('pinpipe_archive.category_daily', '');

-- Create the archive partition for one day unless it exists (lock holder only).
CREATE FUNCTION pinpipe.archive_ensure_partition(d date) RETURNS regclass
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
COMMENT ON FUNCTION pinpipe.archive_ensure_partition(date) IS 'Create pinpipe_archive.pins_YYYYMMDD for a day if missing (used by run_batch)';

-- Drop raw-log and speed-layer rows older than days (default: the retention
-- setting), but only rows already in the archive (not in pending_raw_pins).
CREATE FUNCTION pinpipe.apply_retention(days integer DEFAULT NULL,
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
COMMENT ON FUNCTION pinpipe.apply_retention(integer) IS 'Delete archived raw-log, speed-layer and live-minute rows older than N days (default: batch_state.retention_days); run_batch calls it after each successful run';
REVOKE ALL ON FUNCTION pinpipe.apply_retention(integer) FROM PUBLIC;

-- The work of one run, in the caller's transaction (run_batch wraps it): the raw
-- rows of batch_raw_rows(xact_cluster, lo, hi, settle). Returns the counters for
-- batch_runs. Only called with the batch lock held.
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

-- The batch layer's one entry point. Must be CALLed outside an explicit
-- transaction block (it commits: the 'running' record first, then the work).
-- (No SET search_path here: a procedure with SET clauses cannot COMMIT; every
-- name is qualified instead.)
CREATE PROCEDURE pinpipe.run_batch(full boolean DEFAULT false, wait boolean DEFAULT true)
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
COMMENT ON PROCEDURE pinpipe.run_batch(boolean, boolean) IS 'Batch layer: archive the raw log from the watermark (full => true: from the start) into pinpipe_archive; a concurrent call waits (wait => false: records a skipped run and returns)';

-- Register run_batch with pg_cron (looked up at call time: pinpipe does not
-- depend on pg_cron). The job name is stable, so calling again reschedules it.
CREATE FUNCTION pinpipe.schedule_batch(schedule text DEFAULT '*/5 * * * *') RETURNS bigint
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cron_db text := current_setting('cron.database_name', true);
    jobid   bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        IF cron_db IS NOT NULL AND cron_db <> current_database() THEN
            RAISE EXCEPTION 'pg_cron is not installed in database "%"', current_database()
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      DETAIL = format('pg_cron runs its jobs from database "%s" (cron.database_name).', cron_db),
                      HINT = format('In database "%s" run: SELECT cron.schedule_in_database(''pinpipe-run-batch'', %L, ''CALL pinpipe.run_batch()'', %L);',
                                    cron_db, schedule, current_database());
        END IF;
        RAISE EXCEPTION 'pg_cron is not installed'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = format('Add pg_cron to shared_preload_libraries, set cron.database_name = ''%s'', restart, then run CREATE EXTENSION pg_cron.',
                                current_database());
    END IF;
    EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO jobid
        USING 'pinpipe-run-batch', schedule, 'CALL pinpipe.run_batch()';
    RETURN jobid;
END
$$;
COMMENT ON FUNCTION pinpipe.schedule_batch(text) IS 'Schedule CALL pinpipe.run_batch() with pg_cron as job "pinpipe-run-batch"; returns the job id';

-- Remove the pg_cron job; false when it was not scheduled.
CREATE FUNCTION pinpipe.unschedule_batch() RETURNS boolean
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    found boolean;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        RAISE EXCEPTION 'pg_cron is not installed'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'There is no pg_cron job to remove in this database.';
    END IF;
    EXECUTE 'SELECT EXISTS (SELECT 1 FROM cron.job WHERE jobname = $1 AND username = current_user)'
        INTO found USING 'pinpipe-run-batch';
    IF NOT found THEN
        RETURN false;
    END IF;
    EXECUTE 'SELECT cron.unschedule($1)' INTO found USING 'pinpipe-run-batch';
    RETURN found;
END
$$;
COMMENT ON FUNCTION pinpipe.unschedule_batch() IS 'Remove the pg_cron job "pinpipe-run-batch"; false if it was not scheduled';

-- The batch layer writes the archive and deletes raw data: not for every role.
REVOKE ALL ON FUNCTION pinpipe.archive_ensure_partition(date) FROM PUBLIC;
REVOKE ALL ON PROCEDURE pinpipe.run_batch(boolean, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION pinpipe.schedule_batch(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pinpipe.unschedule_batch() FROM PUBLIC;
