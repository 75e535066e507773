#!/usr/bin/env bash
# Guest-side benchmark of free page reporting (issue 5), run by
# tests/bench/run.sh: a 1 GiB guest dirties 600 MiB in tmpfs and deletes it;
# prints the time from the rm to mvmm's RSS falling by 50% and 80% of that,
# the fraction reclaimed 45 s after the rm, the RSS curve (every 2 s) and the
# report-to-used-entry latency. Prints "figure: NAME = VALUE UNIT" lines.
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/../e2e/balloon_lib.sh"
. "$(dirname "$0")/../e2e/reporting_lib.sh"

report_boot
report_expect_active false 0 >/dev/null
report_fill
rss_fill=$(rss_mib)
e2e_figure reporting_rss_after_fill "$rss_fill" MiB
REPORT_QUIET=1
report_free
report_follow "$rss_fill" 45
e2e_figure reporting_time_to_50pct "${REPORT_T50_MS:-never}" ms
e2e_figure reporting_time_to_80pct "${REPORT_T80_MS:-never}" ms
e2e_figure reporting_reclaimed_at_45s "$((REPORT_DROP_MIB * 100 / REPORT_FILL_MIB))" "% of ${REPORT_FILL_MIB} MiB"
e2e_figure reporting_rss_curve "$REPORT_CURVE" "(s:MiB)"
report_latency_figures | sed 's/^figure: /figure: reporting_/'
mvmm_send 'poweroff -f'
mvmm_expect_exit 0
