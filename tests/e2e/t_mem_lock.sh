#!/usr/bin/env bash
# e2e-timeout: 300
# Issue 6: machine-config mvmm_mem_lock. Guest RAM is locked (VmLck covers
# it), the guest's Linux driver accepts MUST_TELL_HOST so the balloon is
# allowed, inflating 128 MiB unlocks and discards (VmLck and RSS fall), and
# deflating locks the pages again before the guest may use them (VmLck
# rises back).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/balloon_lib.sh"

GUEST_MIB=256
INFLATE_MIB=128
WANT_MIB=$((INFLATE_MIB * 90 / 100))
lck_mib() { echo $(( $(mvmm_status_kib VmLck) / 1024 )); }

cfg=$E2E_WORK/machine-lock.json
echo '{"machine-config": {"mvmm_mem_lock": true}}' >"$cfg"
mvmm_boot --config "$cfg" --cpus 1 --mem $GUEST_MIB --api-sock "$API_SOCK" \
	--balloon amount_mib=0
mvmm_wait_for 'MVMM-SHELL-READY' >/dev/null
wait_api_sock

lck_boot=$(lck_mib)
rss_boot=$(rss_mib)
e2e_figure vmlck_after_boot "$lck_boot" MiB
e2e_figure rss_after_boot "$rss_boot" MiB
[ "$lck_boot" -ge $((GUEST_MIB * 95 / 100)) ] ||
	e2e_fail "only $lck_boot MiB locked of $GUEST_MIB MiB guest RAM"

api_ok PATCH /balloon "{\"amount_mib\": $INFLATE_MIB}"
balloon_wait_actual $INFLATE_MIB 300 >/dev/null
sleep 1
lck_inflated=$(lck_mib)
rss_inflated=$(rss_mib)
e2e_figure vmlck_after_inflate_${INFLATE_MIB}MiB "$lck_inflated" MiB
e2e_figure rss_after_inflate_${INFLATE_MIB}MiB "$rss_inflated" MiB
[ $((lck_boot - lck_inflated)) -ge $WANT_MIB ] ||
	e2e_fail "VmLck fell from $lck_boot to $lck_inflated MiB, want >= $WANT_MIB MiB"
[ $((rss_boot - rss_inflated)) -ge $WANT_MIB ] ||
	e2e_fail "RSS fell from $rss_boot to $rss_inflated MiB, want >= $WANT_MIB MiB"

api_ok PATCH /balloon '{"amount_mib": 0}'
balloon_wait_actual 0 300 >/dev/null
lck_deflated=$(lck_mib)
e2e_figure vmlck_after_deflate "$lck_deflated" MiB
e2e_figure rss_after_deflate "$(rss_mib)" MiB
[ $((lck_deflated - lck_inflated)) -ge $WANT_MIB ] ||
	e2e_fail "VmLck rose from $lck_inflated to $lck_deflated MiB, want >= $WANT_MIB MiB"
grep -q 'refusing FEATURES_OK' "$MVMM_STDERR" &&
	e2e_fail "the guest's driver was refused"

mvmm_send 'poweroff -f'
mvmm_expect_exit 0
echo "| mem_lock | VmLck before | after inflating $INFLATE_MIB MiB | after deflating to 0 |"
echo "|---|---|---|---|"
echo "| anonymous, locked | $lck_boot MiB | $lck_inflated MiB | $lck_deflated MiB |"
