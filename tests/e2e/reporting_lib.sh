# Helpers for the free page reporting scenarios (issue 5) and benchmark: a
# guest (REPORT_GUEST_MIB, default 1 GiB; the e2e scenarios use 512 MiB)
# dirties a tmpfs file of REPORT_FILL_MIB (default 600), deletes it, and
# mvmm's RSS is followed while the guest reports the freed pages. Source
# after lib.sh and balloon_lib.sh.

REPORT_GUEST_MIB=${REPORT_GUEST_MIB:-1024}
REPORT_FILL_MIB=${REPORT_FILL_MIB:-600}

# report_boot [--append STR]: a REPORT_GUEST_MIB guest offered reporting;
# shell and API up.
report_boot() {
	local extra=()
	if [ "${1:-}" = --append ]; then
		extra=(--append "$2")
	fi
	mvmm_boot "${extra[@]}" --cpus 1 --mem "$REPORT_GUEST_MIB" --api-sock "$API_SOCK" \
		--balloon amount_mib=0,free_page_reporting=on
	mvmm_wait_for 'MVMM-SHELL-READY' >/dev/null
	wait_api_sock
}

# json_bool FIELD: true or false, from API_BODY.
json_bool() {
	printf '%s' "$API_BODY" | grep -o "\"$1\": *\(true\|false\)" | head -1 |
		grep -o '[a-z]*$'
}

# metric FIELD: a balloon counter from GET /metrics.
metric() {
	api_ok GET /metrics
	json_num "$1"
}

# report_expect_active PAGE_POISON POISON_VAL: GET /balloon shows reporting
# negotiated, with this poison (PAGE_POISON: true/false).
report_expect_active() {
	api_ok GET /balloon
	e2e_log "GET /balloon: $API_BODY"
	[ "$(json_bool free_page_reporting_active)" = true ] ||
		e2e_fail "the guest did not negotiate free page reporting: $API_BODY"
	[ "$(json_bool page_poison)" = "$1" ] ||
		e2e_fail "page_poison is not $1: $API_BODY"
	[ "$(json_num poison_val)" = "$2" ] ||
		e2e_fail "poison_val is not $2: $API_BODY"
}

# report_settle MAX_S: waits until mvmm's RSS moved by at most 4 MiB over
# 4 s (a guest that zeroes or poisons free pages at boot is still being
# reported), at most MAX_S seconds; prints the time it took.
report_settle() {
	local t0 last rss
	t0=$(e2e_now_ms)
	last=$(rss_mib)
	while :; do
		sleep 4
		rss=$(rss_mib)
		[ $((rss - last)) -gt 4 ] || [ $((last - rss)) -gt 4 ] || break
		[ $(($(e2e_now_ms) - t0)) -lt $(($1 * 1000)) ] || break
		last=$rss
	done
	e2e_figure rss_settled_after "$(($(e2e_now_ms) - t0))" ms
}

# report_fill: REPORT_FILL_MIB MiB of dirty pages in a tmpfs file (tmpfs
# defaults to half of RAM, too little).
report_fill() {
	mvmm_send "mount -o remount,size=90% /tmp && dd if=/dev/zero of=/tmp/big bs=1M count=$REPORT_FILL_MIB 2>/dev/null && echo fill-done || echo fill-failed"
	mvmm_wait_for '^fill-(done|failed)$' 600 | grep -q done ||
		e2e_fail "the guest could not write ${REPORT_FILL_MIB} MiB to /tmp"
}

# report_free: deletes the file; sets REPORT_T0_MS to when rm was typed and
# prints how long the guest's rm took (long with init_on_free: it zeroes).
report_free() {
	REPORT_T0_MS=$(e2e_now_ms)
	mvmm_send 'rm /tmp/big && echo freed'
	mvmm_wait_for '^freed$' >/dev/null
	e2e_figure guest_rm_done_after "$(($(e2e_now_ms) - REPORT_T0_MS))" ms
}

