#!/usr/bin/env bash
# Prints the path of a static arm64 busybox, fetched once into the cache:
# busybox-static is not co-installable across architectures (Multi-Arch: no),
# so the arm64 package is downloaded and unpacked (dpkg -x), never installed.
# Used by the arm64 guest's initramfs and the arm64 test host's.
# Needs `dpkg --add-architecture arm64` and apt lists for it (.ci/deps.sh).
# Environment: MVMM_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/mvmm).
set -euo pipefail

CACHE=${MVMM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mvmm}/arm64
die() { echo "arm64-busybox: $*" >&2; exit 1; }

mkdir -p "$CACHE"
exec 9>"$CACHE/.busybox.lock"
flock 9

ver=$(apt-cache show --no-all-versions busybox-static:arm64 2>/dev/null |
	sed -n 's/^Version: //p' | head -n1) || ver=
if [ -z "$ver" ]; then
	# Offline or no arm64 lists: the newest one already unpacked will do.
	dir=$(ls -d "$CACHE"/busybox-static_*/ 2>/dev/null | sort -V | tail -n1)
	[ -n "$dir" ] || die "apt knows no busybox-static:arm64 (run make deps) and none is cached"
	echo "${dir%/}/bin/busybox"
	exit 0
fi
# No colon (the epoch) in a path that ends up in cpio lists and PATHs.
dir=$CACHE/busybox-static_${ver//:/_}
if [ ! -x "$dir/bin/busybox" ]; then
	tmp=$(mktemp -d "$CACHE/.busybox.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	chmod 755 "$tmp" # _apt downloads into it
	(cd "$tmp" && apt-get download -q "busybox-static:arm64=$ver") >"$tmp/log" 2>&1 ||
		{ cat "$tmp/log" >&2; die "apt-get download busybox-static:arm64=$ver failed"; }
	dpkg -x "$tmp"/busybox-static_*_arm64.deb "$tmp/root"
	file -b "$tmp/root/bin/busybox" 2>/dev/null | grep -q 'aarch64.*statically linked' ||
		[ ! -x /usr/bin/file ] || die "busybox-static:arm64 is not a static aarch64 binary"
	rm -rf "$dir"
	mv "$tmp/root" "$dir"
fi
echo "$dir/bin/busybox"
