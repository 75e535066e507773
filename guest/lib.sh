# Sourced by /init, by every scenario and (as $ENV) by the interactive shell.

# mvmm_off: ends the VM. The kernel powers off through the VMM's ACPI sleep
# registers (S5); the marker lets a test tell this from a crash or a reset.
mvmm_off() {
	sync
	echo "MVMM-POWEROFF"
	poweroff -f
	# Only reached if the reboot syscall itself failed.
	echo "MVMM-POWEROFF-FAILED"
	while :; do sleep 3600; done
}

# wait_for_file PATH [TENTHS]: waits until PATH exists (default 10 s).
wait_for_file() {
	n=${2:-100}
	while [ ! -e "$1" ]; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || return 1
		sleep 0.1
	done
}

PS1='mvmm:\w# '

# cmdline_param NAME DEFAULT: prints mvmm.NAME=VALUE from the kernel command
# line, or DEFAULT, so one scenario can be run with different sizes.
cmdline_param() {
	for _a in $(cat /proc/cmdline); do
		case $_a in
		"mvmm.$1="*) echo "${_a#mvmm.$1=}"; return ;;
		esac
	done
	echo "$2"
}

# attrib_guest_info: what two VMMs running the same workload must agree on
# (tests/attrib compares these lines between them).
attrib_guest_info() {
	echo "ATTRIB-INFO cpus=$(grep -c '^processor' /proc/cpuinfo) $(grep -m1 '^MemTotal' /proc/meminfo | tr -s ' ')"
	echo "ATTRIB-INFO $(grep -m1 '^flags' /proc/cpuinfo)"
	echo "ATTRIB-INFO clocksource=$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2>/dev/null)"
	echo "ATTRIB-INFO cmdline=$(cat /proc/cmdline)"
}
