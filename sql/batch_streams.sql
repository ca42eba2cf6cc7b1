-- Batch layer of the geo and user streams: run_batch archives them beside the pins,
-- one row per ind (latest event wins), partitioned by day, rejects recorded,
-- idempotent, full rebuild = incremental. Raw events are written straight into the
-- raw log with fixed received_at so days are deterministic.
\i sql/include/batch_fixture.sql
SET timezone = 'UTC';

CREATE FUNCTION pp_geo(ind int, country text, lat float8 DEFAULT 1.5) RETURNS text
LANGUAGE sql AS $$
  SELECT json_build_object('ind', ind, 'timestamp', '2020-01-02 03:04:05', 'latitude', lat,
                           'longitude', -2.25, 'country', country)::text
$$;
CREATE FUNCTION pp_user(ind int, first text, age int DEFAULT 30) RETURNS text
LANGUAGE sql AS $$
  SELECT json_build_object('ind', ind, 'first_name', first, 'last_name', 'Smith', 'age', age,
                           'date_joined', '2016-05-28 21:22:35')::text
$$;
CREATE FUNCTION pp_digest() RETURNS text
LANGUAGE sql AS $$
  SELECT md5(coalesce((SELECT string_agg(g::text, '|' ORDER BY g.ind) FROM pinpipe_archive.geo g), '')
          || coalesce((SELECT string_agg(u::text, '|' ORDER BY u.ind) FROM pinpipe_archive.users u), ''))
$$;

SELECT pp_raw('2024-03-01 10:00+00', 'geo', pp_geo(1, 'Albania'));
SELECT pp_raw('2024-03-01 11:00+00', 'geo', pp_geo(2, 'Gambia'));
SELECT pp_raw('2024-03-02 09:00+00', 'geo', pp_geo(1, 'Aruba', 2.5));     -- a newer version of ind 1
SELECT pp_raw('2024-03-01 12:00+00', 'user', pp_user(1, 'Adam'));
SELECT pp_raw('2024-03-01 12:00+00', 'user', pp_user(2, ''));             -- flagged, still archived
SELECT pp_raw('2024-03-01 13:00+00', 'user', '{"ind": 3, "first_name": "x"}');  -- no longer cleans
SELECT * FROM pinpipe.ingest_text('{"index": 1}');                          -- a pin dead letter: no raw row
CALL pinpipe.run_batch();
SELECT status, raw_rows, rejected_rows, pins_written, geo_written, users_written FROM pinpipe.batch_runs ORDER BY id;
SELECT day, ind, events, first_received_at, received_at, coordinates, country, is_error FROM pinpipe_archive.geo ORDER BY ind;
SELECT day, ind, events, user_name, age, date_joined, error_fields FROM pinpipe_archive.users ORDER BY ind;
SELECT r.sqlstate, left(r.error, 50) AS error FROM pinpipe.batch_rejects r ORDER BY raw_id;
SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
 WHERE i.inhparent IN ('pinpipe_archive.geo'::regclass, 'pinpipe_archive.users'::regclass) ORDER BY 1;
SELECT count(*) AS pins_archived FROM pinpipe_archive.pins;

-- Nothing new: nothing changes.
SELECT pp_digest() AS before \gset
CALL pinpipe.run_batch();
SELECT pp_digest() = :'before' AS unchanged, (SELECT raw_rows FROM pinpipe.batch_runs ORDER BY id DESC LIMIT 1) AS raw_rows;

-- A late event (older than the archived one) counts but does not win; a newer one
-- moves the row to its day's partition.
SELECT pp_raw('2024-02-28 08:00+00', 'geo', pp_geo(2, 'Late'));
SELECT pp_raw('2024-03-05 08:00+00', 'user', pp_user(1, 'Eve', 41));
CALL pinpipe.run_batch();
SELECT day, ind, events, country FROM pinpipe_archive.geo ORDER BY ind;
SELECT day, ind, events, user_name, age FROM pinpipe_archive.users ORDER BY ind;
SELECT tableoid::regclass AS part, ind FROM pinpipe_archive.users ORDER BY ind;

-- The full rebuild gives the same archive.
SELECT pp_digest() AS incremental \gset
CALL pinpipe.run_batch(full => true);
SELECT pp_digest() = :'incremental' AS full_equals_incremental;
SELECT status, raw_rows, rejected_rows, geo_written, users_written FROM pinpipe.batch_runs ORDER BY id DESC LIMIT 1;
SELECT count(*) AS pending FROM pinpipe.pending_raw_pins;

-- Retention drops the archived speed-layer rows of the streams too.
SELECT * FROM pinpipe.ingest(pp_geo(9, 'Now')::jsonb, 'geo');
UPDATE pinpipe.raw_pins SET received_at = now() - interval '10 days' WHERE stream = 'geo' AND payload LIKE '%"Now"%';
UPDATE pinpipe.geo SET received_at = now() - interval '10 days' WHERE ind = 9;
CALL pinpipe.run_batch();
SELECT * FROM pinpipe.apply_retention(5);
SELECT count(*) AS geo_speed_rows FROM pinpipe.geo;
SELECT ind, country FROM pinpipe_archive.geo WHERE ind = 9;

DROP FUNCTION pp_geo(int, text, float8), pp_user(int, text, int), pp_digest();
\i sql/include/batch_fixture_end.sql
