#!/usr/bin/env bash
# e2e-timeout: 1500
# Issue 13: Debian's stock cloud kernel (virtio_mmio and virtio_balloon are
# modules, no command-line devices) finds the balloon through mvmm's DSDT.
# Boot 1, 2 vCPUs, 512 MiB: the guest sees 2 CPUs, device 0x0005 under an
# ACPI LNRO0005 parent bound to virtio_balloon; with 350 MiB dirtied and
# freed in the guest (so the balloon's pages are resident), a 128 MiB inflate
# through the API lowers mvmm's RSS by at least 90% of it; statistics come
# back filled (a new interval asks the guest at once); deflate lets the guest
# allocate again. Boot 2, 512 MiB, with free page reporting: 300 MiB written
# to tmpfs and deleted come back to the host (80% within 60 s). Two boots,
# because reporting would return the freed pages before the inflate could.
# The kernel and its initramfs: tests/testhost/fetch-stock-guest.sh.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/balloon_lib.sh"
. "$(dirname "$0")/reporting_lib.sh"

paths=$(bash tests/testhost/fetch-stock-guest.sh --print) || {
	echo "skip: Debian's cloud kernel is neither cached nor downloadable (make deps fetches it)"
	exit 77
}
E2E_KERNEL=$(sed -n 's/^kernel //p' <<<"$paths")
E2E_INITRD=$(sed -n 's/^initrd //p' <<<"$paths")
e2e_log "stock kernel: $E2E_KERNEL"
# A distribution kernel boots far slower than the tiny one under TCG.
BOOT_WAIT=$((E2E_WAIT * 4))

# stock_boot MEM_MIB BALLOON_OPTS: boots with 2 vCPUs; shell, modules and
# API up; checks the balloon bound through ACPI.
stock_boot() {
	local t0 line
	t0=$(e2e_now_ms)
	mvmm_boot --append quiet --cpus 2 --mem "$1" --api-sock "$API_SOCK" \
		--balloon "$2"
	mvmm_wait_for 'MVMM-MODULES-LOADED' "$BOOT_WAIT" >/dev/null
	if mvmm_console | grep -q 'MVMM-INSMOD-FAILED'; then
		e2e_fail "$(mvmm_console | grep 'MVMM-INSMOD-FAILED')"
	fi
	mvmm_wait_for 'MVMM-SHELL-READY' >/dev/null
	e2e_figure boot_to_shell "$(($(e2e_now_ms) - t0))" ms
	wait_api_sock

	mvmm_send 'echo cpus=$(nproc)'
	line=$(mvmm_wait_for '^cpus=[0-9]+$')
	e2e_log "guest: $line"
	[ "$line" = cpus=2 ] || e2e_fail "the guest sees ${line#cpus=} CPUs, expected 2"

	# Device id, driver, and the platform device the transport came from
	# (LNRO0005:NN when ACPI described it, virtio-mmio.N from the command line).
	mvmm_send 'for d in /sys/bus/virtio/devices/*; do echo "virtio-dev $(basename $d) device=$(cat $d/device) driver=$(basename "$(readlink $d/driver)") parent=$(basename "$(readlink -f $d/..)")"; done; echo virtio-list-end'
	mvmm_wait_for '^virtio-list-end$' >/dev/null
	mvmm_console | tail -c +$((MVMM_MARK + 1)) | grep '^virtio-dev ' | sed 's/^/e2e: guest: /'
	line=$(mvmm_wait_for '^virtio-dev .* device=0x0005 ')
	[[ $line == *' driver=virtio_balloon '* ]] ||
		e2e_fail "device 0x0005 is not bound to virtio_balloon: $line"
	[[ $line == *' parent=LNRO0005:'* ]] ||
		e2e_fail "the balloon did not come from the DSDT's LNRO0005: $line"
}

# ---- boot 1: inflate, statistics, deflate ----
stock_boot 512 amount_mib=0,deflate_on_oom=on,stats_polling_interval_s=1

# What the distribution kernel said about the machine mvmm gives it (ACPI,
# CPU features, clocks, the transport): shown for the reader, not judged.
mvmm_send 'dmesg | grep -iE "acpi.*(error|warn)|firmware bug|unchecked|clocksource|tsc:|lnro|virtio|error|fail" | head -40; echo dmesg-end'
mvmm_wait_for '^dmesg-end$' >/dev/null
mvmm_console | tail -c +$((MVMM_MARK + 1)) | grep '^\[' | sed 's/^/e2e: guest dmesg: /'

