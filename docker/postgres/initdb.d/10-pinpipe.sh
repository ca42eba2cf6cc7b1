#!/usr/bin/env bash
# Runs once, when the data directory is created: extensions, the batch schedule, and a
# read-only role for Trino. (docker-entrypoint-initdb.d of the official postgres image.)
set -euo pipefail

psql=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres)

"${psql[@]}" <<'SQL'
CREATE EXTENSION IF NOT EXISTS pg_cron;
CREATE EXTENSION IF NOT EXISTS pinpipe;
-- the batch layer every 5 minutes (raw log -> pinpipe_archive), run by pg_cron
DO $$
BEGIN
    IF to_regprocedure('pinpipe.schedule_batch(text)') IS NOT NULL THEN
        PERFORM pinpipe.schedule_batch('*/5 * * * *');
    END IF;
END
$$;
SQL

# Trino reads the archive and the serving views as this role (docker/trino/catalog).
"${psql[@]}" -v trino_password="${TRINO_PG_PASSWORD:-trino}" <<'SQL'
SELECT format('CREATE ROLE trino LOGIN PASSWORD %L', :'trino_password')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'trino') \gexec
DO $$
DECLARE s text;
BEGIN
    FOREACH s IN ARRAY ARRAY['pinpipe_archive', 'pinpipe'] LOOP
        IF EXISTS (SELECT FROM pg_namespace WHERE nspname = s) THEN
            EXECUTE format('GRANT USAGE ON SCHEMA %I TO trino', s);
            EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO trino', s);
            -- archive partitions are created on demand by run_batch()
            EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT ON TABLES TO trino', s);
        END IF;
    END LOOP;
END
$$;
SQL

if [ -n "${PINPIPE_HTTP_AUTH_TOKEN:-}" ]; then
	"${psql[@]}" -v token="$PINPIPE_HTTP_AUTH_TOKEN" <<'SQL'
SELECT format('ALTER SYSTEM SET pinpipe.http_auth_token = %L', :'token') \gexec
SQL
fi
