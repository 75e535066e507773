#!/usr/bin/env bash
# Builds the test host initramfs for the kernel unpacked in KDIR: static
# busybox, init.sh as /init, and the modules it loads (with their dependencies
# from that kernel's modules.dep, in load order). Rebuilt only when an input
# changes; prints the image's path. ARCH arm64: the arm64 test host's, with
# an arm64 busybox and /etc/testhost.env telling init.sh which arch it is.
# Usage: build-initramfs.sh KDIR [x86_64|arm64]
set -euo pipefail
. "$(dirname "$0")/common.sh"

kdir=${1:?usage: build-initramfs.sh KDIR [x86_64|arm64]}
arch=${2:-x86_64}
kver=$(basename "$(ls -d "$kdir"/lib/modules/*/ | head -n1)")
moddir=$kdir/lib/modules/$kver

case $arch in
x86_64)
	busybox=${BUSYBOX:-/bin/busybox}
	# kvm-amd gives the test host a hardware-style /dev/kvm; 9p over
	# virtio-pci carries the build machine's root; overlay makes that root
	# writable locally.
	WANTED=(irqbypass kvm ccp kvm-amd
		virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci
		netfs fscache 9pnet 9pnet_virtio 9p overlay)
	;;
arm64)
	TESTHOST_CACHE=$TESTHOST_CACHE-arm64
	busybox=$(bash "$TESTHOST_DIR/../../guest/arm64-busybox.sh") ||
		testhost_die "no arm64 busybox (make deps)"
	# Debian's arm64 kernel has KVM, virtio and the PCI host built in.
	WANTED=(virtio_pci netfs fscache 9pnet 9pnet_virtio 9p overlay)
	;;
*) testhost_die "unknown arch $arch (x86_64 or arm64)" ;;
esac

[[ $(ldd "$busybox" 2>&1 || true) == *'not a dynamic'* ]] ||
	testhost_die "$busybox is not static (install busybox-static)"

key=$( {
	echo "$kdir $arch ${WANTED[*]}"
	cat "$TESTHOST_DIR/init.sh" "$0"
	md5sum <"$busybox"
} | md5sum | cut -c1-16)
out=$TESTHOST_CACHE/initramfs-$key.cpio
if [ -f "$out" ]; then
	echo "$out"
	exit 0
fi

# modules.dep lists a module's dependencies so that loading them from last
# to first works, as modprobe does.
declare -A seen=()
order=()
add_module() {
	local path=$1 deps i
	[ -n "${seen[$path]:-}" ] && return
	deps=$(awk -v m="$path:" '$1 == m { $1 = ""; print }' "$moddir/modules.dep")
	read -ra deps <<<"$deps"
	for ((i = ${#deps[@]} - 1; i >= 0; i--)); do
		add_module "${deps[i]}"
	done
	seen[$path]=1
	order+=("$path")
}
for m in "${WANTED[@]}"; do
	path=$(awk -v m="$m" '{ p = $1; sub(/:$/, "", p); n = p; sub(/.*\//, "", n);
		sub(/\.ko(\.[a-z]+)?$/, "", n); if (n == m) { print p; exit } }' "$moddir/modules.dep")
	[ -n "$path" ] || testhost_die "module $m not in $moddir/modules.dep"
	add_module "$path"
done

tmp=$(mktemp -d "$TESTHOST_CACHE/.initramfs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
mkdir -p "$root"/{bin,dev,proc,sys,lower,job,rw,newroot,lib/modules,etc}
cp "$busybox" "$root/bin/busybox"
cp "$TESTHOST_DIR/init.sh" "$root/init"
chmod 755 "$root/init"
[ "$arch" = x86_64 ] || echo "TESTHOST_ARCH=$arch" >"$root/etc/testhost.env"
for path in "${order[@]}"; do
	name=$(basename "$path")
	case $name in
	*.ko.xz) xz -dc "$moddir/$path" >"$root/lib/modules/${name%.xz}" ;;
	*.ko.zst) zstd -qdc "$moddir/$path" >"$root/lib/modules/${name%.zst}" ;;
	*.ko.gz) gzip -dc "$moddir/$path" >"$root/lib/modules/${name%.gz}" ;;
	*) cp "$moddir/$path" "$root/lib/modules/$name" ;;
	esac
	name=${name%.ko*}
	echo "$name" >>"$root/etc/modules.order"
done
# Uncompressed: decompressing under TCG costs more than copying.
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) >"$tmp/image"
mv "$tmp/image" "$out"
# Images of past inputs: drop those unused for a day.
find "$TESTHOST_CACHE" -maxdepth 1 -name 'initramfs-*.cpio' ! -newer "$out" -mtime +0 -delete
echo "$out"
