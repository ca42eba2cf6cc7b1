-- pinpipe 0.1.0 install script, frozen as released (kept so the upgrade path can be tested)
\echo Use "CREATE EXTENSION pinpipe" to load this file. \quit

-- ---- sql/install/00_schema.sql
-- Storage of the speed layer (DESIGN §4). The extension's schema is pinpipe
-- (pinpipe.control: schema = pinpipe, relocatable = false).
--
-- Append path: raw_pins and pins are written with multi-row heap inserts by the
-- sink (src/sink.c); their indexes are few and cheap on purpose (BRIN on the
-- ever-growing keys, one btree for lookups by unique_id, one unique btree that
-- makes a Kafka message impossible to store twice).

-- Messages are UTF-8 JSON and are stored as text: the database must be UTF8.
DO $$
BEGIN
    IF pg_catalog.current_setting('server_encoding') <> 'UTF8' THEN
        RAISE EXCEPTION 'pinpipe needs a UTF8 database, not %', pg_catalog.current_setting('server_encoding')
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Create the database with ENCODING ''UTF8'' (and a matching locale).';
    END IF;
END $$;

CREATE SEQUENCE pinpipe.raw_pins_id_seq AS bigint CACHE 100;

-- The master data set: every accepted message exactly as received.
CREATE TABLE pinpipe.raw_pins (
    id          bigint      NOT NULL DEFAULT nextval('pinpipe.raw_pins_id_seq'),
    received_at timestamptz NOT NULL DEFAULT now(),
    -- the writing transaction, so the batch layer can take exactly the rows of
    -- transactions that finished before its snapshot (no timestamp races)
    xact_id     xid8        NOT NULL DEFAULT pg_current_xact_id(),
    source      text        NOT NULL CHECK (source IN ('http', 'kafka', 'sql')),
    topic       text,
    "partition" integer,
    "offset"    bigint,
    payload     text        NOT NULL
);
ALTER SEQUENCE pinpipe.raw_pins_id_seq OWNED BY pinpipe.raw_pins.id;
CREATE INDEX raw_pins_id_brin ON pinpipe.raw_pins USING brin (id);
CREATE INDEX raw_pins_received_at_brin ON pinpipe.raw_pins USING brin (received_at);
CREATE UNIQUE INDEX raw_pins_kafka_coordinates ON pinpipe.raw_pins (topic, "partition", "offset")
    WHERE topic IS NOT NULL;
COMMENT ON TABLE pinpipe.raw_pins IS 'Every accepted message as received: the master data set the batch layer recomputes from.';

-- The speed layer: one cleaned row per accepted message, append-only.
CREATE TABLE pinpipe.pins (
    raw_id            bigint      NOT NULL,
    received_at       timestamptz NOT NULL,
    source            text        NOT NULL,
    topic             text,
    "partition"       integer,
    "offset"          bigint,
    ind               integer     NOT NULL,
    unique_id         uuid        NOT NULL,
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
    error_fields      text[]      NOT NULL
);
CREATE INDEX pins_received_at_brin ON pinpipe.pins USING brin (received_at);
CREATE INDEX pins_unique_id ON pinpipe.pins (unique_id);
COMMENT ON TABLE pinpipe.pins IS 'Speed layer: one cleaned row per accepted message; error_fields lists the fields that were placeholders or unparseable.';

-- What could not be accepted, with why. A bad record never blocks the others.
CREATE TABLE pinpipe.dead_letters (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at   timestamptz NOT NULL DEFAULT now(),
    source        text        NOT NULL,
    topic         text,
    "partition"   integer,
    "offset"      bigint,
    payload       text,   -- the message as received, when it is UTF-8 text
    payload_bytes bytea,  -- the raw bytes, when it is not (payload is then NULL)
    error         text        NOT NULL,
    field         text,
    sqlstate      text        NOT NULL
);
CREATE INDEX dead_letters_kafka_coordinates ON pinpipe.dead_letters (topic, "partition", "offset")
    WHERE topic IS NOT NULL;
