#!/usr/bin/env bash
# Runs attribution trials inside one boot of the test host (tests/attrib/run.sh
# starts it): each trial boots the guest under one VMM, runs one workload,
# classifies the outcome from the console and the VMM's own report, and saves
# the logs under /run/testhost/out/ID (copied out by tests/testhost/run.sh).
#
# Usage: inside.sh ID:VMM:WORKLOAD...   VMM mvmm or qemu, WORKLOAD W0-W3
# Prints "ATTRIB-BEGIN ID VMM WL" before and
# "ATTRIB-RESULT ID VMM WL CLASS SECONDS DETAIL" after each trial (DETAIL ends
# with the test host's IPIs and KVM's exits and irq_exits for the VM; all of
# KVM's counters for the VM, as last seen, are in the trial's kvm-stats.txt).
# CLASS:
#   ok        the workload verified every checksum and the guest powered off
#   checksum  memfill found a changed page
#   crash     guest kernel panic or oops, triple fault or reset, or a guest
#             program killed by a fault (DETAIL says which)
#   hang      no end within the trial's timeout (diag.txt has where it was)
#   vmm-error the VMM stopped with an error of its own (KVM entry failure,
#             internal error, QEMU error)
#   error     anything else (the workload failed without a checksum mismatch)
# W4 is W2 in the shape of e2e's t_backends: 1 vCPU, 256 MiB, fills of 150
# MiB, balloon 128 MiB (both VMMs back guest RAM with transparent huge pages).
# Environment: MVMM_ATTRIB_TIMEOUT_W1, MVMM_ATTRIB_TIMEOUT_W2 (seconds per
# trial, default 1800 and 2400: W2 took 1130 s on a busy 2-core machine),
# MVMM_ATTRIB_TIMEOUT_W3 (900), MVMM_ATTRIB_TIMEOUT_W0 (300),
# MVMM_ATTRIB_TIMEOUT_W4 (600), MVMM_ATTRIB_HOST_STRESS=ipi (the test host
# runs tests/attrib/ipi_storm.py during each trial: cross-CPU wake-ups, so
# reschedule interrupts arrive while the guest runs),
# MVMM_ATTRIB_MEM (guest MiB, 512), MVMM_ATTRIB_CPUS (2),
# MVMM_ATTRIB_CMDLINE_EXTRA (appended to the guest command line, e.g.
# mvmm.rounds=1), MVMM_ATTRIB_TRACE=1 (a flight recorder: KVM's exits,
# entries, injections and page faults traced through each trial into a
# 256 KiB per-CPU ring; its last lines are kept as kvm-trace.txt, and a test
# host oops prints the oopsing CPU's ring on the console).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
. tests/testhost/common.sh

KERNEL=build/guest/bzImage
INITRD=build/guest/initramfs.cpio.gz
MEM_DEFAULT=${MVMM_ATTRIB_MEM:-512}
CPUS_DEFAULT=${MVMM_ATTRIB_CPUS:-2}
# Set per trial (W4 has its own).
MEM=$MEM_DEFAULT
CPUS=$CPUS_DEFAULT
BALLOON_MIB=256
OUT=/run/testhost/out
[ -d "$OUT" ] || OUT=${MVMM_ATTRIB_OUT:-/tmp/attrib-out}
mkdir -p "$OUT"

now() { date +%s; }

# One line of what this test host is: the settings that tests/attrib compares.
testhost_settings() {
	local p line=""
	for p in npt nested vls vgif avic; do
		line+="$p=$(cat /sys/module/kvm_amd/parameters/$p 2>/dev/null) "
	done
	line+="thp=$(sed 's/.*\[\(.*\)\].*/\1/' /sys/kernel/mm/transparent_hugepage/enabled) "
	grep -qw la57 /proc/cpuinfo && line+="la57=on" || line+="la57=off"
	echo "$line"
}
echo "ATTRIB-TESTHOST $(testhost_settings)"

