-- Kafka offset gaps and reset_offsets without a broker (test/tap/t/020_kafka_gaps.pl
-- runs them against the dev broker): the table, the setting, argument errors.
SELECT attname, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute
 WHERE attrelid = 'pinpipe.kafka_gaps'::regclass AND attnum > 0 ORDER BY attnum;
-- dumped with the data (extension config table)
SELECT count(*) FROM pg_extension e, unnest(e.extconfig) c
 WHERE e.extname = 'pinpipe' AND c = 'pinpipe.kafka_gaps'::regclass;
\set VERBOSITY sqlstate
INSERT INTO pinpipe.kafka_gaps (consumer_group, topic, "partition", from_offset, to_offset, skipped, reason)
VALUES ('g', 't', 0, 1, 2, 1, 'retention');
SHOW pinpipe.offset_out_of_range;
\set VERBOSITY default
ALTER SYSTEM SET pinpipe.offset_out_of_range = 'skip';
\set VERBOSITY sqlstate
SELECT * FROM pinpipe.reset_offsets('pinterest.pins');
SELECT * FROM pinpipe.reset_offsets('pinterest.pins', to_offset => 1, to_timestamp => now());
SELECT * FROM pinpipe.reset_offsets('pinterest.pins', to_offset => -1);
SELECT * FROM pinpipe.reset_offsets(NULL, to_offset => 1);
SELECT * FROM pinpipe.reset_offsets('pinterest.pins', to_offset => 1, consumer_group => '');
SELECT * FROM pinpipe.reset_offsets('pinterest.pins', to_offset => 1, "partition" => -2);
SELECT * FROM pinpipe.reset_offsets('pinterest.pins', to_timestamp => 'infinity');
SELECT * FROM pinpipe.reset_offsets('pinterest.pins', to_timestamp => '1960-01-01');
-- no broker configured here
SELECT * FROM pinpipe.reset_offsets('pinterest.pins', to_offset => 1);
\set VERBOSITY default
SELECT * FROM pinpipe.reset_offsets('pinterest.pins', to_offset => 1, to_timestamp => now());
-- not for PUBLIC
CREATE ROLE pinpipe_regress_nobody;
GRANT USAGE ON SCHEMA pinpipe TO pinpipe_regress_nobody;
SET ROLE pinpipe_regress_nobody;
SELECT * FROM pinpipe.reset_offsets('pinterest.pins', to_offset => 1);
RESET ROLE;
REVOKE USAGE ON SCHEMA pinpipe FROM pinpipe_regress_nobody;
DROP ROLE pinpipe_regress_nobody;
