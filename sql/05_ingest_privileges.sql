-- ingest() and ingest_text() run with the caller's privileges, like INSERT: they need
-- what an INSERT into each table the sink writes needs (raw_pins and its sequence, pins,
-- dead_letters, category_minute), and never write past row-level security.
CREATE EXTENSION IF NOT EXISTS pinpipe;

\set pin '{"index": 1, "unique_id": "79dbcedb-4f96-4fcc-bcb2-70dc82f646e1", "title": "t", "description": "d", "poster_name": "p", "follower_count": "2k", "tag_list": "a,b", "is_image_or_video": "image", "image_src": "https://i.pinimg.com/x.jpg", "downloaded": 1, "save_location": "Local save in /data", "category": "art"}'
\set travel '{"index": 2, "unique_id": "f0c7a5c5-9a0a-4788-a408-75ffc9ebff7a", "title": "t", "description": "d", "poster_name": "p", "follower_count": "2k", "tag_list": "a,b", "is_image_or_video": "video", "image_src": "https://i.pinimg.com/x.jpg", "downloaded": 1, "save_location": "Local save in /data", "category": "travel"}'

-- A role with exactly the privileges a plain INSERT into every sink table needs.
CREATE ROLE pinpipe_priv_user;
GRANT USAGE ON SCHEMA pinpipe TO pinpipe_priv_user;
GRANT EXECUTE ON FUNCTION pinpipe.ingest(jsonb), pinpipe.ingest_text(text) TO pinpipe_priv_user;
GRANT SELECT, INSERT ON pinpipe.raw_pins, pinpipe.pins, pinpipe.dead_letters TO pinpipe_priv_user;
GRANT SELECT, INSERT, UPDATE ON pinpipe.category_minute TO pinpipe_priv_user;
GRANT USAGE ON SEQUENCE pinpipe.raw_pins_id_seq TO pinpipe_priv_user;

SET ROLE pinpipe_priv_user;
SELECT * FROM pinpipe.ingest(:'pin');
SELECT * FROM pinpipe.ingest_text(:'travel' || E'\n{"index": 3}\n');
RESET ROLE;

-- Without USAGE on the raw log's sequence an INSERT fails, and so does ingest().
REVOKE USAGE ON SEQUENCE pinpipe.raw_pins_id_seq FROM pinpipe_priv_user;
SET ROLE pinpipe_priv_user;
INSERT INTO pinpipe.raw_pins (source, payload) VALUES ('sql', :'pin');
SELECT * FROM pinpipe.ingest(:'pin');
SELECT * FROM pinpipe.ingest_text(:'pin');
-- a batch with only dead letters takes no number from it: as INSERT, nothing to check
SELECT * FROM pinpipe.ingest_text('{"index": 4}');
RESET ROLE;
-- UPDATE on the sequence is enough for nextval(), for INSERT and ingest() alike
GRANT UPDATE ON SEQUENCE pinpipe.raw_pins_id_seq TO pinpipe_priv_user;
SET ROLE pinpipe_priv_user;
SELECT * FROM pinpipe.ingest(:'pin');
RESET ROLE;
REVOKE UPDATE ON SEQUENCE pinpipe.raw_pins_id_seq FROM pinpipe_priv_user;
GRANT USAGE ON SEQUENCE pinpipe.raw_pins_id_seq TO pinpipe_priv_user;

-- dead_letters.id is an identity column: INSERT takes its number without USAGE on the
-- sequence, and so does the sink.
DO $$
BEGIN
    EXECUTE format('REVOKE ALL ON SEQUENCE %s FROM pinpipe_priv_user',
                   pg_get_serial_sequence('pinpipe.dead_letters', 'id'));
END $$;
SET ROLE pinpipe_priv_user;
SELECT * FROM pinpipe.ingest_text('{"index": 5}');
RESET ROLE;

-- Table privileges: INSERT on each table, as an INSERT needs.
REVOKE INSERT ON pinpipe.dead_letters FROM pinpipe_priv_user;
SET ROLE pinpipe_priv_user;
SELECT * FROM pinpipe.ingest_text('{"index": 6}');
RESET ROLE;
GRANT INSERT ON pinpipe.dead_letters TO pinpipe_priv_user;
-- Column grants: the sink fills every column, so INSERT on all of them is enough, as for
-- an INSERT that names them all; without one of them it is refused.
REVOKE INSERT ON pinpipe.pins FROM pinpipe_priv_user;
DO $$
BEGIN
    EXECUTE format('GRANT INSERT (%s) ON pinpipe.pins TO pinpipe_priv_user',
                   (SELECT string_agg(quote_ident(attname), ', ') FROM pg_attribute
                     WHERE attrelid = 'pinpipe.pins'::regclass AND attnum > 0 AND NOT attisdropped));