TR=/sys/kernel/tracing
TRACE=0
if [ "${MVMM_ATTRIB_TRACE:-0}" = 1 ] && [ -w $TR/trace ]; then
	TRACE=1
	# The oopsing CPU's ring only: the console is slow.
	echo 2 >/proc/sys/kernel/ftrace_dump_on_oops
	echo "ATTRIB-TRACE on"
fi

# The flight recorder (MVMM_ATTRIB_TRACE=1): the same events for both VMMs.
trace_start() {
	local e
	[ $TRACE = 1 ] || return 0
	echo 0 >$TR/tracing_on
	echo 256 >$TR/buffer_size_kb
	: >$TR/trace
	for e in kvm_exit kvm_entry kvm_inj_virq kvm_inj_exception kvm_page_fault kvm_userspace_exit; do
		[ -e $TR/events/kvm/$e/enable ] && echo 1 >$TR/events/kvm/$e/enable
	done
	echo 1 >$TR/tracing_on
}

# trace_stop DIR: the ring's last lines into DIR/kvm-trace.txt.
trace_stop() {
	[ $TRACE = 1 ] || return 0
	echo 0 >$TR/tracing_on
	tail -n 400 $TR/trace >"$1/kvm-trace.txt" 2>&1
	echo 0 >$TR/events/kvm/enable
}
dmesg -c >/dev/null 2>&1

PID=
QMP_FD=
QMP_CAT=

qmp() {
	printf '%s\n' "$1" >&"$QMP_FD"
}

start_vmm() {
	local vmm=$1 dir=$2 cmdline=$3
	case $vmm in
	mvmm)
		./mvmm --kernel "$KERNEL" --initrd "$INITRD" --cmdline "$cmdline" \
			--cpus "$CPUS" --mem "$MEM" --balloon amount_mib=0 \
			--api-sock "$dir/api.sock" </dev/null >"$dir/console.log" 2>"$dir/vmm.err" &
		PID=$!
		;;
	qemu)
		# QEMU's microvm: ACPI (MADT, DSDT with the virtio-mmio device),
		# 8250 at 0x3f8, in-kernel irqchip, the same kernel and initramfs
		# (bzImage through qboot); -cpu host is KVM's supported CPUID, as
		# mvmm passes it. -no-reboot: a triple fault or reset ends QEMU,
		# and QMP's SHUTDOWN event says which.
		mkfifo "$dir/qmp.in" "$dir/qmp.out"
		qemu-system-x86_64 -M microvm -accel kvm -cpu host -smp "$CPUS" \
			-m "$MEM" -nodefaults -no-user-config -display none -no-reboot \
			-kernel "$KERNEL" -initrd "$INITRD" -append "$cmdline" \
			-serial "file:$dir/console.log" -device virtio-balloon-device \
			-chardev "pipe,id=qmp,path=$dir/qmp" -mon chardev=qmp,mode=control \
			</dev/null >"$dir/vmm.out" 2>"$dir/vmm.err" &
		PID=$!
		# Both ends read-write: opening never blocks, even if QEMU
		# failed to start; the reader is stopped after QEMU exits.
		cat <>"$dir/qmp.out" >"$dir/qmp.log" &
		QMP_CAT=$!
		exec {QMP_FD}<>"$dir/qmp.in"
		qmp '{"execute":"qmp_capabilities"}'
		;;
	esac
}

# balloon VMM DIR MIB: the balloon's target size.
balloon() {
	local vmm=$1 dir=$2 mib=$3
	case $vmm in
	mvmm)
		# Up to three tries: curl itself has died of SIGSEGV in the
		# test host (counted in the trial's detail as api-retry).
		local try rc
		for try in 1 2 3; do
			rc=0
			curl -s --max-time 30 --unix-socket "$dir/api.sock" -X PATCH \
				-H 'Content-Type: application/json' \
				--data "{\"amount_mib\": $mib}" http://localhost/balloon \
				>>"$dir/api.log" 2>&1 || rc=$?
			[ $rc = 0 ] && break
			echo "curl failed: status $rc (try $try)" >>"$dir/api.log"
			echo "attrib: curl PATCH /balloon failed with status $rc (try $try)"
			sleep 1
		done
		;;
	qemu)
		# QEMU's value is the guest's memory after ballooning, in bytes.
		qmp "{\"execute\":\"balloon\",\"arguments\":{\"value\":$(((MEM - mib) << 20))}}"
		;;
	esac
}

