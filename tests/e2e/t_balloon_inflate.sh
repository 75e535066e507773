#!/usr/bin/env bash
# e2e-timeout: 300
# Issue 4: a 256 MiB guest dirties 150 MiB and frees it; the balloon inflates
# to 128 MiB through PATCH /balloon; actual reaches the target and mvmm's RSS
# falls by at least 90% of the inflated amount; deflating to 0 lets the guest
# allocate the memory again. Also checks the API as Firecracker's balloon
# documentation uses it, and that statistics match /proc/meminfo.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/balloon_lib.sh"

mvmm_boot --cpus 1 --mem 256 --api-sock "$API_SOCK" \
	--balloon amount_mib=0,stats_polling_interval_s=1
mvmm_wait_for 'MVMM-SHELL-READY' >/dev/null
wait_api_sock

# The driver bound to the device the transport announced (issue 3).
mvmm_send 'cat /sys/bus/virtio/devices/virtio0/device; basename $(readlink /sys/bus/virtio/devices/virtio0/driver)'
mvmm_wait_for '^0x0005$' >/dev/null
mvmm_wait_for '^virtio_balloon$' >/dev/null

rss_boot=$(rss_mib)
mvmm_send 'memhog 150 >/dev/null && echo dirty-done'
mvmm_wait_for '^dirty-done$' 300 >/dev/null
rss_dirty=$(rss_mib)
e2e_figure rss_after_boot "$rss_boot" MiB
e2e_figure rss_after_guest_dirtied_150MiB "$rss_dirty" MiB

api_ok PATCH /balloon '{"amount_mib": 128}'
ms=$(balloon_wait_actual 128 300)
sleep 1 # the RSS read races the last discard completion
rss_inflated=$(rss_mib)
e2e_figure inflate_128MiB_ms "$ms" ms
e2e_figure rss_after_inflate "$rss_inflated" MiB
drop=$((rss_dirty - rss_inflated))
e2e_figure rss_drop "$drop" MiB
[ "$drop" -ge $((128 * 90 / 100)) ] ||
	e2e_fail "RSS fell by ${drop} MiB, want at least 90% of 128 MiB"

api_ok GET /balloon
e2e_log "GET /balloon: $API_BODY"
[ "$(json_num amount_mib)" = 128 ] || e2e_fail "amount_mib is not 128: $API_BODY"

# Statistics agree with the guest's own view (issue 4: within 5%).
sleep 3
mvmm_send 'grep -E "^(MemTotal|MemFree):" /proc/meminfo | tr -s " " | tr "\n" " "; echo meminfo-end'
line=$(mvmm_wait_for 'MemTotal: [0-9]+ kB.*meminfo-end$')
guest_total_kib=$(echo "$line" | sed -n 's/.*MemTotal: \([0-9]*\) kB.*/\1/p')
guest_free_kib=$(echo "$line" | sed -n 's/.*MemFree: \([0-9]*\) kB.*/\1/p')
api_ok GET /balloon/statistics
e2e_log "GET /balloon/statistics: $API_BODY"
st_total=$(( $(json_num total_memory) / 1024 ))
st_free=$(( $(json_num free_memory) / 1024 ))
e2e_figure guest_memtotal_kib "$guest_total_kib" KiB
e2e_figure stats_total_memory_kib "$st_total" KiB
e2e_figure guest_memfree_kib "$guest_free_kib" KiB
e2e_figure stats_free_memory_kib "$st_free" KiB
within5() { local a=$1 b=$2 d; d=$((a > b ? a - b : b - a)); [ $((d * 100)) -le $((b * 5)) ]; }
within5 "$st_total" "$guest_total_kib" || e2e_fail "total_memory $st_total KiB vs MemTotal $guest_total_kib KiB"
within5 "$st_free" "$guest_free_kib" || e2e_fail "free_memory $st_free KiB vs MemFree $guest_free_kib KiB"
[ "$(json_num target_mib)" = 128 ] || e2e_fail "statistics target_mib is not 128"

# A malformed body is refused with a fault_message.
api PATCH /balloon '{"amount_mib": "lots"'
[ "$API_CODE" = 400 ] || e2e_fail "malformed PATCH /balloon answered $API_CODE"
echo "$API_BODY" | grep -q fault_message || e2e_fail "no fault_message: $API_BODY"
api PATCH /balloon '{"amount_mib": 100000}'
[ "$API_CODE" = 400 ] || e2e_fail "amount_mib beyond RAM answered $API_CODE"
api_ok PATCH /balloon/statistics '{"stats_polling_interval_s": 2}'

api_ok PATCH /balloon '{"amount_mib": 0}'
ms=$(balloon_wait_actual 0 300)
e2e_figure deflate_to_0_ms "$ms" ms
mvmm_send 'memhog 200 >/dev/null && echo alloc-ok || echo alloc-failed'
mvmm_wait_for '^alloc-(ok|failed)$' 300 | grep -q ok || e2e_fail "guest could not allocate 200 MiB after deflating"
e2e_figure rss_after_reuse "$(rss_mib)" MiB

mvmm_send 'poweroff -f'
mvmm_expect_exit 0
grep -o '"inflated_pages":[0-9]*' "$MVMM_STDERR" | head -1 | sed 's/^/e2e: metrics /'
