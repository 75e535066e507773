# Attribution workload W2 (tests/attrib): mvmm.resident_mib MiB (default 32)
# stay filled and checksummed throughout; mvmm.cycles times (default 3): a
# checksummed fill of mvmm.fill1_mib (300) MiB that is then freed, the host
# inflates the balloon by mvmm.balloon_mib (256) MiB, the resident region is
# verified, the host deflates to 0, verified again, then a checksummed fill of
# mvmm.fill2_mib (400) MiB. The host acts on "ATTRIB-INFLATE N" and
# "ATTRIB-DEFLATE N"; the guest waits until its driver holds exactly that
# many pages (/proc/vmstat), so the console is never read.
attrib_guest_info
res=$(cmdline_param resident_mib 32)
fill1=$(cmdline_param fill1_mib 300)
fill2=$(cmdline_param fill2_mib 400)
bal=$(cmdline_param balloon_mib 256)
cycles=$(cmdline_param cycles 3)

# Pages the balloon driver holds now.
balloon_pages() {
	awk '$1 == "balloon_inflate" { i = $2 } $1 == "balloon_deflate" { d = $2 }
		END { print i - d }' /proc/vmstat
}
# wait_balloon PAGES: up to 600 s.
wait_balloon() {
	n=6000
	while [ "$(balloon_pages)" != "$1" ]; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || { echo "ATTRIB-FAIL balloon stayed at $(balloon_pages) pages, want $1"; return 1; }
		sleep 0.1
	done
}
# verify_resident WHAT: SIGUSR1 to the resident memfill, waits for its line.
nverified=0
verify_resident() {
	kill -USR1 "$pid"
	nverified=$((nverified + 1))
	n=3000
	while [ "$(grep -c -E 'verified|corrupt' /tmp/resident.log)" -lt "$nverified" ]; do
		n=$((n - 1))
		[ "$n" -gt 0 ] && kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "ATTRIB-RESIDENT $1: $(tail -n 1 /tmp/resident.log)"
	if grep -q CORRUPT /tmp/resident.log; then
		cat /tmp/resident.log
		echo "ATTRIB-FAIL resident region corrupt $1"
		return 1
	fi
	grep -q -E 'verified' /tmp/resident.log || { echo "ATTRIB-FAIL resident memfill gone $1"; return 1; }
}

rm -f /tmp/resident.ready
memfill -w -s 99 -r /tmp/resident.ready "$res" >/tmp/resident.log 2>&1 &
pid=$!
wait_for_file /tmp/resident.ready 3000 || { echo "ATTRIB-FAIL resident memfill did not start"; exit 2; }
echo "ATTRIB-STEP resident $res MiB filled"
pages=$((bal * 256))
c=1
while [ "$c" -le "$cycles" ]; do
	echo "ATTRIB-STEP cycle $c: fill $fill1 MiB"
	memfill -s $((c * 10 + 1)) "$fill1" || { echo "ATTRIB-FAIL memfill $fill1 rc=$?"; exit 1; }
	echo "ATTRIB-INFLATE $c"
	wait_balloon "$pages" || exit 1
	echo "ATTRIB-STEP cycle $c: inflated $bal MiB"
	verify_resident "after inflate $c" || exit 1
	echo "ATTRIB-DEFLATE $c"
	wait_balloon 0 || exit 1
	echo "ATTRIB-STEP cycle $c: deflated"
	verify_resident "after deflate $c" || exit 1
	echo "ATTRIB-STEP cycle $c: fill $fill2 MiB"
	memfill -s $((c * 10 + 2)) "$fill2" || { echo "ATTRIB-FAIL memfill $fill2 rc=$?"; exit 1; }
	c=$((c + 1))
done
kill -TERM "$pid"
wait "$pid"
rc=$?
cat /tmp/resident.log
[ "$rc" = 0 ] || { echo "ATTRIB-FAIL resident memfill rc=$rc"; exit 1; }
echo "ATTRIB-WORKLOAD-OK"
