#!/usr/bin/env bash
# The interactive shell: a command typed on the console runs and its output
# comes back; `poweroff -f` typed there ends mvmm with status 0. Then a
# guest that triple-faults on purpose (reboot=t): mvmm exits 1 and, before
# it stops, dumps the other vCPUs, the UART and the virtqueues, so a crash
# nobody asked for leaves evidence of where it came from.
. "$(dirname "$0")/lib.sh"
mvmm_boot --cpus 1 --mem 256
mvmm_wait_for 'MVMM-SHELL-READY' >/dev/null
mvmm_send 'echo e2e-$((6*7))'
mvmm_wait_for '^e2e-42$'
mvmm_send 'poweroff -f'
mvmm_expect_exit 0

mvmm_boot --append reboot=t --cpus 2 --mem 256 --balloon amount_mib=0
mvmm_wait_for 'MVMM-SHELL-READY' >/dev/null
mvmm_send 'reboot -f'
mvmm_expect_exit 1
for want in 'guest triple fault' 'dump: at the crash' 'dump: vcpu1: rip=' \
	'dump: serial: ier' 'dump: virtio0: status'; do
	grep -q "$want" "$MVMM_STDERR" || e2e_fail "no '$want' in mvmm's stderr: $(cat "$MVMM_STDERR")"
done
! grep -q 'seccomp:' "$MVMM_STDERR" || e2e_fail "a filter refused the crash dump: $(grep 'seccomp:' "$MVMM_STDERR")"
e2e_log "crash dump: $(grep -c 'dump:' "$MVMM_STDERR") lines"
