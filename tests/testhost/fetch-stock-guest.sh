#!/usr/bin/env bash
# Fetches Debian's stock cloud kernel (the linux-image-6.1.0-NN-cloud-amd64
# that linux-image-cloud-amd64 depends on), unpacked into the cache and never
# installed, and builds its initramfs: static busybox, stock-guest-init.sh as
# /init, the tiny guest's lib.sh and static test programs (memfill, memhog),
# and the kernel's own virtio_mmio and virtio_balloon modules with their
# dependencies. Quiet and quick when both are cached (no network needed then).
# With --print, prints "kernel PATH" (the bzImage) and "initrd PATH".
set -euo pipefail
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/debian-kernel.sh"

print=0
[ "${1:-}" = --print ] && print=1

META=linux-image-cloud-amd64
MODULES=(virtio_mmio virtio_balloon)
ROOT=$(cd "$TESTHOST_DIR/../.." && pwd)
CACHE=$(dirname "$TESTHOST_CACHE")/stock-guest
busybox=${BUSYBOX:-/bin/busybox}

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9

kdir=$(debkernel_fetch "$META" "$CACHE") || testhost_die "cannot fetch $META"
kernel=$(ls "$kdir"/boot/vmlinuz-* | head -n1)
[ -f "$kernel" ] || testhost_die "no vmlinuz in $kdir"
kver=$(basename "$(ls -d "$kdir"/lib/modules/*/ | head -n1)")
moddir=$kdir/lib/modules/$kver

[[ $(ldd "$busybox" 2>&1 || true) == *'not a dynamic'* ]] ||
	testhost_die "$busybox is not static (install busybox-static)"

programs=("$ROOT"/guest/programs/*.c)
key=$( {
	echo "$kdir ${MODULES[*]}"
	cat "$TESTHOST_DIR/stock-guest-init.sh" "$ROOT/guest/lib.sh" "$0" \
		"$TESTHOST_DIR/debian-kernel.sh" "${programs[@]}"
	md5sum <"$busybox"
	gcc --version | head -n1
} | md5sum | cut -c1-16)
initrd=$CACHE/initramfs-$key.cpio
if [ ! -f "$initrd" ]; then
	order=$(debkernel_module_order "$moddir" "${MODULES[@]}") ||
		testhost_die "cannot order the modules of $kver"
	tmp=$(mktemp -d "$CACHE/.initramfs.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	r=$tmp/root
	mkdir -p "$r"/{bin,dev,proc,sys,tmp,root,etc/mvmm,lib/modules}
	cp "$busybox" "$r/bin/busybox"
	cp "$TESTHOST_DIR/stock-guest-init.sh" "$r/init"
	chmod 755 "$r/init"
	cp "$ROOT/guest/lib.sh" "$r/etc/mvmm/lib.sh"
	for c in "${programs[@]}"; do
		gcc -static -O2 -Wall -Wextra -Werror -std=gnu11 -s \
			-o "$r/bin/$(basename "$c" .c)" "$c"
	done
	while read -r path; do
		name=$(basename "$path")
		case $name in
		*.ko.xz) xz -dc "$moddir/$path" >"$r/lib/modules/${name%.xz}" ;;
		*.ko.zst) zstd -qdc "$moddir/$path" >"$r/lib/modules/${name%.zst}" ;;
		*) cp "$moddir/$path" "$r/lib/modules/$name" ;;
		esac
		name=${name%.ko*}
		echo "$name" >>"$r/etc/modules.order"
	done <<<"$order"
	# Uncompressed: under TCG decompressing costs more than copying.
	(cd "$r" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) >"$tmp/image"
	mv "$tmp/image" "$initrd"
	find "$CACHE" -maxdepth 1 -name 'initramfs-*.cpio' ! -newer "$initrd" -mtime +0 -delete
fi

if [ $print = 1 ]; then
	echo "kernel $kernel"
	echo "initrd $initrd"
fi
