#!/usr/bin/env bash
# mvmm-jailer end to end, as root, under a temporary base directory: jails
# build/tests/jail_probe (a dynamically linked stand-in for mvmm that
# reports what it sees) and checks from inside and outside: uid/gid, no
# capabilities, NO_NEW_PRIVS, its own mount namespace, the chroot as /,
# no inherited fds, rlimits, umask, environment, cgroup membership, the PID
# namespace and --daemonize; then that every failure leaves nothing behind;
# then, when build/mvmm and /dev/kvm are there, a real mvmm in a jail.
#
# usage: tests/confine/jailer_test.sh   (make jailer-test)
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
JAILER=${JAILER:-$ROOT/build/mvmm-jailer}
PROBE=${PROBE:-$ROOT/build/tests/jail_probe}
MVMM=${MVMM:-$ROOT/build/mvmm}
JUID=${JUID:-12345}
JGID=${JGID:-12346}
FAILS=0

ok() { echo "ok - $*"; }
bad() { echo "FAIL - $*"; FAILS=$((FAILS + 1)); }
check() { # DESCRIPTION COMMAND...
	local what=$1; shift
	if "$@"; then ok "$what"; else bad "$what"; fi
}
skip() { echo "skip - $*"; }

[ "$(id -u)" = 0 ] || { echo "jailer_test: needs root (mknod, mounts, cgroups)"; exit 1; }
[ -x "$JAILER" ] && [ -x "$PROBE" ] || { echo "jailer_test: make $JAILER $PROBE first"; exit 1; }

WORK=$(mktemp -d /tmp/mvmm-jailer-test-XXXXXX)
BASE=$WORK/base
CG_PARENT=mvmm-jailer-test-$$
cleanup() {
	rm -rf "$WORK"
	local mnt
	mnt=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
	[ -n "$mnt" ] && [ -d "$mnt/$CG_PARENT" ] &&
		find "$mnt/$CG_PARENT" -depth -type d -exec rmdir {} \; 2>/dev/null
}
trap cleanup EXIT

field() { sed -n "s/^$1=//p" "$2"; }
# The jailer with the probe; used as "${JAIL[@]}" --id ID ... so that $! of
# a background run is the jailer itself.
JAIL=("$JAILER" --exec-file "$PROBE" --uid "$JUID" --gid "$JGID" --chroot-base-dir "$BASE")

# ---- 1. a jailed probe, seen from inside and outside ----
echo "# a jailed probe"
R=$BASE/jail_probe/t1/root
MVMM_PROBE_VAR=1 SECRET_TOKEN=x "${JAIL[@]}" --id t1 --resource-limit no-file=64 \
	--resource-limit fsize=1048576 -- --out /report --sleep 3 \
	--visible /etc/hostname --visible "$WORK" --visible /dev/kvm \
	7</etc/hostname 9>"$WORK/fd9" &
JPID=$!
for _ in $(seq 50); do [ -s "$R/report" ] && grep -q done=1 "$R/report" && break; sleep 0.1; done
REP=$R/report
check "report written" grep -q done=1 "$REP"
check "the probe is the jailer's pid (exec in place)" test -d "/proc/$JPID"
S=/proc/$JPID/status
check "uid $JUID (real, effective, saved)" test "$(field uid "$REP")" = "$JUID,$JUID,$JUID"
check "gid $JGID and no supplementary groups" test "$(field gid "$REP")/$(field groups "$REP")" = "$JGID,$JGID,$JGID/0"
check "/proc status: Uid $JUID" grep -qP "^Uid:\t$JUID\t$JUID\t$JUID\t$JUID$" "$S"
check "/proc status: CapEff 0000000000000000" grep -qP '^CapEff:\t0000000000000000$' "$S"
check "/proc status: CapPrm, CapInh, CapBnd, CapAmb all 0" \
	test "$(grep -cP '^Cap(Prm|Inh|Bnd|Amb):\t0000000000000000$' "$S")" = 4
check "inside: no capability in any set" \
	test "$(grep -c '^cap_.*=0000000000000000$' "$REP")" = 5
