#!/usr/bin/env bash
# e2e-timeout: 480
# Issue 7 (safe reclaim from hints): a 256 MiB guest keeps 32 MiB of
# checksummed pages in use (memfill) after dirtying 150 MiB it then freed;
# ten hint-based reclaims in a row (PATCH /balloon/hinting/reclaim) each pause
# the vCPUs, discard the hinted pages that stayed clean and resume; memfill
# verifies after each and exits 0. Prints RSS before/after and pause lengths.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/balloon_lib.sh"

json_str() {
	printf '%s' "$API_BODY" | grep -o "\"$1\": *\"[^\"]*\"" | head -1 |
		sed 's/.*: *"\(.*\)"/\1/'
}

mvmm_boot --cpus 1 --mem 256 --api-sock "$API_SOCK" \
	--balloon amount_mib=0,free_page_hinting=on
mvmm_wait_for 'MVMM-SHELL-READY' >/dev/null
wait_api_sock
mode=$(grep -o 'dirty log: [a-zA-Z ]*' "$MVMM_STDERR" | head -1 || true)
e2e_log "${mode:-dirty log mode not logged}"

# Something to reclaim: memory the guest touched and freed.
mvmm_send 'memhog 150 >/dev/null && echo dirty-done'
mvmm_wait_for '^dirty-done$' 300 >/dev/null
mvmm_send 'memfill -w -r /tmp/filled 32 & echo memfill-pid=$!'
mvmm_wait_for '^memfill-pid=[0-9]+$' >/dev/null
mvmm_send 'while [ ! -e /tmp/filled ]; do sleep 0.2; done; echo filled-ok'
mvmm_wait_for '^filled-ok$' 300 >/dev/null
rss_before=$(rss_mib)
e2e_figure rss_before "$rss_before" MiB

max_pause_us=0
total_pause_us=0
for i in 1 2 3 4 5 6 7 8 9 10; do
	# Even rounds: the guest allocates and writes while the run is going.
	if [ $((i % 2)) = 0 ]; then
		mvmm_send 'memhog 40 >/dev/null &'
	fi
	api_ok PATCH /balloon/hinting/reclaim '{"timeout_ms": 10000}'
	t0=$(e2e_now_ms)
	while :; do
		api_ok GET /balloon/hinting/reclaim
		st=$(json_str state)
		[ "$st" = waiting ] || break
		[ $(($(e2e_now_ms) - t0)) -lt 120000 ] || e2e_fail "reclaim $i did not end: $API_BODY"
		sleep 0.1
	done
	[ "$st" = done ] || e2e_fail "reclaim $i: $API_BODY"
	[ "$(json_num reclaims)" = "$i" ] || e2e_fail "reclaim $i: count: $API_BODY"
	body=$API_BODY
	pause_us=$(json_num pause_us)
	hint_us=$(json_num hint_us)
	discard_us=$(json_num discard_us)
	hinted=$(json_num pages_hinted)
	disc=$(json_num pages_discarded)
	dirty=$(json_num pages_skipped_dirty)
	dev=$(json_num pages_skipped_device)
	logged=$(json_num pages_dirty_logged)
	stopped=$(printf %s "$body" | grep -o '"guest_stopped": *[a-z]*' | grep -o '[a-z]*$')
	# The guest kernel always writes something: an empty log is broken logging.
	[ "$logged" -gt 0 ] || e2e_fail "reclaim $i: no page logged dirty: $body"
	[ $((disc + dirty + dev)) = "$hinted" ] || e2e_fail "reclaim $i: pages do not add up: $body"
	[ "$pause_us" -gt "$max_pause_us" ] && max_pause_us=$pause_us
	total_pause_us=$((total_pause_us + pause_us))
	rss=$(rss_mib)
	if [ "$stopped" = false ]; then
		api_ok GET /balloon/hinting/status
		e2e_log "reclaim $i: the guest sent no STOP in 10 s; hint status: $API_BODY"
		api_ok GET /metrics
		e2e_log "metrics: $(printf %s "$API_BODY" | grep -o '"hint[a-z_]*": *[0-9]*' | tr '\n' ' ')"
	fi
	e2e_log "reclaim $i: hinted $hinted discarded $disc dirty $dirty device $dev pages, $logged logged dirty; guest_stopped $stopped; hint $((hint_us / 1000)) ms, pause $((pause_us / 1000)).$(( (pause_us % 1000) / 100 )) ms (discard $((discard_us / 1000)) ms); RSS $rss MiB"
	if [ "$i" = 1 ]; then
		rss_after=$rss
		[ "$disc" -gt $((96 * 256)) ] || e2e_fail "reclaim 1 discarded only $disc pages: $body"
	fi
	if [ $((i % 2)) = 0 ]; then
		mvmm_send 'wait %2 2>/dev/null; true'
	fi
	mvmm_send "kill -USR1 %1; sleep 1; echo verify-$i"
	line=$(mvmm_wait_for "memfill: (verified .*|CORRUPT.*)" 120)
	case $line in *CORRUPT*) e2e_fail "reclaim $i: $line" ;; esac
	mvmm_wait_for "^verify-$i\$" 120 >/dev/null
done

e2e_figure rss_after_first_reclaim "$rss_after" MiB
e2e_figure rss_after_ten "$(rss_mib)" MiB
e2e_figure pause_max_ms "$((max_pause_us / 1000)).$(( (max_pause_us % 1000) / 100 ))" ms
e2e_figure pause_avg_ms "$((total_pause_us / 10000))" ms
[ "$rss_after" -lt $((rss_before - 96)) ] || e2e_fail "RSS $rss_before -> $rss_after MiB: too little returned"

mvmm_send 'kill -TERM %1; wait %1; echo memfill-rc=$?'
line=$(mvmm_wait_for '^memfill-rc=[0-9]+$' 300)
[ "$line" = memfill-rc=0 ] || e2e_fail "memfill found corruption: $(mvmm_console | grep -m3 CORRUPT)"
e2e_figure reclaim_cycles_ok 10
# The guest still allocates everything it has after DONE.
mvmm_send 'memhog 175 >/dev/null && echo alloc-ok || echo alloc-failed'
mvmm_wait_for '^alloc-(ok|failed)$' 300 | grep -q ok || e2e_fail "allocation after the reclaims failed"
mvmm_send 'poweroff -f'
mvmm_expect_exit 0
