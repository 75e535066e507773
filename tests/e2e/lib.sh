# shellcheck shell=bash
# Helpers for e2e scenarios (tests/e2e/t_NAME.sh). A scenario starts with
#   . "$(dirname "$0")/lib.sh"
# and runs from the repository root under `set -euo pipefail`; it passes by
# exiting 0, is skipped by exiting 77 (say why first), fails otherwise:
# e2e_fail says why, and the console and mvmm's stderr are then shown.
#
#   mvmm_boot [--append STR] [MVMM ARGS...]   start the guest kernel + initramfs
#   mvmm_boot_scenario NAME [MVMM ARGS...]    same, running guest scenario NAME
#   mvmm_start MVMM ARGS...                   start ./mvmm with exactly these args
#   mvmm_wait_for ERE [TIMEOUT_S]             wait for a console line after the
#                                             mark; prints it (\r stripped)
#   mvmm_mark                                 later waits see only newer output
#   mvmm_send LINE                            mark, then type LINE + newline
#   mvmm_scenario_rc NAME [TIMEOUT_S]         wait for MVMM-SCENARIO-END; prints rc
#   mvmm_wait_exit [TIMEOUT_S]                wait for exit; sets MVMM_STATUS
#   mvmm_expect_exit STATUS [TIMEOUT_S]       same, fail unless it is STATUS
#   mvmm_status_kib [FIELD]                   /proc/PID/status field (VmRSS)
#   mvmm_stop                                 SIGTERM, then SIGKILL after 5 s
#   mvmm_console                              the whole console, \r stripped
#   e2e_fail MSG / e2e_log MSG / e2e_figure NAME VALUE [UNIT] / e2e_now_ms
#   testhost_sleep SECONDS, testhost_now      a sleep and a clock that start
#                                             no process (testhost/common.sh)
#   e2e_on_exit CMD                           extra cleanup (don't trap EXIT)
#   e2e_diagnose WHY                          where a stuck guest is (below)
#
# One mvmm at a time (start another once it has exited). Call mvmm_boot,
# mvmm_start, mvmm_wait_exit, mvmm_expect_exit and mvmm_stop directly, never
# in $(...): the background mvmm must be this shell's child to be waited for.
# The run gives E2E_NAME, E2E_WORK (a scratch dir, console.log lives there)
# and MVMM_TESTHOST=1 when inside the emulated test host. A header line
# "# e2e-timeout: SECONDS" overrides the runner's per-scenario timeout.
# Console patterns are ERE, matched per line; the guest's tty echoes what
# mvmm_send types, so match the output, e.g. send 'echo e2e-$((6*7))' and
# wait for '^e2e-42$'.
#
# A wait that times out, and the runner's deadline (it sends SIGALRM), first
# record where the guest is (e2e_diagnose): mvmm's threads, sampled twice
# (spinning in KVM_RUN or asleep), KVM's per-VM statistics and 2 s of its
# exit trace (exit reasons and guest RIPs) where debugfs and tracefs are
# mounted (the test host mounts them), and mvmm's own dump: it is sent
# MVMM_E2E_DUMP_SIGNAL (default USR2) and answers on stderr with each vCPU's
# registers, exit counts and pending interrupts.

set -euo pipefail

E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$E2E_ROOT"
. tests/testhost/common.sh

if [ -z "${E2E_WORK:-}" ]; then
	# Run by hand, outside tests/e2e/run.sh.
	E2E_WORK=$(mktemp -d "${TMPDIR:-/tmp}/mvmm-e2e.XXXXXX")
	_e2e_own_work=1
