# Attribution workload W3 (tests/attrib): both vCPUs busy in the guest for the
# whole trial, one spinning, one running a checksummed fill of mvmm.fill_mib
# MiB (default 128) mvmm.rounds times (default 8); no balloon activity. Run
# with the test host's wake-up storm (MVMM_ATTRIB_HOST_STRESS=ipi), it puts
# as many host interrupts as it can on CPUs that are running the guest.
attrib_guest_info
mib=$(cmdline_param fill_mib 128)
rounds=$(cmdline_param rounds 8)
while :; do :; done &
spinner=$!
i=1
rc=0
while [ "$i" -le "$rounds" ]; do
	echo "ATTRIB-STEP fill $i of $rounds: $mib MiB"
	memfill -s "$i" "$mib"
	rc=$?
	[ "$rc" = 0 ] || break
	i=$((i + 1))
done
kill "$spinner"
[ "$rc" = 0 ] || { echo "ATTRIB-FAIL memfill $mib rc=$rc"; exit 1; }
echo "ATTRIB-WORKLOAD-OK"
