#!/usr/bin/env bash
# e2e-timeout: 300
# Issue 7 (hinting part): Linux's driver answers a host-started hint run on
# free_page_vq: it echoes the command id, sends hints of its free memory and
# STOP; with acknowledge_on_stop the device answers DONE. Nothing is discarded
# on a hint alone: RSS does not fall.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/balloon_lib.sh"

mvmm_boot --cpus 1 --mem 256 --api-sock "$API_SOCK" \
	--balloon amount_mib=0,free_page_hinting=on
mvmm_wait_for 'MVMM-SHELL-READY' >/dev/null
wait_api_sock
mvmm_send 'memhog 100 >/dev/null && echo dirty-done'
mvmm_wait_for '^dirty-done$' 300 >/dev/null
rss_before=$(rss_mib)

api_ok PATCH /balloon/hinting/start '{"acknowledge_on_stop": true}'
t0=$(e2e_now_ms)
# The guest ends the run with STOP; acknowledge_on_stop answers DONE (1).
while :; do
	api_ok GET /balloon/hinting/status
	[ "$(json_num host_cmd)" = 1 ] && [ "$(json_num mvmm_run_id)" -ge 2 ] && break
	[ $(($(e2e_now_ms) - t0)) -lt 120000 ] || e2e_fail "hint run did not end: $API_BODY"
	sleep 0.2
done
e2e_figure hint_run_ms "$(($(e2e_now_ms) - t0))" ms
e2e_log "status: $API_BODY"
api_ok GET /metrics
hint_bytes=$(json_num hint_bytes)
e2e_figure hint_mib $((hint_bytes >> 20)) MiB
[ "$hint_bytes" -gt $((32 << 20)) ] || e2e_fail "only $hint_bytes bytes hinted: $API_BODY"
[ "$(json_num hint_guest_starts)" -ge 1 ] || e2e_fail "the guest never echoed the command id"
rss_after=$(rss_mib)
e2e_figure rss_before_run "$rss_before" MiB
e2e_figure rss_after_run "$rss_after" MiB
# Hints alone never discard (seed 004): the memory stays resident.
[ "$rss_after" -ge $((rss_before - 16)) ] || e2e_fail "RSS fell from $rss_before to $rss_after MiB on hints alone"

# The guest has its pages back after DONE: it can allocate them.
mvmm_send 'memhog 150 >/dev/null && echo alloc-ok || echo alloc-failed'
mvmm_wait_for '^alloc-(ok|failed)$' 300 | grep -q ok || e2e_fail "allocation after the hint run failed"
mvmm_send 'poweroff -f'
mvmm_expect_exit 0
