# shellcheck shell=sh
# Shared by t_boot_*.sh: boot_check CPUS MEM_MIB runs the guest's info
# scenario and checks what the guest saw and that its PSCI power-off ends
# mvmm with status 0.
boot_check() {
	_cpus=$1
	_mem=$2
	_t0=$(e2e_now_ms)
	mvmm_boot_scenario info --cpus "$_cpus" --mem "$_mem"
	mvmm_wait_for 'MVMM-SCENARIO-BEGIN info' >/dev/null
	e2e_figure "boot_to_init_ms (cpus=$_cpus)" $(($(e2e_now_ms) - _t0)) ms

	_line=$(mvmm_wait_for '^cpus=[0-9]+')
	e2e_log "guest: $_line"
	[ "$_line" = "cpus=$_cpus" ] || e2e_fail "guest sees ${_line#cpus=} CPUs, expected $_cpus"
	_line=$(mvmm_wait_for '^memtotal_kb=[0-9]+')
	_kb=${_line#memtotal_kb=}
	[ "$_kb" -le $((_mem * 1024)) ] && [ "$_kb" -ge $((_mem * 1024 * 90 / 100)) ] ||
		e2e_fail "MemTotal $_kb kB is not within 10% below $_mem MiB"
	e2e_figure "memtotal (mem=$_mem MiB)" "$_kb" kB

	_rc=$(mvmm_scenario_rc info)
	[ "$_rc" = 0 ] || e2e_fail "guest scenario info ended with rc=$_rc"
	mvmm_expect_exit 0
	grep -q 'guest power-off' "$MVMM_STDERR" ||
		e2e_fail "mvmm did not log a guest power-off (PSCI SYSTEM_OFF)"
	e2e_figure "power-off exit status (cpus=$_cpus)" "$MVMM_STATUS"
	no_seccomp_trap
}