END $$;
SET ROLE pinpipe_priv_user;
SELECT * FROM pinpipe.ingest(:'pin');
RESET ROLE;
REVOKE INSERT (title) ON pinpipe.pins FROM pinpipe_priv_user;
SET ROLE pinpipe_priv_user;
SELECT * FROM pinpipe.ingest(:'pin');
RESET ROLE;
GRANT INSERT ON pinpipe.pins TO pinpipe_priv_user;
REVOKE UPDATE ON pinpipe.category_minute FROM pinpipe_priv_user;
SET ROLE pinpipe_priv_user;
SELECT * FROM pinpipe.ingest(:'pin');
RESET ROLE;
GRANT UPDATE ON pinpipe.category_minute TO pinpipe_priv_user;

-- Row-level security on pins that forbids this role's travel pins: INSERT is refused,
-- and ingest() refuses too (42501 with a hint) instead of writing past the policy.
ALTER TABLE pinpipe.pins ENABLE ROW LEVEL SECURITY;
CREATE POLICY pins_art_only ON pinpipe.pins FOR INSERT TO pinpipe_priv_user
    WITH CHECK (category = 'art');
CREATE POLICY pins_read ON pinpipe.pins FOR SELECT TO pinpipe_priv_user USING (true);
SET ROLE pinpipe_priv_user;
INSERT INTO pinpipe.pins (raw_id, received_at, source, ind, unique_id, downloaded, error_fields, category)
VALUES (0, now(), 'sql', 2, gen_random_uuid(), 0, '{}', 'travel');
\set VERBOSITY sqlstate
SELECT * FROM pinpipe.ingest(:'travel');
\set VERBOSITY default
SELECT * FROM pinpipe.ingest_text(:'travel');
SELECT * FROM pinpipe.ingest(jsonb_build_array(:'pin'::jsonb, :'travel'::jsonb));
RESET ROLE;
-- the owner (a superuser here) is not subject to the policy: the sink writes as usual
SELECT * FROM pinpipe.ingest(:'travel');
-- with row_security off, a role subject to a policy gets INSERT's error
SET ROLE pinpipe_priv_user;
SET row_security = off;
SELECT * FROM pinpipe.ingest(:'travel');
RESET row_security;
RESET ROLE;
DROP POLICY pins_art_only ON pinpipe.pins;
DROP POLICY pins_read ON pinpipe.pins;
ALTER TABLE pinpipe.pins DISABLE ROW LEVEL SECURITY;

-- The same for every other table the sink writes, whatever the policy says.
CREATE FUNCTION pg_temp.try_with_rls(tbl regclass, payload text, allowed text DEFAULT 'true') RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    st text;
    msg text;
BEGIN
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
    EXECUTE format('CREATE POLICY allow_all ON %s TO pinpipe_priv_user USING (true) WITH CHECK (%s)',
                   tbl, allowed);
    BEGIN
        SET LOCAL ROLE pinpipe_priv_user;
        PERFORM pinpipe.ingest_text(payload);
        st := 'written';
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
        st := st || ': ' || msg;
    END;
    RESET ROLE;
    EXECUTE format('DROP POLICY allow_all ON %s', tbl);
    EXECUTE format('ALTER TABLE %s DISABLE ROW LEVEL SECURITY', tbl);
    RETURN st;
END $$;
SELECT pg_temp.try_with_rls('pinpipe.raw_pins', :'pin') AS raw_pins;
SELECT pg_temp.try_with_rls('pinpipe.dead_letters', '{"index": 7}') AS dead_letters;
-- category_minute is written by an ordinary INSERT … ON CONFLICT: its policies apply as such
SELECT pg_temp.try_with_rls('pinpipe.category_minute', :'pin') AS category_minute;
SELECT pg_temp.try_with_rls('pinpipe.category_minute', :'pin', 'false') AS category_minute;

-- What was written, as the superuser sees it.
SELECT p.ind, p.category, r.source FROM pinpipe.pins p JOIN pinpipe.raw_pins r ON r.id = p.raw_id
ORDER BY r.id;
SELECT payload, sqlstate FROM pinpipe.dead_letters ORDER BY id;

DROP OWNED BY pinpipe_priv_user;
DROP ROLE pinpipe_priv_user;
TRUNCATE pinpipe.raw_pins, pinpipe.pins, pinpipe.dead_letters, pinpipe.category_minute;
