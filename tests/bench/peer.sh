#!/usr/bin/env bash
# The peer table: mvmm and QEMU's microvm machine run the same kernel,
# initramfs, device set and workloads on the same /dev/kvm, alternating, and
# the medians, ranges and mvmm/QEMU ratios are printed as one table. Run it
# where /dev/kvm boots a standard guest: in the emulated test host
#   bash tests/testhost/run.sh --timeout 3600 -- bash tests/bench/peer.sh
# (make bench does that). Needs build/guest, ./mvmm, build/bench/peerctl
# and qemu-system-x86_64.
#
# Usage: peer.sh [-n ROUNDS] [--only WORKLOADS] [--mvmm-args ARGS]
#                [--append STR] [--console] [--smaps] [--mvmm PATH]
#                [--base PATH] [--base-args ARGS] [--keep DIR]
#                [--first-round K]
#        peer.sh --table LOG...   the table from the "peer: VMM WORKLOAD
#                FIGURE = VALUE" lines of earlier runs' output (rounds run
#                in several test host boots, merged)
#   -n ROUNDS      runs per VMM and workload (default 5); round i starts
#                  with mvmm when i is odd and with QEMU when it is even
#   --only         comma list of boot1, boot2, fill, report (default all)
#   --mvmm-args    extra mvmm arguments (e.g. a --config), for experiments
#   --append STR   added to both guests' command line (e.g. initcall_debug)
#   --smaps        with the footprint, each mapping of the VMM with its Rss
#   --mvmm PATH    the mvmm binary (default ./mvmm)
#   --base PATH    a second mvmm binary (e.g. an older build) run as a third
#                  VMM, "base", in the same rounds, for before/after figures
#   --base-args A  arguments only base gets (base defaults to the mvmm binary:
#                  --base-args "--seccomp off" measures what confinement costs)
#   --console      print each run's console and VMM stderr after it (the
#                  test host's files vanish with it)
#   --first-round K  number rounds from K (the order rotates on), to add
#                  rounds to an earlier run's in another test host boot
#   --keep DIR     each run's console and VMM stderr are written under DIR
#                  as they come (in the test host: /run/testhost/out/...,
#                  with run.sh --out, survives a test host that hangs)
# Workloads (guest/scenarios/peer.sh is the guest half; ACPI on both sides:
# QEMU's microvm defaults to it, mvmm always writes its tables):
#   boot1, boot2   256 MiB, 1 or 2 vCPUs: the guest's printk time at
#                  "Run /init", the host's time from exec to that line, and
#                  the VMM's own memory (VmRSS minus the guest RAM mapping's
#                  Rss) once the guest is idle
#   fill           512 MiB, 2 vCPUs: dd of 300 MiB to tmpfs, console marker
#                  to marker; AnonHugePages after it; the file is removed,
#                  then the balloon inflates 512 -> 256 MiB and deflates
#                  back, each until the guest's actual size is the target;
#                  then the fill again, on the memory the balloon gave back
#   report         512 MiB, 2 vCPUs, free page reporting on: 300 MiB filled
#                  and removed; time from the guest's marker until the RSS
#                  fell by 240 MiB, and the RSS given back after 10 s
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2

rounds=5
only=boot1,boot2,fill,report
mvmm_extra=
append=
show_console=0
show_smaps=0
base=
base_extra=
mvmm_bin=./mvmm
keep=
first=1
table_logs=()
while [ $# -gt 0 ]; do
	case $1 in
	-n) rounds=${2:?}; shift 2 ;;
	--only) only=${2:?}; shift 2 ;;
	--mvmm-args) mvmm_extra=${2:?}; shift 2 ;;
	--append) append=${2:?}; shift 2 ;;
	--console) show_console=1; shift ;;
	--smaps) show_smaps=1; shift ;;
	--base) base=${2:?}; shift 2 ;;
	--base-args) base_extra=${2:?}; shift 2 ;;
	--mvmm) mvmm_bin=${2:?}; shift 2 ;;
	--keep) keep=${2:?}; shift 2 ;;
	--first-round) first=${2:?}; shift 2 ;;
	--table) shift; table_logs=("$@"); break ;;
	*) sed -n '/^# Usage:/,/^[^#]/s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
	esac