count() {
	local c
	c=$(grep -c -- "$1" "$2" 2>/dev/null)
	echo "${c:-0}"
}

# Where a stuck VM is: its threads (twice, 2 s apart: spinning or sleeping),
# KVM's statistics and exit trace, and the VMM's own view. mvmm answers
# SIGUSR2 with each vCPU's registers and exit counts (vmm.err).
diagnose() {
	local vmm=$1 dir=$2 t d f k
	{
		echo "=== $(date) $vmm pid $PID: diagnosis of a trial that did not end"
		echo "--- last console lines"
		tail -n 30 "$dir/console.log" | tr -d '\r'
		for k in 1 2; do
			echo "--- threads (sample $k): comm state utime stime wchan, kernel stack"
			for t in /proc/"$PID"/task/*; do
				[ -d "$t" ] || continue
				echo "$(cat "$t/comm" 2>/dev/null) $(awk '{print $3, $14, $15}' "$t/stat" 2>/dev/null) $(cat "$t/wchan" 2>/dev/null)"
				sed 's/^/    /' "$t/stack" 2>/dev/null | head -8
			done
			d=$(ls -d /sys/kernel/debug/kvm/"$PID"-* 2>/dev/null | head -n1)
			if [ -n "$d" ]; then
				echo "--- KVM statistics ($d)"
				for f in "$d"/*; do
					[ -f "$f" ] && printf '%s=%s ' "$(basename "$f")" "$(cat "$f" 2>/dev/null | head -c 40)"
				done
				echo
			fi
			[ $k = 2 ] || sleep 2
		done
		local tr=/sys/kernel/tracing
		if [ -w $tr/trace ]; then
			echo "--- KVM trace, 2 s: exits by reason and guest RIP, then the last lines"
			echo 0 >$tr/tracing_on
			: >$tr/trace
			echo 8192 >$tr/buffer_size_kb
			for e in kvm_exit kvm_entry kvm_inj_virq kvm_apic_accept_irq kvm_msr kvm_pio kvm_mmio kvm_userspace_exit kvm_nested_vmexit kvm_fpu kvm_halt_poll_ns kvm_vcpu_wakeup; do
				[ -e $tr/events/kvm/$e/enable ] && echo 1 >$tr/events/kvm/$e/enable
			done
			echo 1 >$tr/tracing_on
			sleep 2
			echo 0 >$tr/tracing_on
			grep -o 'kvm_exit: .*' $tr/trace | sed 's/ info.*//' | sort | uniq -c | sort -rn | head -20
			tail -n 60 $tr/trace
			echo 0 >$tr/events/kvm/enable
			: >$tr/trace
		fi
		case $vmm in
		mvmm)
			echo "--- mvmm's own dump (SIGUSR2)"
			kill -USR2 "$PID" 2>/dev/null
			sleep 2
			tail -n 40 "$dir/vmm.err"
			;;
		qemu)
			echo "--- QEMU: registers, LAPIC, interrupts (QMP)"
			qmp '{"execute":"human-monitor-command","arguments":{"command-line":"info registers -a"}}'
			qmp '{"execute":"human-monitor-command","arguments":{"command-line":"info lapic"}}'
			qmp '{"execute":"human-monitor-command","arguments":{"command-line":"info irq"}}'
			qmp '{"execute":"query-cpus-fast"}'
			sleep 2
			;;
		esac
	} >"$dir/diag.txt" 2>&1
}

stop_vmm() {
	local i
	kill -TERM "$PID" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$PID" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$PID" 2>/dev/null && return 1
	return 0
}