fi
E2E_MVMM=${E2E_MVMM:-./mvmm}
E2E_KERNEL=${E2E_KERNEL:-build/guest/bzImage}
E2E_INITRD=${E2E_INITRD:-build/guest/initramfs.cpio.gz}
# quiet: the console shows the kernel's errors, warnings are in dmesg. Every
# console byte is a few port I/O exits, and under the emulated test host the
# ~12 KB of a full boot log cost 8-20 s of each guest boot.
E2E_CMDLINE=${E2E_CMDLINE:-console=ttyS0 reboot=k panic=-1 quiet}
# Default wait: booting under the emulated test host is ~10x slower.
if [ "${MVMM_TESTHOST:-0}" = 1 ]; then
	E2E_WAIT=${E2E_WAIT:-90}
else
	E2E_WAIT=${E2E_WAIT:-30}
fi
# Every wait is multiplied by MVMM_E2E_SLOW (1-4): the runner sets it from
# how long the test host took to boot, i.e. how busy this machine is.
E2E_SLOW=${MVMM_E2E_SLOW:-1}

MVMM_PID=
MVMM_STATUS=
MVMM_MARK=0
MVMM_IN=
MVMM_CONSOLE=$E2E_WORK/console.log
MVMM_STDERR=$E2E_WORK/mvmm.stderr
_e2e_cleanups=()

e2e_log() {
	echo "e2e: $*"
}

e2e_fail() {
	echo "FAIL: ${E2E_NAME:-$(basename "$0" .sh)}: $*" >&2
	exit 1
}

# A figure the scenario measured, in one greppable form.
e2e_figure() {
	echo "figure: $1 = $2${3:+ $3}"
}

e2e_now_ms() {
	testhost_now
	echo "$TESTHOST_NOW_MS"
}

e2e_on_exit() {
	_e2e_cleanups+=("$1")
}

