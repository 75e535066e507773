#!/usr/bin/env bash
# Attribution: runs the same guest workloads under mvmm and under QEMU's
# microvm machine, in the same test host boots, and prints how each ended, per
# VMM, workload and test host setting. A guest crash is the emulator's only
# if QEMU shows it at the same rate on the same workload: a balloon that
# zeroes a live page looks exactly like a triple fault.
#
# Usage: tests/attrib/run.sh [-n N] [--settings S1,S2...] [--workloads W1,W2]
#                            [--vmms mvmm,qemu] [--per-boot K] [--log DIR]
#        tests/attrib/run.sh --table DIR     the table of an earlier run
#        tests/attrib/run.sh --kvm-stats DIR KVM's counters per VMM: for each
#                 workload and counter, the median over ok trials of the
#                 counter per second of trial (each trial's kvm-stats.txt)
#   -n N          trials per VMM, workload and setting (default 10)
#   --settings    test host settings, each measured with the same counts
#                 (default: base); a setting is NAME or NAME+NAME:
#                   base      -cpu max, kvm_amd defaults, THP always, MTTCG
#                   la57off   -cpu max,la57=off
#                   npt0      kvm_amd npt=0 (shadow paging for the guest)
#                   novls     kvm_amd vls=0 vgif=0 avic=0
#                   nothp     transparent_hugepage=never in the test host
#                   tcgsingle one TCG thread for the test host's vCPUs
#   --per-boot K  trials per test host boot (default 6): a test host that
#                 dies ends its boot, the trial running then counts as
#                 "testhost-panic" (or testhost-timeout), the rest go on in
#                 a new boot
#   --log DIR     results.tsv, each boot's console, each trial's logs
#                 (default /tmp/mvmm-attrib.DATE); an existing DIR resumes:
#                 trials already in its results.tsv are not run again
# W0: a boot with a non-quiet console and one checksummed 64 MiB fill (short:
#     the boot is where most test host failures came).
# W1: a checksummed 400 MiB fill, five times, no balloon activity.
# W2: 32 MiB resident and checksummed throughout; three cycles of a
#     checksummed 300 MiB fill, inflate 256 MiB, verify, deflate, verify,
#     checksummed 400 MiB fill (guest/scenarios/attrib_w*.sh).
# W3: both vCPUs busy (a spinner, and a checksummed 128 MiB fill eight
#     times), no balloon activity; meant to run with
#     MVMM_ATTRIB_HOST_STRESS=ipi, a storm of test host wake-ups across CPUs.
# W4: W2 in the shape of e2e's t_backends (1 vCPU, 256 MiB, 16 MiB resident,
#     fills of 150 MiB, balloon 128 MiB, three cycles).
# Guests (but W4): 2 vCPUs, 512 MiB, build/guest's bzImage and initramfs for both.
# Trials alternate VMMs (mvmm first on odd rounds, QEMU on even ones).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2

n=10
settings=base
workloads=W1,W2
vmms=mvmm,qemu
per_boot=6
log=
table_only=
stats_only=
while [ $# -gt 0 ]; do
	case $1 in
	-n) n=${2:?}; shift 2 ;;
	--settings) settings=${2:?}; shift 2 ;;
	--workloads) workloads=${2:?}; shift 2 ;;
	--vmms) vmms=${2:?}; shift 2 ;;
	--per-boot) per_boot=${2:?}; shift 2 ;;
	--log) log=${2:?}; shift 2 ;;
	--table) table_only=${2:?}; shift 2 ;;
	--kvm-stats) stats_only=${2:?}; shift 2 ;;
	*) sed -n '/^# Usage:/,/^[^#]/s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
	esac
done

# The results table: one row per setting, VMM and workload.
table() {
	local res=$1
	echo "| setting | VMM | workload | n | ok | guest crash | checksum failure | hang | VMM error | other | test host panic |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|"
	awk -F'\t' '
		{ k = $1 "\t" $3 "\t" $4; if (!(k in seen)) { seen[k] = 1; keys[nk++] = k }
		  n[k]++; c[k "\t" $5]++ }
		END {
			for (i = 0; i < nk; i++) {
				k = keys[i]; split(k, f, "\t")
				printf "| %s | %s | %s | %d | %d | %d | %d | %d | %d | %d | %d |\n",
					f[1], f[2], f[3], n[k], c[k "\tok"], c[k "\tcrash"],
					c[k "\tchecksum"], c[k "\thang"], c[k "\tvmm-error"],
					c[k "\terror"], c[k "\ttesthost-panic"] + c[k "\ttesthost-timeout"] + c[k "\ttesthost-died"]
			}
		}' "$res"
	if awk -F'\t' '$5 != "ok"' "$res" | grep -q .; then
		echo
		echo "Not ok (setting, trial, VMM, workload, class, seconds, detail):"
		awk -F'\t' '$5 != "ok" { print "- " $1 " " $2 " " $3 " " $4 " " $5 " " $6 "s " $7 }' "$res"
	fi
}

