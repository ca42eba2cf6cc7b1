#!/usr/bin/env bash
# test/regress.sh — pg_regress over sql/*.sql against a private, preloaded server.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
cd "$PP_REPO"
pp_cluster_start || exit 1
tests=$(ls sql/*.sql | grep -v "^sql/pinpipe--" | sed 's|sql/||; s|\.sql$||' | sort)
pp_regress_run "$(dirname "$(pg_config --pgxs)")/../test/regress/pg_regress" "$PP_DIR/regress" contrib_regression $tests
