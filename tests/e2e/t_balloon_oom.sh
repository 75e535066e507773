#!/usr/bin/env bash
# e2e-timeout: 300
# Issue 4, DEFLATE_ON_OOM: with the balloon at 75% of RAM, a guest allocation
# beyond what is left succeeds because the guest deflates, not because the OOM
# killer ran.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/balloon_lib.sh"

mvmm_boot --cpus 1 --mem 256 --api-sock "$API_SOCK" \
	--balloon amount_mib=192,deflate_on_oom=on
mvmm_wait_for 'MVMM-SHELL-READY' >/dev/null
wait_api_sock
ms=$(balloon_wait_actual 192 300)
e2e_figure inflate_to_192MiB_ms "$ms" ms
mvmm_send 'grep MemFree /proc/meminfo'
free_line=$(mvmm_wait_for '^MemFree:')
e2e_log "before: $free_line"

mvmm_send 'memhog 96 && echo hog-ok || echo hog-failed'
line=$(mvmm_wait_for '^hog-(ok|failed)$' 600)
[ "$line" = hog-ok ] || e2e_fail "the guest could not allocate 96 MiB: $(mvmm_console | grep -m2 memhog)"
mvmm_send 'dmesg | grep -c "Out of memory: Killed" ; echo oom-count-done'
count=$(mvmm_wait_for '^[0-9]+$')
[ "$count" = 0 ] || e2e_fail "the OOM killer ran $count times"
api_ok GET /balloon
actual=$(json_num actual_mib)
e2e_figure balloon_actual_after_oom_deflation "$actual" MiB
[ "$actual" -lt 192 ] || e2e_fail "the balloon did not deflate (actual $actual MiB)"
mvmm_send 'poweroff -f'
mvmm_expect_exit 0
