#!/usr/bin/env bash
# Installs the Debian packages mvmm needs, only those missing, and fetches the
# test host's kernel and the stock guest kernel into the cache. Does nothing
# when all is present.
set -euo pipefail

PKGS=(build-essential pkg-config liburing-dev libfdt-dev libcriterion-dev
      libjansson-dev libseccomp-dev libmicrohttpd-dev linux-source-6.1
      busybox-static cpio bc flex bison libelf-dev libssl-dev
      qemu-system-x86 curl kmod xz-utils clang zlib1g-dev acpica-tools
      strace)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "deps: installing ${missing[*]}"
	[ "$(id -u)" = 0 ] && SUDO= || SUDO=sudo
	$SUDO apt-get update -q
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# aarch64: the cross compiler, arm64 builds of the libraries mvmm links
# (multiarch, beside the amd64 ones), QEMU for the arm64 test host and dtc to
# read device tree blobs. libfdt-dev is not co-installable across
# architectures (Multi-Arch: no); its headers are arch-independent and the
# arm64 build links libfdt1:arm64's library by its soname.
ARM64_PKGS=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross linux-libc-dev-arm64-cross
	    qemu-system-arm device-tree-compiler)
ARM64_LIBS=(liburing-dev libjansson-dev libmicrohttpd-dev libseccomp-dev
	    libfdt1 zlib1g-dev)
if [ "${MVMM_SKIP_ARM64:-0}" != 1 ]; then
	missing=()
	for p in "${ARM64_PKGS[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
			missing+=("$p")
	done
	for p in "${ARM64_LIBS[@]}"; do
		dpkg-query -W -f='${Status}' "$p:arm64" 2>/dev/null | grep -q "ok installed" ||
			missing+=("$p:arm64")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		echo "deps: installing ${missing[*]}"
		[ "$(id -u)" = 0 ] && SUDO= || SUDO=sudo
		if ! dpkg --print-foreign-architectures | grep -qx arm64; then
			$SUDO dpkg --add-architecture arm64
		fi
		$SUDO apt-get update -q
		DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
	fi
fi

bash "$(dirname "$0")/../tests/testhost/fetch-kernel.sh"
# Debian's stock cloud kernel for tests/e2e/t_stock_kernel.sh (which skips
# without it): not fatal, the other tiers do not need it.
bash "$(dirname "$0")/../tests/testhost/fetch-stock-guest.sh" ||
	echo "deps: no stock cloud kernel; t_stock_kernel will be skipped" >&2
