#!/usr/bin/env bash
# e2e-timeout: 420
# Issue 6: the inflate scenario on every guest RAM backend but the default
# (anonymous: t_balloon_inflate). A 256 MiB guest dirties 150 MiB and frees
# it, the balloon inflates to 128 MiB, then deflates to 0. Host memory must
# fall by what each backend can give back: RSS for Transparent, RSS and the
# memfd's allocated blocks for memfd (MADV_DONTNEED would free nothing there:
# punch hole), and HugePages_Free for 2M hugetlb (only hugepages all of whose
# 4 KiB pages are in the balloon). Prints a table of the figures.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/balloon_lib.sh"

GUEST_MIB=256
INFLATE_MIB=128
HUGE_NEEDED=$((GUEST_MIB / 2 + 8))
table=()

meminfo_kib() { awk -v f="$1:" '$1 == f {print $2}' /proc/meminfo; }
huge_free() { meminfo_kib HugePages_Free; }

# The guest RAM memfd's allocated MiB (its st_blocks), summed over regions.
memfd_mib() {
	local f blocks=0 b
	for f in /proc/$MVMM_PID/fd/*; do
		case $(readlink "$f" 2>/dev/null) in
		/memfd:mvmm-guest-ram*)
			b=$(stat -L -c %b "$f") && blocks=$((blocks + b)) ;;
		esac
	done
	echo $((blocks * 512 / 1048576))
}

anon_huge_mib() {
	awk '$1 == "AnonHugePages:" {s += $2} END {print int(s / 1024)}' \
		/proc/$MVMM_PID/smaps_rollup
}

# sample BACKEND: one line of figures for the current state.
sample() {
	case $1 in
	memfd) echo "rss=$(rss_mib) memfd=$(memfd_mib)" ;;
	Transparent) echo "rss=$(rss_mib) thp=$(anon_huge_mib)" ;;
	2M) echo "hugepages_free=$(huge_free) rss=$(rss_mib)" ;;
	*) echo "rss=$(rss_mib)" ;;
	esac
}

# value KEY LINE
value() { printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }

run_backend() {
	local name=$1 machine=$2 key=$3 want_drop_mib=$4
	local cfg=$E2E_WORK/machine-$name.json before inflated deflated drop
	printf '{"machine-config": {%s}}\n' "$machine" >"$cfg"
	rm -f "$API_SOCK"
	mvmm_boot --config "$cfg" --cpus 1 --mem $GUEST_MIB --api-sock "$API_SOCK" \
		--balloon amount_mib=0
	mvmm_wait_for 'MVMM-SHELL-READY' >/dev/null
	wait_api_sock
	mvmm_send 'memhog 150 >/dev/null && echo dirty-done'
	mvmm_wait_for '^dirty-done$' 300 >/dev/null
	before=$(sample "$name")
	api_ok PATCH /balloon "{\"amount_mib\": $INFLATE_MIB}"
	balloon_wait_actual $INFLATE_MIB 300 >/dev/null
	sleep 1 # the read races the last discard completion
	inflated=$(sample "$name")
	api_ok GET /metrics
	e2e_log "$name metrics: $(printf '%s' "$API_BODY" | grep -o '"hugepages_discarded": *[0-9]*\|"discard_bytes": *[0-9]*\|"discard_errors": *[0-9]*' | tr '\n' ' ')"
	api_ok PATCH /balloon '{"amount_mib": 0}'
	balloon_wait_actual 0 300 >/dev/null
	deflated=$(sample "$name")
	mvmm_send 'memhog 150 >/dev/null && echo reuse-ok || echo reuse-failed'
	mvmm_wait_for '^reuse-(ok|failed)$' 300 | grep -q ok ||
		e2e_fail "$name: the guest could not reuse the memory after deflating"
	mvmm_send 'poweroff -f'
	mvmm_expect_exit 0
	e2e_figure "${name}_before" "$before"
	e2e_figure "${name}_after_inflate_${INFLATE_MIB}MiB" "$inflated"
	e2e_figure "${name}_after_deflate" "$deflated"
	table+=("| $name | $before | $inflated | $deflated |")
	if [ "$key" = hugepages_free ]; then
		drop=$(( ($(value "$key" "$inflated") - $(value "$key" "$before")) * 2 ))
	else
		drop=$(( $(value "$key" "$before") - $(value "$key" "$inflated") ))
	fi
	e2e_figure "${name}_freed_by_inflate" "$drop" MiB
	[ "$drop" -ge "$want_drop_mib" ] ||
		e2e_fail "$name: inflating $INFLATE_MIB MiB freed ${drop} MiB of $key, want >= $want_drop_mib"
}

# 90% of the inflated amount where 4 KiB pages can be given back. The
# default backend, anonymous, is t_balloon_inflate's.
run_backend memfd '"mvmm_mem_backend": "memfd"' memfd $((INFLATE_MIB * 90 / 100))
run_backend Transparent '"huge_pages": "Transparent"' rss $((INFLATE_MIB * 90 / 100))

# 2M: the test host runs as root with 4 GiB; reserve the pool for the guest.
old_nr=$(cat /proc/sys/vm/nr_hugepages)
if [ "$(huge_free)" -lt "$HUGE_NEEDED" ] &&
	! echo $((old_nr + HUGE_NEEDED)) >/proc/sys/vm/nr_hugepages 2>/dev/null; then
	e2e_log "2M: cannot reserve hugepages (not root?): skipped"
else
	e2e_on_exit "echo $old_nr >/proc/sys/vm/nr_hugepages"
	[ "$(huge_free)" -ge "$HUGE_NEEDED" ] ||
		e2e_fail "2M: only $(huge_free) free hugepages after reserving $HUGE_NEEDED"
	# Whole hugepages only: at least a quarter of the MiB the balloon covers.
	run_backend 2M '"huge_pages": "2M"' hugepages_free $((INFLATE_MIB / 4))
fi

echo "| backend | before | after inflating $INFLATE_MIB MiB | after deflating to 0 |"
echo "|---|---|---|---|"
printf '%s\n' "${table[@]}"