check "NoNewPrivs 1" grep -qP '^NoNewPrivs:\t1$' "$S"
check "its own mount namespace" test "$(readlink /proc/$JPID/ns/mnt)" != "$(readlink /proc/self/ns/mnt)"
check "root is the jail" test "$(readlink /proc/$JPID/root)" = / -a "$(field cwd "$REP")" = /
check "root holds only what the jailer put there" \
	test "$(field root "$REP" | tr , '\n' | sort | tr '\n' ' ')" = "dev jail_probe lib lib64 report "
check "a host file outside the chroot is not visible" grep -qx 'visible /etc/hostname=no' "$REP"
check "the host's work directory is not visible" grep -qx "visible $WORK=no" "$REP"
if [ -c /dev/kvm ]; then
	check "dev/kvm opens as $JUID" test "$(field dev_kvm "$REP")" = ok
else
	# No kvm here: the node is made all the same, and opening it finds no driver.
	check "dev/kvm is there; this host has no kvm driver ($(field dev_kvm "$REP"))" \
		grep -qxE 'dev_kvm=(No such device|No such device or address)' "$REP"
fi
check "dev/kvm is KVM's 10:232" test "$(stat -c '%t:%T' "$R/dev/kvm")" = a:e8
check "no inherited fds above 2 (7 and 9 were open)" test "$(field fds "$REP")" = 0,1,2
check "rlimit no-file 64 (soft and hard)" test "$(field nofile "$REP")" = 64,64
check "rlimit fsize 1048576" test "$(field fsize "$REP")" = 1048576
check "umask 077" test "$(field umask "$REP")" = 077
check "environment: only MVMM_* passes" test "$(field env "$REP")" = MVMM_PROBE_VAR
check "dev/kvm is a char device owned by $JUID, 0600" \
	test "$(stat -c '%F %u %a' "$R/dev/kvm")" = "character special file $JUID 600"
check "the jail root belongs to $JUID" test "$(stat -c %u "$R")" = "$JUID"
kill -TERM "$JPID" 2>/dev/null
wait "$JPID"
check "default no-file is 2048" bash -c "'$JAILER' --id t1b --exec-file '$PROBE' --uid $JUID --gid $JGID --chroot-base-dir '$BASE' >'$WORK/t1b' && grep -qx nofile=2048,2048 '$WORK/t1b'"

# ---- 2. cgroup v2 ----
echo "# cgroup v2"
CGMNT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
if [ -z "$CGMNT" ] || ! mkdir "$CGMNT/$CG_PARENT" 2>/dev/null; then
	skip "cgroup2 not mounted or not writable here"
