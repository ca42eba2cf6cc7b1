-- The analyses' views (sql/install/55_analyses.sql) on a small hand-made archive:
-- ties (all kept), NULLs after cleaning (left out), age-group boundaries
-- (17/18, 24/25, 35/36, 50/51), years outside the ranges, UTC years of
-- timestamps with a zone, even and odd medians, a user repeated under several ind,
-- pins without a geo or user record and records without a pin.
\i sql/include/batch_fixture.sql
SET timezone = 'UTC';

CREATE FUNCTION pp_geo(ind int, country text, ts text) RETURNS text
LANGUAGE sql AS $$
  SELECT json_build_object('ind', ind, 'timestamp', ts, 'latitude', 1.5, 'longitude', -2.25,
                           'country', country)::text
$$;
CREATE FUNCTION pp_user(ind int, first text, last text, age int, joined text) RETURNS text
LANGUAGE sql AS $$
  SELECT json_build_object('ind', ind, 'first_name', first, 'last_name', last, 'age', age,
                           'date_joined', joined)::text
$$;

-- The age groups, at their boundaries.
SELECT a AS age, pinpipe.age_group(a)
  FROM unnest(ARRAY[0, 17, 18, 24, 25, 35, 36, 50, 51, 120, NULL]) AS a;

-- Pins 1-10 and their geolocations: pp_pin(ind, category, title, followers, tags, media, poster).
SELECT count(*) AS events
  FROM (SELECT pp_raw('2025-01-01 09:00+00', pp_pin(2, 'travel', 'T', '1k', 'a', 'image', 'Bob'))) e;  -- pin 2, then replaced by its 10:00 event
SELECT count(*) AS events
  FROM (SELECT pp_raw('2025-01-01 10:00+00', p)
          FROM unnest(ARRAY[
    pp_pin(1, 'art', 'T', '5k', 'a', 'image', 'Ann'),
    pp_pin(2, 'art', 'T', '7k', 'a', 'image', 'Bob'),              -- the latest event of pin 2
    pp_pin(3, 'travel', 'T', '9k', 'a', 'image', 'Ann'),
    pp_pin(4, 'art', 'T', '2k', 'a', 'image', 'Cy'),
    pp_pin(5, 'travel', 'T', '2k', 'a', 'image', 'Di'),
    pp_pin(6, '', 'T', '1M', 'a', 'image', 'User Info Error'),     -- no category, no poster
    pp_pin(7, ' ', 'T', 'User Info Error', 'a', 'image', 'Ed'),   -- no category, no followers
    pp_pin(8, 'art', 'T', '99M', 'a', 'image', 'Zed'),
    pp_pin(9, 'quotes', 'T', '15M', 'a', 'image', 'Flo'),
    pp_pin(10, 'art', 'T', '1k', 'a', 'image', 'Nobody')]) AS p) e;   -- no geo, no user record
SELECT count(*) AS events
  FROM (SELECT pp_raw('2025-01-01 11:00+00', 'geo', g)
          FROM unnest(ARRAY[
    pp_geo(1, 'Aland', '2018-03-01 10:00:00'),
    pp_geo(2, 'Aland', '2018-05-01 10:00:00'),
    pp_geo(3, 'Aland', '2019-01-01 00:00:00'),
    pp_geo(4, 'Benin', '2019-06-01 10:00:00'),
    pp_geo(5, 'Benin', '2017-12-31 23:59:59'),          -- before 2018
    pp_geo(6, 'Benin', '2022-01-01 10:00:00'),
    pp_geo(7, 'Benin', '2022-02-01 10:00:00'),
    pp_geo(8, '', '2023-01-01 00:00:00'),                -- no country; after 2022
    pp_geo(9, 'Cuba', '2019-12-31 23:30:00-02:00'),     -- 2020 in UTC
    pp_geo(99, 'Aland', '2020-01-01 00:00:00')]) AS g) e;  -- no pin

-- Pins 20-33 and their users; users 40 and 41 have no pin.
SELECT count(*) AS events
  FROM (SELECT pp_raw('2025-01-01 12:00+00', p)
          FROM unnest(ARRAY[
    pp_pin(20, 'art', 'T', '100'), pp_pin(21, 'art', 'T', '1k'), pp_pin(22, 'travel', 'T', '3k'),
    pp_pin(23, 'travel', 'T', '2k'), pp_pin(24, 'travel', 'T', '4k'), pp_pin(25, 'quotes', 'T', '10'),
    pp_pin(26, 'quotes', 'T', '20'), pp_pin(27, 'art', 'T', '5M'),
    pp_pin(28, '', 'T', 'User Info Error'),
    pp_pin(29, 'quotes', 'T', '30'), pp_pin(30, 'art', 'T', '6k'), pp_pin(31, 'art', 'T', '8k'),
    pp_pin(32, 'art', 'T', '7k'), pp_pin(33, 'art', 'T', '9M')]) AS p) e;