done
# print_table RESULTS BASE: medians, ranges and ratios per workload and
# figure from a VMM<TAB>WORKLOAD<TAB>FIGURE<TAB>VALUE file; BASE non-empty
# adds the base columns.
print_table() {
	local res=$1 base=$2
	if [ -n "$base" ]; then
		echo "| workload | figure | n (mvmm/QEMU/base) | mvmm median [range] | QEMU median [range] | mvmm/QEMU | base median [range] | base/QEMU |"
		echo "|---|---|---|---|---|---|---|---|"
	else
		echo "| workload | figure | n (mvmm/QEMU) | mvmm median [range] | QEMU median [range] | mvmm/QEMU |"
		echo "|---|---|---|---|---|---|"
	fi
	awk -F'\t' -v base="$base" '
		$3 == "failed" { fail[$1 "\t" $2]++; next }
		{ k = $2 "\t" $3; if (!(k in seen)) { seen[k] = 1; keys[nk++] = k }
		  v[$1 "\t" k] = v[$1 "\t" k] " " $4 }
		function stats(s,   a, n, i, j, t) {
			n = split(s, a, " ")
			for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > t + 0; j--) a[j + 1] = a[j]; a[j + 1] = t }
			N = n; MIN = a[1]; MAX = a[n]
			MED = n % 2 ? a[(n + 1) / 2] : sprintf("%.0f", (a[n / 2] + a[n / 2 + 1]) / 2)
		}
		END {
			for (i = 0; i < nk; i++) {
				k = keys[i]; split(k, f, "\t")
				stats(v["mvmm\t" k]); mn = N; mm = MED; ml = MIN; mh = MAX
				stats(v["qemu\t" k]); qn = N; qm = MED; ql = MIN; qh = MAX
				r = (qm != 0 && qn && mn) ? sprintf("%.2f", mm / qm) : "-"
				if (base == "") {
					printf "| %s | %s | %d/%d | %s [%s, %s] | %s [%s, %s] | %s |\n", f[1], f[2], mn, qn, mm, ml, mh, qm, ql, qh, r
					continue
				}
				stats(v["base\t" k]); bn = N; bm = MED; bl = MIN; bh = MAX
				rb = (qm != 0 && qn && bn) ? sprintf("%.2f", bm / qm) : "-"
				printf "| %s | %s | %d/%d/%d | %s [%s, %s] | %s [%s, %s] | %s | %s [%s, %s] | %s |\n", f[1], f[2], mn, qn, bn, mm, ml, mh, qm, ql, qh, r, bm, bl, bh, rb
			}
			for (k in fail) printf "failed runs: %s %d\n", k, fail[k]
		}' "$res"
}

[ -n "$base_extra" ] && [ -z "$base" ] && base=$mvmm_bin

