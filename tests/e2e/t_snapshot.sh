#!/usr/bin/env bash
# e2e-timeout: 600
# Issue 7 (snapshots): a 512 MiB guest that dirtied and freed 300 MiB keeps
# 48 MiB of checksummed pages (memfill). Snapshot 1: Firecracker's flow
# (pause, create) with no hint run. Snapshot 2: PATCH /balloon/hinting/start,
# pause, create: the API run counts (mvmm logged writes from its start).
# Snapshot 3: create on the running VM, so mvmm runs a free page hint run
# first and leaves hinted pages that stayed clean out of the memory file.
# Corrupt and mismatched files are refused. Snapshot 3 is restored into a
# new mvmm process: memfill verifies, keeps running, the console answers,
# and the guest can use all its memory.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/balloon_lib.sh"

W=$E2E_WORK
json_bool() {
	printf '%s' "$API_BODY" | grep -o "\"$1\": *[a-z]*" | head -1 | grep -o '[a-z]*$'
}
du_kib() {
	du -k "$1" | cut -f1
}

GUEST_MIB=512
mvmm_boot --cpus 2 --mem $GUEST_MIB --api-sock "$API_SOCK" \
	--balloon amount_mib=0,free_page_hinting=on,stats_polling_interval_s=1
mvmm_wait_for 'MVMM-SHELL-READY' >/dev/null
wait_api_sock
mode=$(grep -o 'dirty log: [a-zA-Z ]*' "$MVMM_STDERR" | head -1 || true)
e2e_log "${mode:-dirty log mode not logged}"

# Free memory full of old data, then 100 MiB the guest keeps and checks.
mvmm_send 'memhog 300 >/dev/null && echo dirty-done'
mvmm_wait_for '^dirty-done$' 300 >/dev/null
mvmm_send 'memfill -w -i 3 -r /tmp/filled 48 & echo memfill-pid=$!'
mvmm_wait_for '^memfill-pid=[0-9]+$' >/dev/null
mvmm_send 'while [ ! -e /tmp/filled ]; do sleep 0.2; done; echo filled-ok'
mvmm_wait_for '^filled-ok$' 300 >/dev/null

# 1: paused VM, no hints (Firecracker's sequence).
api_ok PATCH /vm '{"state": "Paused"}'
api_ok GET /
case $API_BODY in *'"Paused"'*) ;; *) e2e_fail "GET / after pause: $API_BODY" ;; esac
t0=$(e2e_now_ms)
api_ok PUT /snapshot/create "{\"snapshot_type\": \"Full\", \"snapshot_path\": \"$W/plain.state\", \"mem_file_path\": \"$W/plain.mem\"}"
plain_ms=$(($(e2e_now_ms) - t0))
api_ok GET /snapshot
e2e_log "snapshot without hints: $API_BODY"
[ "$(json_bool hinted)" = false ] || e2e_fail "a paused VM's snapshot used hints: $API_BODY"
plain_kib=$(du_kib "$W/plain.mem")
api_ok PATCH /vm '{"state": "Resumed"}'
mvmm_send 'echo resumed-$((2*21))'
mvmm_wait_for '^resumed-42$' 60 >/dev/null

# 2: Firecracker's hinting flow: start a run, wait for the guest, pause,
# create. mvmm logged writes from the run's start, so the hints count.
api_ok PATCH /balloon/hinting/start '{"acknowledge_on_stop": true}'
t0=$(e2e_now_ms)
while :; do
	api_ok GET /balloon/hinting/status
	[ "$(json_num host_cmd)" = 1 ] && break
	[ $(($(e2e_now_ms) - t0)) -lt 60000 ] || e2e_fail "hint run did not end: $API_BODY"
	sleep 0.2
done
api_ok PATCH /vm '{"state": "Paused"}'
api_ok PUT /snapshot/create "{\"snapshot_path\": \"$W/fc.state\", \"mem_file_path\": \"$W/fc.mem\"}"
api_ok GET /snapshot
e2e_log "snapshot after PATCH /balloon/hinting/start: $API_BODY"
[ "$(json_bool hinted)" = true ] || e2e_fail "the API's hint run was not used: $API_BODY"
fc_kib=$(du_kib "$W/fc.mem")
e2e_figure mem_file_after_api_hint_run "$((fc_kib / 1024))" MiB
[ "$fc_kib" -le $((GUEST_MIB * 1024 / 4)) ] || e2e_fail "memory file holds $fc_kib KiB after the API's hint run"
rm -f "$W/fc.mem" "$W/fc.state"
api_ok PATCH /vm '{"state": "Resumed"}'

