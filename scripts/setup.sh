#!/usr/bin/env bash
# scripts/setup.sh — everything pinpipe needs on a fresh Debian 12 machine:
# Debian packages, then build and install the extension and its tools.
# Idempotent; run as root or as a user with sudo.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo

# Installed without Recommends: whatever is only recommended (e.g. clang's sanitizer and
# fuzzer runtimes, libclang-rt-14-dev) must be listed here explicitly.
PACKAGES=(
	build-essential clang libclang-rt-14-dev procps python3 postgresql-15 postgresql-server-dev-15 postgresql-15-cron
	postgresql-server-dev-all debhelper fakeroot debootstrap libipc-run-perl binutils clang-format
	librdkafka-dev libmicrohttpd-dev libcurl4-openssl-dev
	kcat curl wrk jq bc prometheus docker-compose iproute2
	python3-fastapi python3-uvicorn python3-confluent-kafka python3-kafka python3-requests
)
# Node.js and npm run kafkajs in the dev broker's client test; a machine that already has them
# (another packaging of Node.js) keeps its own.
command -v npm >/dev/null || PACKAGES+=(nodejs npm)

missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "setup: installing ${missing[*]}"
	$SUDO apt-get update -q
	# The packaged cluster is not used (tests and the demo start private ones): do not create it.
	$SUDO mkdir -p /etc/postgresql-common/createcluster.d
	echo "create_main_cluster = false" | $SUDO tee /etc/postgresql-common/createcluster.d/pinpipe.conf >/dev/null
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
make -s -j"$(nproc)" PG_CONFIG="$PG_CONFIG"
$SUDO make -s install PG_CONFIG="$PG_CONFIG" >/dev/null
echo "setup: pinpipe built and installed into $("$PG_CONFIG" --pkglibdir)"

# kafkajs for test/t/33_devbroker_clients.sh: the version locked in test/clients/package-lock.json,
# into test/clients/node_modules (not in git); again only when the lock file changes.
if [ ! test/clients/node_modules/.package-lock.json -nt test/clients/package-lock.json ]; then
	npm ci --prefix test/clients --no-audit --no-fund --loglevel=error
	echo "setup: test clients installed into test/clients/node_modules"
fi
