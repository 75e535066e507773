#!/usr/bin/env bash
# Boots the guest with 2 vCPUs and 256 MiB: /proc/cpuinfo lists 2 processors,
# MemTotal within 8% below 256 MiB, and its power-off ends mvmm with status 0.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/boot_check.sh"
boot_check 2 256
