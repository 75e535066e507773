#!/bin/busybox sh
# /init of the test host: loads KVM (kvm-amd on QEMU's emulated SVM) and 9p,
# makes the build machine's root (read-only 9p) writable with a tmpfs overlay,
# chroots into it, runs the job.sh that run.sh left in the job share, records
# its exit status there and powers off. The arm64 test host (TESTHOST_ARCH in
# /etc/testhost.env) has KVM built in and runs the job under its own busybox.
/bin/busybox --install -s /bin
export PATH=/bin
TESTHOST_ARCH=x86_64
[ -r /etc/testhost.env ] && . /etc/testhost.env

mount -t devtmpfs dev /dev
# The image has no /dev/console node (built without root), so the kernel
# started us with no console: open it now.
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sys /sys

rc_file=
finish() {
	[ -n "$rc_file" ] && echo "$1" >"$rc_file"
	echo "MVMM-TESTHOST-EXIT rc=$1"
	sync
	poweroff -f
}
fail() {
	echo "testhost: $*"
	finish 125
}

interactive=0
kvm_amd_params=
for arg in $(cat /proc/cmdline); do
	case $arg in
	mvmm.interactive=1) interactive=1 ;;
	# run.sh's MVMM_TESTHOST_KVM_AMD_PARAMS, commas for spaces.
	mvmm.kvm_amd=*) kvm_amd_params=$(echo "${arg#mvmm.kvm_amd=}" | tr , ' ') ;;
	esac
done

for m in $(cat /etc/modules.order); do
	params=
	[ "$m" = kvm-amd ] && params=$kvm_amd_params
	# shellcheck disable=SC2086
	insmod "/lib/modules/$m.ko" $params || fail "insmod $m $params failed"
done

p9=trans=virtio,version=9p2000.L,msize=512000
mount -t 9p -o "$p9" mvmmjob /job || fail "cannot mount the job share"
rc_file=/job/rc
# The build machine's files do not change under a test run: cache them.
mount -t 9p -o "$p9,ro,cache=loose" hostroot /lower || fail "cannot mount the host root"

r=/newroot
mount -t tmpfs -o mode=755 rw /rw
mkdir /rw/upper /rw/work
if ! mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work root $r; then
	echo "testhost: overlay failed; only /tmp, /run and /var/tmp are writable"
	mount --bind /lower $r
	mount -t tmpfs tmp $r/tmp
	mount -t tmpfs vartmp $r/var/tmp
fi
mount -t proc proc $r/proc
mount -t sysfs sys $r/sys
mount -t devtmpfs dev $r/dev
# What udev would add; bash's <(...) needs /dev/fd.
ln -s /proc/self/fd $r/dev/fd
ln -s fd/0 $r/dev/stdin
ln -s fd/1 $r/dev/stdout
ln -s fd/2 $r/dev/stderr
mkdir -p $r/dev/pts $r/dev/shm $r/dev/hugepages
mount -t devpts devpts $r/dev/pts
mount -t tmpfs shm $r/dev/shm
mount -t hugetlbfs hugetlbfs $r/dev/hugepages
mount -t tmpfs -o mode=755 run $r/run
# For diagnosing a stuck guest: KVM's per-VM statistics and its trace events.
mount -t debugfs debugfs $r/sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs $r/sys/kernel/tracing 2>/dev/null
mkdir -p $r/run/testhost
mount --bind /job $r/run/testhost

[ -c $r/dev/kvm ] || fail "no /dev/kvm (kvm-amd on x86_64, built in on arm64)"

shell=/bin/bash
if [ "$TESTHOST_ARCH" != x86_64 ]; then
	# The shared root is the x86_64 build machine's: of its programs only
	# static ones of this arch run here, so the job gets this busybox,
	# with its applets first in PATH (run.sh), where the root can see it.
	mkdir -p $r/run/testhost-bin
	cp /bin/busybox $r/run/testhost-bin/busybox
	chroot $r /run/testhost-bin/busybox --install -s /run/testhost-bin
	shell=/run/testhost-bin/sh
fi

if [ $interactive = 1 ]; then
	# A controlling tty, so ^C on the console reaches the job.
	setsid cttyhack chroot $r $shell /run/testhost/job.sh
	rc=$?
else
	# Plain \n on the console, so the output reads like a pipe's.
	stty -onlcr </dev/console
	# A heartbeat in the job share (not on the console, where it could
	# split a line): run.sh tells a hung test host, whose heartbeat stops,
	# from a quiet job or a stuck guest, whose heartbeat goes on.
	(while :; do date +%s >/job/heartbeat; sleep 20; done) &
	beat=$!
	chroot $r $shell /run/testhost/job.sh </dev/null
	rc=$?
	kill $beat
fi
finish $rc
