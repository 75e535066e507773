#!/bin/sh
# e2e-timeout: 900
# The balloon on arm64, through the same API as on x86: the guest binds
# virtio_balloon to device 0x0005 (found in the device tree); a 384 MiB
# guest dirties 160 MiB and frees it, and a 128 MiB inflate makes mvmm's RSS
# fall by at least 90% of that; statistics are answered; the guest takes the
# memory back on a deflate to 0. Every thread runs under its seccomp filter
# (the default, kill), and a snapshot is refused with a clear message. Sizes
# are the x86 scenario's, cut for nested TCG (docs/testing.md).
. "$(dirname "$0")/lib.sh"

mvmm_boot --cpus 2 --mem 384 --api-sock "$API_SOCK" \
	--balloon amount_mib=0,stats_polling_interval_s=1
mvmm_wait_for 'MVMM-SHELL-READY' >/dev/null
wait_api_sock

# The console both ways: a typed command runs and its output comes back.
mvmm_send 'echo e2e-$((6*7))'
mvmm_wait_for '^e2e-42$' >/dev/null
e2e_log "console: typed 'echo e2e-\$((6*7))', read back e2e-42"

mvmm_send 'd=/sys/bus/virtio/devices/virtio0; echo "dev=$(cat $d/device) drv=$(basename $(readlink $d/driver))"'
line=$(mvmm_wait_for '^dev=0x[0-9a-f]+ drv=')
e2e_log "guest virtio0: $line"
[ "$line" = "dev=0x0005 drv=virtio_balloon" ] ||
	e2e_fail "virtio0 is not the balloon bound to virtio_balloon: $line"
e2e_figure balloon_device "0x0005 bound to virtio_balloon"

# Every thread filtered (the API thread at its first connection).
api_ok GET /
threads=0
for t in /proc/"$MVMM_PID"/task/*; do
	sc=$(awk '$1 == "Seccomp:" { print $2 }' "$t/status")
	e2e_log "thread $(cat "$t/comm"): Seccomp: $sc"
	[ "$sc" = 2 ] || e2e_fail "thread $(cat "$t/comm") has no seccomp filter"
	threads=$((threads + 1))
done
e2e_figure confined_threads "$threads"

rss_boot=$(rss_mib)
mvmm_send 'memhog 160 >/dev/null && echo dirty-done'
mvmm_wait_for '^dirty-done$' 600 >/dev/null
rss_dirty=$(rss_mib)
e2e_figure rss_after_boot "$rss_boot" MiB
e2e_figure rss_after_guest_dirtied_160MiB "$rss_dirty" MiB

api_ok PATCH /balloon '{"amount_mib": 128}'
ms=$(balloon_wait_actual 128 600)
sleep 1 # the RSS read races the last discard completion
rss_inflated=$(rss_mib)
e2e_figure inflate_128MiB_ms "$ms" ms
e2e_figure rss_before_inflate "$rss_dirty" MiB
e2e_figure rss_after_inflate_128MiB "$rss_inflated" MiB
drop=$((rss_dirty - rss_inflated))
e2e_figure rss_drop "$drop" MiB
[ "$drop" -ge $((128 * 90 / 100)) ] ||
	e2e_fail "RSS fell by ${drop} MiB, want at least 90% of 128 MiB"

api_ok GET /balloon
e2e_log "GET /balloon: $API_BODY"
[ "$(json_num amount_mib)" = 128 ] || e2e_fail "amount_mib is not 128: $API_BODY"

# Statistics: the driver answers on its stats queue every second.
i=0
while :; do
	api_ok GET /balloon/statistics
	json_num free_memory >/dev/null && break
	i=$((i + 1))
	[ $i -lt 120 ] || e2e_fail "no statistics after 120 s: $API_BODY"
	sleep 1
done
e2e_log "GET /balloon/statistics: $API_BODY"
e2e_figure stats_total_memory_kib $(($(json_num total_memory) / 1024)) KiB
e2e_figure stats_free_memory_kib $(($(json_num free_memory) / 1024)) KiB
[ "$(json_num target_mib)" = 128 ] || e2e_fail "statistics target_mib is not 128"

api_ok PATCH /balloon '{"amount_mib": 0}'
e2e_figure deflate_to_0_ms "$(balloon_wait_actual 0 600)" ms

api PUT /snapshot/create "{\"snapshot_path\": \"$E2E_WORK/s\", \"mem_file_path\": \"$E2E_WORK/m\"}"
e2e_log "PUT /snapshot/create: $API_CODE $API_BODY"
[ "$API_CODE" = 400 ] && printf '%s' "$API_BODY" | grep -q 'not supported on aarch64' ||
	e2e_fail "snapshot/create was not refused clearly: $API_CODE $API_BODY"

mvmm_send 'poweroff -f'
mvmm_expect_exit 0
e2e_figure power_off_exit_status "$MVMM_STATUS"
no_seccomp_trap
