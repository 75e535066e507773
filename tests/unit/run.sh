#!/usr/bin/env bash
# run.sh UNIT_TESTS [ARGS...]: runs the Criterion binary and, when it fails,
# repeats Criterion's failure lines after the run. The code under test logs
# warnings on purpose, so without this a CI log's tail ends in those and
# never names the failing test.
set -uo pipefail
log=$(mktemp "${TMPDIR:-/tmp}/mvmm-unit.XXXXXX")
trap 'rm -f "$log"' EXIT
"$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
if [ "$rc" -ne 0 ]; then
	echo "unit: status $rc; Criterion's failure lines:"
	grep -E '^\[(----|FAIL)\]' "$log" | grep -v 'Unexpected signal caught' | tail -40
	grep -E '^\[FAIL\]' "$log" | grep -q . ||
		echo "unit: no [FAIL] line: the runner itself failed (see above)"
fi
exit "$rc"
