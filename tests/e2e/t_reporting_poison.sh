#!/usr/bin/env bash
# e2e-timeout: 600
# Issue 5: free page reporting with page poison. A guest booted with
# page_poison=1 (poison 0xaa) negotiates PAGE_POISON with poison_val
# 0xaaaaaaaa: its reported pages are skipped (counted, never discarded, RSS
# stays), and afterwards it allocates and uses nearly all of its memory with
# no 'pagealloc: memory corruption' report (a discarded page would read back
# zero and fail the allocator's poison check). A guest with init_on_free=1
# (poison 0) has its reported pages discarded.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/balloon_lib.sh"
REPORT_GUEST_MIB=256 REPORT_FILL_MIB=150
. "$(dirname "$0")/reporting_lib.sh"

# --- page_poison=1: nothing may be discarded.
report_boot --append page_poison=1
report_expect_active true $((0xaaaaaaaa))
e2e_figure poison_rss_after_boot "$(rss_mib)" MiB
report_fill
rss_fill=$(rss_mib)
e2e_figure poison_rss_after_fill "$rss_fill" MiB
skipped0=$(metric report_poison_skipped_bytes)
report_free
# Wait for the guest to report what it freed (skipped bytes), up to 45 s.
want=$((REPORT_FILL_MIB * 80 / 100 << 20))
while :; do
	skipped=$(($(metric report_poison_skipped_bytes) - skipped0))
	el=$(($(e2e_now_ms) - REPORT_T0_MS))
	[ "$skipped" -lt "$want" ] && [ "$el" -lt 45000 ] || break
	sleep 1
done
e2e_figure poison_skipped_after_free "$((skipped >> 20))" MiB
e2e_figure poison_skipped_after_free_ms "$el" ms
rss_now=$(rss_mib)
e2e_figure poison_rss_after_reports "$rss_now" MiB
report_latency_figures
[ "$skipped" -ge "$want" ] ||
	e2e_fail "only $skipped bytes were reported (and skipped) within 45 s"
[ "$(metric report_bytes)" = 0 ] ||
	e2e_fail "mvmm discarded reported pages although poison_val is 0xaaaaaaaa"
[ $((rss_fill - rss_now)) -le $((REPORT_FILL_MIB / 20)) ] ||
	e2e_fail "RSS fell from $rss_fill to $rss_now MiB: poisoned pages were discarded"

# Allocate and touch all but 32 MiB of what the guest has available: every
# page comes through the allocator's poison check.
mvmm_send 'avail=$(awk "/^MemAvailable:/ { print int(\$2 / 1024) - 32 }" /proc/meminfo); echo hog=$avail; memhog $avail >/dev/null && echo hog-ok || echo hog-failed'
hog=$(mvmm_wait_for '^hog=[0-9]+$')
mvmm_wait_for '^hog-(ok|failed)$' 600 | grep -q ok ||
	e2e_fail "the poisoned guest could not allocate ${hog#hog=} MiB"
e2e_figure poison_guest_allocated "${hog#hog=}" MiB
report_no_corruption
e2e_log "page_poison=1: no 'pagealloc: memory corruption' in dmesg or on the console"
mvmm_send 'poweroff -f'
mvmm_expect_exit 0

# --- init_on_free=1: poison 0, so reported pages are discarded.
report_boot --append init_on_free=1
report_expect_active true 0
e2e_figure zeroing_rss_after_boot "$(rss_mib)" MiB
# Boot zeroed all of RAM; let the guest report it first.
report_settle 60
e2e_figure zeroing_rss_settled "$(rss_mib)" MiB
report_fill
rss_fill=$(rss_mib)
e2e_figure zeroing_rss_after_fill "$rss_fill" MiB
bytes0=$(metric report_bytes)
report_free
report_follow "$rss_fill" 45 stop
e2e_figure zeroing_rss_drop "$REPORT_DROP_MIB" MiB
e2e_figure zeroing_time_to_80pct "${REPORT_T80_MS:-never}" ms
report_latency_figures
[ "$(metric report_poison_skipped_bytes)" = 0 ] ||
	e2e_fail "pages were skipped with poison_val 0"
[ $(($(metric report_bytes) - bytes0)) -gt 0 ] ||
	e2e_fail "nothing was discarded after the delete"
[ -n "$REPORT_T80_MS" ] ||
	e2e_fail "RSS fell by ${REPORT_DROP_MIB} MiB in 45 s, want at least 80% of ${REPORT_FILL_MIB} MiB"
mvmm_send 'poweroff -f'
mvmm_expect_exit 0
