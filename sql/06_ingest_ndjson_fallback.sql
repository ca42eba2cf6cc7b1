-- ingest_text: a text that starts with '[' but is not one JSON array is NDJSON, read line
-- by line: a bad first line (even a well-formed array of its own) is a dead letter beside
-- the good pins, not an error that stores nothing. Only a one-line malformed array errs.
CREATE EXTENSION IF NOT EXISTS pinpipe;

\set pin '{"index": 1, "unique_id": "79dbcedb-4f96-4fcc-bcb2-70dc82f646e1", "title": "Meet The Enigmatic Aykut Aydoğdu Illustrations", "description": "A unique style", "poster_name": "Bored Panda", "follower_count": "2M", "tag_list": "Surealism Art,Surreal Artwork", "is_image_or_video": "image", "image_src": "https://i.pinimg.com/originals/ae.jpg", "downloaded": 1, "save_location": "Local save in /data/art", "category": "art"}'

CREATE TEMP TABLE before AS
SELECT (SELECT count(*) FROM pinpipe.pins) AS pins,
       (SELECT count(*) FROM pinpipe.dead_letters) AS dead;

-- '[1]' then two pins: the array line is a dead letter, both pins are stored
SELECT * FROM pinpipe.ingest_text(E'[1]\n' ||
    (:'pin'::jsonb || '{"index": 901}')::text || E'\n' ||
    (:'pin'::jsonb || '{"index": 902}')::text || E'\n');
-- a truncated array opening then a pin
SELECT * FROM pinpipe.ingest_text(E'[{"index": 903,\n' ||
    (:'pin'::jsonb || '{"index": 904}')::text || E'\n');
SELECT ind FROM pinpipe.pins WHERE ind BETWEEN 900 AND 999 ORDER BY ind;
SELECT payload, sqlstate FROM pinpipe.dead_letters
WHERE id > (SELECT max(id) FROM pinpipe.dead_letters) - 2 ORDER BY id;
SELECT (SELECT count(*) FROM pinpipe.pins) - pins AS new_pins,
       (SELECT count(*) FROM pinpipe.dead_letters) - dead AS new_dead_letters
FROM before;

-- a well-formed array over several lines is still one array
SELECT * FROM pinpipe.ingest_text(E'[\n' ||
    (:'pin'::jsonb || '{"index": 905}')::text || E',\n' ||
    (:'pin'::jsonb || '{"index": 906}')::text || E'\n]\n');
-- one line that is not a well-formed array stores nothing
SELECT * FROM pinpipe.ingest_text('[' || (:'pin'::jsonb || '{"index": 907}')::text || ', {"x": ');
SELECT count(*) AS arrays_stored FROM pinpipe.pins WHERE ind BETWEEN 905 AND 907;