COMMENT ON TABLE pinpipe.dead_letters IS 'Messages that could not be accepted: payload, error, field at fault and SQLSTATE.';

-- Exactly-once ingestion: written in the same transaction as the batch's rows.
CREATE TABLE pinpipe.kafka_offsets (
    consumer_group text        NOT NULL,
    topic          text        NOT NULL,
    "partition"    integer     NOT NULL,
    next_offset    bigint      NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, topic, "partition")
);
COMMENT ON TABLE pinpipe.kafka_offsets IS 'Next Kafka offset to read per consumer group and partition; the source of truth for exactly-once ingestion.';

-- Live aggregates, maintained in the ingesting transaction (minute = ingestion time, UTC).
CREATE TABLE pinpipe.category_minute (
    minute            timestamptz NOT NULL,
    category          text        NOT NULL,  -- '(none)' when the pin has no category
    posts             bigint      NOT NULL,
    error_posts       bigint      NOT NULL,  -- posts with a non-empty error_fields
    follower_sum      bigint      NOT NULL,  -- over posts with a known follower_count
    follower_known    bigint      NOT NULL,  -- posts with a known follower_count
    image_posts       bigint      NOT NULL,
    video_posts       bigint      NOT NULL,
    story_posts       bigint      NOT NULL,  -- multi-video(story page format)
    other_media_posts bigint      NOT NULL,
    downloaded_posts  bigint      NOT NULL,
    PRIMARY KEY (minute, category)
);
COMMENT ON TABLE pinpipe.category_minute IS 'Live per-minute, per-category aggregates of accepted pins.';

