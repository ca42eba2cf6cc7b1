-- Worker status views and functions. Which workers run depends on the server (none
-- without preloading, the HTTP worker by default, consumers with Kafka): nothing here
-- depends on it (make installcheck runs against any server). The integration and TAP
-- tests cover live workers.
SELECT count(*) AS unknown_kinds FROM pinpipe.workers WHERE kind NOT IN ('http', 'consumer');
-- the columns monitoring relies on
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'pinpipe.workers'::regclass AND attnum > 0 ORDER BY attnum;
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'pinpipe.consumer_partition_status'::regclass AND attnum > 0 ORDER BY attnum;
-- error texts may quote data: not for PUBLIC, granted to pg_monitor
CREATE ROLE pinpipe_regress_nobody;
CREATE ROLE pinpipe_regress_monitor IN ROLE pg_monitor;
SET ROLE pinpipe_regress_nobody;
SELECT * FROM pinpipe.status();
SELECT * FROM pinpipe.consumer_partitions();
RESET ROLE;
SET ROLE pinpipe_regress_monitor;
SELECT count(*) >= 0 AS readable FROM pinpipe.workers;
SELECT count(*) >= 0 AS readable FROM pinpipe.consumer_partition_status;
RESET ROLE;
DROP ROLE pinpipe_regress_nobody;
DROP ROLE pinpipe_regress_monitor;
-- the Kafka settings exist with their defaults
SHOW pinpipe.max_message_bytes;
SHOW pinpipe.consumer_group;
SHOW pinpipe.start_offset;