rss_boot=$(rss_mib)
mvmm_send 'memhog 350 >/dev/null && echo dirty-done'
mvmm_wait_for '^dirty-done$' 600 >/dev/null
rss_dirty=$(rss_mib)
e2e_figure rss_after_boot "$rss_boot" MiB
e2e_figure rss_before_inflate "$rss_dirty" MiB

api_ok PATCH /balloon '{"amount_mib": 128}'
ms=$(balloon_wait_actual 128 300)
sleep 1 # the RSS read races the last discard completion
rss_inflated=$(rss_mib)
e2e_figure inflate_128MiB_ms "$ms" ms
e2e_figure rss_after_inflate_128MiB "$rss_inflated" MiB
drop=$((rss_dirty - rss_inflated))
e2e_figure rss_drop_inflate "$drop" MiB
[ "$drop" -ge $((128 * 90 / 100)) ] ||
	e2e_fail "RSS fell by ${drop} MiB, want at least 90% of 128 MiB"

# Statistics: Linux 6.1 sends tags 0-9.
sleep 2
api_ok GET /balloon/statistics
e2e_log "GET /balloon/statistics: $API_BODY"
for f in swap_in swap_out major_faults minor_faults free_memory total_memory \
	available_memory disk_caches hugetlb_allocations hugetlb_failures; do
	[ -n "$(json_num "$f")" ] || e2e_fail "statistics lack $f: $API_BODY"
done
[ "$(json_num total_memory)" -gt $((256 << 20)) ] ||
	e2e_fail "total_memory is implausible: $API_BODY"
e2e_figure stats_total_memory "$(($(json_num total_memory) >> 20))" MiB
e2e_figure stats_free_memory "$(($(json_num free_memory) >> 20))" MiB

# A new interval asks the guest at once (Firecracker's behaviour): with a
# period of an hour, a fresh buffer still arrives within seconds.
api_ok PATCH /balloon/statistics '{"stats_polling_interval_s": 3600}'
sleep 2
n0=$(metric stats_updates)
t0=$(e2e_now_ms)
api_ok PATCH /balloon/statistics '{"stats_polling_interval_s": 1800}'
while [ "$(metric stats_updates)" = "$n0" ]; do
	[ $(($(e2e_now_ms) - t0)) -lt 20000 ] ||
		e2e_fail "no statistics within 20 s of PATCH /balloon/statistics"
	sleep 0.2
done
e2e_figure stats_after_patch "$(($(e2e_now_ms) - t0))" ms

api_ok PATCH /balloon '{"amount_mib": 0}'
ms=$(balloon_wait_actual 0 300)
e2e_figure deflate_to_0_ms "$ms" ms
mvmm_send 'memhog 300 >/dev/null && echo alloc-ok || echo alloc-failed'
mvmm_wait_for '^alloc-(ok|failed)$' 600 | grep -q ok ||
	e2e_fail "the guest could not allocate 300 MiB after deflating"
mvmm_send 'poweroff -f'
mvmm_expect_exit 0

# ---- boot 2: free page reporting ----
REPORT_FILL_MIB=300
stock_boot 512 amount_mib=0,free_page_reporting=on
report_expect_active false 0
report_settle 60
rss_boot=$(rss_mib)
report_fill
rss_fill=$(rss_mib)
e2e_figure rss_after_boot "$rss_boot" MiB
e2e_figure "rss_after_guest_wrote_${REPORT_FILL_MIB}MiB" "$rss_fill" MiB
[ $((rss_fill - rss_boot)) -ge $((REPORT_FILL_MIB * 80 / 100)) ] ||
	e2e_fail "RSS grew by only $((rss_fill - rss_boot)) MiB while the guest wrote ${REPORT_FILL_MIB} MiB"
report_free
report_follow "$rss_fill" 60 stop
e2e_figure rss_drop_reporting "$REPORT_DROP_MIB" MiB
e2e_figure time_to_80pct "${REPORT_T80_MS:-never}" ms
[ -n "$REPORT_T80_MS" ] ||
	e2e_fail "RSS fell by ${REPORT_DROP_MIB} MiB in 60 s, want at least 80% of ${REPORT_FILL_MIB} MiB"
mvmm_send 'poweroff -f'
mvmm_expect_exit 0
