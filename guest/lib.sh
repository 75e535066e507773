# Sourced by /init, by every scenario and (as $ENV) by the interactive shell.
#
# The guest has no ACPI, so the kernel cannot power off: reboot(POWER_OFF)
# halts the CPUs and the VMM never learns of it. A reset (i8042 0xFE, then a
# triple fault) is what ends mvmm, so poweroff and halt are routed to it.
# Functions win over busybox's built-in applets, which ignore $PATH.
mvmm_off() {
	sync
	echo "MVMM-POWEROFF"
	busybox reboot -f
	# Only reached if the reset did not happen.
	echo "MVMM-POWEROFF-FAILED"
	while :; do sleep 3600; done
}
poweroff() { mvmm_off; }
halt() { mvmm_off; }

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
