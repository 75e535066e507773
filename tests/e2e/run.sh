#!/usr/bin/env bash
# The e2e runner: runs every scenario tests/e2e/t_NAME.sh (helpers in lib.sh),
# directly where /dev/kvm is hardware-backed, else each in its own boot of the
# emulated test host (tests/testhost/run.sh), retried there (see below). Ends with the line
# "e2e: N passed, M failed"; exits non-zero when any failed.
#
# Usage: tests/e2e/run.sh [NAME...]   only the named scenarios (t_NAME.sh)
# Environment: MVMM_E2E_TIMEOUT  seconds per scenario (default 60 direct,
#                                300 in the test host; a scenario's header
#                                "# e2e-timeout: S" wins)
#              MVMM_TESTHOST_MEM test host memory, MiB (default 4096)
#              MVMM_E2E_BUDGET_S no retries after this many seconds (2700)
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

# Emulated mode: each scenario in a fresh test host boot (a few seconds), so
# that a hung or crashed test host (nested SVM under TCG is not perfectly
# stable: about one scenario in 15 sees the guest triple-fault while it faults
# in memory, even with no balloon activity) costs one scenario, not the run.
# A failed scenario is run up to twice more, each time in a new test host
# (a test host whose kernel died under it, status 125, does not count: up to
# two more for that); one that passes only then is listed.
run_in_testhosts() {
	local f name to log rc attempt passed=0 failed=0 result
	local failed_names=() flaky_names=() skipped_names=()
	log=$(mktemp "${TMPDIR:-/tmp}/mvmm-e2e-log.XXXXXX")
	for f in "${scenarios[@]}"; do
		name=$(basename "$f" .sh)
		name=${name#t_}
		to=$(scenario_timeout "$f")
		result=fail
		attempt=0
		local fails=0 host_deaths=0
		# Up to three runs of the scenario; a test host that died under it
		# (status 125: its kernel panicked or reset) is not the scenario's
		# failure and gets up to two more.
		while [ $fails -lt 3 ] && [ $host_deaths -lt 3 ]; do
			attempt=$((attempt + 1))
			# No further attempt once the run's budget is spent (CI has 90 min).
			if [ "$attempt" -gt 1 ] && [ $SECONDS -gt "${MVMM_E2E_BUDGET_S:-2700}" ]; then
				echo "e2e: no attempt $attempt for $name: the run's ${MVMM_E2E_BUDGET_S:-2700} s budget is spent"
				break
			fi
			bash tests/testhost/run.sh --mem "${MVMM_TESTHOST_MEM:-4096}" \
				--timeout $((to + 90)) -- bash tests/e2e/run.sh --inside "$name" |
				tee "$log"
			rc=${PIPESTATUS[0]}
			if grep -q '^e2e (inside test host): 1 passed, 0 failed$' "$log"; then
				result=pass
			elif grep -q '^--- SKIP' "$log"; then
				result=skip
			else
				echo "e2e: $name failed on attempt $attempt (test host status $rc)"
				if [ "$rc" = 125 ]; then
					host_deaths=$((host_deaths + 1))
				else
					fails=$((fails + 1))
				fi
				continue
			fi
			break
		done
		case $result in
		pass)
			passed=$((passed + 1))
			[ "$attempt" = 1 ] || flaky_names+=("$name") ;;
		skip) skipped_names+=("$name") ;;
		*)
			failed=$((failed + 1))
			failed_names+=("$name") ;;
		esac
	done
	rm -f "$log"
	[ ${#skipped_names[@]} = 0 ] || echo "e2e: skipped: ${skipped_names[*]}"
	[ ${#flaky_names[@]} = 0 ] || echo "e2e: passed only on a later attempt: ${flaky_names[*]}"
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
	echo "e2e: test host ready $(cut -d' ' -f1 /proc/uptime) s after its kernel started"
fi

[ -x ./mvmm ] || echo "e2e: warning: ./mvmm is missing (make all)"
[ ${#scenarios[@]} -gt 0 ] || echo "e2e: warning: no scenarios (tests/e2e/t_*.sh)"

cur=
stop_current() {
	[ -n "$cur" ] && kill -TERM "$cur" 2>/dev/null
	[ -n "$cur" ] && wait "$cur" 2>/dev/null
}
trap 'stop_current; exit 130' INT
trap 'stop_current; exit 143' TERM

now_ms() {
	date +%s%3N
}

passed=0
failed=0
failed_names=()
skipped_names=()
for f in "${scenarios[@]}"; do
	name=$(basename "$f" .sh)
	name=${name#t_}
	to=$(scenario_timeout "$f")
	work=$(mktemp -d "${TMPDIR:-/tmp}/mvmm-e2e.$name.XXXXXX")
	echo "=== RUN  $name (timeout ${to}s)"
	t0=$(now_ms)
	# timeout puts the scenario in its own process group and kills all of
	# it, mvmm included, when time is up.
	E2E_NAME=$name E2E_WORK=$work timeout -k 10 "$to" bash "$f" </dev/null &
	cur=$!
	wait "$cur"
	st=$?
	cur=
	el=$(now_ms)
	el=$(((el - t0) / 1000)).$((((el - t0) % 1000) / 100))
	case $st in
	0)
		echo "--- PASS $name (${el}s)"
		passed=$((passed + 1))
		;;
	77)
		echo "--- SKIP $name (${el}s)"
		skipped_names+=("$name")
		;;
	124 | 137)
		echo "--- FAIL $name: timed out after ${to}s"
		failed=$((failed + 1))
		failed_names+=("$name")
		;;
	*)
		echo "--- FAIL $name (status $st, ${el}s)"
		failed=$((failed + 1))
		failed_names+=("$name")
		;;
	esac
	if [ "$st" = 0 ] || [ "${MVMM_TESTHOST:-0}" = 1 ]; then
		rm -rf "$work"
	else
		echo "    (its files: $work)"
	fi
done

[ ${#skipped_names[@]} = 0 ] || echo "e2e: skipped: ${skipped_names[*]}"
[ $failed = 0 ] || echo "e2e: failed: ${failed_names[*]}"
summary $passed $failed
[ $failed = 0 ]
