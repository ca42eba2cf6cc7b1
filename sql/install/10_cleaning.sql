-- Cleaning functions (DESIGN §3, §5): thin wrappers over src/clean.c.

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

CREATE FUNCTION pinpipe.clean_pin(
        pin jsonb,
        OUT ind integer,
        OUT unique_id uuid,
        OUT title text,
        OUT description text,
        OUT poster_name text,
        OUT follower_count bigint,
        OUT tag_list text[],
        OUT is_image_or_video text,
        OUT image_src text,
        OUT downloaded integer,
        OUT save_location text,
        OUT category text,
        OUT error_fields text[])
    RETURNS record
    AS 'MODULE_PATHNAME', 'pinpipe_clean_pin'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pinpipe.clean_pin(jsonb) IS 'Validate and clean one pin; structural errors raise with a SQLSTATE naming the field';

-- The same over the message text as received (what raw_pins.payload holds).
CREATE FUNCTION pinpipe.clean_pin(
        pin text,
        OUT ind integer,
        OUT unique_id uuid,
        OUT title text,
        OUT description text,
        OUT poster_name text,
        OUT follower_count bigint,
        OUT tag_list text[],
        OUT is_image_or_video text,
        OUT image_src text,
        OUT downloaded integer,
        OUT save_location text,
        OUT category text,
        OUT error_fields text[])
    RETURNS record
    AS 'MODULE_PATHNAME', 'pinpipe_clean_pin_text'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION pinpipe.clean_pin(text) IS 'clean_pin over JSON text, e.g. pinpipe.raw_pins.payload';
