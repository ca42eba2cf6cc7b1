#!/usr/bin/env bash
# The SQL functions work when pinpipe is not in shared_preload_libraries (no workers):
# the library is loaded on first use, its settings are defined, ingest() writes.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
pp_cluster_start "shared_preload_libraries = ''" || { fail "server start"; pp_done; }
check "pinpipe is not preloaded" "$(pp_sql "SHOW shared_preload_libraries")" ""
pp_psql -c "CREATE EXTENSION pinpipe" && ok "CREATE EXTENSION without preloading" || fail "CREATE EXTENSION"
check "clean function" "$(pp_sql "SELECT pinpipe.parse_follower_count('15M')")" "15000000"
PIN=$(head -n 1 "$PP_SHARED_DATA/pins_sample.jsonl")
check "ingest" "$(pp_sql "SELECT accepted || '/' || dead_lettered FROM pinpipe.ingest_text(\$pin\$$PIN\$pin\$)")" "1/0"
check "settings are defined once loaded" "$(pp_sql "LOAD 'pinpipe'; SHOW pinpipe.topic")" "pinterest.pins"
check "no pinpipe background workers" "$(pp_sql "SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'pinpipe%'")" "0"
check "the pinpipe.* prefix is reserved" "$(pp_sql "LOAD 'pinpipe'; SET pinpipe.no_such_setting = 1" 2>&1 | grep -c 'invalid configuration parameter name')" "1"
pp_done
