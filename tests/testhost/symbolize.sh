#!/usr/bin/env bash
# symbolize.sh ADDR...: names addresses in the test host kernel's text (a
# wedged test host's RIPs, from tests/testhost/run.sh) with the symbol and
# offset from that kernel's /proc/kallsyms, read in a test host boot. The
# kernel boots through PVH, without KASLR, so its addresses are the same in
# every boot. Debian's packaged System.map holds no symbols, so they are
# read from the running kernel.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -gt 0 ] || { echo "usage: $0 ADDR..." >&2; exit 2; }
addrs=
for a in "$@"; do
	a=${a#0x}
	[[ $a =~ ^[0-9a-fA-F]{16}$ ]] || { echo "symbolize: not a 64-bit hex address: $a" >&2; exit 2; }
	addrs+=" ${a,,}"
done
# Text symbols sorted by address; for each address the last one at or
# below it. The test host's awk is mawk: the offset is worked out here.
bash tests/testhost/run.sh --timeout 300 -- sh -c "
	grep -E ' [tT] ' /proc/kallsyms | sort >/tmp/ks
	for a in $addrs; do
		awk -v a=\$a '\$1 <= a { s = \$3; b = \$1 } \$1 > a { exit }
			END { print \"SYM\", a, b, s }' /tmp/ks
	done" 2>&1 | while read -r tag a b s; do
	[ "$tag" = SYM ] || continue
	if [ -z "$s" ]; then
		echo "$a ?"
	else
		printf '%s %s+0x%x\n' "$a" "$s" $((0x$a - 0x$b))
	fi
done
