#!/usr/bin/env bash
# e2e-timeout: 600
# Confinement with a real guest: every thread of a running mvmm has its
# seccomp filter (Seccomp: 2, NoNewPrivs: 1) while the balloon inflates,
# deflates and reports statistics; then the same VM under mvmm-jailer runs
# as the given uid/gid with no capabilities, in its own mount namespace, and
# refuses an API request naming a host path outside its chroot.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/balloon_lib.sh"

JAILER=build/mvmm-jailer
[ -x "$JAILER" ] || e2e_fail "$JAILER is missing: run make all"
[ "$(id -u)" = 0 ] || { echo "skip: mvmm-jailer needs root"; exit 77; }

# check_threads: every task of mvmm is filtered; counts them in THREADS.
check_threads() {
	local t sc nnp
	THREADS=0
	for t in /proc/"$MVMM_PID"/task/*; do
		sc=$(awk '$1 == "Seccomp:" { print $2 }' "$t/status")
		nnp=$(awk '$1 == "NoNewPrivs:" { print $2 }' "$t/status")
		e2e_log "thread $(cat "$t/comm"): Seccomp: $sc NoNewPrivs: $nnp"
		[ "$sc" = 2 ] && [ "$nnp" = 1 ] ||
			e2e_fail "thread $(cat "$t/comm") is not confined (Seccomp: $sc, NoNewPrivs: $nnp)"
		THREADS=$((THREADS + 1))
	done
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
mvmm_boot --cpus 2 --mem 256 --api-sock "$API_SOCK" \
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
JUID=12345 JGID=12346 ID=e2e-confine
BASE=$E2E_WORK/jail
ROOT=$BASE/mvmm/$ID/root
mkdir -p "$ROOT"
cp "$E2E_KERNEL" "$ROOT/bzImage"
cp "$E2E_INITRD" "$ROOT/initrd"
API_SOCK=$ROOT/api.sock
E2E_MVMM=$JAILER mvmm_start --id "$ID" --exec-file "$PWD/build/mvmm" \
	--uid "$JUID" --gid "$JGID" --chroot-base-dir "$BASE" -- \
	--kernel /bzImage --initrd /initrd --cmdline "$E2E_CMDLINE" \
	--cpus 2 --mem 256 --api-sock /api.sock \
	--balloon amount_mib=0,stats_polling_interval_s=1
mvmm_wait_for 'MVMM-SHELL-READY' >/dev/null
wait_api_sock
api_ok GET /
S=/proc/$MVMM_PID/status
e2e_log "jailed: $(grep -E '^(Uid|Gid|CapEff|NoNewPrivs|Seccomp):' "$S" | tr '\t\n' '  ')"
grep -qP "^Uid:\t$JUID\t$JUID\t$JUID\t$JUID$" "$S" || e2e_fail "not running as uid $JUID"
grep -qP "^Gid:\t$JGID\t$JGID\t$JGID\t$JGID$" "$S" || e2e_fail "not running as gid $JGID"
grep -qP '^CapEff:\t0000000000000000$' "$S" || e2e_fail "capabilities left: $(grep CapEff "$S")"
[ "$(readlink "/proc/$MVMM_PID/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ] ||
	e2e_fail "the jailed mvmm shares the host's mount namespace"
check_threads
e2e_figure jailed_confined_threads "$THREADS"
balloon_round jailed
# A host directory that exists, named from inside the jail: not reachable.
outside=$E2E_WORK/outside
mkdir -p "$outside"
api PUT /snapshot/create "{\"snapshot_path\": \"$outside/vm.state\", \"mem_file_path\": \"$outside/vm.mem\"}"
e2e_log "snapshot naming a host path: $API_CODE $API_BODY"
case $API_CODE in 2??) e2e_fail "a jailed snapshot reached $outside" ;; esac
[ -z "$(ls -A "$outside")" ] || e2e_fail "files appeared outside the jail: $(ls "$outside")"
# A refused create may leave the VM paused, as a finished one does.
api PATCH /vm '{"state": "Resumed"}'
no_seccomp_trap
mvmm_send 'poweroff -f'
mvmm_expect_exit 0
