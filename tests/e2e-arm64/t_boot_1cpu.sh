#!/bin/sh
# The arm64 guest on 1 vCPU and 256 MiB: its info scenario sees 1 CPU and
# the RAM, and its power-off (PSCI SYSTEM_OFF) ends mvmm with status 0.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/boot_check.sh"
boot_check 1 256
