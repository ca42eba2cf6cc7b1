-- Batch layer retention: raw-log and speed-layer rows older than N days go, but
-- only once archived (below the watermark); afterwards a full rebuild is refused.
\i sql/include/batch_fixture.sql

-- Raw row plus its speed-layer row and live minute, as the ingest path writes them.
CREATE FUNCTION pp_ingest_at(uid int, at timestamptz) RETURNS void
LANGUAGE sql AS $$
  SELECT pp_ingest(at, pp_pin(uid, 'art', 't', '1k', 'a'));
  INSERT INTO pinpipe.category_minute VALUES (date_trunc('minute', at), 'art', 1, 0, 1000, 1, 1, 0, 0, 0, 1)
  ON CONFLICT (minute, category) DO UPDATE SET posts = category_minute.posts + 1;
$$;

SELECT pp_ingest_at(1, now() - interval '40 days');
SELECT pp_ingest_at(2, now() - interval '35 days');
SELECT pp_ingest_at(3, now() - interval '1 day');
CALL pinpipe.run_batch();
-- an old event that is not archived yet (it arrives after the run)
SELECT pp_ingest_at(4, now() - interval '50 days');

-- The setting is NULL by default: nothing is dropped.
SELECT * FROM pinpipe.apply_retention();
-- Invalid settings are refused.
\set VERBOSITY terse
SELECT * FROM pinpipe.apply_retention(0);
UPDATE pinpipe.batch_state SET retention_days = 0;
\set VERBOSITY default

SELECT * FROM pinpipe.apply_retention(30);
-- pins 1 and 2 are gone from raw log and speed layer; pin 4 (unarchived) and 3 (recent) stay
SELECT right(p.unique_id::text, 1) AS uid FROM pinpipe.pins p ORDER BY 1;
SELECT count(*) AS raw_left FROM pinpipe.raw_pins;
-- live minutes older than 30 days go too, except those an unarchived raw row may still need
SELECT count(*) AS minutes_left FROM pinpipe.category_minute;
SELECT count(*) AS archived FROM pinpipe_archive.pins;
SELECT raw_purged_before IS NOT NULL AS purged FROM pinpipe.batch_state;

-- The setting is applied by every successful run.
UPDATE pinpipe.batch_state SET retention_days = 30;
CALL pinpipe.run_batch();
SELECT status, raw_rows, retention_deleted FROM pinpipe.batch_runs ORDER BY id DESC LIMIT 1;
SELECT count(*) AS raw_left, (SELECT count(*) FROM pinpipe.pins) AS pins_left,
       (SELECT count(*) FROM pinpipe_archive.pins) AS archived
  FROM pinpipe.raw_pins;

-- A full rebuild would now lose archived pins.
\set VERBOSITY terse
CALL pinpipe.run_batch(full => true);
\set VERBOSITY default
SELECT status, sqlstate FROM pinpipe.batch_runs ORDER BY id DESC LIMIT 1;
SELECT count(*) AS archived FROM pinpipe_archive.pins;

UPDATE pinpipe.batch_state SET retention_days = NULL, raw_purged_before = NULL;
DROP FUNCTION pp_ingest_at(int, timestamptz);
\i sql/include/batch_fixture_end.sql
