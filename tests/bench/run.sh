#!/usr/bin/env bash
# make bench: prints mvmm's figures as tables, with the commands that made them.
#   host side (any /dev/kvm): startup to the first KVM_RUN and mvmm's own RSS
#   with a 1 GiB guest, virtqueue round trips, the discard engine comparison;
#   guest side (real KVM, or the emulated test host): boot-to-/init and the
#   balloon's inflate time, free page reporting's RSS drop after a guest free,
#   snapshot sizes and times with and without hints, hint-based reclaim;
#   the peer table: mvmm against QEMU's microvm on the same kernel and
#   workloads (tests/bench/peer.sh; MVMM_PEER_ROUNDS, default 5).
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/testhost/common.sh

echo "# mvmm benchmarks ($(date -u +%Y-%m-%dT%H:%MZ), $(uname -r), $(nproc) CPUs)"
echo

echo "## Startup (host side): ./mvmm --mem 1024, first KVM_RUN and VmRSS"
echo
echo "| run | first KVM_RUN after start (ms) | mvmm VmRSS then (KiB) |"
echo "|---|---|---|"
for i in 1 2 3 4 5; do
	line=$(timeout 5 ./mvmm --kernel build/guest/bzImage --initrd build/guest/initramfs.cpio.gz \
		--mem 1024 --cmdline "console=ttyS0 panic=-1" </dev/null 2>&1 >/dev/null |
		grep -m1 'startup: first KVM_RUN' || true)
	ms=$(echo "$line" | sed -n 's/.*first KVM_RUN \([0-9.]*\) ms.*/\1/p')
	rss=$(echo "$line" | sed -n 's/.*VmRSS \([0-9]*\) KiB.*/\1/p')
	echo "| $i | ${ms:-n/a} | ${rss:-n/a} |"
done
echo
echo "(RSS includes the kernel and initramfs already copied into guest RAM.)"
echo

echo "## Virtqueue round trips: build/bench/virtq_bench"
echo
build/bench/virtq_bench 2
echo

echo "## Discard engine: build/bench/discard_bench"
echo
build/bench/discard_bench
echo

echo "## Transparent huge pages on guest RAM: build/bench/thp_bench"
echo
build/bench/thp_bench 512
echo

echo "## What a seccomp filter costs per system call: build/bench/seccomp_bench"
echo
build/bench/seccomp_bench
echo

mode=$(testhost_kvm_mode)
# The snapshot and hint-reclaim scenarios print their figures as they check
# them. In the emulated test host each script gets its own boot and, when
# it fails there (nested TCG is not stable: guest triple faults and test
# host panics, see docs/testing.md), up to two more in fresh boots; figures
# come only from the passing run, and every retry is printed.
guest_scripts=(tests/bench/boot_balloon.sh tests/bench/reporting.sh
	tests/e2e/t_snapshot.sh tests/e2e/t_hint_reclaim.sh)
echo "## Guest side: ${guest_scripts[*]} ($mode)"
echo
out=
if [ "$mode" = emulated ]; then
	echo "Mode: emulated test host (QEMU TCG, nested kvm-amd): absolute times are ~10x slower than on hardware."
	for script in "${guest_scripts[@]}"; do
		for attempt in 1 2 3; do
			rc=0
			# Each script takes 1-3 min there; a hung test host ends sooner.
			one=$(bash tests/testhost/run.sh --timeout 600 -- bash "$script" 2>&1) || rc=$?
			[ "$rc" != 0 ] || break
			echo "($script failed on attempt $attempt with status $rc: $(echo "$one" | grep -m1 -E 'FAIL|triple fault|test host reset|timed out' || true))"
		done
		if [ "$rc" != 0 ]; then
			echo "$one" | tail -30
			exit 1
		fi
		out+=$one$'\n'
	done
else
	echo "Mode: direct ($mode)"
	for script in "${guest_scripts[@]}"; do
		one=$(bash "$script" 2>&1) || {
			echo "$one" | tail -30
			exit 1
		}
		out+=$one$'\n'
	done
fi
echo
echo "| figure | value |"
echo "|---|---|"
echo "$out" | sed -n 's/^figure: \(.*\) = \(.*\)$/| \1 | \2 |/p'

echo
echo "## Peers: tests/bench/peer.sh, mvmm against QEMU's microvm ($mode)"
echo
rounds=${MVMM_PEER_ROUNDS:-5}
if ! command -v qemu-system-x86_64 >/dev/null; then
	echo "(skipped: no qemu-system-x86_64)"
elif [ "$mode" = emulated ]; then
	# One test host boot for every run, so that both VMMs see the same
	# machine; on these shared CPUs it takes an hour or more.
	bash tests/testhost/run.sh --timeout 14400 -- bash tests/bench/peer.sh -n "$rounds" |
		grep -v '^peer: '
else
	bash tests/bench/peer.sh -n "$rounds" | grep -v '^peer: '
fi