-- Extension tables are only dumped by pg_dump when marked so.
SELECT pg_catalog.pg_extension_config_dump('pinpipe.raw_pins', '');
SELECT pg_catalog.pg_extension_config_dump('pinpipe.raw_pins_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('pinpipe.pins', '');
SELECT pg_catalog.pg_extension_config_dump('pinpipe.dead_letters', '');
SELECT pg_catalog.pg_extension_config_dump('pinpipe.kafka_offsets', '');
SELECT pg_catalog.pg_extension_config_dump('pinpipe.category_minute', '');

-- ---- sql/install/10_cleaning.sql
-- Cleaning functions (DESIGN §3, §5): thin wrappers over src/clean.c.

CREATE FUNCTION pinpipe.parse_follower_count(text) RETURNS bigint
    AS 'MODULE_PATHNAME', 'pinpipe_parse_follower_count'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pinpipe.parse_follower_count(text) IS '"972" → 972, "5k" → 5000, "1.5M" → 1500000; placeholders and junk → NULL';

CREATE FUNCTION pinpipe.parse_tag_list(text) RETURNS text[]
    AS 'MODULE_PATHNAME', 'pinpipe_parse_tag_list'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pinpipe.parse_tag_list(text) IS 'Split on commas, trim, drop empties; the "No Tags Available" placeholder → NULL';

CREATE FUNCTION pinpipe.clean_save_location(text) RETURNS text
    AS 'MODULE_PATHNAME', 'pinpipe_clean_save_location'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pinpipe.clean_save_location(text) IS '"Local save in /data/art" → "/data/art"';

CREATE FUNCTION pinpipe.clean_pin(
        pin jsonb,
        OUT ind integer,
        OUT unique_id uuid,
        OUT title text,
        OUT description text,
        OUT poster_name text,
        OUT follower_count bigint,
        OUT tag_list text[],
        OUT is_image_or_video text,
        OUT image_src text,
        OUT downloaded integer,
        OUT save_location text,
        OUT category text,
        OUT error_fields text[])
    RETURNS record
    AS 'MODULE_PATHNAME', 'pinpipe_clean_pin'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pinpipe.clean_pin(jsonb) IS 'Validate and clean one pin; structural errors raise with a SQLSTATE naming the field';

-- The same over the message text as received (what raw_pins.payload holds).
CREATE FUNCTION pinpipe.clean_pin(
        pin text,
        OUT ind integer,
        OUT unique_id uuid,
        OUT title text,
        OUT description text,
        OUT poster_name text,
        OUT follower_count bigint,
        OUT tag_list text[],
        OUT is_image_or_video text,
        OUT image_src text,
        OUT downloaded integer,
        OUT save_location text,
        OUT category text,
        OUT error_fields text[])
    RETURNS record
    AS 'MODULE_PATHNAME', 'pinpipe_clean_pin_text'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pinpipe.clean_pin(text) IS 'clean_pin over JSON text, e.g. pinpipe.raw_pins.payload';

-- ---- sql/install/20_ingest.sql
-- The SQL entry to the write path (src/sink.c), shared with the HTTP and Kafka workers.

CREATE FUNCTION pinpipe.ingest(pins jsonb, OUT accepted bigint, OUT dead_lettered bigint)
    RETURNS record
    AS 'MODULE_PATHNAME', 'pinpipe_ingest'
    LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION pinpipe.ingest(jsonb) IS 'Ingest one pin or an array of pins in the caller''s transaction: raw log, cleaned rows, live aggregates, dead letters';
REVOKE ALL ON FUNCTION pinpipe.ingest(jsonb) FROM PUBLIC;

CREATE FUNCTION pinpipe.ingest_text(payload text, OUT accepted bigint, OUT dead_lettered bigint)
    RETURNS record
    AS 'MODULE_PATHNAME', 'pinpipe_ingest_text'
    LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION pinpipe.ingest_text(text) IS 'ingest() for text as received: a JSON array of pins, one pin, or NDJSON; each element (or line, without its surrounding blanks) is stored in the raw log as given';
REVOKE ALL ON FUNCTION pinpipe.ingest_text(text) FROM PUBLIC;

-- ---- sql/install/30_workers.sql
-- Worker status (DESIGN §5): what every pinpipe background worker is doing,
-- read from shared memory (src/worker_status.c, src/status_sql.c). Empty when
-- pinpipe is not in shared_preload_libraries.

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
    OUT batch_messages bigint -- messages in committed batches (accepted + dead-lettered)
) RETURNS SETOF record
LANGUAGE c VOLATILE STRICT
AS 'MODULE_PATHNAME', 'pinpipe_status';
COMMENT ON FUNCTION pinpipe.status() IS 'Every pinpipe background worker: state, counters, last error, consumer lag.';

CREATE VIEW pinpipe.workers AS
    SELECT kind, number, pid, state, rows, dead_letters, batches, errors,
           last_error, last_error_at, started_at, topic, partitions, lag
      FROM pinpipe.status();
COMMENT ON VIEW pinpipe.workers IS 'Every pinpipe background worker: state, counters, last error, consumer lag.';

CREATE FUNCTION pinpipe.consumer_partitions(
    OUT worker integer,          -- the consumer's number
    OUT pid integer,
    OUT topic text,
    OUT "partition" integer,
    OUT committed_offset bigint, -- next offset to read, as committed in PostgreSQL (NULL: none yet)
    OUT high_watermark bigint,   -- end of the partition as last seen from the broker
    OUT lag bigint
) RETURNS SETOF record
LANGUAGE c VOLATILE STRICT
AS 'MODULE_PATHNAME', 'pinpipe_consumer_partitions';
COMMENT ON FUNCTION pinpipe.consumer_partitions() IS 'Per assigned partition: committed offset, high watermark and lag.';

CREATE VIEW pinpipe.consumer_partition_status AS
    SELECT * FROM pinpipe.consumer_partitions();

