-- Trino's PostgreSQL connector must be able to read every pinpipe_archive column:
-- text, bigint, integer, boolean, date, timestamptz, uuid, double precision, and
-- one-dimensional arrays of those (with postgresql.array-mapping = AS_ARRAY).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pinpipe;
RESET client_min_messages;
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) AS type
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'pinpipe_archive' AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
   AND NOT c.relispartition AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY c.relname, a.attnum;

-- Violations over every relation, partitions included.
CREATE VIEW pp_trino_violations AS
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) AS type
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_type t ON t.oid = a.atttypid
  LEFT JOIN pg_type e ON e.oid = t.typelem AND t.typcategory = 'A'
 WHERE n.nspname = 'pinpipe_archive' AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
   AND a.attnum > 0 AND NOT a.attisdropped
   AND coalesce(e.oid, t.oid) NOT IN ('text'::regtype, 'bigint'::regtype, 'integer'::regtype,
        'boolean'::regtype, 'date'::regtype, 'timestamptz'::regtype, 'uuid'::regtype,
        'double precision'::regtype);
-- must be empty
SELECT * FROM pp_trino_violations ORDER BY 1, 2;
-- the check does catch what Trino cannot read (then cleaned up again)
CREATE TABLE pinpipe_archive.pp_probe (ok text, n numeric, j jsonb, s smallint[], ids uuid[]);
SELECT * FROM pp_trino_violations ORDER BY 1, 2;
DROP TABLE pinpipe_archive.pp_probe;
DROP VIEW pp_trino_violations;

-- The serving views are read by the same connector.
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) AS type
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  JOIN pg_type t ON t.oid = a.atttypid
 WHERE c.oid IN ('pinpipe.category_stats'::regclass, 'pinpipe.category_daily_stats'::regclass)
   AND a.attnum > 0
   AND t.oid NOT IN ('text'::regtype, 'bigint'::regtype, 'integer'::regtype,
        'boolean'::regtype, 'date'::regtype, 'timestamptz'::regtype, 'uuid'::regtype,
        'double precision'::regtype);
