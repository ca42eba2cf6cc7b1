-- The SQL entry to the write path (src/write/sink.c), shared with the HTTP and Kafka workers.

CREATE FUNCTION pinpipe.ingest(pins jsonb, OUT accepted bigint, OUT dead_lettered bigint)
    RETURNS record
    AS 'MODULE_PATHNAME', 'pinpipe_ingest'
    LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION pinpipe.ingest(jsonb) IS 'Ingest one pin or an array of pins in the caller''s transaction: raw log, cleaned rows, live aggregates, dead letters';
REVOKE ALL ON FUNCTION pinpipe.ingest(jsonb) FROM PUBLIC;

CREATE FUNCTION pinpipe.ingest_text(payload text, OUT accepted bigint, OUT dead_lettered bigint)
    RETURNS record
    AS 'MODULE_PATHNAME', 'pinpipe_ingest_text'
    LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION pinpipe.ingest_text(text) IS 'ingest() for text as received: a JSON array of pins, one pin, or NDJSON; each element (or line, without its surrounding blanks) is stored in the raw log as given';
REVOKE ALL ON FUNCTION pinpipe.ingest_text(text) FROM PUBLIC;

-- The same for the other streams (DESIGN §10): stream 'pin', 'geo' or 'user'.
-- Overloads rather than a defaulted parameter, so that ingest(jsonb) and
-- ingest_text(text) stay the functions (and grants) they were.
CREATE FUNCTION pinpipe.ingest(records jsonb, stream text, OUT accepted bigint, OUT dead_lettered bigint)
    RETURNS record
    AS 'MODULE_PATHNAME', 'pinpipe_ingest'
    LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION pinpipe.ingest(jsonb, text) IS 'ingest() for a stream: ''pin'', ''geo'' or ''user'' records (one or an array) into raw_pins and pins, geo or users';
REVOKE ALL ON FUNCTION pinpipe.ingest(jsonb, text) FROM PUBLIC;

CREATE FUNCTION pinpipe.ingest_text(payload text, stream text, OUT accepted bigint, OUT dead_lettered bigint)
    RETURNS record
    AS 'MODULE_PATHNAME', 'pinpipe_ingest_text'
    LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION pinpipe.ingest_text(text, text) IS 'ingest_text() for a stream: ''pin'', ''geo'' or ''user'' records as a JSON array, one record, or NDJSON';
REVOKE ALL ON FUNCTION pinpipe.ingest_text(text, text) FROM PUBLIC;
