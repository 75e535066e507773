#!/usr/bin/env bash
# Builds the mvmm test guest: a tiny Linux 6.1 (bzImage + vmlinux) from Debian's
# linux-source-6.1 and guest/kernel.config, cached outside the checkout by a hash
# of its inputs, and an initramfs of busybox-static, /init, the scenarios and the
# static test programs. Leaves copies in build/guest/. Quiet when nothing changed.
# With --arch arm64: the same from guest/kernel-arm64.config, cross-compiled
# (Image instead of bzImage/vmlinux, arm64 busybox and programs) into
# build/guest-arm64/, its kernel cached under the cache's arm64/ folder.
#
# Usage: build.sh [--arch x86_64|arm64]
# Environment: MVMM_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/mvmm),
# JOBS (default 2), OUT (default build/guest or build/guest-arm64).
set -euo pipefail

GUEST_ARCH=x86_64
case "${1:-}" in
"") ;;
--arch) GUEST_ARCH=${2:?--arch needs x86_64 or arm64} ;;
*) echo "usage: build.sh [--arch x86_64|arm64]" >&2; exit 2 ;;
esac

GUEST_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$GUEST_DIR")
CACHE=${MVMM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mvmm}
JOBS=${JOBS:-2}
SRC_PKG=linux-source-6.1
SRC_TAR=/usr/src/$SRC_PKG.tar.xz
case $GUEST_ARCH in
x86_64)
	OUT=${OUT:-$ROOT/build/guest}
	KCACHE=$CACHE
	FRAGMENT=$GUEST_DIR/kernel.config
	KMAKE_ARCH=(ARCH=x86_64)
	KTARGETS=(bzImage vmlinux)
	KFILES=(arch/x86/boot/bzImage vmlinux)
	CC_GUEST=gcc
	BUSYBOX=/bin/busybox
	;;
arm64)
	OUT=${OUT:-$ROOT/build/guest-arm64}
	# Apart from the x86 cache, so neither arch's clean-up removes the
	# other's kernels and a long cross build does not hold the x86 lock.
	KCACHE=$CACHE/arm64
	FRAGMENT=$GUEST_DIR/kernel-arm64.config
	KMAKE_ARCH=(ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-)
	KTARGETS=(Image)
	KFILES=(arch/arm64/boot/Image)
	CC_GUEST=aarch64-linux-gnu-gcc
	command -v "$CC_GUEST" >/dev/null || { echo "guest: error: $CC_GUEST missing (make deps)" >&2; exit 1; }
	BUSYBOX=$(bash "$GUEST_DIR/arm64-busybox.sh") || { echo "guest: error: no arm64 busybox" >&2; exit 1; }
	;;
*) echo "guest: error: unknown arch $GUEST_ARCH (x86_64 or arm64)" >&2; exit 2 ;;
esac
# Bump when this script's kernel recipe changes in a way the hash cannot see.
RECIPE=1

log() { echo "guest: $*"; }
die() { echo "guest: error: $*" >&2; exit 1; }

[ -r "$SRC_TAR" ] || die "$SRC_TAR missing (install $SRC_PKG: make deps)"
[ -x "$BUSYBOX" ] || die "$BUSYBOX missing (install busybox-static: make deps)"
SRC_VER=$(dpkg-query -W -f='${Version}' "$SRC_PKG" 2>/dev/null) ||
	die "$SRC_PKG is not installed"

mkdir -p "$CACHE" "$KCACHE" "$OUT"
# One builder at a time per cache: two `make guest` runs must not share a tree.
# The source tree is shared by both arches and extracted under the x86 lock.
exec 9>"$CACHE/.lock"
flock 9

# Copies $1 to $2 only when they differ, so repeated runs keep mtimes stable.
install_if_changed() {
	if ! cmp -s "$1" "$2"; then
		cp -f "$1" "$2.tmp.$$"
		chmod 0644 "$2.tmp.$$"
		mv -f "$2.tmp.$$" "$2"
	fi
}