# classify VMM DIR STATUS TIMED_OUT: prints "CLASS DETAIL".
classify() {
	local vmm=$1 dir=$2 st=$3 timed_out=$4 c=$dir/console.log d
	if grep -q -E 'memfill: CORRUPT|pages corrupt|resident region corrupt' "$c"; then
		echo "checksum $(grep -m1 -E 'CORRUPT|corrupt' "$c" | tr -d '\r' | tr ' ' _)"
		return
	fi
	if grep -q 'Kernel panic' "$c"; then
		echo "crash guest-panic:$(grep -m1 'Kernel panic' "$c" | tr -d '\r' | sed 's/.*Kernel panic - //' | tr ' ' _)"
		return
	fi
	d=$(grep -m1 -E 'BUG: |Oops|general protection fault|invalid opcode|segfault at|traps: ' "$c" | tr -d '\r' | sed 's/^\[[ 0-9.]*\] //' | cut -c1-80 | tr ' ' _)
	case $vmm in
	mvmm)
		if grep -q 'guest triple fault' "$dir/vmm.err"; then
			echo "crash triple-fault${d:+;$d}"
			return
		fi
		;;
	qemu)
		if grep -q '"reason": "guest-reset"' "$dir/qmp.log" 2>/dev/null &&
			! grep -q 'ATTRIB-WORKLOAD-OK' "$c"; then
			echo "crash triple-fault-or-reset${d:+;$d}"
			return
		fi
		;;
	esac
	if [ -n "$d" ]; then
		echo "crash $d"
		return
	fi
	if [ "$timed_out" = 1 ]; then
		echo "hang last:$(grep -a -E 'ATTRIB-(STEP|INFLATE|DEFLATE|RESIDENT)' "$c" | tail -n1 | tr -d '\r' | tr ' ' _)"
		return
	fi
	if grep -q 'ATTRIB-WORKLOAD-OK' "$c" && grep -q 'MVMM-SCENARIO-END .* rc=0' "$c" && [ "$st" = 0 ]; then
		echo "ok -"
		return
	fi
	if [ "$st" != 0 ]; then
		echo "vmm-error status=$st:$(grep -v -E 'info:|^$' "$dir/vmm.err" | tail -n1 | cut -c1-100 | tr ' ' _)"
		return
	fi
	echo "error $(grep -a -m1 'ATTRIB-FAIL' "$c" | tr -d '\r' | tr ' ' _)"
}