# kvm_stats DIR: one row per workload and counter, its median rate per VMM.
kvm_stats() {
	local dir=$1 id v wl secs f
	awk -F'\t' '$5 == "ok" && $6 > 0 { print $2, $3, $4, $6 }' "$dir/results.tsv" |
		while read -r id v wl secs; do
			for f in "$dir"/boot-*/trials/"$id"/kvm-stats.txt; do
				[ -f "$f" ] || continue
				awk -v k="$wl $v" -v s="$secs" 'NF == 2 && $2 ~ /^[0-9]+$/ { print k, $1, $2 / s }' "$f"
			done
		done | sort -k1,1 -k3,3 -k2,2 -k4,4g | awk '
		function flush() {
			if (nv) { m = nv % 2 ? v[(nv + 1) / 2] : (v[nv / 2] + v[nv / 2 + 1]) / 2
				  med[key] = m; cnt[key] = nv }
			nv = 0
		}
		{ k = $1 " " $3 " " $2
		  if (k != key) { flush(); key = k; split(k, p, " "); row[p[1] " " p[2]] = 1; vm[p[3]] = 1 }
		  v[++nv] = $4 }
		END {
			flush()
			printf "| workload | counter |"; for (x in vm) printf " %s /s (n) |", x; print ""
			printf "|---|---|"; for (x in vm) printf "---|"; print ""
			for (r in row) {
				line = sprintf("| %s | %s |", substr(r, 1, index(r, " ") - 1), substr(r, index(r, " ") + 1))
				any = 0
				for (x in vm) { kk = r " " x
					if (kk in med) { line = line sprintf(" %.1f (%d) |", med[kk], cnt[kk]); if (med[kk] > 0) any = 1 }
					else line = line " - |" }
				if (any) print line
			}
		}' | { read -r h; read -r u; echo "$h"; echo "$u"; sort; }
}

if [ -n "$stats_only" ]; then
	kvm_stats "$stats_only"
	exit 0
fi

if [ -n "$table_only" ]; then
	table "$table_only/results.tsv"
	exit 0
fi

[ -x ./mvmm ] || { echo "attrib: ./mvmm is missing: make all" >&2; exit 2; }
[ -f build/guest/bzImage ] || { echo "attrib: build/guest is missing: make guest" >&2; exit 2; }
log=${log:-/tmp/mvmm-attrib.$(date +%Y%m%d-%H%M%S)}
mkdir -p "$log"
res=$log/results.tsv
touch "$res"

# setting_env NAME[+NAME...]: the test host environment for a setting.
setting_env() {
	local s env=(MVMM_TESTHOST_CPU=max MVMM_TESTHOST_KVM_AMD_PARAMS= MVMM_TESTHOST_THP=always MVMM_TESTHOST_TCG=multi)
	local params=()
	IFS=+ read -ra parts <<<"$1"
	for s in "${parts[@]}"; do
		case $s in
		base) ;;
		la57off) env[0]=MVMM_TESTHOST_CPU=max,la57=off ;;
		npt0) params+=(npt=0) ;;
		novls) params+=(vls=0 vgif=0 avic=0) ;;
		nothp) env[2]=MVMM_TESTHOST_THP=never ;;
		tcgsingle) env[3]=MVMM_TESTHOST_TCG=single ;;
		*) echo "attrib: unknown setting $s" >&2; return 1 ;;
		esac
	done
	env[1]="MVMM_TESTHOST_KVM_AMD_PARAMS=${params[*]}"
	printf '%s\n' "${env[@]}"
}

IFS=, read -ra setting_list <<<"$settings"
IFS=, read -ra wl_list <<<"$workloads"
IFS=, read -ra vmm_list <<<"$vmms"
for s in "${setting_list[@]}"; do
	setting_env "$s" >/dev/null || exit 2
done

# Resuming after the runner itself was stopped: results that boots printed
# but that never reached results.tsv.
for c in "$log"/boot-*/console.log; do
	[ -f "$c" ] || continue
	grep -a '^ATTRIB-RESULT ' "$c" | while read -r _ id v wl class secs detail; do
		awk -F'\t' -v id="$id" '$2 == id { f = 1 } END { exit !f }' "$res" && continue
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "${id%%-W[0-9]-*}" "$id" "$v" "$wl" "$class" "$secs" "$detail" >>"$res"
		echo "attrib: recovered $id ($class) from $c"
	done
