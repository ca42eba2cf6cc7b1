-- ingest(jsonb): the sink from SQL — raw log, cleaned rows, aggregates, dead letters.
CREATE EXTENSION IF NOT EXISTS pinpipe;

\set pin '{"index": 1, "unique_id": "79dbcedb-4f96-4fcc-bcb2-70dc82f646e1", "title": "Meet The Enigmatic Aykut Aydoğdu Illustrations", "description": "A unique style…\u00a0", "poster_name": "Bored Panda", "follower_count": "2M", "tag_list": "Surealism Art,Surreal Artwork", "is_image_or_video": "image", "image_src": "https://i.pinimg.com/originals/ae.jpg", "downloaded": 1, "save_location": "Local save in /data/art", "category": "art"}'

-- One pin.
SELECT * FROM pinpipe.ingest(:'pin');

-- An array: good pins, a placeholder-laden one, and three that cannot be accepted.
SELECT * FROM pinpipe.ingest(jsonb_build_array(
    :'pin'::jsonb || '{"index": 2, "unique_id": "f0c7a5c5-9a0a-4788-a408-75ffc9ebff7a"}',
    :'pin'::jsonb || '{"index": 3, "unique_id": "a1b2c3d4-0000-4000-8000-000000000003", "follower_count": "User Info Error", "title": "No Title Data Available", "category": "travel", "is_image_or_video": "video"}',
    '{"index": 4}'::jsonb,
    '"just a string"'::jsonb,
    :'pin'::jsonb || '{"index": 5, "unique_id": "nope"}'));

SELECT ind, source, title, follower_count, tag_list, category, error_fields
FROM pinpipe.pins ORDER BY ind;

-- raw log and cleaned rows are linked, and every accepted message is in the raw log once
SELECT count(*) AS raw, count(DISTINCT r.id) AS distinct_ids,
       bool_and(r.payload::jsonb ->> 'index' = p.ind::text) AS linked
FROM pinpipe.raw_pins r JOIN pinpipe.pins p ON p.raw_id = r.id;

SELECT source, payload, error, field, sqlstate FROM pinpipe.dead_letters ORDER BY id;

SELECT category, posts, error_posts, follower_sum, follower_known, image_posts, video_posts,
       story_posts, other_media_posts, downloaded_posts
FROM pinpipe.category_minute ORDER BY category;

-- Empty array: nothing happens. NULL: STRICT.
SELECT * FROM pinpipe.ingest('[]');
SELECT * FROM pinpipe.ingest(NULL);

-- A record that fails at insert time (here a CHECK constraint a user added) is isolated
-- into dead_letters with its SQLSTATE; the pins beside it are accepted.
ALTER TABLE pinpipe.pins ADD CONSTRAINT no_poison CHECK (title IS DISTINCT FROM 'poison');
SELECT * FROM pinpipe.ingest((
    SELECT jsonb_agg(:'pin'::jsonb || jsonb_build_object(
        'index', 100 + i,
        'unique_id', format('00000000-0000-4000-8000-%s', lpad(i::text, 12, '0')),
        'title', CASE WHEN i IN (3, 17) THEN 'poison' ELSE 'fine ' || i END))
    FROM generate_series(1, 20) AS i));
SELECT count(*) FILTER (WHERE ind > 100) AS accepted_rows FROM pinpipe.pins;
SELECT payload::jsonb ->> 'index' AS ind, sqlstate, error FROM pinpipe.dead_letters
WHERE sqlstate = '23514' ORDER BY id;
ALTER TABLE pinpipe.pins DROP CONSTRAINT no_poison;

-- The same with a trigger that raises (P0001), and row triggers are honoured.
CREATE FUNCTION pg_temp.reject_spam() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.title = 'spam' THEN
        RAISE EXCEPTION 'spam is not welcome';
    END IF;
    NEW.title := upper(NEW.title);
    RETURN NEW;
