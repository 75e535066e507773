#!/usr/bin/env bash
# Runs COMMAND inside the test host: Debian's stock kernel under QEMU's TCG
# emulator (-cpu max emulates AMD SVM) with kvm-amd loaded, so COMMAND sees a
# hardware-style /dev/kvm. The build machine's root is shared read-only over
# 9p (writes land in a tmpfs overlay and vanish); COMMAND runs as root in the
# current directory with MVMM_TESTHOST=1 and every MVMM_* variable passed on.
# Its output streams to stdout; run.sh exits with COMMAND's exit status, or
# 124 on timeout, 125 when the test host failed.
#
# Usage: run.sh [--arch x86_64|arm64] [--mem MiB] [--cpus N] [--timeout S] [--out DIR] [--interactive] -- COMMAND...
#   --arch arm64    an arm64 test host: Debian's arm64 kernel (KVM built in,
#                   VHE) on qemu-system-aarch64 -M virt with EL2 and GICv3.
#                   COMMAND runs under an arm64 busybox sh with its applets
#                   first in PATH; from the shared root only arm64 binaries
#                   run (static, or dynamic on the multiarch arm64 libraries).
#   --out DIR       what COMMAND writes under /run/testhost/out is copied to
#                   DIR when the test host ends (also when it died: the share
#                   is written through, so files survive a test host panic)
#   --interactive   the console is this terminal: stdin reaches COMMAND and
#                   ^C reaches it too (Ctrl-A x quits QEMU). No timeout unless given.
# Environment: MVMM_TESTHOST_TIMEOUT (default --timeout, 1800 s),
#              MVMM_TESTHOST_TCG=multi|single (QEMU's TCG threading),
#              MVMM_TESTHOST_CPU (QEMU -cpu, default max),
#              MVMM_TESTHOST_KVM_AMD_PARAMS (kvm-amd module parameters, e.g.
#              "npt=0" or "vls=0 vgif=0 avic=0"; default none),
#              MVMM_TESTHOST_THP=always|madvise|never (the test host's
#              transparent hugepages; default: its kernel's, always),
#              MVMM_TESTHOST_LOCKUP_S (a CPU soft-locked this long ends the
#              test host as hung, status 124; default 120),
#              MVMM_TESTHOST_SILENT_S (no console output this long does too;
#              default 1500).
# tests/attrib/run.sh measured which of these keep nested SVM stable
# (docs/testing.md); the defaults are what it found best.
set -euo pipefail
. "$(dirname "$0")/common.sh"

usage() {
	sed -n '/^# Usage:/,/^[^#]/s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

arch=x86_64
mem=4096
cpus=2
timeout_s=
interactive=0
out=
while [ $# -gt 0 ]; do
	case $1 in
	--arch) arch=${2:?}; shift 2 ;;
	--out) out=${2:?}; shift 2 ;;
	--mem) mem=${2:?}; shift 2 ;;
	--cpus) cpus=${2:?}; shift 2 ;;
	--timeout) timeout_s=${2:?}; shift 2 ;;
	--interactive) interactive=1; shift ;;
	--) shift; break ;;
	*) usage ;;
	esac
