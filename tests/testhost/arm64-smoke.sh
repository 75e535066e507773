#!/bin/sh
# Runs inside the arm64 test host (busybox sh): shows that it has a
# hardware-style /dev/kvm in VHE mode, runs arm64 binaries from the shared
# root (static and multiarch-dynamic), and boots the arm64 test guest on KVM
# with mvmm-a64-boot on 1 and 2 vCPUs: scenario info, then PSCI power-off.
# Run from the repository root, after `make ARCH=aarch64 guest-arm64`:
#   bash tests/testhost/run.sh --arch arm64 -- sh tests/testhost/arm64-smoke.sh
# Exit 0 when every check passed.
fails=0
check() { # check WHAT COMMAND...
	what=$1
	shift
	if "$@"; then echo "arm64-smoke: ok: $what"; else echo "arm64-smoke: FAIL: $what"; fails=$((fails + 1)); fi
}

echo "arm64-smoke: $(uname -m) $(uname -r)"
check "/dev/kvm is a character device" test -c /dev/kvm
dmesg | grep -i 'kvm \[' | sed 's/^/arm64-smoke: dmesg: /'
check "KVM runs in VHE mode" sh -c "dmesg | grep -q 'VHE mode initialized successfully'"

bb=$(ls -d "$HOME"/.cache/mvmm/arm64/busybox-static_*/bin/busybox 2>/dev/null | head -n1)
check "a static arm64 binary from the shared root runs" sh -c "'$bb' echo static-ok | grep -qx static-ok"
check "a dynamic arm64 binary (multiarch libfdt) runs" build-aarch64/mvmm-fdt -c 2 /tmp/smoke.dtb

for cpus in 1 2; do
	out=/tmp/boot-$cpus.log
	build-aarch64/mvmm-a64-boot -c "$cpus" -m 256 -t 300 \
		-a "console=ttyS0 earlycon panic=-1 mvmm.scenario=info" \
		build/guest-arm64/Image build/guest-arm64/initramfs.cpio.gz >"$out" 2>&1
	rc=$?
	sed "s/^/arm64-smoke: guest($cpus): /" "$out"
	check "guest on $cpus vCPU(s) exits 0 (PSCI SYSTEM_OFF)" test "$rc" = 0
	check "guest sees cpus=$cpus" grep -q "^cpus=$cpus" "$out"
	check "guest ran its scenario" grep -q MVMM-INFO-OK "$out"
	check "guest powered off through PSCI" grep -q SYSTEM_OFF "$out"
done
echo "arm64-smoke: $fails failed"
[ "$fails" = 0 ]
