#!/usr/bin/env bash
# e2e-timeout: 360
# Issue 4: a guest program fills ~40% of RAM with checksummed pages; the
# balloon inflates and deflates ten times around it; every checksum verifies.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/balloon_lib.sh"

mvmm_boot --cpus 1 --mem 256 --api-sock "$API_SOCK" --balloon amount_mib=0
mvmm_wait_for 'MVMM-SHELL-READY' >/dev/null
wait_api_sock

mvmm_send 'memfill -w -r /tmp/filled 96 & echo memfill-pid=$!'
mvmm_wait_for '^memfill-pid=[0-9]+$' >/dev/null
mvmm_send 'while [ ! -e /tmp/filled ]; do sleep 0.2; done; echo filled-ok'
mvmm_wait_for '^filled-ok$' 300 >/dev/null
# Guest RAM is backed by transparent huge pages by default: the cycles
# below discard 4 KiB pages inside them.
anon_huge() { awk '$1 == "AnonHugePages:" { print $2 }' "/proc/$MVMM_PID/smaps_rollup"; }
e2e_figure anon_huge_pages_after_fill "$(anon_huge)" KiB

for i in 1 2 3 4 5 6 7 8 9 10; do
	api_ok PATCH /balloon '{"amount_mib": 96}'
	ms=$(balloon_wait_actual 96 300)
	# With the guest's free memory: a balloon short of pages stalls.
	mvmm_send "kill -USR1 %1; sleep 1; echo verify-$i \$(grep MemAvailable /proc/meminfo)"
	line=$(mvmm_wait_for "memfill: (verified .*|CORRUPT.*)" 120)
	case $line in *CORRUPT*) e2e_fail "cycle $i: $line" ;; esac
	avail=$(mvmm_wait_for "^verify-$i " 120 | tr -s ' ' | cut -d' ' -f3)
	api_ok PATCH /balloon '{"amount_mib": 0}'
	ms2=$(balloon_wait_actual 0 300)
	e2e_log "cycle $i: inflate 96 MiB ${ms} ms, deflate ${ms2} ms, $line, MemAvailable $avail KiB while inflated"
done

mvmm_send 'kill -TERM %1; wait %1; echo memfill-rc=$?'
line=$(mvmm_wait_for '^memfill-rc=[0-9]+$' 300)
[ "$line" = memfill-rc=0 ] || e2e_fail "memfill found corruption: $(mvmm_console | grep -m3 CORRUPT)"
e2e_figure integrity_cycles_ok 10
e2e_figure anon_huge_pages_after_cycles "$(anon_huge)" KiB
api_ok GET /metrics
e2e_log "metrics: $API_BODY"
mvmm_send 'poweroff -f'
mvmm_expect_exit 0