END $$;
CREATE TRIGGER reject_spam BEFORE INSERT ON pinpipe.pins FOR EACH ROW EXECUTE FUNCTION pg_temp.reject_spam();
SELECT * FROM pinpipe.ingest(jsonb_build_array(
    :'pin'::jsonb || '{"index": 200, "title": "spam"}',
    :'pin'::jsonb || '{"index": 201, "title": "ham"}'));
SELECT ind, title FROM pinpipe.pins WHERE ind >= 200;
SELECT payload::jsonb ->> 'index' AS ind, sqlstate, error FROM pinpipe.dead_letters WHERE sqlstate = 'P0001';
DROP TRIGGER reject_spam ON pinpipe.pins;

-- ingest runs in the caller's transaction: a rollback removes everything it wrote.
BEGIN;
SELECT * FROM pinpipe.ingest(:'pin'::jsonb || '{"index": 300}');
ROLLBACK;
SELECT count(*) FROM pinpipe.pins WHERE ind = 300;

-- Privileges: EXECUTE is not granted to PUBLIC, and a caller needs INSERT on the tables.
CREATE ROLE pinpipe_regress_user;
GRANT USAGE ON SCHEMA pinpipe TO pinpipe_regress_user;
SET ROLE pinpipe_regress_user;
SELECT * FROM pinpipe.ingest(:'pin');
RESET ROLE;
GRANT EXECUTE ON FUNCTION pinpipe.ingest(jsonb) TO pinpipe_regress_user;
SET ROLE pinpipe_regress_user;
SELECT * FROM pinpipe.ingest(:'pin');
RESET ROLE;
REVOKE ALL ON SCHEMA pinpipe FROM pinpipe_regress_user;
REVOKE ALL ON FUNCTION pinpipe.ingest(jsonb) FROM pinpipe_regress_user;
DROP ROLE pinpipe_regress_user;

-- ingest_text: the same sink for text as received — NDJSON (a bad line is a dead letter,
-- blank lines are skipped), a JSON array, or one pin; the raw log keeps each message verbatim.
SELECT * FROM pinpipe.ingest_text(
    (:'pin'::jsonb || '{"index": 400}')::text || E'\n\n' || '{"index": 401' || E'\r\n' ||
    (:'pin'::jsonb || '{"index": 402}')::text || E'\n');
SELECT payload FROM pinpipe.dead_letters WHERE payload LIKE '{"index": 401%';
SELECT * FROM pinpipe.ingest_text('[' || (:'pin'::jsonb || '{"index": 403}')::text || ' ,  ' ||
    (:'pin'::jsonb || '{"index": 404}')::text || ']');
SELECT * FROM pinpipe.ingest_text(:'pin');
SELECT count(*) FROM pinpipe.raw_pins r JOIN pinpipe.pins p ON p.raw_id = r.id
WHERE p.ind IN (400, 402, 403, 404) AND r.payload::jsonb ->> 'index' = p.ind::text;
SELECT * FROM pinpipe.ingest_text('[' || :'pin' || ', {"index": ]');

-- Batches larger than the sink's internal chunk (1000 rows) and than one sink call (5000).
SELECT * FROM pinpipe.ingest((
    SELECT jsonb_agg(:'pin'::jsonb || jsonb_build_object('index', 10000 + i,
        'category', 'cat' || (i % 7), 'title', CASE WHEN i % 1000 = 0 THEN 'x' ELSE 'y' END))
    FROM generate_series(1, 6500) AS i));
SELECT count(*), count(DISTINCT raw_id), min(ind), max(ind) FROM pinpipe.pins WHERE ind > 10000;
SELECT sum(posts) FROM pinpipe.category_minute WHERE category LIKE 'cat%';

-- Clean up for the files that follow.
TRUNCATE pinpipe.raw_pins, pinpipe.pins, pinpipe.dead_letters, pinpipe.category_minute;
