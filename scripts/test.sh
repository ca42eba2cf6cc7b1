#!/usr/bin/env bash
# scripts/test.sh — the whole test suite (the README's test command; .ci/run calls it).
#
# Layers, in order; every one must run and report at least one passing test:
#   format       every C file as .clang-format wants it (make format-check; 15 only)
#   unit         pure-C tests of the cleaning core under ASan/UBSan (make unit)
#   fuzz         a fixed-seed, fixed-count libFuzzer run over the pin parser
#   regress      pg_regress --temp-instance (sql/, expected/), HTTP worker running
#   isolation    pg_isolation_regress (specs/, expected/): concurrency, against a private server
#   tap          test/tap/t/*.pl under prove, servers run by PostgreSQL::Test::Cluster
#   integration  every test/t/*.sh (shell contract tests printing TAP) under prove
#   package      make dist, the postgresql-MAJOR-pinpipe .deb, installed and smoke-tested
#                in a clean Debian root (scripts/package.sh)
# Each layer's output closes with its runner's own summary (prove's "Result:", pg_regress's
# "All N tests passed."); the last line here adds them up as "N passed, N failed".
# PostgreSQL majors: 15 on this machine (Debian bookworm); 17 (trixie) and 18 (sid) in
# debootstrap roots that scripts/pg_root.sh creates on first use and reuses after.
#
# Usage: scripts/test.sh              every layer on 15; unit, regress, isolation, tap and package on
#                                     17 and 18 (the roots are prepared while 15 runs)
#        scripts/test.sh LAYER...     those layers on 15 only
#        PP_PG_VERSIONS="17" scripts/test.sh unit regress     those layers on 17
#        PP_TAP_FILES="020_kafka_gaps" scripts/test.sh tap    only those TAP files (test/tap.sh);
#                                     the tap layer's summary line then says so, and the whole
#                                     suite (no LAYER) refuses to run with PP_TAP_FILES set
#        PP_TEST_PLAN=1 scripts/test.sh [LAYER...]    print the layers each major would run,
#                                     then stop (test/unit/test_command.sh)
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)

ALL_LAYERS=(format unit fuzz regress isolation tap integration package)
ROOT_LAYERS=(unit regress isolation tap package)
LAYERS=("$@")
if [ ${#LAYERS[@]} -gt 0 ]; then
	VERSIONS=${PP_PG_VERSIONS:-15}
else
	VERSIONS=${PP_PG_VERSIONS:-15 17 18}
fi
suite_of() { case $1 in 15) echo bookworm ;; 17) echo trixie ;; 18) echo sid ;; *) return 1 ;; esac; }

