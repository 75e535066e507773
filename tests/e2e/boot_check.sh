# shellcheck shell=bash
# Shared by t_boot_*.sh: boot_check CPUS MEM_MIB runs the guest's info
# scenario and checks what the guest saw. Not a scenario itself (no t_ prefix).
boot_check() {
	local cpus=$1 mem_mib=$2 t0 line seen_cpus memtotal_kb min_kb rc
	t0=$(e2e_now_ms)
	mvmm_boot_scenario info --cpus "$cpus" --mem "$mem_mib"
	mvmm_wait_for 'MVMM-SCENARIO-BEGIN info' >/dev/null
	e2e_figure "boot_to_init_ms (cpus=$cpus)" $(($(e2e_now_ms) - t0)) ms

	line=$(mvmm_wait_for '^cpus=[0-9]+')
	seen_cpus=${line#cpus=}
	[ "$seen_cpus" = "$cpus" ] || e2e_fail "guest sees $seen_cpus CPUs, expected $cpus"

	line=$(mvmm_wait_for '^memtotal_kb=[0-9]+')
	memtotal_kb=${line#memtotal_kb=}
	min_kb=$((mem_mib * 1024 * 92 / 100))
	[ "$memtotal_kb" -le $((mem_mib * 1024)) ] && [ "$memtotal_kb" -ge "$min_kb" ] ||
		e2e_fail "MemTotal $memtotal_kb kB is not within 8% below $mem_mib MiB"
	e2e_figure "memtotal (mem=$mem_mib MiB)" "$memtotal_kb" kB

	rc=$(mvmm_scenario_rc info)
	[ "$rc" = 0 ] || e2e_fail "guest scenario info ended with rc=$rc"
	mvmm_expect_exit 0
}
