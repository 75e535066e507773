# tests/bench/peer.sh's guest half: the same steps under mvmm and QEMU.
# mvmm.peer=WORKLOAD (boot, fill, report) and mvmm.peer_mib=MIB (300). Each
# PEER- marker is timestamped by the host as it arrives; the host answers
# with a console line where the guest waits (read).
wl=$(cmdline_param peer boot)
mib=$(cmdline_param peer_mib 300)
up() { cut -d' ' -f1 /proc/uptime; }
echo "PEER-READY uptime=$(up)"
case $wl in
boot)
	read -r _ ;;
fill)
	# Fresh memory: every page the file takes is new to the host.
	read -r _
	t0=$(up)
	echo "PEER-FILL-START"
	dd if=/dev/zero of=/tmp/fill bs=1M count="$mib" 2>/dev/null
	echo "PEER-FILL-DONE guest_s=$(awk "BEGIN{print $(up) - $t0}")"
	read -r _
	# Freed but touched: what the balloon then takes must be discarded.
	rm -f /tmp/fill
	echo "PEER-FREED"
	read -r _
	# After the inflate and deflate: the same fill on memory the balloon
	# gave back (huge pages or not, depending on how it was discarded).
	echo "PEER-REFILL-START"
	dd if=/dev/zero of=/tmp/fill bs=1M count="$mib" 2>/dev/null
	echo "PEER-REFILL-DONE"
	read -r _ ;;
report)
	read -r _
	dd if=/dev/zero of=/tmp/fill bs=1M count="$mib" 2>/dev/null
	echo "PEER-FILLED"
	read -r _
	rm -f /tmp/fill
	echo "PEER-FREED"
	read -r _ ;;
esac
echo "PEER-END"
