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