if [ ${#table_logs[@]} -gt 0 ]; then
	# "peer: VMM WORKLOAD FIGURE = VALUE" and "peer: round I: VMM WORKLOAD
	# failed" lines, as the runs printed them.
	res=$(mktemp)
	sed -n -e 's/^peer: \([a-z]*\) \([a-z0-9]*\) \([A-Za-z0-9_]*\) = \(-\{0,1\}[0-9][0-9.]*\)$/\1\t\2\t\3\t\4/p' \
		-e 's/^peer: round [0-9]*: \([a-z]*\) \([a-z0-9]*\) failed$/\1\t\2\tfailed\t1/p' "${table_logs[@]}" >"$res"
	tbase=
	grep -q '^base	' "$res" && tbase=base
	print_table "$res" "$tbase"
	rm -f "$res"
	exit 0
fi

# Per wait: generous, since the emulated test host on shared CPUs can be
# tens of times slower than hardware.
TO=${MVMM_PEER_TIMEOUT:-600}
KERNEL=build/guest/bzImage
INITRD=build/guest/initramfs.cpio.gz
CTL=build/bench/peerctl
for f in "$mvmm_bin" ${base:+"$base"} "$KERNEL" "$INITRD" "$CTL"; do
	[ -e "$f" ] || { echo "peer: $f is missing (make all guest)" >&2; exit 2; }
done
command -v qemu-system-x86_64 >/dev/null || { echo "peer: no qemu-system-x86_64" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mvmm-peer.XXXXXX")
RES=$WORK/results.tsv
: >"$RES"
PID=
IN_FD=

cleanup() {
	[ -n "$PID" ] && kill -KILL "$PID" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

# result VMM WORKLOAD FIGURE VALUE
result() {
	printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RES"
	echo "peer: $1 $2 $3 = $4"
}

# start VMM DIR CPUS MEM WORKLOAD REPORTING(0|1)
start() {
	local vmm=$1 dir=$2 cpus=$3 mem=$4 wl=$5 rep=$6 cmdline
	CUR_VMM=$vmm
	IPIS0=$(resched_ipis)
	cmdline="console=ttyS0 reboot=k panic=-1 mvmm.scenario=peer mvmm.peer=$wl${append:+ $append}"
	mkfifo "$dir/in"
	exec {IN_FD}<>"$dir/in"
	T_START=$EPOCHREALTIME
	case $vmm in
	mvmm | base)
		local bal=amount_mib=0 bin=$mvmm_bin extra=$mvmm_extra
		[ "$rep" = 1 ] && bal+=,free_page_reporting=on
		if [ "$vmm" = base ]; then
			bin=$base
			extra+=" $base_extra"
		fi
		# shellcheck disable=SC2086
		"$bin" --kernel "$KERNEL" --initrd "$INITRD" --cmdline "$cmdline" \
			--cpus "$cpus" --mem "$mem" --balloon "$bal" \
			--api-sock "$dir/api.sock" $extra <"$dir/in" \
			2>"$dir/vmm.err" > >(exec "$CTL" stamp >"$dir/console") &
		PID=$!
		;;
	qemu)
		local dev=virtio-balloon-device
		[ "$rep" = 1 ] && dev+=,free-page-reporting=on
		# QEMU's microvm: ACPI (MADT, DSDT with the virtio-mmio device),
		# 8250 at 0x3f8, in-kernel irqchip and PIT, qboot loading the
		# bzImage; -cpu host is KVM's supported CPUID, as mvmm passes.
		qemu-system-x86_64 -M microvm -accel kvm -cpu host -smp "$cpus" \
			-m "$mem" -nodefaults -no-user-config -display none -no-reboot \
			-kernel "$KERNEL" -initrd "$INITRD" -append "$cmdline" \
			-chardev stdio,id=con,signal=off -serial chardev:con \
			-device "$dev" -qmp "unix:$dir/qmp.sock,server=on,wait=off" \
			<"$dir/in" 2>"$dir/vmm.err" > >(exec "$CTL" stamp >"$dir/console") &
		PID=$!
		;;
	esac
}

send() {
	printf '%s\n' "$1" >&"$IN_FD"
}

# wait_line DIR ERE TIMEOUT_S: prints the first stamped console line that
# matches (stamp first); 1 on timeout or a VMM that exited. A stuck mvmm
# dumps its vCPUs, UART and virtqueues (SIGUSR2) into its stderr first.
wait_line() {
	local dir=$1 re=$2 to=$3 line end=$((SECONDS + $3))
	while [ $SECONDS -lt $end ]; do
		line=$(tr -d '\r' <"$dir/console" | grep -a -m1 -E "^[0-9.]+ .*$re")
		[ -n "$line" ] && { echo "$line"; return 0; }
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.2
	done
	echo "peer: no '$re' on the console within $to s" >&2
	if [ "$CUR_VMM" != qemu ] && kill -USR2 "$PID" 2>/dev/null; then
		sleep 2
		grep 'dump:' "$dir/vmm.err" | sed 's/^/peer: /' >&2
	fi
	tr -d '\r' <"$dir/console" | tail -n 15 | sed 's/^/peer:   /' >&2
	sed 's/^/peer: stderr: /' "$dir/vmm.err" | grep -v 'dump:' | tail -n 5 >&2
	return 1
}

stamp_of() { echo "${1%% *}"; }
ms_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", (b - a) * 1000 }'; }

# stop DIR: the guest powers off after its last line; else SIGTERM/SIGKILL.
stop() {
	local dir=$1 i
	send end
	for ((i = 0; i < 100; i++)); do
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -TERM "$PID" 2>/dev/null
	sleep 0.5
	kill -KILL "$PID" 2>/dev/null
	wait "$PID" 2>/dev/null
	PID=
	exec {IN_FD}>&-
	# Let the stamp process see EOF and finish writing.
	sleep 0.2
}

smaps_field() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/smaps_rollup" 2>/dev/null; }
status_field() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null; }
meminfo() { awk -v f="$1:" '$1 == f { print $2 }' /proc/meminfo; }
vmstat() { awk -v f="$1" '$1 == f { print $2 }' /proc/vmstat; }

balloon() { # VMM DIR MIB MEM
	case $1 in
	mvmm | base) "$CTL" balloon mvmm "$2/api.sock" "$3" "$TO" ;;
	qemu) "$CTL" balloon qemu "$2/qmp.sock" "$3" "$4" "$TO" ;;
	esac
}