-- Error texts may quote data: monitoring roles only (they get the schema, not its tables).
REVOKE ALL ON FUNCTION pinpipe.status() FROM PUBLIC;
REVOKE ALL ON FUNCTION pinpipe.consumer_partitions() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pinpipe.status() TO pg_monitor;
GRANT EXECUTE ON FUNCTION pinpipe.consumer_partitions() TO pg_monitor;
GRANT SELECT ON pinpipe.workers, pinpipe.consumer_partition_status TO pg_monitor;
GRANT USAGE ON SCHEMA pinpipe TO pg_monitor;

-- ---- sql/install/40_batch.sql
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
    is_error          boolean     NOT NULL,  -- error_fields is not empty
    PRIMARY KEY (unique_id, day)
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
    raw_purged_before timestamptz
);
INSERT INTO pinpipe.batch_state DEFAULT VALUES;
COMMENT ON TABLE pinpipe.batch_state IS 'Batch layer state: the watermark (raw rows with xact_id below it are archived) and the retention setting';

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
    pid               integer     NOT NULL DEFAULT pg_backend_pid()
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
        EXECUTE format('CREATE TABLE pinpipe_archive.%I PARTITION OF pinpipe_archive.pins FOR VALUES FROM (%L) TO (%L)',
                       part, d, d + 1);
        rel := format('pinpipe_archive.%I', part)::regclass;
    END IF;
    RETURN rel;
END
$$;
COMMENT ON FUNCTION pinpipe.archive_ensure_partition(date) IS 'Create pinpipe_archive.pins_YYYYMMDD for a day if missing (used by run_batch)';

-- Drop raw-log and speed-layer rows older than days (default: the retention
-- setting), but only rows already in the archive (below the watermark).
CREATE FUNCTION pinpipe.apply_retention(days integer DEFAULT NULL,
        OUT raw_deleted bigint, OUT pins_deleted bigint, OUT minutes_deleted bigint)
    RETURNS record
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    st     pinpipe.batch_state;
    cutoff timestamptz;
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
     WHERE r.id = p.raw_id AND r.xact_id < st.watermark
       AND p.received_at < cutoff AND r.received_at < cutoff;
    GET DIAGNOSTICS pins_deleted = ROW_COUNT;

    DELETE FROM pinpipe.raw_pins
     WHERE received_at < cutoff AND xact_id < st.watermark;
    GET DIAGNOSTICS raw_deleted = ROW_COUNT;

    -- live minutes can go once no unarchived raw row is that old
    DELETE FROM pinpipe.category_minute m
     WHERE m.minute < cutoff
       AND NOT EXISTS (SELECT 1 FROM pinpipe.raw_pins r
                        WHERE r.xact_id >= st.watermark
                          AND r.received_at < m.minute + interval '1 minute');
    GET DIAGNOSTICS minutes_deleted = ROW_COUNT;

    IF raw_deleted > 0 THEN
        UPDATE pinpipe.batch_state
           SET raw_purged_before = greatest(raw_purged_before, cutoff);
    END IF;
END
$$;
COMMENT ON FUNCTION pinpipe.apply_retention(integer) IS 'Delete archived raw-log, speed-layer and live-minute rows older than N days (default: batch_state.retention_days); run_batch calls it after each successful run';
REVOKE ALL ON FUNCTION pinpipe.apply_retention(integer) FROM PUBLIC;