# The layers major $1 runs: those named, else all on 15 and the root layers on 17 and 18.
layers_of() {
	if [ ${#LAYERS[@]} -gt 0 ]; then
		echo "${LAYERS[@]}"
	elif [ "$1" = 15 ]; then
		echo "${ALL_LAYERS[@]}"
	else
		echo "${ROOT_LAYERS[@]}"
	fi
}

# PP_TAP_FILES narrows the tap layer to some files, for a developer naming the layer; left
# set in the environment it would narrow the whole suite (what CI runs) without a word.
if [ ${#LAYERS[@]} -eq 0 ] && [ -n "${PP_TAP_FILES:-}" ]; then
	echo "test: PP_TAP_FILES is set (\"$PP_TAP_FILES\"): the whole suite would run only those TAP files"
	echo "test: unset PP_TAP_FILES to run the whole suite, or name the layers: PP_TAP_FILES=... scripts/test.sh tap"
	echo "0 passed, 1 failed"
	exit 1
fi

if [ -n "${PP_TEST_PLAN:-}" ]; then
	for v in $VERSIONS; do echo "test plan: $v: $(layers_of "$v")"; done
	[ -z "${PP_TAP_FILES:-}" ] || [[ " ${LAYERS[*]} " != *" tap "* ]] ||
		echo "test plan: tap: only PP_TAP_FILES=$PP_TAP_FILES"
	exit 0
fi

OUT=$(mktemp -d /tmp/pinpipe-results.XXXXXX)
chmod 755 "$OUT"
declare -A RESULT SECS NOTE

# A layer's result is the last summary its runner printed: prove's ("Files=N, Tests=N, ..."
# with "(Wstat: .. Tests: N Failed: N)" per failed file, then "Result: PASS|FAIL"; a file
# that exited non-zero without a failed check, e.g. without its plan, counts as one failure),
# pg_regress's ("All N tests passed." / "N of N tests failed."), or the unit and fuzz
# runners' "N passed, N failed"; none means the layer did not run.
tally() {
	awk '/^([A-Za-z0-9_-]+: )?[0-9]+ passed, [0-9]+ failed/ {
	        for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p = $i; if ($(i+1) ~ /^failed/) f = $i }
	        seen = 1 }
	     /Tests: [0-9]+ Failed: [0-9]+\)/ { s = $0; sub(/.*Failed: /, "", s); s += 0
	        if (s == 0 && $0 !~ /Wstat: 0 /) s = 1   # a file that failed without a failed check
	        pf += s }
	     /^Files=[0-9]+, Tests=[0-9]+,/ { s = $0; sub(/^Files=[0-9]+, Tests=/, "", s); pt = s + 0; inprove = 1 }
	     inprove && /^Result: / { p = pt - pf; f = pf; if ($2 != "PASS" && f == 0) f = 1; seen = 1; pf = 0; inprove = 0 }
	     /All [0-9]+ tests passed/ { s = $0; sub(/.*All /, "", s); p = s + 0; f = 0; seen = 1 }
	     /[0-9]+ of [0-9]+ tests failed/ { s = $0; sub(/^[^0-9]*/, "", s); split(s, a, / of /); f = a[1] + 0; p = a[2] - f; seen = 1 }
	     END { if (!seen) print "none"; else print p + 0, f + 0 }' "$1"
}

# Run "$@" as layer $1 (a log name such as 15-unit), record its result and time.
record() {
	local name=$1 log=$OUT/$1.log status start=$SECONDS
	shift
	echo "=== layer: $name"
	"$@" 2>&1 | tee "$log"
	status=${PIPESTATUS[0]}
	SECS[$name]=$((SECONDS - start))
	read -r passed failed <<<"$(tally "$log")"
	if [ "$passed" = none ]; then
		RESULT[$name]="FAILED (reported no tests: the layer did not run)"
	elif [ "$status" -ne 0 ] || [ "$failed" -gt 0 ] || [ "$passed" -eq 0 ]; then
		RESULT[$name]="FAILED ($passed passed, $failed failed, exit $status)"
	else
		RESULT[$name]="ok ($passed passed)"
	fi
	# a narrowed tap layer (test/tap.sh's note, also from inside a root) says so here too
	if grep -q '^tap: only PP_TAP_FILES=' "$log"; then
		NOTE[$name]="; tap: only PP_TAP_FILES=$PP_TAP_FILES"
	fi
	ORDER+=("$name")
}
ORDER=()

# make unit runs several test programs, each with its own "N passed, M failed" line;
# the layer's count is their sum (the tally reads a layer's last such line).
unit_layer() {
	local out status
	out=$(mktemp)
	make -s unit PG_CONFIG="$PG_CONFIG" 2>&1 | tee "$out"
	status=${PIPESTATUS[0]}
	awk '/^[A-Za-z0-9_-]+: [0-9]+ passed, [0-9]+ failed/ { p += $2; f += $4; n++ }
	     END { if (n) printf "unit-total: %d passed, %d failed (%d programs)\n", p, f, n }' "$out"
	rm -f "$out"
	return "$status"
}

# One layer on this machine's (or this root's) PostgreSQL.
layer() {
	case $1 in
		format) make -s format-check PG_CONFIG="$PG_CONFIG" ;;
		unit) unit_layer ;;
		fuzz) bash test/fuzz/run.sh ;;
		regress) bash test/regress.sh ;;
		isolation) bash test/isolation.sh ;;
		tap) bash test/tap.sh ;;
		integration) bash test/integration.sh ;;
		package) bash scripts/package.sh "$(suite_of "$PP_PG_MAJOR")" ;;
		*) echo "unknown layer $1"; false ;;
	esac
}

summary() {
	local l p f total_p=0 total_f=0 bad=0
	echo "=== summary"
	for l in "${ORDER[@]}"; do
		echo "$l: ${RESULT[$l]} in ${SECS[$l]} s${NOTE[$l]:-}"
		read -r p f <<<"$(tally "$OUT/$l.log")"
		[ "$p" = none ] && { p=0; f=1; }
		total_p=$((total_p + p)); total_f=$((total_f + f))
		case ${RESULT[$l]} in ok*) ;; *) bad=1 ;; esac
	done
	echo "total time: $SECONDS s"
	echo "$total_p passed, $total_f failed"
	return $bad
}