done
[ $# -gt 0 ] || usage
[[ $mem =~ ^[0-9]+$ && $cpus =~ ^[0-9]+$ && ${timeout_s:-0} =~ ^[0-9]+$ ]] || usage
[[ $arch == x86_64 || $arch == arm64 ]] || usage
if [ -z "$timeout_s" ]; then
	[ $interactive = 1 ] && timeout_s=0 || timeout_s=${MVMM_TESTHOST_TIMEOUT:-1800}
fi

paths=$(bash "$TESTHOST_DIR/fetch-kernel.sh" --arch "$arch" --print) || testhost_die "cannot prepare the test host kernel"
kernel=$(sed -n 's/^kernel //p' <<<"$paths")
initrd=$(sed -n 's/^initrd //p' <<<"$paths")
repo=$(pwd -P)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mvmm-testhost.XXXXXX")
qpid=
cleanup() {
	local pid
	set +e
	if [ -n "$qpid" ]; then
		kill -TERM "$qpid" 2>/dev/null
		# timeout forwards TERM to QEMU; make sure QEMU itself is gone.
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$qpid" 2>/dev/null || break
			sleep 0.5
		done
		pid=$(cat "$tmp/qemu.pid" 2>/dev/null)
		[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
		kill -KILL "$qpid" 2>/dev/null
		wait "$qpid" 2>/dev/null
	fi
	if [ -n "$out" ] && [ -d "$tmp/job/out" ]; then
		mkdir -p "$out" && cp -a "$tmp/job/out/." "$out/"
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

mkdir "$tmp/job"
[ -z "$out" ] || mkdir "$tmp/job/out"
{
	echo '# written by tests/testhost/run.sh'
	path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
	[ "$arch" = x86_64 ] || path=/run/testhost-bin:$path # init.sh's busybox
	echo "export PATH=$path"
	printf 'export HOME=%q LANG=C.UTF-8 TERM=%q MVMM_TESTHOST=1\n' "${HOME:-/root}" "${TERM:-dumb}"
	while read -r v; do
		[ "$v" = MVMM_TESTHOST ] || printf 'export %s=%q\n' "$v" "${!v}"
	done < <(compgen -e | grep '^MVMM_' || true)
	printf 'cd %q || exit 125\n' "$repo"
	printf 'exec'
	printf ' %q' "$@"
	echo
} >"$tmp/job/job.sh"

p9=security_model=none,multidevs=remap
# MVMM_TESTHOST_TCG=single: one host thread for all vCPUs (slower; for
# telling an MTTCG problem from a real one).
tcg=${MVMM_TESTHOST_TCG:-multi}
[[ $tcg == multi || $tcg == single ]] || testhost_die "MVMM_TESTHOST_TCG must be multi or single"
cpu=${MVMM_TESTHOST_CPU:-max}
append="quiet loglevel=3 panic=-1 mitigations=off mvmm.interactive=$interactive"
kvm_amd=${MVMM_TESTHOST_KVM_AMD_PARAMS:-}
[[ $kvm_amd =~ ^[a-z_]+=[A-Za-z0-9]+( [a-z_]+=[A-Za-z0-9]+)*$ || -z $kvm_amd ]] ||
	testhost_die "MVMM_TESTHOST_KVM_AMD_PARAMS must be NAME=VALUE words: '$kvm_amd'"
[ -z "$kvm_amd" ] || append+=" mvmm.kvm_amd=${kvm_amd// /,}"
case ${MVMM_TESTHOST_THP:-} in
'') ;;
always | madvise | never) append+=" transparent_hugepage=$MVMM_TESTHOST_THP" ;;
*) testhost_die "MVMM_TESTHOST_THP must be always, madvise or never" ;;
esac
if [ "$arch" = arm64 ]; then
	# virtualization=on: EL2 for the test host's KVM (VHE with -cpu max).
	qemu=(qemu-system-aarch64 -M virt,virtualization=on,gic-version=3
		-accel "tcg,thread=$tcg" -cpu "$cpu" -append "console=ttyAMA0 $append")
else
	qemu=(qemu-system-x86_64 -M q35 -accel "tcg,thread=$tcg" -cpu "$cpu"
		-append "console=ttyS0 $append")
fi
qemu+=(-smp "$cpus" -m "$mem" -nodefaults -display none -no-reboot
	-pidfile "$tmp/qemu.pid"
	-kernel "$kernel" -initrd "$initrd"
	-virtfs "local,path=/,mount_tag=hostroot,readonly=on,$p9"
	-virtfs "local,path=$tmp/job,mount_tag=mvmmjob,$p9")
if [ $interactive = 1 ]; then
	echo "testhost: booting (Ctrl-A x quits QEMU)" >&2
	qemu+=(-chardev stdio,id=con,mux=on,signal=off -serial chardev:con
		-mon chardev=con,mode=readline)
else
	# The monitor on two FIFOs (no new dependency): a wedged test host's
	# CPUs are read from it before QEMU is killed.
	mkfifo "$tmp/mon.in" "$tmp/mon.out"
	qemu+=(-chardev stdio,id=con,signal=off -serial chardev:con
		-chardev "pipe,id=mon,path=$tmp/mon" -mon chardev=mon,mode=readline)
fi

# setpriv: QEMU dies with timeout, timeout dies with this script, even on
# SIGKILL. Without job control a background job's stdin would be /dev/null,
# so the interactive console is passed explicitly.
exec {console}<&0
[ $interactive = 1 ] || exec {console}</dev/null
run_qemu() {
	setpriv --pdeathsig TERM timeout --foreground -k 5 "$timeout_s" \
		setpriv --pdeathsig KILL "${qemu[@]}" <&$console 2>"$tmp/qemu.err"
}