resched_ipis() {
	awk '$1 == "RES:" { for (i = 2; i <= NF; i++) if ($i ~ /^[0-9]+$/) s += $i } END { print s + 0 }' /proc/interrupts
}

# kvm_stats VMM WORKLOAD: KVM's counters for the VM of PID so far (debugfs),
# one source for both VMMs: the emulator's faults rise with the exits a
# guest takes, so a VMM whose boot takes more exits meets them more often.
kvm_stats() {
	local d f
	# The test host's reschedule IPIs since start (every CPU), and the
	# VMM's own thread switches: what a console byte costs beyond its exit.
	result "$1" "$2" resched_ipis "$(($(resched_ipis) - IPIS0))"
	result "$1" "$2" vmm_ctxt_switches "$(cat /proc/"$PID"/task/*/status 2>/dev/null |
		awk '$1 ~ /ctxt_switches:/ { s += $2 } END { print s + 0 }')"
	for d in /sys/kernel/debug/kvm/"$PID"-*; do
		[ -d "$d" ] || continue
		for f in exits io_exits mmio_exits halt_exits irq_exits irq_injections; do
			[ -r "$d/$f" ] && result "$1" "$2" "kvm_$f" "$(cat "$d/$f")"
		done
	done
}

run_boot() { # VMM DIR CPUS
	local vmm=$1 dir=$2 cpus=$3 wl=boot$3 line fp
	start "$vmm" "$dir" "$cpus" 256 boot 0
	line=$(wait_line "$dir" 'Run /init' "$TO") || return 1
	result "$vmm" "$wl" init_uptime_ms "$(echo "$line" | sed -n 's/^[0-9.]* *\[ *\([0-9.]*\)\].*/\1/p' | awk '{ printf "%.0f", $1 * 1000 }')"
	result "$vmm" "$wl" start_to_init_ms "$(ms_between "$T_START" "$(stamp_of "$line")")"
	wait_line "$dir" 'PEER-READY' "$TO" >/dev/null || return 1
	kvm_stats "$vmm" "$wl"
	sleep 2
	fp=$("$CTL" footprint "$PID")
	echo "peer: $vmm $wl $fp threads=$(status_field "$PID" Threads)"
	if [ $show_smaps = 1 ]; then
		grep -E 'VmRSS|RssAnon|RssFile|RssShmem' "/proc/$PID/status" | tr -s ' \t' ' ' | sed "s/^/smaps: $vmm $wl: /"
		awk '/^[0-9a-f]+-[0-9a-f]+ / { name = ($6 == "" ? "[anon]" : $6); perm = $2; size = 0 }
			/^Size:/ { size = $2 }
			/^Rss:/ { if ($2 > 0) printf "%6d kB rss %8d kB size %s %s\n", $2, size, perm, name }' \
			"/proc/$PID/smaps" | sort -rn | sed "s/^/smaps: $vmm $wl: /"
	fi
	result "$vmm" "$wl" vmm_kib "$(echo "$fp" | sed -n 's/.*vmm_kib=\([0-9-]*\).*/\1/p')"
	result "$vmm" "$wl" guest_rss_kib "$(echo "$fp" | sed -n 's/.*guest_rss_kib=\([0-9-]*\).*/\1/p')"
	stop "$dir"
}