# 3: running VM: mvmm runs a hint run, pauses, writes; the VM stays paused.
t0=$(e2e_now_ms)
api_ok PUT /snapshot/create "{\"snapshot_path\": \"$W/hint.state\", \"mem_file_path\": \"$W/hint.mem\"}"
hint_ms=$(($(e2e_now_ms) - t0))
api_ok GET /snapshot
e2e_log "snapshot with a hint run: $API_BODY"
[ "$(json_bool hinted)" = true ] || e2e_fail "no hint run: $API_BODY"
hint_pages=$(json_num pages_hinted_clean)
pause_us=$(json_num pause_us)
hint_us=$(json_num hint_us)
hint_kib=$(du_kib "$W/hint.mem")
api_ok GET /
case $API_BODY in *'"Paused"'*) ;; *) e2e_fail "VM not paused after snapshot/create: $API_BODY" ;; esac
e2e_figure mem_file_no_hints "$((plain_kib / 1024))" MiB
e2e_figure mem_file_with_hints "$((hint_kib / 1024))" MiB
e2e_figure hinted_clean_pages "$hint_pages"
e2e_figure snapshot_ms_no_hints "$plain_ms" ms
e2e_figure snapshot_ms_with_hints "$hint_ms" ms
e2e_figure snapshot_hint_run_ms "$((hint_us / 1000))" ms
e2e_figure snapshot_pause_ms "$((pause_us / 1000))" ms
[ "$(stat -c %s "$W/hint.mem")" = $((GUEST_MIB << 20)) ] || e2e_fail "memory file is not $GUEST_MIB MiB long"
[ "$hint_kib" -le $((GUEST_MIB * 1024 / 4)) ] || e2e_fail "memory file holds $hint_kib KiB, more than 25% of RAM"
[ "$hint_kib" -lt "$plain_kib" ] || e2e_fail "hints saved nothing: $hint_kib vs $plain_kib KiB"
ls "$W" | grep -q tmp && e2e_fail "temporary files left: $(ls "$W")"

mvmm_stop
rm -f "$W/plain.mem" "$W/plain.state"

# Refusals: nothing is built from a bad file.
cp "$W/hint.state" "$W/bad.state"
printf 'X' | dd of="$W/bad.state" bs=1 seek=200 conv=notrunc status=none
rc=0
"$E2E_MVMM" --restore "$W/bad.state" --restore-mem "$W/hint.mem" </dev/null >/dev/null 2>"$W/bad.err" || rc=$?
[ "$rc" != 0 ] && grep -q checksum "$W/bad.err" || e2e_fail "corrupt state file: rc $rc: $(cat "$W/bad.err")"
e2e_log "corrupt state file refused: $(cat "$W/bad.err")"
truncate -s $((GUEST_MIB / 2))M "$W/bad.mem"
rc=0
"$E2E_MVMM" --restore "$W/hint.state" --restore-mem "$W/bad.mem" </dev/null >/dev/null 2>"$W/bad.err" || rc=$?
[ "$rc" != 0 ] && grep -q 'memory file' "$W/bad.err" || e2e_fail "short memory file: rc $rc: $(cat "$W/bad.err")"
e2e_log "short memory file refused: $(cat "$W/bad.err")"
rm -f "$W/bad.state" "$W/bad.mem"

# Restore into a new process.
t0=$(e2e_now_ms)
mvmm_start --restore "$W/hint.state" --api-sock "$API_SOCK"
mvmm_send 'echo restored-$((6*7))'
mvmm_wait_for '^restored-42$' 120 >/dev/null
restore_ms=$(($(e2e_now_ms) - t0))
e2e_figure restore_to_console_ms "$restore_ms" ms
line=$(grep -o 'snapshot: restored .*' "$MVMM_STDERR" || true)
e2e_log "$line"
api_ok GET /
case $API_BODY in *'"Running"'*) ;; *) e2e_fail "restored VM is not running: $API_BODY" ;; esac
e2e_figure rss_after_restore "$(rss_mib)" MiB

# The workload carries on: verify on demand, then its timer, then a refill.
mvmm_send 'kill -USR1 %1; sleep 1; echo verify-1'
line=$(mvmm_wait_for "memfill: (verified .*|CORRUPT.*|.*corrupt)" 120)
case $line in *orrupt* | *CORRUPT*) e2e_fail "after restore: $line" ;; esac
mvmm_send 'kill -USR2 %1; sleep 2; kill -USR1 %1; sleep 1; echo verify-2'
line=$(mvmm_wait_for "memfill: (verified .*|CORRUPT.*|.*corrupt)" 120)
case $line in *orrupt* | *CORRUPT*) e2e_fail "after refill: $line" ;; esac
mvmm_send 'kill -TERM %1; wait %1; echo memfill-rc=$?'
line=$(mvmm_wait_for '^memfill-rc=[0-9]+$' 300)
[ "$line" = memfill-rc=0 ] || e2e_fail "memfill found corruption: $(mvmm_console | grep -m3 -i corrupt)"
# DONE was written before the state was saved: the guest has every page.
mvmm_send 'memhog 400 >/dev/null && echo alloc-ok || echo alloc-failed'
mvmm_wait_for '^alloc-(ok|failed)$' 300 | grep -q ok || e2e_fail "allocating 400 MiB after restore failed"
api_ok GET /balloon/statistics
mvmm_send 'poweroff -f'
mvmm_expect_exit 0
