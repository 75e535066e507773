# shellcheck shell=bash
# Sourced by the test host scripts: cache location and how /dev/kvm is backed.

TESTHOST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TESTHOST_CACHE=${MVMM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mvmm}/testhost

# Prints "kvm_amd" or "kvm_intel" when /dev/kvm is hardware-backed, else
# "emulated". PVM (kvm_pvm) runs only PVM-patched guests, so it counts as
# unusable even though /dev/kvm exists.
testhost_kvm_mode() {
	if [ -c /dev/kvm ] && [ ! -e /sys/module/kvm_pvm ]; then
		if [ -e /sys/module/kvm_amd ]; then
			echo kvm_amd
			return
		fi
		if [ -e /sys/module/kvm_intel ]; then
			echo kvm_intel
			return
		fi
	fi
	echo emulated
}

testhost_die() {
	echo "testhost: $*" >&2
	exit 125
}
