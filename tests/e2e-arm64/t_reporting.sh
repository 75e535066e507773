#!/bin/sh
# e2e-timeout: 900
# Free page reporting: a 384 MiB guest that negotiated it writes 128 MiB to
# a tmpfs file and deletes it; with no balloon target, mvmm's RSS falls by at
# least 80% of that within 120 s (the guest reports every 2 s).
. "$(dirname "$0")/lib.sh"

fill=128
mvmm_boot --cpus 2 --mem 384 --api-sock "$API_SOCK" \
	--balloon amount_mib=0,free_page_reporting=on
mvmm_wait_for 'MVMM-SHELL-READY' >/dev/null
wait_api_sock
api_ok GET /balloon
e2e_log "GET /balloon: $API_BODY"
printf '%s' "$API_BODY" | grep -q '"free_page_reporting_active": *true' ||
	e2e_fail "the guest did not negotiate free page reporting"

rss_boot=$(rss_mib)
mvmm_send "mount -o remount,size=90% /tmp && dd if=/dev/zero of=/tmp/big bs=1M count=$fill 2>/dev/null && echo fill-done || echo fill-failed"
line=$(mvmm_wait_for '^fill-(done|failed)$' 600)
[ "$line" = fill-done ] || e2e_fail "the guest could not write $fill MiB to /tmp"
rss_fill=$(rss_mib)
e2e_figure rss_after_boot "$rss_boot" MiB
e2e_figure "rss_after_guest_wrote_${fill}MiB" "$rss_fill" MiB

api_ok GET /metrics
bytes0=$(json_num report_bytes)
t0=$(e2e_now_ms)
mvmm_send 'rm /tmp/big && echo freed'
mvmm_wait_for '^freed$' >/dev/null
drop=0
while :; do
	el=$(($(e2e_now_ms) - t0))
	drop=$((rss_fill - $(rss_mib)))
	[ $((drop * 100)) -lt $((fill * 80)) ] || break
	[ "$el" -lt 120000 ] || break
	sleep 1
done
e2e_figure "rss_drop_after_free (${el} ms)" "$drop" MiB
api_ok GET /metrics
e2e_figure report_bytes $(($(json_num report_bytes) - bytes0)) B
[ $((drop * 100)) -ge $((fill * 80)) ] ||
	e2e_fail "RSS fell by $drop MiB in 120 s, want at least 80% of $fill MiB"
[ "$(json_num invalid_report_ranges)" = 0 ] ||
	e2e_fail "Linux reported ranges mvmm found invalid"

mvmm_send 'poweroff -f'
mvmm_expect_exit 0
no_seccomp_trap
