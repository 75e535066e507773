#!/bin/busybox sh
# /init of the stock-kernel guest (fetch-stock-guest.sh): Debian's cloud
# kernel has virtio-mmio and virtio-balloon as modules and no command-line
# devices, so it loads them here and finds the balloon through ACPI
# (LNRO0005 in mvmm's DSDT). Then the tiny guest's markers and a shell.
/bin/busybox --install -s /bin
export PATH=/bin HOME=/root

mount -t devtmpfs dev /dev
# The image carries no /dev/console node (built without mknod): open it now.
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sys /sys
mkdir -p /dev/pts /tmp
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /tmp
. /etc/mvmm/lib.sh
hostname mvmm-stock

for m in $(cat /etc/modules.order); do
	insmod "/lib/modules/$m.ko" || echo "MVMM-INSMOD-FAILED $m"
done
echo "MVMM-MODULES-LOADED"

echo "MVMM-SHELL-READY"
ENV=/etc/mvmm/lib.sh setsid cttyhack sh
mvmm_off