run_fill() { # VMM DIR
	local vmm=$1 dir=$2 a b line free0 rss0 split0
	start "$vmm" "$dir" 2 512 fill 0
	wait_line "$dir" 'PEER-READY' "$TO" >/dev/null || return 1
	sleep 1
	send go
	a=$(wait_line "$dir" 'PEER-FILL-START' "$TO") || return 1
	b=$(wait_line "$dir" 'PEER-FILL-DONE' "$TO") || return 1
	result "$vmm" fill fill_ms "$(ms_between "$(stamp_of "$a")" "$(stamp_of "$b")")"
	result "$vmm" fill fill_guest_ms "$(echo "$b" | sed -n 's/.*guest_s=\([0-9.]*\).*/\1/p' | awk '{ printf "%.0f", $1 * 1000 }')"
	result "$vmm" fill anon_huge_kib "$(smaps_field "$PID" AnonHugePages)"
	result "$vmm" fill rss_after_fill_kib "$(status_field "$PID" VmRSS)"
	send go
	wait_line "$dir" 'PEER-FREED' "$TO" >/dev/null || return 1
	sleep 1
	rss0=$(status_field "$PID" VmRSS)
	free0=$(meminfo MemFree)
	split0=$(vmstat thp_split_pmd)
	line=$(balloon "$vmm" "$dir" 256 512) || return 1
	result "$vmm" fill inflate_ms "$line"
	# Host huge page mappings the inflate split (a discard of part of one).
	result "$vmm" fill inflate_thp_split_pmd "$(($(vmstat thp_split_pmd) - split0))"
	# RSS counts a split huge page's freed 4 KiB pages at once, the host
	# frees them only with the whole huge page: MemFree tells.
	result "$vmm" fill inflate_rss_drop_kib "$((rss0 - $(status_field "$PID" VmRSS)))"
	result "$vmm" fill inflate_memfree_gain_kib "$(($(meminfo MemFree) - free0))"
	line=$(balloon "$vmm" "$dir" 0 512) || return 1
	result "$vmm" fill deflate_ms "$line"
	send go
	a=$(wait_line "$dir" 'PEER-REFILL-START' "$TO") || return 1
	b=$(wait_line "$dir" 'PEER-REFILL-DONE' "$TO") || return 1
	result "$vmm" fill refill_ms "$(ms_between "$(stamp_of "$a")" "$(stamp_of "$b")")"
	result "$vmm" fill refill_anon_huge_kib "$(smaps_field "$PID" AnonHugePages)"
	stop "$dir"
}

