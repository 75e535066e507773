# e2e-timeout: 20
. "$(dirname "$0")/lib.sh"
mvmm_boot --cpus 1 --mem 128
echo "mvmm pid $MVMM_PID"; sleep 1000