# A test host whose CPU stays soft-locked for MVMM_TESTHOST_LOCKUP_S
# seconds (default 120) never recovers under TCG's nested SVM: it is ended
# then (status 124, "hung") instead of at its timeout, which can be hours
# for a whole e2e tier. So is one that prints nothing at all for
# MVMM_TESTHOST_SILENT_S (default 1500; the e2e runner inside prints its
# diagnosis at a scenario's deadline, 1200 s at most): the emulator can hang
# both of its CPUs without a lockup report.
lockup_s=${MVMM_TESTHOST_LOCKUP_S:-120}
silent_s=${MVMM_TESTHOST_SILENT_S:-1500}
# The test host's init writes job/heartbeat every 20 s while the job
# runs; none for MVMM_TESTHOST_HEARTBEAT_S (default 180) means both of its
# CPUs are hung, whatever the job is doing, so it is ended then.
beat_s=${MVMM_TESTHOST_HEARTBEAT_S:-180}
# Where each test host CPU is: QEMU's "info registers -a" (the state of
# what runs on it, the test host or a nested guest). The test host kernel
# boots through PVH, so without KASLR: tests/testhost/symbolize.sh names a
# RIP in its text.
dump_cpus() {
	local line mon cmd
	[ -p "$tmp/mon.in" ] || return 0
	# Both ends opened read-write: opening a FIFO never blocks then, even
	# if QEMU has just exited.
	exec {mon}<>"$tmp/mon.out" {cmd}<>"$tmp/mon.in"
	printf 'info registers -a\n' >&$cmd
	while IFS= read -r -t 5 line <&$mon; do
		line=${line%$'\r'}
		case $line in
		CPU#*) echo "testhost: $line" >&2 ;;
		RIP=* | CR0=* | CS\ =* | *\ PC=* | PC=*) echo "testhost:   $line" >&2 ;;
		esac
	done
	exec {mon}<&- {cmd}>&-
}
wedge() {
	[ -e "$tmp/wedged" ] && return
	echo "testhost: $1: ending the test host" >&2
	echo "$1" >"$tmp/wedged"
	dump_cpus
	kill -KILL "$(cat "$tmp/qemu.pid" 2>/dev/null)" 2>/dev/null
}
watch_heartbeat() {
	local f=$tmp/job/heartbeat age
	while sleep 10; do
		[ -e "$tmp/wedged" ] && return
		[ -s "$tmp/job/rc" ] && return
		[ -e "$f" ] || continue
		age=$(($(date +%s) - $(stat -c %Y "$f")))
		[ "$age" -lt "$beat_s" ] || wedge "no heartbeat for ${age}s"
	done
}
watch_console() {
	local line rc
	while :; do
		rc=0
		IFS= read -r -t "$silent_s" line || rc=$?
		if [ $rc -gt 128 ]; then
			wedge "no output for ${silent_s}s"
			continue
		fi
		[ $rc = 0 ] || [ -n "$line" ] || break
		printf '%s\n' "$line"
		if [[ $line =~ soft\ lockup\ -\ CPU\#[0-9]+\ stuck\ for\ ([0-9]+)s ]] &&
			[ "${BASH_REMATCH[1]}" -ge "$lockup_s" ]; then
			wedge "a CPU soft-locked for ${BASH_REMATCH[1]}s"
		fi
		[ $rc = 0 ] || break
	done
}

st=0
if [ $interactive = 1 ]; then
	run_qemu &
	qpid=$!
	wait "$qpid" || st=$?
else
	{ st=0; run_qemu || st=$?; echo "$st" >"$tmp/qemu.rc"; } | watch_console &
	qpid=$!
	watch_heartbeat &
	beat=$!
	wait "$qpid"
	kill "$beat" 2>/dev/null
	wait "$beat" 2>/dev/null || true
	st=$(cat "$tmp/qemu.rc" 2>/dev/null || echo 125)
fi
qpid=
[ -e "$tmp/wedged" ] && [ ! -s "$tmp/job/rc" ] && st=124

if [ -s "$tmp/job/rc" ]; then
	exit "$(cat "$tmp/job/rc")"
fi
if [ -e "$tmp/wedged" ]; then
	echo "testhost: hung ($(cat "$tmp/wedged")); QEMU killed" >&2
	exit 124
fi
if [ $st = 124 ] || [ $st = 137 ]; then
	echo "testhost: timed out after ${timeout_s}s; QEMU killed" >&2
	exit 124
fi
if [ $st = 0 ]; then
	echo "testhost: the test host reset before COMMAND finished (panic, triple fault or too little --mem?)" >&2
else
	echo "testhost: QEMU failed (exit status $st) before COMMAND finished" >&2
fi
sed 's/^/testhost: qemu: /' "$tmp/qemu.err" >&2
exit 125
