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