# --- kernel source, extracted once per package version ---
SRC=$CACHE/$SRC_PKG-$SRC_VER
if [ ! -e "$SRC/.mvmm-extracted" ]; then
	log "extracting $SRC_PKG $SRC_VER into $CACHE"
	rm -rf "$SRC" "$SRC.tmp"
	mkdir -p "$SRC.tmp"
	tar -xJf "$SRC_TAR" -C "$SRC.tmp" --strip-components=1
	touch "$SRC.tmp/.mvmm-extracted"
	mv "$SRC.tmp" "$SRC"
	# Trees of an older source package are never used again.
	for old in "$CACHE/$SRC_PKG"-* "$CACHE"/obj-* "$CACHE"/gen_init_cpio-*; do
		case $old in
		"$SRC" | "$CACHE/obj-$SRC_VER" | "$CACHE/gen_init_cpio-$SRC_VER") ;;
		*) rm -rf "$old" ;;
		esac
	done
	for old in "$CACHE"/arm64/obj-*; do
		[ "$old" = "$CACHE/arm64/obj-$SRC_VER" ] || rm -rf "$old"
	done
fi
if [ "$KCACHE" != "$CACHE" ]; then
	exec 9>"$KCACHE/.lock"
	flock 9
fi

# --- kernel, cached by hash of fragment + source version + recipe ---
KHASH=$( { cat "$FRAGMENT"; echo "$SRC_VER recipe=$RECIPE"; } |
	sha256sum | cut -c1-16)
KDIR=$KCACHE/kernel-$KHASH
OBJ=$KCACHE/obj-$SRC_VER

# Fails the build if any option of the fragment is not in the final .config.
verify_config() {
	local cfg=$1 bad=0 line name
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*)
			grep -qxF -- "$line" "$cfg" && continue
			name=${line%%=*} ;;
		"# CONFIG_"*" is not set")
			name=${line#\# }; name=${name%% *}
			# Absent counts as unset: its menu may be hidden entirely.
			grep -q "^$name=" "$cfg" || continue ;;
		*) continue ;;
		esac
		echo "guest: dropped: want '$line', have '$(grep -E "^$name=|^# $name is not set" "$cfg" || echo absent)'" >&2
		bad=1
	done <"$FRAGMENT"
	return $bad
}

build_kernel() {
	local kmake=(make -C "$SRC" O="$OBJ" "${KMAKE_ARCH[@]}" -j"$JOBS")
	log "building kernel $KHASH (make -j$JOBS, a few minutes; log: $OBJ/build.log)"
	mkdir -p "$OBJ"
	# Incremental: one object tree per source version, its .config regenerated.
	rm -f "$OBJ/.config"
	{
		"${kmake[@]}" tinyconfig &&
		"$SRC/scripts/kconfig/merge_config.sh" -m -O "$OBJ" "$OBJ/.config" \
			"$FRAGMENT" &&
		"${kmake[@]}" olddefconfig
	} >"$OBJ/build.log" 2>&1 || { tail -20 "$OBJ/build.log" >&2; die "kernel configuration failed"; }
	verify_config "$OBJ/.config" || die "$(basename "$FRAGMENT") options were dropped by Kconfig (see above)"
	if ! nice -n 10 "${kmake[@]}" "${KTARGETS[@]}" >>"$OBJ/build.log" 2>&1; then
		tail -30 "$OBJ/build.log" >&2
		die "kernel build failed (full log: $OBJ/build.log)"
	fi
	rm -rf "$KDIR.tmp"
	mkdir -p "$KDIR.tmp"
	for f in "${KFILES[@]}"; do cp "$OBJ/$f" "$KDIR.tmp/"; done
	cp "$OBJ/.config" "$KDIR.tmp/"
	mv "$KDIR.tmp/.config" "$KDIR.tmp/config"
	rm -rf "$KDIR"
	mv "$KDIR.tmp" "$KDIR"
	# Keep the three most recent kernels; older configs rebuild incrementally.
	ls -1dt "$KCACHE"/kernel-* 2>/dev/null | grep -v '\.tmp$' | tail -n +4 | xargs -r rm -rf
	local first=$(basename "${KFILES[0]}")
	log "kernel $KHASH built: $(stat -c %s "$KDIR/$first") bytes $first"
}

