# test/kafka_lib.sh — Kafka helpers for the shell tests and bench/bench_kafka.sh;
# kafka_make_pins is also the generator behind the TAP tests' PinpipeTest::make_pins.
# Source after test/lib.sh.
#
#   kafka_broker_start [partitions [options]]
#                                         dev broker (mock cluster) with pinpipe-devbroker's options
#                                         (--direct: no proxy); sets KAFKA_BOOTSTRAP, KAFKA_PID
#   kafka_broker_down / kafka_broker_up   take every broker down / up (SIGUSR1 / SIGUSR2)
#   kafka_make_pins FILE N SEED [BAD_EVERY]
#                                         N real pins from $PP_SHARED_DATA/pins_sample.jsonl, cycled,
#                                         each with a fresh unique_id (from SEED) and index; every
#                                         BAD_EVERY-th line (0 = none) is malformed (bad JSON or an
#                                         invalid pin). Prints how many malformed lines it wrote.
#   kafka_produce FILE [partitions]       every line of FILE as one message, round-robin over partitions
#   kafka_consumed                        count(pins) + count(kafka dead letters)
#   kafka_check_exact N WHAT              exactly N distinct (partition, offset), none twice,
#                                         pins and raw log agree

KAFKA_TOPIC=${KAFKA_TOPIC:-pinterest.pins}

kafka_broker_start() {
	local parts=${1:-4} out
	shift $(($# > 0))
	out=$(mktemp /tmp/pinpipe-devbroker.XXXXXX)
	pinpipe-devbroker --partitions "$parts" --topic "$KAFKA_TOPIC" "$@" >"$out" 2>"$out.err" &
	KAFKA_PID=$!
	pp_cleanup "kill $KAFKA_PID; rm -f '$out' '$out.err'"
	pp_wait_for "[ -s '$out' ]" 20 "dev broker to print its address" || return 1
	KAFKA_BOOTSTRAP=$(head -n 1 "$out")
}

kafka_broker_down() { kill -USR1 "$KAFKA_PID"; }
kafka_broker_up() { kill -USR2 "$KAFKA_PID"; }

kafka_make_pins() {
	python3 - "$PP_SHARED_DATA/pins_sample.jsonl" "$@" <<'PY'
import re, sys
src, out, n, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
bad = int(sys.argv[5]) if len(sys.argv) > 5 else 0
pins = [l.rstrip("\n") for l in open(src, encoding="utf-8")]
uid_re = re.compile(r'"unique_id": *"[^"]*"')
ind_re = re.compile(r'"index": *[0-9]+')
malformed = ['{"index": 1, "unique_id": "truncated',
             '{"index": "not a number", "unique_id": "x"}',
             'not json at all']
nbad = 0
with open(out, "w", encoding="utf-8") as f:
    for i in range(n):
        if bad > 0 and i % bad == bad - 1:
            f.write(malformed[nbad % 3] + "\n")
            nbad += 1
            continue
        line = pins[i % len(pins)]
        uid = "%08x-%04x-4%03x-8%03x-%012x" % (seed, (i >> 24) & 0xffff, (i >> 12) & 0xfff, i & 0xfff, i)
        line = uid_re.sub('"unique_id": "%s"' % uid, line, count=1)
        line = ind_re.sub('"index": %d' % (i + 1), line, count=1)
        f.write(line + "\n")
print(nbad)
PY
}

kafka_produce() {
	local file=$1 parts=${2:-4}
	pinpipe-devbroker --produce "$file" --bootstrap "$KAFKA_BOOTSTRAP" --topic "$KAFKA_TOPIC" --partitions "$parts" >/dev/null
}

kafka_consumed() {
	pp_sql "SELECT (SELECT count(*) FROM pinpipe.pins WHERE source = 'kafka')
	             + (SELECT count(*) FROM pinpipe.dead_letters WHERE source = 'kafka')"
}

kafka_check_exact() {
	local n=$1 what=$2
	check "$what: pins + dead letters = produced" "$(kafka_consumed)" "$n"
	check "$what: no (partition, offset) twice" "$(pp_sql "
		SELECT count(*) FROM (
		    SELECT \"partition\", \"offset\" FROM pinpipe.pins WHERE source = 'kafka'
		    UNION ALL
		    SELECT \"partition\", \"offset\" FROM pinpipe.dead_letters WHERE source = 'kafka') m
		GROUP BY \"partition\", \"offset\" HAVING count(*) > 1")" ""
	check "$what: every offset below the high watermark present" "$(pp_sql "
		SELECT count(DISTINCT (\"partition\", \"offset\")) FROM (
		    SELECT \"partition\", \"offset\" FROM pinpipe.pins WHERE source = 'kafka'
		    UNION ALL
		    SELECT \"partition\", \"offset\" FROM pinpipe.dead_letters WHERE source = 'kafka') m")" "$n"
	check "$what: raw log and pins agree" "$(pp_sql "SELECT count(*) FROM pinpipe.raw_pins WHERE source = 'kafka'")" \
		"$(pp_sql "SELECT count(*) FROM pinpipe.pins WHERE source = 'kafka'")"
	check "$what: stored offsets sum to produced" "$(pp_sql "SELECT coalesce(sum(next_offset), 0) FROM pinpipe.kafka_offsets")" "$n"
}
