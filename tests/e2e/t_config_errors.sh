#!/usr/bin/env bash
# Issue 2: ./mvmm --config with a malformed file, a missing kernel, vcpu_count
# 0 or mem_size_mib 0 exits with status 2 and one line naming the problem.
. "$(dirname "$0")/lib.sh"

cfg=$E2E_WORK/cfg.json
check() {
	local want=$1 out rc
	set +e
	out=$("$E2E_MVMM" --config "$cfg" 2>&1 </dev/null)
	rc=$?
	set -e
	[ "$rc" = 2 ] || e2e_fail "exit status $rc for $(head -c 200 "$cfg"), want 2"
	[ "$(printf '%s\n' "$out" | wc -l)" = 1 ] || e2e_fail "not one line: $out"
	printf '%s\n' "$out" | grep -q -- "$want" || e2e_fail "'$out' does not name '$want'"
	e2e_log "ok: $out"
}

printf '{"boot-source": {"kernel_image_path": "%s",}\n' "$E2E_KERNEL" >"$cfg"
check "cfg.json:1:.*invalid JSON"
printf '{"boot-source": {"kernel_image_path": "/nonexistent/bzImage"}}\n' >"$cfg"
check "boot-source.kernel_image_path: cannot read '/nonexistent/bzImage'"
printf '{"boot-source": {"kernel_image_path": "%s"},\n "machine-config": {"vcpu_count": 0, "mem_size_mib": 128}}\n' "$E2E_KERNEL" >"$cfg"
check "cfg.json:2:.*machine-config.vcpu_count: must be between 1"
printf '{"boot-source": {"kernel_image_path": "%s"},\n "machine-config": {"vcpu_count": 1, "mem_size_mib": 0}}\n' "$E2E_KERNEL" >"$cfg"
check "machine-config.mem_size_mib: must be between"