cached=1
for f in "${KFILES[@]}"; do
	[ -e "$KDIR/$(basename "$f")" ] || cached=0
done
if [ $cached = 1 ]; then
	log "kernel cache hit ($KHASH)"
	touch "$KDIR"
else
	build_kernel
fi
for f in "${KFILES[@]}"; do
	install_if_changed "$KDIR/$(basename "$f")" "$OUT/$(basename "$f")"
done
install_if_changed "$KDIR/config" "$OUT/kernel.config"

# --- initramfs, rebuilt only when one of its inputs changed ---
GEN_CPIO=$CACHE/gen_init_cpio-$SRC_VER
if [ ! -x "$GEN_CPIO" ]; then
	gcc -O2 -o "$GEN_CPIO.tmp" "$SRC/usr/gen_init_cpio.c"
	mv "$GEN_CPIO.tmp" "$GEN_CPIO"
fi

mapfile -t PROGRAMS < <(cd "$GUEST_DIR/programs" && ls -1 -- *.c | sort)
mapfile -t SCENARIOS < <(cd "$GUEST_DIR/scenarios" && ls -1 -- *.sh | sort)
IHASH=$( {
	echo "recipe=$RECIPE"
	sha256sum "$BUSYBOX" "$GUEST_DIR/init" "$GUEST_DIR/lib.sh" "$0"
	(cd "$GUEST_DIR" && sha256sum programs/* scenarios/*)
	"$CC_GUEST" --version | head -1
} | sha256sum | cut -c1-16)
IMG=$OUT/initramfs.cpio.gz
if [ -e "$IMG" ] && [ "$(cat "$OUT/initramfs.hash" 2>/dev/null)" = "$IHASH" ]; then
	log "initramfs up to date ($IHASH)"
	exit 0
fi

STAGE=$(mktemp -d "${TMPDIR:-/tmp}/mvmm-initramfs.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
for c in "${PROGRAMS[@]}"; do
	"$CC_GUEST" -static -O2 -Wall -Wextra -Werror -std=gnu11 -s \
		-o "$STAGE/${c%.c}" "$GUEST_DIR/programs/$c"
done

LIST=$STAGE/list
{
	for d in bin sbin usr usr/bin usr/sbin dev proc sys tmp root etc etc/mvmm \
		scenarios run mnt; do
		echo "dir /$d 0755 0 0"
	done
	# The kernel opens /dev/console before devtmpfs is mounted.
	echo "nod /dev/console 0600 0 0 c 5 1"
	echo "nod /dev/null 0666 0 0 c 1 3"
	echo "file /init $GUEST_DIR/init 0755 0 0"
	echo "file /etc/mvmm/lib.sh $GUEST_DIR/lib.sh 0644 0 0"
	echo "file /bin/busybox $BUSYBOX 0755 0 0"
	# The arm64 busybox cannot run here; the same Debian package version
	# has the same applets on every arch, so the host's lists them.
	for a in $(/bin/busybox --list-full); do
		case $a in bin/busybox) continue ;; esac
		echo "slink /$a /bin/busybox 0777 0 0"
	done
	for c in "${PROGRAMS[@]}"; do
		echo "file /bin/${c%.c} $STAGE/${c%.c} 0755 0 0"
	done
	for s in "${SCENARIOS[@]}"; do
		echo "file /scenarios/$s $GUEST_DIR/scenarios/$s 0755 0 0"
	done
} >"$LIST"

"$GEN_CPIO" -t 0 "$LIST" | gzip -n -9 >"$STAGE/initramfs.cpio.gz"
install_if_changed "$STAGE/initramfs.cpio.gz" "$IMG"
echo "$IHASH" >"$OUT/initramfs.hash"
log "initramfs built ($IHASH): $(stat -c %s "$IMG") bytes, programs: ${PROGRAMS[*]%.c}"