# Inside a root (scripts/pg_root.sh run): its packages are preinstalled; only build and test.
if [ -n "${PP_IN_ROOT:-}" ]; then
	export PG_CONFIG=/usr/lib/postgresql/$PP_PG_MAJOR/bin/pg_config
	make -s clean PG_CONFIG="$PG_CONFIG" # the copy may hold this machine's build products
	PP_PGBIN=$(bash scripts/tmp_install.sh) || { echo "test: build failed"; echo "0 passed, 1 failed"; exit 1; }
	export PP_PGBIN PATH="$PP_PGBIN:$REPO/tools:$PATH"
	for l in "${LAYERS[@]}"; do record "$PP_PG_MAJOR-$l" layer "$l"; done
	summary
	exit
fi

[ "$(id -u)" = 0 ] || [ "$VERSIONS" = 15 ] || { echo "test: PostgreSQL 17/18 roots need root"; exit 1; }
bash scripts/setup.sh || { echo "test: setup failed"; echo "0 passed, 1 failed"; exit 1; }

# Prepare the roots in the background while 15 runs (debootstrap is mostly download).
declare -A ROOT_JOB
for v in $VERSIONS; do
	s=$(suite_of "$v") || { echo "test: PostgreSQL $v is not supported (15, 17, 18)"; exit 1; }
	kinds=
	[ "$v" != 15 ] && kinds=build
	if [ ${#LAYERS[@]} -eq 0 ] || [[ " ${LAYERS[*]} " == *" package "* ]]; then kinds="$kinds clean"; fi
	[ -n "$kinds" ] || continue
	(for k in $kinds; do bash scripts/pg_root.sh ensure "$s" "$k" || exit 1; done) >"$OUT/root-$s.log" 2>&1 &
	ROOT_JOB[$v]=$!
done

# Wait (once) for a major's roots; a failure is reported by the layers that need them.
declare -A ROOT_OK
wait_root() {
	local v=$1
	if [ -z "${ROOT_OK[$v]:-}" ]; then
		ROOT_OK[$v]=yes
		if [ -n "${ROOT_JOB[$v]:-}" ] && ! wait "${ROOT_JOB[$v]}"; then
			ROOT_OK[$v]=no
			echo "test: preparing the $(suite_of "$v") roots failed:"
			tail -n 30 "$OUT/root-$(suite_of "$v").log"
		fi
	fi
	[ "${ROOT_OK[$v]}" = yes ]
}

# The suite of one major inside its build root, on a fresh copy of this tree.
in_root() {
	local v=$1 root
	shift
	root=$(bash scripts/pg_root.sh ensure "$(suite_of "$v")" build) || return 1
	rm -rf --one-file-system "$root/build/pinpipe" "$root/build/shared"
	mkdir -p "$root/build/pinpipe" "$root/build/shared"
	tar -C "$REPO" --exclude=./.git --exclude=./tmp_install --exclude='*.o' --exclude='*.so' \
		--exclude='*.d' --exclude=./results -cf - . | tar -C "$root/build/pinpipe" -xf -
	cp -a "$(cd "${PP_SHARED_DATA:-$REPO/../shared/data}" && pwd)" "$root/build/shared/data"
	bash scripts/pg_root.sh run "$root" env PP_IN_ROOT=1 PP_PG_MAJOR="$v" PP_TAP_FILES="${PP_TAP_FILES:-}" \
		bash /build/pinpipe/scripts/test.sh "$@"
}

for v in $VERSIONS; do
	read -r -a want <<<"$(layers_of "$v")"
	export PP_PG_MAJOR=$v
	if [ "$v" = 15 ]; then
		export PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
		# Tests run this tree's build from a private installation (scripts/tmp_install.sh).
		PP_PGBIN=$(bash scripts/tmp_install.sh) || { echo "test: build failed"; echo "0 passed, 1 failed"; exit 1; }
		export PP_PGBIN PATH="$PP_PGBIN:$REPO/tools:$PATH"
		for l in "${want[@]}"; do
			[ "$l" = package ] && wait_root 15
			record "15-$l" layer "$l"
		done
		continue
	fi
	inside=() pkg=
	for l in "${want[@]}"; do
		if [ "$l" = package ]; then pkg=1; else inside+=("$l"); fi
	done
	wait_root "$v"
	[ ${#inside[@]} -gt 0 ] && record "$v-root" in_root "$v" "${inside[@]}"
	[ -n "$pkg" ] && record "$v-package" layer package
done
summary
