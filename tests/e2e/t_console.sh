#!/usr/bin/env bash
# The interactive shell: a command typed on the console runs and its output
# comes back; `poweroff -f` typed there ends mvmm with status 0.
. "$(dirname "$0")/lib.sh"
mvmm_boot --cpus 1 --mem 256
mvmm_wait_for 'MVMM-SHELL-READY' >/dev/null
mvmm_send 'echo e2e-$((6*7))'
mvmm_wait_for '^e2e-42$'
mvmm_send 'poweroff -f'
mvmm_expect_exit 0
