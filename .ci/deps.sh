#!/usr/bin/env bash
# Installs the Debian packages mvmm needs, only those missing, and fetches the
# test host's kernel and the stock guest kernel into the cache. Does nothing
# when all is present.
set -euo pipefail

PKGS=(build-essential pkg-config liburing-dev libfdt-dev libcriterion-dev
      libjansson-dev libseccomp-dev libmicrohttpd-dev linux-source-6.1
      busybox-static cpio bc flex bison libelf-dev libssl-dev
      qemu-system-x86 curl kmod xz-utils clang zlib1g-dev acpica-tools)

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
# Debian's stock cloud kernel for tests/e2e/t_stock_kernel.sh (which skips
# without it): not fatal, the other tiers do not need it.
bash "$(dirname "$0")/../tests/testhost/fetch-stock-guest.sh" ||
	echo "deps: no stock cloud kernel; t_stock_kernel will be skipped" >&2
