\set ECHO none
-- The end of sql/include/batch_fixture.sql: the shared regression database left as
-- the fixture found it (an empty pipeline), and the fixture's helpers dropped.
CALL pp_reset();
DROP PROCEDURE pp_reset();
DROP FUNCTION pp_pin(int, text, text, text, text, text, text), pp_raw(timestamptz, text, text),
              pp_raw(timestamptz, text), pp_ingest(timestamptz, text);
\set ECHO all
