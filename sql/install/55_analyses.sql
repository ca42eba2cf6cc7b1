-- Analyses of the 2023 data set (issue 11 item 4): serving views over the batch
-- archive answering the questions the data set is used for. Each pin
-- (pinpipe_archive.pins, one row per unique_id) is joined to its geolocation
-- (pinpipe_archive.geo) or its user record (pinpipe_archive.users) on ind, the
-- pin's index; a pin without the record a question needs is not counted in it.
-- They read the archive only, so they show the state of the last run_batch.
--
-- Rules shared by all of them (docs/batch.md, "Analyses"):
-- * ties: "the most popular" and "the most followed" keep every tied row (rank 1);
-- * NULL: a row whose grouping value (category, country, poster_name, age group,
--   year) or measured value (follower_count) is NULL after cleaning is left out;
-- * years are of the UTC timestamp (geo "timestamp" for posts, users.date_joined);
-- * age groups: pinpipe.age_group(age), under 18 in none;
-- * median: percentile_cont(0.5), the mean of the two middle values of an even count;
-- * a pin is counted once per question: its poster's follower_count is that pin's.
-- Every column has a type Trino's PostgreSQL connector reads (sql/55_analyses.sql).

CREATE FUNCTION pinpipe.age_group(age integer) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT CASE
               WHEN age BETWEEN 18 AND 24 THEN '18-24'
               WHEN age BETWEEN 25 AND 35 THEN '25-35'
               WHEN age BETWEEN 36 AND 50 THEN '36-50'
               WHEN age > 50 THEN '+50'
           END
$$;
COMMENT ON FUNCTION pinpipe.age_group(integer) IS 'Age group of the analyses: 18-24, 25-35, 36-50, +50 (over 50); NULL under 18';

CREATE VIEW pinpipe.popular_category_by_country AS
WITH counts AS (
    SELECT g.country, p.category, count(*) AS category_count
      FROM pinpipe_archive.pins p
      JOIN pinpipe_archive.geo g ON g.ind = p.ind
     WHERE g.country IS NOT NULL AND p.category IS NOT NULL
     GROUP BY g.country, p.category),
ranked AS (
    SELECT c.*, rank() OVER (PARTITION BY c.country ORDER BY c.category_count DESC) AS r
      FROM counts c)
SELECT ranked.country, ranked.category, ranked.category_count
  FROM ranked
 WHERE ranked.r = 1;
COMMENT ON VIEW pinpipe.popular_category_by_country IS 'Analyses: the most posted category per country (pins joined to geo on ind; ties all kept)';

CREATE VIEW pinpipe.popular_category_by_year AS
WITH counts AS (
    SELECT extract(year FROM g."timestamp" AT TIME ZONE 'UTC')::integer AS post_year,
           p.category, count(*) AS category_count
      FROM pinpipe_archive.pins p
      JOIN pinpipe_archive.geo g ON g.ind = p.ind
     WHERE p.category IS NOT NULL
       AND extract(year FROM g."timestamp" AT TIME ZONE 'UTC') BETWEEN 2018 AND 2022
     GROUP BY 1, 2),
ranked AS (
    SELECT c.*, rank() OVER (PARTITION BY c.post_year ORDER BY c.category_count DESC) AS r
      FROM counts c)
SELECT ranked.post_year, ranked.category, ranked.category_count
  FROM ranked
 WHERE ranked.r = 1;
COMMENT ON VIEW pinpipe.popular_category_by_year IS 'Analyses: the most posted category per UTC year of the geo timestamp, 2018-2022 (ties all kept)';

CREATE VIEW pinpipe.top_user_by_country AS
WITH per_user AS (
    SELECT g.country, p.poster_name, max(p.follower_count) AS follower_count
      FROM pinpipe_archive.pins p
      JOIN pinpipe_archive.geo g ON g.ind = p.ind
     WHERE g.country IS NOT NULL AND p.poster_name IS NOT NULL AND p.follower_count IS NOT NULL
     GROUP BY g.country, p.poster_name),
ranked AS (
    SELECT u.*, rank() OVER (PARTITION BY u.country ORDER BY u.follower_count DESC) AS r
      FROM per_user u)
