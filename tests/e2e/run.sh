#!/usr/bin/env bash
# The e2e runner: runs every scenario tests/e2e/t_NAME.sh (helpers in lib.sh),
# directly where /dev/kvm is hardware-backed, else inside the emulated test
# host (tests/testhost/run.sh): all scenarios in one boot, one after another,
# each reported on its own. Ends with the line "e2e: N passed, M failed";
# exits non-zero when any failed.
#
# Usage: tests/e2e/run.sh [NAME...]   only the named scenarios (t_NAME.sh)
# Environment: MVMM_E2E_TIMEOUT  seconds per scenario (default 60 direct,
#                                300 in the test host; a scenario's header
#                                "# e2e-timeout: S" wins)
#              MVMM_E2E_SLOW     multiplies every deadline and wait (default:
#                                1 direct; in the test host 1-4, from how
#                                long it took to boot)
#              MVMM_TESTHOST_MEM test host memory, MiB (default 4096)
#              MVMM_E2E_BUDGET_S no new test host boot after this many
#                                seconds (default 3000: a hung test host costs
#                                up to 25 minutes before its retry)
#
# Retries: none for a scenario's own failure. A guest crash (triple fault,
# kernel panic), an mvmm error, a timeout or a failed check fails the run:
# tests/attrib/run.sh found no guest crash under QEMU's microvm on the same
# workloads in the same test host (docs/testing.md), so a crash is not put
# down to the emulator. Only when the test host itself dies under a scenario
# (its kernel panicked or it hung: status 125 or 124) is that scenario run
# again, in a new test host boot, at most twice; the cause is printed. A
# scenario that fails while the test host's kernel oopses (its taint gains D
# or L) counts as such a death: the guest ran on a host whose kernel had
# just faulted in its vCPU thread (docs/testing.md, "A test host oops").
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
. tests/testhost/common.sh

inside=0
if [ "${1:-}" = --inside ]; then
	inside=1
	shift
fi

if [ "${MVMM_TESTHOST:-0}" = 1 ]; then
	default_timeout=300
else
	default_timeout=60
fi

