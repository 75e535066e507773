#!/usr/bin/env bash
# Guest-side benchmark, run by tests/bench/run.sh (in the test host where
# /dev/kvm cannot boot a standard guest): boot-to-/init time, then the time to
# inflate a 512 MiB guest's balloon to 256 MiB and for mvmm's RSS to fall.
# Prints "figure: NAME = VALUE UNIT" lines.
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/../e2e/balloon_lib.sh"

t0=$(e2e_now_ms)
mvmm_boot --cpus 2 --mem 512 --api-sock "$API_SOCK" --balloon amount_mib=0
mvmm_wait_for 'Run /init' >/dev/null
e2e_figure boot_to_init "$(($(e2e_now_ms) - t0))" ms
mvmm_wait_for 'MVMM-SHELL-READY' >/dev/null
e2e_figure boot_to_shell "$(($(e2e_now_ms) - t0))" ms
wait_api_sock

mvmm_send 'memhog 300 >/dev/null && echo dirty-done'
mvmm_wait_for '^dirty-done$' 300 >/dev/null
rss_before=$(rss_mib)
t0=$(e2e_now_ms)
api_ok PATCH /balloon '{"amount_mib": 256}'
target_rss=$((rss_before - 256 * 90 / 100))
rss_ms=
while :; do
	now=$(e2e_now_ms)
	if [ -z "$rss_ms" ] && [ "$(rss_mib)" -le "$target_rss" ]; then
		rss_ms=$((now - t0))
	fi
	api_ok GET /balloon
	[ "$(json_num actual_mib)" = 256 ] && [ -n "$rss_ms" ] && break
	[ $((now - t0)) -lt 300000 ] || e2e_fail "inflate did not finish in 300 s"
	sleep 0.05
done
actual_ms=$((now - t0))
e2e_figure inflate_256MiB_actual_reached "$actual_ms" ms
e2e_figure inflate_256MiB_rss_fell_90pct "$rss_ms" ms
e2e_figure rss_before_inflate "$rss_before" MiB
e2e_figure rss_after_inflate "$(rss_mib)" MiB
mvmm_send 'poweroff -f'
mvmm_expect_exit 0
