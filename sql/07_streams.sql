-- The geo and user streams (DESIGN §10): clean_geo / clean_user, every validation
-- error with its SQLSTATE, and ingest(…, stream) into raw_pins, geo, users and
-- dead_letters beside the pins.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pinpipe;
RESET client_min_messages;
SET timezone = 'UTC';
TRUNCATE pinpipe.raw_pins, pinpipe.pins, pinpipe.geo, pinpipe.users, pinpipe.dead_letters,
         pinpipe.category_minute;

\set geo '{"ind": 2, "timestamp": "2022-03-14 04:34:13", "latitude": 17.5632, "longitude": 112.276, "country": "Gambia"}'
\set usr '{"ind": 2, "first_name": "Jesse", "last_name": "Daniels", "age": 32, "date_joined": "2016-05-28 21:22:35"}'

-- Real records, as jsonb and as text.
SELECT * FROM pinpipe.clean_geo(:'geo'::jsonb);
SELECT * FROM pinpipe.clean_geo(:'geo'::text);
SELECT * FROM pinpipe.clean_user(:'usr'::jsonb);
SELECT * FROM pinpipe.clean_user(:'usr'::text);
SELECT pinpipe.clean_geo(:'geo'::jsonb) = pinpipe.clean_geo(:'geo'::text) AS same_geo,
       pinpipe.clean_user(:'usr'::jsonb) = pinpipe.clean_user(:'usr'::text) AS same_user;

-- pydantic v1 lax coercion: numeric strings and booleans for numbers, numbers for str;
-- zones are honoured, no zone means UTC; white space (U+00A0 too) trimmed.
SELECT * FROM pinpipe.clean_geo('{"ind": "7", "timestamp": "2019-01-01T07:21:13+02:00", "latitude": " 1_0.5 ", "longitude": true, "country": 5, "extra": 1}');
SELECT * FROM pinpipe.clean_user(E'{"ind": 3.9, "first_name": " Amanda\\u00a0", "last_name": "Alvarez", "age": "21", "date_joined": "2015-10-30 01:31:09.25Z"}');

-- Empty strings, unparseable datetimes and impossible coordinates: NULL and listed.
SELECT * FROM pinpipe.clean_geo('{"ind": 1, "timestamp": "", "latitude": 91, "longitude": "-inf", "country": " "}');
SELECT * FROM pinpipe.clean_geo('{"ind": 1, "timestamp": "2019-02-29 00:00:00", "latitude": 0, "longitude": 0, "country": "X"}');
SELECT * FROM pinpipe.clean_user('{"ind": 1, "first_name": "", "last_name": "B", "age": 40, "date_joined": "yesterday"}');

-- Structural errors raise with a SQLSTATE naming the field.
\set VERBOSITY sqlstate
SELECT pinpipe.clean_geo('{"ind": 1}');
SELECT pinpipe.clean_geo('{"ind": 1, "timestamp": "t", "latitude": "north", "longitude": 0, "country": "X"}');
SELECT pinpipe.clean_geo('{"ind": 1, "timestamp": "t", "latitude": [1], "longitude": 0, "country": "X"}');
SELECT pinpipe.clean_geo('{"ind": 1, "timestamp": "t", "latitude": null, "longitude": 0, "country": "X"}');
SELECT pinpipe.clean_geo('{"ind": 3000000000, "timestamp": "t", "latitude": 0, "longitude": 0, "country": "X"}');
SELECT pinpipe.clean_geo('[1]');
SELECT pinpipe.clean_geo('{"ind": 1,'::text);
SELECT pinpipe.clean_user('{"ind": 1, "first_name": {}, "last_name": "B", "age": 1, "date_joined": "d"}');
SELECT pinpipe.clean_user('{"ind": 1, "first_name": "A", "last_name": "B", "age": "x", "date_joined": "d"}');
SELECT pinpipe.clean_user(E'{"ind": 1, "first_name": "A\\u0000", "last_name": "B", "age": 1, "date_joined": "d"}');
\set VERBOSITY default
SELECT pinpipe.clean_geo('{"ind": 1, "latitude": "north"}');
SELECT pinpipe.clean_user('"x"');

-- Ingest: the pin signatures are unchanged, the stream is a second argument.
SELECT * FROM pinpipe.ingest(jsonb_build_array(:'geo'::jsonb, :'geo'::jsonb || '{"ind": 3, "country": ""}',
                                               '{"ind": 4}'::jsonb, '"not a record"'::jsonb), 'geo');
SELECT * FROM pinpipe.ingest(:'usr'::jsonb, 'user');
SELECT * FROM pinpipe.ingest_text(:'usr' || E'\n{"ind": 5, "first_name": "A"}\n{broken\n', 'user');
-- a geo record sent as a pin is a dead letter of the pin stream
SELECT * FROM pinpipe.ingest(:'geo'::jsonb);
SELECT * FROM pinpipe.ingest(:'geo'::jsonb, 'pins');
SELECT * FROM pinpipe.ingest_text(:'geo', NULL);

SELECT stream, source, payload::jsonb->>'ind' AS ind FROM pinpipe.raw_pins ORDER BY id;
SELECT ind, "timestamp", coordinates, country, error_fields, source FROM pinpipe.geo ORDER BY raw_id;
SELECT ind, user_name, age, date_joined, error_fields FROM pinpipe.users ORDER BY raw_id;
SELECT stream, field, sqlstate, left(error, 60) AS error FROM pinpipe.dead_letters ORDER BY id;
-- every cleaned row points at its raw row, of its stream
SELECT (SELECT count(*) FROM pinpipe.geo g JOIN pinpipe.raw_pins r ON r.id = g.raw_id AND r.stream = 'geo') AS geo_linked,
       (SELECT count(*) FROM pinpipe.users u JOIN pinpipe.raw_pins r ON r.id = u.raw_id AND r.stream = 'user') AS users_linked;
-- only pins count in the live aggregates
SELECT count(*) FROM pinpipe.category_minute;

-- The raw log only takes the three streams.
\set VERBOSITY sqlstate
INSERT INTO pinpipe.raw_pins (source, payload, stream) VALUES ('sql', '{}', 'click');
\set VERBOSITY default

TRUNCATE pinpipe.raw_pins, pinpipe.pins, pinpipe.geo, pinpipe.users, pinpipe.dead_letters,
         pinpipe.category_minute;
