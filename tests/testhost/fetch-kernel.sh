#!/usr/bin/env bash
# Fetches the test host's kernel, the linux-image-6.1.0-NN-amd64 package that
# linux-image-amd64 depends on, and unpacks it into the cache with dpkg -x: it
# is never installed on this machine. Then builds the test host initramfs.
# Silent and quick when both are cached. With --print, prints two lines:
# "kernel PATH" and "initrd PATH". With --arch arm64: linux-image-arm64's
# kernel (KVM built in) for the arm64 test host, cached in testhost-arm64/.
# Usage: fetch-kernel.sh [--arch x86_64|arm64] [--print]
set -euo pipefail
. "$(dirname "$0")/common.sh"

print=0
arch=x86_64
while [ $# -gt 0 ]; do
	case $1 in
	--print) print=1; shift ;;
	--arch) arch=${2:?--arch needs x86_64 or arm64}; shift 2 ;;
	*) testhost_die "usage: fetch-kernel.sh [--arch x86_64|arm64] [--print]" ;;
	esac
done
case $arch in
x86_64) meta=linux-image-amd64 dpkg_arch= ;;
arm64)
	meta=linux-image-arm64:arm64 dpkg_arch=:arm64
	TESTHOST_CACHE=$TESTHOST_CACHE-arm64
	;;
*) testhost_die "unknown arch $arch (x86_64 or arm64)" ;;
esac

mkdir -p "$TESTHOST_CACHE"
# Several checkouts may run make at once; one fetch at a time.
exec 9>"$TESTHOST_CACHE/.lock"
flock 9

if [ "$(id -u)" = 0 ]; then SUDO=(); else SUDO=(sudo -n); fi

# Resolving costs ~0.5 s of apt-cache; remember the answer until the apt
# lists change.
lists_key() {
	stat -c '%n %Y %s' /var/lib/apt/lists/*_Packages* 2>/dev/null | md5sum | cut -d' ' -f1
}

resolve() {
	local p v
	p=$(apt-cache depends "$meta" 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n1)
	[ -n "$p" ] || return 1
	p=${p%:arm64}
	v=$(apt-cache show --no-all-versions "$p$dpkg_arch" 2>/dev/null | sed -n 's/^Version: //p' | head -n1)
	[ -n "$v" ] || return 1
	echo "$p $v"
}

resolved_file=$TESTHOST_CACHE/resolved
key=$(lists_key)
pkgver=
if [ -f "$resolved_file" ] && [ "$(cut -d' ' -f1 "$resolved_file")" = "$key" ]; then
	pkgver=$(cut -d' ' -f2- "$resolved_file")
fi
if [ -z "$pkgver" ]; then
	if ! pkgver=$(resolve); then
		echo "testhost: apt lists lack $meta; running apt-get update" >&2
		"${SUDO[@]}" apt-get update -q >/dev/null 2>&1 || true
		key=$(lists_key)
		pkgver=$(resolve) || pkgver=
	fi
	[ -n "$pkgver" ] && echo "$key $pkgver" >"$resolved_file"
fi

if [ -n "$pkgver" ]; then
	pkg=${pkgver% *}
	ver=${pkgver#* }
	kdir=$TESTHOST_CACHE/${pkg}_$ver
else
	# Offline and apt knows nothing: use the newest kernel already unpacked.
	kdir=$(ls -d "$TESTHOST_CACHE"/linux-image-*/ 2>/dev/null | sort -V | tail -n1)
	kdir=${kdir%/}
	[ -n "$kdir" ] || testhost_die "cannot resolve $meta and nothing is cached in $TESTHOST_CACHE"
	echo "testhost: apt cannot resolve $meta; using cached $(basename "$kdir")" >&2
fi

if [ ! -d "$kdir" ]; then
	echo "testhost: fetching $pkg $ver (test host kernel, unpacked, not installed)" >&2
	tmp=$(mktemp -d "$TESTHOST_CACHE/.fetch.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	# _apt cannot write into a root-only cache dir: let it, or apt warns.
	chmod 755 "$tmp"
	if ! (cd "$tmp" && apt-get download -q "$pkg$dpkg_arch=$ver") >"$tmp/log" 2>&1; then
		cat "$tmp/log" >&2
		testhost_die "apt-get download $pkg$dpkg_arch=$ver failed"
	fi
	dpkg -x "$tmp"/"${pkg}"_*.deb "$tmp/root"
	kver=$(basename "$(ls -d "$tmp"/root/lib/modules/*/ | head -n1)")
	# The package ships no modules.dep (postinst makes it); make one.
	depmod -b "$tmp/root" "$kver"
	mv "$tmp/root" "$kdir"
	rm -rf "$tmp"
	trap - EXIT
fi

vmlinuz=$(ls "$kdir"/boot/vmlinuz-* | head -n1)
[ -f "$vmlinuz" ] || testhost_die "no vmlinuz in $kdir"

# Unpacking the xz bzImage under TCG takes ~2.3 s of every boot; QEMU boots
# the bare ELF through its PVH entry instead, so unpack it once here.
kernel=$kdir/vmlinux-pvh
if [ ! -f "$kernel" ] && grep -q '^CONFIG_PVH=y' "$kdir"/boot/config-*; then
	off=$(LC_ALL=C grep -obUa $'\xfd''7zXZ' "$vmlinuz" | head -n1 | cut -d: -f1)
	if [ -n "$off" ]; then
		# tail dies of SIGPIPE once xz has its one stream; that is expected.
		tail -c +$((off + 1)) "$vmlinuz" | xz -dc --single-stream >"$kernel.tmp" 2>/dev/null || true
		if [ "$(head -c4 "$kernel.tmp" 2>/dev/null)" = $'\x7fELF' ]; then
			mv "$kernel.tmp" "$kernel"
		fi
		rm -f "$kernel.tmp"
	fi
fi
[ -f "$kernel" ] || kernel=$vmlinuz

initrd=$(bash "$TESTHOST_DIR/build-initramfs.sh" "$kdir" "$arch")

if [ $print = 1 ]; then
	echo "kernel $kernel"
	echo "initrd $initrd"
fi
