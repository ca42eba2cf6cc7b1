-- Storage of the speed layer (DESIGN §4). The extension's schema is pinpipe
-- (pinpipe.control: schema = pinpipe, relocatable = false).
--
-- Append path: raw_pins and pins are written with multi-row heap inserts by the
-- sink (src/write/sink.c); their indexes are few and cheap on purpose (BRIN on the
-- ever-growing keys, one btree for lookups by unique_id, one unique btree that
-- makes a Kafka message impossible to store twice).

-- Messages are UTF-8 JSON and are stored as text: the database must be UTF8.
DO $$
BEGIN
    IF pg_catalog.current_setting('server_encoding') <> 'UTF8' THEN
        RAISE EXCEPTION 'pinpipe needs a UTF8 database, not %', pg_catalog.current_setting('server_encoding')
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Create the database with ENCODING ''UTF8'' (and a matching locale).';
    END IF;
END $$;

CREATE SEQUENCE pinpipe.raw_pins_id_seq AS bigint CACHE 100;

-- The cluster a transaction id belongs to (src/sql/cluster_sql.c, docs/batch.md):
-- xact_id values mean nothing outside the cluster that assigned them.
CREATE FUNCTION pinpipe.system_identifier() RETURNS bigint
    AS 'MODULE_PATHNAME', 'pinpipe_system_identifier'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pinpipe.system_identifier() IS 'The system identifier of this cluster (pg_control_system()), kept with every transaction id the batch layer compares';

-- The master data set: every accepted message exactly as received.
CREATE TABLE pinpipe.raw_pins (
    id          bigint      NOT NULL DEFAULT nextval('pinpipe.raw_pins_id_seq'),
    received_at timestamptz NOT NULL DEFAULT now(),
    -- the writing transaction, so the batch layer can take exactly the rows of
    -- transactions that finished before its snapshot (no timestamp races)
    xact_id     xid8        NOT NULL DEFAULT pg_current_xact_id(),
    source      text        NOT NULL CHECK (source IN ('http', 'kafka', 'sql')),
    topic       text,
    "partition" integer,
    "offset"    bigint,
    payload     text        NOT NULL,
    -- the cluster whose transaction xact_id is (a logical restore into another
    -- cluster keeps the number, not its meaning)
    xact_cluster bigint     NOT NULL DEFAULT pinpipe.system_identifier(),
    -- which record the payload is (DESIGN §10): its cleaned row is in pins, geo or users
    stream      text        NOT NULL DEFAULT 'pin' CHECK (stream IN ('pin', 'geo', 'user'))
);
ALTER SEQUENCE pinpipe.raw_pins_id_seq OWNED BY pinpipe.raw_pins.id;
CREATE INDEX raw_pins_id_brin ON pinpipe.raw_pins USING brin (id);
CREATE INDEX raw_pins_received_at_brin ON pinpipe.raw_pins USING brin (received_at);
CREATE UNIQUE INDEX raw_pins_kafka_coordinates ON pinpipe.raw_pins (topic, "partition", "offset")
    WHERE topic IS NOT NULL;
COMMENT ON TABLE pinpipe.raw_pins IS 'Every accepted message as received: the master data set the batch layer recomputes from.';

-- The speed layer: one cleaned row per accepted message, append-only.
CREATE TABLE pinpipe.pins (
    raw_id            bigint      NOT NULL,
    received_at       timestamptz NOT NULL,
    source            text        NOT NULL,
    topic             text,
    "partition"       integer,
    "offset"          bigint,
    ind               integer     NOT NULL,
    unique_id         uuid        NOT NULL,
    title             text,
    description       text,
    poster_name       text,
    follower_count    bigint,
    tag_list          text[],
    is_image_or_video text,
    image_src         text,
    downloaded        integer     NOT NULL,
    save_location     text,
    category          text,
    error_fields      text[]      NOT NULL
);
CREATE INDEX pins_received_at_brin ON pinpipe.pins USING brin (received_at);
CREATE INDEX pins_unique_id ON pinpipe.pins (unique_id);
COMMENT ON TABLE pinpipe.pins IS 'Speed layer: one cleaned row per accepted message; error_fields lists the fields that were placeholders or unparseable.';

-- What could not be accepted, with why. A bad record never blocks the others.
CREATE TABLE pinpipe.dead_letters (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at   timestamptz NOT NULL DEFAULT now(),
    source        text        NOT NULL,
    topic         text,
    "partition"   integer,
    "offset"      bigint,
    payload       text,   -- the message as received, when it is UTF-8 text
    payload_bytes bytea,  -- the raw bytes, when it is not (payload is then NULL)
    error         text        NOT NULL,
    field         text,
    sqlstate      text        NOT NULL,
    stream        text        NOT NULL DEFAULT 'pin'  -- the stream the message was sent to
);
CREATE INDEX dead_letters_kafka_coordinates ON pinpipe.dead_letters (topic, "partition", "offset")
    WHERE topic IS NOT NULL;
COMMENT ON TABLE pinpipe.dead_letters IS 'Messages that could not be accepted: payload, error, field at fault and SQLSTATE.';

-- Exactly-once ingestion: written in the same transaction as the batch's rows.
CREATE TABLE pinpipe.kafka_offsets (
    consumer_group text        NOT NULL,
    topic          text        NOT NULL,
    "partition"    integer     NOT NULL,
    next_offset    bigint      NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, topic, "partition")
);
COMMENT ON TABLE pinpipe.kafka_offsets IS 'Next Kafka offset to read per consumer group and partition; the source of truth for exactly-once ingestion.';

-- Live aggregates, maintained in the ingesting transaction (minute = ingestion time, UTC).
CREATE TABLE pinpipe.category_minute (
    minute            timestamptz NOT NULL,
    category          text        NOT NULL,  -- '(none)' when the pin has no category
    posts             bigint      NOT NULL,
    error_posts       bigint      NOT NULL,  -- posts with a non-empty error_fields
    follower_sum      bigint      NOT NULL,  -- over posts with a known follower_count
    follower_known    bigint      NOT NULL,  -- posts with a known follower_count
    image_posts       bigint      NOT NULL,
    video_posts       bigint      NOT NULL,
    story_posts       bigint      NOT NULL,  -- multi-video(story page format)
    other_media_posts bigint      NOT NULL,
    downloaded_posts  bigint      NOT NULL,
    PRIMARY KEY (minute, category)
);
COMMENT ON TABLE pinpipe.category_minute IS 'Live per-minute, per-category aggregates of accepted pins.';

-- Extension tables are only dumped by pg_dump when marked so.
SELECT pg_catalog.pg_extension_config_dump('pinpipe.raw_pins', '');
SELECT pg_catalog.pg_extension_config_dump('pinpipe.raw_pins_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('pinpipe.pins', '');
SELECT pg_catalog.pg_extension_config_dump('pinpipe.dead_letters', '');
-- identity sequences too, or a restored table hands out its ids again
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('pinpipe.dead_letters', 'id')::regclass, '');
SELECT pg_catalog.pg_extension_config_dump('pinpipe.kafka_offsets', '');
SELECT pg_catalog.pg_extension_config_dump('pinpipe.category_minute', '');
