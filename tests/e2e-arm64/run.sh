#!/bin/sh
# The arm64 e2e tier: every scenario tests/e2e-arm64/t_NAME.sh, all in one
# boot of the arm64 test host (tests/testhost/run.sh --arch arm64: KVM in
# VHE mode under QEMU TCG), where mvmm runs arm64 guests on real KVM.
# Run on the x86 build machine, it starts the test host with itself inside;
# inside (aarch64), it runs the scenarios under busybox sh. Ends with the
# line "e2e-arm64: N passed, M failed"; exits non-zero when any failed.
#
# Usage: tests/e2e-arm64/run.sh [NAME...]   only the named scenarios
# Needs: make ARCH=aarch64 (build-aarch64/mvmm, mvmm-api), make guest-arm64.
# Environment: MVMM_E2E_ARM64_TIMEOUT  seconds for the whole test host run
#                                      (default 3600)
#              MVMM_E2E_TIMEOUT        seconds per scenario (default 600; a
#                                      header "# e2e-timeout: S" wins)
cd "$(dirname "$0")/../.." || exit 2

names=
for n in "$@"; do
	n=${n#t_}
	n=${n%.sh}
	[ -f "tests/e2e-arm64/t_$n.sh" ] || { echo "e2e-arm64: no scenario tests/e2e-arm64/t_$n.sh" >&2; exit 2; }
	names="$names $n"
done
if [ -z "$names" ]; then
	for f in tests/e2e-arm64/t_*.sh; do
		n=${f##*/t_}
		names="$names ${n%.sh}"
	done
fi

now_s() {
	cut -d. -f1 /proc/uptime
}

if [ "$(uname -m)" != aarch64 ]; then
	for f in build-aarch64/mvmm build-aarch64/mvmm-api build/guest-arm64/Image \
		build/guest-arm64/initramfs.cpio.gz; do
		[ -e "$f" ] || { echo "e2e-arm64: $f is missing (make ARCH=aarch64 guest-arm64)" >&2; exit 2; }
	done
	echo "mode: arm64 test host (QEMU TCG, KVM in VHE mode), one boot for:$names"
	# Timings here scale with the build machine's load: say what it was.
	echo "e2e-arm64: load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"
	t0=$(now_s)
	# shellcheck disable=SC2086 # the names are words
	bash tests/testhost/run.sh --arch arm64 \
		--timeout "${MVMM_E2E_ARM64_TIMEOUT:-3600}" -- sh tests/e2e-arm64/run.sh $names
	rc=$?
	echo "e2e-arm64: the arm64 tier took $(($(now_s) - t0)) s (test host status $rc), load average now $(cut -d' ' -f1-3 /proc/loadavg)"
	exit $rc
fi

echo "e2e-arm64: test host $(uname -r) ready $(cut -d' ' -f1 /proc/uptime) s after its kernel started; $(dmesg | grep -o 'VHE mode initialized successfully' || echo 'KVM not in VHE mode')"
passed=0
failed=0
failed_names=
for n in $names; do
	f=tests/e2e-arm64/t_$n.sh
	to=$(sed -n 's/^# e2e-timeout: *\([0-9][0-9]*\).*/\1/p' "$f" | head -n 1)
	to=${to:-${MVMM_E2E_TIMEOUT:-600}}
	work=$(mktemp -d "/tmp/mvmm-e2e-arm64.$n.XXXXXX")
	echo "=== RUN  $n (timeout ${to}s)"
	t0=$(now_s)
	# lib.sh's TERM trap kills the scenario's mvmm when time is up.
	E2E_NAME=$n E2E_WORK=$work timeout -k 10 "$to" sh "$f" </dev/null
	st=$?
	el=$(($(now_s) - t0))
	case $st in
	0)
		echo "--- PASS $n (${el}s)"
		passed=$((passed + 1)) ;;
	124 | 137 | 143)
		echo "--- FAIL $n: timed out after ${to}s"
		failed=$((failed + 1))
		failed_names="$failed_names $n" ;;
	*)
		echo "--- FAIL $n (status $st, ${el}s)"
		failed=$((failed + 1))
		failed_names="$failed_names $n" ;;
	esac
	rm -rf "$work"
done
[ $failed = 0 ] || echo "e2e-arm64: failed:$failed_names"
echo "e2e-arm64: $passed passed, $failed failed"
[ $failed = 0 ]