run_trial() {
	local id=$1 vmm=$2 wl=$3 dir to scenario t0 deadline inf=0 def=0 n st timed_out=0 res el stuck=0
	dir=/tmp/attrib/$id
	rm -rf "$dir"
	mkdir -p "$dir"
	local extra=${MVMM_ATTRIB_CMDLINE_EXTRA:-}
	MEM=$MEM_DEFAULT CPUS=$CPUS_DEFAULT BALLOON_MIB=256
	case $wl in
	W0) scenario=attrib_w0 to=${MVMM_ATTRIB_TIMEOUT_W0:-300} ;;
	W1) scenario=attrib_w1 to=${MVMM_ATTRIB_TIMEOUT_W1:-1800} ;;
	W2) scenario=attrib_w2 to=${MVMM_ATTRIB_TIMEOUT_W2:-2400} ;;
	W3) scenario=attrib_w3 to=${MVMM_ATTRIB_TIMEOUT_W3:-900} ;;
	W4)
		scenario=attrib_w2 to=${MVMM_ATTRIB_TIMEOUT_W4:-600}
		MEM=256 CPUS=1 BALLOON_MIB=128
		extra="mvmm.resident_mib=16 mvmm.fill1_mib=150 mvmm.fill2_mib=150${extra:+ $extra}"
		;;
	*) echo "ATTRIB-RESULT $id $vmm $wl error 0 unknown-workload"; return ;;
	esac
	echo "ATTRIB-BEGIN $id $vmm $wl"
	storm=
	ipis0=$(testhost_ipis)
	if [ "${MVMM_ATTRIB_HOST_STRESS:-}" = ipi ]; then
		python3 tests/attrib/ipi_storm.py >"$dir/storm.log" 2>&1 &
		storm=$!
	fi
	trace_start
	t0=$(now)
	deadline=$((t0 + to))
	start_vmm "$vmm" "$dir" "console=ttyS0 reboot=k panic=-1 mvmm.scenario=$scenario mvmm.balloon_mib=$BALLOON_MIB${extra:+ $extra}"
	local kd= f v
	local -A ks=()
	while kill -0 "$PID" 2>/dev/null; do
		# KVM's counters for this VM, last seen while it lived (read
		# with builtins): how often the test host interrupted the guest
		# (irq_exits), and what else each VMM makes KVM do.
		[ -n "$kd" ] || kd=$(ls -d /sys/kernel/debug/kvm/"$PID"-* 2>/dev/null | head -n1)
		if [ -n "$kd" ]; then
			for f in "$kd"/*; do
				[ -f "$f" ] && read -r v <"$f" 2>/dev/null && ks[${f##*/}]=$v
			done
		fi
		n=$(count 'ATTRIB-INFLATE [0-9]' "$dir/console.log")
		if [ "$n" -gt "$inf" ]; then
			inf=$n
			echo "attrib: $id: inflate $inf ($(($(now) - t0)) s)"
			balloon "$vmm" "$dir" "$BALLOON_MIB"
		fi
		n=$(count 'ATTRIB-DEFLATE [0-9]' "$dir/console.log")
		if [ "$n" -gt "$def" ]; then
			def=$n
			echo "attrib: $id: deflate $def ($(($(now) - t0)) s)"
			balloon "$vmm" "$dir" 0
		fi
		if [ "$(now)" -ge "$deadline" ]; then
			timed_out=1
			trace_stop "$dir"
			diagnose "$vmm" "$dir"
			stop_vmm || { stuck=1; echo "attrib: $id: $vmm survived SIGKILL for 10 s"; }
			break
		fi
		sleep 0.5
	done
	[ $timed_out = 1 ] || trace_stop "$dir"
	st=0
	# A VMM stuck in the test host's kernel cannot be waited for.
	[ $stuck = 1 ] || wait "$PID" 2>/dev/null || st=$?
	[ $timed_out = 1 ] && st=timeout
	if [ -n "$QMP_FD" ]; then
		sleep 0.5
		kill "$QMP_CAT" 2>/dev/null
		wait "$QMP_CAT" 2>/dev/null
		exec {QMP_FD}>&-
		QMP_FD= QMP_CAT=
	fi
	el=$(($(now) - t0))
	if [ -n "$storm" ]; then
		kill -TERM "$storm" 2>/dev/null
		wait "$storm" 2>/dev/null
	fi
	res=$(classify "$vmm" "$dir" "$st" "$timed_out")
	n=$(testhost_ipis_since "$ipis0")
	res+=";ipis:${n%% *};kvm_exits:${ks[exits]:-0};irq_exits:${ks[irq_exits]:-0}"
	for f in "${!ks[@]}"; do
		echo "$f ${ks[$f]}"
	done | sort >"$dir/kvm-stats.txt"
	dmesg -c >"$dir/testhost-dmesg.txt" 2>&1
	n=$(grep -c -E 'WARNING|BUG|soft lockup|stack|Call Trace' "$dir/testhost-dmesg.txt" || true)
	[ "$n" = 0 ] || res+=";testhost-dmesg:$n-lines"
	n=$(count 'curl failed' "$dir/api.log")
	[ "$n" = 0 ] || res+=";api-retry:$n"
	rm -f "$dir/qmp.in" "$dir/qmp.out" "$dir/api.sock"
	mkdir -p "$OUT/$id"
	cp -a "$dir/." "$OUT/$id/"
	rm -rf "$dir"
	echo "ATTRIB-RESULT $id $vmm $wl ${res%% *} $el ${res#* }"
}

for t in "$@"; do
	IFS=: read -r id vmm wl <<<"$t"
	run_trial "$id" "$vmm" "$wl"
done
