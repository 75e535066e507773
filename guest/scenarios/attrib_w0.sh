# Attribution workload W0 (tests/attrib): the boot itself, which is where
# most of the test host's failures came (a non-quiet console is an exit per
# byte), then one checksummed 64 MiB fill so a trial also runs guest code
# that touches fresh memory. Short, so a run can have many trials.
attrib_guest_info
mib=$(cmdline_param fill_mib 64)
echo "ATTRIB-STEP fill 1 of 1: $mib MiB"
memfill -s 1 "$mib"
rc=$?
[ "$rc" = 0 ] || { echo "ATTRIB-FAIL memfill $mib rc=$rc"; exit 1; }
echo "ATTRIB-WORKLOAD-OK"