done
boot=$(find "$log" -maxdepth 1 -name 'boot-*' | wc -l)
stalled=0
t_start=$SECONDS
for s in "${setting_list[@]}"; do
	mapfile -t env < <(setting_env "$s")
	# The trials of this setting not yet in results.tsv, alternating VMMs.
	queue=()
	for ((i = 1; i <= n; i++)); do
		order=("${vmm_list[@]}")
		if [ $((i % 2)) = 0 ] && [ ${#vmm_list[@]} = 2 ]; then
			order=("${vmm_list[1]}" "${vmm_list[0]}")
		fi
		for wl in "${wl_list[@]}"; do
			for v in "${order[@]}"; do
				id=$(printf '%s-%s-%s-%02d' "$s" "$wl" "$v" "$i")
				awk -F'\t' -v id="$id" '$2 == id { f = 1 } END { exit !f }' "$res" ||
					queue+=("$id:$v:$wl")
			done
		done
	done
	echo "attrib: setting $s (${env[*]}): ${#queue[@]} trials to run"
	while [ ${#queue[@]} -gt 0 ]; do
		batch=("${queue[@]:0:$per_boot}")
		boot=$((boot + 1))
		bdir=$(printf '%s/boot-%03d' "$log" "$boot")
		mkdir -p "$bdir"
		echo "attrib: boot $boot ($s): ${batch[*]}"
		# The trials' own deadlines end first (inside.sh); this only
		# guards against a test host that hangs.
		to=300
		for t in "${batch[@]}"; do
			case $t in
			*:W0) to=$((to + ${MVMM_ATTRIB_TIMEOUT_W0:-300} + 60)) ;;
			*:W1) to=$((to + ${MVMM_ATTRIB_TIMEOUT_W1:-1800} + 60)) ;;
			*:W3) to=$((to + ${MVMM_ATTRIB_TIMEOUT_W3:-900} + 60)) ;;
			*:W4) to=$((to + ${MVMM_ATTRIB_TIMEOUT_W4:-600} + 60)) ;;
			*) to=$((to + ${MVMM_ATTRIB_TIMEOUT_W2:-2400} + 60)) ;;
			esac
		done
		env "${env[@]}" bash tests/testhost/run.sh --timeout "$to" --out "$bdir/trials" \
			-- bash tests/attrib/inside.sh "${batch[@]}" >"$bdir/console.log" 2>&1
		rc=$?
		grep -a -E '^(ATTRIB-|attrib: )' "$bdir/console.log" | sed 's/^/  /'
		# Results, then the trial the test host died under, then the rest.
		rest=()
		for t in "${batch[@]}"; do
			IFS=: read -r id v wl <<<"$t"
			line=$(grep -a -m1 "^ATTRIB-RESULT $id " "$bdir/console.log")
			if [ -n "$line" ]; then
				read -r _ _ _ _ class secs detail <<<"$line"
				printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$s" "$id" "$v" "$wl" "$class" "$secs" "$detail" >>"$res"
			elif grep -a -q "^ATTRIB-BEGIN $id " "$bdir/console.log"; then
				case $rc in
				124) class=testhost-timeout ;;
				125) class=testhost-panic ;;
				*) class=testhost-died ;;
				esac
				why=$(grep -a -m1 -E 'Kernel panic|BUG: |soft lockup|general protection|stack guard|testhost: ' "$bdir/console.log" |
					sed 's/^\[[ 0-9.]*\] //' | cut -c1-100 | tr ' \t' __)
				printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$s" "$id" "$v" "$wl" "$class" "-" "rc=$rc;${why:--};$(basename "$bdir")" >>"$res"
				echo "  attrib: $id: the test host died (status $rc): ${why:-no message}"
			else
				rest+=("$t")
			fi
		done
		if [ ${#rest[@]} = ${#batch[@]} ]; then
			stalled=$((stalled + 1))
			echo "  attrib: boot $boot ran no trial (status $rc): $(tail -n 3 "$bdir/console.log" | tr '\n' ' ')"
			[ $stalled -lt 3 ] || { echo "attrib: three boots in a row ran nothing; giving up" >&2; exit 1; }
		else
			stalled=0
		fi
		queue=("${rest[@]}" "${queue[@]:$per_boot}")
		[ "$rc" = 0 ] || [ "$rc" = 124 ] || [ "$rc" = 125 ] ||
			echo "  attrib: boot $boot ended with status $rc"
	done
done
echo "attrib: $((SECONDS - t_start)) s; logs in $log"
echo
echo "Command: tests/attrib/run.sh -n $n --settings $settings --workloads $workloads --vmms $vmms --per-boot $per_boot"
table "$res"