SELECT count(*) AS events
  FROM (SELECT pp_raw('2025-01-01 13:00+00', 'user', u)
          FROM unnest(ARRAY[
    pp_user(20, 'Kid', 'A', 17, '2016-01-01 00:00:00'),
    pp_user(21, 'Amy', 'B', 18, '2016-03-01 10:00:00'),
    pp_user(22, 'Amy', 'B', 24, '2016-03-01 10:00:00'),    -- the same user as ind 21
    pp_user(23, 'Cal', 'C', 25, '2015-01-01 00:00:00'),
    pp_user(24, 'Dan', 'D', 35, '2015-12-31 23:59:59'),
    pp_user(25, 'Eli', 'E', 36, '2020-01-01 00:00:00'),
    pp_user(26, 'Fay', 'F', 50, '2020-06-01 00:00:00'),
    pp_user(27, 'Gus', 'G', 51, '2021-01-01 00:00:00'),    -- after 2020
    pp_user(28, 'Hal', 'H', 60, '2014-12-31 23:59:59'),    -- before 2015
    pp_user(29, 'Ivy', 'I', 40, '2020-12-31 23:59:59'),
    pp_user(30, '', 'J', 30, '2015-06-01 00:00:00'),       -- no first name: no user_name
    pp_user(31, 'Jo', 'K', 22, '2016-12-31 23:00:00-05:00'),  -- 2017 in UTC
    pp_user(32, 'Lu', 'L', 33, '2019-06-01 00:00:00'),
    pp_user(33, 'Kim', 'M', 45, '2014-06-01 00:00:00'),    -- before 2015
    pp_user(40, 'Amy', 'B', 19, '2016-03-01 10:00:00'),    -- ind 21's user again, no pin
    pp_user(41, 'Amy', 'B', 30, '2016-07-01 00:00:00')]) AS u) e;  -- another Amy B

CALL pinpipe.run_batch();
SELECT status, raw_rows, rejected_rows, pins_written, geo_written, users_written
  FROM pinpipe.batch_runs ORDER BY id DESC LIMIT 1;
SELECT ind, category, poster_name, follower_count FROM pinpipe_archive.pins ORDER BY ind;

-- Aland: art 2, travel 1. Benin: art and travel tie at 1 (two NULL categories left
-- out). Cuba: quotes. Pin 8 has no country, pin 10 no geo record.
SELECT * FROM pinpipe.popular_category_by_country ORDER BY country, category;
-- 2018: art; 2019: art and travel tie; 2020: quotes (pin 9, 2019 in its own zone);
-- 2022 has only NULL categories, 2017 and 2023 are outside the range.
SELECT * FROM pinpipe.popular_category_by_year ORDER BY post_year, category;
-- Aland: Ann with her greatest count (9k beats Bob's 7k); Benin: Cy and Di tie at 2k
-- (pin 6's 1M has no poster, pin 7's poster no count); Cuba: Flo.
SELECT * FROM pinpipe.top_user_by_country ORDER BY country, poster_name;
-- 18-24 (18, 22, 24): art 2; 25-35 (25, 30, 33, 35): art and travel tie; 36-50
-- (36, 40, 45, 50): quotes; +50 (51, 60): art, pin 28's NULL category left out; 17: none.
SELECT * FROM pinpipe.popular_category_by_age_group ORDER BY age_group COLLATE "C", category;
-- 18-24: 1000 3000 8000 → 3000; 25-35: 2000 4000 6000 7000 → 5000; 36-50: 10 20 30
-- 9000000 → 25; +50: 5000000 (pin 28 has no follower count).
SELECT * FROM pinpipe.median_followers_by_age_group ORDER BY age_group COLLATE "C";
-- 2015: 2000 4000 6000; 2016: 100 1000 3000; 2017: 8000 (UTC); 2019: 7000; 2020:
-- 10 20 30; 2014 and 2021 outside the range.
SELECT * FROM pinpipe.median_followers_by_join_year ORDER BY join_year;
SELECT * FROM pinpipe.median_followers_by_join_year_age_group ORDER BY age_group COLLATE "C", join_year;
-- 2015: Cal, Dan (ind 30 has no user_name); 2016: Kid, Amy B (inds 21, 22, 40) and
-- the other Amy B; 2017: Jo; 2019: Lu; 2020: Eli, Fay, Ivy.
SELECT * FROM pinpipe.users_joined_by_year ORDER BY join_year;

-- A median of an even count is the mean of the two middle values, not one of them.
SELECT count(*) AS events
  FROM (SELECT pp_raw('2025-01-02 10:00+00', s, r)
          FROM (VALUES ('pin', pp_pin(50, 'art', 'T', '1000')),
               ('user', pp_user(50, 'Max', 'N', 18, '2018-01-01 00:00:00')),
               ('pin', pp_pin(51, 'art', 'T', '1001')),
               ('user', pp_user(51, 'Ned', 'O', 18, '2018-01-01 00:00:00'))) AS e(s, r)) e;
CALL pinpipe.run_batch();
SELECT * FROM pinpipe.median_followers_by_join_year WHERE join_year = 2018;

-- Types Trino's PostgreSQL connector reads, in every view.
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) AS type
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'pinpipe' AND a.attnum > 0
   AND c.relname IN ('popular_category_by_country', 'popular_category_by_year', 'top_user_by_country',
                     'popular_category_by_age_group', 'median_followers_by_age_group',
                     'median_followers_by_join_year', 'median_followers_by_join_year_age_group',
                     'users_joined_by_year')
 ORDER BY c.relname, a.attnum;

-- Empty archive, empty answers.
TRUNCATE pinpipe_archive.pins, pinpipe_archive.geo, pinpipe_archive.users;
SELECT (SELECT count(*) FROM pinpipe.popular_category_by_country) + (SELECT count(*) FROM pinpipe.users_joined_by_year)
       + (SELECT count(*) FROM pinpipe.median_followers_by_age_group) AS rows_without_archive;

DROP FUNCTION pp_geo(int, text, text), pp_user(int, text, text, int, text);
-- the archive partitions of this test's days (other tests list theirs)
DROP TABLE pinpipe_archive.pins_20250101, pinpipe_archive.pins_20250102, pinpipe_archive.geo_20250101,
           pinpipe_archive.users_20250101, pinpipe_archive.users_20250102;
\i sql/include/batch_fixture_end.sql
