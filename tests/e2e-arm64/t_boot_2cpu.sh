#!/bin/sh
# The arm64 guest on 2 vCPUs: the second one is started by the guest's PSCI
# CPU_ON, /proc/cpuinfo lists 2 processors, and power-off exits 0.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/boot_check.sh"
boot_check 2 256
