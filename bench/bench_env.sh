# bench/bench_env.sh — the start every benchmark with a private server of this build shares
# (source it first): the repository as working directory, this build installed into
# tmp_install (PP_PGBIN, the server the helpers start), test/lib.sh, scripts/local_server.sh,
# bench/bench_lib.sh, and EMU, the emulator (built if missing).
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PP_PGBIN=$(bash scripts/tmp_install.sh) || { echo "bench: build failed"; exit 1; }
export PP_PGBIN
source test/lib.sh
source scripts/local_server.sh
source bench/bench_lib.sh
EMU=tools/pinpipe-emulate
[ -x "$EMU" ] || make -s -C tools >/dev/null || { echo "bench: emulator build failed"; exit 1; }