scenarios=()
if [ $# -gt 0 ]; then
	for n in "$@"; do
		n=${n#t_}
		n=${n%.sh}
		[ -f "tests/e2e/t_$n.sh" ] || { echo "e2e: no scenario tests/e2e/t_$n.sh" >&2; exit 2; }
		scenarios+=("tests/e2e/t_$n.sh")
	done
else
	for f in tests/e2e/t_*.sh; do
		[ -f "$f" ] && scenarios+=("$f")
	done
fi

scenario_name() {
	local n
	n=$(basename "$1" .sh)
	echo "${n#t_}"
}

scenario_timeout() {
	local t
	t=$(sed -n 's/^# e2e-timeout: *\([0-9][0-9]*\).*/\1/p' "$1" | head -n1)
	echo "${t:-${MVMM_E2E_TIMEOUT:-$default_timeout}}"
}

summary() {
	if [ $inside = 1 ]; then
		# Read by the outer runner; not the run's closing line.
		echo "e2e (inside test host): $1 passed, $2 failed"
	else
		echo "e2e: $1 passed, $2 failed"
	fi
}

# Emulated mode: the scenarios run in one test host boot, in order. The
# outer runner reads each one's "=== RUN" and "--- PASS/FAIL/SKIP" lines. A
# test host that dies (status 125: its kernel panicked or reset; 124: it hung
# past its timeout) ends the boot: the scenario it died under is run again in
# a new boot (at most twice), the ones after it go on in that boot.
run_in_testhosts() {
	local log rc name to queue=() done_names=() passed=0 failed=0 boot=0
	local failed_names=() skipped_names=() rerun_names=() f t line st why
	declare -A deaths=() path=()
	log=$(mktemp "${TMPDIR:-/tmp}/mvmm-e2e-log.XXXXXX")
	for f in "${scenarios[@]}"; do
		name=$(scenario_name "$f")
		path[$name]=$f
		queue+=("$name")
	done
	while [ ${#queue[@]} -gt 0 ]; do
		if [ $boot -gt 0 ] && [ $SECONDS -gt "${MVMM_E2E_BUDGET_S:-3000}" ]; then
			echo "e2e: no new test host for ${queue[*]}: the run's ${MVMM_E2E_BUDGET_S:-3000} s budget is spent"
			for name in "${queue[@]}"; do
				failed=$((failed + 1))
				failed_names+=("$name")
			done
			break
		fi
		boot=$((boot + 1))
		# A guard against a test host that hangs; the scenarios' own
		# deadlines (stretched up to 4x on a busy machine) end first.
		to=300
		for name in "${queue[@]}"; do
			to=$((to + 2 * $(scenario_timeout "${path[$name]}") + 30))
		done
		[ $boot = 1 ] || echo "e2e: test host boot $boot for: ${queue[*]}"
		bash tests/testhost/run.sh --mem "${MVMM_TESTHOST_MEM:-4096}" \
			--timeout "$to" -- bash tests/e2e/run.sh --inside "${queue[@]}" |
			tee "$log"
		rc=${PIPESTATUS[0]}
		local rest=()
		for name in "${queue[@]}"; do
			line=$(grep -a -E -m1 "^--- (PASS|FAIL|SKIP) $name( |:|$)" "$log")
			case $line in
			"--- PASS"*) passed=$((passed + 1)) ;;
			"--- SKIP"*) skipped_names+=("$name") ;;
			"--- FAIL"*)
				failed=$((failed + 1))
				failed_names+=("$name") ;;
			*)
				if grep -a -q "^=== RUN  $name " "$log"; then
					# It was running when the test host died.
					why=$(grep -a -m1 -E 'Kernel panic|BUG: |soft lockup|stack guard|corrupted stack|general protection|testhost: ' "$log" |
						sed 's/^\[[ 0-9.]*\] //' | cut -c1-120)
					grep -a -q "^e2e: the test host's kernel faulted during $name " "$log" &&
						rc=fault
					case $rc in
					fault) st="the test host's kernel faulted" ;;
					124) st="the test host hung (status 124)" ;;
					125) st="the test host died (status 125)" ;;
					*) st="the test host ended (status $rc)" ;;
					esac
					deaths[$name]=$((${deaths[$name]:-0} + 1))
					if [ "${deaths[$name]}" -lt 3 ]; then
						echo "e2e: retry $name in a new test host: $st under it${why:+: $why}"
						rerun_names+=("$name")
						rest+=("$name")
					else
						echo "--- FAIL $name: $st under it three times${why:+: $why}"
						failed=$((failed + 1))
						failed_names+=("$name")
					fi
				else
					rest+=("$name")
				fi ;;
			esac
		done
		if [ ${#rest[@]} = ${#queue[@]} ] && ! grep -a -q '^=== RUN ' "$log"; then
			echo "e2e: the test host ran nothing (status $rc)"
			for name in "${queue[@]}"; do
				failed=$((failed + 1))
				failed_names+=("$name")
			done
			break
		fi
		queue=("${rest[@]}")
	done
	rm -f "$log"
	echo "e2e: $boot test host boot(s), ${SECONDS} s"
	[ ${#skipped_names[@]} = 0 ] || echo "e2e: skipped: ${skipped_names[*]}"
	[ ${#rerun_names[@]} = 0 ] || echo "e2e: run again after the test host died under them: ${rerun_names[*]}"
	[ $failed = 0 ] || echo "e2e: failed: ${failed_names[*]}"
	summary $passed $failed
	[ $failed = 0 ]
}

if [ $inside = 0 ]; then
	mode=$(testhost_kvm_mode)
	if [ "$mode" = emulated ] && [ "${MVMM_TESTHOST:-0}" != 1 ]; then
		echo "mode: emulated test host (QEMU TCG, nested kvm-amd)"
		run_in_testhosts
		exit $?
	fi
	if [ "${MVMM_TESTHOST:-0}" = 1 ]; then
		echo "mode: emulated test host (QEMU TCG, nested kvm-amd)"
	else
		echo "mode: direct ($mode)"
	fi
fi
if [ "${MVMM_TESTHOST:-0}" = 1 ]; then
	ready=$(cut -d' ' -f1 /proc/uptime)
	# A quiet 2-core machine boots the test host in ~4 s; a busy one took
	# 26 s. Waits and deadlines stretch with it (1x-4x) so that a loaded
	# machine makes the run slower, not red.
	if [ -z "${MVMM_E2E_SLOW:-}" ]; then
		MVMM_E2E_SLOW=$(awk -v r="$ready" 'BEGIN { f = int(r / 6) + 1; if (f > 4) f = 4; print f }')
	fi
	export MVMM_E2E_SLOW
	echo "e2e: test host ready $ready s after its kernel started; waits x$MVMM_E2E_SLOW"
fi

[ -x ./mvmm ] || echo "e2e: warning: ./mvmm is missing (make all)"
[ ${#scenarios[@]} -gt 0 ] || echo "e2e: warning: no scenarios (tests/e2e/t_*.sh)"

cur=
stop_current() {
	[ -n "$cur" ] && kill -KILL -- "-$cur" 2>/dev/null
	[ -n "$cur" ] && wait "$cur" 2>/dev/null
}
trap 'stop_current; exit 130' INT
trap 'stop_current; exit 143' TERM

# Why a scenario failed, from what it left in its work directory.
failure_cause() {
	local work=$1 st=$2
	if grep -q 'guest triple fault' "$work"/mvmm.stderr 2>/dev/null; then
		echo "guest crashed (triple fault)"
	elif grep -a -q 'Kernel panic' "$work"/console.log 2>/dev/null; then
		echo "guest crashed ($(grep -a -m1 'Kernel panic' "$work/console.log" | tr -d '\r' | sed 's/^\[[ 0-9.]*\] //' | cut -c1-80))"
	elif [ "$st" = timeout ]; then
		echo "timeout: $(cat "$work/.stuck" 2>/dev/null)"
	elif [ -s "$work/.stuck" ]; then
		echo "no progress: $(cat "$work/.stuck")"
	elif grep -q 'mvmm: error:' "$work"/mvmm.stderr 2>/dev/null; then
		echo "mvmm error: $(grep -m1 'mvmm: error:' "$work/mvmm.stderr" | cut -c1-100)"
	else
		echo "check failed"
	fi
}

# An mvmm that outlived its scenario is stuck in the kernel; the test host
# is not fit for more scenarios (the outer runner starts a new one).
stuck_vmm() {
	[ "${MVMM_TESTHOST:-0}" = 1 ] || return 1
	sleep 0.5
	pgrep -x mvmm >/dev/null 2>&1
}

passed=0
failed=0
failed_names=()
skipped_names=()
for f in "${scenarios[@]}"; do
	name=$(scenario_name "$f")
	to=$(($(scenario_timeout "$f") * ${MVMM_E2E_SLOW:-1}))
	work=$(mktemp -d "${TMPDIR:-/tmp}/mvmm-e2e.$name.XXXXXX")
	echo "=== RUN  $name (timeout ${to}s)"
	ipis0=$(testhost_ipis)
	testhost_fault_taint
	taint0=$TESTHOST_FAULT_TAINT
	testhost_now
	t0=$TESTHOST_NOW_MS
	# Its own session and process group, mvmm included. At the deadline
	# its shells get SIGALRM first: lib.sh then records where the guest is
	# (e2e_diagnose) and exits 124; 60 s later the group is killed.
	E2E_NAME=$name E2E_WORK=$work setsid bash "$f" </dev/null &
	cur=$!
	group=$cur
	deadline=$((t0 + to * 1000))
	st=
	while kill -0 "$cur" 2>/dev/null; do
		testhost_now
		if [ "$TESTHOST_NOW_MS" -ge "$deadline" ]; then
			# The scenario's shells (not mvmm) get SIGALRM; its
			# exit trap diagnoses because of the .stuck file.
			echo "the runner's deadline (${to} s)" >"$work/.stuck"
			pkill -ALRM -x bash -s "$cur" 2>/dev/null
			for ((i = 0; i < 600; i++)); do
				kill -0 "$cur" 2>/dev/null || break
				sleep 0.1
			done
			kill -KILL -- "-$cur" 2>/dev/null
			st=timeout
			break
		fi
		testhost_sleep 0.2
	done
	rc=0
	wait "$cur" 2>/dev/null || rc=$?
	[ -n "$st" ] || st=$rc
	cur=
	# Whatever the scenario left running (mvmm in its group).
	kill -KILL -- "-$group" 2>/dev/null
	testhost_now
	el=$((TESTHOST_NOW_MS - t0))
	el=$((el / 1000)).$(((el % 1000) / 100))
	[ "${MVMM_TESTHOST:-0}" = 1 ] && echo "figure: testhost_ipis = $(testhost_ipis_since "$ipis0")"
	testhost_fault_taint
	host_faulted=
	if [ "${MVMM_TESTHOST:-0}" = 1 ] && [ "$TESTHOST_FAULT_TAINT" != "$taint0" ]; then
		host_faulted=1
		host_fault=$(testhost_fault_line)
		echo "e2e: the test host's kernel faulted during $name (taint $taint0 -> $TESTHOST_FAULT_TAINT): ${host_fault:-no log line}"
		if [ "$st" != 0 ] && [ "$st" != 77 ]; then
			# No result line: the outer runner runs it again in a new
			# boot and prints why. A guest on a faulted host ran on state
			# the host's kernel may have corrupted.
			echo "e2e: $name failed on the faulted test host: $(failure_cause "$work" "$st")"
			rm -rf "$work"
			echo "e2e: this test host runs no more scenarios"
			break
		fi
	fi
	case $st in
	0)
		echo "--- PASS $name (${el}s)"
		passed=$((passed + 1))
		;;
	77)
		echo "--- SKIP $name (${el}s)"
		skipped_names+=("$name")
		;;
	*)
		cause=$(failure_cause "$work" "$st")
		[ "$st" = timeout ] && st="timed out after ${to}s" || st="status $st"
		echo "--- FAIL $name ($st, ${el}s): $cause"
		failed=$((failed + 1))
		failed_names+=("$name")
		;;
	esac
	if [ "$st" = 0 ] || [ "${MVMM_TESTHOST:-0}" = 1 ]; then
		rm -rf "$work"
	else
		echo "    (its files: $work)"
	fi
	if [ -n "$host_faulted" ]; then
		echo "e2e: this test host runs no more scenarios"
		break
	fi
	if stuck_vmm; then
		echo "e2e: an mvmm outlived $name (stuck in the test host's kernel): this test host runs no more scenarios"
		ps -eo pid,stat,wchan:32,args | grep -E '[m]vmm' | head -5
		break
	fi
done

[ ${#skipped_names[@]} = 0 ] || echo "e2e: skipped: ${skipped_names[*]}"
[ $failed = 0 ] || echo "e2e: failed: ${failed_names[*]}"
summary $passed $failed
[ $failed = 0 ]
