\set ECHO none
-- The end of sql/include/batch_fixture.sql: its helpers dropped, and the shared
-- regression database left as the fixture found it (an empty pipeline).
DROP FUNCTION pp_pin(int, text, text, text, text, text, text), pp_raw(timestamptz, text, text),
              pp_raw(timestamptz, text), pp_ingest(timestamptz, text);
TRUNCATE pinpipe.raw_pins, pinpipe.pins, pinpipe.geo, pinpipe.users, pinpipe.category_minute,
         pinpipe.dead_letters, pinpipe.batch_runs, pinpipe.batch_rejects, pinpipe_archive.pins,
         pinpipe_archive.category_daily, pinpipe.archive_pin_days, pinpipe_archive.geo,
         pinpipe_archive.users;
UPDATE pinpipe.batch_state SET watermark = '0', watermark_moved_at = NULL, last_run_id = NULL,
       retention_days = NULL, raw_purged_before = NULL;
\set ECHO all
