#!/usr/bin/env bash
# `make fuzz-smoke`: runs every built libFuzzer target for FUZZ_SECONDS
# (default 60) from its seed corpus in tests/fuzz/corpus/<name>/, and prints
# executions per second. New inputs go to a scratch corpus under build-fuzz/,
# so the seeds in the tree stay as committed. Fails on any crash or
# sanitizer report (libFuzzer exits non-zero).
set -euo pipefail
cd "$(dirname "$0")/../.."

secs=${FUZZ_SECONDS:-60}
shopt -s nullglob
targets=(build-fuzz/*_fuzz)
if [ ${#targets[@]} -eq 0 ]; then
	echo "fuzz-smoke: no targets in build-fuzz/ (run make fuzz; needs clang)" >&2
	exit 1
fi

status=0
summary=()
for bin in "${targets[@]}"; do
	name=$(basename "$bin" _fuzz)
	seeds=tests/fuzz/corpus/$name
	work=build-fuzz/work/$name
	log=build-fuzz/$name.log
	mkdir -p "$work" "build-fuzz/artifacts/$name"
	dirs=("$work")
	[ -d "$seeds" ] && dirs+=("$seeds")
	echo "fuzz-smoke: $name for ${secs}s (log: $log)"
	if "$bin" -max_total_time="$secs" -print_final_stats=1 \
		-artifact_prefix="build-fuzz/artifacts/$name/" \
		"${dirs[@]}" >"$log" 2>&1; then
		result=ok
	else
		result=FAILED
		status=1
		tail -n 40 "$log" >&2
	fi
	# A sanitizer report that did not abort still fails the run.
	if grep -q -e 'runtime error:' -e 'ERROR: AddressSanitizer' "$log"; then
		result=FAILED
		status=1
		grep -m5 -e 'runtime error:' -e 'ERROR: AddressSanitizer' "$log" >&2
	fi
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
	summary+=("$(printf '| %-16s | %6s | %12s | %10s | %6s |' \
		"$name" "$result" "${execs:-?}" "${rate:-?}" "${cov:-?}")")
done

echo
echo "command: make fuzz-smoke (FUZZ_SECONDS=$secs)"
printf '| %-16s | %6s | %12s | %10s | %6s |\n' target result executions "exec/s" cov
echo "|------------------|--------|--------------|------------|--------|"
printf '%s\n' "${summary[@]}"
exit $status
