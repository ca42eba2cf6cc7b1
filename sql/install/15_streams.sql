-- The other two streams of the 2023 data set (DESIGN §10): geolocation and user
-- records, sharing ind with the pin they belong to. Same machinery as pins: the
-- C cleaning (src/core/clean.c), the one write path (src/write/sink.c), the raw log
-- (raw_pins.stream tells the streams apart), dead letters (dead_letters.stream).

-- The cleaned columns of a geo record, in this order: clean_geo's result and the
-- names of the cleaned part of pinpipe.geo (src/write/pin_datum.c fills them in this order).
CREATE TYPE pinpipe.cleaned_geo AS (
    ind          integer,
    "timestamp"  timestamptz,          -- UTC when the record gives no zone
    latitude     double precision,
    longitude    double precision,
    coordinates  double precision[],   -- {latitude, longitude}
    country      text,
    error_fields text[]
);
COMMENT ON TYPE pinpipe.cleaned_geo IS 'A cleaned geolocation record: the result of clean_geo and the cleaned columns of pinpipe.geo';

CREATE TYPE pinpipe.cleaned_user AS (
    ind          integer,
    first_name   text,
    last_name    text,
    user_name    text,                 -- first_name || ' ' || last_name
    age          integer,
    date_joined  timestamptz,          -- UTC when the record gives no zone
    error_fields text[]
);
COMMENT ON TYPE pinpipe.cleaned_user IS 'A cleaned user record: the result of clean_user and the cleaned columns of pinpipe.users';

CREATE FUNCTION pinpipe.clean_geo(geo jsonb) RETURNS pinpipe.cleaned_geo
    AS 'MODULE_PATHNAME', 'pinpipe_clean_geo'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pinpipe.clean_geo(jsonb) IS 'Validate and clean one geolocation record; structural errors raise with a SQLSTATE naming the field';
CREATE FUNCTION pinpipe.clean_geo(geo text) RETURNS pinpipe.cleaned_geo
    AS 'MODULE_PATHNAME', 'pinpipe_clean_geo_text'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pinpipe.clean_geo(text) IS 'clean_geo over JSON text, e.g. pinpipe.raw_pins.payload';

CREATE FUNCTION pinpipe.clean_user("user" jsonb) RETURNS pinpipe.cleaned_user
    AS 'MODULE_PATHNAME', 'pinpipe_clean_user'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pinpipe.clean_user(jsonb) IS 'Validate and clean one user record; structural errors raise with a SQLSTATE naming the field';
CREATE FUNCTION pinpipe.clean_user("user" text) RETURNS pinpipe.cleaned_user
    AS 'MODULE_PATHNAME', 'pinpipe_clean_user_text'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pinpipe.clean_user(text) IS 'clean_user over JSON text, e.g. pinpipe.raw_pins.payload';

-- Speed layer of the two streams: one cleaned row per accepted message, with the
-- source coordinates of pinpipe.pins (raw_id = raw_pins.id).
CREATE TABLE pinpipe.geo (
    raw_id       bigint      NOT NULL,
    received_at  timestamptz NOT NULL,
    source       text        NOT NULL,
    topic        text,
    "partition"  integer,
    "offset"     bigint,
    ind          integer     NOT NULL,
    "timestamp"  timestamptz,
    latitude     double precision,
    longitude    double precision,
    coordinates  double precision[],
    country      text,
    error_fields text[]      NOT NULL
);
CREATE INDEX geo_received_at_brin ON pinpipe.geo USING brin (received_at);
CREATE INDEX geo_raw_id_brin ON pinpipe.geo USING brin (raw_id);
CREATE INDEX geo_ind ON pinpipe.geo (ind);
COMMENT ON TABLE pinpipe.geo IS 'Speed layer: one cleaned geolocation row per accepted message; error_fields lists the fields that were empty or unparseable.';

CREATE TABLE pinpipe.users (
    raw_id       bigint      NOT NULL,
    received_at  timestamptz NOT NULL,
    source       text        NOT NULL,
    topic        text,
    "partition"  integer,
    "offset"     bigint,
    ind          integer     NOT NULL,
    first_name   text,
    last_name    text,
    user_name    text,
    age          integer     NOT NULL,
    date_joined  timestamptz,
    error_fields text[]      NOT NULL
);
CREATE INDEX users_received_at_brin ON pinpipe.users USING brin (received_at);
CREATE INDEX users_raw_id_brin ON pinpipe.users USING brin (raw_id);
CREATE INDEX users_ind ON pinpipe.users (ind);
COMMENT ON TABLE pinpipe.users IS 'Speed layer: one cleaned user row per accepted message; error_fields lists the fields that were empty or unparseable.';

SELECT pg_catalog.pg_extension_config_dump('pinpipe.geo', '');
SELECT pg_catalog.pg_extension_config_dump('pinpipe.users', '');
