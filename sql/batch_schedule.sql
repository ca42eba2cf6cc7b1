-- Scheduling with pg_cron. The regression database is not cron.database_name, so
-- pg_cron cannot be installed here: schedule_batch must say so clearly, with the
-- SQLSTATE and a hint naming the right call. (test/tap/t/084_batch_cron.pl schedules
-- for real in the cron database.)
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pinpipe;
RESET client_min_messages;
SELECT count(*) AS pg_cron_here FROM pg_extension WHERE extname = 'pg_cron';
SHOW cron.database_name;
\set VERBOSITY default
SELECT pinpipe.schedule_batch();
\echo :LAST_ERROR_SQLSTATE
SELECT pinpipe.schedule_batch('0 * * * *');
SELECT pinpipe.unschedule_batch();
\echo :LAST_ERROR_SQLSTATE
-- pinpipe itself does not require pg_cron
SELECT name, version, requires FROM pg_available_extension_versions WHERE name = 'pinpipe' ORDER BY version;
SELECT extname, extrelocatable FROM pg_extension WHERE extname = 'pinpipe';
