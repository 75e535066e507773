#!/bin/sh
# Snapshots are not implemented on arm64: --restore is refused up front with
# a clear message and the configuration-error status 2, before any file is
# read. (PUT /snapshot/create is refused in t_balloon.sh.)
. "$(dirname "$0")/lib.sh"
mvmm_start --restore "$E2E_WORK/no-such-snapshot" --seccomp kill
mvmm_expect_exit 2 60
grep -q 'snapshots are not supported on aarch64 yet' "$MVMM_STDERR" ||
	e2e_fail "no clear refusal: $(cat "$MVMM_STDERR")"
e2e_log "$(cat "$MVMM_STDERR")"
