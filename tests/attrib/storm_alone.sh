#!/usr/bin/env bash
# The emulator alone, no VMM: boots the test host N times and runs
# tests/attrib/ipi_storm.py (cross-CPU wake-ups) for S seconds in each, with
# no guest at all. Prints per boot whether the storm ended and the test host
# powered off, with the test host's reschedule and function-call IPIs.
# A test host that wedges here wedges with nothing of mvmm's running.
#
# Usage: tests/attrib/storm_alone.sh [-n N] [-s SECONDS]
#   Test host settings as for tests/testhost/run.sh (MVMM_TESTHOST_TCG, ...).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
n=4
secs=20
while [ $# -gt 0 ]; do
	case $1 in
	-n) n=${2:?}; shift 2 ;;
	-s) secs=${2:?}; shift 2 ;;
	*) sed -n '/^# Usage:/,/^[^#]/s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
	esac
done
ok=0
for ((i = 1; i <= n; i++)); do
	t0=$SECONDS
	out=$(bash tests/testhost/run.sh --timeout $((secs + 180)) -- bash -c "
		. tests/testhost/common.sh
		a=\$(testhost_ipis)
		timeout -s TERM $secs python3 tests/attrib/ipi_storm.py
		echo STORM-IPIS \$(testhost_ipis_since \"\$a\")" 2>&1)
	rc=$?
	trips=$(grep -o -m1 'ipi_storm: [0-9]* round trips' <<<"$out" | awk '{print $2}')
	sent=$(grep -o -m1 'STORM-IPIS [0-9]*' <<<"$out" | awk '{print $2}')
	if [ $rc = 0 ] && [ -n "$sent" ]; then
		ok=$((ok + 1))
		echo "storm: boot $i: ended, ${trips:-?} round trips, $sent IPIs, $((SECONDS - t0)) s"
	else
		echo "storm: boot $i: the test host did not end the storm (status $rc, $((SECONDS - t0)) s): $(tail -n 1 <<<"$out")"
	fi
done
echo "storm: $ok of $n boots ended (TCG ${MVMM_TESTHOST_TCG:-multi}, ${secs} s each)"
