-- Cleaning functions (DESIGN §3, §5): thin wrappers over src/core/clean.c.

CREATE FUNCTION pinpipe.parse_follower_count(text) RETURNS bigint
    AS 'MODULE_PATHNAME', 'pinpipe_parse_follower_count'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pinpipe.parse_follower_count(text) IS '"972" → 972, "5k" → 5000, "1.5M" → 1500000; placeholders and junk → NULL';

CREATE FUNCTION pinpipe.parse_tag_list(text) RETURNS text[]
    AS 'MODULE_PATHNAME', 'pinpipe_parse_tag_list'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pinpipe.parse_tag_list(text) IS 'Split on commas, trim, drop empties; the "No Tags Available" placeholder → NULL';

CREATE FUNCTION pinpipe.clean_save_location(text) RETURNS text
    AS 'MODULE_PATHNAME', 'pinpipe_clean_save_location'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pinpipe.clean_save_location(text) IS '"Local save in /data/art" → "/data/art"';

-- The cleaned columns of a pin, in this order: clean_pin's result, and the names of the
-- cleaned part of pinpipe.pins (src/write/pin_datum.c fills them in this order).
CREATE TYPE pinpipe.cleaned_pin AS (
    ind               integer,
    unique_id         uuid,
    title             text,
    description       text,
    poster_name       text,
    follower_count    bigint,
    tag_list          text[],
    is_image_or_video text,
    image_src         text,
    downloaded        integer,
    save_location     text,
    category          text,
    error_fields      text[]
);
COMMENT ON TYPE pinpipe.cleaned_pin IS 'A cleaned pin: the result of clean_pin and the cleaned columns of pinpipe.pins';

CREATE FUNCTION pinpipe.clean_pin(pin jsonb) RETURNS pinpipe.cleaned_pin
    AS 'MODULE_PATHNAME', 'pinpipe_clean_pin'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pinpipe.clean_pin(jsonb) IS 'Validate and clean one pin; structural errors raise with a SQLSTATE naming the field';

-- The same over the message text as received (what raw_pins.payload holds).
CREATE FUNCTION pinpipe.clean_pin(pin text) RETURNS pinpipe.cleaned_pin
    AS 'MODULE_PATHNAME', 'pinpipe_clean_pin_text'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pinpipe.clean_pin(text) IS 'clean_pin over JSON text, e.g. pinpipe.raw_pins.payload';

-- The media class behind every media count, live (category_minute) and batch
-- (category_daily, the serving views): one rule, in src/core/clean.c.
CREATE FUNCTION pinpipe.media_class(is_image_or_video text) RETURNS text
    AS 'MODULE_PATHNAME', 'pinpipe_media_class'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pinpipe.media_class(text) IS 'Media class of a cleaned is_image_or_video: image, video, story (any multi-video… value) or other; NULL for NULL, which the counts take as other';