else
	rmdir "$CGMNT/$CG_PARENT"
	extra=()
	grep -qw pids "$CGMNT/cgroup.controllers" && extra=(--cgroup pids.max=64)
	"${JAIL[@]}" --id t2 --parent-cgroup "$CG_PARENT" --cgroup cgroup.max.descendants=3 \
		"${extra[@]}" -- --out /report --sleep 3 &
	JPID=$!
	R=$BASE/jail_probe/t2/root
	for _ in $(seq 50); do grep -qs done=1 "$R/report" && break; sleep 0.1; done
	check "in $CGMNT/$CG_PARENT/t2" grep -qx "0::/$CG_PARENT/t2" /proc/$JPID/cgroup
	check "cgroup.max.descendants written" test "$(cat "$CGMNT/$CG_PARENT/t2/cgroup.max.descendants")" = 3
	if [ ${#extra[@]} -gt 0 ]; then
		check "pids.max written (controller enabled on the way)" test "$(cat "$CGMNT/$CG_PARENT/t2/pids.max")" = 64
	else
		skip "no pids controller in $CGMNT/cgroup.controllers ($(cat "$CGMNT/cgroup.controllers"))"
	fi
	kill -TERM "$JPID"; wait "$JPID"
	# Firecracker leaves the cgroup for the operator; this test cleans it.
	rmdir "$CGMNT/$CG_PARENT/t2" "$CGMNT/$CG_PARENT"
	if ! grep -qw memory "$CGMNT/cgroup.controllers"; then
		skip "memory controller not in $CGMNT (hybrid hierarchy): memory.max untested"
	fi
fi

# ---- 3. --new-pid-ns ----
echo "# --new-pid-ns"
R=$BASE/jail_probe/t3/root
"${JAIL[@]}" --id t3 --new-pid-ns -- --out /report --sleep 2 --exit 7 &
JPID=$!
for _ in $(seq 50); do grep -qs done=1 "$R/report" && break; sleep 0.1; done
check "pid 1 in its namespace" test "$(field pid "$R/report")" = 1
check "the host pid is in <root>/jail_probe.pid" test -d "/proc/$(cat "$R/jail_probe.pid" 2>/dev/null || echo none)"
check "the waiting parent holds no capability" grep -qP '^CapEff:\t0000000000000000$' /proc/$JPID/status
wait "$JPID"
check "the jailer exits with the probe's status (7)" test $? = 7
"${JAIL[@]}" --id t3b --new-pid-ns -- --sleep 30 >/dev/null &
JPID=$!
sleep 0.5
kill -TERM "$JPID"
wait "$JPID"
check "SIGTERM to the jailer reaches the probe (pid 1 with a handler)" test $? = 0

# ---- 4. --daemonize ----
echo "# --daemonize"
R=$BASE/jail_probe/t4/root
t0=$(date +%s%N)
"${JAIL[@]}" --id t4 --daemonize -- --out /report --sleep 2 >"$WORK/t4.out"
status=$?
t1=$(date +%s%N)
check "the jailer returns 0 at once" test "$status" = 0 -a $(((t1 - t0) / 1000000)) -lt 1500
for _ in $(seq 50); do grep -qs done=1 "$R/report" && break; sleep 0.1; done
check "new session" test "$(field sid_is_pid "$R/report")" = 1
check "stdout is /dev/null, not the jailer's" test "$(field stdout "$R/report")" = chr:1:3

# ---- 5. failures leave nothing behind ----
echo "# failures"
B2=$WORK/fresh/base
fails() { # EXPECTED_STATUS DESCRIPTION JAILER-ARGS...
	local want=$1 what=$2; shift 2
	local out status
	out=$("$JAILER" "$@" 2>&1 >/dev/null)
	status=$?
	if [ "$status" = "$want" ] && [ ! -e "$WORK/fresh" ]; then
		ok "$what -> $status: $out"
	else
		bad "$what -> $status (want $want): $out; left: $(find "$WORK/fresh" 2>/dev/null | head -5)"
	fi
	rm -rf "$WORK/fresh"
}
P=(--exec-file "$PROBE" --uid "$JUID" --gid "$JGID" --chroot-base-dir "$B2")
fails 2 "bad id" --id 'a/b' "${P[@]}"
fails 2 "id of 65 characters" --id "$(printf 'a%.0s' $(seq 65))" "${P[@]}"
fails 2 "relative exec file" --id f1 --exec-file build/tests/jail_probe --uid 1 --gid 1 --chroot-base-dir "$B2"
fails 2 "missing exec file" --id f1 --exec-file /nonexistent/mvmm --uid 1 --gid 1 --chroot-base-dir "$B2"
fails 2 "no-file=0" --id f1 "${P[@]}" --resource-limit no-file=0
fails 2 "unknown resource" --id f1 "${P[@]}" --resource-limit stack=1
fails 2 "uid -1" --id f1 --exec-file "$PROBE" --uid -1 --gid 1 --chroot-base-dir "$B2"
fails 2 "cgroup v1" --id f1 "${P[@]}" --cgroup-version 1
fails 2 "missing netns" --id f1 "${P[@]}" --netns /var/run/netns/none-$$
printf '#!/bin/sh\necho hi\n' >"$WORK/script"; chmod 755 "$WORK/script"
fails 1 "a script (no ELF)" --id f1 --exec-file "$WORK/script" --uid 1 --gid 1 --chroot-base-dir "$B2"
cp "$PROBE" "$WORK/rootonly"; chmod 700 "$WORK/rootonly"
fails 1 "exec refused after the privilege drop (0700 root file)" --id f1 --exec-file "$WORK/rootonly" --uid "$JUID" --gid "$JGID" --chroot-base-dir "$B2"
fails 1 "exec refused in the --new-pid-ns child" --id f1 --exec-file "$WORK/rootonly" --uid "$JUID" --gid "$JGID" --chroot-base-dir "$B2" --new-pid-ns
if [ -n "$CGMNT" ] && mkdir "$CGMNT/$CG_PARENT" 2>/dev/null; then
	rmdir "$CGMNT/$CG_PARENT"
	fails 1 "a cgroup value the kernel refuses" --id f1 "${P[@]}" --parent-cgroup "$CG_PARENT" --cgroup cgroup.max.descendants=lots
	check "  ... and no cgroup left" test ! -e "$CGMNT/$CG_PARENT"
	fails 1 "a controller this hierarchy lacks" --id f1 "${P[@]}" --parent-cgroup "$CG_PARENT" --cgroup nosuch.max=1
	check "  ... and no cgroup left" test ! -e "$CGMNT/$CG_PARENT"
else
	skip "cgroup failure paths (cgroup2 not writable)"
fi
# An operator's files in an existing root stay; only the jailer's go.
R=$BASE/jail_probe/t5/root
mkdir -p "$R" && echo kernel >"$R/vmlinux"
before=$(cd "$BASE" && find . | sort)
"$JAILER" --id t5 --exec-file "$WORK/rootonly" --uid "$JUID" --gid "$JGID" --chroot-base-dir "$BASE" 2>/dev/null
check "a failure in an existing root keeps the operator's files, removes the rest" \
	test "$(cd "$BASE" && find . | sort)" = "$before"
# A symlink a previous jailed process could have planted is not followed.
R=$BASE/jail_probe/t6/root
mkdir -p "$R" "$WORK/outside" && ln -s "$WORK/outside" "$R/dev" && chown -h "$JUID" "$R/dev"
"$JAILER" --id t6 --exec-file "$PROBE" --uid "$JUID" --gid "$JGID" --chroot-base-dir "$BASE" >/dev/null 2>&1
check "a planted dev -> outside symlink is refused, nothing made outside" \
	test $? = 1 -a -z "$(ls -A "$WORK/outside")"

# ---- 6. a real mvmm ----
echo "# mvmm"
if [ ! -x "$MVMM" ] || [ ! -c /dev/kvm ]; then
	skip "no $MVMM or /dev/kvm"
else
	R=$BASE/mvmm/vm1/root
	"$JAILER" --id vm1 --exec-file "$MVMM" --uid "$JUID" --gid "$JGID" \
		--chroot-base-dir "$BASE" --new-pid-ns -- --api-sock /api.sock \
		>"$WORK/mvmm.log" 2>&1 &
	JPID=$!
	for _ in $(seq 50); do [ -S "$R/api.sock" ] && break; sleep 0.1; done
	MPID=$(cat "$R/mvmm.pid" 2>/dev/null)
	check "mvmm serves its API from inside the jail" \
		bash -c "curl -s --unix-socket '$R/api.sock' http://localhost/ | grep -q 'Not started'"
	body=$(curl -s --unix-socket "$R/api.sock" -X PUT http://localhost/boot-source \
		-d '{"kernel_image_path": "/etc/passwd"}')
	check "an API request naming a host file outside the chroot is refused ($body)" \
		grep -q "No such file" <<<"$body"
	check "mvmm runs as $JUID with CapEff 0 and NoNewPrivs" \
		bash -c "grep -qP '^Uid:\t$JUID\t' /proc/$MPID/status && grep -qP '^CapEff:\t0{16}$' /proc/$MPID/status && grep -qP '^NoNewPrivs:\t1$' /proc/$MPID/status"
	# A static mvmm (the default build) needs nothing beside it; a shared
	# one (STATIC=0) needs its libraries placed in the jail.
	if readelf -l "$MVMM" | grep -q 'program interpreter'; then
		check "mvmm's libraries were placed (it runs)" test -e "$R/lib/x86_64-linux-gnu/libjansson.so.4" -o -e "$R/lib/aarch64-linux-gnu/libjansson.so.4"
	else
		check "a static mvmm: no library placed in the jail" test ! -e "$R/lib" -a ! -e "$R/lib64"
	fi
	kill -KILL "$MPID" 2>/dev/null
	wait "$JPID"
fi

echo "# $FAILS failed"
[ "$FAILS" = 0 ]
