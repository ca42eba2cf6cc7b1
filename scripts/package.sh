#!/usr/bin/env bash
# scripts/package.sh — the packaging layer for one Debian suite: the release tarball
# (make dist), the postgresql-MAJOR-pinpipe .deb built from it with pg_buildext
# (bookworm: on this machine; trixie, sid: in their build roots), then installed and
# smoke-tested in a fresh copy of the suite's clean root (scripts/deb_smoke.sh).
# Usage: scripts/package.sh SUITE      (bookworm, trixie or sid; needs root)
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
suite=$1
major=$(bash scripts/pg_root.sh major "$suite") || exit 1
PP_ROOTS=${PP_ROOTS:-/var/cache/pinpipe/roots}
work=$(mktemp -d "/tmp/pinpipe-package-$suite.XXXXXX")
smoke=$PP_ROOTS/$suite-smoke
cleanup() { bash scripts/pg_root.sh remove "$smoke" || true; rm -rf --one-file-system "$work"; }
trap cleanup EXIT
fail() { echo "not ok - $1"; echo "0 passed, 1 failed"; exit 1; }

tarball=$(make -s dist PG_CONFIG="${PG_CONFIG:-pg_config}") || fail "make dist"
echo "ok - make dist: $(basename "$tarball")"
build='tar xzf pinpipe-*.tar.gz && cd pinpipe-*/ && pg_buildext updatecontrol &&
	dpkg-buildpackage -b -us -uc'
if [ "$suite" = bookworm ]; then
	cp "$tarball" "$work/"
	(cd "$work" && sh -c "$build") >"$work/build.log" 2>&1
	status=$?
else
	root=$(bash scripts/pg_root.sh ensure "$suite" build) || fail "the $suite build root"
	rm -rf --one-file-system "$root/build/package"
	mkdir -p "$root/build/package"
	cp "$tarball" "$root/build/package/"
	bash scripts/pg_root.sh run "$root" sh -c "cd /build/package && $build" >"$work/build.log" 2>&1
	status=$?
	cp "$root"/build/package/*.deb "$work/" 2>/dev/null
fi
rm -f "$tarball"
deb=$(ls "$work"/postgresql-"$major"-pinpipe_*.deb 2>/dev/null | head -n 1)
[ "$status" -eq 0 ] && [ -n "$deb" ] || { tail -n 40 "$work/build.log"; fail "dpkg-buildpackage (pg_buildext) for PostgreSQL $major"; }
echo "ok - built $(basename "$deb")"

clean=$(bash scripts/pg_root.sh ensure "$suite" clean) || fail "the $suite clean root"
bash scripts/pg_root.sh remove "$smoke" || fail "removing an old $smoke"
cp -a --one-file-system "$clean" "$smoke"
cp "$deb" "$smoke/tmp/"
cp scripts/deb_smoke.sh "$smoke/tmp/"
head -n 1 "${PP_SHARED_DATA:-$REPO/../shared/data}/pins_sample.jsonl" >"$smoke/tmp/pin.json"
bash scripts/pg_root.sh run "$smoke" bash /tmp/deb_smoke.sh "$major" "/tmp/$(basename "$deb")" /tmp/pin.json
