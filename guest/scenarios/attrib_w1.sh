# Attribution workload W1 (tests/attrib): a checksummed fill of
# mvmm.fill_mib MiB (default 400), mvmm.rounds times (default 5), with no
# balloon activity. A lost or changed byte is a "memfill: CORRUPT" line and
# rc 1, not a crash. Prints what the VMMs must agree on first.
attrib_guest_info
mib=$(cmdline_param fill_mib 400)
rounds=$(cmdline_param rounds 5)
i=1
while [ "$i" -le "$rounds" ]; do
	echo "ATTRIB-STEP fill $i of $rounds: $mib MiB"
	memfill -s "$i" "$mib"
	rc=$?
	[ "$rc" = 0 ] || { echo "ATTRIB-FAIL memfill $mib rc=$rc"; exit 1; }
	i=$((i + 1))
done
echo "ATTRIB-WORKLOAD-OK"
