-- The speed layer's tables, columns and indexes (DESIGN §4).
CREATE EXTENSION IF NOT EXISTS pinpipe;

SELECT table_name, column_name, data_type, is_nullable
FROM information_schema.columns
WHERE table_schema = 'pinpipe'
  AND table_name IN ('raw_pins', 'pins', 'dead_letters', 'kafka_offsets', 'category_minute')
ORDER BY table_name, ordinal_position;

SELECT tablename, indexname, indexdef
FROM pg_indexes
WHERE schemaname = 'pinpipe'
  AND tablename IN ('raw_pins', 'pins', 'dead_letters', 'kafka_offsets', 'category_minute')
ORDER BY tablename, indexname;

-- every table of the extension is dumped by pg_dump (pg_extension_config_dump)
SELECT c.relname
FROM pg_extension e, unnest(e.extconfig) AS cfg(oid)
JOIN pg_class c ON c.oid = cfg.oid
WHERE e.extname = 'pinpipe'
  AND c.relname IN ('raw_pins', 'raw_pins_id_seq', 'pins', 'dead_letters', 'kafka_offsets', 'category_minute')
ORDER BY 1;

-- the extension cannot be moved to another schema
ALTER EXTENSION pinpipe SET SCHEMA public;
