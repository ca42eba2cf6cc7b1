-- Kafka offset gaps and offset resets (docs/kafka.md, "Gaps"; src/kafka/kafka_gaps.c,
-- src/sql/offsets_reset_sql.c).

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
