#!/usr/bin/env bash
# e2e-timeout: 420
# Issue 5: free page reporting. A 256 MiB guest that negotiated reporting
# dirties 150 MiB in a tmpfs file and deletes it; without any balloon target
# mvmm's RSS falls by at least 80% of that within 45 s. The guest sets the
# pace (mm/page_reporting.c: a pass every 2 s), so the RSS is printed every
# 2 s, and GET /metrics gives the time from a report's arrival to its used
# entry (worst and mean).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/balloon_lib.sh"
REPORT_GUEST_MIB=256 REPORT_FILL_MIB=150
. "$(dirname "$0")/reporting_lib.sh"

report_boot
report_expect_active false 0

rss_boot=$(rss_mib)
e2e_figure rss_after_boot "$rss_boot" MiB
report_fill
rss_fill=$(rss_mib)
e2e_figure "rss_after_guest_dirtied_${REPORT_FILL_MIB}MiB" "$rss_fill" MiB
[ $((rss_fill - rss_boot)) -ge $((REPORT_FILL_MIB * 80 / 100)) ] ||
	e2e_fail "RSS grew by only $((rss_fill - rss_boot)) MiB while the guest wrote ${REPORT_FILL_MIB} MiB"

bytes0=$(metric report_bytes)
report_free
report_follow "$rss_fill" 45 stop
e2e_figure rss_drop "$REPORT_DROP_MIB" MiB
e2e_figure time_to_50pct "${REPORT_T50_MS:-never}" ms
e2e_figure time_to_80pct "${REPORT_T80_MS:-never}" ms
report_latency_figures
[ -n "$REPORT_T80_MS" ] ||
	e2e_fail "RSS fell by ${REPORT_DROP_MIB} MiB in 45 s, want at least 80% of ${REPORT_FILL_MIB} MiB"
bytes=$(($(metric report_bytes) - bytes0))
[ "$bytes" -ge $((REPORT_FILL_MIB * 80 / 100 << 20)) ] ||
	e2e_fail "only $bytes bytes were reported and discarded after the delete"
[ "$(metric report_poison_skipped_bytes)" = 0 ] ||
	e2e_fail "pages were skipped for poison in a guest without poisoning"
[ "$(metric invalid_report_ranges)" = 0 ] ||
	e2e_fail "Linux reported ranges mvmm found invalid"

# The reported pages come back as zeroes and are usable again.
mvmm_send "memhog $REPORT_FILL_MIB >/dev/null && echo alloc-ok || echo alloc-failed"
mvmm_wait_for '^alloc-(ok|failed)$' 600 | grep -q ok ||
	e2e_fail "the guest could not allocate $REPORT_FILL_MIB MiB after reporting"
e2e_figure rss_after_reuse "$(rss_mib)" MiB

mvmm_send 'poweroff -f'
mvmm_expect_exit 0
