-- Worker status (DESIGN §5): what every pinpipe background worker is doing,
-- read from shared memory (src/worker/worker_status.c, src/sql/status_sql.c). Empty when
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
    OUT topic text,           -- consumers: the topics of their partitions, comma-separated
    OUT partitions integer,   -- consumers: partitions assigned
    OUT lag bigint,           -- consumers: messages behind the high watermarks (NULL if unknown)
    OUT batch_messages bigint, -- messages in committed batches (accepted + dead-lettered)
    OUT ingest_lag_seconds double precision -- latest ingest lag: commit time minus the HTTP request's arrival / the batch's oldest Kafka timestamp (NULL before the first)
) RETURNS SETOF record
LANGUAGE c VOLATILE STRICT
AS 'MODULE_PATHNAME', 'pinpipe_status';
COMMENT ON FUNCTION pinpipe.status() IS 'Every pinpipe background worker: state, counters, last error, consumer lag.';

CREATE VIEW pinpipe.workers AS
    SELECT kind, number, pid, state, rows, dead_letters, batches, errors,
           last_error, last_error_at, started_at, topic, partitions, lag, ingest_lag_seconds
      FROM pinpipe.status();
COMMENT ON VIEW pinpipe.workers IS 'Every pinpipe background worker: state, counters, last error, consumer lag.';

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

-- Error texts may quote data: monitoring roles only (they get the schema, not its tables).
REVOKE ALL ON FUNCTION pinpipe.status() FROM PUBLIC;
REVOKE ALL ON FUNCTION pinpipe.consumer_partitions() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pinpipe.status() TO pg_monitor;
GRANT EXECUTE ON FUNCTION pinpipe.consumer_partitions() TO pg_monitor;
GRANT SELECT ON pinpipe.workers, pinpipe.consumer_partition_status TO pg_monitor;
GRANT USAGE ON SCHEMA pinpipe TO pg_monitor;
