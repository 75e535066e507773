. "$(dirname "$0")/lib.sh"
mvmm_boot --cpus 1 --mem 128
mvmm_wait_for 'MVMM-SHELL-READY' >/dev/null
echo "rss_kib=$(mvmm_status_kib) hwm=$(mvmm_status_kib VmHWM)"
mvmm_send 'echo hi'
mvmm_wait_for '^never-printed$' 3
