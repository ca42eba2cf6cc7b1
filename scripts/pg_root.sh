#!/usr/bin/env bash
# scripts/pg_root.sh — Debian roots (debootstrap) for building and testing pinpipe on
# other PostgreSQL majors than the host's, and for installing its .deb into a clean system.
#
#   scripts/pg_root.sh ensure SUITE KIND    create (or reuse) a root, print its path
#   scripts/pg_root.sh run ROOT CMD...      run CMD inside ROOT (chroot, /proc and /dev mounted)
#   scripts/pg_root.sh remove ROOT          unmount and delete a root
#
# SUITE: bookworm (PostgreSQL 15), trixie (17) or sid (18). KIND:
#   build   compiler, server dev package, pg_cron, librdkafka, libmicrohttpd, the TAP tooling
#           (libipc-run-perl), curl, jq, python3, debhelper: builds and tests pinpipe
#   clean   only the PostgreSQL server and pg_cron: the .deb must bring everything else
# Roots live in $PP_ROOTS (default /var/cache/pinpipe/roots) and are reused when complete.
# One debootstrap per suite: the build and clean roots are copies of the same base.
# A root holding mounts is never deleted (rm would follow them into the host's /dev).
set -euo pipefail
PP_ROOTS=${PP_ROOTS:-/var/cache/pinpipe/roots}
MIRROR=${PP_DEBIAN_MIRROR:-http://deb.debian.org/debian}

pg_major() {
	case $1 in
		bookworm) echo 15 ;;
		trixie) echo 17 ;;
		sid) echo 18 ;;
		*) echo "pg_root: unknown suite $1" >&2; return 1 ;;
	esac
}

# Packages per kind. postgresql-server-dev-all is debian/control's build dependency (and
# brings pg_buildext).
packages() {
	local suite=$1 kind=$2 n
	n=$(pg_major "$suite")
	case $kind in
		clean) echo "postgresql-$n postgresql-$n-cron ca-certificates" ;;
		build)
			echo "build-essential postgresql-$n postgresql-server-dev-$n postgresql-$n-cron postgresql-server-dev-all" \
				"librdkafka-dev libmicrohttpd-dev libcurl4-openssl-dev libipc-run-perl" \
				"curl jq python3 procps bc debhelper fakeroot git" ;;
		*) echo "pg_root: unknown kind $kind" >&2; return 1 ;;
	esac
}

# Mount points a run adds; each is unmounted by its own trap, innermost first.
mounts_in() { findmnt -rn -o TARGET | awk -v r="$1" 'index($0, r "/") == 1' | sort -r; }

unmount_all() {
	local root=$1 m
	for m in $(mounts_in "$root"); do umount "$m" 2>/dev/null || umount -l "$m" || true; done
}

remove_root() {
	local root=$1
	[ -d "$root" ] || return 0
	unmount_all "$root"
	if [ -n "$(mounts_in "$root")" ]; then
		echo "pg_root: $root still has mounts; not removing it" >&2
		return 1
	fi
	rm -rf --one-file-system "$root"
}

# Run a command in a root. /proc and /dev are bind mounts made private (nothing mounted
# inside propagates back), /dev/shm a private tmpfs for PostgreSQL's shared memory.
run_in() {
	local root=$1
	shift
	[ -f "$root/.pinpipe-root" ] || { echo "pg_root: $root is not a pinpipe root" >&2; return 1; }
	trap 'unmount_all "$root"' EXIT INT TERM
	mount -t proc proc "$root/proc"
	mount --bind /dev "$root/dev"
	mount --make-private "$root/dev"
	mount -t tmpfs -o mode=1777 shm "$root/dev/shm"
	mount -t devpts -o newinstance,ptmxmode=0666 devpts "$root/dev/pts" 2>/dev/null || true
	cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
	local status=0
	chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin CI="${CI:-}" "$@" || status=$?
	unmount_all "$root"
	trap - EXIT INT TERM
	return $status
}

apt_in() {
	local root=$1
	shift
	run_in "$root" env DEBIAN_FRONTEND=noninteractive apt-get -q -o Dpkg::Use-Pty=0 "$@"
}

ensure_base() {
	local suite=$1 base=$PP_ROOTS/$1-base tmp
	[ -f "$base/.pinpipe-root" ] && return 0
	mkdir -p "$PP_ROOTS"
	tmp=$PP_ROOTS/$suite-base.tmp
	remove_root "$tmp"
	echo "pg_root: debootstrap $suite into $base" >&2
	debootstrap --variant=minbase --include=ca-certificates "$suite" "$tmp" "$MIRROR" >&2 ||
		{ tail -n 20 "$tmp/debootstrap/debootstrap.log" >&2 2>/dev/null; return 1; }
	# sid's index can be served past its Valid-Until date; the packaged cluster is not
	# wanted (tests start private ones) and no service may start inside a chroot.
	# Stable suites take their updates and security fixes, as this machine does (a package
	# built against a fixed server-dev package depends on at least that server version).
	{
		echo "deb $MIRROR $suite main"
		if [ "$suite" != sid ]; then
			echo "deb $MIRROR $suite-updates main"
			echo "deb ${MIRROR%/debian}/debian-security $suite-security main"
		fi
	} >"$tmp/etc/apt/sources.list"
	echo 'Acquire::Check-Valid-Until "false";' >"$tmp/etc/apt/apt.conf.d/99pinpipe"
	mkdir -p "$tmp/etc/postgresql-common/createcluster.d"
	echo "create_main_cluster = false" >"$tmp/etc/postgresql-common/createcluster.d/pinpipe.conf"
	printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
	chmod 755 "$tmp/usr/sbin/policy-rc.d"
	touch "$tmp/.pinpipe-root"
	apt_in "$tmp" update >&2
	apt_in "$tmp" dist-upgrade -y >&2
	mv "$tmp" "$base"
}

ensure() {
	local suite=$1 kind=$2 root tmp
	root=$PP_ROOTS/$suite-$kind
	mkdir -p "$PP_ROOTS"
	exec 9>"$PP_ROOTS/.lock-$suite"
	flock 9
	if [ ! -f "$root/.pinpipe-complete" ]; then
		ensure_base "$suite"
		tmp=$root.tmp
		remove_root "$tmp"
		remove_root "$root"
		cp -a --one-file-system "$PP_ROOTS/$suite-base" "$tmp"
		# shellcheck disable=SC2046
		apt_in "$tmp" install -y --no-install-recommends $(packages "$suite" "$kind") >&2 ||
			{ apt_in "$tmp" update >&2 && apt_in "$tmp" install -y --no-install-recommends $(packages "$suite" "$kind") >&2; }
		apt_in "$tmp" clean >&2
		touch "$tmp/.pinpipe-complete"
		mv "$tmp" "$root"
	fi
	flock -u 9
	echo "$root"
}

[ "$(id -u)" = 0 ] || { echo "pg_root: needs root (debootstrap, chroot, mount)" >&2; exit 1; }
cmd=${1:-}
shift || true
case $cmd in
	ensure) ensure "$@" ;;
	run) run_in "$@" ;;
	remove) remove_root "$1" ;;
	major) pg_major "$1" ;;
	*) sed -n '2,16p' "$0" >&2; exit 2 ;;
esac