_mvmm_alive() {
	local st
	[ -n "$MVMM_PID" ] && [ -z "$MVMM_STATUS" ] || return 1
	# The state after the command name, which may itself hold ") ".
	{ read -r st <"/proc/$MVMM_PID/stat"; } 2>/dev/null || return 1
	st=${st##*) }
	st=${st%% *}
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

mvmm_start() {
	_e2e_in_main_shell mvmm_start
	! _mvmm_alive || e2e_fail "mvmm_start: mvmm (pid $MVMM_PID) is still running"
	[ -z "$MVMM_IN" ] || exec {MVMM_IN}>&-
	[ -x "$E2E_MVMM" ] || e2e_fail "$E2E_MVMM is missing: run make all"
	local fifo=$E2E_WORK/console.in
	rm -f "$fifo"
	mkfifo "$fifo"
	: >"$MVMM_CONSOLE"
	: >"$MVMM_STDERR"
	# Read-write: opening never blocks, and mvmm sees no EOF while we live.
	exec {MVMM_IN}<>"$fifo"
	echo "e2e: $E2E_MVMM $*"
	"$E2E_MVMM" "$@" <"$fifo" >"$MVMM_CONSOLE" 2>"$MVMM_STDERR" {MVMM_IN}>&- &
	MVMM_PID=$!
	MVMM_STATUS=
	MVMM_MARK=0
}

mvmm_boot() {
	local extra=
	if [ "${1:-}" = --append ]; then
		extra=" $2"
		shift 2
	fi
	[ -f "$E2E_KERNEL" ] || e2e_fail "$E2E_KERNEL is missing: run make guest"
	[ -f "$E2E_INITRD" ] || e2e_fail "$E2E_INITRD is missing: run make guest"
	mvmm_start --kernel "$E2E_KERNEL" --initrd "$E2E_INITRD" \
		--cmdline "$E2E_CMDLINE$extra" "$@"
}

mvmm_boot_scenario() {
	local name=$1
	shift
	mvmm_boot --append "mvmm.scenario=$name" "$@"
}

mvmm_console() {
	tr -d '\r' <"$MVMM_CONSOLE"
}

mvmm_mark() {
	MVMM_MARK=$(stat -c %s "$MVMM_CONSOLE")
}

_mvmm_match() {
	# Not a pipeline: pipefail would see tail's SIGPIPE after grep -m1.
	grep -E -m1 -- "$1" < <(tail -c +$((MVMM_MARK + 1)) "$MVMM_CONSOLE" | tr -d '\r')
}

_e2e_in_main_shell() {
	[ "$BASHPID" = "$$" ] || e2e_fail "$1: call it directly, not in \$(...) or a pipeline"
}

mvmm_wait_for() {
	local pattern=$1 to=$((${2:-$E2E_WAIT} * E2E_SLOW)) deadline fd follower line= part l
	[ -n "$MVMM_PID" ] || e2e_fail "mvmm_wait_for: mvmm not started"
	testhost_now
	deadline=$((TESTHOST_NOW_MS + to * 1000))
	# One follower for the whole wait, read with a timeout: a look per
	# 0.1 s cost six processes (about 300 test host IPIs a second).
	exec {fd}< <(exec tail -c +$((MVMM_MARK + 1)) -f "$MVMM_CONSOLE" 2>/dev/null)
	follower=$!
	while :; do
		part=
		if IFS= read -r -t 1 -u "$fd" part; then
			l=${line}${part}
			line=
		else
			# A timeout or the follower's end: keep the partial line,
			# which grep would match as it is.
			line+=$part
			l=$line
		fi
		l=${l//$'\r'/}
		if [ -n "$l" ] && [[ $l =~ $pattern ]]; then
			_e2e_unfollow "$fd" "$follower"
			printf '%s\n' "$l"
			return 0
		fi
		if [ -z "$part" ] && ! _mvmm_alive; then
			_e2e_unfollow "$fd" "$follower"
			# Output written just before exiting still counts.
			_mvmm_match "$pattern" && return 0
			if [ "$BASHPID" = "$$" ]; then
				mvmm_wait_exit 5
				e2e_fail "mvmm exited with status $MVMM_STATUS before the console showed /$pattern/"
			fi
			e2e_fail "mvmm exited before the console showed /$pattern/"
		fi
		testhost_now
		if [ "$TESTHOST_NOW_MS" -ge "$deadline" ]; then
			_e2e_unfollow "$fd" "$follower"
			# Diagnosed on exit (this may be a subshell).
			echo "no /$pattern/ within ${to}s" >"$E2E_WORK/.stuck"
			e2e_fail "no console line matching /$pattern/ within ${to}s"
		fi
		# The follower ended (it should not): wait as a builtin.
		[ -n "$part" ] || kill -0 "$follower" 2>/dev/null || testhost_sleep 0.1
	done
}

# _e2e_unfollow FD PID: ends a wait's console follower.
_e2e_unfollow() {
	local fd=$1
	kill "$2" 2>/dev/null || true
	exec {fd}<&-
}

mvmm_send() {
	_mvmm_alive || e2e_fail "mvmm_send: mvmm is not running"
	mvmm_mark
	printf '%s\n' "$1" >&"$MVMM_IN"
}

mvmm_scenario_rc() {
	local name=$1 to=${2:-$E2E_WAIT} line
	# A substring: kernel messages may share the marker's line.
	line=$(mvmm_wait_for "MVMM-SCENARIO-END $name rc=[0-9]+" "$to")
	line=${line##*"MVMM-SCENARIO-END $name rc="}
	echo "${line%%[!0-9]*}"
}

mvmm_wait_exit() {
	local to=$((${1:-$E2E_WAIT} * E2E_SLOW)) deadline
	[ -n "$MVMM_PID" ] || e2e_fail "mvmm_wait_exit: mvmm not started"
	_e2e_in_main_shell mvmm_wait_exit
	if [ -z "$MVMM_STATUS" ]; then
		testhost_now
		deadline=$((TESTHOST_NOW_MS + to * 1000))
		while _mvmm_alive; do
			testhost_now
			if [ "$TESTHOST_NOW_MS" -ge "$deadline" ]; then
				echo "mvmm still running ${to}s later" >"$E2E_WORK/.stuck"
				e2e_fail "mvmm still running ${to}s later"
			fi
			testhost_sleep 0.1
		done
		MVMM_STATUS=0
		wait "$MVMM_PID" || MVMM_STATUS=$?
	fi
}

mvmm_expect_exit() {
	local want=$1
	mvmm_wait_exit "${2:-$E2E_WAIT}"
	[ "$MVMM_STATUS" = "$want" ] ||
		e2e_fail "mvmm exited with status $MVMM_STATUS, expected $want"
}

mvmm_status_kib() {
	local field=${1:-VmRSS} v
	_mvmm_alive || e2e_fail "mvmm_status_kib: mvmm is not running"
	v=$(awk -v f="$field:" '$1 == f { print $2 }' "/proc/$MVMM_PID/status")
	[ -n "$v" ] || e2e_fail "no $field in /proc/$MVMM_PID/status"
	echo "$v"
}

mvmm_stop() {
	local i
	[ -n "$MVMM_PID" ] && [ -z "$MVMM_STATUS" ] || return 0
	kill -TERM "$MVMM_PID" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		_mvmm_alive || break
		sleep 0.1
	done
	if _mvmm_alive; then
		_mvmm_dump_threads "mvmm ignored SIGTERM for 5 s"
		kill -KILL "$MVMM_PID" 2>/dev/null || true
		for ((i = 0; i < 100; i++)); do
			_mvmm_alive || break
			sleep 0.1
		done
		if _mvmm_alive; then
			# Stuck in the kernel: waiting would hang the whole run.
			_mvmm_dump_threads "mvmm survived SIGKILL for 10 s"
			MVMM_STATUS=137
			return 0
		fi
	fi
	MVMM_STATUS=0
	wait "$MVMM_PID" 2>/dev/null || MVMM_STATUS=$?
}

# Thread states, CPU times and kernel stacks of a stuck mvmm, for the
# failure report. Shell builtins only: a process costs ~0.3 s in the test host.
_mvmm_dump_threads() {
	local t comm st f wchan line n
	echo "--- $1: threads of pid $MVMM_PID (name state utime stime wchan)" >&2
	for t in /proc/"$MVMM_PID"/task/*; do
		[ -d "$t" ] || continue
		comm= st= wchan=
		read -r comm <"$t/comm" 2>/dev/null
		read -r st <"$t/stat" 2>/dev/null
		read -r wchan <"$t/wchan" 2>/dev/null
		read -ra f <<<"${st##*) }"
		echo "$comm ${f[0]:-?} ${f[11]:-?} ${f[12]:-?} $wchan" >&2
		n=0
		while read -r line && [ $n -lt 10 ]; do
			echo "    $line" >&2
			n=$((n + 1))
		done <"$t/stack" 2>/dev/null
	done
}

# e2e_diagnose WHY: where a guest that stopped making progress is, on
# stderr (shown with the failure). Safe to call more than once.
e2e_diagnose() {
	_mvmm_alive || { echo "--- $1: mvmm is not running" >&2; return 0; }
	[ -z "${_e2e_diagnosed:-}" ] || return 0
	_e2e_diagnosed=1
	# A subshell without errexit: a failed read must not end the report.
	(
		set +e
		_e2e_diagnose "$1"
	)
	return 0
}

_e2e_diagnose() {
	local d e tr=/sys/kernel/tracing
	{
		echo "--- diagnosis ($1): console $(stat -c %s "$MVMM_CONSOLE") bytes, last line: $(tail -n 1 "$MVMM_CONSOLE" | tr -d '\r' | cut -c1-120)"
		grep -m1 'first KVM_RUN' "$MVMM_STDERR" || echo "(mvmm logged no first KVM_RUN)"
	} >&2
	_mvmm_dump_threads "sample 1"
	sleep 2
	_mvmm_dump_threads "sample 2, 2 s later"
	for d in /sys/kernel/debug/kvm/"$MVMM_PID"-*; do
		[ -d "$d" ] || continue
		echo "--- KVM statistics ($d)" >&2
		(cd "$d" && grep -s -E '^[0-9]+$' -- *) | tr '\n' ' ' >&2
		echo >&2
	done
	if [ -w $tr/trace ]; then
		echo "--- KVM exits in 2 s, by reason and guest RIP; then the last trace lines" >&2
		echo 0 >$tr/tracing_on
		: >$tr/trace
		for e in kvm_exit kvm_entry kvm_inj_virq kvm_apic_accept_irq kvm_pio kvm_mmio kvm_msr kvm_userspace_exit kvm_vcpu_wakeup; do
			[ -e $tr/events/kvm/$e/enable ] && echo 1 >$tr/events/kvm/$e/enable
		done
		echo 1 >$tr/tracing_on
		sleep 2
		echo 0 >$tr/tracing_on
		grep -o 'kvm_exit: .*' $tr/trace | sed 's/ info.*//' | sort | uniq -c | sort -rn | head -12 >&2
		tail -n 30 $tr/trace >&2
		echo 0 >$tr/events/kvm/enable
		: >$tr/trace
	fi
	echo "--- mvmm's dump (SIG${MVMM_E2E_DUMP_SIGNAL:-USR2})" >&2
	local before
	before=$(stat -c %s "$MVMM_STDERR")
	kill -"${MVMM_E2E_DUMP_SIGNAL:-USR2}" "$MVMM_PID" 2>/dev/null
	sleep 2
	tail -c +$((before + 1)) "$MVMM_STDERR" | head -n 60 >&2
	# A receive interrupt runs the UART's handler, which also sends what
	# waits to be sent: output that resumes now was stalled on a lost
	# transmit interrupt, not on a stuck guest. (The failure stands.) An
	# idle shell also answers with the guest's free memory and its last
	# kernel lines (a balloon short of pages says "Out of puff").
	if [ -n "$MVMM_IN" ]; then
		before=$(stat -c %s "$MVMM_CONSOLE")
		printf '\necho poke; grep -E "^Mem(Free|Available)" /proc/meminfo; dmesg | tail -n 6\n' >&"$MVMM_IN"
		sleep 5
		echo "--- console poke (a command typed): $(($(stat -c %s "$MVMM_CONSOLE") - before)) bytes of output followed" >&2
		tail -c +$((before + 1)) "$MVMM_CONSOLE" | tr -d '\r' | tail -n 12 >&2
	fi
}

_e2e_alarm() {
	# Already diagnosing on the way out: let that finish.
	[ -z "${_e2e_diagnosed:-}" ] || return 0
	echo "FAIL: ${E2E_NAME:-$(basename "$0" .sh)}: the runner's deadline passed" >&2
	e2e_diagnose "scenario deadline"
	exit 124
}
trap _e2e_alarm ALRM

_e2e_exit() {
	local rc=$? c
	set +e
	# .stuck (a wait that timed out, or the runner's deadline) stays for
	# the runner to name the cause.
	if [ -s "$E2E_WORK/.stuck" ] && _mvmm_alive; then
		e2e_diagnose "$(cat "$E2E_WORK/.stuck")"
	fi
	for c in "${_e2e_cleanups[@]}"; do
		eval "$c"
	done
	mvmm_stop
	if [ "$rc" != 0 ] && [ "$rc" != 77 ] && [ -n "$MVMM_PID" ]; then
		echo "--- last 40 console lines ($MVMM_CONSOLE)" >&2
		tail -n 40 "$MVMM_CONSOLE" | tr -d '\r' >&2
		echo "--- mvmm stderr ($MVMM_STDERR)" >&2
		tail -n 20 "$MVMM_STDERR" >&2
		echo "---" >&2
	fi
	[ -n "$MVMM_IN" ] && exec {MVMM_IN}>&-
	[ -n "${_e2e_own_work:-}" ] && rm -rf "$E2E_WORK"
	exit "$rc"
}
trap _e2e_exit EXIT
