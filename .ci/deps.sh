#!/usr/bin/env bash
# Installs the Debian packages mvmm needs, only those missing, and fetches the
# test host's kernel into the cache. Does nothing when all is present.
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

bash "$(dirname "$0")/../tests/testhost/fetch-kernel.sh"
