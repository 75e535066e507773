#!/usr/bin/env bash
# Boots the guest with 1 vCPU and 256 MiB: it sees 1 CPU, MemTotal within 8%
# below 256 MiB, and its power-off ends mvmm with status 0.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/boot_check.sh"
boot_check 1 256
