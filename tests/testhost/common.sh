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

# The test host's reschedule and function-call IPIs so far, per CPU,
# space-separated: the emulator's faults grow with IPIs that land while a
# guest runs (docs/testing.md).
testhost_ipis() {
	awk '/^ *(RES|CAL):/ { for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s[i - 1] += $i; n = i - 2 }
		END { for (i = 1; i <= n; i++) printf "%d%s", s[i], i < n ? " " : "\n" }' /proc/interrupts 2>/dev/null
}

# testhost_ipis_since "BEFORE": "TOTAL (cpu0 A, cpu1 B)" since BEFORE, an
# earlier testhost_ipis.
testhost_ipis_since() {
	local -a a b
	local i total=0 per=
	read -ra a <<<"$1"
	read -ra b <<<"$(testhost_ipis)"
	for i in "${!b[@]}"; do
		total=$((total + b[i] - ${a[i]:-0}))
		per+="${per:+, }cpu$i $((b[i] - ${a[i]:-0}))"
	done
	echo "$total ($per)"
}

# testhost_now: milliseconds since the epoch in TESTHOST_NOW_MS; and
# testhost_sleep SECONDS. Both are builtins, so a wait that uses them starts
# no process: each process is a few test host IPIs, and the emulator's faults
# come with those (docs/testing.md, "Waits that start no process").
testhost_now() {
	local t=${EPOCHREALTIME/[.,]/}
	TESTHOST_NOW_MS=$((10#$t / 1000))
}

# A read with a timeout on a FIFO that no one writes.
_testhost_sleep_fd=
testhost_sleep() {
	if [ -z "$_testhost_sleep_fd" ]; then
		local f
		f=$(mktemp -u "${TMPDIR:-/tmp}/mvmm-sleep.XXXXXX")
		mkfifo "$f" && exec {_testhost_sleep_fd}<>"$f" && rm -f "$f"
	fi
	read -r -t "$1" -u "$_testhost_sleep_fd" _ || true
}

# testhost_fault_taint: the test host kernel's taint bits that say it
# faulted, in TESTHOST_FAULT_TAINT: D (128, an oops or BUG) and L (16384, a
# soft lockup). A builtin read: the emulator's world-switch fault can oops
# the kernel in a vCPU thread without a panic, and that kernel then runs the
# guest on corrupted state (docs/testing.md, "A test host oops").
testhost_fault_taint() {
	local t=0
	read -r t </proc/sys/kernel/tainted 2>/dev/null || t=0
	TESTHOST_FAULT_TAINT=$((t & (128 | 16384)))
}

# The first line of the kernel log that names such a fault.
testhost_fault_line() {
	dmesg 2>/dev/null | grep -a -m1 -E 'BUG: |Oops|general protection fault|soft lockup|stack guard' |
		sed 's/^\[[ 0-9.]*\] //' | cut -c1-120
}
