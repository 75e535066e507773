#!/bin/sh
# e2e-timeout: 900
# Integrity (as tests/e2e/t_balloon_integrity.sh on x86, smaller for nested
# TCG): memfill keeps 64 MiB of checksummed pages; the balloon inflates to
# 160 MiB and deflates around them three times; every page verifies after
# each inflate and at the end.
. "$(dirname "$0")/lib.sh"

mvmm_boot --cpus 2 --mem 384 --api-sock "$API_SOCK" --balloon amount_mib=0
mvmm_wait_for 'MVMM-SHELL-READY' >/dev/null
wait_api_sock

mvmm_send 'memfill -w -r /tmp/filled 64 & echo memfill-pid=$!'
mvmm_wait_for '^memfill-pid=[0-9]+$' >/dev/null
mvmm_send 'while [ ! -e /tmp/filled ]; do sleep 0.5; done; echo filled-ok'
mvmm_wait_for '^filled-ok$' 600 >/dev/null

cycles=3
i=1
while [ $i -le $cycles ]; do
	api_ok PATCH /balloon '{"amount_mib": 160}'
	ms=$(balloon_wait_actual 160 600)
	mvmm_send "kill -USR1 %1; sleep 1; echo verify-$i"
	line=$(mvmm_wait_for "memfill: (verified .*|CORRUPT.*)" 300)
	line=memfill:${line#*memfill:} # the shell's prompt may share it
	case $line in *CORRUPT*) e2e_fail "cycle $i: $line" ;; esac
	mvmm_wait_for "^verify-$i\$" 300 >/dev/null
	api_ok PATCH /balloon '{"amount_mib": 0}'
	ms2=$(balloon_wait_actual 0 600)
	e2e_log "cycle $i: inflate 160 MiB ${ms} ms, deflate ${ms2} ms, $line"
	i=$((i + 1))
done

mvmm_send 'kill -TERM %1; wait %1; echo memfill-rc=$?'
line=$(mvmm_wait_for '^memfill-rc=[0-9]+$' 600)
e2e_log "$line"
[ "$line" = memfill-rc=0 ] ||
	e2e_fail "memfill found corruption: $(tr -d '\r' <"$MVMM_CONSOLE" | grep -m3 CORRUPT)"
e2e_figure integrity "$cycles of $cycles inflate/deflate cycles verified, no corrupt page"
mvmm_send 'poweroff -f'
mvmm_expect_exit 0
no_seccomp_trap