run_report() { # VMM DIR
	local vmm=$1 dir=$2 rss0 out t line split0
	start "$vmm" "$dir" 2 512 report 1
	wait_line "$dir" 'PEER-READY' "$TO" >/dev/null || return 1
	# Reporting of the boot's free memory settles first.
	sleep 6
	send go
	wait_line "$dir" 'PEER-FILLED' "$TO" >/dev/null || return 1
	sleep 4
	rss0=$(status_field "$PID" VmRSS)
	split0=$(vmstat thp_split_pmd)
	send go
	out=$("$CTL" rss "$PID" 240 30)
	line=$(wait_line "$dir" 'PEER-FREED' "$TO") || return 1
	t=${out%% *}
	if [ "$t" = -1 ]; then
		result "$vmm" report report_240MiB_ms -1
	else
		# From the guest's marker (its rm is done), not from peerctl's start.
		result "$vmm" report report_240MiB_ms "$(ms_between "$(stamp_of "$line")" "$t")"
	fi
	sleep 4
	result "$vmm" report report_rss_drop_10s_kib "$((rss0 - $(status_field "$PID" VmRSS)))"
	result "$vmm" report report_thp_split_pmd "$(($(vmstat thp_split_pmd) - split0))"
	stop "$dir"
}

one() { # VMM WORKLOAD ROUND
	local vmm=$1 wl=$2 i=$3 dir rc=0
	dir=$WORK/$wl-$vmm-$i
	mkdir -p "$dir"
	if [ -n "$keep" ]; then
		# The logs where they survive the test host; the fifo and sockets
		# stay in WORK.
		mkdir -p "$keep/$wl-$vmm-$i"
		: >"$keep/$wl-$vmm-$i/console"
		: >"$keep/$wl-$vmm-$i/vmm.err"
		ln -s "$keep/$wl-$vmm-$i/console" "$dir/console"
		ln -s "$keep/$wl-$vmm-$i/vmm.err" "$dir/vmm.err"
	fi
	echo "peer: round $i: $vmm $wl"
	case $wl in
	boot1) run_boot "$vmm" "$dir" 1 || rc=$? ;;
	boot2) run_boot "$vmm" "$dir" 2 || rc=$? ;;
	fill) run_fill "$vmm" "$dir" || rc=$? ;;
	report) run_report "$vmm" "$dir" || rc=$? ;;
	esac
	if [ $rc != 0 ]; then
		echo "peer: round $i: $vmm $wl failed"
		result "$vmm" "$wl" failed 1
		[ -n "$PID" ] && { kill -KILL "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; PID=; }
		[ -n "$IN_FD" ] && exec {IN_FD}>&-
	fi
	if [ $show_console = 1 ]; then
		tr -d '\r' <"$dir/console" | sed "s/^/console: $vmm $wl $i: /"
		sed "s/^/stderr: $vmm $wl $i: /" "$dir/vmm.err"
	fi
	rm -rf "$dir"
}

thp=$(sed 's/.*\[\(.*\)\].*/\1/' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null)
shmem=$(sed 's/.*\[\(.*\)\].*/\1/' /sys/kernel/mm/transparent_hugepage/shmem_enabled 2>/dev/null)
echo "# peer: mvmm vs QEMU $(qemu-system-x86_64 --version | sed -n '1s/.*version \([^ ]*\).*/\1/p') microvm, $rounds rounds, $(uname -r), $(nproc) CPUs, THP $thp, shmem THP $shmem, $(date -u +%Y-%m-%dT%H:%MZ)"
echo "# mvmm $mvmm_bin (tree $(git rev-parse --short HEAD 2>/dev/null))${base:+, base $base${base_extra:+ $base_extra}}${mvmm_extra:+ args: $mvmm_extra}${append:+; guest append: $append}"

IFS=, read -ra wls <<<"$only"
vmms=(mvmm qemu)
[ -n "$base" ] && vmms+=(base)
for ((i = first; i < first + rounds; i++)); do
	# Each VMM in turn goes first: rotate the list by the round.
	order=()
	for ((j = 0; j < ${#vmms[@]}; j++)); do
		order+=("${vmms[$(((i - 1 + j) % ${#vmms[@]}))]}")
	done
	for wl in "${wls[@]}"; do
		for v in "${order[@]}"; do
			one "$v" "$wl" "$i"
		done
	done
done

echo
print_table "$RES" "$base"
