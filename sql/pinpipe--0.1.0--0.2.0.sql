-- pinpipe 0.1.0 -> 0.2.0 (ALTER EXTENSION pinpipe UPDATE TO '0.2.0')
--
-- Every schema change of 0.2.0 lands twice: in the install fragments
-- (sql/install/NN_*.sql, which build pinpipe--0.2.0.sql) and here, so that an
-- updated 0.1.0 database ends up identical to a fresh 0.2.0 install (the upgrade
-- test compares their catalogs). Keep the sections in the order of the fragments.
\echo Use "ALTER EXTENSION pinpipe UPDATE TO '0.2.0'" to load this file. \quit