# report_follow BASE_MIB MAX_S [STOP]: polls mvmm's RSS every 0.25 s after
# report_free and prints it every 2 s (figures rss_at_S.Ds, seconds since rm
# was typed) for MAX_S
# seconds; with STOP=stop it ends early once 80% of REPORT_FILL_MIB came back
# and the RSS stayed within 4 MiB for three prints. Sets REPORT_DROP_MIB (fall
# from BASE_MIB at the end), REPORT_T50_MS / REPORT_T80_MS (time from rm
# to 50% / 80% of the freed amount; empty if never) and REPORT_CURVE
# ("S.Ds:MiB ..."); REPORT_QUIET=1 prints nothing.
report_follow() {
	local base=$1 max_ms=$(($2 * 1000)) stop=${3:-} freed=$REPORT_FILL_MIB
	local el rss drop next=0 last=-1000 flat=0
	REPORT_T50_MS= REPORT_T80_MS= REPORT_CURVE=
	while :; do
		el=$(($(e2e_now_ms) - REPORT_T0_MS))
		rss=$(rss_mib)
		drop=$((base - rss))
		if [ -z "$REPORT_T50_MS" ] && [ $((drop * 100)) -ge $((freed * 50)) ]; then
			REPORT_T50_MS=$el
		fi
		if [ -z "$REPORT_T80_MS" ] && [ $((drop * 100)) -ge $((freed * 80)) ]; then
			REPORT_T80_MS=$el
		fi
		if [ "$el" -ge "$next" ]; then
			# Named for when it was read: the first read may come late.
			REPORT_CURVE+="${REPORT_CURVE:+ }$((el / 1000)).$((el / 100 % 10))s:$rss"
			if [ "${REPORT_QUIET:-0}" != 1 ]; then
				e2e_figure "rss_at_$((el / 1000)).$((el / 100 % 10))s" "$rss" MiB
			fi
			next=$(((el / 2000 + 1) * 2000))
			if [ $((rss - last)) -le 4 ] && [ $((last - rss)) -le 4 ]; then
				flat=$((flat + 1))
			else
				flat=0
			fi
			last=$rss
			if [ "$stop" = stop ] && [ -n "$REPORT_T80_MS" ] && [ "$flat" -ge 3 ]; then
				break
			fi
		fi
		[ "$el" -lt "$max_ms" ] || break
		sleep 0.25
	done
	REPORT_DROP_MIB=$drop
}

# report_latency_figures: worst and mean time from a report's arrival to its
# used entry (GET /metrics), in microseconds.
report_latency_figures() {
	local n max total
	api_ok GET /metrics
	n=$(json_num reports)
	max=$(json_num report_latency_max_ns)
	total=$(json_num report_latency_total_ns)
	e2e_figure reports "$n"
	e2e_figure report_ranges "$(json_num report_ranges)"
	e2e_figure report_bytes "$(json_num report_bytes)" B
	e2e_figure report_poison_skipped_bytes "$(json_num report_poison_skipped_bytes)" B
	e2e_figure invalid_report_ranges "$(json_num invalid_report_ranges)"
	e2e_figure report_latency_max "$((max / 1000))" us
	[ "$n" -gt 0 ] && e2e_figure report_latency_mean "$((total / n / 1000))" us
	return 0
}

# report_no_corruption: neither the guest's dmesg nor the console shows a
# page poison check failure (the typed command's echo has "(" after the colon).
report_no_corruption() {
	local n
	mvmm_send 'dmesg | grep -cE "pagealloc: (memory corruption|single bit error)"'
	n=$(mvmm_wait_for '^[0-9]+$')
	[ "$n" = 0 ] || e2e_fail "the guest's dmesg shows $n page poison check failures"
	if mvmm_console | grep -E 'pagealloc: (memory corruption|single bit error)'; then
		e2e_fail "the console shows page poison corruption"
	fi
}
