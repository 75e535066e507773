#!/usr/bin/env bash
# `make run`: boots CONFIG with ./mvmm on this terminal. Where /dev/kvm is not
# hardware-backed (PVM), mvmm runs inside the emulated test host instead, with
# this terminal as the guest console. Exits with mvmm's exit status.
# Usage: run-demo.sh CONFIG
set -euo pipefail
. "$(dirname "$0")/common.sh"

config=${1:?usage: run-demo.sh CONFIG}
mode=$(testhost_kvm_mode)
if [ "$mode" != emulated ]; then
	echo "mode: direct ($mode)" >&2
	exec ./mvmm --config "$config"
fi
echo "mode: emulated test host (QEMU TCG, nested kvm-amd): /dev/kvm here is not hardware-backed" >&2
exec bash "$TESTHOST_DIR/run.sh" --interactive -- ./mvmm --config "$config"
