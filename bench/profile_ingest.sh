#!/usr/bin/env bash
# bench/profile_ingest.sh — where the time of the SQL write paths goes, per pin, with perf:
#   ingest_text(text) in batches of BENCH_BATCH, ingest(jsonb) in the same batches, and the
#   COPY ceiling (the rows those calls wrote, COPY'd back into raw_pins and pins: same
#   tables, same indexes), each profiled in its own backend (perf record -p).
# Prints each path's wall and backend CPU time per pin, its time by phase
# (bench/perf_phases.py) and its top BENCH_TOP symbols (self time).
#
#   BENCH_PINS=200000 bash bench/profile_ingest.sh          (needs perf; run as root)
#   PP_PGBIN=/other/tmp_install/.../bin bash bench/profile_ingest.sh   (profile another build)
# Decides nothing; the machine's load is printed with each path (uptime).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${BENCH_PINS:-200000}
BATCH=${BENCH_BATCH:-5000}
TOP=${BENCH_TOP:-15}
# The named functions whose time including callees is printed (a grep -E alternation).
FUNCS='SinkWriteBatch|SinkInsertRows|RecordParse|CleanPinRecord|PinDatumsFromClean|nextval_internal|BulkWriterAdd|BulkWriterFlush|heap_multi_insert|ExecInsertIndexTuples|heap_form_tuple|JsonbToCString|getIthJsonbValueFromContainer|cstring_to_text_with_len|SPI_execute_plan|pg_detoast_datum_packed|detoast_attr|CopyFrom|NextCopyFrom|InputFunctionCall|XLogInsert|AllocSetAlloc|palloc|pfree|construct_md_array|construct_array|ExecConstraints|uuid_in|array_in|textin|int8in|timestamptz_in|pg_mbstrlen_with_len|pg_verify_mbstr_len|pg_utf8_verifystr|page_fault|asm_exc_page_fault|__x64_sys_write|ksys_write|__x64_sys_munmap|__x64_sys_mmap|__x64_sys_brk'
PP_PGBIN=${PP_PGBIN:-$(bash scripts/tmp_install.sh)}
export PP_PGBIN
source test/lib.sh
source scripts/local_server.sh
source bench/bench_lib.sh
command -v perf >/dev/null || { echo "profile_ingest: perf is not installed" >&2; exit 1; }
pp_cluster_start "shared_buffers = 1GB" "max_wal_size = 8GB" "checkpoint_timeout = 30min" \
	"max_parallel_workers_per_gather = 0" "jit = off" >/dev/null
pp_psql -c "CREATE EXTENSION pinpipe" -c "CREATE EXTENSION pg_prewarm" >/dev/null
bench_make_lines "$N" >/dev/null
bench_make_batches "$BATCH"
pp_psql -c "VACUUM ANALYZE" -c "SELECT pg_prewarm('bench_text'), pg_prewarm('bench_jsonb')" >/dev/null
truncate_all() { pp_psql -c "TRUNCATE pinpipe.raw_pins, pinpipe.pins, pinpipe.category_minute, pinpipe.dead_letters" -c "CHECKPOINT" >/dev/null; }

# profile NAME SQL...: run the statements in one backend under perf, print the summary.
profile() {
	local name=$1 out=$PP_DIR/$(echo "$1" | tr -c "a-z0-9\n" _) pid perfpid psqlpid secs cpu
	shift
	truncate_all
	{
		echo "SELECT pg_backend_pid();"
		echo "SELECT pg_sleep(1);"
		echo "SELECT extract(epoch FROM clock_timestamp()) AS t0, $BENCH_CPU_TICKS AS c0 \\gset"
		for s in "$@"; do echo "$s;"; done
		echo "SELECT round((extract(epoch FROM clock_timestamp()) - :t0)::numeric, 2) || ' ' || round(($BENCH_CPU_TICKS - :c0) / $BENCH_CLK_TCK.0, 2);"
	} >"$out.sql"
	pp_psql -A -t -f "$out.sql" >"$out.psql" &
	psqlpid=$!
	pp_wait_for "[ -s '$out.psql' ]" 30 "backend pid" >/dev/null
	pid=$(head -n 1 "$out.psql")
	perf record -q -F 499 --call-graph dwarf -p "$pid" -o "$out.data" 2>/dev/null &
	perfpid=$!
	wait "$psqlpid"
	kill -INT "$perfpid"
	wait "$perfpid" || true
	read -r secs cpu < <(tail -n 1 "$out.psql")
	echo
	echo "== $name: $N pins, wall ${secs} s = $(awk -v s="$secs" -v n="$N" 'BEGIN { printf "%.1f", s * 1e6 / n }') µs/pin, backend CPU ${cpu} s = $(awk -v s="$cpu" -v n="$N" 'BEGIN { printf "%.1f", s * 1e6 / n }') µs/pin; load:$(uptime | sed 's/.*load average://')"
	echo "-- time by phase (innermost named frame; bench/perf_phases.py)"
	perf script -F ip,sym -i "$out.data" 2>/dev/null | python3 bench/perf_phases.py
	echo "-- self time by object"
	perf report -q -i "$out.data" --no-children --sort dso --stdio -g none 2>/dev/null | sed "s/ *-  *- *$//" |
		grep -v '^$' | head -n 6  || true
	echo "-- self time, top symbols (hex: a static function of the stripped postgres binary)"
	perf report -q -i "$out.data" --no-children --sort dso,symbol --stdio -g none 2>/dev/null | sed "s/ *-  *- *$//" |
		grep -v '^$' | head -n "$TOP" | sed 's/\[\.\] //; s/\[k\] /(kernel) /' || true
	echo "-- time including callees, named functions of the write path"
	perf report -q -i "$out.data" --children --sort symbol --stdio -g none 2>/dev/null | sed "s/ *-  *- *$//" |
		grep -E " (${BENCH_FUNCS:-$FUNCS})( |\$)" |
		sed 's/\[\.\] //; s/\[k\] /(kernel) /' || true
}

# Warm-up (not profiled): the first write into fresh shared buffers pays their page faults;
# it also writes the rows the COPY ceiling loads back.
truncate_all
pp_psql -c "SELECT sum(i.accepted) FROM bench_text b, LATERAL pinpipe.ingest_text(b.p) i" >/dev/null
pp_psql -c "COPY pinpipe.raw_pins TO '$PP_DIR/raw.copy'" -c "COPY pinpipe.pins TO '$PP_DIR/pins.copy'" >/dev/null
profile "ingest_text x $BATCH" "SELECT sum(i.accepted) FROM bench_text b, LATERAL pinpipe.ingest_text(b.p) i"
profile "ingest(jsonb) x $BATCH" "SELECT sum(i.accepted) FROM bench_jsonb b, LATERAL pinpipe.ingest(b.p) i"
profile "COPY raw_pins + pins" "COPY pinpipe.raw_pins FROM '$PP_DIR/raw.copy'" "COPY pinpipe.pins FROM '$PP_DIR/pins.copy'"
