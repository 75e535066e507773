#!/usr/bin/env bash
# Records which syscalls each mvmm thread makes: runs mvmm under strace -f,
# drives the API (runtime routes, a paused snapshot, errors), stops it with
# SIGTERM, then prints one sorted list per role (main, vcpu, api) with the
# ioctl requests, madvise advice and mmap/mprotect protections seen
# (tests/confine/trace_roles.awk says where each role's list starts).
# The raw trace stays in $OUT/trace.<backend>.txt.
#
# usage: tests/confine/trace_syscalls.sh KERNEL [INITRD]
# env:   MVMM (default build/mvmm), OUT (default build/confine-trace),
#        BACKENDS (default "anonymous memfd")
# Where the guest cannot boot (PVM), vCPU threads only show KVM_RUN and the
# thread plumbing; device exits need a test host run (see docs/security.md).
set -euo pipefail

KERNEL=${1:?usage: $0 KERNEL [INITRD]}
INITRD=${2:-}
MVMM=${MVMM:-build/mvmm}
OUT=${OUT:-build/confine-trace}
BACKENDS=${BACKENDS:-anonymous memfd}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
SOCK=$OUT/api.sock

api() { # METHOD PATH [BODY]
	curl -s -m 5 --unix-socket "$SOCK" -X "$1" "http://localhost$2" \
		${3:+-d "$3"} -o /dev/null -w "  $1 $2 -> %{http_code}\n" || true
}

run_one() {
	local backend=$1 trace=$OUT/trace.$1.txt cfg=$OUT/vm.$1.json
	cat >"$cfg" <<JSON
{
  "boot-source": {"kernel_image_path": "$KERNEL",
                  ${INITRD:+\"initrd_path\": \"$INITRD\",}
                  "boot_args": "console=ttyS0 panic=-1"},
  "machine-config": {"vcpu_count": 2, "mem_size_mib": 256,
                     "mvmm_mem_backend": "$backend"},
  "balloon": {"amount_mib": 0, "deflate_on_oom": true,
              "stats_polling_interval_s": 1, "free_page_reporting": true,
              "free_page_hinting": true}
}
JSON
	rm -f "$SOCK" "$OUT"/snap.*
	strace -f -qq -o "$trace" "$MVMM" --config "$cfg" --api-sock "$SOCK" \
		</dev/null >"$OUT/stdout.$backend.txt" 2>"$OUT/stderr.$backend.txt" &
	local tracer=$! pid=
	for _ in $(seq 50); do
		pid=$(pgrep -P "$tracer" || true)
		[ -n "$pid" ] && break
		sleep 0.1
	done
	for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.1; done
	sleep 1
	echo "backend $backend:"
	api GET /
	api GET /machine-config
	api GET /balloon
	api PATCH /balloon '{"amount_mib": 16}'
	api GET /balloon/statistics
	api PATCH /balloon/statistics '{"stats_polling_interval_s": 2}'
	api GET /balloon/hinting/status
	api PATCH /balloon/hinting/start '{}'
	api PATCH /balloon/hinting/reclaim '{}'
	api GET /balloon/hinting/reclaim
	api GET /metrics
	api GET /nope
	api PUT /boot-source '{"kernel_image_path": "/x"}'
	api PATCH /vm '{"state": "Paused"}'
	api PUT /snapshot/create "{\"snapshot_path\": \"$OUT/snap.state\", \"mem_file_path\": \"$OUT/snap.mem\"}"
	api GET /snapshot
	api PUT /snapshot/create "{\"snapshot_path\": \"$OUT/nodir/s\", \"mem_file_path\": \"$OUT/nodir/m\"}"
	api PATCH /vm '{"state": "Resumed"}'
	head -c 100000 /dev/zero | curl -s -m 5 --unix-socket "$SOCK" -X PUT \
		http://localhost/balloon --data-binary @- -o /dev/null \
		-w "  PUT /balloon (100 kB) -> %{http_code}\n" || true
	sleep 2.5 # a stats tick or two
	kill -TERM "$pid"
	wait "$tracer" || true
}

for b in $BACKENDS; do run_one "$b"; done

# Per role, what each thread did after its filter's install point.
awk -f "$(dirname "$0")/trace_roles.awk" "$OUT"/trace.*.txt | sort | awk -F'\t' '
$1 != role { if (role != "") print ""; role = $1; print role ":"; key = "" }
{
	split($2, w, " ")
	if (w[1] != key) { if (key != "") print ""; key = w[1]; printf "  %s:", key }
	printf " %s", w[2]
}
END { print "" }'
