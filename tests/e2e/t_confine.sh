#!/usr/bin/env bash
# e2e-timeout: 600
# Confinement with a real guest: every thread of a running mvmm has its
# seccomp filter (Seccomp: 2, NoNewPrivs: 1) while the balloon inflates,
# deflates and reports statistics; then the same VM under mvmm-jailer runs
# as the given uid/gid with no capabilities, in its own mount namespace,
# refuses an API request naming a host path outside its chroot, and runs the
# balloon's other paths confined: free page reporting, a hint-based reclaim,
# a snapshot inside the jail and its restore in a second jail, where a
# checksummed region written before the snapshot verifies.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/balloon_lib.sh"
REPORT_FILL_MIB=96
. "$(dirname "$0")/reporting_lib.sh"

JAILER=build/mvmm-jailer
[ -x "$JAILER" ] || e2e_fail "$JAILER is missing: run make all"
[ "$(id -u)" = 0 ] || { echo "skip: mvmm-jailer needs root"; exit 77; }

# check_threads: every task of mvmm is filtered and the vCPU and API
# threads carry their names (in a jail too); counts them in THREADS.
check_threads() {
	local t sc nnp names=
	THREADS=0
	for t in /proc/"$MVMM_PID"/task/*; do
		names="$names $(cat "$t/comm")"
		sc=$(awk '$1 == "Seccomp:" { print $2 }' "$t/status")
		nnp=$(awk '$1 == "NoNewPrivs:" { print $2 }' "$t/status")
		e2e_log "thread $(cat "$t/comm"): Seccomp: $sc NoNewPrivs: $nnp"
		[ "$sc" = 2 ] && [ "$nnp" = 1 ] ||
			e2e_fail "thread $(cat "$t/comm") is not confined (Seccomp: $sc, NoNewPrivs: $nnp)"
		THREADS=$((THREADS + 1))
	done
	case "$names " in *" vcpu0 "*) ;; *) e2e_fail "no thread named vcpu0:$names" ;; esac
	case "$names " in *" mvmm-api "*) ;; *) e2e_fail "no thread named mvmm-api:$names" ;; esac
}

# balloon_round: inflate 64 MiB, statistics, deflate; fails on a refusal.
balloon_round() {
	api_ok PATCH /balloon '{"amount_mib": 64}'
	e2e_figure "$1"_inflate_64MiB_ms "$(balloon_wait_actual 64 300)" ms
	local i
	for i in $(seq 60); do
		api_ok GET /balloon/statistics
		json_num free_memory >/dev/null && break
		sleep 1
	done
	json_num free_memory >/dev/null || e2e_fail "no statistics: $API_BODY"
	e2e_log "statistics: $API_BODY"
	api_ok PATCH /balloon '{"amount_mib": 0}'
	balloon_wait_actual 0 300 >/dev/null
}

no_seccomp_trap() {
	! grep -q 'seccomp:' "$MVMM_STDERR" ||
		e2e_fail "a filter refused a syscall: $(grep 'seccomp:' "$MVMM_STDERR")"
}

# ---- 1. the filters, on by default ----
mvmm_boot --cpus 1 --mem 256 --api-sock "$API_SOCK" \
	--balloon amount_mib=0,stats_polling_interval_s=1,free_page_reporting=on
mvmm_wait_for 'MVMM-SHELL-READY' >/dev/null
wait_api_sock
api_ok GET / # the API thread confines itself at its first connection
balloon_round filtered
check_threads
e2e_figure confined_threads "$THREADS"
no_seccomp_trap
mvmm_send 'poweroff -f'
mvmm_expect_exit 0
no_seccomp_trap

# ---- 2. the same VM in a jail ----
JUID=12345 JGID=12346
BASE=$E2E_WORK/jail

# jail_start ID MVMM-ARGS...: mvmm under the jailer in BASE/mvmm/ID/root
# (ROOT), with the guest's kernel and initrd at /bzImage and /initrd and the
# API socket at /api.sock; waits for the socket.
jail_start() {
	local id=$1
	shift
	ROOT=$BASE/mvmm/$id/root
	mkdir -p "$ROOT"
	cp "$E2E_KERNEL" "$ROOT/bzImage"
	cp "$E2E_INITRD" "$ROOT/initrd"
	API_SOCK=$ROOT/api.sock
	E2E_MVMM=$JAILER mvmm_start --id "$id" --exec-file "$PWD/build/mvmm" \
		--uid "$JUID" --gid "$JGID" --chroot-base-dir "$BASE" -- \
		--api-sock /api.sock "$@"
}

# check_jailed: the uid/gid, no capabilities, a mount namespace of its own,
# every thread filtered.
check_jailed() {
	local s=/proc/$MVMM_PID/status
	e2e_log "jailed: $(grep -E '^(Uid|Gid|CapEff|NoNewPrivs|Seccomp):' "$s" | tr '\t\n' '  ')"
	grep -qP "^Uid:\t$JUID\t$JUID\t$JUID\t$JUID$" "$s" || e2e_fail "not running as uid $JUID"
	grep -qP "^Gid:\t$JGID\t$JGID\t$JGID\t$JGID$" "$s" || e2e_fail "not running as gid $JGID"
	grep -qP '^CapEff:\t0000000000000000$' "$s" || e2e_fail "capabilities left: $(grep CapEff "$s")"
	[ "$(readlink "/proc/$MVMM_PID/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ] ||
		e2e_fail "the jailed mvmm shares the host's mount namespace"
	check_threads
}

jail_start e2e-confine --kernel /bzImage --initrd /initrd --cmdline "$E2E_CMDLINE" \
	--cpus 1 --mem 256 \
	--balloon amount_mib=0,stats_polling_interval_s=1,free_page_reporting=on,free_page_hinting=on
mvmm_wait_for 'MVMM-SHELL-READY' >/dev/null
wait_api_sock
api_ok GET /
check_jailed
e2e_figure jailed_confined_threads "$THREADS"
balloon_round jailed

# Free page reporting: the freed file comes back to the host.
rss_fill0=$(rss_mib)
report_fill
rss_fill=$(rss_mib)
bytes0=$(metric report_bytes)
report_free
REPORT_QUIET=1 report_follow "$rss_fill" 45 stop
bytes=$(($(metric report_bytes) - bytes0))
e2e_figure jailed_report_rss_drop "$REPORT_DROP_MIB" MiB
e2e_figure jailed_report_bytes "$bytes" B
e2e_log "jailed reporting: RSS $rss_fill0 -> $rss_fill -> $((rss_fill - REPORT_DROP_MIB)) MiB, $REPORT_CURVE"
[ "$bytes" -ge $((REPORT_FILL_MIB * 80 / 100 << 20)) ] ||
	e2e_fail "jailed: only $bytes bytes reported and discarded after freeing $REPORT_FILL_MIB MiB"

# A checksummed region the guest keeps through the reclaim, the snapshot
# and the restore.
mvmm_send 'memfill -w -r /tmp/filled 16 & echo memfill-pid=$!'
mvmm_wait_for '^memfill-pid=[0-9]+$' >/dev/null
mvmm_send 'while [ ! -e /tmp/filled ]; do sleep 0.2; done; echo filled-ok'
mvmm_wait_for '^filled-ok$' 300 >/dev/null

# A hint-based reclaim: the vCPUs pause, hinted clean pages are discarded.
api_ok PATCH /balloon/hinting/reclaim '{"timeout_ms": 10000}'
t0=$(e2e_now_ms)
while :; do
	api_ok GET /balloon/hinting/reclaim
	case $API_BODY in *'"waiting"'*) ;; *) break ;; esac
	[ $(($(e2e_now_ms) - t0)) -lt 120000 ] || e2e_fail "jailed reclaim did not end: $API_BODY"
	sleep 0.2
done
e2e_log "jailed reclaim: $API_BODY"
case $API_BODY in *'"done"'*) ;; *) e2e_fail "jailed reclaim: $API_BODY" ;; esac
hinted=$(json_num pages_hinted)
disc=$(json_num pages_discarded)
[ "$disc" -gt 0 ] || e2e_fail "jailed reclaim discarded nothing: $API_BODY"
[ $((disc + $(json_num pages_skipped_dirty) + $(json_num pages_skipped_device))) = "$hinted" ] ||
	e2e_fail "jailed reclaim: pages do not add up: $API_BODY"
e2e_figure jailed_reclaim_discarded_pages "$disc"
mvmm_send 'kill -USR1 %1; sleep 1; echo verify-reclaim'
line=$(mvmm_wait_for "memfill: (verified .*|CORRUPT.*)" 120)
case $line in *CORRUPT*) e2e_fail "jailed reclaim: $line" ;; esac

# A host directory that exists, named from inside the jail: not reachable.
outside=$E2E_WORK/outside
mkdir -p "$outside"
api PUT /snapshot/create "{\"snapshot_path\": \"$outside/vm.state\", \"mem_file_path\": \"$outside/vm.mem\"}"
e2e_log "snapshot naming a host path: $API_CODE $API_BODY"
case $API_CODE in 2??) e2e_fail "a jailed snapshot reached $outside" ;; esac
[ -z "$(ls -A "$outside")" ] || e2e_fail "files appeared outside the jail: $(ls "$outside")"
# A refused create may leave the VM paused, as a finished one does.
api PATCH /vm '{"state": "Resumed"}'

# A snapshot inside the jail (the running VM: a hint run first, then pause).
api_ok PUT /snapshot/create '{"snapshot_path": "/vm.state", "mem_file_path": "/vm.mem"}'
[ -s "$ROOT/vm.state" ] && [ -s "$ROOT/vm.mem" ] || e2e_fail "no snapshot files in the jail: $(ls "$ROOT")"
no_seccomp_trap
mvmm_stop
old_root=$ROOT

# Its restore in a second jail: the files move in under the same names.
mkdir -p "$BASE/mvmm/e2e-restore/root"
mv "$old_root/vm.state" "$old_root/vm.mem" "$BASE/mvmm/e2e-restore/root/"
jail_start e2e-restore --restore /vm.state
wait_api_sock
mvmm_send 'echo restored-$((6*7))'
mvmm_wait_for '^restored-42$' 120 >/dev/null
api_ok GET /
case $API_BODY in *'"Running"'*) ;; *) e2e_fail "the restored VM is not running: $API_BODY" ;; esac
check_jailed
mvmm_send 'kill -USR1 %1; sleep 1; echo verify-restored'
line=$(mvmm_wait_for "memfill: (verified .*|CORRUPT.*)" 120)
case $line in *CORRUPT*) e2e_fail "jailed restore: $line" ;; esac
balloon_round restored
mvmm_send 'kill -TERM %1; wait %1; echo memfill-rc=$?'
line=$(mvmm_wait_for '^memfill-rc=[0-9]+$' 300)
[ "$line" = memfill-rc=0 ] || e2e_fail "memfill found corruption: $(mvmm_console | grep -m3 CORRUPT)"
no_seccomp_trap
mvmm_send 'poweroff -f'
mvmm_expect_exit 0
no_seccomp_trap