SELECT ranked.country, ranked.poster_name, ranked.follower_count
  FROM ranked
 WHERE ranked.r = 1;
COMMENT ON VIEW pinpipe.top_user_by_country IS 'Analyses: per country the poster with most followers (greatest follower_count of their pins there; ties all kept)';

CREATE VIEW pinpipe.popular_category_by_age_group AS
WITH counts AS (
    SELECT pinpipe.age_group(u.age) AS age_group, p.category, count(*) AS category_count
      FROM pinpipe_archive.pins p
      JOIN pinpipe_archive.users u ON u.ind = p.ind
     WHERE p.category IS NOT NULL AND pinpipe.age_group(u.age) IS NOT NULL
     GROUP BY 1, 2),
ranked AS (
    SELECT c.*, rank() OVER (PARTITION BY c.age_group ORDER BY c.category_count DESC) AS r
      FROM counts c)
SELECT ranked.age_group, ranked.category, ranked.category_count
  FROM ranked
 WHERE ranked.r = 1;
COMMENT ON VIEW pinpipe.popular_category_by_age_group IS 'Analyses: the most posted category per age group of the user record (ties all kept)';

CREATE VIEW pinpipe.median_followers_by_age_group AS
SELECT pinpipe.age_group(u.age) AS age_group,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY p.follower_count) AS median_follower_count
  FROM pinpipe_archive.pins p
  JOIN pinpipe_archive.users u ON u.ind = p.ind
 WHERE p.follower_count IS NOT NULL AND pinpipe.age_group(u.age) IS NOT NULL
 GROUP BY 1;
COMMENT ON VIEW pinpipe.median_followers_by_age_group IS 'Analyses: median follower_count (percentile_cont 0.5) of the pins per age group of their user record';

CREATE VIEW pinpipe.median_followers_by_join_year AS
SELECT extract(year FROM u.date_joined AT TIME ZONE 'UTC')::integer AS join_year,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY p.follower_count) AS median_follower_count
  FROM pinpipe_archive.pins p
  JOIN pinpipe_archive.users u ON u.ind = p.ind
 WHERE p.follower_count IS NOT NULL
   AND extract(year FROM u.date_joined AT TIME ZONE 'UTC') BETWEEN 2015 AND 2020
 GROUP BY 1;
COMMENT ON VIEW pinpipe.median_followers_by_join_year IS 'Analyses: median follower_count (percentile_cont 0.5) of the pins per UTC year their user joined, 2015-2020';

CREATE VIEW pinpipe.median_followers_by_join_year_age_group AS
SELECT pinpipe.age_group(u.age) AS age_group,
       extract(year FROM u.date_joined AT TIME ZONE 'UTC')::integer AS join_year,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY p.follower_count) AS median_follower_count
  FROM pinpipe_archive.pins p
  JOIN pinpipe_archive.users u ON u.ind = p.ind
 WHERE p.follower_count IS NOT NULL AND pinpipe.age_group(u.age) IS NOT NULL
   AND extract(year FROM u.date_joined AT TIME ZONE 'UTC') BETWEEN 2015 AND 2020
 GROUP BY 1, 2;
COMMENT ON VIEW pinpipe.median_followers_by_join_year_age_group IS 'Analyses: median follower_count (percentile_cont 0.5) of the pins per age group and UTC joining year (2015-2020) of their user';

-- A user is a person, not a record: the data set repeats a user's record (same
-- name, same date_joined) under every ind they posted with, so users are counted
-- by distinct (user_name, date_joined); a record without user_name is not counted.
CREATE VIEW pinpipe.users_joined_by_year AS
SELECT d.join_year, count(*) AS number_users_joined
  FROM (SELECT DISTINCT extract(year FROM u.date_joined AT TIME ZONE 'UTC')::integer AS join_year,
               u.user_name, u.date_joined
          FROM pinpipe_archive.users u
         WHERE u.user_name IS NOT NULL
           AND extract(year FROM u.date_joined AT TIME ZONE 'UTC') BETWEEN 2015 AND 2020) d
 GROUP BY d.join_year;
COMMENT ON VIEW pinpipe.users_joined_by_year IS 'Analyses: users (distinct user_name and date_joined) per UTC joining year, 2015-2020';
