-- Batch layer: a failed run leaves the watermark and the archive as they were and
-- is recorded (status failed, error, SQLSTATE) although the run rolled back;
-- a run killed with its session is marked aborted by the next run.
\i sql/include/batch_fixture.sql

CREATE FUNCTION pp_raw_pin(uid int, at timestamptz) RETURNS void
LANGUAGE sql AS $$
  SELECT pp_raw(at, pp_pin(uid, 'art', 't', '1k', 'a'))
$$;

SELECT pp_raw_pin(1, '2024-05-01 10:00+00');
CALL pinpipe.run_batch();
SELECT watermark AS wm1 FROM pinpipe.batch_state \gset

-- Make the rollup step fail once new data arrives.
CREATE FUNCTION pp_boom() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'boom: rollups are broken' USING ERRCODE = 'P0099';
END $$;
CREATE TRIGGER pp_boom BEFORE INSERT ON pinpipe_archive.category_daily
    FOR EACH ROW EXECUTE FUNCTION pp_boom();
SELECT pp_raw_pin(2, '2024-05-02 10:00+00');

\set VERBOSITY terse
CALL pinpipe.run_batch();
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY default
SELECT status, error, sqlstate, raw_rows, watermark_to, finished_at IS NOT NULL AS finished
  FROM pinpipe.batch_runs ORDER BY id DESC LIMIT 1;
SELECT watermark = :'wm1' AS watermark_unchanged, last_run_id = (SELECT min(id) FROM pinpipe.batch_runs) AS last_good_run
  FROM pinpipe.batch_state;
-- the archive kept its state: no partition rows, no pin 2
SELECT count(*) AS archived, count(*) FILTER (WHERE day = '2024-05-02') AS day2 FROM pinpipe_archive.pins;
SELECT to_regclass('pinpipe_archive.pins_20240502') AS day2_partition;
SELECT last_run_status, last_run_error, pending_raw_rows FROM pinpipe.batch_status;

-- Fixed, the next run archives what the failed one could not.
DROP TRIGGER pp_boom ON pinpipe_archive.category_daily;
CALL pinpipe.run_batch();
SELECT status, raw_rows, pins_written, days_recomputed FROM pinpipe.batch_runs ORDER BY id DESC LIMIT 1;
SELECT watermark > :'wm1' AS watermark_moved FROM pinpipe.batch_state;
SELECT day, category, posts FROM pinpipe_archive.category_daily ORDER BY day;

-- A run whose session died stays 'running' until the next run takes the lock.
INSERT INTO pinpipe.batch_runs (status, full_rebuild, pid) VALUES ('running', false, 0);
CALL pinpipe.run_batch();
SELECT status, error FROM pinpipe.batch_runs WHERE pid = 0;
SELECT status, count(*) FROM pinpipe.batch_runs GROUP BY status ORDER BY status;

DROP FUNCTION pp_boom();
DROP FUNCTION pp_raw_pin(int, timestamptz);
\i sql/include/batch_fixture_end.sql