-- The work of one run, in the caller's transaction (run_batch wraps it). Returns
-- the counters for batch_runs. Only called with the batch lock held.
CREATE FUNCTION pinpipe.batch_apply(run_id bigint, full_rebuild boolean, lo xid8, hi xid8,
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
                   count(*) FILTER (WHERE s.is_image_or_video = 'image') AS image_pins,
                   count(*) FILTER (WHERE s.is_image_or_video = 'video') AS video_pins,
                   count(*) FILTER (WHERE s.is_image_or_video = 'multi-video(story page format)') AS story_pins,
                   count(*) FILTER (WHERE s.is_image_or_video IS NULL
                                       OR s.is_image_or_video NOT IN ('image', 'video', 'multi-video(story page format)')) AS other_media_pins,
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
COMMENT ON FUNCTION pinpipe.batch_apply(bigint, boolean, xid8, xid8) IS 'Internal to run_batch: archive the raw events with lo <= xact_id < hi and recompute the touched days';
REVOKE ALL ON FUNCTION pinpipe.batch_apply(bigint, boolean, xid8, xid8) FROM PUBLIC;

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
    st      pinpipe.batch_state;
    res     record;
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
        SELECT * INTO st FROM pinpipe.batch_state;
        IF is_full THEN
            IF st.raw_purged_before IS NOT NULL THEN
                RAISE EXCEPTION 'a full rebuild would lose archived pins'
                    USING ERRCODE = 'object_not_in_prerequisite_state',
                          DETAIL = format('Retention deleted raw events received before %s; the archive is the only copy of them.', st.raw_purged_before),
                          HINT = 'Run incremental batches only, or restore the raw log first.';
            END IF;
            lo := '0';
        ELSE
            lo := st.watermark;
        END IF;
        hi := greatest(hi, lo);

        IF is_full OR EXISTS (SELECT 1 FROM pinpipe.raw_pins r WHERE r.xact_id >= lo AND r.xact_id < hi) THEN
            SELECT * INTO res FROM pinpipe.batch_apply(run_id, is_full, lo, hi);
        ELSE
            SELECT 0::bigint AS raw_rows, 0::bigint AS rejected_rows, 0::bigint AS pins_written,
                   0 AS days_recomputed INTO res;
        END IF;

        UPDATE pinpipe.batch_state
           SET watermark = hi, last_run_id = run_id,
               watermark_moved_at = CASE WHEN hi <> watermark THEN clock_timestamp() ELSE watermark_moved_at END;

        SELECT * INTO ret FROM pinpipe.apply_retention();

        UPDATE pinpipe.batch_runs
           SET status = 'succeeded', finished_at = clock_timestamp(),
               watermark_from = lo, watermark_to = hi,
               raw_rows = res.raw_rows, rejected_rows = res.rejected_rows,
               pins_written = res.pins_written, days_recomputed = res.days_recomputed,
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

-- ---- sql/install/50_serving.sql
-- Serving layer (DESIGN §4): the batch archive's rollups merged with the speed-layer
-- rows the batch has not archived yet, so a query sees up-to-the-minute totals.
--
-- "Newer than the watermark" is decided on the raw row, exactly as run_batch
-- decides it: a speed-layer row pins(raw_id) is live iff its raw_pins row has
-- xact_id >= batch_state.watermark. The watermark and the archive are committed
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
           count(*) FILTER (WHERE n.is_image_or_video = 'image'),
           count(*) FILTER (WHERE n.is_image_or_video = 'video'),
           count(*) FILTER (WHERE n.is_image_or_video = 'multi-video(story page format)'),
           count(*) FILTER (WHERE n.is_image_or_video IS NULL
                               OR n.is_image_or_video NOT IN ('image', 'video', 'multi-video(story page format)')),
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
       (SELECT count(*) FROM pinpipe.raw_pins r WHERE r.xact_id >= s.watermark) AS pending_raw_rows,
       (SELECT min(r.received_at) FROM pinpipe.raw_pins r WHERE r.xact_id >= s.watermark) AS oldest_pending_at,
       lr.id AS last_run_id,
       lr.status AS last_run_status,
       lr.started_at AS last_run_started_at,
       lr.finished_at AS last_run_finished_at,
       lr.error AS last_run_error
  FROM pinpipe.batch_state s
  LEFT JOIN LATERAL (SELECT * FROM pinpipe.batch_runs br WHERE br.status <> 'skipped'
                      ORDER BY br.id DESC LIMIT 1) lr ON true;
COMMENT ON VIEW pinpipe.batch_status IS 'Batch layer lag: the watermark, raw rows not archived yet, and the last run';
